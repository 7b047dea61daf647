use super::*;

fn check(doc: &str) -> Result<(), Error> {
    validate(doc.as_bytes(), 16)
}

#[test]
fn accepts_valid_json_objects() {
    for doc in [
        "{}",
        " { } ",
        r#"{"a":1,"b":-0.5e+3,"c":"x\"y\\u00e9\n","d":[1,[2,{}]],"e":{"f":null,"g":true,"h":false}}"#,
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}",
        r#"{"a":"\ud83d\ude00"}"#,
    ] {
        check(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
    }
}

#[test]
fn rejects_invalid_json() {
    for doc in [
        "",
        "[]",
        "1",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":[1,]}",
        "{} {}",
        "{'a':1}",
        "{\"a\":NaN}",
    ] {
        assert!(check(doc).is_err(), "accepted {doc:?}");
    }
}

#[test]
fn rejects_duplicates_at_any_depth_after_unescaping() {
    for doc in [
        r#"{"role":"user","role":"admin"}"#,
        r#"{"role":"user","r\u006fle":"admin"}"#,
        r#"{"a":{"x":1,"x":2}}"#,
        r#"{"a":[{"x":1,"y":{"z":1,"z":1}}]}"#,
    ] {
        assert!(
            matches!(check(doc), Err(Error::DuplicateMember(_))),
            "accepted {doc}"
        );
    }
    // Same name in different objects is fine.
    check(r#"{"x":{"x":1},"y":{"x":2}}"#).unwrap();
}

#[test]
fn duplicates_found_beyond_the_small_set() {
    let mut doc = String::from("{");
    for i in 0..100 {
        doc.push_str(&format!("\"k{i}\":{i},"));
    }
    doc.push_str("\"k\\u0037\":1}");
    assert!(matches!(check(&doc), Err(Error::DuplicateMember(n)) if n == "k7"));
    let ok = doc.replace("k\\u0037", "k100");
    check(&ok).unwrap();
}

#[test]
fn bounds_depth() {
    let deep = |n: usize| format!("{}{}", "{\"a\":".repeat(n), "1".to_owned() + &"}".repeat(n));
    check(&deep(16)).unwrap();
    assert!(matches!(check(&deep(17)), Err(Error::TooDeep { max: 16 })));
    let arrays = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert!(matches!(check(&arrays), Err(Error::TooDeep { .. })));
}

#[test]
fn rejects_unpaired_surrogates_anywhere() {
    // I-JSON (RFC 7493 2.1): names and values alike, whether or not the
    // claims type would ever read them.
    for doc in [
        r#"{"\ud800":1}"#,
        r#"{"\ud800":1,"\ud800":2}"#,
        r#"{"a":"\ud800"}"#,
        r#"{"a":"\udfff"}"#,
        r#"{"a":["x\ud800y"]}"#,
        r#"{"a":"\ud800\u0041"}"#,
        r#"{"a":"\udbff\udbff"}"#,
        r#"{"a":"\ud800\"}"#,
    ] {
        assert!(
            matches!(
                check(doc),
                Err(Error::Malformed("lone surrogate in JSON string"))
            ),
            "{doc}"
        );
    }
    check(r#"{"a":"\ud83d\ude00","\udbff\udfff":1}"#).unwrap();
}

#[test]
fn members_and_arrays_are_borrowed() {
    let doc = br#"{"aud":["a","b"],"exp":12.5,"s":"x"}"#;
    let mut seen = Vec::new();
    object_members(doc, 16, |k, v| {
        seen.push(k.decode().unwrap().into_owned());
        if k.is(b"aud") {
            let Value::Array(a) = v else { panic!() };
            let mut items = Vec::new();
            array_items(a, |i| {
                let Value::Str(s) = i else { panic!() };
                items.push(s.decode().unwrap().into_owned());
                Ok(())
            })
            .unwrap();
            assert_eq!(items, ["a", "b"]);
        }
        if k.is(b"exp") {
            assert_eq!(v.as_f64(), Some(12.5));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, ["aud", "exp", "s"]);
}

proptest::proptest! {
    #[test]
    fn does_not_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = validate(&bytes, 8);
    }

    #[test]
    fn agrees_with_serde_on_valid_json(v in arb_json()) {
        let doc = serde_json::json!({"v": v}).to_string();
        proptest::prop_assert!(validate(doc.as_bytes(), 64).is_ok(), "{}", doc);
    }
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".*".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(".*", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn utf8_is_checked_inside_strings_and_refused_outside() {
    assert!(validate("{\"é\":\"ünïcode\"}".as_bytes(), 4).is_ok());
    assert!(validate(b"{\"a\":\"\xc3\"}", 4).is_err());
    assert!(validate(b"{\"\xff\":1}", 4).is_err());
    assert!(validate(b"{\"a\":1}\xff", 4).is_err());
    assert!(validate(b"{\"a\":\xc3\xa9}", 4).is_err());
}

#[test]
fn long_names_sharing_a_prefix_are_not_duplicates() {
    // Same first seven bytes, lengths equal mod 256.
    let long = format!("abcdefg{}", "x".repeat(256));
    check(&format!(r#"{{"{long}":1,"abcdefg":2}}"#)).unwrap();
    check(&format!(r#"{{"abcdefg":2,"{long}":1}}"#)).unwrap();
    assert!(check(&format!(r#"{{"{long}":1,"{long}":2}}"#)).is_err());
}

#[test]
fn depth_is_capped_whatever_the_caller_asks() {
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(matches!(
        validate(deep.as_bytes(), usize::MAX),
        Err(Error::TooDeep { max: 128 })
    ));
}

proptest::proptest! {
    #[test]
    fn the_word_scan_stops_where_the_byte_scan_would(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let stop = |b: u8| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b);
        let first_stop = bytes.iter().position(|&b| stop(b)).unwrap_or(bytes.len());
        let run = super::plain_run(&bytes);
        // Whole words only, none past the first stop, and no whole word
        // before it left out.
        proptest::prop_assert_eq!(run % 8, 0);
        proptest::prop_assert!(run <= first_stop);
        proptest::prop_assert!(first_stop.min(bytes.len() / 8 * 8) - run < 8);
    }
}
