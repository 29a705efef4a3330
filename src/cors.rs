//! CORS as S3 does it: per-bucket rules, preflights answered by the gateway, and the
//! `Access-Control-*` headers of actual responses.
//!
//! # Semantics (S3's CORSRule)
//!
//! - A rule matches a request when its `allowed_origins` match the `Origin` (each entry may hold
//!   one `*`, matched case-sensitively as S3 does), its `allowed_methods` hold the method (the
//!   `Access-Control-Request-Method` of a preflight), and, for a preflight, every name in
//!   `Access-Control-Request-Headers` matches one of its `allowed_headers` (one `*` each,
//!   case-insensitive). The first matching rule wins.
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
//!   without authentication (browsers never sign preflights), and never reaches the backend. No
//!   matching rule: 403 `AccessForbidden` ("CORSResponse: This CORS request is not allowed").
//! - An actual response with an `Origin` matching a rule carries `Access-Control-Allow-Origin`
//!   (`*` for a rule whose origin is exactly `*`, else the origin echoed together with
//!   `Access-Control-Allow-Credentials: true`) and `Access-Control-Expose-Headers`. Every
//!   response of a bucket with rules carries `Vary: Origin` (caches must not serve one origin's
//!   answer to another).
//! - Extension: an `expose_headers` entry with a `*` (`x-amz-meta-*`) is expanded, per response,
//!   into the headers of that response it matches; browsers take no wildcards there.
//!
//! # Security notes
//!
//! CORS only tells browsers what a page of another origin may read; it never grants access.
//! Authorization is unchanged: an actual request is authenticated and authorized as any other.
//! The backend's own `Access-Control-*` headers are always dropped (see the gateway's response
//! filter), so only these rules speak for a bucket.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Deserialize;

use crate::s3::{ErrorCode, S3Error};

/// Methods a rule may allow (S3's list).
pub(crate) const CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Most rules a bucket may have (S3's limit).
pub(crate) const MAX_RULES: usize = 100;

/// One CORS rule (S3's `CORSRule`). Methods are stored upper case, allowed headers lower case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CorsRule {
    /// Optional name (S3's `ID`).
    #[serde(default)]
    pub id: Option<String>,
    /// Origins, each with at most one `*` (`*` alone: any origin).
    pub allowed_origins: Vec<String>,
    /// Methods among GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may name, each with at most one `*`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long browsers may cache a preflight.
    #[serde(default)]
    pub max_age_seconds: Option<u64>,
}

impl CorsRule {
    /// The rule of a public bucket (`anonymous_access = true`) that names no rules: any origin
    /// may GET and HEAD with any request header, and read the headers a ranged, cache-aware
    /// reader needs, plus every `x-amz-*` header of the response (request id, version id, user
    /// metadata...).
    pub fn public_default() -> Self {
        CorsRule {
            id: Some("public-default".to_string()),
            allowed_origins: vec!["*".to_string()],
            allowed_methods: vec!["GET".to_string(), "HEAD".to_string()],
            allowed_headers: vec!["*".to_string()],
            expose_headers: [
                "ETag",
                "Content-Range",
                "Accept-Ranges",
                "Content-Length",
                "Content-Type",
                "Content-Encoding",
                "Content-Disposition",
                "Content-Language",
                "Cache-Control",
                "Expires",
                "Last-Modified",
                "x-amz-*",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
            max_age_seconds: Some(3600),
        }
    }

    /// The rule of the gateway's STS endpoint (`/.sts`, and `POST /` with the STS form): any
    /// origin may call it, with any request header, and read the request id. Never with
    /// credentials (`*`): the web identity token travels in the form, not in a cookie, and the
    /// answer only ever holds what the caller's own token earns.
    pub fn sts_default() -> Self {
        CorsRule {
            id: Some("sts-default".to_string()),
            allowed_origins: vec!["*".to_string()],
            allowed_methods: vec!["GET".to_string(), "POST".to_string()],
            allowed_headers: vec!["*".to_string()],
            expose_headers: vec!["x-amz-request-id".to_string()],
            max_age_seconds: Some(3600),
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|p| wildcard_match(p, origin, false))
    }

    fn method_allowed(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn headers_allowed<'a>(&self, mut requested: impl Iterator<Item = &'a str>) -> bool {
        requested.all(|h| {
            self.allowed_headers
                .iter()
                .any(|p| wildcard_match(p, h, true))
        })
    }

    /// `*` when the rule allows any origin (no credentials), else the origin echoed.
    fn allow_origin(&self, origin: &HeaderValue) -> (HeaderValue, bool) {
        if self.allowed_origins.iter().any(|o| o == "*") {
            (HeaderValue::from_static("*"), false)
        } else {
            (origin.clone(), true)
        }
    }
}

/// `pattern` with at most one `*` (more are matched literally after the first) against `value`.
pub(crate) fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value.is_char_boundary(pre.len())
                && value.is_char_boundary(value.len() - post.len())
                && eq(&value[..pre.len()], pre)
                && eq(&value[value.len() - post.len()..], post)
        }
    }
}

/// The rules of one bucket, shared by every request (built once per config snapshot).
#[derive(Clone, Debug, Default)]
pub(crate) struct BucketCors {
    rules: Vec<Arc<CorsRule>>,
}

