//! Secrets and signatures as types: a [`SecretKey`] is zeroed on drop, prints as `***`, and has no
//! `Serialize`; a [`Signature`] has no `==`, only a constant-time comparison.

use std::fmt;

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string (secret access key, session token key material). Zeroed on drop.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    /// Wraps a secret the moment it is read.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(Zeroizing::new(secret.into()))
    }

    /// The secret itself. Call sites are the few places that sign or verify.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for an empty secret (a config mistake, reported by validation).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretKey::new)
    }
}

/// A SigV4 signature (32 bytes). No `PartialEq`: compare with [`Signature::ct_eq`].
#[derive(Clone, Copy)]
pub struct Signature(pub [u8; 32]);

impl Signature {
    /// Parses 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Signature(out))
    }

    /// Lowercase hex, for writing into a request we sign. Never log it.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Signature) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(***)")
    }
}

#[cfg(test)]
mod tests;
