//! Finding an auth server's keys from its issuer URL, through its
//! metadata (RFC 8414), as OAuth client libraries do.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::jwks::RemoteJwks;
use crate::verifier::{Verifier, access_policy};

/// The largest metadata document read.
const MAX_METADATA: usize = 64 * 1024;

/// What an authorization server says about itself (RFC 8414 section 2):
/// the members a resource server uses.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// The issuer identifier: the `iss` of its tokens.
    pub issuer: String,
    /// Where its public keys are.
    pub jwks_uri: String,
    /// Its token endpoint, if it has one.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Its introspection endpoint (RFC 7662), if it has one.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Its revocation endpoint (RFC 7009), if it has one.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

/// Why an issuer could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The URL is not an `https://` or `http://` URL without query or
    /// fragment.
    #[error("the issuer {0:?} is not an http(s) URL without query or fragment")]
    BadIssuer(String),
    /// The metadata could not be fetched or read.
    #[error("metadata at {url}: {reason}")]
    Metadata {
        /// Where it was looked for.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The metadata names another issuer (RFC 8414 section 3.3: it MUST
    /// be identical to the one asked for; anything else could be an
    /// impersonation).
    #[error("the metadata names the issuer {found:?}, not {expected:?}")]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer the metadata names.
        found: String,
    },
    /// The JWKS it names could not be fetched or read.
    #[error("the JWKS: {0}")]
    Jwks(#[source] passcard_jwt::Error),
}

/// An authorization server found through its metadata.
#[derive(Debug)]
#[non_exhaustive]
pub struct Discovered {
    /// Its metadata, its issuer checked.
    pub metadata: ServerMetadata,
    /// Its keys, fetched from `jwks_uri` and cached.
    pub jwks: Arc<RemoteJwks>,
}

impl Discovered {
    /// A verifier for passcard access tokens of this issuer, for this
    /// service's `audience`, allowing `leeway` of clock skew.
    pub fn verifier(&self, audience: impl Into<String>, leeway: Duration) -> Verifier {
        Verifier::new(
            self.jwks.clone(),
            access_policy(self.metadata.issuer.clone(), audience, leeway),
        )
    }
}

/// Reads the metadata of the issuer at `issuer` (RFC 8414 section 3:
/// `/.well-known/oauth-authorization-server`, inserted before any path;
/// failing that, OpenID Connect's `/.well-known/openid-configuration`
/// appended), refuses it unless its `issuer` is exactly `issuer`, and
/// fetches the keys at its `jwks_uri`.
pub async fn from_issuer(issuer: &str) -> Result<Discovered, DiscoveryError> {
    let (origin, path) = split_issuer(issuer)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| DiscoveryError::Metadata {
            url: issuer.to_owned(),
            reason: e.to_string(),
        })?;
    let oauth = format!("{origin}/.well-known/oauth-authorization-server{path}");
    let metadata = match fetch(&client, &oauth).await {
        Ok(m) => m,
        Err(first) => {
            let oidc = format!("{origin}{path}/.well-known/openid-configuration");
            fetch(&client, &oidc).await.map_err(|_| first)?
        }
    };
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    if !(metadata.jwks_uri.starts_with("https://") || metadata.jwks_uri.starts_with("http://")) {
        return Err(DiscoveryError::Metadata {
            url: oauth,
            reason: "jwks_uri is not an http(s) URL".to_owned(),
        });
    }
    let jwks = RemoteJwks::fetch(metadata.jwks_uri.clone())
        .await
        .map_err(DiscoveryError::Jwks)?;
    Ok(Discovered { metadata, jwks })
}

/// `https://host[:port]` and the path after it (`""` or `/tenant`).
fn split_issuer(issuer: &str) -> Result<(&str, &str), DiscoveryError> {
    let bad = || DiscoveryError::BadIssuer(issuer.to_owned());
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(bad)?;
    if issuer.contains(['?', '#']) || rest.is_empty() {
        return Err(bad());
    }
    let at = rest
        .find('/')
        .map_or(issuer.len(), |i| issuer.len() - rest.len() + i);
    let (origin, path) = issuer.split_at(at);
    Ok((origin, path.trim_end_matches('/')))
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<ServerMetadata, DiscoveryError> {
    let fail = |reason: String| DiscoveryError::Metadata {
        url: url.to_owned(),
        reason,
    };
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > MAX_METADATA {
            return Err(fail("too large".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| fail(format!("not metadata JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_segment_goes_before_the_path() {
        assert_eq!(
            split_issuer("https://auth.example.com").unwrap(),
            ("https://auth.example.com", "")
        );
        assert_eq!(
            split_issuer("https://auth.example.com/tenant/a").unwrap(),
            ("https://auth.example.com", "/tenant/a")
        );
        assert_eq!(
            split_issuer("http://127.0.0.1:8080/").unwrap(),
            ("http://127.0.0.1:8080", "")
        );
        for bad in [
            "passcard",
            "ftp://x",
            "https://",
            "https://a?b=1",
            "https://a#f",
        ] {
            assert!(split_issuer(bad).is_err(), "{bad}");
        }
    }
}
