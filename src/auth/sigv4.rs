//! SigV4: canonical request, string to sign, signing key, and verification of header-signed and
//! presigned requests, exactly as S3 does it (path encoded once, never normalized).
//!
//! Security notes: signatures are compared in constant time ([`Signature::ct_eq`]); the computed
//! signature is never logged nor returned; a mismatch reports the canonical request and string to
//! sign (as S3 does), which contain nothing secret.
//!
//! This file is the verification; the steps it takes live beside it: `authorization` (the
//! parsed header), `header` and `presigned` (the checks of each form), `canonical` and `signing`
//! (the request as signed, and the keys).

use std::collections::HashMap;
use std::sync::Mutex;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::hmac;
use super::secret::{SecretKey, Signature};
use super::{AuthSettings, Authenticated, ChunkSigning, CredentialStore, PayloadMode};
use crate::percent::{self, escape_at, push_escape, unreserved};
use crate::policy::Identity;
use crate::s3::limits::MAX_PRESIGN_EXPIRES;
use crate::s3::request::{RequestHead, S3Request};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

mod authorization;
mod canonical;
mod header;
mod presigned;
mod signing;

pub(crate) use authorization::*;
pub(crate) use canonical::*;
pub(crate) use header::*;
use presigned::*;
pub(crate) use signing::*;

/// The only algorithm we accept.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash of presigned and unsigned requests.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Lowercase hex sha256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Everything needed to check one signature.
struct Check<'a> {
    parsed: ParsedAuth,
    amz_date: String,
    payload_hash: String,
    method: &'a str,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
    session_token: Option<String>,
}

/// The service a signature is checked for: its name in the credential scope and, for services
/// that sign the body's hash without an `x-amz-content-sha256` header (the query APIs such as
/// STS), the hex sha256 of the body the gateway read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignedService<'a> {
    /// The credential scope's service (`s3`, `sts`).
    pub name: &'a str,
    /// `None` for S3, whose payload hash is `x-amz-content-sha256` (or `UNSIGNED-PAYLOAD` when
    /// presigned). `Some(hash of the body)` otherwise: the hash the signature must cover; an
    /// `x-amz-content-sha256` header or `X-Amz-Content-Sha256` parameter must then repeat it.
    pub body_sha256: Option<&'a str>,
}

impl SignedService<'_> {
    /// S3.
    pub(crate) const S3: SignedService<'static> = SignedService {
        name: "s3",
        body_sha256: None,
    };
}

/// Verifies a request (see [`super::authenticate`]).
pub(crate) fn verify_request(
    head: &RequestHead,
    req: &S3Request,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    keys: &SigningKeyCache,
    now: Timestamp,
) -> Result<Authenticated, S3Error> {
    verify_service_request(head, req, store, settings, keys, now, SignedService::S3)
}

/// Verifies a request signed for `service` (see [`SignedService`]); [`verify_request`] is this
/// for S3. The errors are S3's; a caller answering for another service translates them.
#[allow(clippy::too_many_arguments)] // the world, passed in
pub(crate) fn verify_service_request(
    head: &RequestHead,
    req: &S3Request,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    keys: &SigningKeyCache,
    now: Timestamp,
    service: SignedService<'_>,
) -> Result<Authenticated, S3Error> {
    let auth_header = head.headers.get(http::header::AUTHORIZATION);
    let has_query_auth = req
        .query
        .iter()
        .any(|(k, _)| k == "X-Amz-Algorithm" || k == "X-Amz-Credential");
    let has_v2_query = req.query.iter().any(|(k, _)| k == "AWSAccessKeyId");
    if auth_header.is_none() && has_v2_query && !has_query_auth {
        return Err(sigv2_refused());
    }
    if auth_header.is_some() && has_query_auth {
        return Err(S3Error::invalid_argument(
            "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header may be specified",
        ));
    }
    let (check, payload) = if let Some(value) = auth_header {
        let value = value
            .to_str()
            .map_err(|_| malformed("the authorization header is not ASCII"))?;
        if value.starts_with("AWS ") {
            return Err(sigv2_refused());
        }
        header_check(head, req, value, settings, now, service)?
    } else if has_query_auth {
        query_check(head, req, settings, now, service)?
    } else {
        return Ok(Authenticated {
            identity: Identity::Anonymous,
            payload: PayloadMode::Unsigned,
            chunk_signing: None,
        });
    };
    let unsigned = unsigned_amz_headers(
        check.headers,
        &check.parsed.signed_headers,
        auth_header.is_none().then_some(check.payload_hash.as_str()),
    );
    if !unsigned.is_empty() {
        return Err(headers_not_signed(&unsigned));
    }
    let resolved = store.lookup(
        &check.parsed.access_key_id,
        check.session_token.as_deref(),
        now,
    )?;
    let key = verify_signature(&check, &resolved.secret, keys, service.name)?;
    let chunk_signing = matches!(payload, PayloadMode::StreamingSigned { .. })
        .then(|| Signature::from_hex(&check.parsed.signature))
        .flatten()
        .map(|seed| ChunkSigning {
            key,
            seed,
            amz_date: check.amz_date.clone(),
            scope: scope(&check.parsed.date, &check.parsed.region, service.name),
        });
    Ok(Authenticated {
        identity: resolved.identity,
        payload,
        chunk_signing,
    })
}

