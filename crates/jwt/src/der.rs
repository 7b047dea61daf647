//! Just enough DER to read the components of an RSA key that aws-lc-rs
//! generated (PKCS#8 wrapping a PKCS#1 RSAPrivateKey), for JWK export.

use zeroize::Zeroizing;

use crate::error::Error;

/// RSA key components, big-endian without leading zeros.
pub(crate) struct RsaParts {
    pub(crate) n: Vec<u8>,
    pub(crate) e: Vec<u8>,
    pub(crate) private: Option<RsaPrivate>,
}

pub(crate) struct RsaPrivate {
    pub(crate) d: Zeroizing<Vec<u8>>,
    pub(crate) p: Zeroizing<Vec<u8>>,
    pub(crate) q: Zeroizing<Vec<u8>>,
    pub(crate) dp: Zeroizing<Vec<u8>>,
    pub(crate) dq: Zeroizing<Vec<u8>>,
    pub(crate) qi: Zeroizing<Vec<u8>>,
}

const BAD: Error = Error::InvalidKey("unexpected RSA key encoding");

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Reads one TLV with the given tag and returns its contents.
    fn tlv(&mut self, tag: u8) -> Result<&'a [u8], Error> {
        let (&t, rest) = self.0.split_first().ok_or(BAD)?;
        if t != tag {
            return Err(BAD);
        }
        let (&first, mut rest) = rest.split_first().ok_or(BAD)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(BAD);
            }
            let (len_bytes, tail) = rest.split_at(n);
            rest = tail;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return Err(BAD);
        }
        let (contents, tail) = rest.split_at(len);
        self.0 = tail;
        Ok(contents)
    }

    /// A non-negative INTEGER, without leading zero bytes.
    fn uint(&mut self) -> Result<&'a [u8], Error> {
        let mut v = self.tlv(0x02)?;
        while let [0, rest @ ..] = v {
            v = rest;
        }
        Ok(v)
    }
}

/// Reads n, e, d, p, q, dp, dq, qi from a PKCS#8 RSA private key.
pub(crate) fn rsa_from_pkcs8(pkcs8: &[u8]) -> Result<RsaParts, Error> {
    let mut outer = Reader(Reader(pkcs8).tlv(0x30)?);
    outer.uint()?; // version
    outer.tlv(0x30)?; // AlgorithmIdentifier
    let key = outer.tlv(0x04)?;
    let mut rsa = Reader(Reader(key).tlv(0x30)?);
    rsa.uint()?; // version
    let n = rsa.uint()?.to_vec();
    let e = rsa.uint()?.to_vec();
    let mut next = || rsa.uint().map(|v| Zeroizing::new(v.to_vec()));
    let private = RsaPrivate {
        d: next()?,
        p: next()?,
        q: next()?,
        dp: next()?,
        dq: next()?,
        qi: next()?,
    };
    Ok(RsaParts {
        n,
        e,
        private: Some(private),
    })
}
