//! The revocation check, and its in-memory implementation.
//!
//! [`RevocationList`] holds a `jti` denylist and per-user minimum token
//! versions, fed with [`RevocationEvent`]s: from the store inside the
//! passcard server, from the feed in a resource server. Both tables are
//! sharded maps updated in place: a check takes one shard's read lock and
//! does one hash lookup per table (none at all while a table is empty); an
//! update touches one entry, whatever the table's size. An entry is dropped
//! once no token it concerns can still be accepted (its event's
//! `expires_at` plus the verifier's leeway), so memory grows with the
//! revocations of the last few minutes, not with the number of users.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use passcard_jwt::Clock;

use crate::claims::AccessClaims;
use crate::feed::{Revocation, RevocationEvent};

/// Why a verified token is nonetheless refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoked {
    /// Its `jti` is on the denylist (logout).
    Jti,
    /// Its `ver` is below the user's current version (logout everywhere,
    /// role change, ban).
    Version,
    /// Its login (refresh family, `sid`) ended: a logout, or a detected
    /// refresh-token theft.
    Family,
}

/// Decides whether a verified token was revoked. Called on every request,
/// so it must answer from memory.
pub trait RevocationCheck: Send + Sync + std::fmt::Debug + 'static {
    /// `Err` when the token was revoked.
    fn check(&self, claims: &AccessClaims) -> Result<(), Revoked>;

    /// How old the knowledge behind [`check`](Self::check) is: the time
    /// since it was last known complete, or `None` if it never was.
    fn lag(&self) -> Option<Duration>;
}

const SHARDS: usize = 16;

