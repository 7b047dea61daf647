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

pub(crate) mod de;
pub(crate) mod ser;

/// The largest JSON nesting depth a policy may set (the scanner recurses
/// per level).
pub const MAX_DEPTH_CEILING: usize = 128;

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

    /// The decoded string as bytes, borrowed when it has no escapes. For
    /// matching member names: `match &*name.bytes() { b"exp" => … }`.
    #[inline]
    pub(crate) fn bytes(&self) -> Cow<'a, [u8]> {
        if self.escaped {
            match self.decode() {
                Ok(s) => Cow::Owned(s.into_owned().into_bytes()),
                // Undecodable: matches no name.
                Err(_) => Cow::Borrowed(&[]),
            }
        } else {
            Cow::Borrowed(self.raw)
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
            // Whole seconds, the usual case: exact without float parsing.
            Value::Num(raw) if raw.len() <= 15 && raw.iter().all(u8::is_ascii_digit) => {
                let n = raw.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                #[allow(clippy::cast_precision_loss, reason = "below 10^15 < 2^53: exact")]
                Some(n as f64)
            }
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
    // UTF-8 is checked per string (the only place JSON allows non-ASCII),
    // and only for strings that have non-ASCII bytes.
    let mut p = Parser {
        buf: doc,
        pos: 0,
        max_depth: max_depth.min(MAX_DEPTH_CEILING),
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(Error::Malformed("not a JSON object"));
    }
    p.object(1, member).map_err(ParseError::into_error)?;
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
        // Already checked: nesting inside it was bounded by the first scan.
        max_depth: usize::MAX,
    };
    p.ws();
    if p.peek() == Some(b']') {
        return Ok(());
    }
    loop {
        item(p.value(1).map_err(ParseError::into_error)?)?;
        p.ws();
        match p.bump() {
            Some(b',') => p.ws(),
            Some(b']') => return Ok(()),
            _ => return Err(Error::Malformed("invalid JSON array")),
        }
    }
}

/// A scanner failure, boxed: the scanner's results then fit in registers
/// (a `Result` carrying the whole [`Error`] goes through memory on every
/// call), and failures are rare.
#[derive(Debug)]
pub(crate) struct ParseError(Box<Error>);

impl ParseError {
    pub(crate) fn into_error(self) -> Error {
        *self.0
    }
}

impl From<Error> for ParseError {
    #[cold]
    fn from(e: Error) -> Self {
        Self(Box::new(e))
    }
}

type P<T> = Result<T, ParseError>;

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
}

const SYNTAX: Error = Error::Malformed("invalid JSON");
const LONE_SURROGATE: Error = Error::Malformed("lone surrogate in JSON string");

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
    ) -> P<&'a [u8]> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                max: self.max_depth,
            }
            .into());
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
                return Err(Error::Malformed("invalid JSON object").into());
            }
            let key = self.string()?;
            seen.insert(key)?;
            self.ws();
            if self.bump() != Some(b':') {
                return Err(Error::Malformed("invalid JSON object").into());
            }
            self.ws();
            let value = self.value(depth)?;
            member(key, value)?;
            self.ws();
            match self.bump() {
                Some(b',') => self.ws(),
                Some(b'}') => return Ok(&self.buf[start..self.pos]),
                _ => return Err(Error::Malformed("invalid JSON object").into()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> P<&'a [u8]> {
        if depth > self.max_depth {
            return Err(Error::TooDeep {
                max: self.max_depth,
            }
            .into());
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
                _ => return Err(Error::Malformed("invalid JSON array").into()),
            }
        }
    }

    /// A value inside a container at `depth`.
    fn value(&mut self, depth: usize) -> P<Value<'a>> {
        Ok(match self.peek().ok_or_else(|| SYNTAX)? {
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
            _ => return Err(SYNTAX.into()),
        })
    }

    fn literal(&mut self, lit: &[u8]) -> P<()> {
        if self.buf[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(SYNTAX.into())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> P<&'a [u8]> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(SYNTAX.into()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(SYNTAX.into());
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(SYNTAX.into());
            }
        }
        Ok(&self.buf[start..self.pos])
    }

    /// The code unit of the `\uXXXX` escape at `at` (the backslash).
    fn hex_escape(&self, at: usize) -> P<u32> {
        let hex = self.buf.get(at + 2..at + 6).ok_or(SYNTAX)?;
        let mut unit = 0;
        for &h in hex {
            let digit = char::from(h).to_digit(16).ok_or(SYNTAX)?;
            unit = unit * 16 + digit;
        }
        Ok(unit)
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> P<JStr<'a>> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        let mut non_ascii = false;
        loop {
            // Eight bytes at a time while none of them stops the scan,
            // then a table lookup per byte.
            self.pos += plain_run(&self.buf[self.pos..]);
            while let Some(&b) = self.buf.get(self.pos) {
                if STRING_STOP[usize::from(b)] {
                    if b < 0x80 {
                        break;
                    }
                    non_ascii = true;
                }
                self.pos += 1;
            }
            match self.buf.get(self.pos) {
                Some(b'"') => {
                    let raw = &self.buf[start..self.pos];
                    if non_ascii && core::str::from_utf8(raw).is_err() {
                        return Err(Error::Malformed("invalid UTF-8").into());
                    }
                    self.pos += 1;
                    return Ok(JStr { raw, escaped });
                }
                Some(b'\\') => {}
                _ => return Err(SYNTAX.into()),
            }
            escaped = true;
            match self.buf.get(self.pos + 1).copied() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                Some(b'u') => {
                    let unit = self.hex_escape(self.pos)?;
                    self.pos += 6;
                    // I-JSON (RFC 7493 2.1): no unpaired surrogate, which
                    // no UTF-8 can hold and parsers would each repair
                    // their own way.
                    if (0xDC00..0xE000).contains(&unit) {
                        return Err(LONE_SURROGATE.into());
                    }
                    if (0xD800..0xDC00).contains(&unit) {
                        let low = match self.buf.get(self.pos..self.pos + 2) {
                            Some(b"\\u") => self.hex_escape(self.pos)?,
                            _ => return Err(LONE_SURROGATE.into()),
                        };
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(LONE_SURROGATE.into());
                        }
                        self.pos += 6;
                    }
                }
                _ => return Err(SYNTAX.into()),
            }
        }
    }
}

