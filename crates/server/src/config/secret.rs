//! Secrets in the configuration: never shown, and URLs logged without
//! theirs.

/// A configured secret: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database or Redis URL without its secrets, for messages and logs: the
/// password of the user-info (`postgres://app:***@db/x`,
/// `redis://:***@cache`) and the value of every query parameter that can
/// carry one (`?password=***`, `sslpassword`, tokens, keys).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &base[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Whether a URL query parameter can hold a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets_wherever_they_are() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            (
                "postgres://app@db/x?password=s3cret",
                "postgres://app@db/x?password=***",
            ),
            (
                "postgres://db/x?sslmode=require&PassWord=s3cret&sslpassword=s3cret&user=app",
                "postgres://db/x?sslmode=require&PassWord=***&sslpassword=***&user=app",
            ),
            ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "rediss://default:s3cret@cache",
                "rediss://default:***@cache",
            ),
            (
                "postgres://app@db/x?options[auth_token]=s3cret",
                "postgres://app@db/x?options[auth_token]=***",
            ),
            ("sqlite://data/p.db", "sqlite://data/p.db"),
            ("postgres://a:b:c@d/e", "postgres://a:***@d/e"),
        ] {
            assert_eq!(redact_url(url), shown);
            assert!(!redact_url(url).contains("s3cret"));
        }
    }
}
