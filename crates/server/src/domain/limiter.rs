//! Attempt limits: failed logins per username and per client address, and
//! registrations per client address.
//!
//! Each limit counts attempts in a fixed window per key; once `max`
//! attempts are counted within the window, the key is locked until the
//! window ends. Time is the monotonic reading of the server's clock
//! ([`Clock::monotonic`](passcard_jwt::Clock::monotonic)).
//!
//! In memory, per instance, bounded: each table holds at most its capacity
//! of keys. Usernames and addresses are kept apart, so a flood of
//! addresses (cheap: an IPv6 /64 each) cannot push the usernames out.
//! When a table is full, expired entries go first; then addresses are
//! evicted oldest first (an address flood can only dilute the address
//! limit), while usernames are evicted only below the limit, least
//! attempted first, and a new username that finds no room is refused
//! (fail closed: the per-username limit never switches off).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The most keys a table holds, unless told otherwise.
pub(crate) const CAPACITY: usize = 100_000;

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

/// What a full table may give up to make room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WhenFull {
    /// Evict the oldest entries.
    EvictOldest,
    /// Evict only entries below the limit, least attempted first; refuse
    /// a new key when there are none.
    FailClosed,
}

/// Counts per key in fixed windows, bounded.
#[derive(Debug)]
struct Table {
    max: u32,
    window: Duration,
    capacity: usize,
    when_full: WhenFull,
    counts: HashMap<String, (u32, Duration)>,
}

impl Table {
    fn new(max: u32, window: Duration, capacity: usize, when_full: WhenFull) -> Self {
        Self {
            max,
            window,
            capacity: capacity.max(1),
            when_full,
            counts: HashMap::new(),
        }
    }

    /// How long `key` stays locked, if it is.
    fn locked(&self, key: &str, now: Duration) -> Option<Duration> {
        let &(count, start) = self.counts.get(key)?;
        let end = start + self.window;
        (count >= self.max && end > now).then(|| end - now)
    }

    /// Counts an attempt; `false` when a new key found no room (only with
    /// [`WhenFull::FailClosed`]).
    fn count(&mut self, key: &str, now: Duration) -> bool {
        if let Some(entry) = self.counts.get_mut(key) {
            if entry.1 + self.window <= now {
                *entry = (0, now);
            }
            entry.0 += 1;
            return true;
        }
        if self.counts.len() >= self.capacity && !self.make_room(now) {
            return false;
        }
        self.counts.insert(key.to_owned(), (1, now));
        true
    }

    /// Frees a tenth of the table (so the cost is paid once per many
    /// inserts): expired entries, then what the policy allows.
    fn make_room(&mut self, now: Duration) -> bool {
        let window = self.window;
        self.counts.retain(|_, (_, start)| *start + window > now);
        let target = self.capacity - self.capacity / 10 - 1;
        if self.counts.len() <= target {
            return true;
        }
        let excess = self.counts.len() - target;
        // Candidates in eviction order: oldest windows, or (failing
        // closed) the least attempted of those still below the limit.
        let mut candidates: Vec<(u32, Duration, &String)> = self
            .counts
            .iter()
            .filter(|(_, (count, _))| self.when_full == WhenFull::EvictOldest || *count < self.max)
            .map(|(key, &(count, start))| match self.when_full {
                WhenFull::EvictOldest => (0, start, key),
                WhenFull::FailClosed => (count, start, key),
            })
            .collect();
        if candidates.is_empty() {
            return false;
        }
        let n = excess.min(candidates.len());
        if n < candidates.len() {
            candidates.select_nth_unstable(n);
        }
        let victims: Vec<String> = candidates[..n]
            .iter()
            .map(|(_, _, k)| (*k).clone())
            .collect();
        for key in victims {
            self.counts.remove(&key);
        }
        self.counts.len() < self.capacity
    }

    fn forget(&mut self, key: &str) {
        self.counts.remove(key);
    }

