//! Registered claims (RFC 7519 section 4.1).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::json::{self, JStr, Value};
use crate::time::NumericDate;

/// The `aud` claim: one audience or several (RFC 7519 section 4.1.3: a
/// string, or an array of strings). Written back as it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience string.
    One(String),
    /// An array of audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is the audience, or one of them.
    pub fn contains(&self, aud: &str) -> bool {
        self.iter().any(|a| a == aud)
    }

    /// Each audience, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Self::One(a) => (Some(a.as_str()), &[][..]),
            Self::Many(list) => (None, list.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

impl From<&str> for Audience {
    fn from(aud: &str) -> Self {
        Self::One(aud.to_owned())
    }
}

impl From<String> for Audience {
    fn from(aud: String) -> Self {
        Self::One(aud)
    }
}

/// The registered claims, for building tokens and for claims types that
/// want them (`#[serde(flatten)]` this into your own struct).
///
/// Verification checks these on the raw token before your type is
/// deserialized, so a claims type does not need to include them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegisteredClaims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiration time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// JWT id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The registered claims as borrowed from the token, type-checked.
#[derive(Default)]
pub(crate) struct RawClaims<'a> {
    pub(crate) iss: Option<JStr<'a>>,
    pub(crate) sub: Option<JStr<'a>>,
    pub(crate) aud: Option<Value<'a>>,
    pub(crate) exp: Option<NumericDate>,
    pub(crate) nbf: Option<NumericDate>,
    pub(crate) iat: Option<NumericDate>,
    pub(crate) jti: Option<JStr<'a>>,
}

const NOT_A_STRING: &str = "must be a string";
const NOT_A_DATE: &str = "must be a non-negative number of seconds before year 10000";

impl<'a> RawClaims<'a> {
    pub(crate) fn parse(doc: &'a [u8], max_depth: usize) -> Result<Self, Error> {
        let mut c = RawClaims::default();
        json::object_members(doc, max_depth, |name, value| {
            // Names are compared after unescaping; unescaped ones borrow.
            match &*name.bytes() {
                b"exp" => c.exp = Some(date("exp", value)?),
                b"iat" => c.iat = Some(date("iat", value)?),
                b"nbf" => c.nbf = Some(date("nbf", value)?),
                b"iss" => c.iss = Some(string("iss", value)?),
                b"sub" => c.sub = Some(string("sub", value)?),
                b"jti" => c.jti = Some(string("jti", value)?),
                b"aud" => {
                    check_aud(value)?;
                    c.aud = Some(value);
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(c)
    }
}

/// `aud` is a string or an array of strings.
pub(crate) fn check_aud(value: Value<'_>) -> Result<(), Error> {
    const AUD: Error = Error::InvalidClaim {
        name: "aud",
        reason: "must be a string or an array of strings",
    };
    match value {
        Value::Str(_) => Ok(()),
        Value::Array(items) => json::array_items(items, |item| match item {
            Value::Str(_) => Ok(()),
            _ => Err(AUD),
        }),
        _ => Err(AUD),
    }
}

fn string<'a>(name: &'static str, value: Value<'a>) -> Result<JStr<'a>, Error> {
    match value {
        Value::Str(s) => Ok(s),
        _ => Err(Error::InvalidClaim {
            name,
            reason: NOT_A_STRING,
        }),
    }
}

pub(crate) fn date(name: &'static str, value: Value<'_>) -> Result<NumericDate, Error> {
    value
        .as_f64()
        .and_then(NumericDate::new)
        .ok_or_else(|| Error::InvalidClaim {
            name,
            reason: NOT_A_DATE,
        })
}
