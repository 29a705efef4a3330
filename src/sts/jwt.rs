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

/// Clock skew allowed on `nbf` and `iat`.
pub(crate) const LEEWAY_SECS: i64 = 60;
/// Longest token accepted, in bytes.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

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

    fn fits(self, key: &PublicKey) -> bool {
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
enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// One usable key of a JWKS.
#[derive(Clone, Debug)]
struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: PublicKey,
}

/// A parsed JSON Web Key Set: the signing keys of one issuer. Parse once per fetch and keep it
/// (key parsing is the expensive part).
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    skipped: usize,
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

fn b64_field(item: &Value, name: &str) -> Option<Vec<u8>> {
    let s = item.get(name)?.as_str()?;
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

fn parse_jwk(item: &Value) -> Option<Jwk> {
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
fn ec_point(item: &Value, len: usize) -> Option<Vec<u8>> {
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

fn verify_with(alg: Algorithm, key: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::{pkcs1v15, pss};
    match (alg, key) {
        (Algorithm::RS256, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha256>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::RS384, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha384>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::RS512, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha512>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::PS256, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha256>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::PS384, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha384>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::PS512, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha512>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::ES256, PublicKey::P256(k)) => {
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (Algorithm::ES384, PublicKey::P384(k)) => {
            p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (Algorithm::EdDSA, PublicKey::Ed25519(k)) => <[u8; 64]>::try_from(sig).is_ok_and(|s| {
            k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&s))
                .is_ok()
        }),
        _ => false,
    }
}

fn rsa_verify<V, S>(key: V, msg: &[u8], sig: &[u8]) -> bool
where
    V: Verifier<S>,
    S: for<'a> TryFrom<&'a [u8]>,
{
    S::try_from(sig).is_ok_and(|s| key.verify(msg, &s).is_ok())
}

/// Checks the signature of a peeked token with the issuer's JWKS and returns its claims (still
/// to be checked with [`check_claims`]).
pub(crate) fn verify_signature(
    token: UnverifiedToken<'_>,
    jwks: &Jwks,
) -> Result<Claims, JwtError> {
    let fits = |k: &&Jwk| {
        token.alg.fits(&k.key)
            && k.alg
                .as_deref()
                .is_none_or(|a| Algorithm::from_name(a) == Some(token.alg))
    };
    let candidates: Vec<&Jwk> = match &token.kid {
        Some(kid) => {
            let with_kid: Vec<&Jwk> = jwks
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                .collect();
            if with_kid.is_empty() {
                return Err(JwtError::UnknownKid {
                    kid: kid.chars().take(128).collect(),
                });
            }
            with_kid.into_iter().filter(fits).collect()
        }
        None => jwks.keys.iter().filter(fits).collect(),
    };
    if candidates.is_empty() {
        return Err(if token.kid.is_some() {
            JwtError::BadSignature
        } else {
            JwtError::NoUsableKey(token.alg)
        });
    }
    let msg = token.signing_input.as_bytes();
    if candidates
        .iter()
        .any(|k| verify_with(token.alg, &k.key, msg, &token.signature))
    {
        Ok(token.claims)
    } else {
        Err(JwtError::BadSignature)
    }
}

fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<Timestamp>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(Timestamp(i)))
            } else {
                // Fractional NumericDate: whole seconds, floor (always finite from JSON).
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.abs() < 1e15 {
                    #[allow(clippy::cast_possible_truncation)] // bounded just above
                    Ok(Some(Timestamp(f.floor() as i64)))
                } else {
                    Err(JwtError::Malformed("a date claim is out of range"))
                }
            }
        }
        Some(_) => Err(JwtError::Malformed("a date claim is not a number")),
    }
}

/// What [`check_claims`] found: the values the STS response reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckedClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// The audience that matched (always set: a role without audiences accepts no token).
    pub audience: Option<String>,
    /// `exp`.
    pub expires_at: Timestamp,
}

