//! SigV4: canonical request, string to sign, signing key, and verification of header-signed and
//! presigned requests, exactly as S3 does it (path encoded once, never normalized).
//!
//! Security notes: signatures are compared in constant time ([`Signature::ct_eq`]); the computed
//! signature is never logged nor returned; a mismatch reports the canonical request and string to
//! sign (as S3 does), which contain nothing secret.

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

/// The only algorithm we accept.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash of presigned and unsigned requests.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Lowercase hex sha256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding of a query component (every byte but unreserved ones).
pub(crate) fn uri_encode(s: &[u8]) -> String {
    percent::encode(s, false)
}

/// The canonical URI of a raw path, encoded exactly once, never normalized: an escape of an
/// unreserved character is decoded, other escapes are kept (uppercased, so `%2F` stays `%2F`),
/// unreserved bytes and `/` are kept, and every other byte is escaped.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let b = raw_path.as_bytes();
    let mut out = String::with_capacity(b.len() + 16);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(v) = escape_at(b, i) {
            if unreserved(v) {
                out.push(char::from(v));
            } else {
                push_escape(&mut out, v);
            }
            i += 3;
            continue;
        }
        if unreserved(c) || c == b'/' {
            out.push(char::from(c));
        } else {
            push_escape(&mut out, c);
        }
        i += 1;
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn percent_decode_lossless(s: &str) -> Vec<u8> {
    percent::decode_lenient(s.as_bytes())
}

/// The canonical query string of a raw query: pairs decoded and re-encoded, sorted by key then
/// value, `=` always kept; `X-Amz-Signature` dropped.
pub(crate) fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode_lossless(k)),
                uri_encode(&percent_decode_lossless(v)),
            )
        })
        .filter(|(k, _)| k != "X-Amz-Signature")
        .collect();
    pairs.sort();
    join_pairs(&pairs)
}

/// Canonical query from decoded pairs (for requests we sign).
pub(crate) fn canonical_query_from_pairs(pairs: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (uri_encode(k.as_bytes()), uri_encode(v.as_bytes())))
        .collect();
    enc.sort();
    join_pairs(&enc)
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Header value as SigV4 canonicalizes it: trimmed, inner runs of spaces collapsed.
fn canonical_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len());
    for word in s.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The canonical headers block (each `name:value\n`) for the signed header names, which must be
/// lowercase and sorted. Missing headers are an error naming them.
pub(crate) fn canonical_headers(headers: &HeaderMap, signed: &[&str]) -> Result<String, String> {
    let mut out = String::new();
    for name in signed {
        let mut values: Vec<String> = Vec::new();
        for v in headers.get_all(*name) {
            // A lossy conversion would let two different values sign alike: refuse instead.
            if std::str::from_utf8(v.as_bytes()).is_err() {
                return Err(format!("the signed header '{name}' is not valid UTF-8"));
            }
            values.push(canonical_value(v.as_bytes()));
        }
        if values.is_empty() {
            return Err(format!("the signed header '{name}' is not in the request"));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Assembles a canonical request.
pub(crate) fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}

/// `date/region/service/aws4_request`.
pub(crate) fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Derives the signing key (uncached).
pub(crate) fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = zeroize::Zeroizing::new(format!("AWS4{}", secret.expose()));
    let k_date = hmac::sha256(k_secret.as_bytes(), &[date.as_bytes()]);
    let k_region = hmac::sha256(&k_date, &[region.as_bytes()]);
    let k_service = hmac::sha256(&k_region, &[service.as_bytes()]);
    hmac::sha256(&k_service, &[b"aws4_request"])
}

/// The signature of a string to sign.
pub(crate) fn sign(key: &[u8; 32], string_to_sign: &str) -> Signature {
    Signature(hmac::sha256(key, &[string_to_sign.as_bytes()]))
}

/// Derived signing keys per (access key, secret fingerprint, date, region, service), computed
/// once per isolate/process.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<KeyId, [u8; 32]>>,
}

/// (access key id, secret fingerprint, date, region, service).
type KeyId = (String, [u8; 8], String, String, String);

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeyCache")
    }
}

/// Bound on cached keys; a day's keys for many credentials fit, and a flood of junk cannot grow it.
const MAX_CACHED_KEYS: usize = 1024;

impl SigningKeyCache {
    /// The signing key, from the cache when possible.
    pub fn get(
        &self,
        access_key_id: &str,
        secret: &SecretKey,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let digest = Sha256::digest(secret.expose().as_bytes());
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&digest[..8]);
        let id = (
            access_key_id.to_string(),
            fp,
            date.to_string(),
            region.to_string(),
            service.to_string(),
        );
        if let Ok(map) = self.keys.lock() {
            if let Some(k) = map.get(&id) {
                return *k;
            }
        }
        let key = signing_key(secret, date, region, service);
        if let Ok(mut map) = self.keys.lock() {
            if map.len() >= MAX_CACHED_KEYS {
                map.clear();
            }
            map.insert(id, key);
        }
        key
    }
}

