//! passcard-store integration tests: the storage contract, run against
//! every backend (SQLite always; more backends join as they land).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

/// The contract every backend must honour.
mod contract;

use std::sync::Arc;

use passcard_store::Store;

/// A store on a fresh SQLite file in a temporary folder, removed on drop.
pub(crate) struct TempSqlite {
    pub(crate) store: Arc<dyn Store>,
    dir: std::path::PathBuf,
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) async fn sqlite() -> TempSqlite {
    let dir = std::env::temp_dir().join(format!(
        "passcard-store-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/test.db", dir.display());
    let store = passcard_store::open(&url).await.unwrap();
    TempSqlite { store, dir }
}
