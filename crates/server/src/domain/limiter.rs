//! Login attempt limits per username and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Counts attempts in a fixed window per key; once `max` attempts within
/// the window have not succeeded, the key is locked until the window ends.
/// An attempt is counted when it starts (so concurrent guesses cannot all
/// slip through while the first are hashing) and given back on success.
///
/// Time is the monotonic reading of the server's clock
/// ([`Clock::monotonic`](passcard_jwt::Clock::monotonic)).
///
/// In memory, per instance, bounded: at most [`MAX_KEYS`] keys are tracked;
/// past that, expired entries are swept (at most once a second) and new
/// keys go untracked until there is room, which a warning reports.
pub(super) struct LoginLimiter {
    max: u32,
    window: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    counts: HashMap<String, (u32, Duration)>,
    last_sweep: Option<Duration>,
}

/// The most keys tracked at once.
pub(super) const MAX_KEYS: usize = 100_000;

/// The limiter key of a client address: the address itself for IPv4, its
/// /64 prefix for IPv6 (one host usually holds a whole /64).
pub(super) fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl LoginLimiter {
    /// A limiter allowing `max` unsuccessful attempts per `window`.
    pub(super) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            inner: Mutex::new(Inner {
                counts: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// Counts an attempt for every key, or `Err(retry_after)` without
    /// counting when any key is locked.
    pub(super) fn attempt(&self, keys: &[&str], now: Duration) -> Result<(), Duration> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait: Option<Duration> = None;
        for key in keys {
            if let Some(&(count, start)) = inner.counts.get(*key) {
                let end = start + self.window;
                if count >= self.max && end > now {
                    let left = end - now;
                    wait = Some(wait.map_or(left, |w| w.max(left)));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        if inner.counts.len() >= MAX_KEYS {
            self.sweep(&mut inner, now);
        }
        for key in keys {
            let window = self.window;
            if let Some(entry) = inner.counts.get_mut(*key) {
                if entry.1 + window <= now {
                    *entry = (0, now);
                }
                entry.0 += 1;
            } else if inner.counts.len() < MAX_KEYS {
                inner.counts.insert((*key).to_owned(), (1, now));
            }
        }
        Ok(())
    }

    fn sweep(&self, inner: &mut Inner, now: Duration) {
        let due = inner
            .last_sweep
            .is_none_or(|t| now.saturating_sub(t) >= Duration::from_secs(1));
        if !due {
            return;
        }
        inner.last_sweep = Some(now);
        let window = self.window;
        inner.counts.retain(|_, (_, start)| *start + window > now);
        if inner.counts.len() >= MAX_KEYS {
            tracing::warn!(
                keys = inner.counts.len(),
                "login limiter is full; new usernames and addresses go untracked until entries expire"
            );
        }
    }

    /// A successful login: the user's failures are forgotten and the
    /// address gets its attempt back.
    pub(super) fn succeeded(&self, user_key: &str, addr_key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.counts.remove(user_key);
        if let Some(entry) = inner.counts.get_mut(addr_key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_attempts_until_the_window_ends() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let t = Duration::from_secs(1000);
        for _ in 0..3 {
            l.attempt(&["u:a", "ip:x"], t).unwrap();
        }
        let wait = l
            .attempt(&["u:a"], t + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // The address is locked too; another user from elsewhere is not.
        assert!(l.attempt(&["u:b", "ip:x"], t).is_err());
        assert!(l.attempt(&["u:b", "ip:y"], t).is_ok());
        assert!(l.attempt(&["u:a"], t + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn success_gives_the_attempt_back() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let t = Duration::from_secs(1000);
        for _ in 0..5 {
            l.attempt(&["u:a", "ip:x"], t).unwrap();
            l.succeeded("u:a", "ip:x");
        }
        assert!(l.attempt(&["u:a", "ip:x"], t).is_ok());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(client_key("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
