//! Checks of a header-signed request: the credential scope, the clock, the payload mode,
//! and `x-amz-*` headers the signature does not cover.

use super::*;

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

pub(super) fn sigv2_refused() -> S3Error {
    S3Error::invalid_request(
        "SigV2 is not supported; sign with SigV4 (for aws-cli and boto3 set signature_version = s3v4)",
    )
}

pub(super) fn check_scope(
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

pub(super) fn skewed(when: Timestamp, now: Timestamp, settings: &AuthSettings) -> S3Error {
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

pub(super) fn header_check<'a>(
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
