//! A clock that moves only when told to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use passcard_jwt::{Clock, SystemClock, UnixTime};

/// A [`Clock`] that stands still until [`advance`](Self::advance)d. Both
/// its wall-clock and monotonic readings move together. Clones share the
/// same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Readings>>);

#[derive(Debug)]
struct Readings {
    unix: Duration,
    monotonic: Duration,
}

impl ManualClock {
    /// A clock set to the system's current time (so tokens look ordinary
    /// to verifiers outside the test).
    pub fn new() -> Self {
        Self::at(SystemClock::new().now())
    }

    /// A clock set to `t`.
    pub fn at(t: UnixTime) -> Self {
        Self(Arc::new(Mutex::new(Readings {
            unix: Duration::from_secs(t.as_secs()),
            monotonic: Duration::ZERO,
        })))
    }

    /// Moves time forward.
    pub fn advance(&self, d: Duration) {
        let mut r = self.0.lock().unwrap();
        r.unix += d;
        r.monotonic += d;
    }

    /// This clock as the servers and verifiers take it.
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.0.lock().unwrap().unix.as_secs())
    }

    fn monotonic(&self) -> Duration {
        self.0.lock().unwrap().monotonic
    }
}
