//! The revocation feed's wire format, defined once: the passcard server
//! serializes these (`GET /v1/revocations`, and the Server-Sent Events of
//! `/v1/revocations/stream`), and it applies the very same values to its own
//! memory; a resource server reads them back into its
//! [`RevocationList`](crate::RevocationList).

use serde::{Deserialize, Serialize};

/// One revocation, as the feed carries it.
///
/// Each event says itself until when it matters (`expires_at`): once no
/// token it concerns can still be accepted, it can be forgotten. A
/// verifier keeps it until `expires_at` plus its own leeway; nobody
/// recomputes the server's lifetimes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationEvent {
    /// Monotonically increasing id: a client resumes after the last one it
    /// applied.
    pub id: i64,
    /// The user concerned.
    pub user_id: i64,
    /// What is revoked, with a `kind` tag on the wire.
    #[serde(flatten)]
    pub revocation: Revocation,
    /// When the revocation was made (Unix seconds).
    pub created_at: i64,
}

/// What an event revokes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Revocation {
    /// One access token (logout), by `jti`.
    Jti {
        /// The token id.
        jti: String,
        /// The token's `exp`: after it (plus leeway) the entry is useless.
        expires_at: i64,
    },
    /// Every access token of the user whose `ver` is below `version`
    /// (logout everywhere, a role change, a ban).
    Version {
        /// The user's new token version.
        version: i64,
        /// The latest `exp` a token issued before the change can carry:
        /// after it (plus leeway) the entry is useless.
        expires_at: i64,
    },
    /// Every access token of one login, whose `sid` is `family_id` (a
    /// logout, or a detected refresh-token theft). The family can mint no
    /// more tokens.
    Family {
        /// The refresh family.
        family_id: i64,
        /// The latest `exp` a token of the family can carry: after it
        /// (plus leeway) the entry is useless.
        expires_at: i64,
    },
}

impl Revocation {
    /// Until when the revocation matters, before the verifier's leeway.
    pub fn expires_at(&self) -> i64 {
        match self {
            Self::Jti { expires_at, .. }
            | Self::Version { expires_at, .. }
            | Self::Family { expires_at, .. } => *expires_at,
        }
    }
}

/// A page of `GET /v1/revocations?after=ID`: events after an id, oldest
/// first, and the id to ask after next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// The events, at most a page (1000).
    pub events: Vec<RevocationEvent>,
    /// The id of the last event in the page, or the `after` asked for when
    /// the page is empty.
    pub last_id: i64,
}

/// The most events a feed page holds; a full page means "ask again".
pub const FEED_PAGE: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_flat_with_a_kind_tag() {
        let e = RevocationEvent {
            id: 3,
            user_id: 7,
            revocation: Revocation::Version {
                version: 2,
                expires_at: 500,
            },
            created_at: 100,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 3, "user_id": 7, "kind": "version", "version": 2,
                               "expires_at": 500, "created_at": 100})
        );
        assert_eq!(serde_json::from_value::<RevocationEvent>(json).unwrap(), e);
        let jti = serde_json::json!({"id": 4, "user_id": 7, "kind": "jti", "jti": "abc",
                                     "expires_at": 900, "created_at": 100});
        let e: RevocationEvent = serde_json::from_value(jti).unwrap();
        assert_eq!(e.revocation.expires_at(), 900);
        let unknown = serde_json::json!({"id": 5, "user_id": 7, "kind": "everything",
                                         "created_at": 100});
        assert!(serde_json::from_value::<RevocationEvent>(unknown).is_err());
    }
}
