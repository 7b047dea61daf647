//! One pass over a verified token's claims: the strict scanner's checks
//! (grammar, UTF-8, duplicate names at any depth, depth, lone surrogates)
//! and the caller's type deserialized from the same tokens, with the
//! registered claims picked up on the way.
//!
//! It only ever answers "this is exactly what the two-pass path would
//! produce" or "don't know": on any failure the caller runs the two-pass
//! path (scanner, policy, then serde_json), so errors and their order are
//! the same as ever. Numbers are handed to visitors as serde_json hands
//! them (non-negative integers as `u64`, negative ones as `i64`, the rest
//! and integers too large as `f64`), strings as borrowed `&str` when they
//! have no escapes.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use super::{JStr, Parser, Seen, Value, unescape};
use crate::claims::RawClaims;

/// "Don't know": the two-pass path decides.
#[derive(Debug)]
pub(crate) struct Fallback;

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fall back to the two-pass path")
    }
}

impl std::error::Error for Fallback {}

impl de::Error for Fallback {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Self
    }
}

impl From<super::ParseError> for Fallback {
    fn from(_: super::ParseError) -> Self {
        Self
    }
}

impl From<crate::error::Error> for Fallback {
    fn from(_: crate::error::Error) -> Self {
        Self
    }
}

/// Deserializes `C` from `doc` (one JSON object) in one strict pass, and
/// returns it with the registered claims.
pub(crate) fn claims<'a, C: de::Deserialize<'a>>(
    doc: &'a [u8],
    max_depth: usize,
) -> Result<(C, RawClaims<'a>), Fallback> {
    // UTF-8 checked once for the whole document; strings are then slices
    // of it, cut at their (ASCII) quotes.
    let text = core::str::from_utf8(doc).map_err(|_| Fallback)?;
    let mut de = De {
        p: Parser {
            buf: doc,
            pos: 0,
            max_depth: max_depth.min(super::MAX_DEPTH_CEILING),
        },
        text,
        depth: 0,
        raw: RawClaims::default(),
        top_started: false,
        top_done: false,
    };
    de.p.ws();
    if de.p.peek() != Some(b'{') {
        return Err(Fallback);
    }
    let value = C::deserialize(&mut de)?;
    de.p.ws();
    if !de.top_done || de.p.pos != doc.len() {
        return Err(Fallback);
    }
    Ok((value, de.raw))
}

struct De<'a> {
    p: Parser<'a>,
    /// The document, as text.
    text: &'a str,
    /// Nesting of the value being read: 0 for the claims object itself.
    depth: usize,
    raw: RawClaims<'a>,
    /// Whether the claims object was begun: every object after it is
    /// nested, and its members are never registered claims.
    top_started: bool,
    /// Whether the claims object was read to its end.
    top_done: bool,
}

/// Which registered claim a top-level member is.
#[derive(Clone, Copy)]
enum Registered {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
}

fn registered(name: &[u8]) -> Option<Registered> {
    Some(match name {
        b"iss" => Registered::Iss,
        b"sub" => Registered::Sub,
        b"aud" => Registered::Aud,
        b"exp" => Registered::Exp,
        b"nbf" => Registered::Nbf,
        b"iat" => Registered::Iat,
        b"jti" => Registered::Jti,
        _ => return None,
    })
}

impl<'a> De<'a> {
    /// Reads a registered claim's value with the scanner, type-checks and
    /// keeps it. A string or number is returned, for the caller's type to
    /// read from; an array (`aud`) is rewound, to be read again.
    fn capture(&mut self, which: Registered) -> Result<Option<Value<'a>>, Fallback> {
        let start = self.p.pos;
        let value = self.p.value(1)?;
        let string = |v: Value<'a>| match v {
            Value::Str(s) => Ok(s),
            _ => Err(Fallback),
        };
        let r = &mut self.raw;
        match which {
            Registered::Iss => r.iss = Some(string(value)?),
            Registered::Sub => r.sub = Some(string(value)?),
            Registered::Jti => r.jti = Some(string(value)?),
            Registered::Exp => r.exp = Some(crate::claims::date("exp", value)?),
            Registered::Nbf => r.nbf = Some(crate::claims::date("nbf", value)?),
            Registered::Iat => r.iat = Some(crate::claims::date("iat", value)?),
            Registered::Aud => {
                crate::claims::check_aud(value)?;
                r.aud = Some(value);
                if let Value::Array(_) = value {
                    self.p.pos = start;
                    return Ok(None);
                }
            }
        }
        Ok(Some(value))
    }

    fn string(&mut self) -> Result<JStr<'a>, Fallback> {
        Ok(self.p.string()?)
    }

    fn visit_string<V: Visitor<'a>>(&mut self, s: JStr<'a>, v: V) -> Result<V::Value, Fallback> {
        visit_str(str_of(self.text, self.p.buf, s.raw)?, s.escaped, v)
    }

    fn number<V: Visitor<'a>>(&mut self, v: V) -> Result<V::Value, Fallback> {
        visit_number(self.p.number()?, v)
    }

    fn enter(&mut self) -> Result<(), Fallback> {
        self.depth += 1;
        if self.depth + 1 > self.p.max_depth {
            return Err(Fallback);
        }
        Ok(())
    }
}

