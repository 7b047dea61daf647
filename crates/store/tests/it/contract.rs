use passcard_store::{
    NewRefresh, NewRefreshFor, NewSession, Push, Revocation, Rotation, SessionStore, Store,
    StoreError,
};

/// Runs `$body` (an async fn taking `&dyn Store`) against every backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::sqlite().await;
                    super::$name(&*db.store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = crate::postgres().await else { return };
                    super::$name(&*db.store).await;
                }
            )*
        }
    };
}

contract!(
    users_are_unique_and_found_by_name_and_id,
    users_are_listed_in_pages_and_searched_literally,
    role_change_bumps_the_version_and_logs_it,
    revoking_a_user_revokes_families_and_can_ban,
    refresh_rotation_is_compare_and_set,
    a_revoked_or_expired_refresh_token_is_refused_at_rotation,
    denylisting_a_token_revokes_its_family_and_logs_it,
    events_come_in_order_and_prune_drops_only_dead_ones,
    secrets_are_created_once,
    every_query_is_counted,
    listeners_hear_appends_where_the_backend_can_push,
    a_closed_store_fails_calls_instead_of_hanging,
    many_concurrent_reads_all_get_an_answer,
    a_new_login_past_the_most_per_user_ends_the_oldest,
);

/// Runs each session test against sessions in SQLite, in PostgreSQL, and in
/// Redis (with users in SQLite) when PASSCARD_TEST_REDIS_URL is set.
macro_rules! session_contract {
    ($($name:ident),* $(,)?) => {
        mod sessions_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::sqlite().await;
                    super::$name(&*db.store, &*db.store).await;
                }
            )*
        }
        mod sessions_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = crate::postgres().await else { return };
                    super::$name(&*db.store, &*db.store).await;
                }
            )*
        }
        mod sessions_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::sqlite().await;
                    let Some(redis) = crate::redis(db.store.clone()).await else { return };
                    super::$name(&*db.store, &*redis.sessions).await;
                }
            )*
        }
    };
}

session_contract!(
    sessions_read_their_user_expire_and_slide,
    a_new_session_past_the_most_per_user_ends_the_oldest,
);

const NOW: i64 = 1_800_000_000;

