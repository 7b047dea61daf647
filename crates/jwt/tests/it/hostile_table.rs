//! The hostile-token table, shared by path: the core's tests
//! (`crates/jwt/tests/it/hostile.rs`) check each case's error, and the
//! server's (`crates/server/tests/it/contract/hostile.rs`) send the same
//! tokens over HTTP, so the server, resource servers and `passcard token
//! verify` can never disagree on them again (issue 19: an `aud` array the
//! core accepted was refused over HTTP). It uses `passcard_jwt` and
//! `base64` only; the HMAC comes from the includer (an implementation
//! other than the one under test).

use base64::Engine as _;
use passcard_jwt::Error;

/// The secret of the key `k1` (HS256) every token here is signed with.
pub(crate) const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
/// The time the tokens are checked at.
pub(crate) const NOW_SECS: u64 = 1_800_000_000;
/// A passcard access token's claims: everything the server's claims
/// type needs, so a case fails only for what it breaks.
pub(crate) const GOOD_CLAIMS: &str = r#"{"iss":"passcard","aud":"passcard","sub":"42","role":"user","exp":1800000300,"iat":1800000000,"jti":"j1","ver":0,"sid":"1"}"#;
pub(crate) const GOOD_HEADER: &str = r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#;

/// HMAC-SHA-256 of a message under a secret.
pub(crate) type Hmac = fn(&[u8], &[u8]) -> Vec<u8>;

/// A case: its name, the token, and the error the core must refuse it with.
pub(crate) type Case = (&'static str, String, fn(&Error) -> bool);

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs arbitrary header and claims bytes under `secret`.
pub(crate) fn sign_bytes(hmac: Hmac, secret: &[u8], header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = hmac(secret, input.as_bytes());
    format!("{input}.{}", b64(&tag))
}

/// Signs arbitrary header and claims text under `secret`.
pub(crate) fn sign(hmac: Hmac, secret: &[u8], header: &str, claims: &str) -> String {
    sign_bytes(hmac, secret, header.as_bytes(), claims.as_bytes())
}

/// The token every case starts from: it verifies.
pub(crate) fn good(hmac: Hmac) -> String {
    sign(hmac, SECRET, GOOD_HEADER, GOOD_CLAIMS)
}

/// Tokens that must be refused, each with the error the core gives.
pub(crate) fn hostile(hmac: Hmac) -> Vec<Case> {
    let hs256 = |secret: &[u8], header: &str, claims: &str| sign(hmac, secret, header, claims);
    let signed = |header: &str, claims: &str| sign(hmac, SECRET, header, claims);
    let signed_bytes = |header: &[u8], claims: &[u8]| sign_bytes(hmac, SECRET, header, claims);
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
    let cases: Vec<Case> = vec![
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
    cases
}

/// Tokens that are good however odd they look: fractional dates within
/// the leeway, an `aud` array holding the audience, escaped member names,
/// surrogate pairs, `typ` spelled as RFC 9068 allows.
pub(crate) fn valid(hmac: Hmac) -> Vec<(String, String)> {
    let signed = |header: &str, claims: &str| sign(hmac, SECRET, header, claims);
    let mut out = vec![("the good token".to_owned(), good(hmac))];
    for (name, claims) in [
        (
            "fractional dates within the leeway, aud array containing ours",
            r#"{"iss":"passcard","aud":["x","passcard"],"sub":"42","role":"user","jti":"j","exp":1800000000.5,"nbf":1800000029.9,"iat":1800000030,"ver":0,"sid":"1"}"#,
        ),
        (
            "aud an array of one",
            r#"{"iss":"passcard","aud":["passcard"],"sub":"42","role":"user","jti":"j","exp":1800000300,"iat":1800000000,"ver":0,"sid":"1"}"#,
        ),
        (
            "escaped registered names still count",
            r#"{"\u0069ss":"passcard","aud":"passcard","sub":"42","role":"user","jti":"j","exp":1800000300,"iat":1800000000,"ver":0,"sid":"1"}"#,
        ),
        (
            "a surrogate pair is one character",
            r#"{"iss":"passcard","aud":"passcard","sub":"42","role":"user","jti":"j","exp":1800000300,"iat":1800000000,"ver":0,"sid":"1","x":"\ud83d\ude00"}"#,
        ),
    ] {
        out.push((name.to_owned(), signed(GOOD_HEADER, claims)));
    }
    for typ in ["AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
        let header = format!(r#"{{"alg":"HS256","kid":"k1","typ":"{typ}"}}"#);
        out.push((format!("typ {typ}"), signed(&header, GOOD_CLAIMS)));
    }
    out
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
