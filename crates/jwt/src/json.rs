//! A strict, allocation-free JSON scanner for headers and claims.
//!
//! serde_json happily keeps the last of two members with the same name, so
//! `{"role":"user","role":"admin"}` would read as an admin. Every header and
//! claims object goes through this scanner first: it validates the whole
//! document (RFC 8259 grammar, UTF-8), rejects duplicate member names at any
//! depth (comparing names after unescaping, so `"r\u006fle"` is `"role"`),
//! bounds the nesting depth, and hands the top-level members to the caller as
//! borrowed slices.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::Error;

/// A JSON string as it appears between its quotes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> JStr<'a> {
    /// Whether the decoded string equals `lit`.
    pub(crate) fn is(&self, lit: &[u8]) -> bool {
        if self.escaped {
            matches!(self.decode(), Ok(s) if s.as_bytes() == lit)
        } else {
            self.raw == lit
        }
    }

    /// The decoded string.
    pub(crate) fn decode(&self) -> Result<Cow<'a, str>, Error> {
        let s = core::str::from_utf8(self.raw).map_err(|_| Error::Malformed("invalid UTF-8"))?;
        if self.escaped {
            unescape(s).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(s))
        }
    }

    fn same(&self, other: &Self) -> Result<bool, Error> {
        if !self.escaped && !other.escaped {
            return Ok(self.raw == other.raw);
        }
        Ok(self.decode()? == other.decode()?)
    }
}

/// A JSON value, borrowed from the document.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Str(JStr<'a>),
    /// The number's text, already checked against the JSON grammar.
    Num(&'a [u8]),
    Bool(bool),
    Null,
    /// An object (already checked, members not exposed).
    Object,
    /// The array's text, brackets included.
    Array(&'a [u8]),
}

impl Value<'_> {
    /// The value as a number, when it is one.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(raw) => core::str::from_utf8(raw).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Scans `doc`, which must be exactly one JSON object (whitespace around it
/// allowed), calling `member` for each top-level member in order.
pub(crate) fn object_members<'a>(
    doc: &'a [u8],
    max_depth: usize,
    member: impl FnMut(JStr<'a>, Value<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    core::str::from_utf8(doc).map_err(|_| Error::Malformed("invalid UTF-8"))?;
    let mut p = Parser {
        buf: doc,
        pos: 0,
        max_depth,
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(Error::Malformed("not a JSON object"));
    }
    p.object(1, member)?;
    p.ws();
    if p.pos != doc.len() {
        return Err(Error::Malformed("trailing data after JSON object"));
    }
    Ok(())
}

/// Calls `item` for each element of an array returned by [`object_members`].
pub(crate) fn array_items<'a>(
    array: &'a [u8],
    mut item: impl FnMut(Value<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut p = Parser {
        buf: array,
        pos: 1,
        max_depth: usize::MAX,
    };
    p.ws();
    if p.peek() == Some(b']') {
        return Ok(());
    }
    loop {
        item(p.value(1)?)?;
        p.ws();
        match p.bump() {
            Some(b',') => p.ws(),
            Some(b']') => return Ok(()),
            _ => return Err(Error::Malformed("invalid JSON array")),
        }
    }
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
}

const SYNTAX: Error = Error::Malformed("invalid JSON");

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn bump(&mut self) -> Option<u8> {
        let b = self.peek();
        self.pos += 1;
        b
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(JStr<'a>, Value<'a>) -> Result<(), Error>,
    ) -> Result<&'a [u8], Error> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                max: self.max_depth,
            });
        }
        let start = self.pos;
        self.pos += 1; // '{'
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(&self.buf[start..self.pos]);
        }
        let mut seen = Seen::default();
        loop {
            if self.peek() != Some(b'"') {
                return Err(Error::Malformed("invalid JSON object"));
            }
            let key = self.string()?;
            seen.insert(key)?;
            self.ws();
            if self.bump() != Some(b':') {
                return Err(Error::Malformed("invalid JSON object"));
            }
            self.ws();
            let value = self.value(depth)?;
            member(key, value)?;
            self.ws();
            match self.bump() {
                Some(b',') => self.ws(),
                Some(b'}') => return Ok(&self.buf[start..self.pos]),
                _ => return Err(Error::Malformed("invalid JSON object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<&'a [u8], Error> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                max: self.max_depth,
            });
        }
        let start = self.pos;
        self.pos += 1; // '['
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(&self.buf[start..self.pos]);
        }
        loop {
            self.value(depth)?;
            self.ws();
            match self.bump() {
                Some(b',') => self.ws(),
                Some(b']') => return Ok(&self.buf[start..self.pos]),
                _ => return Err(Error::Malformed("invalid JSON array")),
            }
        }
    }

    /// A value inside a container at `depth`.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        Ok(match self.peek().ok_or(SYNTAX)? {
            b'"' => Value::Str(self.string()?),
            b'{' => {
                self.object(depth + 1, |_, _| Ok(()))?;
                Value::Object
            }
            b'[' => Value::Array(self.array(depth + 1)?),
            b't' => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Value::Null
            }
            b'-' | b'0'..=b'9' => Value::Num(self.number()?),
            _ => return Err(SYNTAX),
        })
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), Error> {
        if self.buf[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(SYNTAX)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(SYNTAX),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(SYNTAX);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(SYNTAX);
            }
        }
        Ok(&self.buf[start..self.pos])
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<JStr<'a>, Error> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek().ok_or(SYNTAX)? {
                b'"' => {
                    let raw = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Ok(JStr { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    match self.buf.get(self.pos + 1).copied().ok_or(SYNTAX)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                        b'u' => {
                            let hex = self.buf.get(self.pos + 2..self.pos + 6).ok_or(SYNTAX)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(SYNTAX);
                            }
                            self.pos += 6;
                        }
                        _ => return Err(SYNTAX),
                    }
                }
                0x00..=0x1f => return Err(SYNTAX),
                _ => self.pos += 1,
            }
        }
    }
}

