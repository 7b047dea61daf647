//! Finding an auth server's keys from its issuer URL, through its
//! metadata (RFC 8414), as OAuth client libraries do.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::jwks::RemoteJwks;
use crate::csrf::SiteOrigin;
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
    /// The metadata sends an `https://` issuer's keys over plain HTTP,
    /// where anyone on the path could swap them.
    #[error("the metadata of the https issuer names a jwks_uri that is not https: {jwks_uri:?}")]
    InsecureJwksUri {
        /// The `jwks_uri` it names.
        jwks_uri: String,
    },
    /// The metadata names keys on an origin other than the issuer's,
    /// which the caller did not allow ([`Discovery::allow_jwks_origin`]).
    #[error(
        "the metadata names a jwks_uri on {found:?}, not on the issuer's origin {issuer_origin:?} \
         (allow that origin explicitly if it is meant)"
    )]
    ForeignJwksUri {
        /// The origin of the `jwks_uri`.
        found: String,
        /// The issuer's origin.
        issuer_origin: String,
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

/// Reads the metadata of the issuer at `issuer` and fetches its keys,
/// with the defaults of [`Discovery`]: the keys must be on the issuer's
/// own origin, over https when the issuer is https.
pub async fn from_issuer(issuer: &str) -> Result<Discovered, DiscoveryError> {
    Discovery::new(issuer).run().await
}

/// Finding an auth server's keys from its issuer URL, strictly by
/// default: the metadata is read from the issuer's own origin (RFC 8414
/// section 3: `/.well-known/oauth-authorization-server`, inserted before
/// any path; failing that, OpenID Connect's
/// `/.well-known/openid-configuration` appended) and refused unless its
/// `issuer` is exactly the one asked for; its `jwks_uri` must be `https`
/// for an `https` issuer, and on the issuer's origin unless the caller
/// allows another ([`Self::allow_jwks_origin`]).
///
/// ```no_run
/// # async fn f() -> Result<(), passcard_axum::DiscoveryError> {
/// let found = passcard_axum::Discovery::new("https://auth.example.com")
///     .allow_jwks_origin("https://keys.example.net")
///     .run()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Discovery {
    issuer: String,
    jwks_origins: Vec<String>,
}

impl Discovery {
    /// Discovery of the issuer at `issuer` (an `https://` or `http://` URL
    /// without query or fragment).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_origins: Vec::new(),
        }
    }

    /// Also accepts keys served on `origin` (`https://keys.example.net`),
    /// for an issuer that keeps them on another host. An `https` issuer's
    /// keys must still come over https.
    pub fn allow_jwks_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.jwks_origins
            .push(url_origin(&origin).unwrap_or(origin));
        self
    }

    /// Reads the metadata, checks it, and fetches the keys.
    pub async fn run(self) -> Result<Discovered, DiscoveryError> {
        let issuer = self.issuer.as_str();
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
        self.check_jwks_uri(&metadata.jwks_uri, origin, &oauth)?;
        let jwks = RemoteJwks::fetch(metadata.jwks_uri.clone())
            .await
            .map_err(DiscoveryError::Jwks)?;
        Ok(Discovered { metadata, jwks })
    }

    /// Refuses keys over plain HTTP for an https issuer, and keys on an
    /// origin that is neither the issuer's nor one allowed.
    fn check_jwks_uri(
        &self,
        jwks_uri: &str,
        issuer_origin: &str,
        metadata_url: &str,
    ) -> Result<(), DiscoveryError> {
        let Some(found) = url_origin(jwks_uri) else {
            return Err(DiscoveryError::Metadata {
                url: metadata_url.to_owned(),
                reason: "jwks_uri is not an http(s) URL without user name".to_owned(),
            });
        };
        let issuer_origin = url_origin(issuer_origin).unwrap_or_else(|| issuer_origin.to_owned());
        if issuer_origin.starts_with("https://") && !found.starts_with("https://") {
            return Err(DiscoveryError::InsecureJwksUri {
                jwks_uri: jwks_uri.to_owned(),
            });
        }
        if found != issuer_origin && !self.jwks_origins.contains(&found) {
            return Err(DiscoveryError::ForeignJwksUri {
                found,
                issuer_origin,
            });
        }
        Ok(())
    }
}

/// The origin of an `http(s)` URL as browsers serialize it (lowercase,
/// default port left out), or `None` for anything else (another scheme,
/// no host, a user name).
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return None;
    }
    format!("{scheme}://{authority}")
        .parse::<SiteOrigin>()
        .ok()
        .map(|o| o.as_str().to_owned())
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

    #[test]
    fn keys_must_be_on_the_issuers_origin_and_as_secure() {
        let strict = Discovery::new("https://auth.example.com/t");
        let check =
            |d: &Discovery, uri: &str| d.check_jwks_uri(uri, "https://auth.example.com", "m");
        check(&strict, "https://auth.example.com/.well-known/jwks.json").unwrap();
        check(&strict, "https://AUTH.example.com:443/keys").unwrap();
        assert!(matches!(
            check(&strict, "http://auth.example.com/.well-known/jwks.json"),
            Err(DiscoveryError::InsecureJwksUri { .. })
        ));
        assert!(matches!(
            check(&strict, "https://keys.example.net/jwks"),
            Err(DiscoveryError::ForeignJwksUri { .. })
        ));
        assert!(matches!(
            check(&strict, "https://auth.example.com:8443/jwks"),
            Err(DiscoveryError::ForeignJwksUri { .. })
        ));
        assert!(matches!(
            check(&strict, "https://auth.example.com@evil.example/jwks"),
            Err(DiscoveryError::Metadata { .. })
        ));
        let cdn = strict.allow_jwks_origin("https://keys.example.net/");
        check(&cdn, "https://keys.example.net/jwks").unwrap();
        // Allowed or not, an https issuer's keys never come over http.
        let plain_cdn =
            Discovery::new("https://auth.example.com").allow_jwks_origin("http://keys.example.net");
        assert!(matches!(
            check(&plain_cdn, "http://keys.example.net/jwks"),
            Err(DiscoveryError::InsecureJwksUri { .. })
        ));
        // A plain-http issuer (development) may name plain-http keys on
        // its own origin.
        let dev = Discovery::new("http://127.0.0.1:8080");
        dev.check_jwks_uri(
            "http://127.0.0.1:8080/.well-known/jwks.json",
            "http://127.0.0.1:8080",
            "m",
        )
        .unwrap();
    }
}
