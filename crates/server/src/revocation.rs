//! The in-memory revocation view: a `jti` denylist and per-user minimum
//! token versions, mirrored from the store's revocation event log.
//!
//! Both tables are sharded maps updated in place: a check takes one shard's
//! read lock and does one hash lookup per table (none at all while a table
//! is empty); an update touches one entry, whatever the table's size. An
//! entry is dropped once no token it concerns can still be accepted: a `jti`
//! after its `exp` plus leeway, a version bump after the access-token
//! lifetime plus leeway (plus a margin for a token signed a little after
//! its user was read). So memory grows with the revocations of the last few
//! minutes, not with the number of users.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use passcard_store::{Revocation, RevocationEvent, Store};

/// Why a verified token is nonetheless refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Its `jti` is on the denylist (logout).
    Jti,
    /// Its `ver` is below the user's current version (logout-all, role
    /// change, ban).
    Version,
}

const SHARDS: usize = 16;

/// A map split into shards, each behind its own lock, with an entry count
/// readable without locking.
struct Sharded<K, V> {
    shards: [RwLock<HashMap<K, V>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
    len: AtomicUsize,
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            hasher: std::collections::hash_map::RandomState::new(),
            len: AtomicUsize::new(0),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, V>> {
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

    fn retain(&self, mut f: impl FnMut(&V) -> bool) {
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            let before = shard.len();
            shard.retain(|_, v| f(v));
            self.len.fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
    }
}

/// Extra seconds a version bump is kept beyond access TTL + leeway: a token
/// may be signed a little after its user was read (a login waiting for a
/// hashing slot waits at most 10 s; a busy store at most 10 s more).
pub const ISSUE_DELAY_MARGIN: i64 = 60;

/// The revocation state of one server.
pub struct Revocations {
    /// jti -> when the entry can go (exp + leeway).
    deny: Sharded<String, i64>,
    /// user id -> (lowest valid version, when the entry can go).
    versions: Sharded<i64, (i64, i64)>,
    /// The last event applied.
    last_id: AtomicI64,
    /// The earliest time any entry can go, for cheap pruning.
    next_expiry: AtomicI64,
    /// Serialises catch-ups so events apply in log order.
    writer: tokio::sync::Mutex<()>,
    /// Seconds a version bump matters.
    version_lifetime: i64,
    leeway: i64,
    /// When the view was last known complete (a successful catch-up), in
    /// nanoseconds since `base`.
    synced_at: AtomicU64,
    base: Instant,
    /// Every applied event, for the revocation feed's live stream.
    feed: tokio::sync::broadcast::Sender<RevocationEvent>,
}

/// Events fetched per store query while catching up.
const BATCH: i64 = 1000;

impl Revocations {
    /// An empty view; `access_ttl` and `leeway` in seconds.
    pub fn new(access_ttl: i64, leeway: i64) -> Self {
        Self {
            deny: Sharded::new(),
            versions: Sharded::new(),
            last_id: AtomicI64::new(0),
            next_expiry: AtomicI64::new(i64::MAX),
            writer: tokio::sync::Mutex::new(()),
            version_lifetime: access_ttl
                .saturating_add(leeway)
                .saturating_add(ISSUE_DELAY_MARGIN),
            leeway,
            synced_at: AtomicU64::new(0),
            base: Instant::now(),
            feed: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Events as they are applied here, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RevocationEvent> {
        self.feed.subscribe()
    }

    /// How old the view may be: the time since the last successful read of
    /// the log. Grows while the store is unreachable.
    pub fn lag(&self) -> Duration {
        let synced = Duration::from_nanos(self.synced_at.load(Ordering::Relaxed));
        self.base.elapsed().saturating_sub(synced)
    }

    /// Whether a verified token is revoked: at most one hash lookup per
    /// table, under one shard's read lock.
    #[inline]
    pub fn check(&self, jti: &str, user_id: i64, ver: i64) -> Result<(), Revoked> {
        if self.deny.len() > 0 && self.deny.read(jti, |e| e.is_some()) {
            return Err(Revoked::Jti);
        }
        if self.versions.len() > 0
            && self
                .versions
                .read(&user_id, |e| e.is_some_and(|(min, _)| ver < *min))
        {
            return Err(Revoked::Version);
        }
        Ok(())
    }

    fn apply(&self, e: &RevocationEvent) {
        let until = match &e.revocation {
            Revocation::Jti { jti, expires_at } => {
                let until = expires_at.saturating_add(self.leeway);
                self.deny.upsert(jti.clone(), until, |old, new| old >= new);
                until
            }
            Revocation::Version { version } => {
                let until = e.created_at.saturating_add(self.version_lifetime);
                // A lower version never lowers the bar.
                self.versions
                    .upsert(e.user_id, (*version, until), |old, new| old.0 >= new.0);
                until
            }
        };
        self.next_expiry.fetch_min(until, Ordering::Relaxed);
        self.last_id.fetch_max(e.id, Ordering::Relaxed);
        // No subscriber is not an error.
        let _ = self.feed.send(e.clone());
    }

    fn prune(&self, now: i64) {
        self.deny.retain(|until| *until > now);
        self.versions.retain(|(_, until)| *until > now);
        let mut next = i64::MAX;
        self.deny.retain(|until| {
            next = next.min(*until);
            true
        });
        self.versions.retain(|(_, until)| {
            next = next.min(*until);
            true
        });
        self.next_expiry.store(next, Ordering::Relaxed);
    }

    /// Reads every event after the last one applied and applies it; drops
    /// entries that can no longer matter. Returns how many events applied.
    pub async fn catch_up(
        &self,
        store: &dyn Store,
        now: i64,
    ) -> Result<usize, passcard_store::StoreError> {
        let _guard = self.writer.lock().await;
        // The view will be complete as of now, not as of when the reads end.
        let started = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut applied = 0;
        loop {
            let events = store.events_after(self.last_id(), BATCH).await?;
            for e in &events {
                self.apply(e);
            }
            applied += events.len();
            if i64::try_from(events.len()).unwrap_or(i64::MAX) < BATCH {
                break;
            }
        }
        if self.next_expiry.load(Ordering::Relaxed) <= now {
            self.prune(now);
        }
        self.synced_at.fetch_max(started, Ordering::Relaxed);
        Ok(applied)
    }

    /// Denylist entries held.
    pub fn denylist_len(&self) -> usize {
        self.deny.len()
    }

    /// Version entries held.
    pub fn versions_len(&self) -> usize {
        self.versions.len()
    }

    /// The id of the last event applied.
    pub fn last_id(&self) -> i64 {
        self.last_id.load(Ordering::Relaxed)
    }

    /// Seconds a version event matters (for store pruning).
    pub fn version_lifetime(&self) -> i64 {
        self.version_lifetime
    }

    /// The leeway in seconds (for store pruning).
    pub fn leeway(&self) -> i64 {
        self.leeway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, user_id: i64, revocation: Revocation, created_at: i64) -> RevocationEvent {
        RevocationEvent::new(id, user_id, revocation, created_at)
    }

    #[test]
    fn entries_live_until_no_token_they_concern_can_be_accepted() {
        // access TTL 300, leeway 30: a version bump lives 300 + 30 + margin.
        let v = Revocations::new(300, 30);
        v.apply(&event(
            1,
            7,
            Revocation::Jti {
                jti: "a".into(),
                expires_at: 100,
            },
            50,
        ));
        v.apply(&event(2, 8, Revocation::Version { version: 3 }, 50));
        v.apply(&event(3, 8, Revocation::Version { version: 2 }, 60));
        assert_eq!(v.check("a", 7, 0), Err(Revoked::Jti));
        assert_eq!(
            v.check("b", 8, 2),
            Err(Revoked::Version),
            "a lower version never lowers the bar"
        );
        assert_eq!(v.check("b", 8, 3), Ok(()));
        assert_eq!(v.last_id(), 3);
        v.prune(129);
        assert_eq!(v.denylist_len(), 1);
        v.prune(130);
        assert_eq!(v.denylist_len(), 0, "gone at exp + leeway");
        assert_eq!(v.versions_len(), 1);
        v.prune(50 + 330 + ISSUE_DELAY_MARGIN);
        assert_eq!(
            v.versions_len(),
            0,
            "gone at bump + access TTL + leeway + margin"
        );
        assert_eq!(v.next_expiry.load(Ordering::Relaxed), i64::MAX);
    }
}
