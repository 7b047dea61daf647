//! Following the store's revocation event log into the in-memory
//! [`RevocationList`] that every request is checked against, and
//! publishing the same events to the feed.
//!
//! The rules of the list (deny until expiry, highest version wins, prune,
//! lag, last id) live in passcard-axum, shared with resource servers; this
//! module decides until when each stored event matters and keeps the list
//! in step with the log.

use std::sync::Arc;
use std::time::Duration;

use passcard_axum::feed::{Revocation as WireRevocation, RevocationEvent as WireEvent};
use passcard_axum::{RevocationCheck as _, RevocationList};
use passcard_jwt::Clock;
use passcard_store::{Revocation, RevocationEvent, Store, StoreError};

use crate::config::{RevocationSettings, TokenPolicy};

/// Extra seconds a version bump is kept beyond the access-token lifetime:
/// a token may be signed a little after its user was read (a login waiting
/// for a hashing slot waits at most 10 s; a busy store at most 10 s more).
pub const ISSUE_DELAY_MARGIN: i64 = 60;

/// Events fetched per store query while catching up.
const BATCH: i64 = 1000;

/// The server's revocation state: the list requests are checked against,
/// kept from the log, and a live channel of the events applied.
pub struct Revocations {
    list: Arc<RevocationList>,
    /// Whether the last read of the log reached the store.
    reachable: std::sync::atomic::AtomicBool,
    /// Serialises catch-ups so events apply in log order.
    writer: tokio::sync::Mutex<()>,
    /// Every applied event, for the revocation feed's live stream.
    feed: tokio::sync::broadcast::Sender<WireEvent>,
    /// Seconds after its creation until which a version bump or a family
    /// revocation matters (before the leeway): the access-token lifetime
    /// plus the margin.
    version_lifetime: i64,
    leeway: i64,
    clock: Arc<dyn Clock>,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Revocations {
    /// An empty state for tokens of `policy`, timed by `clock`.
    pub fn new(policy: &TokenPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            list: Arc::new(RevocationList::new(policy.leeway, clock.clone())),
            reachable: std::sync::atomic::AtomicBool::new(true),
            writer: tokio::sync::Mutex::new(()),
            feed: tokio::sync::broadcast::channel(1024).0,
            version_lifetime: secs(policy.access_ttl).saturating_add(ISSUE_DELAY_MARGIN),
            leeway: secs(policy.leeway),
            clock,
        }
    }

    /// The list requests are checked against.
    pub fn list(&self) -> &Arc<RevocationList> {
        &self.list
    }

    /// A stored event as the feed carries it: with the time until which
    /// it matters.
    pub fn to_wire(&self, e: &RevocationEvent) -> WireEvent {
        let revocation = match &e.revocation {
            Revocation::Jti { jti, expires_at } => WireRevocation::Jti {
                jti: jti.clone(),
                expires_at: *expires_at,
            },
            Revocation::Version { version } => WireRevocation::Version {
                version: *version,
                expires_at: e.created_at.saturating_add(self.version_lifetime),
            },
            // No token of the family is minted after it: the same bound as
            // a version bump.
            Revocation::Family { family_id } => WireRevocation::Family {
                family_id: *family_id,
                expires_at: e.created_at.saturating_add(self.version_lifetime),
            },
        };
        WireEvent {
            id: e.id,
            user_id: e.user_id,
            revocation,
            created_at: e.created_at,
        }
    }

