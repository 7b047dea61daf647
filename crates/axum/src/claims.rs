//! The claims of a passcard access token: one type, written by the server
//! when it signs and read back by every verifier.

use serde::{Deserialize, Serialize};

/// The claims of a passcard access token (header `typ: at+jwt`).
///
/// The server signs exactly these; [`Verifier`](crate::Verifier) hands them
/// to handlers only after the signature, the policy (issuer, audience,
/// type, time) and the revocation check passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's integer id (a JSON string, as RFC 7519 wants `sub`).
    #[serde(with = "int_string")]
    pub sub: i64,
    /// The user's role when the token was issued.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Token id, for the denylist.
    pub jti: String,
    /// The user's token version when the token was issued: a token whose
    /// version is below the user's current one is revoked.
    pub ver: i64,
    /// The refresh family (one login) the token belongs to, as a JSON
    /// string.
    #[serde(with = "int_string")]
    pub sid: i64,
}

/// An integer written as a JSON string (`"42"`), read without allocating.
mod int_string {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer in a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
                // Canonical decimal only: no sign, no leading zeros, so one
                // id has one spelling.
                let canonical = v == "0"
                    || (!v.starts_with('0')
                        && !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_digit()));
                match v.parse() {
                    Ok(n) if canonical => Ok(n),
                    _ => Err(E::custom("not a canonical non-negative integer")),
                }
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::AccessClaims;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "passcard".into(),
            aud: "passcard".into(),
            sub: 42,
            role: "user".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            ver: 3,
            sid: 7,
        }
    }

    #[test]
    fn ids_travel_as_strings_and_come_back() {
        let json = serde_json::to_value(claims()).unwrap();
        assert_eq!(json["sub"], "42");
        assert_eq!(json["sid"], "7");
        let back: AccessClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back, claims());
    }

    #[test]
    fn only_canonical_integer_strings_are_ids() {
        let mut json = serde_json::to_value(claims()).unwrap();
        for bad in [
            serde_json::json!(42),
            serde_json::json!("042"),
            serde_json::json!("-1"),
            serde_json::json!("+1"),
            serde_json::json!(""),
            serde_json::json!("4 2"),
            serde_json::json!("99999999999999999999"),
        ] {
            json["sub"] = bad.clone();
            assert!(
                serde_json::from_value::<AccessClaims>(json.clone()).is_err(),
                "{bad}"
            );
        }
        json["sub"] = serde_json::json!("0");
        assert_eq!(serde_json::from_value::<AccessClaims>(json).unwrap().sub, 0);
    }
}
