//! A page of the revocation feed (`GET /v1/revocations`) as a resource
//! server's `RevocationFeed` reads it into its `RevocationList`.
//!
//! Beyond not panicking: every event of the page that this version can read
//! is in force afterwards (its token, user version or login is refused),
//! whatever else the page holds; the list has moved on to the page's
//! `last_id`; and each readable event writes back as JSON that reads as
//! the same event.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use passcard_axum::feed::{Revocation, RevocationEvent};
use passcard_axum::fuzzing::feed_page;
use passcard_axum::{AccessClaims, RevocationCheck, RevocationList};
use passcard_jwt::{Clock, UnixTime};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A clock that stands at one instant: nothing is pruned in between.
#[derive(Debug)]
struct Still;

impl Clock for Still {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(1_800_000_000)
    }
    fn monotonic(&self) -> Duration {
        Duration::from_secs(1)
    }
}

fn claims(jti: &str, sub: i64, ver: i64, sid: i64) -> AccessClaims {
    AccessClaims {
        iss: String::new(),
        aud: "".into(),
        sub,
        role: String::new(),
        iat: 0,
        exp: 0,
        jti: jti.to_owned(),
        ver,
        sid,
    }
}

/// A page as the client reads it: each event on its own.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    last_id: i64,
}

fuzz_target!(|data: &[u8]| {
    let list = RevocationList::new(Duration::from_secs(30), Arc::new(Still));
    let is_page = feed_page(data, &list);
    let Ok(page) = serde_json::from_slice::<Page<'_>>(data) else {
        assert!(!is_page, "a page the client reads is not one");
        assert_eq!(
            list.last_id(),
            0,
            "a body that is not a page moved the list"
        );
        return;
    };
    assert!(is_page, "a page refused");
    assert!(
        list.last_id() >= page.last_id,
        "the list did not move to last_id"
    );
    for raw in &page.events {
        let Ok(e) = serde_json::from_str::<RevocationEvent>(raw.get()) else {
            continue;
        };
        let json = serde_json::to_string(&e).expect("an event serializes");
        assert_eq!(
            serde_json::from_str::<RevocationEvent>(&json).ok().as_ref(),
            Some(&e),
            "{json} reads back otherwise"
        );
        assert!(list.last_id() >= e.id);
        let refused = match &e.revocation {
            Revocation::Jti { jti, .. } => list.check(&claims(jti, 0, i64::MAX, 0)).is_err(),
            Revocation::Version { version, .. } => match version.checked_sub(1) {
                Some(below) => list.check(&claims("", e.user_id, below, 0)).is_err(),
                None => true,
            },
            Revocation::Family { family_id, .. } => {
                list.check(&claims("", 0, i64::MAX, *family_id)).is_err()
            }
            other => panic!("unexpected revocation {other:?}"),
        };
        assert!(refused, "{json} is not in force");
    }
});
