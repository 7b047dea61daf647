//! JOSE header: what a token may say about itself, and what it may not.

use crate::alg::{Algorithm, printable};
use crate::error::Error;
use crate::json::{self, JStr, Value};

/// Header parameters for signing. `alg` and `kid` come from the key, never
/// from here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// Media type of the token, such as `at+jwt` for access tokens
    /// (RFC 9068) or `JWT`.
    pub typ: Option<String>,
    /// Content type, for nested tokens.
    pub cty: Option<String>,
}

impl Header {
    /// A header with no optional parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `typ`.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }
}

#[derive(serde::Serialize)]
struct HeaderOut<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
    kid: &'a str,
}

/// The header JSON passcard writes for a key: `alg`, `typ`, `cty`, `kid`.
pub(crate) fn header_json(
    alg: Algorithm,
    kid: &str,
    typ: Option<&str>,
    cty: Option<&str>,
) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(&HeaderOut {
        alg: alg.name(),
        typ,
        cty,
        kid,
    })
    .map_err(|_| Error::Encode("header does not serialize"))
}

/// The `typ` values whose passcard-written headers a key recognises without
/// parsing (see [`crate::key::VerifyingKey`]).
pub(crate) const COMMON_TYPS: [Option<&str>; 3] = [None, Some("at+jwt"), Some("JWT")];

/// The header of a token under verification, borrowed from its decoded JSON.
///
/// Key material named or embedded in it (`jwk`, `jku`, `x5u`, `x5c`) is
/// ignored: the verifier's key set alone decides which keys are trusted.
pub(crate) struct RawHeader<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<JStr<'a>>,
    pub(crate) typ: Option<JStr<'a>>,
}

fn string<'a>(name: &'static str, v: Value<'a>) -> Result<JStr<'a>, Error> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(Error::InvalidClaim {
            name,
            reason: "must be a string",
        }),
    }
}

impl<'a> RawHeader<'a> {
    pub(crate) fn parse(doc: &'a [u8], max_depth: usize) -> Result<Self, Error> {
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        json::object_members(doc, max_depth, |name, value| {
            let name = name.bytes();
            if *name == *b"alg" {
                alg = Some(string("alg", value)?);
            } else if *name == *b"kid" {
                kid = Some(string("kid", value)?);
            } else if *name == *b"typ" {
                typ = Some(string("typ", value)?);
            } else if *name == *b"crit" {
                // passcard implements no extension, so any entry is one it
                // does not understand (RFC 7515 4.1.11); an empty list is
                // invalid.
                let Value::Array(items) = value else {
                    return Err(Error::InvalidClaim {
                        name: "crit",
                        reason: "must be an array of strings",
                    });
                };
                let mut first = None;
                json::array_items(items, |item| {
                    let s = string("crit", item)?;
                    first.get_or_insert(s);
                    Ok(())
                })?;
                let Some(first) = first else {
                    return Err(Error::InvalidClaim {
                        name: "crit",
                        reason: "must not be empty",
                    });
                };
                return Err(Error::UnsupportedCritical(printable(
                    first.decode()?.as_bytes(),
                )));
            } else if *name == *b"enc" || *name == *b"zip" {
                // Members only a JWE has (RFC 7516 9): this is an
                // encrypted token, or one dressed to confuse a parser
                // that would treat it as one.
                return Err(Error::JweHeader(if *name == *b"enc" {
                    "enc"
                } else {
                    "zip"
                }));
            } else if *name == *b"b64" {
                match value {
                    Value::Bool(true) => {}
                    Value::Bool(false) => return Err(Error::UnencodedPayload),
                    _ => {
                        return Err(Error::InvalidClaim {
                            name: "b64",
                            reason: "must be a boolean",
                        });
                    }
                }
            }
            Ok(())
        })?;
        let alg = alg.ok_or_else(|| Error::MissingClaim("alg"))?;
        let alg = Algorithm::from_bytes(alg.decode()?.as_bytes())?;
        Ok(Self { alg, kid, typ })
    }
}
