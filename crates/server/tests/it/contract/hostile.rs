//! The core's hostile-token table, over HTTP (issue 19): an access token
//! whose `aud` was an array holding the expected audience verified in the
//! core and in `passcard token verify`, but `/v1/me` refused it, because
//! the claims type read `aud` as one string. Every token of the table now
//! goes through the server too, and the two must agree on each.

use std::time::Duration;

use axum::http::StatusCode;
use passcard::config::KeySource;
use passcard_jwt::{Algorithm, KeySet, SigningKey, UnixTime};
use passcard_testkit::{ManualClock, Setup, TempDir};

#[path = "../../../../jwt/tests/it/hostile_table.rs"]
#[allow(dead_code, reason = "the core's tests use the rest of the table")]
mod table;

crate::contract::contract!(
    every: [],
    tokens: [the_core_and_the_server_agree_on_every_hostile_and_odd_token],
    sessions: [],
);

/// HMAC-SHA-256 by aws-lc-rs (the table's tokens are signed outside the
/// code under test).
fn aws_hmac(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

async fn the_core_and_the_server_agree_on_every_hostile_and_odd_token(setup: Setup) {
    let dir = TempDir::new("hostile");
    let key = SigningKey::hmac(Algorithm::HS256, table::SECRET)
        .unwrap()
        .with_kid("k1")
        .unwrap();
    let file = crate::contract::key_file(&dir, &key);
    let cli_key = file.clone();
    let now = UnixTime::from_secs(table::NOW_SECS);
    let app = setup
        .clock(&ManualClock::at(now))
        .config(move |c| c.keys.source = Some(KeySource::File(file)))
        .start()
        .await;
    // The server's own policy, in the core.
    let keys = KeySet::from(key.verifying_key());
    let policy = passcard_axum::access_policy("passcard", "passcard", Duration::from_secs(30));
    let core = |token: &str| {
        keys.verify::<serde_json::Map<String, serde_json::Value>>(token, &policy, now)
            .map(|_| ())
    };
    let mut disagreements = Vec::new();
    for (name, token) in table::valid(aws_hmac) {
        let me = app.get("/v1/me").bearer(&token).send().await;
        if me.status != StatusCode::OK || core(&token).is_err() {
            disagreements.push(format!(
                "{name}: core {:?}, HTTP {} {}",
                core(&token),
                me.status,
                me.text
            ));
        }
        // `passcard token verify` accepts it as well.
        let cli = std::process::Command::new(env!("CARGO_BIN_EXE_passcard"))
            .args(["token", "verify", "--typ", "at+jwt", "--at"])
            .arg(table::NOW_SECS.to_string())
            .arg("--key-file")
            .arg(&cli_key)
            .arg(&token)
            .env_remove("PASSCARD_SECRET")
            .env_remove("PASSCARD_KEY_FILE")
            .output()
            .unwrap();
        if !cli.status.success() {
            disagreements.push(format!(
                "{name}: passcard token verify refused it: {}",
                String::from_utf8_lossy(&cli.stderr)
            ));
        }
    }
    for (name, token, _) in table::hostile(aws_hmac) {
        // A token with a line break cannot be sent in a header at all.
        if axum::http::HeaderValue::from_str(&token).is_err() {
            assert!(core(&token).is_err(), "{name}");
            continue;
        }
        let me = app.get("/v1/me").bearer(&token).send().await;
        if me.status != StatusCode::UNAUTHORIZED || core(&token).is_ok() {
            disagreements.push(format!(
                "{name}: core {:?}, HTTP {} {}",
                core(&token),
                me.status,
                me.text
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
