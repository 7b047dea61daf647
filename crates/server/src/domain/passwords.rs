//! Password hashing: argon2id at OWASP parameters, off the async workers,
//! with bounded concurrency.

use std::sync::Arc;
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

/// Hashes and verifies passwords on the blocking pool, at most
/// `concurrency` at a time, so logins cannot starve token verification.
#[derive(Clone)]
pub(super) struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash of a random password: unknown users are checked against
    /// it, so they cost the same time as known ones.
    dummy: Arc<str>,
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
    /// Sets up hashing with `concurrency` slots; computes the dummy hash.
    pub(super) async fn new(concurrency: usize) -> Result<Self, Error> {
        let dummy = tokio::task::spawn_blocking(|| {
            let mut random = [0u8; 32];
            aws_lc_rs::rand::fill(&mut random)
                .map_err(|_| Error::internal("the system random number generator failed"))?;
            hash_blocking(&random)
        })
        .await
        .map_err(Error::internal)??;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: dummy.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy)?
            .map_err(|_| Error::Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(Error::internal)?;
        Ok(out)
    }

    /// A PHC string for a new password.
    pub(super) async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move || hash_blocking(password.as_bytes())).await?
    }

    /// Whether `password` matches `phc`; with `None` (no such user), checks
    /// against the dummy hash and returns false, taking the same time.
    pub(super) async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, Error> {
        let dummy = self.dummy.clone();
        self.run(move || match phc {
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
