//! Failed-login limits per username and per client address.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures in a fixed window per key; `max` failures within the
/// window lock the key until the window ends. In memory, per instance.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

impl LoginLimiter {
    /// A limiter allowing `max` failures per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when any key is locked.
    pub fn check(&self, keys: &[&str], now: Instant) -> Result<(), Duration> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None;
        for key in keys {
            if let Some(&(count, start)) = map.get(*key) {
                let end = start + self.window;
                if count >= self.max && end > now {
                    let left = end - now;
                    wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Records a failure for each key.
    pub fn fail(&self, keys: &[&str], now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, (_, start)| *start + window > now);
        }
        for key in keys {
            let entry = map.entry((*key).to_owned()).or_insert((0, now));
            if entry.1 + self.window <= now {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// Clears the failures of `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_until_the_window_ends() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let t = Instant::now();
        for _ in 0..2 {
            l.fail(&["u:a"], t);
        }
        assert!(l.check(&["u:a"], t).is_ok());
        l.fail(&["u:a"], t);
        let wait = l
            .check(&["u:a", "ip:x"], t + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(l.check(&["u:b"], t).is_ok());
        assert!(l.check(&["u:a"], t + Duration::from_secs(60)).is_ok());
        l.clear("u:a");
        assert!(l.check(&["u:a"], t).is_ok());
    }
}
