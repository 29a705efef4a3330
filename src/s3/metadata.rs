//! Object metadata on the wire: content headers and `x-amz-meta-*` of an upload, as a GET
//! answers them, and a GET's `response-*` overrides.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::s3::request::S3Request;
use crate::s3::S3Error;
use crate::time::Timestamp;

/// An object's HTTP metadata, in the terms of R2's `httpMetadata` (also what a streamed copy
/// carries over).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpMetadata {
    /// `contentType`.
    pub content_type: Option<String>,
    /// `contentLanguage`.
    pub content_language: Option<String>,
    /// `contentDisposition`.
    pub content_disposition: Option<String>,
    /// `contentEncoding` (never `aws-chunked`).
    pub content_encoding: Option<String>,
    /// `cacheControl`.
    pub cache_control: Option<String>,
    /// `cacheExpiry` (the `Expires` header), milliseconds since the epoch.
    pub expires: Option<i64>,
}

/// HTTP metadata and `x-amz-meta-*` of an upload.
pub(crate) fn upload_metadata(h: &HeaderMap) -> (HttpMetadata, Vec<(String, String)>) {
    let get = |n: &str| header_str(h, n).filter(|v| !v.is_empty());
    let content_encoding = get("content-encoding").and_then(|v| {
        let rest: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!rest.is_empty()).then(|| rest.join(", "))
    });
    let http = HttpMetadata {
        content_type: get("content-type"),
        content_language: get("content-language"),
        content_disposition: get("content-disposition"),
        content_encoding,
        cache_control: get("cache-control"),
        expires: get("expires")
            .and_then(|v| Timestamp::parse_http_date(v.trim()))
            .map(|t| t.0.saturating_mul(1000)),
    };
    let mut custom: Vec<(String, String)> = Vec::new();
    for (name, value) in h {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match custom.iter_mut().find(|(k, _)| k == n) {
                // Repeated headers join as HTTP joins them.
                Some((_, prev)) => {
                    prev.push(',');
                    prev.push_str(&v);
                }
                None => custom.push((n.to_ascii_lowercase(), v)),
            }
        }
    }
    (http, custom)
}

/// An object's content headers and `x-amz-meta-*`, as GET answers them.
pub(crate) fn content_headers(h: &mut HeaderMap, m: &HttpMetadata, custom: &[(String, String)]) {
    set(
        h,
        http::header::CONTENT_TYPE,
        m.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, value) in [
        (http::header::CONTENT_LANGUAGE, &m.content_language),
        (http::header::CONTENT_DISPOSITION, &m.content_disposition),
        (http::header::CONTENT_ENCODING, &m.content_encoding),
        (http::header::CACHE_CONTROL, &m.cache_control),
    ] {
        if let Some(v) = value {
            set(h, name, v);
        }
    }
    if let Some(ms) = m.expires {
        set(
            h,
            http::header::EXPIRES,
            &Timestamp(ms.div_euclid(1000)).http_date(),
        );
    }
    for (name, value) in custom {
        if let Ok(n) = HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()) {
            set(h, n, value);
        }
    }
}

/// `response-*` query overrides of a GET; S3 refuses them on anonymous requests.
pub(crate) fn response_overrides(
    req: &S3Request,
    anonymous: bool,
) -> Result<Vec<(HeaderName, String)>, S3Error> {
    const PARAMS: [(&str, HeaderName); 6] = [
        ("response-content-type", http::header::CONTENT_TYPE),
        ("response-content-language", http::header::CONTENT_LANGUAGE),
        ("response-expires", http::header::EXPIRES),
        ("response-cache-control", http::header::CACHE_CONTROL),
        (
            "response-content-disposition",
            http::header::CONTENT_DISPOSITION,
        ),
        ("response-content-encoding", http::header::CONTENT_ENCODING),
    ];
    let mut out = Vec::new();
    for (param, header) in PARAMS {
        if let Some(v) = req.query_param(param) {
            out.push((header, v.to_string()));
        }
    }
    if !out.is_empty() && anonymous {
        return Err(S3Error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    Ok(out)
}

/// A header as text: UTF-8 when it is, else None.
pub(crate) fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .map(str::to_string)
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
        h.insert(name, v);
    }
}
