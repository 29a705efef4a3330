//! What both runtimes decide alike about an upload's body and a backend call, without doing
//! the I/O: the check of an upload declared empty, the words of a backend that stayed silent.

use std::time::Duration;

use crate::payload::BodyCheck;
use crate::s3::{ErrorCode, S3Error};

use super::session::{incomplete_body, BodyRead};

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

/// Why a backend call failed when the backend did not answer within `timeout`.
pub fn backend_silent(timeout: Duration) -> String {
    format!(
        "the backend did not answer within {} seconds",
        timeout.as_secs_f64()
    )
}

#[cfg(test)]
mod tests;
