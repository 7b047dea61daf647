use passcard_jwt::{
    Algorithm, Error, Header, Jwk, JwkSet, KeySet, SigningKey, UnixTime, Validator, VerifyingKey,
    encode,
};

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

fn any() -> Validator {
    Validator::builder().any_issuer().any_audience().build()
}

#[test]
fn every_algorithm_generates_exports_imports_signs_and_verifies() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.algorithm(), alg);
        let private = key.to_private_jwk();
        assert!(private.is_private(), "{alg}");
        assert_eq!(private.alg.as_deref(), Some(alg.name()));
        assert_eq!(private.kid.as_deref(), Some(key.kid()));
        if alg.is_symmetric() {
            // Not a hash of the secret, which would let anyone who sees a
            // token header test guesses of the secret offline.
            assert_ne!(key.kid(), private.thumbprint().unwrap(), "{alg}");
            assert_eq!(key.kid().len(), 22);
        } else {
            // The default kid is the RFC 7638 thumbprint.
            assert_eq!(key.kid(), private.thumbprint().unwrap(), "{alg}");
        }

        let json = serde_json::to_string(&private).unwrap();
        let imported = SigningKey::from_jwk(&Jwk::from_json(&json).unwrap()).unwrap();
        assert_eq!(imported.kid(), key.kid());
        let token = encode(
            &Header::new(),
            &serde_json::json!({"exp": NOW.as_secs() + 60}),
            &imported,
        )
        .unwrap();
        // Verified by the original key's verifying half.
        let keys = KeySet::from(key.verifying_key());
        keys.verify::<serde_json::Value>(&token, &any(), NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));

        match key.public_jwk() {
            None => assert!(alg.is_symmetric()),
            Some(public) => {
                assert!(!public.is_private(), "{alg}");
                assert!(public.d.is_none() && public.p.is_none() && public.k.is_none());
                // A verifier built from the public JWK alone accepts it.
                let keys = KeySet::from(VerifyingKey::from_jwk(&public).unwrap());
                keys.verify::<serde_json::Value>(&token, &any(), NOW)
                    .unwrap();
                // And cannot sign.
                assert!(matches!(
                    SigningKey::from_jwk(&public),
                    Err(Error::InvalidKey("a signing key needs the private key"))
                ));
            }
        }
    }
}

#[test]
fn fresh_keys_differ() {
    for alg in Algorithm::ALL {
        let a = SigningKey::generate(alg).unwrap();
        let b = SigningKey::generate(alg).unwrap();
        assert_ne!(a.kid(), b.kid(), "{alg}");
    }
}

#[test]
fn short_hmac_secrets_are_refused_with_advice() {
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let err = SigningKey::hmac(alg, &vec![1; min - 1]).unwrap_err();
        assert!(matches!(err, Error::WeakSecret { len, min: m, .. } if len == min - 1 && m == min));
        assert!(err.to_string().contains("passcard keygen"), "{err}");
        SigningKey::hmac(alg, &vec![1; min]).unwrap();
    }
    assert!(matches!(
        SigningKey::hmac(Algorithm::EdDSA, &[1; 64]),
        Err(Error::InvalidKey(
            "a shared secret only fits HS256, HS384 or HS512"
        ))
    ));
}

#[test]
fn debug_never_shows_secrets() {
    let key = SigningKey::hmac(Algorithm::HS256, b"super-secret-value-0123456789abc").unwrap();
    let jwk = key.to_private_jwk();
    let shown = format!("{key:?} {:?} {jwk:?}", key.verifying_key());
    assert!(!shown.contains(jwk.k.as_deref().unwrap()), "{shown}");
    let ed = SigningKey::generate(Algorithm::EdDSA)
        .unwrap()
        .to_private_jwk();
    assert!(!format!("{ed:?}").contains(ed.d.as_deref().unwrap()));
}

#[test]
fn jwks_publishes_only_public_keys() {
    let hs = SigningKey::generate(Algorithm::HS256).unwrap();
    let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let es = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = KeySet::new(vec![
        hs.verifying_key(),
        ed.verifying_key(),
        es.verifying_key(),
    ])
    .unwrap();
    let jwks = set.public_jwks();
    assert_eq!(jwks.keys.len(), 2);
    let text = serde_json::to_string(&jwks).unwrap();
    assert!(!text.contains("\"d\"") && !text.contains("\"k\""), "{text}");
    // The published set parses back into a key set that verifies.
    let back = KeySet::from_jwks(&JwkSet::from_json(&text).unwrap()).unwrap();
    let token = encode(
        &Header::new(),
        &serde_json::json!({"exp": NOW.as_secs() + 9}),
        &es,
    )
    .unwrap();
    back.verify::<serde_json::Value>(&token, &any(), NOW)
        .unwrap();
    // HMAC keys: an empty set.
    assert!(
        KeySet::from(hs.verifying_key())
            .public_jwks()
            .keys
            .is_empty()
    );
}