/// Checks verified claims against `role` at `now`.
pub(crate) fn check_claims(
    claims: &Claims,
    role: &RoleConfig,
    now: Timestamp,
) -> Result<CheckedClaims, JwtError> {
    let issuer = match claims.get("iss") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("iss")),
        Some(_) => return Err(JwtError::Malformed("iss is not a string")),
    };
    if !role.trusted_oidc_issuers.contains(&issuer) {
        return Err(JwtError::UntrustedIssuer(issuer));
    }

    let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now >= exp {
        return Err(JwtError::Expired(exp));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now.0.saturating_add(LEEWAY_SECS) < nbf.0 {
            return Err(JwtError::NotYetValid(nbf));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if now.0.saturating_add(LEEWAY_SECS) < iat.0 {
            return Err(JwtError::IssuedInFuture(iat));
        }
    }

    let auds: Vec<&str> = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or(JwtError::Malformed("aud holds a non-string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::Malformed("aud is not a string or a list")),
    };
    // A role without audiences is refused at config load; should one get here anyway, it
    // accepts nothing (fail closed), never any audience.
    let audience = Some(
        auds.iter()
            .find(|a| role.required_audiences.iter().any(|r| r == *a))
            .ok_or(JwtError::AudienceMismatch)?
            .to_string(),
    );

    let subject = match claims.get("sub") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("sub")),
        Some(_) => return Err(JwtError::Malformed("sub is not a string")),
    };
    if !role
        .subject_conditions
        .iter()
        .any(|g| glob_match(g, &subject))
    {
        return Err(JwtError::SubjectRejected(subject));
    }

    for (claim, globs) in &role.claim_conditions {
        if !claim_matches(claims.get(claim), globs) {
            return Err(JwtError::ClaimRejected(claim.clone()));
        }
    }

    Ok(CheckedClaims {
        issuer,
        subject,
        audience,
        expires_at: exp,
    })
}

/// A claim value against globs: strings as they are, numbers and booleans by their JSON text,
/// lists when any element matches; absent, null and objects never match.
fn claim_matches(value: Option<&Value>, globs: &[String]) -> bool {
    let one = |text: &str| globs.iter().any(|g| glob_match(g, text));
    match value {
        Some(Value::String(s)) => one(s),
        Some(Value::Number(n)) => one(&n.to_string()),
        Some(Value::Bool(b)) => one(if *b { "true" } else { "false" }),
        Some(Value::Array(items)) => items
            .iter()
            .any(|v| !matches!(v, Value::Array(_)) && claim_matches(Some(v), globs)),
        _ => false,
    }
}

