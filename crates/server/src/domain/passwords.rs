//! Password hashing: argon2id at OWASP parameters, off the async workers,
//! with bounded concurrency, each hashing slot with working memory of its
//! own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Concurrent hashes allowed for one kind of work, the working memory of
/// each, and how many were done.
#[derive(Clone)]
struct Budget {
    permits: Arc<Semaphore>,
    memory: Arc<Memory>,
    done: Arc<AtomicU64>,
}

/// argon2's working memory (19 MiB a hash), allocated once per hashing
/// slot and kept. A buffer allocated and freed for every hash made glibc
/// raise its mmap threshold to that size, so each allocator arena kept up
/// to three of them: a server's memory grew with the threads that had
/// hashed (to 260 MB after forty logins, and on as threads came and went;
/// the soak test measured it). Kept, the memory is one buffer per slot.
#[derive(Default)]
struct Memory(Mutex<Vec<Vec<Block>>>);

impl Memory {
    /// Runs `f` with a buffer of the pool (a new one if all are in use: at
    /// most one per slot, since a slot holds its buffer until `f` returns).
    /// The buffer is cleared before it goes back.
    fn with<T>(&self, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut buffer = taken.unwrap_or_else(|| vec![Block::new(); blocks()]);
        let out = f(&mut buffer);
        buffer.fill(Block::new());
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
        out
    }
}

impl Budget {
    fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            memory: Arc::default(),
            done: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Runs `f` on the blocking pool, with a slot's working memory, once a
    /// slot is free (at most 10 s of waiting, then [`Error::Busy`]).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy)?
            .map_err(|_| Error::Busy)?;
        self.done.fetch_add(1, Ordering::Relaxed);
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let out = memory.with(f);
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

fn params() -> Params {
    // The constants are valid parameters; `Params::new` only fails on
    // out-of-range values.
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default()
}

/// The working memory of one hash, in blocks.
fn blocks() -> usize {
    params().block_count()
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("argon2: {e}"))
}

/// A new PHC string for `password`: what argon2's `hash_password` makes,
/// computed in `memory`.
fn hash_with(password: &[u8], memory: &mut [Block]) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let params = params();
    let phc_params = ParamsString::try_from(&params).map_err(failed)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: phc_params,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (with its own algorithm,
/// version and parameters, as argon2's `verify_password` does), computed
/// in `memory` when it is large enough; compared in constant time.
fn verify_with(password: &[u8], phc: &str, memory: &mut [Block]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let fits = params.block_count() <= memory.len();
    let argon2 = Argon2::new(algorithm, version, params);
    let done = if fits {
        argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)
    } else {
        // Stronger parameters than this server's: memory of its own.
        argon2.hash_password_into(password, salt_bytes, out)
    };
    // `Output`'s equality is constant-time.
    done.is_ok() && Output::new(out).is_ok_and(|o| o == expected)
}

impl Passwords {
    /// Sets up hashing with these budgets; computes the dummy hash.
    pub(super) async fn new(login: usize, register: usize) -> Result<Self, Error> {
        let login = Budget::new(login);
        let memory = login.memory.clone();
        let dummy = tokio::task::spawn_blocking(move || {
            let mut random = [0u8; 32];
            aws_lc_rs::rand::fill(&mut random)
                .map_err(|_| Error::internal("the system random number generator failed"))?;
            memory.with(|m| hash_with(&random, m))
        })
        .await
        .map_err(Error::internal)??;
        Ok(Self {
            login,
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
            .run(move |memory| hash_with(password.as_bytes(), memory))
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
            .run(move |memory| match phc {
                Some(phc) => verify_with(password.as_bytes(), &phc, memory),
                None => {
                    let _ = verify_with(password.as_bytes(), &dummy, memory);
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
    hash_with(password.as_bytes(), &mut vec![Block::new(); blocks()])
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    /// A PHC string from argon2's own `hash_password`, with `m` KiB.
    fn stock_hash(password: &str, m: u32) -> String {
        let params = Params::new(m, ITERATIONS, PARALLELISM, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }

    #[test]
    fn hashes_are_the_ones_argon2_makes_and_reads() {
        let mut memory = vec![Block::new(); blocks()];
        let ours = hash_with(b"correct-horse", &mut memory).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct-horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"correct-horsf", &parsed).is_err());

        let stock = stock_hash("correct-horse", MEMORY_KIB);
        assert!(verify_with(b"correct-horse", &stock, &mut memory));
        assert!(!verify_with(b"correct-horsf", &stock, &mut memory));
        assert!(verify_with(b"correct-horse", &ours, &mut memory));
    }

    #[test]
    fn other_parameters_and_bad_strings_are_read_safely() {
        let mut memory = vec![Block::new(); blocks()];
        // Weaker than ours: in the slot's memory; stronger: in memory of
        // its own (a buffer too small stands for it).
        let weak = stock_hash("pw-12345678", 64);
        assert!(verify_with(b"pw-12345678", &weak, &mut memory));
        assert!(verify_with(b"pw-12345678", &weak, &mut memory[..16]));
        assert!(!verify_with(b"pw-12345679", &weak, &mut memory[..16]));
        for bad in ["", "$argon2id$", "not a hash", &weak[..weak.len() - 4]] {
            assert!(!verify_with(b"pw-12345678", bad, &mut memory), "{bad}");
        }
    }

    fn argon2() -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
    }

    #[tokio::test]
    async fn each_slot_keeps_one_buffer() {
        let budget = Budget::new(2);
        let phc: Arc<str> = stock_hash("pw-12345678", 64).into();
        let runs = (0..6).map(|_| {
            let phc = phc.clone();
            budget.run(move |m| verify_with(b"pw-12345678", &phc, m))
        });
        for ok in futures_util::future::join_all(runs).await {
            assert!(ok.unwrap());
        }
        let kept = budget.memory.0.lock().unwrap();
        assert!((1..=2).contains(&kept.len()), "{} buffers", kept.len());
        assert!(kept.iter().all(|b| b.len() == blocks()));
    }
}
