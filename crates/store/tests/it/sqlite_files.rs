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

#[tokio::test]
async fn upgrading_the_revocation_log_never_reuses_an_event_id() {
    // A database as the previous version left it: migrations 1 and 2,
    // events logged, the newest ones pruned (so the next id is above every
    // id left).
    let dir = TempDir::new("sqlite-upgrade");
    let old = dir.join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for m in ["0001_init.sql", "0002_sessions.sql"] {
        std::fs::copy(here.join(m), old.join(m)).unwrap();
    }
    let url = format!("sqlite://{}", dir.join("p.db").display());
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for (kind, jti) in [("jti", "a"), ("jti", "b"), ("jti", "c")] {
        sqlx::query("INSERT INTO revocation_events (kind, user_id, jti, expires_at, created_at) VALUES ($1, 1, $2, 10, 1)")
            .bind(kind)
            .bind(jti)
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM revocation_events WHERE jti IN ('b', 'c')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The new version migrates it; the log keeps what was there and goes
    // on after the highest id ever given.
    let store = passcard_store::open(&url).await.unwrap();
    let left = store.events_after(0, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, 1);
    let u = store.create_user("u", "h", "user", 1).await.unwrap();
    store.revoke_token(u.id, "d", 20, None, 2).await.unwrap();
    let next = store.events_after(1, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, 4, "ids 2 and 3 were given before the upgrade");
}
