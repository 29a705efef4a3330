//! The algorithms accepted and the keys of a JWKS that verify them: parsing skips every key
//! that cannot verify a signature (encryption keys, unknown curves, RSA under
//! [`MIN_RSA_BITS`]).

use super::*;

/// Signature algorithms accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the JWA names
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    /// Parses a JWA name; `None` for anything not accepted (`none`, `HS256`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    pub(super) fn fits(self, key: &PublicKey) -> bool {
        matches!(
            (self, key),
            (
                Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512,
                PublicKey::Rsa(_)
            ) | (Self::ES256, PublicKey::P256(_))
                | (Self::ES384, PublicKey::P384(_))
                | (Self::EdDSA, PublicKey::Ed25519(_))
        )
    }
}

/// A public key from a JWKS.
#[derive(Clone, Debug)]
pub(super) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// One usable key of a JWKS.
#[derive(Clone, Debug)]
pub(super) struct Jwk {
    pub(super) kid: Option<String>,
    pub(super) alg: Option<String>,
    pub(super) key: PublicKey,
}

/// A parsed JSON Web Key Set: the signing keys of one issuer. Parse once per fetch and keep it
/// (key parsing is the expensive part).
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    pub(super) keys: Vec<Jwk>,
    pub(super) skipped: usize,
}

impl Jwks {
    /// Parses `{"keys": [...]}`. Keys that cannot verify signatures (encryption keys, unknown
    /// types or curves, bad parameters, RSA under 2048 bits) are skipped and counted, not errors;
    /// a document that is not a JWKS at all is.
    pub fn parse(json: &[u8]) -> Result<Self, JwtError> {
        let doc: Value = serde_json::from_slice(json)
            .map_err(|_| JwtError::Malformed("the JWKS is not JSON"))?;
        let Some(items) = doc.get("keys").and_then(Value::as_array) else {
            return Err(JwtError::Malformed("the JWKS has no \"keys\" list"));
        };
        let mut out = Jwks::default();
        for item in items {
            match parse_jwk(item) {
                Some(k) => out.keys.push(k),
                None => out.skipped += 1,
            }
        }
        Ok(out)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys skipped as unusable when parsing.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

pub(super) fn b64_field(item: &Value, name: &str) -> Option<Vec<u8>> {
    let s = item.get(name)?.as_str()?;
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub(super) fn parse_jwk(item: &Value) -> Option<Jwk> {
    let str_field = |n: &str| item.get(n).and_then(Value::as_str);
    if str_field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = item.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return None;
        }
    }
    let key = match (str_field("kty")?, str_field("crv")) {
        ("RSA", _) => {
            let n = BigUint::from_bytes_be(&b64_field(item, "n")?);
            let e = BigUint::from_bytes_be(&b64_field(item, "e")?);
            let key = RsaPublicKey::new(n, e).ok()?;
            if key.n().bits() < MIN_RSA_BITS {
                return None;
            }
            PublicKey::Rsa(key)
        }
        ("EC", Some("P-256")) => {
            let point = ec_point(item, 32)?;
            PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
        }
        ("EC", Some("P-384")) => {
            let point = ec_point(item, 48)?;
            PublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
        }
        ("OKP", Some("Ed25519")) => {
            let x: [u8; 32] = b64_field(item, "x")?.try_into().ok()?;
            PublicKey::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&x).ok()?)
        }
        _ => return None,
    };
    Some(Jwk {
        kid: str_field("kid").map(str::to_string),
        alg: str_field("alg").map(str::to_string),
        key,
    })
}

/// The uncompressed SEC1 point `04 | x | y` of an EC JWK.
pub(super) fn ec_point(item: &Value, len: usize) -> Option<Vec<u8>> {
    let x = b64_field(item, "x")?;
    let y = b64_field(item, "y")?;
    if x.len() != len || y.len() != len {
        return None;
    }
    let mut p = Vec::with_capacity(1 + 2 * len);
    p.push(4);
    p.extend_from_slice(&x);
    p.extend_from_slice(&y);
    Some(p)
}