/// The parsed parts of a SigV4 authorization (header or query form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuth {
    /// Access key id.
    pub access_key_id: String,
    /// Scope date `YYYYMMDD`.
    pub date: String,
    /// Scope region.
    pub region: String,
    /// Scope service.
    pub service: String,
    /// Signed header names, lowercase, as sent (`;`-separated).
    pub signed_headers: String,
    /// Provided signature (hex).
    pub signature: String,
}

fn malformed(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationHeaderMalformed, msg)
}

pub(crate) fn parse_credential(
    cred: &str,
    err: fn(String) -> S3Error,
) -> Result<(String, String, String, String), S3Error> {
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(err(format!(
            "the Credential '{cred}' is not of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(err(format!(
            "the Credential must end with 'aws4_request', not '{}'",
            parts[4]
        )));
    }
    Ok((
        parts[0].to_string(),
        parts[1].to_string(),
        parts[2].to_string(),
        parts[3].to_string(),
    ))
}

/// Parses an `Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`
/// header: parameters in any order, separated by `,` with or without spaces.
pub(crate) fn parse_authorization(value: &str) -> Result<ParsedAuth, S3Error> {
    let value = value.trim();
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with([' ', '\t']))
        .ok_or_else(|| {
            malformed(format!(
                "the authorization header must start with '{ALGORITHM} '"
            ))
        })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| malformed(format!("the authorization parameter '{part}' has no '='")))?;
        let slot = match k.trim() {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            other => {
                return Err(malformed(format!(
                    "unknown authorization parameter '{other}'"
                )))
            }
        };
        if slot.replace(v.trim().to_string()).is_some() {
            return Err(malformed(format!(
                "the authorization parameter '{}' appears twice",
                k.trim()
            )));
        }
    }
    let cred = cred.ok_or_else(|| malformed("the authorization header has no Credential"))?;
    let signed_headers =
        signed.ok_or_else(|| malformed("the authorization header has no SignedHeaders"))?;
    let signature = sig.ok_or_else(|| malformed("the authorization header has no Signature"))?;
    let (access_key_id, date, region, service) = parse_credential(&cred, malformed)?;
    Ok(ParsedAuth {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
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

/// The `x-amz-*` headers of a request that its signature does not cover, sorted.
///
/// AWS refuses any `x-amz-*` header outside `SignedHeaders`, for header-signed and presigned
/// requests alike: an unsigned `x-amz-copy-source`, `x-amz-tagging`, `x-amz-meta-*`... would
/// otherwise change what a presigned PUT does. The one exemption is AWS's own:
/// `x-amz-content-sha256` need not be signed, because with header auth its value is the payload
/// hash inside the canonical request. A presigned URL signs its payload hash in the query
/// (`X-Amz-Content-Sha256`, else `UNSIGNED-PAYLOAD`), so there the header is exempt only when it
/// repeats that value (the AWS CRT sends `UNSIGNED-PAYLOAD`); any other value, such as a
/// `STREAMING-*` mode the URL never signed, counts as unsigned. `presigned_payload` is that
/// signed value for presigned requests, `None` for header auth.
pub(crate) fn unsigned_amz_headers(
    headers: &HeaderMap,
    signed_headers: &str,
    presigned_payload: Option<&str>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        if !n.starts_with("x-amz-") || signed_headers.split(';').any(|s| s == n) {
            continue;
        }
        if n == "x-amz-content-sha256" {
            let exempt = match presigned_payload {
                None => true,
                Some(signed) => headers
                    .get_all(name)
                    .iter()
                    .all(|v| v.as_bytes() == signed.as_bytes()),
            };
            if exempt {
                continue;
            }
        }
        out.push(n.to_string());
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// AWS's answer to unsigned `x-amz-*` headers: 403 `AccessDenied` naming them in
/// `HeadersNotSigned`.
pub(crate) fn headers_not_signed(names: &[String]) -> S3Error {
    S3Error::access_denied("There were headers present in the request which were not signed")
        .with_detail("HeadersNotSigned", names.join(", "))
}

fn sigv2_refused() -> S3Error {
    S3Error::invalid_request(
        "SigV2 is not supported; sign with SigV4 (for aws-cli and boto3 set signature_version = s3v4)",
    )
}

fn check_scope(
    parsed: &ParsedAuth,
    amz_date: &str,
    settings: &AuthSettings,
    service: &str,
    err: fn(String) -> S3Error,
) -> Result<(), S3Error> {
    if amz_date.get(..8) != Some(parsed.date.as_str()) {
        return Err(err(format!(
            "the credential scope date '{}' is not the date of the request time '{amz_date}'",
            parsed.date
        )));
    }
    if !settings.regions.iter().any(|r| r == &parsed.region) {
        return Err(err(format!(
            "the region '{}' is wrong; expecting '{}'",
            parsed.region,
            settings.regions.first().map_or("us-east-1", String::as_str)
        )));
    }
    if parsed.service != service {
        return Err(err(format!(
            "the service '{}' in the credential scope is wrong; expecting '{service}'",
            parsed.service
        )));
    }
    if !parsed.signed_headers.split(';').any(|h| h == "host") {
        return Err(err(
            "the host header must be signed (SignedHeaders must include 'host')".to_string(),
        ));
    }
    Ok(())
}

fn skewed(when: Timestamp, now: Timestamp, settings: &AuthSettings) -> S3Error {
    S3Error::new(
        ErrorCode::RequestTimeTooSkewed,
        "The difference between the request time and the server's time is too large.",
    )
    .with_detail("RequestTime", when.amz_date())
    .with_detail("ServerTime", now.iso8601())
    .with_detail(
        "MaxAllowedSkewMilliseconds",
        (settings.max_skew_secs * 1000).to_string(),
    )
}

fn header_check<'a>(
    head: &'a RequestHead,
    req: &'a S3Request,
    value: &str,
    settings: &AuthSettings,
    now: Timestamp,
    service: SignedService<'_>,
) -> Result<(Check<'a>, PayloadMode), S3Error> {
    let parsed = parse_authorization(value)?;
    let h = &head.headers;
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let when = match text("x-amz-date") {
        Some(d) => Timestamp::parse_amz_date(d).ok_or_else(|| {
            S3Error::new(
                ErrorCode::AccessDenied,
                format!("x-amz-date '{d}' is not of the form YYYYMMDDTHHMMSSZ"),
            )
        })?,
        None => text("date")
            .and_then(Timestamp::parse_http_date)
            .ok_or_else(|| {
                S3Error::new(
                    ErrorCode::AccessDenied,
                    "AWS authentication requires a valid Date or x-amz-date header",
                )
            })?,
    };
    let amz_date = when.amz_date();
    check_scope(&parsed, &amz_date, settings, service.name, malformed)?;
    if (now.0 - when.0).abs() > settings.max_skew_secs {
        return Err(skewed(when, now, settings));
    }
    let hash = match (text("x-amz-content-sha256"), service.body_sha256) {
        (Some(h), Some(body)) if h != body => {
            return Err(S3Error::invalid_argument(
                "x-amz-content-sha256 is not the sha256 of the request body",
            ))
        }
        (Some(h), _) => h,
        (None, Some(body)) => body,
        (None, None) => {
            return Err(S3Error::invalid_request(
                "missing required header for this request: x-amz-content-sha256",
            ))
        }
    };
    let payload = payload_mode(hash)?;
    if h.get_all("x-amz-security-token").iter().count() > 1 {
        return Err(S3Error::invalid_argument(
            "the x-amz-security-token header appears more than once",
        ));
    }
    let check = Check {
        amz_date,
        payload_hash: hash.to_string(),
        method: head.method.as_str(),
        raw_path: &req.raw_path,
        raw_query: &req.raw_query,
        headers: h,
        session_token: text("x-amz-security-token").map(str::to_string),
        parsed,
    };
    Ok((check, payload))
}

/// The payload mode an `x-amz-content-sha256` value names.
pub(crate) fn payload_mode(hash: &str) -> Result<PayloadMode, S3Error> {
    Ok(match hash {
        UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::StreamingUnsignedTrailer,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::StreamingSigned { trailer: false },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            PayloadMode::StreamingSigned { trailer: true }
        }
        h => {
            let mut out = [0u8; 32];
            if h.len() != 64 || hex::decode_to_slice(h, &mut out).is_err() {
                return Err(S3Error::invalid_argument(format!(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or a hex sha256, not '{h}'"
                )));
            }
            PayloadMode::Sha256(out)
        }
    })
}

fn query_err(msg: String) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationQueryParametersError, msg)
}