    /// Events as they are applied here, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<WireEvent> {
        self.feed.subscribe()
    }

    /// How old the view may be: the time since the last successful read of
    /// the log.
    pub fn lag(&self) -> Duration {
        self.list.lag().unwrap_or(Duration::MAX)
    }

    /// Whether the last read of the log reached the store (the follower
    /// reads it at every safety poll, so this is the store's health).
    pub fn store_reachable(&self) -> bool {
        self.reachable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads every event after the last one applied and applies it; drops
    /// entries that can no longer matter. Returns how many events applied.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let read = self.read_log(store).await;
        let unreachable = matches!(&read, Err(e) if e.is_unavailable());
        self.reachable
            .store(!unreachable, std::sync::atomic::Ordering::Relaxed);
        read
    }

    async fn read_log(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _guard = self.writer.lock().await;
        // The view will be complete as of now, not as of when the reads end.
        let started = self.list.sync_started();
        let mut applied = 0;
        loop {
            let events = store.events_after(self.list.last_id(), BATCH).await?;
            for e in &events {
                let wire = self.to_wire(e);
                self.list.apply(&wire);
                // No subscriber is not an error.
                let _ = self.feed.send(wire);
            }
            applied += events.len();
            if i64::try_from(events.len()).unwrap_or(i64::MAX) < BATCH {
                break;
            }
        }
        self.list.prune();
        self.list.mark_synced(started);
        Ok(applied)
    }

    /// Deletes from the store what can no longer matter.
    async fn prune_store(&self, store: &dyn Store) {
        let now = i64::try_from(self.clock.now().as_secs()).unwrap_or(i64::MAX);
        let jti_before = now - self.leeway;
        let versions_before = now - self.version_lifetime - self.leeway;
        if let Err(e) = store.prune(now, jti_before, versions_before).await {
            tracing::warn!(error = %e, "cannot prune the store");
        }
    }

    async fn catch_up_logged(&self, store: &dyn Store) {
        match self.catch_up(store).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "applied revocation events"),
            Err(e) => tracing::warn!(
                error = %e,
                lag_ms = self.lag().as_millis(),
                "cannot read the revocation log; tokens are still verified, revocations made elsewhere wait"
            ),
        }
    }

    /// Follows the log until dropped: on every push signal from the store
    /// (PostgreSQL LISTEN/NOTIFY), after every (re)connection of the push
    /// channel, and on a periodic safety poll, reads the events after the
    /// last one applied, so a missed signal loses nothing. Prunes the store
    /// once a minute. `listening` says whether the push channel is up.
    ///
    /// The push channel is kept by a task of its own: a reconnection takes
    /// as long as the store makes it wait, and the poll must neither wait
    /// for it nor cut it short (a reconnection cancelled at every poll never
    /// completes, and never says the channel is down).
    pub async fn follow(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        settings: RevocationSettings,
        listening: Arc<std::sync::atomic::AtomicBool>,
    ) {
        let signal = Arc::new(tokio::sync::Notify::new());
        let _push = AbortOnDrop(tokio::spawn(push_signals(
            store.clone(),
            signal.clone(),
            listening,
        )));
        let mut tick = tokio::time::interval(settings.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A signal that comes during a catch-up is kept for the next
            // turn (Notify holds one permit).
            tokio::select! {
                () = signal.notified() => self.catch_up_logged(&*store).await,
                _ = tick.tick() => self.catch_up_logged(&*store).await,
                _ = prune.tick() => self.prune_store(&*store).await,
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps the store's push channel up and turns what it reports into
/// `signal`: on every append, and once the channel is (re)established,
/// because appends may have been missed meanwhile. Retries a second after
/// a failure; returns at once if the backend cannot push (then the safety
/// poll alone follows the log).
async fn push_signals(
    store: Arc<dyn Store>,
    signal: Arc<tokio::sync::Notify>,
    listening: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;

    loop {
        match store.listen().await {
            Ok(Some(mut listener)) => {
                tracing::debug!("listening for revocations");
                listening.store(true, Ordering::Relaxed);
                signal.notify_one();
                let lost = loop {
                    match listener.next().await {
                        Ok(_) => signal.notify_one(),
                        Err(e) => break e,
                    }
                };
                listening.store(false, Ordering::Relaxed);
                tracing::warn!(error = %lost, "revocation push channel lost; polling until it is back");
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for revocations; polling meanwhile");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_bump_matters_for_an_access_lifetime_plus_the_margin() {
        let policy = TokenPolicy {
            access_ttl: Duration::from_secs(300),
            ..TokenPolicy::default()
        };
        let r = Revocations::new(&policy, Arc::new(passcard_jwt::SystemClock::new()));
        let bump = RevocationEvent::new(9, 7, Revocation::Version { version: 3 }, 1000);
        let wire = r.to_wire(&bump);
        assert_eq!(
            wire.revocation,
            WireRevocation::Version {
                version: 3,
                expires_at: 1000 + 300 + ISSUE_DELAY_MARGIN
            }
        );
        let jti = RevocationEvent::new(
            10,
            7,
            Revocation::Jti {
                jti: "j".into(),
                expires_at: 1234,
            },
            1000,
        );
        assert_eq!(r.to_wire(&jti).revocation.expires_at(), 1234);
    }
}
