//! Device credentials: the OWASP "device cookie" (Slow Down Online
//! Guessing Attacks with Device Cookies).
//!
//! Every successful login gives the client a credential that says "this
//! client signed in as this user before": `ISSUED.NONCE.MAC`, where
//! `ISSUED` is the Unix second it was made, `NONCE` 128 random bits
//! (the device's id for the limiter) and `MAC` an HMAC-SHA-256 under a
//! server secret shared by every instance, over the username, `ISSUED` and
//! `NONCE`. A browser keeps it in an HttpOnly cookie; an API client may
//! send it in the login body. It authenticates nothing (the password is
//! still needed): it only lets its holder's attempts be counted on the
//! device's own counter instead of meeting the username lock, so an
//! attacker failing logins for an account cannot lock its owner out.
//! A credential for another username, a forged or expired one, is simply
//! not a known device.

use std::time::Duration;

use aws_lc_rs::{hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::Error;

/// How long a device credential is honoured after it was issued (each
/// login issues a new one).
pub(crate) const DEVICE_TTL: Duration = Duration::from_secs(365 * 86_400);

/// The longest credential read; anything longer is not one.
const MAX_LEN: usize = 128;

/// Issues and checks device credentials.
pub(super) struct Devices {
    key: hmac::Key,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Devices([redacted])")
    }
}

impl Devices {
    /// Devices whose credentials are MACed with `secret`.
    pub(super) fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn mac(&self, username: &str, issued: &str, nonce: &str) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in ["passcard-device-v1", username, issued, nonce] {
            ctx.update(part.as_bytes());
            ctx.update(&[0]);
        }
        ctx.sign()
    }

    /// A new credential for `username`, issued at `now` (Unix seconds).
    pub(super) fn issue(&self, username: &str, now: u64) -> Result<String, Error> {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce)
            .map_err(|_| Error::internal("the system random number generator failed"))?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let issued = now.to_string();
        let mac = self.mac(username, &issued, &nonce);
        Ok(format!(
            "{issued}.{nonce}.{}",
            URL_SAFE_NO_PAD.encode(mac.as_ref())
        ))
    }

    /// The device id of `credential` when it is genuine, for `username`,
    /// and not expired at `now`; `None` for anything else.
    pub(super) fn check<'a>(
        &self,
        credential: &'a str,
        username: &str,
        now: u64,
    ) -> Option<&'a str> {
        if credential.len() > MAX_LEN {
            return None;
        }
        let mut parts = credential.split('.');
        let (Some(issued), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let canonical = issued == "0" || (!issued.starts_with('0') && !issued.is_empty());
        let at: u64 = issued.parse().ok().filter(|_| canonical)?;
        if at > now || now - at > DEVICE_TTL.as_secs() || nonce.len() != 22 {
            return None;
        }
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(username, issued, nonce);
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), &mac).ok()?;
        Some(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_credential_names_its_user_and_nothing_else_passes() {
        let d = Devices::new(&[7; 32]);
        let c = d.issue("alice", NOW).unwrap();
        let id = d.check(&c, "alice", NOW + 10).unwrap();
        assert_eq!(id.len(), 22);
        assert_ne!(d.issue("alice", NOW).unwrap(), c, "a new nonce each time");
        assert_eq!(d.check(&c, "bob", NOW), None, "another user's");
        assert_eq!(
            Devices::new(&[8; 32]).check(&c, "alice", NOW),
            None,
            "another secret's"
        );
        assert_eq!(d.check(&c, "alice", NOW - 1), None, "issued in the future");
        let ttl = DEVICE_TTL.as_secs();
        assert!(d.check(&c, "alice", NOW + ttl).is_some());
        assert_eq!(d.check(&c, "alice", NOW + ttl + 1), None, "expired");
        let (issued, rest) = c.split_once('.').unwrap();
        let (nonce, mac) = rest.split_once('.').unwrap();
        for forged in [
            format!("{}.{nonce}.{mac}", NOW + 1),
            format!("0{issued}.{nonce}.{mac}"),
            format!("{issued}.{}A.{mac}", &nonce[..21]),
            format!("{issued}.{nonce}.{}", &mac[..mac.len() - 1]),
            format!("{c}.x"),
            "x".repeat(200),
            String::new(),
        ] {
            assert_eq!(d.check(&forged, "alice", NOW), None, "{forged}");
        }
    }
}
