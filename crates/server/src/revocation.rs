//! The in-memory revocation view: a `jti` denylist and per-user minimum
//! token versions, mirrored from the store's revocation event log.
//!
//! Reads are lock-free (an `ArcSwap` of an immutable view) and cost two hash
//! lookups; writers build a new view. An entry is dropped once no token it
//! concerns can still be accepted: a `jti` after its `exp` plus leeway, a
//! version bump after the access-token lifetime plus leeway. So memory grows
//! with the revocations of the last few minutes, not with the user count.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
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

#[derive(Clone, Debug, Default)]
struct View {
    /// jti -> when the entry can go (exp + leeway).
    deny: HashMap<String, i64>,
    /// user id -> (lowest valid version, when the entry can go).
    versions: HashMap<i64, (i64, i64)>,
    /// The last event applied.
    last_id: i64,
    /// The earliest time any entry can go (for cheap pruning).
    next_expiry: i64,
}

impl View {
    fn apply(&mut self, e: &RevocationEvent, version_lifetime: i64, leeway: i64) {
        match &e.revocation {
            Revocation::Jti { jti, expires_at } => {
                let until = expires_at.saturating_add(leeway);
                self.deny.insert(jti.clone(), until);
                self.next_expiry = self.next_expiry.min(until);
            }
            Revocation::Version { version } => {
                let until = e.created_at.saturating_add(version_lifetime);
                let entry = self.versions.entry(e.user_id).or_insert((*version, until));
                if *version >= entry.0 {
                    *entry = (*version, until.max(entry.1));
                }
                self.next_expiry = self.next_expiry.min(until);
            }
        }
        self.last_id = self.last_id.max(e.id);
    }

    fn prune(&mut self, now: i64) {
        self.deny.retain(|_, until| *until > now);
        self.versions.retain(|_, (_, until)| *until > now);
        self.next_expiry = self
            .deny
            .values()
            .copied()
            .chain(self.versions.values().map(|(_, until)| *until))
            .min()
            .unwrap_or(i64::MAX);
    }
}

/// The revocation state of one server.
pub struct Revocations {
    view: ArcSwap<View>,
    /// Serialises catch-ups so events apply in log order.
    writer: tokio::sync::Mutex<()>,
    /// Seconds a version bump matters: access TTL + leeway.
    version_lifetime: i64,
    leeway: i64,
}

/// Events fetched per store query while catching up.
const BATCH: i64 = 1000;

impl Revocations {
    /// An empty view; `access_ttl` and `leeway` in seconds.
    pub fn new(access_ttl: i64, leeway: i64) -> Self {
        Self {
            view: ArcSwap::from_pointee(View {
                next_expiry: i64::MAX,
                ..View::default()
            }),
            writer: tokio::sync::Mutex::new(()),
            version_lifetime: access_ttl.saturating_add(leeway),
            leeway,
        }
    }

    /// Whether a verified token is revoked: two hash lookups, no lock.
    #[inline]
    pub fn check(&self, jti: &str, user_id: i64, ver: i64) -> Result<(), Revoked> {
        let view = self.view.load();
        if !view.deny.is_empty() && view.deny.contains_key(jti) {
            return Err(Revoked::Jti);
        }
        if let Some((min, _)) = view.versions.get(&user_id) {
            if ver < *min {
                return Err(Revoked::Version);
            }
        }
        Ok(())
    }

    /// Reads every event after the last one applied and applies it; drops
    /// entries that can no longer matter. Returns how many events applied.
    pub async fn catch_up(
        &self,
        store: &dyn Store,
        now: i64,
    ) -> Result<usize, passcard_store::StoreError> {
        let _guard = self.writer.lock().await;
        let mut view = View::clone(&self.view.load());
        let mut applied = 0;
        loop {
            let events = store.events_after(view.last_id, BATCH).await?;
            for e in &events {
                view.apply(e, self.version_lifetime, self.leeway);
            }
            applied += events.len();
            if (events.len() as i64) < BATCH {
                break;
            }
        }
        if view.next_expiry <= now {
            view.prune(now);
        } else if applied == 0 {
            return Ok(0);
        }
        self.view.store(Arc::new(view));
        Ok(applied)
    }

    /// Denylist entries held.
    pub fn denylist_len(&self) -> usize {
        self.view.load().deny.len()
    }

    /// Version entries held.
    pub fn versions_len(&self) -> usize {
        self.view.load().versions.len()
    }

    /// The id of the last event applied.
    pub fn last_id(&self) -> i64 {
        self.view.load().last_id
    }

    /// Seconds a version event matters (for store pruning).
    pub fn version_lifetime(&self) -> i64 {
        self.version_lifetime
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
        let mut v = View {
            next_expiry: i64::MAX,
            ..View::default()
        };
        v.apply(
            &event(
                1,
                7,
                Revocation::Jti {
                    jti: "a".into(),
                    expires_at: 100,
                },
                50,
            ),
            330,
            30,
        );
        v.apply(
            &event(2, 8, Revocation::Version { version: 3 }, 50),
            330,
            30,
        );
        v.apply(
            &event(3, 8, Revocation::Version { version: 2 }, 60),
            330,
            30,
        );
        assert_eq!(v.versions[&8].0, 3, "a lower version never lowers the bar");
        assert_eq!(v.last_id, 3);
        v.prune(129);
        assert!(v.deny.contains_key("a"));
        v.prune(130);
        assert!(!v.deny.contains_key("a"), "gone at exp + leeway");
        assert!(v.versions.contains_key(&8));
        v.prune(50 + 330);
        assert!(v.versions.is_empty(), "gone at bump + access TTL + leeway");
        assert_eq!(v.next_expiry, i64::MAX);
    }
}