// The test keys load through rsa's `pem` feature, a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    use serde_json::json;

    pub(crate) const ISSUER: &str = "https://token.actions.githubusercontent.com";
    pub(crate) const NOW: Timestamp = Timestamp(1_700_000_000);

    pub(crate) fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("testdata/rsa2048_test_only.pem"))
            .expect("test key")
    }

    fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    /// A deterministic RNG for PSS signing in tests.
    struct TestRng(u64);
    impl rsa::rand_core::RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            u32::try_from(self.next_u64() >> 32).unwrap_or(0)
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64().to_be_bytes()[0];
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rsa::rand_core::CryptoRng for TestRng {}

    /// Test signing keys and their JWKS entries.
    pub(crate) enum TestKey {
        Rsa(rsa::RsaPrivateKey),
        P256(p256::ecdsa::SigningKey),
        P384(p384::ecdsa::SigningKey),
        Ed(ed25519_dalek::SigningKey),
    }

    impl TestKey {
        pub(crate) fn p256() -> Self {
            TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap())
        }
        fn p384() -> Self {
            TestKey::P384(p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap())
        }
        fn ed() -> Self {
            TestKey::Ed(ed25519_dalek::SigningKey::from_bytes(&[0x33; 32]))
        }

        pub(crate) fn jwk(&self, kid: &str) -> Value {
            match self {
                TestKey::Rsa(k) => json!({
                    "kty": "RSA", "kid": kid, "use": "sig",
                    "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()),
                }),
                TestKey::P256(k) => {
                    let p = k.verifying_key().to_encoded_point(false);
                    json!({"kty": "EC", "crv": "P-256", "kid": kid,
                        "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
                }
                TestKey::P384(k) => {
                    let p = k.verifying_key().to_encoded_point(false);
                    json!({"kty": "EC", "crv": "P-384", "kid": kid,
                        "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
                }
                TestKey::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                    "x": b64(k.verifying_key().as_bytes())}),
            }
        }

        pub(crate) fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
            use rsa::{pkcs1v15, pss};
            match (self, alg) {
                (TestKey::Rsa(k), "RS256") => pkcs1v15::SigningKey::<Sha256>::new(k.clone())
                    .sign(input)
                    .to_vec(),
                (TestKey::Rsa(k), "RS384") => pkcs1v15::SigningKey::<Sha384>::new(k.clone())
                    .sign(input)
                    .to_vec(),
                (TestKey::Rsa(k), "RS512") => pkcs1v15::SigningKey::<Sha512>::new(k.clone())
                    .sign(input)
                    .to_vec(),
                (TestKey::Rsa(k), "PS256") => pss::SigningKey::<Sha256>::new(k.clone())
                    .sign_with_rng(&mut TestRng(9), input)
                    .to_vec(),
                (TestKey::P256(k), _) => {
                    let s: p256::ecdsa::Signature = k.sign(input);
                    s.to_bytes().to_vec()
                }
                (TestKey::P384(k), _) => {
                    let s: p384::ecdsa::Signature = k.sign(input);
                    s.to_bytes().to_vec()
                }
                (TestKey::Ed(k), _) => {
                    use ed25519_dalek::Signer as _;
                    k.sign(input).to_bytes().to_vec()
                }
                _ => panic!("no test signer for {alg}"),
            }
        }
    }

    /// A signed compact JWS.
    pub(crate) fn jwt(key: &TestKey, alg: &str, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(k) = kid {
            header["kid"] = json!(k);
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = key.sign(alg, input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    pub(crate) fn jwks(entries: &[Value]) -> Jwks {
        Jwks::parse(json!({ "keys": entries }).to_string().as_bytes()).unwrap()
    }

    pub(crate) fn good_claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": "sts.amazonaws.com",
            "sub": "repo:org/repo:ref:refs/heads/main",
            "repository": "org/repo",
            "ref": "refs/heads/main",
            "exp": NOW.0 + 300,
            "iat": NOW.0 - 10,
            "nbf": NOW.0 - 10,
        })
    }

    pub(crate) fn role() -> RoleConfig {
        RoleConfig {
            role_id: "ci".into(),
            name: None,
            trusted_oidc_issuers: vec![ISSUER.into()],
            required_audiences: vec!["sts.amazonaws.com".into()],
            subject_conditions: vec!["repo:org/*".into()],
            claim_conditions: Default::default(),
            max_session_duration_secs: Some(7200),
            allowed_scopes: vec![],
        }
    }

    fn validate(token: &str, jwks: &Jwks, role: &RoleConfig) -> Result<CheckedClaims, JwtError> {
        let claims = verify_signature(peek(token)?, jwks)?;
        check_claims(&claims, role, NOW)
    }

    #[test]
    fn every_accepted_algorithm_verifies() {
        let rsa = TestKey::Rsa(rsa_key());
        let cases = [
            (&rsa, "RS256"),
            (&rsa, "RS384"),
            (&rsa, "RS512"),
            (&rsa, "PS256"),
            (&TestKey::p256(), "ES256"),
            (&TestKey::p384(), "ES384"),
            (&TestKey::ed(), "EdDSA"),
        ];
        for (key, alg) in cases {
            let set = jwks(&[key.jwk("k1")]);
            let t = jwt(key, alg, Some("k1"), &good_claims());
            let checked = validate(&t, &set, &role()).unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(checked.subject, "repo:org/repo:ref:refs/heads/main");
            assert_eq!(checked.audience.as_deref(), Some("sts.amazonaws.com"));
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let input = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(good_claims().to_string().as_bytes())
        );
        assert_eq!(
            peek(&input).unwrap_err(),
            JwtError::UnsupportedAlgorithm("none".into())
        );
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        let key = TestKey::Rsa(rsa_key());
        let jwk = key.jwk("k1");
        // The classic confusion attack: the issuer's public key used as an HMAC secret.
        let secret = jwk.to_string();
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","kid":"k1"}"#),
            b64(good_claims().to_string().as_bytes())
        );
        let mac = crate::auth::hmac::sha256(secret.as_bytes(), &[input.as_bytes()]);
        let t = format!("{input}.{}", b64(&mac));
        assert_eq!(
            validate(&t, &jwks(&[jwk]), &role()).unwrap_err(),
            JwtError::UnsupportedAlgorithm("HS256".into())
        );
    }

    #[test]
    fn an_unknown_kid_is_reported_distinctly_for_a_refetch() {
        let key = TestKey::p256();
        let t = jwt(&key, "ES256", Some("new-key"), &good_claims());
        assert_eq!(
            validate(&t, &jwks(&[key.jwk("old-key")]), &role()).unwrap_err(),
            JwtError::UnknownKid {
                kid: "new-key".into()
            }
        );
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let signer = TestKey::p256();
        let other = TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap());
        let t = jwt(&signer, "ES256", Some("k1"), &good_claims());
        assert_eq!(
            validate(&t, &jwks(&[other.jwk("k1")]), &role()).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn a_tampered_claim_breaks_the_signature() {
        let key = TestKey::Rsa(rsa_key());
        let t = jwt(&key, "RS256", Some("k1"), &good_claims());
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        let mut c = good_claims();
        c["sub"] = json!("repo:org/evil:ref:refs/heads/main");
        parts[1] = b64(c.to_string().as_bytes());
        assert_eq!(
            validate(&parts.join("."), &jwks(&[key.jwk("k1")]), &role()).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn a_key_of_the_wrong_type_for_the_algorithm_is_not_used() {
        // An EC key in the JWKS under the kid of an RS256 token.
        let rsa = TestKey::Rsa(rsa_key());
        let t = jwt(&rsa, "RS256", Some("k1"), &good_claims());
        assert_eq!(
            validate(&t, &jwks(&[TestKey::p256().jwk("k1")]), &role()).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn a_jwk_pinned_to_another_alg_is_not_used() {
        let rsa = TestKey::Rsa(rsa_key());
        let mut jwk = rsa.jwk("k1");
        jwk["alg"] = json!("PS256");
        let t = jwt(&rsa, "RS256", Some("k1"), &good_claims());
        assert_eq!(
            validate(&t, &jwks(&[jwk]), &role()).unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[test]
    fn without_kid_every_fitting_key_is_tried() {
        let a = TestKey::p256();
        let b = TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x55; 32]).unwrap());
        let t = jwt(&b, "ES256", None, &good_claims());
        let set = jwks(&[a.jwk("a"), b.jwk("b")]);
        assert!(validate(&t, &set, &role()).is_ok());
        assert_eq!(
            validate(&t, &jwks(&[TestKey::ed().jwk("e")]), &role()).unwrap_err(),
            JwtError::NoUsableKey(Algorithm::ES256)
        );
    }

    #[test]
    fn jwks_skips_encryption_and_unknown_keys() {
        let mut enc = TestKey::p256().jwk("enc");
        enc["use"] = json!("enc");
        let set = jwks(&[
            enc,
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            TestKey::ed().jwk("ok"),
        ]);
        assert_eq!(set.len(), 1);
        assert_eq!(set.skipped(), 4);
        assert!(set.contains_kid("ok"));
        assert!(Jwks::parse(b"[]").is_err());
        assert!(Jwks::parse(b"not json").is_err());
    }

    #[test]
    fn crit_headers_are_refused() {
        let input = format!(
            "{}.{}.AA",
            b64(br#"{"alg":"RS256","crit":["exp"]}"#),
            b64(b"{}")
        );
        assert_eq!(peek(&input).unwrap_err(), JwtError::CriticalHeader);
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for t in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "eyJhbGciOiJSUzI1NiJ9..",
            "eyJhbGciOjF9.e30.AA",
            "W10.e30.AA",
        ] {
            assert!(peek(t).is_err(), "{t:?}");
        }
        assert_eq!(
            peek(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
            JwtError::TooLarge
        );
    }

    fn check(claims: Value, role: &RoleConfig) -> Result<CheckedClaims, JwtError> {
        check_claims(claims.as_object().unwrap(), role, NOW)
    }

    #[test]
    fn an_untrusted_issuer_is_refused() {
        let mut c = good_claims();
        c["iss"] = json!("https://evil.example");
        assert_eq!(
            check(c, &role()).unwrap_err(),
            JwtError::UntrustedIssuer("https://evil.example".into())
        );
    }

    #[test]
    fn the_audience_may_be_a_string_or_a_list() {
        let mut c = good_claims();
        c["aud"] = json!(["other", "sts.amazonaws.com"]);
        assert_eq!(
            check(c.clone(), &role()).unwrap().audience.as_deref(),
            Some("sts.amazonaws.com")
        );
        c["aud"] = json!(["other"]);
        assert_eq!(
            check(c.clone(), &role()).unwrap_err(),
            JwtError::AudienceMismatch
        );
        c.as_object_mut().unwrap().remove("aud");
        assert_eq!(
            check(c.clone(), &role()).unwrap_err(),
            JwtError::AudienceMismatch
        );
    }

    #[test]
    fn a_role_without_audiences_accepts_no_token_at_all() {
        let mut open = role();
        open.required_audiences.clear();
        let mut c = good_claims();
        assert_eq!(
            check(c.clone(), &open).unwrap_err(),
            JwtError::AudienceMismatch
        );
        c.as_object_mut().unwrap().remove("aud");
        assert_eq!(check(c, &open).unwrap_err(), JwtError::AudienceMismatch);
    }

    #[test]
    fn exp_is_required_and_strict() {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check(c.clone(), &role()).unwrap_err(),
            JwtError::MissingClaim("exp")
        );
        c["exp"] = json!(NOW.0);
        assert_eq!(
            check(c.clone(), &role()).unwrap_err(),
            JwtError::Expired(NOW)
        );
        c["exp"] = json!(NOW.0 as f64 + 0.5);
        assert!(check(c.clone(), &role()).is_err(), "floored to now");
        c["exp"] = json!("tomorrow");
        assert!(matches!(check(c, &role()), Err(JwtError::Malformed(_))));
    }

    #[test]
    fn nbf_and_iat_get_sixty_seconds_of_leeway() {
        let mut c = good_claims();
        c["nbf"] = json!(NOW.0 + 60);
        c["iat"] = json!(NOW.0 + 60);
        assert!(check(c.clone(), &role()).is_ok());
        c["nbf"] = json!(NOW.0 + 61);
        assert_eq!(
            check(c.clone(), &role()).unwrap_err(),
            JwtError::NotYetValid(Timestamp(NOW.0 + 61))
        );
        c["nbf"] = json!(NOW.0);
        c["iat"] = json!(NOW.0 + 61);
        assert_eq!(
            check(c, &role()).unwrap_err(),
            JwtError::IssuedInFuture(Timestamp(NOW.0 + 61))
        );
    }

    #[test]
    fn the_subject_must_match_a_condition_glob() {
        let mut c = good_claims();
        c["sub"] = json!("repo:other/repo:ref:refs/heads/main");
        assert!(matches!(
            check(c.clone(), &role()),
            Err(JwtError::SubjectRejected(_))
        ));
        let mut none = role();
        none.subject_conditions.clear();
        assert!(matches!(
            check(good_claims(), &none),
            Err(JwtError::SubjectRejected(_))
        ));
        c.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            check(c, &role()).unwrap_err(),
            JwtError::MissingClaim("sub")
        );
    }

    #[test]
    fn claim_conditions_match_by_glob_and_fail_closed() {
        let mut r = role();
        r.claim_conditions.insert(
            "ref".into(),
            vec!["refs/heads/main".into(), "refs/tags/v*".into()],
        );
        r.claim_conditions
            .insert("repository".into(), vec!["org/*".into()]);
        assert!(check(good_claims(), &r).is_ok());
        let mut c = good_claims();
        c["ref"] = json!("refs/heads/feature");
        assert_eq!(
            check(c.clone(), &r).unwrap_err(),
            JwtError::ClaimRejected("ref".into())
        );
        c["ref"] = json!("refs/tags/v1.2");
        assert!(check(c.clone(), &r).is_ok());
        c.as_object_mut().unwrap().remove("repository");
        assert_eq!(
            check(c, &r).unwrap_err(),
            JwtError::ClaimRejected("repository".into())
        );
    }

    #[test]
    fn claim_conditions_match_numbers_booleans_and_lists() {
        let globs = vec!["12*".to_string(), "true".into(), "admins".into()];
        assert!(claim_matches(Some(&json!(1234)), &globs));
        assert!(claim_matches(Some(&json!(true)), &globs));
        assert!(claim_matches(Some(&json!(["users", "admins"])), &globs));
        assert!(!claim_matches(Some(&json!(["users"])), &globs));
        assert!(!claim_matches(Some(&json!({"admins": 1})), &globs));
        assert!(!claim_matches(Some(&Value::Null), &globs));
        assert!(!claim_matches(None, &globs));
    }
}
