//! Accounts: registration, login, logout, and the admin's role changes and
//! bans.

use std::net::IpAddr;
use std::time::Duration;

use passcard_store::{NewRefreshFor, User};

use super::limiter::{Client, client_key};
use super::user::{Invalid, Role, Username, check_new_password};
use super::{Auth, Caller, Error, Limit, secs, tokens};
use crate::config::Mode;

/// The most users one page of [`Auth::list_users`] holds.
pub const MAX_PAGE: u32 = 100;

/// A new access token and its refresh token.
#[derive(Clone, Debug)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// The refresh token (opaque; only its hash is stored).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// A new session (session mode).
#[derive(Clone, Debug)]
pub struct SessionGrant {
    /// The session id for the cookie (only its hash is stored).
    pub id: String,
}

/// What a login grants.
#[derive(Clone, Debug)]
pub enum Grant {
    /// Token mode: a token pair.
    Tokens(TokenPair),
    /// Session mode: a session.
    Session(SessionGrant),
}

/// A successful login.
#[derive(Clone, Debug)]
pub struct Login {
    /// Who logged in.
    pub user: User,
    /// What they got.
    pub grant: Grant,
    /// A fresh device credential for the client: presented at later
    /// logins, it makes the client a known device of this user.
    pub device: String,
}

impl Auth {
    /// Creates an account with the `user` role, when registration is open.
    /// Registrations are limited per client address, every attempt
    /// counted; a taken name is answered before any hashing, from a
    /// hashing queue of registration's own.
    pub async fn register(
        &self,
        username: &str,
        password: String,
        client: IpAddr,
    ) -> Result<User, Error> {
        if !self.accounts.open_registration {
            return Err(Error::RegistrationClosed);
        }
        let username = Username::parse(username)?;
        check_new_password(&password)?;
        let addr = client_key(client);
        if let Err(retry_after) = self.registrations.attempt(&addr, self.clock.monotonic()) {
            self.log_refusal("registration throttled", None, &addr, retry_after);
            return Err(Error::RateLimited {
                limit: Limit::Registration,
                retry_after,
            });
        }
        if self.store.user_by_name(username.as_str()).await?.is_some() {
            return Err(Error::UsernameTaken);
        }
        let hash = self.passwords.hash(password).await?;
        let user = self
            .store
            .create_user(
                username.as_str(),
                &hash,
                Role::User.as_str(),
                self.now_secs(),
            )
            .await?;
        tracing::info!(user = user.id, "user registered");
        Ok(user)
    }