impl BucketCors {
    pub(crate) fn new(rules: Vec<CorsRule>) -> Self {
        BucketCors {
            rules: rules.into_iter().map(Arc::new).collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the response to an actual (non-preflight) request gets; None when the bucket has no
    /// rules.
    pub(crate) fn for_request(&self, method: &Method, headers: &HeaderMap) -> Option<CorsHeaders> {
        if self.rules.is_empty() {
            return None;
        }
        let matched = headers.get(http::header::ORIGIN).and_then(|origin| {
            let o = origin.to_str().ok()?;
            let rule = self
                .rules
                .iter()
                .find(|r| r.origin_allowed(o) && r.method_allowed(method.as_str()))?;
            let (allow_origin, credentials) = rule.allow_origin(origin);
            Some(Matched {
                allow_origin,
                credentials,
                rule: rule.clone(),
            })
        });
        Some(CorsHeaders { matched })
    }

    /// The answer to an `OPTIONS` request.
    pub(crate) fn preflight(
        &self,
        headers: &HeaderMap,
        request_id: &str,
    ) -> Result<Response<Bytes>, S3Error> {
        let origin = headers
            .get(http::header::ORIGIN)
            .filter(|o| !o.is_empty())
            .ok_or_else(|| {
                S3Error::new(
                    ErrorCode::BadRequest,
                    "Insufficient information. Origin request header needed.",
                )
            })?;
        let origin_str = origin.to_str().map_err(|_| forbidden())?;
        let method = headers
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("");
        if !CORS_METHODS.contains(&method) {
            return Err(S3Error::new(
                ErrorCode::BadRequest,
                format!("Invalid Access-Control-Request-Method: {method}"),
            ));
        }
        if self.rules.is_empty() {
            return Err(S3Error::new(
                ErrorCode::AccessForbidden,
                "CORSResponse: CORS is not enabled for this bucket.",
            ));
        }
        let requested_raw = requested_headers(headers)?;
        let requested: Vec<&str> = requested_raw
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let rule = self
            .rules
            .iter()
            .find(|r| {
                r.origin_allowed(origin_str)
                    && r.method_allowed(method)
                    && r.headers_allowed(requested.iter().copied())
            })
            .ok_or_else(forbidden)?;
        Ok(preflight_answer(rule, origin, &requested, request_id))
    }
}

/// The `Access-Control-Request-Headers` values of a preflight (AccessForbidden if not ASCII).
fn requested_headers(headers: &HeaderMap) -> Result<Vec<&str>, S3Error> {
    headers
        .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .map(|v| v.to_str().map_err(|_| forbidden()))
        .collect()
}

/// The 200 a preflight that `rule` allows gets: the origin, the rule's methods, the `requested`
/// headers, the rule's exposed headers and max age.
fn preflight_answer(
    rule: &CorsRule,
    origin: &HeaderValue,
    requested: &[&str],
    request_id: &str,
) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    let (allow_origin, credentials) = rule.allow_origin(origin);
    h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    if credentials {
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    insert_list(
        h,
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        rule.allowed_methods.iter().map(String::as_str),
    );
    insert_list(
        h,
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        requested.iter().copied(),
    );
    insert_list(
        h,
        http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        rule.expose_headers
            .iter()
            .map(String::as_str)
            .filter(|e| !e.contains('*')),
    );
    if let Some(age) = rule.max_age_seconds {
        h.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
    }
    add_vary(h, PREFLIGHT_VARY);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    resp
}

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

fn forbidden() -> S3Error {
    S3Error::new(
        ErrorCode::AccessForbidden,
        "CORSResponse: This CORS request is not allowed. This is usually because the evaluation \
         of Origin, request method / Access-Control-Request-Method or \
         Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    )
}

/// The `Access-Control-*` headers (and `Vary`) of one response, decided at plan time.
#[derive(Clone, Debug)]
pub struct CorsHeaders {
    matched: Option<Matched>,
}

#[derive(Clone, Debug)]
struct Matched {
    allow_origin: HeaderValue,
    credentials: bool,
    rule: Arc<CorsRule>,
}

impl CorsHeaders {
    /// Sets the headers on a response: any `Access-Control-*` already there is replaced,
    /// `Vary: Origin` added, and for a matching origin the allowed origin and the exposed
    /// headers (wildcard entries expanded against this response's headers).
    pub fn apply(&self, h: &mut HeaderMap) {
        let stale: Vec<HeaderName> = h
            .keys()
            .filter(|n| n.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in stale {
            h.remove(name);
        }
        add_vary(h, "Origin");
        let Some(m) = &self.matched else {
            return;
        };
        let mut expose: Vec<&str> = Vec::new();
        for entry in &m.rule.expose_headers {
            if entry.contains('*') {
                for name in h.keys() {
                    if wildcard_match(entry, name.as_str(), true) {
                        expose.push(name.as_str());
                    }
                }
            } else {
                expose.push(entry);
            }
        }
        let mut seen: Vec<String> = Vec::with_capacity(expose.len());
        expose.retain(|e| {
            let lower = e.to_ascii_lowercase();
            if seen.contains(&lower) {
                false
            } else {
                seen.push(lower);
                true
            }
        });
        let expose = HeaderValue::from_str(&expose.join(", ")).ok();
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            m.allow_origin.clone(),
        );
        if m.credentials {
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = expose.filter(|v| !v.is_empty()) {
            h.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
}

fn insert_list<'a>(h: &mut HeaderMap, name: HeaderName, items: impl Iterator<Item = &'a str>) {
    let joined = items.collect::<Vec<_>>().join(", ");
    if joined.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&joined) {
        h.insert(name, v);
    }
}

/// Adds names to `Vary`, keeping what is there (a backend's `Vary: Accept-Encoding`).
fn add_vary(h: &mut HeaderMap, names: &str) {
    let existing: Vec<String> = h
        .get_all(http::header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if existing.iter().any(|v| v == "*") {
        return;
    }
    let mut all = existing;
    for n in names.split(',').map(str::trim) {
        if !all.iter().any(|v| v.eq_ignore_ascii_case(n)) {
            all.push(n.to_string());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&all.join(", ")) {
        h.insert(http::header::VARY, v);
    }
}

#[cfg(test)]
mod tests;
