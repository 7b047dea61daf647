use passcard_jwt::{Algorithm, Error, KeySet, SigningKey, UnixTime, Validator, VerifyingKey};

use crate::b64;

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const GOOD_CLAIMS: &str = r#"{"iss":"passcard","aud":"passcard","sub":"42","role":"user","exp":1800000300,"iat":1800000000,"jti":"j1"}"#;
const GOOD_HEADER: &str = r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#;

fn keys() -> KeySet {
    KeySet::from(
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1")
            .unwrap(),
    )
}

fn policy() -> Validator {
    Validator::builder()
        .issuer("passcard")
        .audience("passcard")
        .typ("at+jwt")
        .require_sub()
        .require_jti()
        .build()
}

/// Signs arbitrary header and claims text with HMAC-SHA256, using ring as an
/// independent implementation.
fn hs256(secret: &[u8], header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn signed(header: &str, claims: &str) -> String {
    hs256(SECRET, header, claims)
}

fn verify(token: &str) -> Result<serde_json::Value, Error> {
    keys()
        .verify::<serde_json::Value>(token, &policy(), NOW)
        .map(|v| v.claims)
}

#[test]
fn the_good_token_verifies() {
    let claims = verify(&signed(GOOD_HEADER, GOOD_CLAIMS)).unwrap();
    assert_eq!(claims["role"], "user");
}

#[test]
fn hostile_tokens_are_rejected_with_the_expected_error() {
    let good = signed(GOOD_HEADER, GOOD_CLAIMS);
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let with_claims = |c: &str| signed(GOOD_HEADER, c);
    let with_header = |hd: &str| signed(hd, GOOD_CLAIMS);
    let deep = format!(
        r#"{{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":{}1{}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    let tampered = format!(
        "{h}.{}.{s}",
        b64(GOOD_CLAIMS.replace("\"user\"", "\"admin\"").as_bytes())
    );

    #[rustfmt::skip]
    let cases: Vec<(&str, String, fn(&Error) -> bool)> = vec![
        ("alg none", format!("{}.{p}.", b64(br#"{"alg":"none","kid":"k1"}"#)),
            |e| matches!(e, Error::UnsupportedAlgorithm(a) if a == "none")),
        ("alg None", format!("{}.{p}.", b64(br#"{"alg":"None"}"#)),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("alg NONE signed", with_header(r#"{"alg":"NONE","kid":"k1","typ":"at+jwt"}"#),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("alg nOnE", format!("{}.{p}.{s}", b64(br#"{"alg":"nOnE","kid":"k1"}"#)),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("alg ES512", with_header(r#"{"alg":"ES512","kid":"k1"}"#),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("alg PS256", with_header(r#"{"alg":"PS256","kid":"k1"}"#),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("alg hs256 (case matters)", with_header(r#"{"alg":"hs256","kid":"k1"}"#),
            |e| matches!(e, Error::UnsupportedAlgorithm(_))),
        ("no alg", with_header(r#"{"kid":"k1","typ":"at+jwt"}"#),
            |e| matches!(e, Error::MissingClaim("alg"))),
        ("alg not a string", with_header(r#"{"alg":["HS256"],"kid":"k1"}"#),
            |e| matches!(e, Error::InvalidClaim { name: "alg", .. })),
        ("stripped signature", format!("{h}.{p}."), |e| matches!(e, Error::BadSignature)),
        ("no signature part", format!("{h}.{p}"), |e| matches!(e, Error::Malformed(_))),
        ("four parts", format!("{good}.{s}"), |e| matches!(e, Error::Malformed(_))),
        ("one part", h.to_owned(), |e| matches!(e, Error::Malformed(_))),
        ("empty", String::new(), |e| matches!(e, Error::Malformed(_))),
        ("tampered payload", tampered, |e| matches!(e, Error::BadSignature)),
        ("signed with another secret",
            hs256(b"another secret that is long enough", GOOD_HEADER, GOOD_CLAIMS),
            |e| matches!(e, Error::BadSignature)),
        ("padding on header", format!("{h}=.{p}.{s}"), |e| matches!(e, Error::Malformed(_))),
        ("padding on signature", format!("{h}.{p}.{s}="), |e| matches!(e, Error::Malformed(_))),
        ("space inside", format!("{h}.{} {}.{s}", &p[..4], &p[4..]), |e| matches!(e, Error::Malformed(_))),
        ("trailing newline", format!("{good}\n"), |e| matches!(e, Error::Malformed(_))),
        ("leading space", format!(" {good}"), |e| matches!(e, Error::Malformed(_))),
        ("standard base64 alphabet", format!("{h}.{p}.+{}", &s[1..]),
            |e| matches!(e, Error::Malformed(_))),
        ("non-canonical trailing bits", format!("{h}.{p}.{}", noncanonical(s)),
            |e| matches!(e, Error::Malformed(_))),
        ("duplicate exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1,"exp":1800000300}"#),
            |e| matches!(e, Error::DuplicateMember(n) if n == "exp")),
        ("duplicate role", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"role":"user","role":"admin"}"#),
            |e| matches!(e, Error::DuplicateMember(n) if n == "role")),
        ("duplicate role, escaped", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"role":"user","r\u006fle":"admin"}"#),
            |e| matches!(e, Error::DuplicateMember(n) if n == "role")),
        ("duplicate nested", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"perm":{"a":1,"a":2}}"#),
            |e| matches!(e, Error::DuplicateMember(_))),
        ("duplicate header alg", with_header(r#"{"alg":"HS256","alg":"none","kid":"k1","typ":"at+jwt"}"#),
            |e| matches!(e, Error::DuplicateMember(n) if n == "alg")),
        ("string exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":"1800000300"}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("boolean exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":true}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("null exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":null}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("negative exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":-1}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("exp 1e308", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1e308}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("exp 99999999999999999999", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":99999999999999999999}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("exp at year 10000", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":253402300800}"#),
            |e| matches!(e, Error::InvalidClaim { name: "exp", .. })),
        ("string nbf", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"nbf":"0"}"#),
            |e| matches!(e, Error::InvalidClaim { name: "nbf", .. })),
        ("missing exp", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j"}"#),
            |e| matches!(e, Error::MissingClaim("exp"))),
        ("numeric iss", with_claims(r#"{"iss":1,"aud":"passcard","sub":"42","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::InvalidClaim { name: "iss", .. })),
        ("aud array with a number", with_claims(r#"{"iss":"passcard","aud":["passcard",1],"sub":"42","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::InvalidClaim { name: "aud", .. })),
        ("claims not an object", with_claims(r#"["iss","passcard"]"#), |e| matches!(e, Error::Malformed(_))),
        ("claims with trailing garbage", with_claims(&format!("{GOOD_CLAIMS}x")), |e| matches!(e, Error::Malformed(_))),
        ("claims not UTF-8", signed_bytes(GOOD_HEADER.as_bytes(), b"{\"iss\":\"\xff\"}"), |e| matches!(e, Error::Malformed(_))),
        ("header not an object", with_header(r#""HS256""#), |e| matches!(e, Error::Malformed(_))),
        ("huge token", format!("{h}.{}.{s}", "A".repeat(9000)), |e| matches!(e, Error::TooLarge { .. })),
        ("deep nesting", with_claims(&deep), |e| matches!(e, Error::TooDeep { .. })),
        ("unknown crit", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","crit":["exp"],"exp":1}"#),
            |e| matches!(e, Error::UnsupportedCritical(c) if c == "exp")),
        ("empty crit", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","crit":[]}"#),
            |e| matches!(e, Error::InvalidClaim { name: "crit", .. })),
        ("b64 false", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","b64":false}"#),
            |e| matches!(e, Error::UnencodedPayload)),
        ("wrong typ", with_header(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#), |e| matches!(e, Error::WrongType)),
        ("no typ", with_header(r#"{"alg":"HS256","kid":"k1"}"#), |e| matches!(e, Error::WrongType)),
        ("unknown kid", with_header(r#"{"alg":"HS256","kid":"other","typ":"at+jwt"}"#),
            |e| matches!(e, Error::UnknownKid(k) if k == "other")),
        ("embedded jwk is ignored",
            hs256(b"attacker-chosen secret of 32 bytes!", r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","jwk":{"kty":"oct","k":"YXR0YWNrZXItY2hvc2VuIHNlY3JldCBvZiAzMiBieXRlcyE"}}"#, GOOD_CLAIMS),
            |e| matches!(e, Error::BadSignature)),
        ("jku is ignored",
            hs256(b"attacker-chosen secret of 32 bytes!", r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","jku":"https://evil.example/jwks"}"#, GOOD_CLAIMS),
            |e| matches!(e, Error::BadSignature)),
        ("wrong issuer", with_claims(r#"{"iss":"evil","aud":"passcard","sub":"42","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::WrongIssuer)),
        ("missing issuer", with_claims(r#"{"aud":"passcard","sub":"42","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::MissingClaim("iss"))),
        ("wrong audience", with_claims(r#"{"iss":"passcard","aud":["a","b"],"sub":"42","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::WrongAudience)),
        ("missing sub", with_claims(r#"{"iss":"passcard","aud":"passcard","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::MissingClaim("sub"))),
        ("missing jti", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","exp":1800000300}"#),
            |e| matches!(e, Error::MissingClaim("jti"))),
        ("expired", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1799999970}"#),
            |e| matches!(e, Error::Expired { .. })),
        // Found by the `verify` fuzz target: members of a nested object
        // were taken for the token's own registered claims.
        ("expired, a later exp nested", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1799999970,"x":{"exp":1800000300}}"#),
            |e| matches!(e, Error::Expired { .. })),
        ("exp only nested", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","x":{"exp":1800000300}}"#),
            |e| matches!(e, Error::MissingClaim("exp"))),
        ("wrong issuer, the right one nested", with_claims(r#"{"iss":"evil","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":{"iss":"passcard"}}"#),
            |e| matches!(e, Error::WrongIssuer)),
        ("audience only nested", with_claims(r#"{"iss":"passcard","sub":"42","jti":"j","exp":1800000300,"x":[{"aud":"passcard"}]}"#),
            |e| matches!(e, Error::MissingClaim("aud"))),
        ("not yet valid", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"nbf":1800000031}"#),
            |e| matches!(e, Error::NotYetValid { .. })),
        ("issued in the future", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"iat":1800000031}"#),
            |e| matches!(e, Error::IssuedInFuture { .. })),
        // RFC 7516 9: members only a JWE has.
        ("enc in a JWS header", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","enc":"A256GCM"}"#),
            |e| matches!(e, Error::JweHeader("enc"))),
        ("zip in a JWS header", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","zip":"DEF"}"#),
            |e| matches!(e, Error::JweHeader("zip"))),
        ("escaped enc", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","\u0065nc":"A256GCM"}"#),
            |e| matches!(e, Error::JweHeader("enc"))),
        // RFC 7493 2.1: no unpaired surrogates, wherever they are.
        ("lone high surrogate in a claim", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":"\ud800"}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
        ("lone low surrogate in a claim", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":"a\udc00b"}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
        ("high surrogate then a letter", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"\ud800\u0041","jti":"j","exp":1800000300}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
        ("two high surrogates", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":["\ud800\ud800"]}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
        ("lone surrogate in a member name", with_claims(r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"\udbff":1}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
        ("lone surrogate in the header", with_header(r#"{"alg":"HS256","kid":"k1","typ":"at+jwt","x5t":"\ud800"}"#),
            |e| matches!(e, Error::Malformed("lone surrogate in JSON string"))),
    ];
    let mut failures = Vec::new();
    for (name, token, expected) in &cases {
        match verify(token) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) if !expected(&e) => failures.push(format!("{name}: wrong error: {e}")),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn edge_values_that_are_valid() {
    for claims in [
        // Fractional dates, within leeway, aud array containing ours.
        r#"{"iss":"passcard","aud":["x","passcard"],"sub":"42","jti":"j","exp":1800000000.5,"nbf":1800000029.9,"iat":1800000030}"#,
        // Escaped registered names still count (and are checked).
        r#"{"\u0069ss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300}"#,
        // A surrogate pair is one character (U+1F600).
        r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":"\ud83d\ude00"}"#,
    ] {
        verify(&signed(GOOD_HEADER, claims)).unwrap_or_else(|e| panic!("{claims}: {e}"));
    }
    // typ per RFC 9068: case-insensitive, application/ prefix allowed.
    for typ in ["AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
        let header = format!(r#"{{"alg":"HS256","kid":"k1","typ":"{typ}"}}"#);
        verify(&signed(&header, GOOD_CLAIMS)).unwrap_or_else(|e| panic!("{typ}: {e}"));
    }
}

#[test]
fn hs256_signed_with_a_public_key_is_an_algorithm_mismatch() {
    // The classic confusion attack: the verifier holds an RSA (or EC) public
    // key; the attacker HMACs a token with that key's public bytes.
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let signing = SigningKey::generate(alg).unwrap().with_kid("pub").unwrap();
        let public = signing.public_jwk().unwrap();
        let keys = KeySet::from(signing.verifying_key());
        let public_bytes = serde_json::to_vec(&public).unwrap();
        for secret in [
            public_bytes.as_slice(),
            public.x.as_deref().unwrap_or("n").as_bytes(),
        ] {
            let token = hs256(
                secret,
                r#"{"alg":"HS256","kid":"pub","typ":"at+jwt"}"#,
                GOOD_CLAIMS,
            );
            let err = keys
                .verify::<serde_json::Value>(&token, &policy(), NOW)
                .unwrap_err();
            assert!(
                matches!(err, Error::AlgorithmMismatch { token: Algorithm::HS256, key } if key == alg),
                "{alg}: {err}"
            );
        }
    }
}

#[test]
fn token_without_kid_needs_a_single_key_set() {
    let token = signed(r#"{"alg":"HS256","typ":"at+jwt"}"#, GOOD_CLAIMS);
    verify(&token).unwrap();
    let two = KeySet::new(vec![
        VerifyingKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1")
            .unwrap(),
        VerifyingKey::hmac(Algorithm::HS256, &[7; 32])
            .unwrap()
            .with_kid("k2")
            .unwrap(),
    ])
    .unwrap();
    let err = two
        .verify::<serde_json::Value>(&token, &policy(), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::MissingKid { keys: 2 }), "{err}");
    let err = KeySet::default()
        .verify::<serde_json::Value>(&token, &policy(), NOW)
        .unwrap_err();
    assert!(matches!(err, Error::NoKeys), "{err}");
}

#[test]
fn errors_say_what_failed() {
    let err = verify(&signed(
        GOOD_HEADER,
        r#"{"exp":1799999000,"iss":"passcard","aud":"passcard","sub":"1","jti":"j"}"#,
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "token expired at 1799999000 (now 1800000000)"
    );
    assert_eq!(err.reason(), "expired");
    let err = verify(&"A".repeat(9000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token is 9000 bytes, over the 8192-byte limit"
    );
}

fn signed_bytes(header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// The same bytes with non-zero trailing bits in the last character.
fn noncanonical(s: &str) -> String {
    // A 32-byte tag is 43 characters; the last carries 2 unused bits.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = s.as_bytes()[s.len() - 1];
    let idx = ALPHABET.iter().position(|&c| c == last).unwrap();
    let bumped = ALPHABET[(idx & !3) | ((idx + 1) & 3)] as char;
    format!("{}{bumped}", &s[..s.len() - 1])
}

/// A claims type that ignores most members: what it skips is checked all
/// the same (duplicates inside an ignored object, too).
#[test]
fn members_a_claims_type_ignores_are_still_checked() {
    #[derive(Debug, serde::Deserialize)]
    struct Narrow {
        #[allow(dead_code, reason = "read by serde")]
        sub: String,
    }
    let narrow = |claims: &str| {
        keys()
            .verify::<Narrow>(&signed(GOOD_HEADER, claims), &policy(), NOW)
            .map(|_| ())
    };
    for (claims, name) in [
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"perm":{"a":1,"a":2}}"#,
            "a",
        ),
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"role":"user","role":"admin"}"#,
            "role",
        ),
        (
            r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":[{"b":1,"b":1}]}"#,
            "b",
        ),
    ] {
        assert!(
            matches!(narrow(claims), Err(Error::DuplicateMember(n)) if n == name),
            "{claims}"
        );
    }
    let lone =
        r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":"\ud800"}"#;
    assert!(matches!(narrow(lone), Err(Error::Malformed(_))));
    let ok = r#"{"iss":"passcard","aud":"passcard","sub":"42","jti":"j","exp":1800000300,"x":{"a":[1,{"c":null}]}}"#;
    narrow(ok).unwrap();
}
