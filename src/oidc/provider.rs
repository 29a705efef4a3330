//! The gateway's own OIDC provider: an RSA signing key (plus the previous one during a
//! rotation), the discovery document and JWKS it publishes, and short-lived RS256 tokens it mints
//! for backends (see [`crate::backend::federation`]).
//!
//! # Invariants
//!
//! - Keys come from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), RSA of at least
//!   [`MIN_RSA_BITS`] bits; anything else is refused when the runtime starts or builds its
//!   snapshot, never at the first request.
//! - The `kid` of a key is its RFC 7638 JWK thumbprint, so it is stable across restarts and
//!   isolates and needs no configuration.
//! - Tokens are signed with the current key only; the JWKS lists the current and the previous
//!   key, so tokens minted just before a rotation still verify.
//! - Signing is RSASSA-PKCS1-v1_5 with SHA-256: deterministic output. The runtime's random bytes
//!   only blind the private-key operation (side-channel hardening) and make the `jti`.
//! - The private key never shows in Debug output and is zeroed on drop (the `rsa` crate's
//!   `RsaPrivateKey` zeroizes itself).

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::sts::jwt::MIN_RSA_BITS;
use crate::time::Timestamp;

/// `Cache-Control` of the discovery document and the JWKS: verifiers refetch within five
/// minutes, so a rotation is seen quickly, and the previous key stays published far longer.
pub(crate) const CACHE_CONTROL: &str = "public, max-age=300";
/// The discovery path under the issuer.
pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The JWKS path under the issuer.
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// A provider key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct KeyError {
    /// The variable the key came from (`OIDC_PROVIDER_KEY`...).
    pub name: String,
    /// What is wrong with it (never the key itself).
    pub reason: String,
}

/// One signing key with its published form.
struct ProviderKey {
    signer: SigningKey<Sha256>,
    kid: String,
    jwk: Value,
}

impl ProviderKey {
    fn from_pem(name: &str, pem: &str) -> Result<Self, KeyError> {
        let key = rsa_key_from_pem(name, pem)?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = rsa_thumbprint(&n, &e);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        });
        Ok(ProviderKey {
            signer: SigningKey::<Sha256>::new(key),
            kid,
            jwk,
        })
    }
}

