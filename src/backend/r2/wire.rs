//! The small wire helpers every R2 answer is built with (below the listing, records and
//! response builders that share them): times, ETags, bare and XML responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use super::R2Object;
use crate::time::Timestamp;

/// `2024-01-02T03:04:05.678Z`.
pub(super) fn iso8601_ms(ms: i64) -> String {
    let base = Timestamp(ms.div_euclid(1000)).iso8601();
    match base.strip_suffix(".000Z") {
        Some(b) => format!("{b}.{:03}Z", ms.rem_euclid(1000)),
        None => base,
    }
}

pub(crate) fn quoted_etag(meta: &R2Object) -> String {
    if meta.http_etag.starts_with('"') {
        meta.http_etag.clone()
    } else {
        format!("\"{}\"", meta.etag.trim_matches('"'))
    }
}

pub(super) fn base_response(status: StatusCode, body: Bytes, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

pub(super) fn xml_response(status: StatusCode, doc: String, request_id: &str) -> Response<Bytes> {
    let mut resp = base_response(status, Bytes::from(doc), request_id);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}