#[test]
fn bad_jwks_are_refused_for_their_precise_reason() {
    type Check = fn(&Error) -> bool;
    let cases: [(&str, &str, Check); 12] = [
        (
            r#"{"keys":[{"kty":"oct","alg":"HS256","k":"AAAA"}]}"#,
            "weak",
            |e| {
                matches!(
                    e,
                    Error::WeakSecret {
                        alg: Algorithm::HS256,
                        len: 3,
                        min: 32
                    }
                )
            },
        ),
        (
            r#"{"keys":[{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
            "no alg",
            |e| matches!(e, Error::InvalidJwk(m) if m.contains("must name its \"alg\"")),
        ),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}"#,
            "curve",
            |e| matches!(e, Error::InvalidJwk(m) if m.starts_with("unsupported key type")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"X25519","x":"AA"}]}"#,
            "curve",
            |e| matches!(e, Error::InvalidJwk(m) if m.starts_with("unsupported key type")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#,
            "short key",
            |e| matches!(e, Error::InvalidKey("Ed25519 public key must be 32 bytes")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            "use enc",
            |e| matches!(e, Error::InvalidJwk(m) if m.contains("use \"enc\"")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            "alg mismatch",
            |e| matches!(e, Error::InvalidJwk(m) if m == "a OKP key cannot be used with ES256"),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"none","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            "alg none",
            |e| matches!(e, Error::UnsupportedAlgorithm(a) if a == "none"),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=="}]}"#,
            "padding",
            |e| matches!(e, Error::InvalidJwk(m) if m.contains("not canonical base64url")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","kty":"RSA","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            "duplicate",
            |e| matches!(e, Error::InvalidJwk(m) if m.contains("duplicate member \"kty\"")),
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
            "duplicate kid",
            |e| matches!(e, Error::InvalidJwk(m) if m == "two keys share the kid \"a\""),
        ),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#,
            "point not on curve",
            |e| matches!(e, Error::InvalidKey("P-256 point is not on the curve")),
        ),
    ];
    for (doc, why, expected) in cases {
        let err = JwkSet::from_json(doc)
            .and_then(|s| KeySet::from_jwks(&s))
            .err()
            .unwrap_or_else(|| panic!("{why}: accepted"));
        assert!(expected(&err), "{why}: refused for another reason: {err:?}");
    }
    let many = format!(
        r#"{{"keys":[{}]}}"#,
        vec![
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
            65
        ]
        .join(",")
    );
    assert!(matches!(
        JwkSet::from_json(&many),
        Err(Error::InvalidJwk(m)) if m == "65 keys in the set; at most 64 are accepted"
    ));
}

#[test]
fn rsa_keys_below_2048_bits_are_refused() {
    let jwk = Jwk::from_json(r#"{"kty":"RSA","n":"xV9lo5Vc2ptZoy-ZLhEuR7Wp9qNmTDi8D1KHDzIfODCnvTDyq2trtVK7hxW0T6ht5aKbyLP7AQOfU64DXDHIpuTTkA","e":"AQAB"}"#).unwrap();
    assert!(matches!(
        VerifyingKey::from_jwk(&jwk),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn small_order_ed25519_keys_are_refused() {
    // With the identity point as public key, the signature R = identity,
    // S = 0 would verify for every message.
    let identity = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let order8 = "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU";
    let order8_signed = "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_IU";
    let p_minus_1 = "7P___________________________________________38";
    for x in [identity, zero, order8, order8_signed, p_minus_1] {
        let jwk = Jwk::from_json(&format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#)).unwrap();
        assert!(
            matches!(VerifyingKey::from_jwk(&jwk), Err(Error::InvalidKey(_))),
            "{x} accepted"
        );
    }
}

#[test]
fn private_members_of_any_kind_make_a_jwk_private() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let jwk = Jwk::from_json(&format!(
            r#"{{"kty":"RSA","n":"AQAB","e":"AQAB","{member}":"AQAB"}}"#
        ))
        .unwrap();
        assert!(jwk.is_private(), "{member}");
        let public = jwk.to_public().unwrap();
        assert!(!public.is_private(), "{member}");
    }
}

#[test]
fn jwk_members_must_agree() {
    let ed = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    for (doc, reason) in [
        (
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ed}","key_ops":["encrypt"]}}"#),
            "key_ops allows neither \"sign\" nor \"verify\"",
        ),
        (
            r#"{"kty":"oct","alg":"HS256","crv":"P-256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_owned(),
            "a oct key has no \"crv\"",
        ),
    ] {
        let err = VerifyingKey::from_jwk(&Jwk::from_json(&doc).unwrap()).unwrap_err();
        assert!(matches!(&err, Error::InvalidJwk(m) if m == reason), "{doc}: {err:?}");
    }
    let ok = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ed}","key_ops":["verify"]}}"#);
    VerifyingKey::from_jwk(&Jwk::from_json(&ok).unwrap()).unwrap();
    // RSA with an even public exponent.
    let mut rsa = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .public_jwk()
        .unwrap();
    rsa.e = Some("Ag".into());
    assert!(matches!(
        VerifyingKey::from_jwk(&rsa),
        Err(Error::InvalidKey(
            "RSA public exponent must be odd, above 1 and at most 32 bits"
        ))
    ));
}
