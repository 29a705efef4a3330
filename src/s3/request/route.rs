//! Routing: the bucket (virtual-hosted `Host`, else the first path segment) and the key,
//! percent-decoded, and the decoded query.

use super::*;

/// The bucket a request names, by routing alone (virtual-hosted Host, else the first path
/// segment), without classifying the operation: what CORS needs, for preflights and for
/// requests that fail to parse. None for the service root or an undecodable name.
#[cfg(any(test, fuzzing))]
pub(crate) fn bucket_name(head: &RequestHead, domain: Option<&str>) -> Option<String> {
    route(head, domain).map(|(b, _)| b)
}

/// [`bucket_name`] and the decoded key after it (empty for none, or when it does not decode).
pub(crate) fn route(head: &RequestHead, domain: Option<&str>) -> Option<(String, String)> {
    let target = strip_authority(&head.target);
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let key_of = |raw: &str| decode(raw, "key").unwrap_or_default();
    if let Some(b) = domain.and_then(|d| bucket_from_host(&head.headers, d)) {
        return Some((b, key_of(path.strip_prefix('/').unwrap_or(path))));
    }
    let path = path.strip_prefix('/')?;
    let (first, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = decode(first, "bucket name")
        .ok()
        .filter(|b| !b.is_empty())?;
    Some((bucket, key_of(key)))
}

/// Strips `scheme://authority` from an absolute-form target.
pub(super) fn strip_authority(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            return match rest.find(['/', '?']) {
                Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                Some(i) => {
                    // `http://host?q` has an empty path: treat it as `/`.
                    let _ = i;
                    "/"
                }
                None => "/",
            };
        }
    }
    target
}

/// The bucket of a `{bucket}.{domain}[:port]` Host header.
pub(crate) fn bucket_from_host(headers: &HeaderMap, domain: &str) -> Option<String> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let bucket = host.strip_suffix(&domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_string())
}

/// Percent-decodes a path component (a literal `+` stays `+`).
pub(super) fn decode(raw: &str, what: &str) -> Result<String, S3Error> {
    let bytes = percent_decode(raw.as_bytes(), false).ok_or_else(|| {
        S3Error::new(
            ErrorCode::InvalidURI,
            format!("the {what} has an invalid percent escape"),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        S3Error::new(
            ErrorCode::InvalidURI,
            format!("the {what} is not valid UTF-8"),
        )
    })
}

/// Percent-decodes; `plus_is_space` for query strings. None on a malformed escape.
pub(crate) fn percent_decode(raw: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    crate::percent::decode_strict(raw, plus_is_space)
}

/// Decodes the query string into pairs, form style. A parameter name given twice is refused:
/// authorization reads one value and the backend would be sent every one (`prefix=team/&prefix=`
/// listed the whole bucket), and no S3 client repeats one.
pub(super) fn parse_query(raw: &str) -> Result<Vec<(String, String)>, S3Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_decode(s.as_bytes(), true)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::new(
                        ErrorCode::InvalidURI,
                        "the query string has an invalid percent escape or is not UTF-8",
                    )
                })
        };
        let name = dec(k)?;
        if !seen.insert(name.clone()) {
            return Err(S3Error::invalid_argument(format!(
                "the query parameter '{name}' is given more than once; each parameter may \
                 appear once"
            ))
            .with_detail("ArgumentName", name));
        }
        out.push((name, dec(v)?));
    }
    Ok(out)
}
