//! Checks of a presigned URL: its parameters (each once), its validity window, the
//! payload hash and session token it carries.

use super::*;

pub(super) fn query_err(msg: String) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationQueryParametersError, msg)
}

pub(super) fn query_check<'a>(
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
pub(super) fn presign_params_once(req: &S3Request) -> Result<(), S3Error> {
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
pub(super) fn presign_in_time(
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
pub(super) fn presigned_payload_hash(
    given: Option<&str>,
    body: Option<&str>,
) -> Result<String, S3Error> {
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
pub(super) const PRESIGN_PARAMS: &[&str] = &[
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
pub(super) fn presign_expires(raw: &str) -> Result<i64, S3Error> {
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
pub(super) fn presigned_session_token(
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
