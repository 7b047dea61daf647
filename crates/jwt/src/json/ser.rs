//! Claims as JSON, checked while they are written: one object, no member
//! name twice in any object (compared unescaped, as the scanner does), no
//! deeper than the scanner allows. A second pass over the output is not
//! needed.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::MAX_DEPTH_CEILING;
use crate::error::Error;

const NOT_AN_OBJECT: Error = Error::Encode("claims must be a JSON object without duplicate names");

/// Serializes `claims`, refusing anything but one JSON object without
/// duplicate names.
pub(crate) fn object(claims: &impl Serialize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Checked::default());
    claims.serialize(&mut ser).map_err(|_| NOT_AN_OBJECT)?;
    if out.first() != Some(&b'{') {
        return Err(NOT_AN_OBJECT);
    }
    Ok(out)
}

/// Compact JSON, remembering the names of the objects being written.
#[derive(Default)]
struct Checked {
    /// The (unescaped) names of the open objects, back to back.
    names: Vec<u8>,
    /// Each written name: its range in `names`.
    written: Vec<(usize, usize)>,
    /// Per open object: where its names start in `written`.
    open: Vec<usize>,
    /// Inside a name: where it starts in `names`.
    key: Option<usize>,
}

fn duplicate() -> io::Error {
    io::Error::other("duplicate member name")
}

impl Formatter for Checked {
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.open.len() >= MAX_DEPTH_CEILING {
            return Err(io::Error::other("too deep"));
        }
        self.open.push(self.written.len());
        CompactFormatter.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(start) = self.open.pop() {
            let from = self.written.get(start).map_or(self.names.len(), |r| r.0);
            self.written.truncate(start);
            self.names.truncate(from);
        }
        CompactFormatter.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.key = Some(self.names.len());
        CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(start) = self.key.take() {
            let end = self.names.len();
            let name = &self.names[start..end];
            let siblings = &self.written[*self.open.last().unwrap_or(&0)..];
            // Linear: claims objects are small. A huge map serialized as
            // claims pays quadratic time here, once, when it is signed.
            if siblings.iter().any(|&(s, e)| &self.names[s..e] == name) {
                return Err(duplicate());
            }
            self.written.push((start, end));
        }
        CompactFormatter.end_object_key(w)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.key.is_some() {
            self.names.extend_from_slice(fragment.as_bytes());
        }
        CompactFormatter.write_string_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape as E;
        if self.key.is_some() {
            let byte = match escape {
                E::Quote => b'"',
                E::ReverseSolidus => b'\\',
                E::Solidus => b'/',
                E::Backspace => 0x08,
                E::FormFeed => 0x0c,
                E::LineFeed => b'\n',
                E::CarriageReturn => b'\r',
                E::Tab => b'\t',
                E::AsciiControl(b) => b,
            };
            self.names.push(byte);
        }
        CompactFormatter.write_char_escape(w, escape)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn one_object_without_repeated_names_at_any_depth() {
        assert_eq!(
            object(&json!({"a": 1, "b": {"a": 2}})).unwrap(),
            br#"{"a":1,"b":{"a":2}}"#
        );
        assert!(object(&json!([1])).is_err());
        assert!(object(&"text").is_err());
        // A flattened map repeating a field.
        #[derive(Serialize)]
        struct Claims {
            sub: String,
            #[serde(flatten)]
            extra: BTreeMap<String, u8>,
        }
        let mut extra = BTreeMap::new();
        extra.insert("sub".to_owned(), 1);
        let c = Claims {
            sub: "x".into(),
            extra,
        };
        assert!(object(&c).is_err());
        // Nested: the same name in sibling objects is fine, twice in one
        // is not.
        let nested = vec![("x", json!({"k": 1})), ("y", json!({"k": 2}))];
        let map: serde_json::Map<_, _> =
            nested.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert!(object(&map).is_ok());
        #[derive(Serialize)]
        struct Inner {
            k: u8,
            #[serde(flatten)]
            more: BTreeMap<String, u8>,
        }
        #[derive(Serialize)]
        struct Outer {
            inner: Inner,
        }
        let mut more = BTreeMap::new();
        more.insert("k".to_owned(), 2);
        assert!(
            object(&Outer {
                inner: Inner { k: 1, more }
            })
            .is_err()
        );
    }

    #[test]
    fn names_are_compared_unescaped() {
        // serde_json writes "\n" escaped; the same name twice is caught.
        let mut extra = BTreeMap::new();
        extra.insert("a\nb".to_owned(), 1);
        #[derive(Serialize)]
        struct C {
            #[serde(rename = "a\nb")]
            x: u8,
            #[serde(flatten)]
            extra: BTreeMap<String, u8>,
        }
        assert!(object(&C { x: 0, extra }).is_err());
    }
}