    /// Checks a username and password. An unknown user costs the same hash
    /// as a wrong password and gets the same answer. Attempts are counted
    /// before any hashing, so concurrent guesses cannot all pass the check
    /// while the first ones are still hashing: per username and per client
    /// address, or, for a client presenting a genuine `device` credential
    /// of this user (one it got at an earlier login), per device only, so
    /// failures others cause for the username never lock its owner out.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: IpAddr,
        device: Option<&str>,
    ) -> Result<Login, Error> {
        // Malformed names cannot exist; they still cost a hash, like any miss.
        let username = Username::parse(username).ok();
        let user_key = username.as_ref().map_or("", Username::as_str);
        let addr_key = client_key(client);
        let now = self.now().as_secs();
        let known = match (&username, device) {
            (Some(name), Some(credential)) => self.devices.check(credential, name.as_str(), now),
            _ => None,
        };
        let who = match known {
            Some(id) => Client::Device(id),
            None => Client::Address(&addr_key),
        };
        let attempt = match self.limiter.attempt(user_key, who, self.clock.monotonic()) {
            Ok(attempt) => attempt,
            Err(retry_after) => {
                let what = if known.is_some() {
                    "login throttled (known device)"
                } else {
                    "login throttled"
                };
                self.log_refusal(what, None, &addr_key, retry_after);
                return Err(Error::RateLimited {
                    limit: Limit::Login,
                    retry_after,
                });
            }
        };
        if password.len() > super::user::MAX_PASSWORD {
            attempt.refused_unhashed();
            self.log_refusal("login failed", None, &addr_key, Duration::ZERO);
            return Err(Error::InvalidCredentials);
        }
        let user = match &username {
            Some(name) => self.store.user_by_name(name.as_str()).await?,
            None => None,
        };
        let ok = self
            .passwords
            .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            // Only a user that exists is named: a name that merely has
            // the shape of one may be a password typed in the wrong field.
            known => {
                attempt.failed(self.clock.monotonic());
                let name = known.as_ref().map(|u| u.username.as_str());
                self.log_refusal("login failed", name, &addr_key, Duration::ZERO);
                return Err(Error::InvalidCredentials);
            }
        };
        attempt.succeeded();
        let grant = match &self.mode {
            Mode::Session(_) => Grant::Session(self.start_session(&user).await?),
            Mode::Token => Grant::Tokens(self.start_family(&user).await?),
        };
        let device = self.devices.issue(&user.username, now)?;
        Ok(Login {
            user,
            grant,
            device,
        })
    }

    /// Logs a refused attempt (the username only of a user that exists,
    /// the address, never the password), at a bounded rate.
    fn log_refusal(&self, what: &str, user: Option<&str>, addr: &str, retry_after: Duration) {
        if let Some(left_out) = self.log_budget.allow(self.clock.monotonic()) {
            tracing::warn!(
                user = %user.unwrap_or("(not named)"),
                addr = %addr,
                retry_after_s = retry_after.as_secs(),
                left_out,
                "{what}"
            );
        }
    }

    /// A new refresh family for a login, and its first token pair. Past
    /// the most logins a user may hold, the oldest end.
    async fn start_family(&self, user: &User) -> Result<TokenPair, Error> {
        let refresh = tokens::new_refresh_token()?;
        let now = self.now_secs();
        let expires_at = now + secs(self.tokens.refresh_ttl.as_secs());
        let started = self
            .store
            .start_family(
                &NewRefreshFor {
                    hash: tokens::refresh_hash(&refresh),
                    user_id: user.id,
                    expires_at,
                    max_per_user: self.accounts.max_logins_per_user,
                },
                now,
            )
            .await?;
        if started.ended > 0 {
            // The ended logins' access tokens stop here at once.
            self.apply_revocations().await?;
        }
        tracing::info!(
            user = user.id,
            family = started.id,
            ended = started.ended,
            "login"
        );
        self.pair(user, started.id, refresh, expires_at)
    }

    /// An access token for `user` in `family`, with `refresh_token`.
    pub(super) fn pair(
        &self,
        user: &User,
        family: i64,
        refresh_token: String,
        refresh_expires_at: i64,
    ) -> Result<TokenPair, Error> {
        let now = self.now();
        let access_token = tokens::issue_access(&self.signing, &self.tokens, user, family, now)?;
        Ok(TokenPair {
            access_token,
            expires_in: self.tokens.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: (refresh_expires_at - secs(now.as_secs())).max(0),
        })
    }

    /// Ends this login: the session, or the whole refresh family (its
    /// refresh tokens and every access token minted in it, this one
    /// included).
    pub async fn logout(&self, caller: &Caller) -> Result<(), Error> {
        if let Some(session) = &caller.session {
            self.sessions.delete_session(session).await?;
            tracing::info!(user = caller.user_id(), "logout (session)");
            return Ok(());
        }
        let c = &caller.claims;
        self.store
            .revoke_token(
                caller.user_id(),
                &c.jti,
                i64::try_from(c.exp).unwrap_or(i64::MAX),
                Some(c.sid),
                self.now_secs(),
            )
            .await?;
        self.apply_revocations().await?;
        tracing::info!(user = caller.user_id(), "logout");
        Ok(())
    }

    /// Ends every login of the caller: all sessions, every refresh family,
    /// every access token issued so far.
    pub async fn logout_all(&self, caller: &Caller) -> Result<(), Error> {
        let user = caller.user_id();
        self.sessions.delete_user_sessions(user).await?;
        self.store
            .revoke_user(user, false, self.now_secs())
            .await?
            .ok_or(Error::Unauthenticated {
                reason: "unknown_user",
            })?;
        self.apply_revocations().await?;
        tracing::info!(user, "logout everywhere");
        Ok(())
    }

    /// Changes a user's role (admins only); the user's tokens stop working
    /// at once, and a refresh brings the new role.
    pub async fn set_role(&self, caller: &Caller, user_id: i64, role: &str) -> Result<User, Error> {
        caller.require_admin()?;
        let role = Role::parse(role)?;
        let user = self
            .store
            .set_role(user_id, role.as_str(), self.now_secs())
            .await?
            .ok_or(Error::NotFound)?;
        self.apply_revocations().await?;
        tracing::info!(admin = caller.user_id(), user = user_id, %role, "role changed");
        Ok(user)
    }

    /// A page of users (admins only), in id order after `after`, whose
    /// name contains `search`; at most [`MAX_PAGE`] of them.
    pub async fn list_users(
        &self,
        caller: &Caller,
        search: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<User>, Error> {
        caller.require_admin()?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.len() > 32) {
            return Err(Error::Invalid(Invalid::Search));
        }
        Ok(self
            .store
            .list_users(search, after, limit.clamp(1, MAX_PAGE))
            .await?)
    }

    /// Bans a user (admins only): no login, no refresh, every token and
    /// session refused from now on.
    pub async fn ban(&self, caller: &Caller, user_id: i64) -> Result<(), Error> {
        caller.require_admin()?;
        self.store
            .revoke_user(user_id, true, self.now_secs())
            .await?
            .ok_or(Error::NotFound)?;
        self.sessions.delete_user_sessions(user_id).await?;
        self.apply_revocations().await?;
        tracing::info!(admin = caller.user_id(), user = user_id, "user banned");
        Ok(())
    }
}
