//! Responses the gateway builds itself: plain answers and S3 error documents.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};

use crate::s3::S3Error;

/// A response built by the gateway itself.
pub(crate) fn respond(
    status: StatusCode,
    body: Bytes,
    content_type: Option<&'static str>,
    request_id: &str,
) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(ct) = content_type {
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    resp
}

/// An S3 error as an HTTP response (empty body for HEAD).
pub fn error_response(method: &Method, err: &S3Error, request_id: &str) -> Response<Bytes> {
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(err.to_xml(request_id))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    resp
}
