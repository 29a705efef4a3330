//! SigV2: `Authorization: AWS AKID:signature` and presigned `AWSAccessKeyId`/`Signature`/`Expires`.
//!
//! Still on by default (config `allow_sigv2`): boto3 and aws-cli v1 presign with SigV2 against a
//! custom endpoint unless configured for `s3v4`, so links users already shared depend on it.
//! The string to sign is S3's: verb, Content-MD5, Content-Type, Date (or Expires), the `x-amz-*`
//! headers, and the canonical resource with the sub-resources S3 signs.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::hmac;
use super::{AuthSettings, Authenticated, CredentialStore, PayloadMode};
use crate::s3::limits::MAX_PRESIGN_EXPIRES;
use crate::s3::request::{RequestHead, S3Request};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

/// Query parameters that are part of the SigV2 canonical resource (sorted, as S3 lists them).
const SIGNED_SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// True when the request carries SigV2 credentials.
pub(crate) fn is_sigv2(head: &RequestHead, req: &S3Request) -> bool {
    head.headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS "))
        || (req.query_param("AWSAccessKeyId").is_some()
            && req.query_param("X-Amz-Algorithm").is_none())
}

fn header<'a>(head: &'a RequestHead, name: &str) -> &'a str {
    head.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The SigV2 string to sign; `date` is the Date header, or `Expires` for presigned URLs.