/// The hasher of the shards and their maps: keyed at random, so no one can
/// aim at a shard or a bucket; in fuzzing builds a fixed one, so that a
/// fuzz run with a fixed seed covers the same code every time.
#[cfg(not(fuzzing))]
type MapHasher = std::collections::hash_map::RandomState;
#[cfg(fuzzing)]
type MapHasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// A map split into shards, each behind its own lock, with an entry count
/// readable without locking.
struct Sharded<K, V> {
    shards: [RwLock<HashMap<K, V, MapHasher>>; SHARDS],
    hasher: MapHasher,
    len: AtomicUsize,
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| {
                RwLock::new(HashMap::with_hasher(MapHasher::default()))
            }),
            hasher: MapHasher::default(),
            len: AtomicUsize::new(0),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, V, MapHasher>> {
        let i = usize::try_from(self.hasher.hash_one(key)).unwrap_or_default() % SHARDS;
        &self.shards[i]
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn read<Q, R>(&self, key: &Q, f: impl FnOnce(Option<&V>) -> R) -> R
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key).read().unwrap_or_else(|p| p.into_inner());
        f(shard.get(key))
    }

    fn upsert(&self, key: K, value: V, keep: impl FnOnce(&V, &V) -> bool) {
        let mut shard = self.shard(&key).write().unwrap_or_else(|p| p.into_inner());
        match shard.get_mut(&key) {
            Some(old) => {
                if !keep(old, &value) {
                    *old = value;
                }
            }
            None => {
                shard.insert(key, value);
                self.len.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Keeps the entries `f` approves; returns the smallest `until` kept.
    fn retain(&self, mut f: impl FnMut(&V) -> bool, until: impl Fn(&V) -> i64) -> i64 {
        let mut next = i64::MAX;
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            let before = shard.len();
            shard.retain(|_, v| {
                let keep = f(v);
                if keep {
                    next = next.min(until(v));
                }
                keep
            });
            self.len.fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
        next
    }
}

/// The in-memory revocation state: what [`RevocationCheck`] asks, kept
/// from [`RevocationEvent`]s.
pub struct RevocationList {
    /// jti -> when the entry can go (the event's `expires_at` + leeway).
    deny: Sharded<String, i64>,
    /// user id -> (lowest valid version, when the entry can go).
    versions: Sharded<i64, (i64, i64)>,
    /// refresh family -> when the entry can go.
    families: Sharded<i64, i64>,
    /// The id of the last event applied.
    last_id: AtomicI64,
    /// The earliest time any entry can go, for cheap pruning.
    next_expiry: AtomicI64,
    leeway: i64,
    clock: Arc<dyn Clock>,
    /// When the list was last known complete, as the clock's monotonic
    /// reading in nanoseconds plus one; 0 before the first sync.
    synced: AtomicU64,
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationList")
            .field("denylist", &self.deny.len())
            .field("versions", &self.versions.len())
            .field("families", &self.families.len())
            .field("last_id", &self.last_id())
            .finish_non_exhaustive()
    }
}

impl RevocationList {
    /// An empty list, never synced. `leeway` must be the leeway of the
    /// verifier that consults it, so an entry is kept as long as a token
    /// it concerns can be accepted; `clock` measures how old the list is.
    pub fn new(leeway: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            deny: Sharded::new(),
            versions: Sharded::new(),
            families: Sharded::new(),
            last_id: AtomicI64::new(0),
            next_expiry: AtomicI64::new(i64::MAX),
            leeway: i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX),
            clock,
            synced: AtomicU64::new(0),
        }
    }

    /// Applies an event: a later version never lowers the bar, and a
    /// repeated event changes nothing.
    pub fn apply(&self, e: &RevocationEvent) {
        let until = e.revocation.expires_at().saturating_add(self.leeway);
        match &e.revocation {
            Revocation::Jti { jti, .. } => {
                self.deny.upsert(jti.clone(), until, |old, new| old >= new);
            }
            Revocation::Version { version, .. } => {
                self.versions
                    .upsert(e.user_id, (*version, until), |old, new| {
                        old.0 > new.0 || (old.0 == new.0 && old.1 >= new.1)
                    });
            }
            Revocation::Family { family_id, .. } => {
                self.families
                    .upsert(*family_id, until, |old, new| old >= new);
            }
        }
        self.next_expiry.fetch_min(until, Ordering::Relaxed);
        self.set_last_id(e.id);
    }

    /// Drops the entries that can no longer matter now (by the list's
    /// clock); nearly free when none is due.
    pub fn prune(&self) {
        let now = i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX);
        if self.next_expiry.load(Ordering::Relaxed) > now {
            return;
        }
        let a = self.deny.retain(|until| *until > now, |until| *until);
        let b = self
            .versions
            .retain(|(_, until)| *until > now, |(_, until)| *until);
        let c = self.families.retain(|until| *until > now, |until| *until);
        self.next_expiry.store(a.min(b).min(c), Ordering::Relaxed);
    }

    /// The clock's monotonic reading now: take it before reading events,
    /// and give it to [`mark_synced`](Self::mark_synced) once they are
    /// applied.
    pub fn sync_started(&self) -> Duration {
        self.clock.monotonic()
    }

    /// Records that every event up to now was applied, as of `started`
    /// (from [`sync_started`](Self::sync_started), taken before the read).
    pub fn mark_synced(&self, started: Duration) {
        let nanos = u64::try_from(started.as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        self.synced.fetch_max(nanos, Ordering::Relaxed);
    }

    /// The id of the last event applied.
    pub fn last_id(&self) -> i64 {
        self.last_id.load(Ordering::Relaxed)
    }

    /// Records that events up to `id` were seen (for events skipped as
    /// unreadable).
    pub fn set_last_id(&self, id: i64) {
        self.last_id.fetch_max(id, Ordering::Relaxed);
    }

    /// Denylist entries held.
    pub fn denylist_len(&self) -> usize {
        self.deny.len()
    }

    /// Version entries held.
    pub fn versions_len(&self) -> usize {
        self.versions.len()
    }

    /// Revoked-family entries held.
    pub fn families_len(&self) -> usize {
        self.families.len()
    }
}

impl RevocationCheck for RevocationList {
    #[inline]
    fn check(&self, claims: &AccessClaims) -> Result<(), Revoked> {
        if self.deny.len() > 0 && self.deny.read(claims.jti.as_str(), |e| e.is_some()) {
            return Err(Revoked::Jti);
        }
        if self.versions.len() > 0
            && self
                .versions
                .read(&claims.sub, |e| e.is_some_and(|(min, _)| claims.ver < *min))
        {
            return Err(Revoked::Version);
        }
        if self.families.len() > 0 && self.families.read(&claims.sid, |e| e.is_some()) {
            return Err(Revoked::Family);
        }
        Ok(())
    }

