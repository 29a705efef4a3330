//! What both runtimes decide alike about an upload's body and a backend call, without doing
//! the I/O: why a body cannot go out and the answer that gets, the check of an upload declared
//! empty, the declared length, the words of a backend that stayed silent.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::gateway::{Forward, R2Plan, Timing};
use crate::payload::BodyCheck;
use crate::s3::{ErrorCode, S3Error};

use super::session::{incomplete_body, BodyRead};

/// Why an upload's body cannot go out.
#[derive(Debug)]
pub enum UploadError {
    /// The client's answer: a refused or broken body.
    Client(S3Error),
    /// The runtime failed (an answer of 502).
    Runtime(String),
}

impl UploadError {
    /// The client's answer of a forwarded request whose body did not go out (`plan`: the time
    /// the gateway took to plan it; no backend time).
    pub fn forward_answer(&self, fwd: &Forward, plan: Duration) -> Response<Bytes> {
        match self {
            UploadError::Client(err) => fwd.refused(err),
            UploadError::Runtime(why) => {
                let backend = Duration::ZERO;
                fwd.backend_failed(why, Timing { plan, backend })
            }
        }
    }

    /// The client's answer of an R2 call whose body did not go out.
    pub fn r2_answer(&self, plan: &R2Plan) -> Response<Bytes> {
        match self {
            UploadError::Client(err) => plan.refused(err),
            UploadError::Runtime(why) => plan.failed(why),
        }
    }

    /// Why, as text (a failed call of a transfer).
    pub fn into_message(self) -> String {
        match self {
            UploadError::Client(err) => err.message,
            UploadError::Runtime(why) => why,
        }
    }
}

/// A request's `content-length`, when it has a valid one.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Most bytes an upload of length 0 may send: the framing of an empty aws-chunked body (its final
/// chunk and a trailer of at most [`crate::chunked::MAX_TRAILER`] bytes) fits well within it.
pub const EMPTY_FRAMING_LIMIT: usize = 64 << 10;

/// Checks the body of an upload whose declared length is 0 (read up to [`EMPTY_FRAMING_LIMIT`])
/// through `check`: it must release nothing and finish verified.
pub fn check_empty_upload(mut check: Box<dyn BodyCheck>, read: BodyRead) -> Result<(), S3Error> {
    let bytes = match read {
        BodyRead::Read(bytes) => bytes,
        BodyRead::TooLarge => {
            return Err(S3Error::new(
                ErrorCode::IncompleteBody,
                format!("the body of an empty upload is over {EMPTY_FRAMING_LIMIT} bytes"),
            ))
        }
        BodyRead::Broken(why) => return Err(incomplete_body(&why)),
    };
    let pushed = check.push(bytes)?;
    let rest = check.finish()?;
    if pushed.into_iter().chain(rest).any(|b| !b.is_empty()) {
        return Err(S3Error::new(
            ErrorCode::IncompleteBody,
            "the body is longer than its declared length of 0",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