/// How many leading bytes of `rest`, in whole words of eight, are plain
/// string content: none is a quote, a backslash, a control character or
/// non-ASCII. (SWAR: the classic "has a zero byte" test on each word.)
#[inline]
fn plain_run(rest: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut n = 0;
    for chunk in rest.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let stop = has_zero(w ^ (ONES * u64::from(b'"')))
            | has_zero(w ^ (ONES * u64::from(b'\\')))
            // A byte below 0x20 has bits 5 and 6 clear: w & 0x60.. is zero there.
            | has_zero(w & (ONES * 0x60))
            | (w & HIGH);
        if stop != 0 {
            return n;
        }
        n += 8;
    }
    n
}

/// Bytes that stop the fast scan of a string: the quote, the backslash,
/// control characters (which JSON forbids unescaped), and non-ASCII bytes
/// (noted, so the string's UTF-8 gets checked).
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    while i < 0x80 {
        i += 1;
    }
    while i < 0x100 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A cheap fingerprint of an unescaped name: its length (mod 256) and first
/// seven bytes. Different fingerprints mean different names; equal ones are
/// confirmed by comparing the names.
#[inline]
fn fingerprint(raw: &[u8]) -> u64 {
    let mut f = (raw.len() as u64) << 56;
    for (i, &b) in raw.iter().take(7).enumerate() {
        f |= u64::from(b) << (i * 8);
    }
    f
}

/// Member names seen so far in one object: a linear scan over the first few
/// (no allocation for ordinary objects), a hash set beyond that so a hostile
/// object with thousands of members costs linear time.
struct Seen<'a> {
    fps: [u64; SMALL],
    keys: [&'a [u8]; SMALL],
    n: usize,
    /// Once a name has escapes, or there are many names: all names, decoded.
    many: Option<HashSet<Cow<'a, str>, NameHasher>>,
}

/// The hasher of [`Seen`]'s set: keyed at random, so no one can aim at its
/// buckets; in fuzzing builds a fixed one, so that a fuzz run with a fixed
/// seed covers the same code every time (the coverage of the set's probing
/// would otherwise differ from process to process).
#[cfg(not(fuzzing))]
type NameHasher = std::collections::hash_map::RandomState;
#[cfg(fuzzing)]
type NameHasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

const SMALL: usize = 16;

impl Default for Seen<'_> {
    fn default() -> Self {
        Self {
            fps: [0; SMALL],
            keys: [&[]; SMALL],
            n: 0,
            many: None,
        }
    }
}

impl<'a> Seen<'a> {
    #[inline]
    fn insert(&mut self, key: JStr<'a>) -> P<()> {
        if self.many.is_none() && !key.escaped && self.n < SMALL {
            // Fast path: unescaped names, compared by fingerprint first.
            let fp = fingerprint(key.raw);
            for i in 0..self.n {
                if self.fps[i] == fp && self.keys[i] == key.raw {
                    return Err(duplicate(key.raw).into());
                }
            }
            self.fps[self.n] = fp;
            self.keys[self.n] = key.raw;
            self.n += 1;
            return Ok(());
        }
        self.insert_slow(key)
    }

    #[cold]
    fn insert_slow(&mut self, key: JStr<'a>) -> P<()> {
        let many = match &mut self.many {
            Some(many) => many,
            None => {
                let mut many = HashSet::with_capacity_and_hasher(2 * SMALL, NameHasher::default());
                for raw in &self.keys[..self.n] {
                    let name =
                        core::str::from_utf8(raw).map_err(|_| Error::Malformed("invalid UTF-8"))?;
                    many.insert(Cow::Borrowed(name));
                }
                self.many.insert(many)
            }
        };
        let name = key.decode()?;
        if many.contains(&name) {
            return Err(duplicate(name.as_bytes()).into());
        }
        many.insert(name);
        Ok(())
    }
}

#[cold]
fn duplicate(name: &[u8]) -> Error {
    Error::DuplicateMember(crate::alg::printable(name))
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
        let decoded = match chars.next().ok_or_else(|| SYNTAX)? {
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
                    char::from_u32(cp).ok_or_else(|| SYNTAX)?
                } else {
                    char::from_u32(hi)
                        .ok_or_else(|| Error::Malformed("lone surrogate in JSON string"))?
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
        v = v * 16
            + chars
                .next()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| SYNTAX)?;
    }
    Ok(v)
}

/// Checks that `doc` is one JSON object with no duplicate names at any depth.
pub(crate) fn validate(doc: &[u8], max_depth: usize) -> Result<(), Error> {
    object_members(doc, max_depth, |_, _| Ok(()))
}

#[cfg(test)]
mod tests;
