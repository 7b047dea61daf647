//! The claims of a passcard access token: one type, written by the server
//! when it signs and read back by every verifier.

use passcard_jwt::claims::Audience;
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
    /// Audience: passcard signs one; a token whose `aud` is an array
    /// holding the expected audience is read too (RFC 7519 section
    /// 4.1.3), as the core's validation accepts it.
    pub aud: Audience,
    /// The user's integer id (a JSON string, as RFC 7519 wants `sub`).
    #[serde(with = "int_string")]
    pub sub: i64,
    /// The user's role when the token was issued.
    pub role: String,
    /// Issued at (Unix seconds; a fractional NumericDate is read as its
    /// whole seconds, as the core's validation reads it).
    #[serde(with = "numeric_date")]
    pub iat: u64,
    /// Expires at (Unix seconds; fractional as `iat`).
    #[serde(with = "numeric_date")]
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

/// A NumericDate (RFC 7519 section 2): written as whole seconds, read as
/// any non-negative JSON number (its whole seconds), like the core's
/// validation of `exp`, `nbf` and `iat`.
mod numeric_date {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = u64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
                u64::try_from(v).map_err(|_| E::custom("a negative date"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
                // The core refuses dates past year 9999 before this runs.
                if v.is_finite() && (0.0..1.0e17).contains(&v) {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "checked to be a finite, non-negative number in range"
                    )]
                    Ok(v.trunc() as u64)
                } else {
                    Err(E::custom("not a date"))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
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

    /// Issue 19: an `aud` array holding the expected audience, and a
    /// fractional date, verified in the core but did not fit these claims,
    /// so the server refused what `passcard token verify` accepted.
    #[test]
    fn an_audience_array_and_fractional_dates_are_read() {
        let mut json = serde_json::to_value(claims()).unwrap();
        assert_eq!(
            json["aud"], "passcard",
            "one audience is written as a string"
        );
        json["aud"] = serde_json::json!(["api", "passcard"]);
        json["exp"] = serde_json::json!(2.75);
        let back: AccessClaims = serde_json::from_value(json.clone()).unwrap();
        assert!(back.aud.contains("passcard") && back.aud.contains("api"));
        assert_eq!(back.exp, 2);
        assert_eq!(serde_json::to_value(&back).unwrap()["aud"], json["aud"]);
        for bad in [
            serde_json::json!(-1),
            serde_json::json!(-0.5),
            serde_json::json!("2"),
        ] {
            json["exp"] = bad.clone();
            assert!(
                serde_json::from_value::<AccessClaims>(json.clone()).is_err(),
                "{bad}"
            );
        }
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
