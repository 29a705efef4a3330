//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since` (and a copy source's `x-amz-copy-source-if-*`), with S3's precedence.

use http::{HeaderMap, StatusCode};

use crate::s3::metadata::header_str;
use crate::time::Timestamp;

/// Conditional headers (`If-*`, or a copy's `x-amz-copy-source-if-*`), in the terms of R2's
/// `onlyIf`. Conditions S3 would ignore are already removed
/// (`If-Unmodified-Since` when `If-Match` is present, `If-Modified-Since` when `If-None-Match`
/// is), so passing every field as is gives S3's behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match` ETags without quotes (`*` kept): `onlyIf.etagMatches`.
    pub if_match: Vec<String>,
    /// `If-None-Match` ETags without quotes (`*` kept): `onlyIf.etagDoesNotMatch`.
    pub if_none_match: Vec<String>,
    /// `If-Modified-Since`, milliseconds since the epoch: `onlyIf.uploadedAfter` (with
    /// `secondsGranularity: true`).
    pub if_modified_since: Option<i64>,
    /// `If-Unmodified-Since`, milliseconds since the epoch: `onlyIf.uploadedBefore` (with
    /// `secondsGranularity: true`).
    pub if_unmodified_since: Option<i64>,
}

impl Conditions {
    /// The conditions of `If-*` headers (`prefix` `x-amz-copy-source-` for a copy's source), with
    /// S3's precedence applied. Unparseable dates are ignored, as S3 ignores them.
    pub fn from_headers(h: &HeaderMap, prefix: &str) -> Conditions {
        let get = |n: &str| header_str(h, &format!("{prefix}{n}"));
        let date = |n: &str| {
            get(n)
                .and_then(|v| Timestamp::parse_http_date(v.trim()))
                .map(|t| t.0.saturating_mul(1000))
        };
        let if_match = get("if-match").map(|v| etag_list(&v)).unwrap_or_default();
        let if_none_match = get("if-none-match")
            .map(|v| etag_list(&v))
            .unwrap_or_default();
        Conditions {
            if_unmodified_since: if if_match.is_empty() {
                date("if-unmodified-since")
            } else {
                None
            },
            if_modified_since: if if_none_match.is_empty() {
                date("if-modified-since")
            } else {
                None
            },
            if_match,
            if_none_match,
        }
    }

    /// Which condition fails for an object with this ETag, modified at `modified_ms`
    /// (milliseconds since the epoch), if any: `(status, header)` with 412 or 304. S3's order: If-Match,
    /// If-Unmodified-Since (412), then If-None-Match, If-Modified-Since (304; 412 for writes).
    pub fn failed(&self, etag: &str, modified_ms: i64) -> Option<(StatusCode, &'static str)> {
        let c = self;
        let etag = etag.trim_matches('"');
        let matches = |list: &[String]| list.iter().any(|e| e == "*" || e == etag);
        let secs = modified_ms.div_euclid(1000);
        if !c.if_match.is_empty() && !matches(&c.if_match) {
            return Some((StatusCode::PRECONDITION_FAILED, "If-Match"));
        }
        if c.if_unmodified_since
            .is_some_and(|t| secs > t.div_euclid(1000))
        {
            return Some((StatusCode::PRECONDITION_FAILED, "If-Unmodified-Since"));
        }
        if !c.if_none_match.is_empty() && matches(&c.if_none_match) {
            return Some((StatusCode::NOT_MODIFIED, "If-None-Match"));
        }
        if c.if_modified_since
            .is_some_and(|t| secs <= t.div_euclid(1000))
        {
            return Some((StatusCode::NOT_MODIFIED, "If-Modified-Since"));
        }
        None
    }
}

/// ETags of an `If-Match` / `If-None-Match` value, quotes and `W/` removed.
fn etag_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.trim_matches('"').to_string()
        })
        .collect()
}
