//! What a verified token must satisfy beyond its signature.

use std::time::Duration;

use crate::claims::RawClaims;
use crate::error::Error;
use crate::json::{self, JStr, Value};
use crate::time::UnixTime;

/// The default maximum token size: 8 KiB, checked before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The default maximum JSON nesting depth of header and claims.
pub const DEFAULT_MAX_DEPTH: usize = 16;

pub use crate::json::MAX_DEPTH_CEILING;

/// Accepted values of `iss` or `aud`.
#[derive(Clone, Debug)]
enum Expect {
    Any,
    OneOf(Vec<String>),
}

/// The validation policy: which issuer, audience and type to expect, how
/// much clock skew to allow, which claims to require, and input limits.
///
/// Built with [`Validator::builder`], which must be told the issuer and the
/// audience, or told explicitly to accept any:
///
/// ```
/// use passcard_jwt::Validator;
/// let v = Validator::builder()
///     .issuer("https://auth.example.com")
///     .audience("api")
///     .typ("at+jwt")
///     .require_sub()
///     .build();
/// ```
///
/// Forgetting a decision does not compile:
///
/// ```compile_fail
/// let v = passcard_jwt::Validator::builder().issuer("me").build();
/// ```
#[derive(Clone, Debug)]
pub struct Validator {
    issuer: Expect,
    audience: Expect,
    typ: Option<String>,
    leeway: u64,
    require_exp: bool,
    require_sub: bool,
    require_jti: bool,
    pub(crate) max_token_bytes: usize,
    pub(crate) max_depth: usize,
}

/// Builder state: the issuer or audience decision is not made yet.
#[derive(Debug)]
pub struct Undecided;
/// Builder state: the issuer or audience decision is made.
#[derive(Debug)]
pub struct Decided(Expect);

/// Builds a [`Validator`]; see there.
#[derive(Debug)]
#[must_use]
pub struct ValidatorBuilder<I, A> {
    issuer: I,
    audience: A,
    v: Validator,
}

impl Validator {
    /// Starts a policy with the strict defaults: `exp` required, 30 s
    /// leeway, 8 KiB tokens, JSON depth 16, no `typ` check.
    pub fn builder() -> ValidatorBuilder<Undecided, Undecided> {
        ValidatorBuilder {
            issuer: Undecided,
            audience: Undecided,
            v: Self {
                issuer: Expect::Any,
                audience: Expect::Any,
                typ: None,
                leeway: DEFAULT_LEEWAY.as_secs(),
                require_exp: true,
                require_sub: false,
                require_jti: false,
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
                max_depth: DEFAULT_MAX_DEPTH,
            },
        }
    }

    /// The allowed clock skew.
    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.leeway)
    }

    /// Checks the registered claims and the header `typ`. Policy checks come
    /// first and time last, so [`Error::Expired`] means the token was
    /// otherwise acceptable (the client should refresh).
    pub(crate) fn check(
        &self,
        claims: &RawClaims<'_>,
        typ: Option<&str>,
        now: UnixTime,
    ) -> Result<(), Error> {
        if let Some(expected) = &self.typ {
            let Some(typ) = typ else {
                return Err(Error::WrongType);
            };
            if !typ_matches(typ, expected) {
                return Err(Error::WrongType);
            }
        }
        if let Expect::OneOf(issuers) = &self.issuer {
            let iss = claims.iss.ok_or_else(|| Error::MissingClaim("iss"))?;
            if !issuers.iter().any(|i| iss.is(i.as_bytes())) {
                return Err(Error::WrongIssuer);
            }
        }
        if let Expect::OneOf(audiences) = &self.audience {
            let matches = |s: &JStr<'_>| audiences.iter().any(|a| s.is(a.as_bytes()));
            let ok = match claims.aud.ok_or_else(|| Error::MissingClaim("aud"))? {
                Value::Str(s) => matches(&s),
                Value::Array(items) => {
                    let mut any = false;
                    json::array_items(items, |item| {
                        if let Value::Str(s) = item {
                            any |= matches(&s);
                        }
                        Ok(())
                    })?;
                    any
                }
                _ => false,
            };
            if !ok {
                return Err(Error::WrongAudience);
            }
        }
        if self.require_sub && claims.sub.is_none() {
            return Err(Error::MissingClaim("sub"));
        }
        if self.require_jti && claims.jti.is_none() {
            return Err(Error::MissingClaim("jti"));
        }
        #[allow(clippy::cast_precision_loss)]
        let (now_s, leeway) = (now.as_secs() as f64, self.leeway as f64);
        if let Some(nbf) = claims.nbf {
            if now_s + leeway < nbf.as_f64() {
                return Err(Error::NotYetValid { nbf, now });
            }
        }
        if let Some(iat) = claims.iat {
            if now_s + leeway < iat.as_f64() {
                return Err(Error::IssuedInFuture { iat, now });
            }
        }
        match claims.exp {
            // RFC 7519 4.1.4: the current time must be before exp.
            Some(exp) if now_s - leeway >= exp.as_f64() => Err(Error::Expired { exp, now }),
            Some(_) => Ok(()),
            None if self.require_exp => Err(Error::MissingClaim("exp")),
            None => Ok(()),
        }
    }
}

