//! OIDC token (JWT) validation against a JWKS the runtime fetched, for a role.
//!
//! Three steps, so the runtime can do its I/O in between:
//! 1. [`peek`] reads the header and claims **without** checking the signature, only to learn
//!    the issuer (whose JWKS the runtime must have) and the `kid`.
//! 2. [`verify_signature`] checks the signature with a parsed [`Jwks`]. A `kid` the JWKS does not
//!    have is [`JwtError::UnknownKid`], distinct from a bad signature, so the runtime can refetch
//!    the JWKS (rate limited) and try again.
//! 3. [`check_claims`] checks `iss`, `aud`, `exp`, `nbf`, `iat`, `sub` and the role's claim
//!    conditions at the `now` passed in.
//!
//! # Security notes
//!
//! - Accepted algorithms: RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (Ed25519, strict
//!   verification). `none` and every HMAC algorithm are refused before any key is looked at, so a
//!   token "signed" with the issuer's public key as an HMAC secret never verifies.
//! - The key type must fit the algorithm (RSA for RS/PS, P-256 for ES256...), and a JWK that names
//!   its own `alg` must name the token's. RSA keys under 2048 bits are skipped.
//! - Tokens with a `crit` header are refused (we understand no extensions); `jku`, `x5u` and
//!   embedded `jwk` headers are ignored: keys come only from the issuer's JWKS.
//! - `exp` is required and strict; `nbf` and `iat` get [`LEEWAY_SECS`] of clock skew.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

use super::scopes::Claims;
use crate::config::RoleConfig;
use crate::policy::glob_match;
use crate::time::Timestamp;

mod claims;
mod jwks;
mod signature;

pub(crate) use claims::*;
pub(crate) use jwks::*;
pub(crate) use signature::*;

/// Clock skew allowed on `nbf` and `iat`.
pub(crate) const LEEWAY_SECS: i64 = 60;
/// Longest token accepted, in bytes.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// Why a token was refused. Messages name the check, never a key or a signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts of JSON, a claim of the wrong type, or an unusable JWKS.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Over [`MAX_TOKEN_BYTES`].
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// `alg` is `none`, an HMAC algorithm, or unknown.
    #[error("the token algorithm '{0}' is not accepted (asymmetric signatures only)")]
    UnsupportedAlgorithm(String),
    /// The header has a `crit` parameter.
    #[error("the token has critical header extensions, which are not supported")]
    CriticalHeader,
    /// The JWKS has no key with the token's `kid`: refetch the JWKS, then retry once.
    #[error("no key with kid '{kid}' in the issuer's JWKS")]
    UnknownKid {
        /// The token's `kid`.
        kid: String,
    },
    /// No `kid`, and no key of the JWKS fits the algorithm.
    #[error("no key in the issuer's JWKS fits algorithm {0:?}")]
    NoUsableKey(Algorithm),
    /// The signature does not verify.
    #[error("the token signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("the token has no '{0}' claim")]
    MissingClaim(&'static str),
    /// `iss` is not one of the role's trusted issuers.
    #[error("the issuer '{0}' is not trusted by this role")]
    UntrustedIssuer(String),
    /// No `aud` value is one of the role's audiences.
    #[error("the token audience is not one this role accepts")]
    AudienceMismatch,
    /// `exp` has passed.
    #[error("the token expired at {0}")]
    Expired(Timestamp),
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid before {0}")]
    NotYetValid(Timestamp),
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future ({0})")]
    IssuedInFuture(Timestamp),
    /// `sub` matches none of the role's subject conditions.
    #[error("the subject '{0}' is not allowed to assume this role")]
    SubjectRejected(String),
    /// A claim condition of the role is not met.
    #[error("the claim '{0}' does not meet this role's conditions")]
    ClaimRejected(String),
}

/// A token split and decoded, signature not yet checked.
#[derive(Clone, Debug)]
pub(crate) struct UnverifiedToken<'a> {
    /// The accepted algorithm the header names.
    pub alg: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The claims. **Unverified**: use only to pick the JWKS.
    pub claims: Claims,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl UnverifiedToken<'_> {
    /// The unverified `iss`, if it is a string.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
}

fn decode_json(part: &str, what: &'static str) -> Result<serde_json::Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed(what)),
    }
}

/// Splits and decodes a compact JWS, refusing unaccepted algorithms and `crit` headers. The
/// signature is **not** checked.
pub(crate) fn peek(token: &str) -> Result<UnverifiedToken<'_>, JwtError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let header = decode_json(h, "the header is not base64url JSON")?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed("the header has no alg"))?;
    let alg = Algorithm::from_name(alg_name)
        .ok_or_else(|| JwtError::UnsupportedAlgorithm(alg_name.chars().take(32).collect()))?;
    if header.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwtError::Malformed("kid is not a string")),
    };
    let claims = decode_json(c, "the claims are not base64url JSON")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    Ok(UnverifiedToken {
        alg,
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
    })
}

// The test keys load through rsa's `pem` feature, a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests;
