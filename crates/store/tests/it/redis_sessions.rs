//! The Redis session store's own promises: a user's set of sessions stays
//! in step with the sessions.

use std::sync::Arc;

use passcard_store::{NewSession, SessionStore as _};
use passcard_testkit::{TempPrefix, env};

const NOW: i64 = 1_800_000_000;

fn session(hash: u8, user_id: i64, expires_at: i64) -> NewSession {
    NewSession {
        hash: [hash; 32],
        user_id,
        idle_expires_at: expires_at,
        expires_at,
    }
}

async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn members(url: &str, key: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SMEMBERS")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn logout_everywhere_leaves_no_session_behind_even_racing_logins() {
    let Some(url) = env::redis("the Redis session store tests") else {
        return;
    };
    let db = crate::sqlite().await;
    let user = db.store.create_user("u", "h", "user", NOW).await.unwrap();
    let prefix = TempPrefix::new(&url);
    let sessions = Arc::new(
        passcard_store::RedisSessions::open(&url, db.store.clone(), prefix.prefix(), 4)
            .await
            .unwrap(),
    );
    // Logins land while logout-everywhere runs, over several connections.
    for round in 0..40u8 {
        let mut tasks = Vec::new();
        for i in 0..6u8 {
            let s = sessions.clone();
            let hash = round.wrapping_mul(6).wrapping_add(i);
            let (uid, exp) = (user.id, 4_000_000_000);
            tasks.push(tokio::spawn(async move {
                s.create_session(&session(hash, uid, exp), NOW)
                    .await
                    .unwrap();
            }));
        }
        let s = sessions.clone();
        tasks.push(tokio::spawn(async move {
            s.delete_user_sessions(user.id).await.unwrap();
        }));
        for t in tasks {
            t.await.unwrap();
        }
    }
    // Whatever survived each race is still listed, so one more
    // logout-everywhere reaches every session.
    sessions.delete_user_sessions(user.id).await.unwrap();
    let left = keys(&url, &format!("{}:s:*", prefix.prefix())).await;
    assert!(left.is_empty(), "orphaned sessions: {left:?}");
}

#[tokio::test]
async fn the_set_of_a_users_sessions_is_pruned_and_outlives_them() {
    let Some(url) = env::redis("the Redis session store tests") else {
        return;
    };
    let db = crate::sqlite().await;
    let user = db.store.create_user("u", "h", "user", NOW).await.unwrap();
    let prefix = TempPrefix::new(&url);
    let sessions = passcard_store::RedisSessions::open(&url, db.store.clone(), prefix.prefix(), 1)
        .await
        .unwrap();
    let set = format!("{}:u:{}", prefix.prefix(), user.id);
    let far = 4_000_000_000;
    sessions
        .create_session(&session(1, user.id, far), NOW)
        .await
        .unwrap();
    sessions
        .create_session(&session(2, user.id, far), NOW)
        .await
        .unwrap();
    assert_eq!(members(&url, &set).await.len(), 2);
    // A logout takes its session off the set.
    sessions.delete_session(&[1; 32]).await.unwrap();
    assert_eq!(members(&url, &set).await.len(), 1);
    // A session that expired (its key is gone) is taken off at the next
    // login.
    sessions
        .create_session(&session(3, user.id, 1), NOW)
        .await
        .unwrap();
    sessions
        .create_session(&session(4, user.id, far), NOW)
        .await
        .unwrap();
    let mut left = members(&url, &set).await;
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|m| !m.starts_with("0303")), "{left:?}");
    // The set lives as long as its longest session, not its newest one.
    sessions
        .create_session(&session(5, user.id, NOW + 60), NOW)
        .await
        .unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl == -1 || ttl > 60 * 60,
        "the set would expire before its sessions: {ttl}"
    );
}