/// Values a client may have signed for `Accept-Encoding` before an edge rewrote it: Cloudflare
/// (and so every Worker) replaces the header with its own (`br, gzip`), and some clients sign it
/// (rclone sends and signs `gzip`). The header selects a transfer coding, not what is read or
/// written, so accepting a signature over one of these values instead widens nothing; every
/// other signed part of the request must still match.
const REWRITTEN_ACCEPT_ENCODINGS: &[&str] = &[
    "gzip",
    "identity",
    "gzip, deflate",
    "gzip, deflate, br",
    "gzip, br",
    "br, gzip",
    "gzip, deflate, br, zstd",
    "*",
];

fn verify_signature(
    check: &Check<'_>,
    secret: &SecretKey,
    keys: &SigningKeyCache,
    service: &str,
) -> Result<[u8; 32], S3Error> {
    let p = &check.parsed;
    let provided = Signature::from_hex(&p.signature)
        .ok_or_else(|| malformed("the Signature is not 64 hex digits"))?;
    let signed: Vec<&str> = p.signed_headers.split(';').collect();
    if signed
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(malformed(
            "SignedHeaders must be lowercase names separated by ';'",
        ));
    }
    let headers = canonical_headers(check.headers, &signed).map_err(S3Error::access_denied)?;
    let creq = canonical_request(
        check.method,
        &canonical_uri(check.raw_path),
        &canonical_query(check.raw_query),
        &headers,
        &p.signed_headers,
        &check.payload_hash,
    );
    let scope = scope(&p.date, &p.region, service);
    let sts = string_to_sign(&check.amz_date, &scope, &creq);
    let key = keys.get(&p.access_key_id, secret, &p.date, &p.region, service);
    if sign(&key, &sts).ct_eq(&provided) {
        return Ok(key);
    }
    if signed.contains(&"accept-encoding") {
        let scope_ref = &scope;
        let matches = REWRITTEN_ACCEPT_ENCODINGS.iter().any(|candidate| {
            let mut h = check.headers.clone();
            h.insert(
                http::header::ACCEPT_ENCODING,
                http::HeaderValue::from_static(candidate),
            );
            let Ok(headers) = canonical_headers(&h, &signed) else {
                return false;
            };
            let creq = canonical_request(
                check.method,
                &canonical_uri(check.raw_path),
                &canonical_query(check.raw_query),
                &headers,
                &p.signed_headers,
                &check.payload_hash,
            );
            sign(&key, &string_to_sign(&check.amz_date, scope_ref, &creq)).ct_eq(&provided)
        });
        if matches {
            return Ok(key);
        }
    }
    log::debug!(
        "signature mismatch for {}: canonical request sha256 {}",
        p.access_key_id,
        sha256_hex(creq.as_bytes())
    );
    Err(S3Error::new(
        ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .with_detail("AWSAccessKeyId", p.access_key_id.clone())
    .with_detail("StringToSign", sts)
    .with_detail("CanonicalRequest", creq))
}

#[cfg(test)]
pub(crate) mod tests;
