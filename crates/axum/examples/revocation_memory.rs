//! Memory per revocation entry: the resident memory of a
//! [`RevocationList`] holding N denylisted
//! `jti`s, then N user version entries, as the passcard server and every
//! resource server keep them.
//!
//! ```sh
//! cargo run --release -p passcard-axum --example revocation_memory [N, default 100000]
//! ```
//!
//! The `jti`s are the server's own (`passcard_jwt::new_jti`), the user ids
//! distinct, the expiries in the future so nothing is pruned. Linux only
//! (resident memory is read from `/proc/self/statm`).

use std::sync::Arc;
use std::time::Duration;

use passcard_axum::RevocationList;
use passcard_axum::feed::{Revocation, RevocationEvent};
use passcard_jwt::SystemClock;

/// Resident memory in bytes, from `/proc/self/statm` (pages).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = std::env::args()
        .nth(1)
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(100_000);
    let far = 4_102_444_800; // 2100-01-01: nothing is pruned meanwhile.
    let list = RevocationList::new(Duration::from_secs(60), Arc::new(SystemClock::new()));
    // The jtis exist before they are measured: the server receives them in
    // events it drops once applied.
    let jtis = (0..n)
        .map(|_| passcard_jwt::new_jti())
        .collect::<Result<Vec<_>, _>>()?;
    let event = |id: i64, user_id: i64, revocation: Revocation| RevocationEvent {
        id,
        user_id,
        revocation,
        created_at: 0,
    };

    let rss0 = rss();
    for (i, jti) in (0..n).zip(&jtis) {
        list.apply(&event(
            i + 1,
            i,
            Revocation::Jti {
                jti: jti.clone(),
                expires_at: far,
            },
        ));
    }
    let rss1 = rss();
    for i in 0..n {
        list.apply(&event(
            n + i + 1,
            i,
            Revocation::Version {
                version: 2,
                expires_at: far,
            },
        ));
    }
    let rss2 = rss();
    assert_eq!(list.denylist_len(), usize::try_from(n)?);
    assert_eq!(list.versions_len(), usize::try_from(n)?);

    let per = |bytes: usize| bytes as f64 / n as f64;
    println!(
        "{n} jti entries ({}-character jtis): resident +{} KiB = {:.0} B/entry",
        jtis[0].len(),
        (rss1 - rss0) / 1024,
        per(rss1 - rss0),
    );
    println!(
        "{n} user version entries: resident +{} KiB = {:.0} B/entry",
        (rss2 - rss1) / 1024,
        per(rss2 - rss1),
    );
    Ok(())
}