impl<'de> Deserializer<'de> for &mut De<'de> {
    type Error = Fallback;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        match self.p.peek().ok_or(Fallback)? {
            b'"' => {
                let s = self.string()?;
                self.visit_string(s, v)
            }
            b'{' => {
                let top = !self.top_started;
                self.top_started = true;
                if !top {
                    self.enter()?;
                }
                self.p.pos += 1;
                let value = v.visit_map(Map {
                    de: &mut *self,
                    seen: Seen::default(),
                    first: true,
                    top,
                    current: None,
                })?;
                if top {
                    self.top_done = true;
                } else {
                    self.depth -= 1;
                }
                Ok(value)
            }
            b'[' => {
                self.enter()?;
                self.p.pos += 1;
                let value = v.visit_seq(Seq {
                    de: &mut *self,
                    first: true,
                })?;
                self.depth -= 1;
                Ok(value)
            }
            b't' => {
                self.p.literal(b"true")?;
                v.visit_bool(true)
            }
            b'f' => {
                self.p.literal(b"false")?;
                v.visit_bool(false)
            }
            b'n' => {
                self.p.literal(b"null")?;
                v.visit_unit()
            }
            b'-' | b'0'..=b'9' => self.number(v),
            _ => Err(Fallback),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        if self.p.peek() == Some(b'n') {
            self.p.literal(b"null")?;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Fallback> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Fallback> {
        match self.p.peek() {
            Some(b'"') => {
                let s = self.string()?;
                let text = str_of(self.text, self.p.buf, s.raw)?;
                let name: Cow<'de, str> = if s.escaped {
                    Cow::Owned(unescape(text)?)
                } else {
                    Cow::Borrowed(text)
                };
                match name {
                    Cow::Borrowed(b) => v.visit_enum(b.into_deserializer()),
                    Cow::Owned(o) => v.visit_enum(o.into_deserializer()),
                }
            }
            // `{"Variant": value}`: left to serde_json.
            _ => Err(Fallback),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        // Skipped, not unchecked: the scanner validates it (duplicates
        // inside it too).
        self.p.value(self.depth + 1)?;
        v.visit_unit()
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        match self.p.peek() {
            Some(b'"') => {
                let s = self.string()?;
                let text = str_of(self.text, self.p.buf, s.raw)?;
                if s.escaped {
                    v.visit_byte_buf(unescape(text)?.into_bytes())
                } else {
                    v.visit_borrowed_bytes(text.as_bytes())
                }
            }
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        self.deserialize_bytes(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The text of `raw`, a slice of `buf`, as a slice of `text` (the same
/// bytes, checked as UTF-8 once).
fn str_of<'a>(text: &'a str, buf: &'a [u8], raw: &'a [u8]) -> Result<&'a str, Fallback> {
    let start = (raw.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    text.get(start..start + raw.len()).ok_or(Fallback)
}

fn visit_str<'a, V: Visitor<'a>>(text: &'a str, escaped: bool, v: V) -> Result<V::Value, Fallback> {
    if escaped {
        v.visit_string(unescape(text)?)
    } else {
        v.visit_borrowed_str(text)
    }
}

/// A number as serde_json hands it over: a non-negative integer as `u64`,
/// a negative one as `i64`. Fractions, exponents, `-0` and integers out of
/// those ranges go to serde_json (whose float parsing may round
/// differently from the standard library's).
fn visit_number<'a, V: Visitor<'a>>(text: &[u8], v: V) -> Result<V::Value, Fallback> {
    if text.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return Err(Fallback);
    }
    let s = core::str::from_utf8(text).map_err(|_| Fallback)?;
    if s.starts_with('-') {
        match s.parse::<i64>() {
            Ok(0) | Err(_) => Err(Fallback),
            Ok(n) => v.visit_i64(n),
        }
    } else {
        match s.parse::<u64>() {
            Ok(n) => v.visit_u64(n),
            Err(_) => Err(Fallback),
        }
    }
}

/// A string or number already read (a registered claim), for the caller's
/// type.
struct Scalar<'a> {
    value: Value<'a>,
    text: &'a str,
    buf: &'a [u8],
}

impl<'de> Deserializer<'de> for Scalar<'de> {
    type Error = Fallback;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        match self.value {
            Value::Str(s) => visit_str(str_of(self.text, self.buf, s.raw)?, s.escaped, v),
            Value::Num(n) => visit_number(n, v),
            _ => Err(Fallback),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Fallback> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Fallback> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

struct Map<'a, 'b> {
    de: &'b mut De<'a>,
    seen: Seen<'a>,
    first: bool,
    /// The claims object itself: registered claims are picked up.
    top: bool,
    current: Option<Registered>,
}

impl<'de> de::MapAccess<'de> for Map<'de, '_> {
    type Error = Fallback;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Fallback> {
        let p = &mut self.de.p;
        p.ws();
        if self.first {
            self.first = false;
            if p.peek() == Some(b'}') {
                p.pos += 1;
                return Ok(None);
            }
        } else {
            match p.bump() {
                Some(b',') => p.ws(),
                Some(b'}') => return Ok(None),
                _ => return Err(Fallback),
            }
        }
        if p.peek() != Some(b'"') {
            return Err(Fallback);
        }
        let key = p.string()?;
        self.seen.insert(key)?;
        p.ws();
        if p.bump() != Some(b':') {
            return Err(Fallback);
        }
        p.ws();
        self.current = if self.top {
            registered(&key.bytes())
        } else {
            None
        };
        let text = str_of(self.de.text, p.buf, key.raw)?;
        if key.escaped {
            seed.deserialize(unescape(text)?.into_deserializer())
                .map(Some)
        } else {
            seed.deserialize(de::value::BorrowedStrDeserializer::new(text))
                .map(Some)
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Fallback> {
        if let Some(which) = self.current.take() {
            if let Some(value) = self.de.capture(which)? {
                return seed.deserialize(Scalar {
                    value,
                    text: self.de.text,
                    buf: self.de.p.buf,
                });
            }
        }
        seed.deserialize(&mut *self.de)
    }
}

struct Seq<'a, 'b> {
    de: &'b mut De<'a>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Seq<'de, '_> {
    type Error = Fallback;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Fallback> {
        let p = &mut self.de.p;
        p.ws();
        if self.first {
            self.first = false;
            if p.peek() == Some(b']') {
                p.pos += 1;
                return Ok(None);
            }
        } else {
            match p.bump() {
                Some(b',') => p.ws(),
                Some(b']') => return Ok(None),
                _ => return Err(Fallback),
            }
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Access {
        iss: String,
        aud: String,
        sub: String,
        role: String,
        iat: u64,
        exp: u64,
        jti: String,
        ver: u64,
    }

    #[test]
    fn a_typical_token_takes_the_one_pass() {
        let doc = br#"{"iss":"https://a.example","aud":"passcard","sub":"1234567","role":"admin","iat":1700000000,"exp":1700003600,"jti":"f3hX9kQ2","ver":7}"#;
        let (c, raw) = claims::<Access>(doc, 16).unwrap();
        assert_eq!(c, serde_json::from_slice(doc).unwrap());
        assert_eq!(raw.exp.unwrap().as_secs(), 1_700_003_600);
        assert!(raw.iss.unwrap().is(b"https://a.example"));
    }

    /// Found by the `verify` fuzz target: an object nested in the claims
    /// was read as the claims object itself, so its `exp` (or `iss`, …)
    /// stood for the token's, over the real one or where there was none.
    #[test]
    fn members_of_nested_objects_are_not_registered_claims() {
        let doc = br#"{"exp":1700000000,"x":{"exp":4000000000,"iss":"x","y":[{"nbf":1}]}}"#;
        let (c, raw) = claims::<serde_json::Value>(doc, 16).unwrap();
        assert_eq!(c, serde_json::from_slice::<serde_json::Value>(doc).unwrap());
        assert_eq!(raw.exp.unwrap().as_secs(), 1_700_000_000);
        assert!(raw.iss.is_none() && raw.nbf.is_none());

        let (_, raw) = claims::<serde_json::Value>(br#"{"x":{"exp":4000000000}}"#, 16).unwrap();
        assert!(raw.exp.is_none());
    }
}
