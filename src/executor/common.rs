//! What both runtimes compute alike around their I/O: whether a request head announces a body,
//! the text of a backend that did not answer in time.

use std::time::Duration;

use http::HeaderMap;

/// Whether a request head announces a body: a `Content-Length` other than 0, or any
/// `Transfer-Encoding`. An answer refusing such a request closes the connection (the rest of the
/// body must never be read as the next request).
pub fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Why a backend call failed when the backend did not start answering within `timeout`.
pub fn no_answer_within(timeout: Duration) -> String {
    format!(
        "the backend did not answer within {} seconds",
        timeout.as_secs_f64()
    )
}

#[cfg(test)]
mod tests;