pub(crate) fn string_to_sign(head: &RequestHead, req: &S3Request, date: &str) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(head.method.as_str());
    s.push('\n');
    s.push_str(header(head, "content-md5"));
    s.push('\n');
    s.push_str(header(head, "content-type"));
    s.push('\n');
    s.push_str(date);
    s.push('\n');
    let mut amz: Vec<(String, String)> = Vec::new();
    for name in head.headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            let values: Vec<String> = head
                .headers
                .get_all(name)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            amz.push((n.to_string(), values.join(",")));
        }
    }
    // A presigned URL carries the x-amz-* headers it signed as query parameters (botocore moves
    // them there, `x-amz-security-token` included): S3 signs them as headers.
    if !head.headers.contains_key(http::header::AUTHORIZATION) {
        for (k, v) in &req.query {
            let name = k.to_ascii_lowercase();
            if name.starts_with("x-amz-") {
                amz.push((name, v.split_whitespace().collect::<Vec<_>>().join(" ")));
            }
        }
    }
    amz.sort();
    for (n, v) in amz {
        s.push_str(&n);
        s.push(':');
        s.push_str(&v);
        s.push('\n');
    }
    // Canonical resource: the bucket (also for virtual-hosted requests) and the path as sent.
    if req.virtual_hosted {
        if let Some(b) = &req.bucket {
            s.push('/');
            s.push_str(b);
        }
    }
    s.push_str(&req.raw_path);
    let mut subs: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(k, _)| SIGNED_SUBRESOURCES.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    subs.sort_unstable();
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// The base64 HMAC-SHA1 signature.
pub(crate) fn sign(secret: &str, string_to_sign: &str) -> String {
    let mac = hmac::sha1(secret.as_bytes(), &[string_to_sign.as_bytes()]);
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// Verifies a SigV2 request (header or presigned).
pub(crate) fn verify(
    head: &RequestHead,
    req: &S3Request,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    now: Timestamp,
) -> Result<Authenticated, S3Error> {
    let Claim {
        akid,
        signature: provided,
        date,
    } = match head.headers.get(http::header::AUTHORIZATION) {
        Some(v) => header_claim(head, v, settings, now)?,
        None => presigned_claim(req, settings, now)?,
    };
    let token = head
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.query_param("x-amz-security-token"));
    // Every `x-amz-*` header is in the string to sign; a lossy conversion of a value that is not
    // UTF-8 would let another value sign alike, so such values are refused.
    if let Some(name) = head.headers.iter().find_map(|(n, v)| {
        (n.as_str().starts_with("x-amz-") && std::str::from_utf8(v.as_bytes()).is_err())
            .then_some(n)
    }) {
        return Err(S3Error::invalid_argument(format!(
            "the header '{name}' is not valid UTF-8"
        )));
    }
    let resolved = store.lookup(&akid, token, now)?;
    let sts = string_to_sign(head, req, &date);
    let expected = sign(resolved.secret.expose(), &sts);
    if expected.as_bytes().ct_eq(provided.as_bytes()).into() {
        return Ok(Authenticated {
            identity: resolved.identity,
            payload: PayloadMode::Unsigned,
            chunk_signing: None,
        });
    }
    Err(S3Error::new(
        ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .with_detail("AWSAccessKeyId", akid)
    .with_detail("StringToSign", sts))
}

/// What a SigV2 request claims: the access key, the signature, and the date line of its string
/// to sign (`Expires` for a presigned URL).
struct Claim {
    akid: String,
    signature: String,
    date: String,
}

/// The claim of an `Authorization: AWS AccessKeyId:Signature` header, its date within the
/// allowed clock skew.
fn header_claim(
    head: &RequestHead,
    authorization: &http::HeaderValue,
    settings: &AuthSettings,
    now: Timestamp,
) -> Result<Claim, S3Error> {
    let v = authorization
        .to_str()
        .map_err(|_| S3Error::access_denied("the authorization header is not ASCII"))?;
    let rest = v.strip_prefix("AWS ").unwrap_or(v);
    let (akid, sig) = rest.rsplit_once(':').ok_or_else(|| {
        S3Error::invalid_argument(
            "a SigV2 Authorization header must be 'AWS AccessKeyId:Signature'",
        )
    })?;
    let when_raw = head
        .headers
        .get("x-amz-date")
        .or_else(|| head.headers.get("date"));
    let when_text = when_raw.and_then(|v| v.to_str().ok()).unwrap_or("");
    let when = Timestamp::parse_http_date(when_text)
        .or_else(|| Timestamp::parse_amz_date(when_text))
        .ok_or_else(|| {
            S3Error::access_denied("AWS authentication requires a valid Date or x-amz-date header")
        })?;
    if (now.0 - when.0).abs() > settings.max_skew_secs {
        return Err(S3Error::new(
            ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the server's time is too large.",
        )
        .with_detail("RequestTime", when_text)
        .with_detail("ServerTime", now.iso8601()));
    }
    // With x-amz-date present, S3 signs an empty Date line (the header is in the amz block).
    let date = if head.headers.contains_key("x-amz-date") {
        String::new()
    } else {
        when_text.to_string()
    };
    Ok(Claim {
        akid: akid.trim().to_string(),
        signature: sig.trim().to_string(),
        date,
    })
}

/// The claim of a presigned URL (`AWSAccessKeyId`, `Signature`, `Expires`), not expired and
/// expiring within a week.
fn presigned_claim(
    req: &S3Request,
    settings: &AuthSettings,
    now: Timestamp,
) -> Result<Claim, S3Error> {
    let akid = req
        .query_param("AWSAccessKeyId")
        .unwrap_or_default()
        .to_string();
    let sig = req
        .query_param("Signature")
        .ok_or_else(|| S3Error::access_denied("the presigned URL has no Signature"))?
        .to_string();
    let expires_raw = req
        .query_param("Expires")
        .ok_or_else(|| S3Error::access_denied("the presigned URL has no Expires"))?;
    let expires: i64 = expires_raw.parse().map_err(|_| {
        S3Error::invalid_argument(format!(
            "Expires '{expires_raw}' is not a number of seconds"
        ))
    })?;
    if now.0 > expires {
        return Err(S3Error::access_denied("Request has expired")
            .with_detail("Expires", Timestamp(expires).iso8601())
            .with_detail("ServerTime", now.iso8601()));
    }
    // As long as SigV4 allows (7 days), plus the clock skew a signer may have.
    if expires - now.0 > MAX_PRESIGN_EXPIRES + settings.max_skew_secs {
        return Err(S3Error::new(
            ErrorCode::AuthorizationQueryParametersError,
            format!("Expires must be less than a week ({MAX_PRESIGN_EXPIRES} seconds) from now"),
        )
        .with_detail("Expires", Timestamp(expires).iso8601())
        .with_detail("ServerTime", now.iso8601()));
    }
    Ok(Claim {
        akid,
        signature: sig,
        date: expires_raw.to_string(),
    })
}

#[cfg(test)]
mod tests;
