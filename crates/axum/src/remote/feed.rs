//! Following a passcard server's revocation feed (feature `remote`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::feed::{FEED_PAGE, RevocationEvent};
use crate::revocation::RevocationList;

/// Follows a passcard server's revocation feed (`GET /v1/revocations`,
/// authenticated with the server's `PASSCARD_FEED_TOKEN`) into a
/// [`RevocationList`].
#[derive(Debug)]
#[must_use]
pub struct RevocationFeed {
    server: String,
    token: String,
    interval: Duration,
}

/// A page as read: each event is decoded on its own, so one this version
/// does not know is skipped (with a warning) instead of stopping the feed.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    last_id: i64,
}

#[derive(Deserialize)]
struct Id {
    id: i64,
}

impl RevocationFeed {
    /// The feed of the passcard server at `server` (its base URL), read
    /// with `feed_token`, polled every second.
    pub fn new(server: impl Into<String>, feed_token: impl Into<String>) -> Self {
        Self {
            server: server.into().trim_end_matches('/').to_owned(),
            token: feed_token.into(),
            interval: Duration::from_secs(1),
        }
    }

    /// Polls every `interval` instead (at least 10 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Starts following the feed into `list`, in a task. A wrong feed token
    /// or a disabled feed is logged as an error on every attempt; the
    /// list's lag shows that it stopped syncing (and a verifier with a
    /// maximum lag fails closed).
    pub fn spawn(self, list: Arc<RevocationList>) -> tokio::task::JoinHandle<()> {
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            loop {
                let started = list.sync_started();
                match self.poll(&client, &list).await {
                    Ok(()) => list.mark_synced(started),
                    Err(e) if e.refused() => {
                        tracing::error!(
                            error = %e,
                            "the revocation feed refuses this service: check PASSCARD_FEED_TOKEN on both sides"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the revocation feed; will retry");
                    }
                }
                list.prune();
                tokio::time::sleep(self.interval).await;
            }
        })
    }

    /// Reads every page after the list's last event.
    async fn poll(&self, client: &reqwest::Client, list: &RevocationList) -> Result<(), PollError> {
        loop {
            let body = client
                .get(format!(
                    "{}/v1/revocations?after={}",
                    self.server,
                    list.last_id()
                ))
                .bearer_auth(&self.token)
                .timeout(Duration::from_secs(10))
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            if !apply_page(&body, list)? {
                return Ok(());
            }
        }
    }
}

/// Applies one page of the feed (the body of `GET /v1/revocations`) to
/// `list`: `Ok(true)` when the page is full, so more may follow.
pub(crate) fn apply_page(body: &[u8], list: &RevocationList) -> Result<bool, PollError> {
    let page: Page<'_> = serde_json::from_slice(body).map_err(|_| PollError::NotAPage)?;
    for raw in &page.events {
        match serde_json::from_str::<RevocationEvent>(raw.get()) {
            Ok(e) => list.apply(&e),
            Err(error) => {
                let id = serde_json::from_str::<Id>(raw.get()).map_or(0, |i| i.id);
                tracing::warn!(id, %error, "skipping a revocation event this version cannot read");
                list.set_last_id(id);
            }
        }
    }
    list.set_last_id(page.last_id);
    Ok(page.events.len() >= FEED_PAGE)
}

/// Why a poll of the feed failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("the answer is not a feed page")]
    NotAPage,
}

impl PollError {
    fn refused(&self) -> bool {
        matches!(self, Self::Http(e) if e.status().is_some_and(|s| s == 401 || s == 404))
    }
}
