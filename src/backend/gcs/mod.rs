//! Google Cloud Storage through its XML API, which speaks S3's protocol (paths, listings with
//! `list-type=2`, multipart uploads, copies, error documents): a GCS bucket is an
//! [`super::s3::S3Backend`] of the GCS dialect. What differs lives here:
//!
//! - signing with a service account key: Google's V4 signed URLs (`GOOG4-RSA-SHA256`: the SigV4
//!   canonical request under `X-Goog-*` names, signed with RSA PKCS#1 v1.5 SHA-256, hex). HMAC
//!   keys sign as for S3 (GCS's interoperability mode accepts SigV4, region `auto`);
//! - header names: `x-amz-meta-*` and the copy headers become `x-goog-*` on the way in, other
//!   `x-amz-*` headers are not sent (GCS has no use for them: checksums are checked here), and
//!   `x-goog-meta-*` become `x-amz-meta-*` on the way out.
//!
//! # Security
//!
//! The private key never shows in Debug output and is zeroed on drop (`RsaPrivateKey` zeroizes
//! itself). The signing operation is blinded with bytes derived from a secret seed and the
//! string to sign, since the core has no random source of its own per request: the blinding
//! factor stays unpredictable to whoever chooses the request, and signatures stay
//! deterministic (PKCS#1 v1.5 is).

use std::fmt;

use http::{HeaderMap, HeaderName};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::traits::PrivateKeyParts;
use sha2::{Digest, Sha256};

use crate::auth::presign::{presign_with, Credential, PresignRequest, Scheme};
use crate::auth::sigv4::UNSIGNED_PAYLOAD;
use crate::config::BucketConfig;
use crate::oidc::provider::{rsa_key_from_pem, RuntimeRng};

/// The XML API's endpoint.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// The region of GCS signatures: GCS ignores it, Google's signers use `auto`.
pub(crate) const REGION: &str = "auto";
/// The service of Google's V4 credential scope.
pub(crate) const GOOG4_SERVICE: &str = "storage";

/// Google's V4 signing with a service account's RSA key.
pub(crate) const GOOG4_RSA_SHA256: Scheme = Scheme {
    prefix: "X-Goog-",
    algorithm: "GOOG4-RSA-SHA256",
    terminator: "goog4_request",
};

/// A service account key: its email and RSA private key.
pub(crate) struct ServiceAccount {
    client_email: String,
    signer: SigningKey<Sha256>,
    /// Secret seed of the blinding bytes (see the module docs).
    blinding_seed: zeroize::Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key", &"***")
            .finish()
    }
}

impl ServiceAccount {
    /// The service account of a bucket: `service_account_key` (the JSON key file's content),
    /// or `client_email` with `private_key` (PEM). None when neither is given.
    pub(crate) fn from_bucket(b: &BucketConfig) -> Result<Option<Self>, String> {
        let opt = |k: &str| b.option(k).map(str::trim).filter(|v| !v.is_empty());
        let (email, pem) = match (
            opt("service_account_key"),
            opt("client_email"),
            opt("private_key"),
        ) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(
                    "give service_account_key or client_email with private_key, not both"
                        .to_string(),
                )
            }
            (Some(json), None, None) => {
                let file: serde_json::Value = serde_json::from_str(json).map_err(|e| {
                    format!("service_account_key is not a service account's JSON key file ({e})")
                })?;
                let field = |k: &str| file.get(k).and_then(serde_json::Value::as_str);
                if field("type").is_some_and(|k| k != "service_account") {
                    return Err(
                        "service_account_key: \"type\" is not \"service_account\"".to_string()
                    );
                }
                match (field("client_email"), field("private_key")) {
                    (Some(e), Some(k)) if !e.trim().is_empty() => (e.to_string(), k.to_string()),
                    _ => {
                        return Err(
                            "service_account_key has no client_email or private_key".to_string()
                        )
                    }
                }
            }
            (None, Some(e), Some(k)) => (e.to_string(), k.to_string()),
            (None, Some(_), None) => return Err("client_email needs private_key".to_string()),
            (None, None, Some(_)) => return Err("private_key needs client_email".to_string()),
            (None, None, None) => return Ok(None),
        };
        Self::new(email.trim(), &pem).map(Some)
    }

    /// A service account from its email and PEM private key.
    pub(crate) fn new(client_email: &str, pem: &str) -> Result<Self, String> {
        let key = rsa_key_from_pem("private_key", pem).map_err(|e| e.to_string())?;
        let mut seed = Sha256::new();
        seed.update(b"multistore gcs blinding seed\0");
        seed.update(key.d().to_bytes_be());
        Ok(ServiceAccount {
            client_email: client_email.to_string(),
            signer: SigningKey::<Sha256>::new(key),
            blinding_seed: zeroize::Zeroizing::new(seed.finalize().into()),
        })
    }

    /// The account's email (the credential's id).
    pub(crate) fn client_email(&self) -> &str {
        &self.client_email
    }

    /// Hex RSA-SHA256 signature of `data`.
    fn sign_hex(&self, data: &str) -> String {
        let mut counter = 0u32;
        let mut fill = |buf: &mut [u8]| {
            for chunk in buf.chunks_mut(32) {
                let mut h = Sha256::new();
                h.update(*self.blinding_seed);
                h.update(counter.to_be_bytes());
                h.update(data.as_bytes());
                counter = counter.wrapping_add(1);
                chunk.copy_from_slice(&h.finalize()[..chunk.len()]);
            }
        };
        // Signing with a valid key cannot fail; an empty signature would fail at GCS, not here.
        self.signer
            .try_sign_with_rng(&mut RuntimeRng(&mut fill), data.as_bytes())
            .map(|s| hex::encode(s.to_bytes()))
            .unwrap_or_default()
    }
}

/// A V4 signed URL (`GOOG4-RSA-SHA256`, `UNSIGNED-PAYLOAD`) for `req`.
pub(crate) fn presign(req: &PresignRequest<'_>, account: &ServiceAccount) -> String {
    presign_with(
        req,
        &Credential {
            scheme: &GOOG4_RSA_SHA256,
            id: &account.client_email,
            session_token: None,
        },
        UNSIGNED_PAYLOAD,
        |_date, string_to_sign| account.sign_hex(string_to_sign),
    )
}

/// `x-amz-*` request headers GCS knows under an `x-goog-*` name (besides `x-amz-meta-*`).
const RENAMED: &[&str] = &[
    "x-amz-copy-source",
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
];

/// Rewrites the headers of a request to GCS: the `x-amz-*` ones it knows under `x-goog-*`
/// names renamed, the others removed.
pub(crate) fn to_goog_headers(headers: &mut HeaderMap) {
    let amz: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-amz-"))
        .cloned()
        .collect();
    for name in amz {
        let values: Vec<_> = headers.get_all(&name).iter().cloned().collect();
        headers.remove(&name);
        let n = name.as_str();
        if !(n.starts_with("x-amz-meta-") || RENAMED.contains(&n)) {
            continue;
        }
        if let Ok(goog) = HeaderName::from_bytes(format!("x-goog-{}", &n[6..]).as_bytes()) {
            for v in values {
                headers.append(goog.clone(), v);
            }
        }
    }
}

/// The `x-amz-meta-*` name of a backend's `x-goog-meta-*` response header.
pub(crate) fn amz_metadata_name(name: &str) -> Option<HeaderName> {
    let rest = name.strip_prefix("x-goog-meta-")?;
    HeaderName::from_bytes(format!("x-amz-meta-{rest}").as_bytes()).ok()
}

pub(crate) mod answer;
pub(crate) mod federation;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
