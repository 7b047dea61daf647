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
        max_per_user: 100,
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

#[tokio::test]
async fn a_redis_left_read_only_by_a_failover_is_reconnected() {
    let what = "the Redis failover test";
    let (Some(old), Some(new)) = (
        passcard_testkit::RedisServer::start(what).await,
        passcard_testkit::RedisServer::start(what).await,
    ) else {
        return;
    };
    // The sessions reach Redis through an address that a failover moves
    // (a virtual IP, a DNS name): here a proxy.
    let address = passcard_testkit::TcpProxy::start(old.addr()).await;
    let db = crate::sqlite().await;
    let user = db.store.create_user("u", "h", "user", NOW).await.unwrap();
    let sessions = passcard_store::RedisSessions::open(
        &format!("redis://{}", address.addr()),
        db.store.clone(),
        "failover",
        1,
    )
    .await
    .unwrap();
    sessions
        .create_session(&session(1, user.id, 4_000_000_000), NOW)
        .await
        .unwrap();

    // The failover: the old primary becomes a replica of the new one, and
    // the address moves. The open connection still reaches the old one,
    // which now refuses every write with READONLY.
    let port = new.addr().port().to_string();
    old.command(&["REPLICAOF", "127.0.0.1", &port])
        .await
        .unwrap();
    address.retarget(new.addr());
    let refused = old.command(&["SET", "probe", "1"]).await.unwrap_err();
    assert!(
        matches!(
            refused.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        ),
        "{refused}"
    );

    // The next write reconnects and lands on the new primary.
    sessions
        .create_session(&session(2, user.id, 4_000_000_000), NOW)
        .await
        .unwrap();
    let keys: Vec<String> = {
        let client = redis::Client::open(new.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg("failover:s:*")
            .query_async(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        sessions
            .session(&[2; 32], NOW, NOW + 1)
            .await
            .unwrap()
            .is_some()
    );
    sessions.delete_user_sessions(user.id).await.unwrap();
}
