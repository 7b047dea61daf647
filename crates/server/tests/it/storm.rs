//! A refresh storm (issue 14): one refresh token presented 100 times at
//! once, by 10 HTTP clients of 10 requests each, over real connections.
//! Every client must end up with the one successor (an answer to retry,
//! 503 or 429 with Retry-After, may come first; a refusal may not), the
//! family must not fork, and nobody is logged out: the successor rotates
//! on, and every access token handed out works.
//!
//! On every configuration of the contract suite that has refresh tokens
//! (SQLite and PostgreSQL, one instance each), and on two instances
//! sharing one PostgreSQL schema, the clients split between them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use passcard::config::KeySource;
use passcard_jwt::{Algorithm, SigningKey};
use passcard_testkit::{Kind, ManualClock, Setup, TempDir, TempSchema, TestServer, env};
use serde_json::{Value, json};

const CLIENTS: usize = 10;
const PER_CLIENT: usize = 10;
/// Answers to retry that one request may get before it must succeed.
const MAX_RETRIES: usize = 5;

/// What one of the storm's requests ended with.
struct Outcome {
    /// Every status it got, in order (retries included).
    statuses: Vec<u16>,
    /// The final successful answer's body, if any.
    body: Option<Value>,
    /// Why it failed, if it did.
    failure: Option<String>,
}

/// POSTs `token` to `url` until it gets an answer that is not one to
/// retry (at most [`MAX_RETRIES`] retries, each after its Retry-After).
async fn refresh_until_answered(client: reqwest::Client, url: String, token: String) -> Outcome {
    let mut statuses = Vec::new();
    for _ in 0..=MAX_RETRIES {
        let r = match client
            .post(&url)
            .json(&json!({ "refresh_token": token }))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Outcome {
                    statuses,
                    body: None,
                    failure: Some(format!("no answer: {e}")),
                };
            }
        };
        let status = r.status();
        statuses.push(status.as_u16());
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let text = r.text().await.unwrap_or_default();
        match (status, retry_after) {
            (StatusCode::OK, _) => {
                return Outcome {
                    statuses,
                    body: serde_json::from_str(&text).ok(),
                    failure: None,
                };
            }
            (StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS, Some(secs)) => {
                tokio::time::sleep(Duration::from_secs(secs.min(5))).await;
            }
            _ => {
                return Outcome {
                    statuses,
                    body: None,
                    failure: Some(format!("{status}: {text}")),
                };
            }
        }
    }
    Outcome {
        statuses,
        body: None,
        failure: Some(format!("still told to retry after {MAX_RETRIES} retries")),
    }
}

/// SHA-256, as the store keys refresh tokens.
fn refresh_hash(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    d.as_ref().try_into().unwrap()
}

/// The `sid` (refresh family) of an access token.
fn family_of(access_token: &str) -> i64 {
    let claims = passcard_jwt::dangerous::decode_unverified(access_token)
        .unwrap()
        .claims;
    serde_json::from_value::<passcard_axum::AccessClaims>(Value::Object(claims))
        .unwrap()
        .sid
}

