//! passcard-jwt integration tests: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity,
    reason = "test code: a failed unwrap is a failed test"
)]

/// Claim validation: times, issuer, audience, type, required claims.
mod claims;
/// Malformed and hostile tokens, each refused with the expected error.
mod hostile;
/// The hostile-token table, shared with the server's HTTP tests.
mod hostile_table;
/// Keys and JWKs: generation, import/export, thumbprints, key sets.
mod jwk;
/// Published vectors: RFC 7515 appendix A, RFC 8037 appendix A, RFC 7638.
mod rfc_vectors;
/// Property tests: round-trips, and any mutation or truncation fails.
mod roundtrip;

pub(crate) fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn jwk_of(v: &serde_json::Value) -> passcard_jwt::Jwk {
    passcard_jwt::Jwk::from_json(&v.to_string()).unwrap()
}