/// Member names seen so far in one object: a linear scan over the first few
/// (no allocation for ordinary objects), a hash set beyond that so a hostile
/// object with thousands of members costs linear time.
#[derive(Default)]
struct Seen<'a> {
    first: [Option<JStr<'a>>; 16],
    n: usize,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    fn insert(&mut self, key: JStr<'a>) -> Result<(), Error> {
        if let Some(many) = &mut self.many {
            let name = key.decode()?;
            if many.contains(&name) {
                return Err(Error::DuplicateMember(crate::alg::printable(
                    name.as_bytes(),
                )));
            }
            many.insert(name);
            return Ok(());
        }
        for prev in self.first[..self.n].iter().flatten() {
            if prev.same(&key)? {
                return Err(Error::DuplicateMember(crate::alg::printable(
                    key.decode()?.as_bytes(),
                )));
            }
        }
        if self.n < self.first.len() {
            self.first[self.n] = Some(key);
            self.n += 1;
            return Ok(());
        }
        let mut many = HashSet::with_capacity(64);
        for prev in self.first.iter().flatten() {
            many.insert(prev.decode()?);
        }
        many.insert(key.decode()?);
        self.many = Some(many);
        Ok(())
    }
}

/// Decodes the escapes of a string already checked by the scanner.
fn unescape(s: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.next().ok_or(SYNTAX)? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&hi) {
                    if chars.next() != Some('\\') || chars.next() != Some('u') {
                        return Err(Error::Malformed("lone surrogate in JSON string"));
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(Error::Malformed("lone surrogate in JSON string"));
                    }
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(cp).ok_or(SYNTAX)?
                } else {
                    char::from_u32(hi).ok_or(Error::Malformed("lone surrogate in JSON string"))?
                }
            }
            _ => return Err(SYNTAX),
        };
        out.push(decoded);
    }
    Ok(out)
}

fn hex4(chars: &mut core::str::Chars<'_>) -> Result<u32, Error> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next().and_then(|c| c.to_digit(16)).ok_or(SYNTAX)?;
    }
    Ok(v)
}

/// Checks that `doc` is one JSON object with no duplicate names at any depth.
pub(crate) fn validate(doc: &[u8], max_depth: usize) -> Result<(), Error> {
    object_members(doc, max_depth, |_, _| Ok(()))
}

#[cfg(test)]
mod tests;
