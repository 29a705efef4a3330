//! Authentication: who sent this request.
//!
//! [`authenticate`] turns a request into an [`Authenticated`] (the [`Identity`] plus how the
//! payload was signed) or an S3 error saying which check failed. No Authorization header and no
//! presigned query means [`Identity::Anonymous`]; what an identity may do is `policy`'s business.

pub(crate) mod hmac;
pub(crate) mod presign;
pub(crate) mod redact;
pub(crate) mod secret;
pub(crate) mod sigv2;
pub(crate) mod sigv4;

use crate::policy::Identity;
use crate::s3::request::{RequestHead, S3Request};
use crate::s3::S3Error;
use crate::time::Timestamp;
pub(crate) use redact::{redact, redact_target};
use secret::SecretKey;

/// What a credential store returns for a valid, enabled, unexpired access key.
#[derive(Clone, Debug)]
pub struct ResolvedCredential {
    /// The secret to verify the signature with.
    pub secret: SecretKey,
    /// Who this key is, with its scopes.
    pub identity: Identity,
}

/// Looks up access keys. Config-backed keys now; sealed session tokens plug in here later.
pub trait CredentialStore {
    /// `InvalidAccessKeyId` for an unknown key, `AccessDenied` for a disabled one,
    /// `ExpiredToken` for an expired one. `session_token` is `x-amz-security-token`.
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error>;
}

/// How the request body was signed (from `x-amz-content-sha256`, or presigned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PayloadMode {
    /// No signature over the body (anonymous, presigned, or `UNSIGNED-PAYLOAD`).
    Unsigned,
    /// A hex sha256 was signed: the body must hash to it before it may become an object.
    Sha256([u8; 32]),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked framing, unsigned, checksum trailer.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: chunk signatures chained from the seed.
    StreamingSigned {
        /// `-TRAILER` variant.
        trailer: bool,
    },
}

/// The result of authentication.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    /// Who.
    pub identity: Identity,
    /// How the payload is bound to the signature.
    pub payload: PayloadMode,
    /// For signed aws-chunked uploads: what each chunk signature chains from.
    pub chunk_signing: Option<ChunkSigning>,
}

/// The seed of a signed aws-chunked upload: chunk signatures chain from the request's own.
#[derive(Clone, Debug)]
pub struct ChunkSigning {
    /// The derived signing key of the request's scope.
    pub key: [u8; 32],
    /// The request's signature (the first chunk's previous signature).
    pub seed: secret::Signature,
    /// `x-amz-date` of the request.
    pub amz_date: String,
    /// `date/region/s3/aws4_request`.
    pub scope: String,
}

/// Settings the verifier checks against.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Regions a credential scope may name (the gateway's region, plus `auto`).
    pub regions: Vec<String>,
    /// Allowed clock skew for `x-amz-date` (900 s).
    pub max_skew_secs: i64,
    /// Accept SigV2 (config `allow_sigv2`).
    pub allow_sigv2: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            regions: vec!["us-east-1".into(), "auto".into()],
            max_skew_secs: 900,
            allow_sigv2: true,
        }
    }
}

/// Authenticates a request: SigV4 header, SigV4 presigned query, or anonymous.
pub(crate) fn authenticate(
    head: &RequestHead,
    req: &S3Request,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    keys: &sigv4::SigningKeyCache,
    now: Timestamp,
) -> Result<Authenticated, S3Error> {
    if sigv2::is_sigv2(head, req) {
        if !settings.allow_sigv2 {
            return Err(S3Error::invalid_request(
                "SigV2 is turned off on this gateway; sign with SigV4 (for aws-cli and boto3 set signature_version = s3v4)",
            ));
        }
        return sigv2::verify(head, req, store, settings, now);
    }
    sigv4::verify_request(head, req, store, settings, keys, now)
}