/// RFC 9068 section 4: `typ` compares case-insensitively, and the
/// `application/` prefix may be omitted.
fn typ_matches(actual: &str, expected: &str) -> bool {
    strip_application(actual).eq_ignore_ascii_case(strip_application(expected))
}

fn strip_application(t: &str) -> &str {
    match t.get(..12) {
        Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
        _ => t,
    }
}

impl<A> ValidatorBuilder<Undecided, A> {
    /// Accept only tokens whose `iss` is this issuer (call again to accept
    /// several). A token without `iss` is refused.
    pub fn issuer(self, iss: impl Into<String>) -> ValidatorBuilder<Decided, A> {
        ValidatorBuilder {
            issuer: Decided(Expect::OneOf(vec![iss.into()])),
            audience: self.audience,
            v: self.v,
        }
    }

    /// Accept any issuer, or none: for key sets that only one issuer uses.
    pub fn any_issuer(self) -> ValidatorBuilder<Decided, A> {
        ValidatorBuilder {
            issuer: Decided(Expect::Any),
            audience: self.audience,
            v: self.v,
        }
    }
}

impl<A> ValidatorBuilder<Decided, A> {
    /// Accept one more issuer.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        match &mut self.issuer.0 {
            Expect::OneOf(list) => list.push(iss.into()),
            any @ Expect::Any => *any = Expect::OneOf(vec![iss.into()]),
        }
        self
    }
}

impl<I> ValidatorBuilder<I, Undecided> {
    /// Accept only tokens whose `aud` is, or contains, this audience (call
    /// again to accept several). A token without `aud` is refused.
    pub fn audience(self, aud: impl Into<String>) -> ValidatorBuilder<I, Decided> {
        ValidatorBuilder {
            issuer: self.issuer,
            audience: Decided(Expect::OneOf(vec![aud.into()])),
            v: self.v,
        }
    }

    /// Accept any audience, or none.
    pub fn any_audience(self) -> ValidatorBuilder<I, Decided> {
        ValidatorBuilder {
            issuer: self.issuer,
            audience: Decided(Expect::Any),
            v: self.v,
        }
    }
}

impl<I> ValidatorBuilder<I, Decided> {
    /// Accept one more audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        match &mut self.audience.0 {
            Expect::OneOf(list) => list.push(aud.into()),
            any @ Expect::Any => *any = Expect::OneOf(vec![aud.into()]),
        }
        self
    }
}

impl<I, A> ValidatorBuilder<I, A> {
    /// Require the header `typ` to be this type (RFC 9068: compared
    /// case-insensitively, `application/` prefix optional). Access tokens
    /// use `at+jwt`.
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.v.typ = Some(typ.into());
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat` (default 30 s,
    /// whole seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.v.leeway = leeway.as_secs();
        self
    }

    /// Require a `sub` claim.
    pub fn require_sub(mut self) -> Self {
        self.v.require_sub = true;
        self
    }

    /// Require a `jti` claim.
    pub fn require_jti(mut self) -> Self {
        self.v.require_jti = true;
        self
    }

    /// The largest token accepted (default 8 KiB), checked before decoding.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.v.max_token_bytes = max;
        self
    }

    /// The deepest JSON nesting accepted in header and claims (default 16,
    /// at most [`MAX_DEPTH_CEILING`]: the scanner recurses per level).
    pub fn max_depth(mut self, max: usize) -> Self {
        self.v.max_depth = max.clamp(1, MAX_DEPTH_CEILING);
        self
    }

    /// Dangerous: accept tokens without `exp`, which never expire. RFC 7519
    /// allows them; an access token should never be one.
    pub fn dangerous_allow_missing_exp(mut self) -> Self {
        self.v.require_exp = false;
        self
    }
}

impl ValidatorBuilder<Decided, Decided> {
    /// The finished policy.
    pub fn build(self) -> Validator {
        Validator {
            issuer: self.issuer.0,
            audience: self.audience.0,
            ..self.v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison_follows_rfc_9068() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("AT+JWT", "at+jwt"));
        assert!(typ_matches("application/at+jwt", "at+jwt"));
        assert!(typ_matches("Application/AT+jwt", "application/at+jwt"));
        assert!(!typ_matches("jwt", "at+jwt"));
        assert!(!typ_matches("application/jwt", "at+jwt"));
        assert!(!typ_matches("", "at+jwt"));
    }
}
