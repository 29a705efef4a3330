//! What both runtimes compute alike around their I/O: whether a request head announces a body,
//! the text of a backend that did not answer in time, the answer to a request whose handler
//! panicked.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

use crate::plan::error_response;
use crate::s3::S3Error;

/// Whether a request head announces a body: a `Content-Length` other than 0, or any
/// `Transfer-Encoding`. An answer refusing such a request closes the connection (the rest of the
/// body must never be read as the next request).
pub fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The answer to a request whose handling panicked: 500 InternalError with its request id (the
/// runtime logs the panic; the client learns nothing of it).
pub fn panicked(method: &Method, request_id: &str) -> Response<Bytes> {
    let err = S3Error::internal("the gateway failed while handling this request");
    error_response(method, &err, request_id)
}

/// Why a backend call failed when the backend did not start answering within `timeout` (one of
/// the gateway's own reasons a failed copy may show its client).
pub fn no_answer_within(timeout: Duration) -> String {
    format!(
        "the backend did not answer within {} seconds",
        timeout.as_secs_f64()
    )
}

#[cfg(test)]
mod tests;
