//! Password hashing: argon2id at OWASP parameters, off the async workers,
//! with bounded concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::error::Error;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// How long a request waits for a hashing slot before 503.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Hashes and verifies passwords on the blocking pool, each kind of work
/// with a budget of its own: logins at most `login` at a time (so they
/// cannot starve token verification), registrations at most `register`
/// at a time, in a queue of their own (so a flood of them can never
/// delay a login).
#[derive(Clone)]
pub(super) struct Passwords {
    login: Budget,
    register: Budget,
    /// A real hash of a random password: unknown users are checked against
    /// it, so they cost the same time as known ones.
    dummy: Arc<str>,
}

/// Concurrent hashes allowed for one kind of work, and how many were done.
#[derive(Clone)]
struct Budget {
    permits: Arc<Semaphore>,
    done: Arc<AtomicU64>,
}

impl Budget {
    fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            done: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Runs `f` on the blocking pool once a slot is free (at most 10 s of
    /// waiting, then [`Error::Busy`]).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy)?
            .map_err(|_| Error::Busy)?;
        self.done.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(Error::internal)
    }
}

/// Password hashes computed so far, by purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HashCounts {
    /// For logins (a user's hash or the dummy).
    pub login: u64,
    /// For registrations.
    pub register: u64,
}

fn argon2() -> Argon2<'static> {
    // The constants are valid parameters; `Params::new` only fails on
    // out-of-range values.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password, &salt)
        .map_err(|e| Error::internal(format!("argon2: {e}")))?
        .to_string())
}

fn verify_blocking(password: &[u8], phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password, &h).is_ok())
}

impl Passwords {
    /// Sets up hashing with these budgets; computes the dummy hash.
    pub(super) async fn new(login: usize, register: usize) -> Result<Self, Error> {
        let dummy = tokio::task::spawn_blocking(|| {
            let mut random = [0u8; 32];
            aws_lc_rs::rand::fill(&mut random)
                .map_err(|_| Error::internal("the system random number generator failed"))?;
            hash_blocking(&random)
        })
        .await
        .map_err(Error::internal)??;
        Ok(Self {
            login: Budget::new(login),
            register: Budget::new(register),
            dummy: dummy.into(),
        })
    }

    /// Hashes computed so far.
    pub(super) fn counts(&self) -> HashCounts {
        HashCounts {
            login: self.login.done.load(Ordering::Relaxed),
            register: self.register.done.load(Ordering::Relaxed),
        }
    }

    /// A PHC string for a new password (a registration).
    pub(super) async fn hash(&self, password: String) -> Result<String, Error> {
        self.register
            .run(move || hash_blocking(password.as_bytes()))
            .await?
    }

    /// Whether `password` matches `phc`; with `None` (no such user), checks
    /// against the dummy hash and returns false, taking the same time.
    pub(super) async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, Error> {
        let dummy = self.dummy.clone();
        self.login
            .run(move || match phc {
                Some(phc) => verify_blocking(password.as_bytes(), &phc),
                None => {
                    let _ = verify_blocking(password.as_bytes(), &dummy);
                    false
                }
            })
            .await
    }
}

/// Hashes a password as the server stores it (argon2id, PHC string), on
/// the current thread: for tools that write users into the store
/// themselves (`passcard user add`, provisioning from another system).
pub fn hash_now(password: &str) -> Result<String, Error> {
    hash_blocking(password.as_bytes())
}
