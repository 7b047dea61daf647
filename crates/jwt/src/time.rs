//! Time as an input: [`UnixTime`] is what every check compares against, a
//! [`Clock`] is where it comes from, and [`SystemClock`] is the one place in
//! passcard that reads the system's clocks.

use core::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point in time, in whole seconds since the Unix epoch.
///
/// Verification takes the current time as an argument, so tests and tools
/// (`passcard token verify --at`) can check a token as of any moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The time `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This time plus `d` (saturating).
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where time comes from: the wall clock for token times, and a monotonic
/// clock for intervals.
///
/// Code that needs the time takes a `Clock` (usually an `Arc<dyn Clock>`
/// held in its state) instead of reading the system, so a test can move
/// time forward instead of waiting for it, and a tool can check a token as
/// of any moment. [`SystemClock`] is the implementation for real use.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time, in whole seconds.
    fn now(&self) -> UnixTime;

    /// Time since a fixed, arbitrary point of this clock, on a clock that
    /// never goes backwards: for intervals (rate-limit windows, refetch
    /// floors, how old a view is). Only differences between two readings of
    /// the same clock mean anything.
    fn monotonic(&self) -> Duration;
}

/// The system's clocks: `SystemTime` for [`Clock::now`], `Instant` for
/// [`Clock::monotonic`]. The only reader of either in passcard.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    base: Instant,
}

impl SystemClock {
    /// A clock whose monotonic readings start now.
    #[expect(
        clippy::disallowed_methods,
        reason = "the single sanctioned monotonic-clock read"
    )]
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    /// Reads the system clock. A clock set before 1970 reads as the epoch.
    #[expect(
        clippy::disallowed_methods,
        reason = "the single sanctioned wall-clock read"
    )]
    fn now(&self) -> UnixTime {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        UnixTime(since.as_secs())
    }

    fn monotonic(&self) -> Duration {
        self.base.elapsed()
    }
}

/// A JWT NumericDate (RFC 7519 section 2): seconds since the epoch, possibly
/// fractional, validated to be finite, non-negative and before year 10000.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct NumericDate(f64);

/// 10000-01-01T00:00:00Z: the first instant no NumericDate may reach.
const YEAR_10000: f64 = 253_402_300_800.0;

impl NumericDate {
    /// Validates a NumericDate: a finite, non-negative number of seconds
    /// before the year 10000. Returns `None` otherwise.
    pub fn new(secs: f64) -> Option<Self> {
        (0.0..YEAR_10000).contains(&secs).then_some(Self(secs))
    }

    /// The date in seconds since the epoch.
    pub const fn as_f64(self) -> f64 {
        self.0
    }

    /// The date rounded down to whole seconds.
    pub fn as_secs(self) -> u64 {
        // In range by construction: 0 <= self.0 < 2^38.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = self.0.floor() as u64;
        secs
    }
}

impl From<UnixTime> for NumericDate {
    fn from(t: UnixTime) -> Self {
        // u64 seconds beyond year 10000 are clamped; callers never pass them.
        #[allow(clippy::cast_precision_loss)]
        let secs = t.0 as f64;
        Self(secs.min(YEAR_10000 - 1.0))
    }
}

impl fmt::Display for NumericDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 {
            write!(f, "{}", self.as_secs())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl serde::Serialize for NumericDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 {
            s.serialize_u64(self.as_secs())
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        Self::new(secs).ok_or_else(|| {
            serde::de::Error::custom("NumericDate must be a non-negative number before year 10000")
        })
    }
}
