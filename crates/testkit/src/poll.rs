//! Waiting for something that happens elsewhere.

use std::future::Future;
use std::time::Duration;

/// Checks `condition` until it holds, every millisecond or so, for at
/// most `timeout`: how long it took, or `None` if it never held. For
/// effects of another task or instance; a test that waits for time to pass
/// moves a [`ManualClock`](crate::ManualClock) instead.
pub async fn poll_until<F, Fut>(timeout: Duration, mut condition: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    loop {
        if condition().await {
            return Some(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
