//! The revocation view a resource server keeps, fed from the auth server.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Denied token ids and per-user minimum token versions, with the time
/// each entry can go. Filled by a [`RevocationFeed`](crate::RevocationFeed)
/// (or by hand).
#[derive(Debug)]
pub struct RevocationView {
    deny: RwLock<HashMap<String, i64>>,
    versions: RwLock<HashMap<String, (i64, i64)>>,
    last_id: AtomicI64,
    /// When the view was last known complete; `None` before the first sync.
    synced: RwLock<Option<Instant>>,
}

impl Default for RevocationView {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationView {
    /// An empty view, never synced.
    pub fn new() -> Self {
        Self {
            deny: RwLock::default(),
            versions: RwLock::default(),
            last_id: AtomicI64::new(0),
            synced: RwLock::new(None),
        }
    }

    /// Records that the view was complete as of `at` (the start of a
    /// successful poll).
    pub fn mark_synced(&self, at: Instant) {
        let mut s = self.synced.write().unwrap_or_else(|p| p.into_inner());
        if s.is_none_or(|prev| at > prev) {
            *s = Some(at);
        }
    }

    /// How old the view is: time since the last successful sync, or `None`
    /// if it never synced (then it knows no revocation at all).
    pub fn lag(&self) -> Option<Duration> {
        self.synced
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }

    /// Denies `jti` until `until` (Unix seconds).
    pub fn deny(&self, jti: &str, until: i64) {
        self.deny
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(jti.to_owned(), until);
    }

    /// Refuses tokens of `subject` with `ver` below `version` until `until`.
    pub fn bump(&self, subject: &str, version: i64, until: i64) {
        let mut v = self.versions.write().unwrap_or_else(|p| p.into_inner());
        let e = v.entry(subject.to_owned()).or_insert((version, until));
        if version >= e.0 {
            *e = (version, until.max(e.1));
        }
    }

    /// Whether a token is revoked.
    pub fn is_revoked(&self, jti: Option<&str>, subject: Option<&str>, ver: Option<i64>) -> bool {
        if let Some(jti) = jti {
            if self
                .deny
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(jti)
            {
                return true;
            }
        }
        if let (Some(sub), Some(ver)) = (subject, ver) {
            if let Some((min, _)) = self
                .versions
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(sub)
            {
                return ver < *min;
            }
        }
        false
    }

    /// Drops entries that can no longer matter at `now`.
    pub fn prune(&self, now: i64) {
        self.deny
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, until| *until > now);
        self.versions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (_, until)| *until > now);
    }

    /// The id of the last feed event applied.
    pub fn last_id(&self) -> i64 {
        self.last_id.load(Ordering::Relaxed)
    }

    /// Records the id of the last feed event applied (done by
    /// [`RevocationFeed`](crate::RevocationFeed); for feeds applied by hand).
    pub fn set_last_id(&self, id: i64) {
        self.last_id.fetch_max(id, Ordering::Relaxed);
    }
}