fn query_check<'a>(
    head: &'a RequestHead,
    req: &'a S3Request,
    settings: &AuthSettings,
    now: Timestamp,
    signed_for: SignedService<'_>,
) -> Result<(Check<'a>, PayloadMode), S3Error> {
    presign_params_once(req)?;
    let param = |name: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &'static str| {
        param(name).ok_or_else(|| {
            query_err(format!(
                "the presigned URL is missing the {name} query parameter"
            ))
        })
    };
    let algorithm = need("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(query_err(format!(
            "X-Amz-Algorithm must be {ALGORITHM}, not '{algorithm}'"
        )));
    }
    let (access_key_id, date, region, service) =
        parse_credential(need("X-Amz-Credential")?, query_err)?;
    let raw_date = need("X-Amz-Date")?;
    let when = Timestamp::parse_amz_date(raw_date).ok_or_else(|| {
        query_err(format!(
            "X-Amz-Date '{raw_date}' is not of the form YYYYMMDDTHHMMSSZ"
        ))
    })?;
    let expires = presign_expires(need("X-Amz-Expires")?)?;
    let parsed = ParsedAuth {
        access_key_id,
        date,
        region,
        service,
        signed_headers: need("X-Amz-SignedHeaders")?.to_string(),
        signature: need("X-Amz-Signature")?.to_string(),
    };
    let amz_date = when.amz_date();
    check_scope(&parsed, &amz_date, settings, signed_for.name, query_err)?;
    presign_in_time(when, expires, now, settings)?;
    let payload_hash =
        presigned_payload_hash(param("X-Amz-Content-Sha256"), signed_for.body_sha256)?;
    let payload = payload_mode(&payload_hash)?;
    let check = Check {
        parsed,
        amz_date,
        payload_hash,
        method: head.method.as_str(),
        raw_path: &req.raw_path,
        raw_query: &req.raw_query,
        headers: &head.headers,
        session_token: presigned_session_token(param("X-Amz-Security-Token"), &head.headers)?,
    };
    Ok((check, payload))
}