    fn give_back(&mut self, key: &str) {
        if let Some(entry) = self.counts.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

/// Failed-login limits per username and per client address. An attempt is
/// counted when it starts (so concurrent guesses cannot all slip through
/// while the first are hashing); a success forgets the username's count
/// and gives the address its attempt back.
#[derive(Debug)]
pub(super) struct LoginLimiter {
    inner: Mutex<(Table, Table)>,
}

impl LoginLimiter {
    /// A limiter allowing `max` unsuccessful attempts per `window`.
    pub(super) fn new(max: u32, window: Duration) -> Self {
        Self::with_capacity(max, window, CAPACITY)
    }

    /// The same, holding at most `capacity` usernames and as many
    /// addresses.
    pub(super) fn with_capacity(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            inner: Mutex::new((
                Table::new(max, window, capacity, WhenFull::FailClosed),
                Table::new(max, window, capacity, WhenFull::EvictOldest),
            )),
        }
    }

    /// Counts an attempt for the username and the address, or
    /// `Err(retry_after)` without counting when either is locked, or when
    /// the username cannot be tracked.
    pub(super) fn attempt(&self, user: &str, addr: &str, now: Duration) -> Result<(), Duration> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (users, addrs) = &mut *inner;
        let wait = users.locked(user, now).max(addrs.locked(addr, now));
        if let Some(wait) = wait {
            return Err(wait);
        }
        if !users.count(user, now) {
            tracing::warn!(
                usernames = users.counts.len(),
                "login limiter: no room to track a new username; refusing its attempts until entries expire"
            );
            return Err(users.window);
        }
        addrs.count(addr, now);
        Ok(())
    }

    /// A successful login: the user's failures are forgotten and the
    /// address gets its attempt back.
    pub(super) fn succeeded(&self, user: &str, addr: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.forget(user);
        inner.1.give_back(addr);
    }
}

/// Registrations per client address: every attempt counts (a taken name
/// too, or a flood of them is a free username check).
#[derive(Debug)]
pub(super) struct RegistrationLimiter {
    inner: Mutex<Table>,
}

impl RegistrationLimiter {
    /// At most `max` registrations per address per `window`.
    pub(super) fn new(max: u32, window: Duration) -> Self {
        Self {
            inner: Mutex::new(Table::new(max, window, CAPACITY, WhenFull::EvictOldest)),
        }
    }

    /// Counts a registration from `addr`, or `Err(retry_after)` when the
    /// address is at its limit.
    pub(super) fn attempt(&self, addr: &str, now: Duration) -> Result<(), Duration> {
        let mut table = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(wait) = table.locked(addr, now) {
            return Err(wait);
        }
        table.count(addr, now);
        Ok(())
    }
}

/// What one login (a refresh family) may write per minute: rotations of
/// its refresh token, and revocations of its access tokens through
/// `/oauth/revoke`, each counted on its own. Each is a store transaction
/// and, for a revocation, an event every instance and resource server
/// keeps in memory; a retry within the reuse interval writes nothing and
/// is not counted. Keys are family ids, which only a login (a password
/// hash) creates, so the oldest are evicted when the table is full.
#[derive(Debug)]
pub(super) struct FamilyLimiter {
    inner: Mutex<(Table, Table)>,
}

/// A write [`FamilyLimiter`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FamilyWrite {
    /// A refresh-token rotation.
    Rotation,
    /// An access token revoked by its holder.
    Revocation,
}

impl FamilyLimiter {
    /// At most `per_minute` of each write per family per minute.
    pub(super) fn new(per_minute: u32) -> Self {
        let table = || {
            Table::new(
                per_minute,
                Duration::from_secs(60),
                CAPACITY,
                WhenFull::EvictOldest,
            )
        };
        Self {
            inner: Mutex::new((table(), table())),
        }
    }

    /// Counts a write of `family`, or `Err(retry_after)` without counting
    /// when the family is at its limit for that write.
    pub(super) fn attempt(
        &self,
        family: i64,
        write: FamilyWrite,
        now: Duration,
    ) -> Result<(), Duration> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let table = match write {
            FamilyWrite::Rotation => &mut inner.0,
            FamilyWrite::Revocation => &mut inner.1,
        };
        let key = family.to_string();
        if let Some(wait) = table.locked(&key, now) {
            return Err(wait);
        }
        table.count(&key, now);
        Ok(())
    }
}

/// At most a number of log lines per second: the rest are counted, and
/// the next line says how many were left out. Keeps a flood of failed
/// logins from becoming a flood of log lines.
#[derive(Debug)]
pub(super) struct LogBudget {
    per_second: u32,
    /// (start of the current second, lines used in it, lines left out).
    state: Mutex<(Duration, u32, u64)>,
}