async fn users_are_unique_and_found_by_name_and_id(s: &dyn Store) {
    let alice = s
        .create_user("alice", "$argon2id$x", "user", NOW)
        .await
        .unwrap();
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.role, "user");
    assert!(!alice.disabled);
    assert_eq!(alice.token_version, 0);
    assert!(matches!(
        s.create_user("alice", "h", "user", NOW).await,
        Err(StoreError::Conflict)
    ));
    let bob = s.create_user("bob", "h", "admin", NOW).await.unwrap();
    assert_ne!(alice.id, bob.id);
    assert_eq!(s.user_by_name("alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(s.user_by_id(bob.id).await.unwrap().unwrap().role, "admin");
    assert_eq!(s.user_by_name("carol").await.unwrap(), None);
    assert_eq!(s.user_by_id(9999).await.unwrap(), None);
}

async fn users_are_listed_in_pages_and_searched_literally(s: &dyn Store) {
    let mut ids = Vec::new();
    for name in ["ann", "bob_1", "bobx1", "carol", "bob%"] {
        ids.push(s.create_user(name, "h", "user", NOW).await.unwrap().id);
    }
    let names = |users: Vec<passcard_store::User>| {
        users.into_iter().map(|u| u.username).collect::<Vec<_>>()
    };
    // Pages in id order, each after the last id of the one before.
    let first = s.list_users(None, 0, 2).await.unwrap();
    assert_eq!(names(first.clone()), ["ann", "bob_1"]);
    let second = s.list_users(None, first[1].id, 2).await.unwrap();
    assert_eq!(names(second.clone()), ["bobx1", "carol"]);
    let last = s.list_users(Some(""), second[1].id, 2).await.unwrap();
    assert_eq!(names(last.clone()), ["bob%"]);
    assert!(s.list_users(None, last[0].id, 2).await.unwrap().is_empty());
    // A substring, case-insensitive; `_` and `%` match only themselves.
    assert_eq!(
        names(s.list_users(Some("BOB"), 0, 10).await.unwrap()),
        ["bob_1", "bobx1", "bob%"]
    );
    assert_eq!(
        names(s.list_users(Some("b_1"), 0, 10).await.unwrap()),
        ["bob_1"]
    );
    assert_eq!(
        names(s.list_users(Some("%"), 0, 10).await.unwrap()),
        ["bob%"]
    );
    assert!(s.list_users(Some("zed"), 0, 10).await.unwrap().is_empty());
    assert_eq!(ids.len(), 5);
}

async fn role_change_bumps_the_version_and_logs_it(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let changed = s.set_role(u.id, "admin", NOW + 1).await.unwrap().unwrap();
    assert_eq!(changed.role, "admin");
    assert_eq!(changed.token_version, 1);
    let events = s.events_after(0, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id, u.id);
    assert_eq!(events[0].revocation, Revocation::Version { version: 1 });
    assert_eq!(events[0].created_at, NOW + 1);
    assert_eq!(s.set_role(9999, "admin", NOW).await.unwrap(), None);
    assert_eq!(
        s.events_after(0, 100).await.unwrap().len(),
        1,
        "no event for a missing user"
    );
}

async fn revoking_a_user_revokes_families_and_can_ban(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let first = NewRefreshFor {
        hash: [1; 32],
        user_id: u.id,
        expires_at: NOW + 100,
        max_per_user: 100,
    };
    let fam = s.start_family(&first, NOW).await.unwrap().id;
    let r = s.refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(
        (r.family_id, r.user_id, r.used_at, r.family_revoked),
        (fam, u.id, None, false)
    );

    let after = s.revoke_user(u.id, false, NOW + 5).await.unwrap().unwrap();
    assert_eq!(after.token_version, 1);
    assert!(!after.disabled);
    assert!(
        s.refresh_token(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );

    let banned = s.revoke_user(u.id, true, NOW + 6).await.unwrap().unwrap();
    assert!(banned.disabled);
    assert_eq!(banned.token_version, 2);
    assert_eq!(s.revoke_user(4242, true, NOW).await.unwrap(), None);
}

async fn refresh_rotation_is_compare_and_set(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let fam = s
        .start_family(
            &NewRefreshFor {
                hash: [1; 32],
                user_id: u.id,
                expires_at: NOW + 100,
                max_per_user: 100,
            },
            NOW,
        )
        .await
        .unwrap()
        .id;
    let next = NewRefresh {
        hash: [2; 32],
        family_id: fam,
        user_id: u.id,
        expires_at: NOW + 200,
    };
    assert_eq!(
        s.rotate_refresh(&[1; 32], &next, NOW + 10).await.unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        s.rotate_refresh(&[1; 32], &next, NOW + 11).await.unwrap(),
        Rotation::AlreadyUsed { used_at: NOW + 10 }
    );
    let old = s.refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(old.used_at, Some(NOW + 10));
    let new = s.refresh_token(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(
        (new.family_id, new.used_at, new.expires_at),
        (fam, None, NOW + 200)
    );
    s.revoke_family(fam, NOW + 20).await.unwrap();
    assert!(
        s.refresh_token(&[2; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    assert_eq!(s.refresh_token(&[3; 32]).await.unwrap(), None);
}

/// A rotation racing a logout (the family revoked after the token was
/// read) or an expiry must not rotate: `Refused`, nothing stored.
async fn a_revoked_or_expired_refresh_token_is_refused_at_rotation(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let first = |hash: u8| NewRefreshFor {
        hash: [hash; 32],
        user_id: u.id,
        expires_at: NOW + 100,
        max_per_user: 100,
    };
    let successor = |hash: u8, family_id: i64| NewRefresh {
        hash: [hash; 32],
        family_id,
        user_id: u.id,
        expires_at: NOW + 200,
    };
    let revoked = s.start_family(&first(1), NOW).await.unwrap().id;
    s.revoke_family(revoked, NOW + 1).await.unwrap();
    assert_eq!(
        s.rotate_refresh(&[1; 32], &successor(2, revoked), NOW + 2)
            .await
            .unwrap(),
        Rotation::Refused
    );
    let expired = s.start_family(&first(3), NOW).await.unwrap().id;
    assert_eq!(
        s.rotate_refresh(&[3; 32], &successor(4, expired), NOW + 100)
            .await
            .unwrap(),
        Rotation::Refused,
        "expired at its expires_at"
    );
    assert_eq!(
        s.rotate_refresh(&[9; 32], &successor(5, expired), NOW + 2)
            .await
            .unwrap(),
        Rotation::Refused,
        "unknown"
    );
    for (hash, unused) in [(1, true), (3, true)] {
        let record = s.refresh_token(&[hash; 32]).await.unwrap().unwrap();
        assert_eq!(record.used_at.is_none(), unused, "left as it was");
    }
    for hash in [2, 4, 5] {
        assert_eq!(
            s.refresh_token(&[hash; 32]).await.unwrap(),
            None,
            "no successor"
        );
    }
}

async fn denylisting_a_token_revokes_its_family_and_logs_it(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let fam = s
        .start_family(
            &NewRefreshFor {
                hash: [7; 32],
                user_id: u.id,
                expires_at: NOW + 100,
                max_per_user: 100,
            },
            NOW,
        )
        .await
        .unwrap()
        .id;
    s.revoke_token(u.id, "jti-1", NOW + 300, Some(fam), NOW + 1)
        .await
        .unwrap();
    assert!(
        s.refresh_token(&[7; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    let events = s.events_after(0, 10).await.unwrap();
    let logged: Vec<_> = events
        .iter()
        .map(|e| (e.user_id, e.revocation.clone()))
        .collect();
    assert_eq!(
        logged,
        vec![
            (
                u.id,
                Revocation::Jti {
                    jti: "jti-1".into(),
                    expires_at: NOW + 300
                }
            ),
            (u.id, Revocation::Family { family_id: fam }),
        ],
        "the token and its whole login"
    );
    // Revoking the family again (theft detected later) logs nothing new.
    s.revoke_family(fam, NOW + 2).await.unwrap();
    assert_eq!(s.events_after(0, 10).await.unwrap().len(), 2);
    // Another user's family is not touched through a forged family id.
    let v = s.create_user("v", "h", "user", NOW).await.unwrap();
    let vfam = s
        .start_family(
            &NewRefreshFor {
                hash: [8; 32],
                user_id: v.id,
                expires_at: NOW + 100,
                max_per_user: 100,
            },
            NOW,
        )
        .await
        .unwrap()
        .id;
    s.revoke_token(u.id, "jti-2", NOW + 300, Some(vfam), NOW + 1)
        .await
        .unwrap();
    assert!(
        !s.refresh_token(&[8; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
}

async fn events_come_in_order_and_prune_drops_only_dead_ones(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let fam = s
        .start_family(
            &NewRefreshFor {
                hash: [9; 32],
                user_id: u.id,
                expires_at: NOW + 100,
                max_per_user: 100,
            },
            NOW,
        )
        .await
        .unwrap()
        .id;
    // A detected theft: the family's refresh tokens and (logged) its
    // access tokens.
    s.revoke_family(fam, NOW).await.unwrap();
    assert!(
        s.refresh_token(&[9; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    s.revoke_token(u.id, "old", NOW + 10, None, NOW)
        .await
        .unwrap();
    s.revoke_token(u.id, "live", NOW + 1000, None, NOW)
        .await
        .unwrap();
    s.revoke_user(u.id, false, NOW).await.unwrap();
    s.set_role(u.id, "admin", NOW + 500).await.unwrap();
    let all = s.events_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].revocation, Revocation::Family { family_id: fam });
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let tail = s.events_after(all[2].id, 100).await.unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(s.events_after(all[0].id, 1).await.unwrap().len(), 1);

    s.prune(NOW + 100, NOW + 100, NOW + 100).await.unwrap();
    let left = s.events_after(0, 100).await.unwrap();
    let kinds: Vec<_> = left.iter().map(|e| e.revocation.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            Revocation::Jti {
                jti: "live".into(),
                expires_at: NOW + 1000
            },
            Revocation::Version { version: 2 },
        ]
    );
}

async fn secrets_are_created_once(s: &dyn Store) {
    let a = s.secret("refresh-mac", &[1; 32]).await.unwrap();
    let b = s.secret("refresh-mac", &[2; 32]).await.unwrap();
    assert_eq!(a, vec![1; 32]);
    assert_eq!(b, a);
}

async fn every_query_is_counted(s: &dyn Store) {
    let before = s.queries();
    s.user_by_name("nobody").await.unwrap();
    s.user_by_id(1).await.unwrap();
    assert_eq!(s.queries(), before + 2);
    // Per task: what one piece of work ran, whatever runs beside it.
    let ((), mine) = passcard_store::counting_queries(async {
        let other = async {
            for _ in 0..3 {
                s.user_by_id(2).await.unwrap();
            }
        };
        let (_, (_, theirs)) = tokio::join!(
            s.user_by_name("nobody"),
            passcard_store::counting_queries(other)
        );
        assert_eq!(theirs, 3);
    })
    .await;
    // Each count is its own: the nested work is not counted twice.
    assert_eq!(mine, 1);
}

/// More reads at once than the store has connections: they wait their
/// turn, and each gets the right answer.
async fn many_concurrent_reads_all_get_an_answer(s: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            s.create_user(&format!("reader{i}"), "hash", "user", 1)
                .await
                .unwrap()
                .id,
        );
    }
    let reads = (0..64).map(|k| {
        let id = ids[k % ids.len()];
        async move { (id, s.user_by_id(id).await) }
    });
    for (id, got) in futures_util::future::join_all(reads).await {
        assert_eq!(got.unwrap().unwrap().id, id);
    }
}

async fn a_closed_store_fails_calls_instead_of_hanging(s: &dyn Store) {
    s.create_user("closing", "hash", "user", 1).await.unwrap();
    s.close().await;
    let later = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        s.user_by_name("closing"),
    )
    .await
    .expect("a call on a closed store returns");
    assert!(
        later.as_ref().is_err_and(StoreError::is_unavailable),
        "{later:?}"
    );
}

async fn listeners_hear_appends_where_the_backend_can_push(s: &dyn Store) {
    let Some(mut listener) = s.listen().await.unwrap() else {
        return; // a polling backend
    };
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    s.revoke_token(u.id, "j", NOW + 60, None, NOW)
        .await
        .unwrap();
    let push = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
        .await
        .expect("no notification within 5 s")
        .unwrap();
    assert_eq!(push, Push::Changed);
    s.set_role(u.id, "admin", NOW).await.unwrap();
    let push = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
        .await
        .expect("no notification within 5 s")
        .unwrap();
    assert_eq!(push, Push::Changed);
}

/// Issue 19: a user's logins were unbounded. Past `max_per_user` live
/// families, a new login revokes the oldest (logged, so their access
/// tokens are refused everywhere); expired or revoked families do not
/// count.
async fn a_new_login_past_the_most_per_user_ends_the_oldest(s: &dyn Store) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let other = s.create_user("v", "h", "user", NOW).await.unwrap();
    let first = |hash: u8, user_id: i64, expires_at: i64| NewRefreshFor {
        hash: [hash; 32],
        user_id,
        expires_at,
        max_per_user: 3,
    };
    // One that expired, one revoked, one of another user: none counts.
    let dead = s.start_family(&first(1, u.id, NOW + 1), NOW).await.unwrap();
    assert_eq!(dead.ended, 0);
    let revoked = s
        .start_family(&first(2, u.id, NOW + 100), NOW)
        .await
        .unwrap();
    s.revoke_family(revoked.id, NOW).await.unwrap();
    s.start_family(&first(3, other.id, NOW + 100), NOW)
        .await
        .unwrap();
    let later = NOW + 10;
    let mut live = Vec::new();
    for hash in 10..13 {
        let f = s
            .start_family(&first(hash, u.id, later + 100), later)
            .await
            .unwrap();
        assert_eq!(f.ended, 0, "within the most");
        live.push(f.id);
    }
    let last_event = s.events_after(0, 1000).await.unwrap().len();
    // The fourth live login ends the oldest live one, and says so.
    let fourth = s
        .start_family(&first(13, u.id, later + 100), later)
        .await
        .unwrap();
    assert_eq!(fourth.ended, 1);
    let r = s.refresh_token(&[10; 32]).await.unwrap().unwrap();
    assert!(r.family_revoked, "the oldest live login ended");
    for hash in [11, 12, 13] {
        let r = s.refresh_token(&[hash; 32]).await.unwrap().unwrap();
        assert!(!r.family_revoked, "login {hash} kept");
    }
    let events = s.events_after(0, 1000).await.unwrap();
    assert_eq!(events.len(), last_event + 1);
    assert_eq!(
        events.last().unwrap().revocation,
        Revocation::Family { family_id: live[0] }
    );
    // The other user's login is untouched.
    assert!(
        !s.refresh_token(&[3; 32])
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
}

/// Issue 19: a user's sessions were unbounded (and in Redis every login
/// walked all of them). Past `max_per_user` live sessions, a new one
/// deletes the oldest; expired ones do not count.
async fn a_new_session_past_the_most_per_user_ends_the_oldest(
    s: &dyn Store,
    sessions: &dyn SessionStore,
) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let other = s.create_user("v", "h", "user", NOW).await.unwrap();
    let new = |hash: u8, user_id: i64, expires_at: i64| NewSession {
        hash: [hash; 32],
        user_id,
        idle_expires_at: expires_at,
        expires_at,
        max_per_user: 3,
    };
    let live = |hash: u8, at: i64| async move {
        sessions
            .session(&[hash; 32], at, at)
            .await
            .unwrap()
            .is_some()
    };
    // One that has expired (in Redis too, which expires keys by the
    // wall clock), and another user's.
    assert_eq!(
        sessions
            .create_session(&new(1, u.id, 1), NOW)
            .await
            .unwrap(),
        0
    );
    let far = NOW + 1000;
    sessions
        .create_session(&new(2, other.id, far), NOW)
        .await
        .unwrap();
    // Three live ones, created a second apart, oldest first.
    for (i, hash) in (10..13).enumerate() {
        let at = NOW + 10 + i64::try_from(i).unwrap();
        let ended = sessions
            .create_session(&new(hash, u.id, far), at)
            .await
            .unwrap();
        assert_eq!(ended, 0, "within the most");
    }
    let at = NOW + 20;
    let ended = sessions
        .create_session(&new(13, u.id, far), at)
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(!live(10, at).await, "the oldest session ended");
    for hash in [11, 12, 13] {
        assert!(live(hash, at).await, "session {hash} kept");
    }
    assert!(live(2, at).await, "another user's session untouched");
    // Logout-everywhere still finds every session left.
    sessions.delete_user_sessions(u.id).await.unwrap();
    for hash in [11, 12, 13] {
        assert!(
            !live(hash, at).await,
            "session {hash} left after logout-everywhere"
        );
    }
}

async fn sessions_read_their_user_expire_and_slide(s: &dyn Store, sessions: &dyn SessionStore) {
    let u = s.create_user("u", "h", "user", NOW).await.unwrap();
    let new = |hash: u8, idle: i64, abs: i64| NewSession {
        hash: [hash; 32],
        user_id: u.id,
        idle_expires_at: NOW + idle,
        expires_at: NOW + abs,
        max_per_user: 100,
    };
    sessions
        .create_session(&new(1, 100, 1000), NOW)
        .await
        .unwrap();
    let (user, rec) = sessions
        .session(&[1; 32], NOW, NOW + 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((user.id, user.role.as_str()), (u.id, "user"));
    assert_eq!(
        (rec.created_at, rec.idle_expires_at, rec.expires_at),
        (NOW, NOW + 100, NOW + 1000)
    );
    // The session reads the user: a role change shows at the next lookup.
    s.set_role(u.id, "admin", NOW).await.unwrap();
    assert_eq!(
        sessions
            .session(&[1; 32], NOW + 1, NOW + 101)
            .await
            .unwrap()
            .unwrap()
            .0
            .role,
        "admin"
    );
    // Idle time slides once less than half is left, capped by the absolute end.
    let before = s.queries() + sessions.own_queries();
    let (_, rec) = sessions
        .session(&[1; 32], NOW + 10, NOW + 110)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rec.idle_expires_at,
        NOW + 100,
        "more than half left: no write"
    );
    assert!(
        s.queries() + sessions.own_queries() - before <= 2,
        "a lookup (and a user read), no write"
    );
    let (_, rec) = sessions
        .session(&[1; 32], NOW + 60, NOW + 160)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.idle_expires_at, NOW + 160);
    // Idle expiry and absolute expiry both end it.
    assert!(
        sessions
            .session(&[1; 32], NOW + 160, NOW + 260)
            .await
            .unwrap()
            .is_none()
    );
    sessions
        .create_session(&new(2, 5000, 50), NOW)
        .await
        .unwrap();
    assert!(
        sessions
            .session(&[2; 32], NOW + 50, NOW + 5050)
            .await
            .unwrap()
            .is_none()
    );
    // Deletion: one, or all of a user's.
    sessions
        .create_session(&new(3, 100, 1000), NOW)
        .await
        .unwrap();
    sessions
        .create_session(&new(4, 100, 1000), NOW)
        .await
        .unwrap();
    sessions.delete_session(&[3; 32]).await.unwrap();
    assert!(
        sessions
            .session(&[3; 32], NOW, NOW + 100)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions
            .session(&[4; 32], NOW, NOW + 100)
            .await
            .unwrap()
            .is_some()
    );
    assert!(sessions.delete_user_sessions(u.id).await.unwrap() >= 1);
    assert!(
        sessions
            .session(&[4; 32], NOW, NOW + 100)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sessions
            .session(&[9; 32], NOW, NOW + 100)
            .await
            .unwrap()
            .is_none()
    );
}