    fn lag(&self) -> Option<Duration> {
        match self.synced.load(Ordering::Relaxed) {
            0 => None,
            n => Some(
                self.clock
                    .monotonic()
                    .saturating_sub(Duration::from_nanos(n - 1)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use passcard_jwt::UnixTime;

    use super::*;

    /// A clock that stands still until moved.
    #[derive(Debug, Default)]
    struct Still(Mutex<Duration>);

    impl Clock for Still {
        fn now(&self) -> UnixTime {
            UnixTime::from_secs(self.0.lock().unwrap().as_secs())
        }
        fn monotonic(&self) -> Duration {
            *self.0.lock().unwrap()
        }
    }

    fn event(id: i64, user_id: i64, revocation: Revocation) -> RevocationEvent {
        RevocationEvent {
            id,
            user_id,
            revocation,
            created_at: 50,
        }
    }

    fn claims(jti: &str, sub: i64, ver: i64) -> AccessClaims {
        AccessClaims {
            iss: String::new(),
            aud: "".into(),
            sub,
            role: String::new(),
            iat: 0,
            exp: 0,
            jti: jti.into(),
            ver,
            sid: 0,
        }
    }

    #[test]
    fn entries_live_until_their_expiry_plus_the_leeway() {
        let clock = Arc::new(Still::default());
        let list = RevocationList::new(Duration::from_secs(30), clock.clone());
        let prune_at = |secs: u64| {
            *clock.0.lock().unwrap() = Duration::from_secs(secs);
            list.prune();
        };
        let jti = Revocation::Jti {
            jti: "a".into(),
            expires_at: 100,
        };
        list.apply(&event(1, 7, jti));
        list.apply(&event(
            2,
            8,
            Revocation::Version {
                version: 3,
                expires_at: 400,
            },
        ));
        list.apply(&event(
            3,
            8,
            Revocation::Version {
                version: 2,
                expires_at: 410,
            },
        ));
        assert_eq!(list.check(&claims("a", 7, 0)), Err(Revoked::Jti));
        assert_eq!(
            list.check(&claims("b", 8, 2)),
            Err(Revoked::Version),
            "a lower version never lowers the bar"
        );
        assert_eq!(list.check(&claims("b", 8, 3)), Ok(()));
        assert_eq!(list.check(&claims("b", 9, 0)), Ok(()), "another user");
        list.apply(&event(
            4,
            9,
            Revocation::Family {
                family_id: 0,
                expires_at: 200,
            },
        ));
        assert_eq!(
            list.check(&claims("c", 9, 0)),
            Err(Revoked::Family),
            "any token of the login"
        );
        assert_eq!(list.families_len(), 1);
        assert_eq!(list.last_id(), 4);
        prune_at(129);
        assert_eq!(list.denylist_len(), 1);
        prune_at(130);
        assert_eq!(list.denylist_len(), 0, "gone at expires_at + leeway");
        prune_at(230);
        assert_eq!(list.families_len(), 0);
        assert_eq!(list.versions_len(), 1);
        prune_at(429);
        assert_eq!(list.versions_len(), 1);
        prune_at(430);
        assert_eq!(list.versions_len(), 0);
        assert_eq!(list.next_expiry.load(Ordering::Relaxed), i64::MAX);
    }

    #[test]
    fn the_lag_is_unknown_until_synced_then_grows_with_the_clock() {
        let clock = Arc::new(Still::default());
        let list = RevocationList::new(Duration::ZERO, clock.clone());
        assert_eq!(list.lag(), None);
        *clock.0.lock().unwrap() = Duration::from_secs(5);
        let started = list.sync_started();
        *clock.0.lock().unwrap() = Duration::from_secs(7);
        list.mark_synced(started);
        assert_eq!(list.lag(), Some(Duration::from_secs(2)));
        list.mark_synced(Duration::from_secs(1));
        assert_eq!(
            list.lag(),
            Some(Duration::from_secs(2)),
            "an older sync never makes the list look fresher"
        );
    }
}