/// One value per authentication parameter: the value checked is the only one there is.
fn presign_params_once(req: &S3Request) -> Result<(), S3Error> {
    for name in PRESIGN_PARAMS {
        if req.query.iter().filter(|(k, _)| k == name).count() > 1 {
            return Err(query_err(format!(
                "the presigned URL carries the {name} query parameter more than once"
            )));
        }
    }
    Ok(())
}

/// A presigned URL signed at `when` for `expires` seconds: not from the future (beyond the
/// allowed skew) and not expired.
fn presign_in_time(
    when: Timestamp,
    expires: i64,
    now: Timestamp,
    settings: &AuthSettings,
) -> Result<(), S3Error> {
    if when.0 - now.0 > settings.max_skew_secs {
        return Err(skewed(when, now, settings));
    }
    if now.0 > when.0 + expires {
        return Err(S3Error::access_denied("Request has expired")
            .with_detail("X-Amz-Expires", expires.to_string())
            .with_detail("Expires", Timestamp(when.0 + expires).iso8601())
            .with_detail("ServerTime", now.iso8601()));
    }
    Ok(())
}

/// The payload hash a presigned URL signed: its `X-Amz-Content-Sha256` (which must be the
/// body's, when the body is known), else the body's, else `UNSIGNED-PAYLOAD`.
fn presigned_payload_hash(given: Option<&str>, body: Option<&str>) -> Result<String, S3Error> {
    Ok(match (given, body) {
        (Some(h), Some(body)) if h != body => {
            return Err(query_err(
                "X-Amz-Content-Sha256 is not the sha256 of the request body".to_string(),
            ))
        }
        (Some(h), _) => h,
        (None, Some(body)) => body,
        (None, None) => UNSIGNED_PAYLOAD,
    }
    .to_string())
}

/// The query parameters of a SigV4 presigned URL, each allowed once.
const PRESIGN_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// `X-Amz-Expires` as S3 checks it: a number of seconds, 0 is already expired, over a week is
/// refused.
fn presign_expires(raw: &str) -> Result<i64, S3Error> {
    let expires: i64 = raw
        .parse()
        .map_err(|_| query_err("X-Amz-Expires should be a number".to_string()))?;
    if expires < 0 {
        return Err(query_err("X-Amz-Expires must be non-negative".to_string()));
    }
    if expires > MAX_PRESIGN_EXPIRES {
        return Err(query_err(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
        )));
    }
    if expires == 0 {
        return Err(S3Error::access_denied("Request has expired").with_detail("X-Amz-Expires", "0"));
    }
    Ok(expires)
}

/// The session token of a presigned request: `X-Amz-Security-Token`, or an
/// `x-amz-security-token` header (which must then be signed, as every `x-amz-*` header). Both,
/// with different values, is ambiguous and refused.
fn presigned_session_token(
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Option<String>, S3Error> {
    let mut in_headers = headers.get_all("x-amz-security-token").iter();
    let header = in_headers.next();
    if in_headers.next().is_some() {
        return Err(S3Error::invalid_argument(
            "the x-amz-security-token header appears more than once",
        ));
    }
    let header = header
        .map(|v| {
            v.to_str().map_err(|_| {
                S3Error::invalid_argument("the x-amz-security-token header is not ASCII")
            })
        })
        .transpose()?;
    match (query, header) {
        (Some(q), Some(h)) if q != h => Err(S3Error::invalid_argument(
            "the session token is given both as X-Amz-Security-Token and as an x-amz-security-token header, with different values",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(Some(t.to_string())),
        (None, None) => Ok(None),
    }
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