impl LogBudget {
    pub(super) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            state: Mutex::new((Duration::ZERO, 0, 0)),
        }
    }

    /// `Some(left out before this one)` when a line may be logged now.
    pub(super) fn allow(&self, now: Duration) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (start, used, left_out) = &mut *state;
        if now.saturating_sub(*start) >= Duration::from_secs(1) {
            *start = now;
            *used = 0;
        }
        if *used < self.per_second {
            *used += 1;
            Some(std::mem::take(left_out))
        } else {
            *left_out += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(1000);

    #[test]
    fn locks_after_max_attempts_until_the_window_ends() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            l.attempt("u:a", "ip:x", T).unwrap();
        }
        let wait = l
            .attempt("u:a", "ip:y", T + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // The address is locked too; another user from elsewhere is not.
        assert!(l.attempt("u:b", "ip:x", T).is_err());
        assert!(l.attempt("u:b", "ip:y", T).is_ok());
        assert!(
            l.attempt("u:a", "ip:z", T + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn success_gives_the_attempt_back() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        for _ in 0..5 {
            l.attempt("u:a", "ip:x", T).unwrap();
            l.succeeded("u:a", "ip:x");
        }
        assert!(l.attempt("u:a", "ip:x", T).is_ok());
    }

    #[test]
    fn a_flood_of_addresses_never_switches_the_username_limit_off() {
        let l = LoginLimiter::with_capacity(3, Duration::from_secs(60), 100);
        // Two failures for the victim's name...
        for i in 0..2 {
            l.attempt("u:victim", &format!("ip:{i}"), T).unwrap();
        }
        // ...then thousands of addresses, each guessing once at other names.
        for i in 0..5_000 {
            let _ = l.attempt(&format!("u:{}", i % 50), &format!("ip:flood-{i}"), T);
        }
        // The victim's count survived: one more failure locks the name.
        l.attempt("u:victim", "ip:fresh-1", T).unwrap();
        assert!(l.attempt("u:victim", "ip:fresh-2", T).is_err());
    }

    #[test]
    fn a_full_username_table_keeps_the_locked_and_refuses_the_new() {
        let l = LoginLimiter::with_capacity(2, Duration::from_secs(60), 10);
        for i in 0..10 {
            for a in 0..2 {
                l.attempt(&format!("u:{i}"), &format!("ip:{i}-{a}"), T)
                    .unwrap();
            }
        }
        // Every name is locked; none can be evicted: a new one is refused
        // rather than tracked by pushing a locked one out.
        let wait = l.attempt("u:new", "ip:new", T).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(l.attempt("u:3", "ip:other", T).is_err(), "still locked");
        // Once the window is over, there is room again.
        assert!(
            l.attempt("u:new", "ip:new", T + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn a_full_username_table_evicts_the_least_attempted_below_the_limit() {
        let l = LoginLimiter::with_capacity(3, Duration::from_secs(60), 10);
        l.attempt("u:watched", "ip:a", T).unwrap();
        l.attempt("u:watched", "ip:b", T).unwrap();
        for i in 0..30 {
            let _ = l.attempt(&format!("u:once-{i}"), &format!("ip:{i}"), T);
        }
        // The names tried once went first; the one tried twice is still
        // counted.
        l.attempt("u:watched", "ip:c", T).unwrap();
        assert!(l.attempt("u:watched", "ip:d", T).is_err());
    }

    #[test]
    fn registrations_are_limited_per_address() {
        let r = RegistrationLimiter::new(3, Duration::from_secs(3600));
        for _ in 0..3 {
            r.attempt("ip:x", T).unwrap();
        }
        assert_eq!(r.attempt("ip:x", T).unwrap_err(), Duration::from_secs(3600));
        assert!(r.attempt("ip:y", T).is_ok());
        assert!(r.attempt("ip:x", T + Duration::from_secs(3600)).is_ok());
    }

    #[test]
    fn a_family_writes_a_bounded_number_of_times_a_minute() {
        let f = FamilyLimiter::new(3);
        for _ in 0..3 {
            f.attempt(7, FamilyWrite::Rotation, T).unwrap();
        }
        let wait = f
            .attempt(7, FamilyWrite::Rotation, T + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        // Revocations are counted apart, and other families are free.
        f.attempt(7, FamilyWrite::Revocation, T).unwrap();
        f.attempt(8, FamilyWrite::Rotation, T).unwrap();
        assert!(
            f.attempt(7, FamilyWrite::Rotation, T + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn log_lines_are_bounded_per_second_and_the_rest_counted() {
        let b = LogBudget::new(3);
        let allowed: Vec<_> = (0..10).map(|_| b.allow(T)).collect();
        assert_eq!(&allowed[..3], &[Some(0), Some(0), Some(0)]);
        assert!(allowed[3..].iter().all(Option::is_none));
        // The next second, the first line says how many were left out.
        assert_eq!(b.allow(T + Duration::from_secs(1)), Some(7));
        assert_eq!(b.allow(T + Duration::from_secs(1)), Some(0));
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
