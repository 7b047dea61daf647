//! The server's keys: the configured ones, or one generated into the data
//! folder on first start.

use std::path::Path;

use anyhow::Context as _;
use passcard_jwt::SigningKey;

use crate::config::{Config, Keys, create_private_dir};

/// The configured key, or the one generated in the data folder on first
/// start (with a warning saying how to set one's own).
pub(super) fn load_or_generate(config: &Config) -> anyhow::Result<Keys> {
    if let Some(source) = &config.keys.source {
        return source.load_with(config.keys.signing_kid.as_deref());
    }
    let dir = &config.storage.data_dir;
    let path = dir.join("key.json");
    if !path.exists() {
        create_private_dir(dir)
            .with_context(|| format!("cannot create data folder {}", dir.display()))?;
        let key = SigningKey::generate(passcard_jwt::Algorithm::HS256)?;
        let json = serde_json::to_string_pretty(&key.to_private_jwk())?;
        write_private(&path, json.as_bytes())
            .with_context(|| format!("cannot write the generated key to {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "no key configured: generated an HS256 signing key and saved it (mode 0600); \
             set PASSCARD_SECRET (from `passcard keygen`) or PASSCARD_KEY_FILE to use your own"
        );
    }
    crate::config::KeySource::File(path).load()
}

/// Writes a new file readable only by its owner.
#[cfg(unix)]
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes a new file (no permission bits to set on this platform).
#[cfg(not(unix))]
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
