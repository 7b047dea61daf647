#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;

use passcard_testkit::TempDir;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    // A folder that already exists, readable by everyone: the files in it
    // must still be private (they hold password hashes and the
    // refresh-token MAC secret).
    let dir = TempDir::new("sqlite-perms");
    std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.join("passcard.db");
    let store = passcard_store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    store.create_user("alice", "h", "user", 1).await.unwrap();
    for file in ["passcard.db", "passcard.db-wal", "passcard.db-shm"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    store.close().await;

    // Files an older version left open are closed at the next start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = passcard_store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(mode(&db), 0o600);
    assert!(store.user_by_name("alice").await.unwrap().is_some());
}