/// Storms `servers` (clients spread over them round robin) with one
/// refresh token of a fresh login, and checks everything the storm must
/// leave behind.
async fn storm(servers: &[&TestServer]) {
    let first = servers[0];
    first.seed("alice", "user").await;
    let login = first.login("alice").await;
    let r0 = login.refresh_token().to_owned();
    let family = family_of(login.cred.token());

    // Ten clients, each with connections of its own, all ten of its
    // requests in flight at once, released together.
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS * PER_CLIENT));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = reqwest::Client::new();
        let url = servers[c % servers.len()].url("/v1/refresh");
        for _ in 0..PER_CLIENT {
            let (client, url, token, start) =
                (client.clone(), url.clone(), r0.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                refresh_until_answered(client, url, token).await
            }));
        }
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }

    let mut statuses = BTreeMap::<u16, usize>::new();
    for s in outcomes.iter().flat_map(|o| &o.statuses) {
        *statuses.entry(*s).or_default() += 1;
    }
    let failures: Vec<_> = outcomes.iter().filter_map(|o| o.failure.as_ref()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests got no successor (statuses {statuses:?}): {failures:?}",
        failures.len(),
        outcomes.len()
    );
    {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** refresh storm on {} instance(s): {} requests, answers {statuses:?} ***\n",
            servers.len(),
            outcomes.len()
        );
    }
    let bodies: Vec<&Value> = outcomes.iter().filter_map(|o| o.body.as_ref()).collect();
    assert_eq!(bodies.len(), CLIENTS * PER_CLIENT);

    // One successor for all: the family did not fork.
    let successors: HashSet<&str> = bodies
        .iter()
        .map(|b| b["refresh_token"].as_str().unwrap())
        .collect();
    assert_eq!(
        successors.len(),
        1,
        "the family forked: {} successors",
        successors.len()
    );
    let r1 = successors.into_iter().next().unwrap().to_owned();
    assert_ne!(r1, r0);
    let access: Vec<String> = bodies
        .iter()
        .map(|b| b["access_token"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        access.iter().all(|a| family_of(a) == family),
        "an access token of another family"
    );

    // In the store: the old token used once, the successor unused, the
    // family alive.
    let store = first.state.auth.store();
    let old = store
        .refresh_token(&refresh_hash(&r0))
        .await
        .unwrap()
        .unwrap();
    assert!(old.used_at.is_some() && !old.family_revoked, "{old:?}");
    let next = store
        .refresh_token(&refresh_hash(&r1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.family_id, family);
    assert!(next.used_at.is_none() && !next.family_revoked, "{next:?}");

    // Nobody was logged out: every access token handed out works, on
    // every instance.
    for (i, a) in access.iter().enumerate() {
        let s = servers[i % servers.len()];
        let me = s.send(s.client.get(s.url("/v1/me")).bearer_auth(a)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    }
    // The successor rotates on, once; the storm's token, presented again
    // within the interval, still gets the same successor, and so does the
    // successor: one chain.
    let url = first.url("/v1/refresh");
    let next = first
        .send(
            first
                .client
                .post(&url)
                .json(&json!({ "refresh_token": r1 })),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
    let r2 = next.str("refresh_token");
    assert_ne!(r2, r1);
    for (token, successor) in [(&r0, &r1), (&r1, &r2)] {
        let again = first
            .send(
                first
                    .client
                    .post(&url)
                    .json(&json!({ "refresh_token": token })),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(&again.str("refresh_token"), successor);
    }
    let me = first
        .send(
            first
                .client
                .get(first.url("/v1/me"))
                .bearer_auth(next.str("access_token")),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(
        first
            .metric("passcard_refreshes_total{outcome=\"refused\"}")
            .await,
        0.0
    );
}

/// The storm on one instance of `kind`.
async fn on(kind: Kind) {
    if !kind.available() {
        return;
    }
    let server = Setup::new(kind).server().await.unwrap();
    storm(&[&server]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_storm_sqlite() {
    on(Kind::SqliteToken).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_storm_postgres() {
    on(Kind::PostgresToken).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_storm_two_postgres_instances() {
    let Some(base) = env::postgres("the refresh storm on two instances") else {
        return;
    };
    let schema = TempSchema::create(&base).await;
    let keys = TempDir::new("storm-keys");
    let key_file =
        crate::contract::key_file(&keys, &SigningKey::generate(Algorithm::EdDSA).unwrap());
    let clock = ManualClock::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let (url, key) = (schema.url().to_owned(), key_file.clone());
        // The matrix's SQLite store is replaced by the shared schema.
        let server = Setup::new(Kind::SqliteToken)
            .clock(&clock)
            .config(move |c| {
                c.storage.database_url = url;
                c.keys.source = Some(KeySource::File(key));
            })
            .server()
            .await
            .unwrap();
        servers.push(server);
    }
    storm(&[&servers[0], &servers[1]]).await;
}