/// An RSA private key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, literal `\n`s
/// accepted), of at least [`MIN_RSA_BITS`] bits. `name` says where it came from, in errors.
pub(crate) fn rsa_key_from_pem(name: &str, pem: &str) -> Result<RsaPrivateKey, KeyError> {
    let fail = |reason: String| KeyError {
        name: name.to_string(),
        reason,
    };
    // Env vars and wrangler vars often carry a PEM with literal `\n`s.
    let pem = pem.trim().replace("\\n", "\n");
    let key = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        RsaPrivateKey::from_pkcs1_pem(&pem)
            .map_err(|e| fail(format!("not a valid PKCS#1 RSA private key ({e})")))?
    } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
        RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| fail(format!("not a valid PKCS#8 RSA private key ({e})")))?
    } else if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(fail(
            "an encrypted private key; give the unencrypted PEM (openssl pkey -in key.pem)"
                .to_string(),
        ));
    } else {
        return Err(fail(
            "expected an RSA private key in PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
                .to_string(),
        ));
    };
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(fail(format!(
            "an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    Ok(key)
}

/// RFC 7638 thumbprint of an RSA JWK (`n` and `e` base64url): base64url of the SHA-256 of
/// `{"e":..,"kty":"RSA","n":..}` with the members in that order and no whitespace.
pub(crate) fn rsa_thumbprint(n_b64: &str, e_b64: &str) -> String {
    let canonical = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The gateway's OIDC provider: issuer URL and signing keys. Built once per process or config
/// snapshot.
pub struct OidcProvider {
    issuer: String,
    current: ProviderKey,
    previous: Option<ProviderKey>,
    discovery: String,
    jwks: String,
}

impl fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer)
            .field("kid", &self.current.kid)
            .field(
                "previous_kid",
                &self.previous.as_ref().map(|k| k.kid.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// What a minted token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintRequest<'a> {
    /// `sub`.
    pub subject: &'a str,
    /// `aud`.
    pub audience: &'a str,
    /// Seconds from `now` to `exp`.
    pub ttl_secs: i64,
}

impl OidcProvider {
    /// The provider from `OIDC_PROVIDER_ISSUER`, `OIDC_PROVIDER_KEY` and, during a rotation,
    /// `OIDC_PROVIDER_KEY_PREVIOUS` (their values, as read by the runtime).
    pub fn from_env_values(
        issuer: &str,
        current_pem: &str,
        previous_pem: Option<&str>,
    ) -> Result<Self, KeyError> {
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        if crate::sts::fetch::check_url(&issuer).is_err() || issuer.contains(['?', '#']) {
            return Err(KeyError {
                name: "OIDC_PROVIDER_ISSUER".to_string(),
                reason: format!(
                    "'{issuer}' is not an https URL without query or fragment (plain http only on loopback)"
                ),
            });
        }
        let current = ProviderKey::from_pem("OIDC_PROVIDER_KEY", current_pem)?;
        let previous = previous_pem
            .filter(|p| !p.trim().is_empty())
            .map(|p| ProviderKey::from_pem("OIDC_PROVIDER_KEY_PREVIOUS", p))
            .transpose()?
            .filter(|p| p.kid != current.kid);
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid"],
            "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"],
        })
        .to_string();
        let mut keys = vec![current.jwk.clone()];
        keys.extend(previous.as_ref().map(|p| p.jwk.clone()));
        let jwks = json!({ "keys": keys }).to_string();
        Ok(OidcProvider {
            issuer,
            current,
            previous,
            discovery,
            jwks,
        })
    }

    /// The issuer URL (no trailing `/`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `kid` tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// `/.well-known/openid-configuration`, as JSON.
    pub fn discovery_document(&self) -> &str {
        &self.discovery
    }

    /// The JWKS (current key first, then the previous one), as JSON.
    pub fn jwks_document(&self) -> &str {
        &self.jwks
    }

    /// The path of the issuer URL (empty for a bare host), under which the documents are served.
    pub fn issuer_path(&self) -> &str {
        let after_scheme = self.issuer.find("://").map_or(0, |i| i + 3);
        self.issuer[after_scheme..]
            .find('/')
            .map_or("", |i| &self.issuer[after_scheme + i..])
    }

    /// The document served at `path` (a request path, no query), if any.
    pub fn document_for(&self, path: &str) -> Option<&str> {
        let rest = path.strip_prefix(self.issuer_path())?;
        match rest {
            DISCOVERY_PATH => Some(&self.discovery),
            JWKS_PATH => Some(&self.jwks),
            _ => None,
        }
    }

    /// A compact RS256 JWT: `iss`, `sub`, `aud`, `iat` = `nbf` = `now`, `exp` = `now + ttl`,
    /// and a `jti` of 16 random bytes. `rng` fills the `jti` and blinds the signing operation.
    pub fn mint(
        &self,
        req: &MintRequest<'_>,
        now: Timestamp,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<String, KeyError> {
        let mut jti = [0u8; 16];
        rng(&mut jti);
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.current.kid});
        let claims = json!({
            "iss": self.issuer,
            "sub": req.subject,
            "aud": req.audience,
            "iat": now.0,
            "nbf": now.0,
            "exp": now.0.saturating_add(req.ttl_secs),
            "jti": hex::encode(jti),
        });
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .current
            .signer
            .try_sign_with_rng(&mut RuntimeRng(rng), token.as_bytes())
            .map_err(|e| KeyError {
                name: "OIDC_PROVIDER_KEY".to_string(),
                reason: format!("signing failed ({e})"),
            })?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(token)
    }
}

/// The runtime's random source as the `rand_core` RNG `rsa` blinds with.
/// The runtime's random source as an `rsa` RNG.
pub(crate) struct RuntimeRng<'a>(pub(crate) &'a mut dyn FnMut(&mut [u8]));

impl rsa::rand_core::RngCore for RuntimeRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        (self.0)(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        (self.0)(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (self.0)(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        (self.0)(dest);
        Ok(())
    }
}

// The runtimes' sources are their CSPRNGs (getrandom natively, crypto.getRandomValues on Workers).
impl rsa::rand_core::CryptoRng for RuntimeRng<'_> {}

#[cfg(test)]
mod tests;
