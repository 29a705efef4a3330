//! Holding a streamed body to the sha256 its signature named, without buffering it.
//!
//! The verifier forwards every chunk but the newest: the newest is released only once the whole
//! body has arrived with the declared length and hashed to the signed value. A body that does not
//! match therefore never reaches the backend in full, and with a fixed `Content-Length` the
//! backend cannot complete an object from it.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::s3::{ErrorCode, S3Error};

/// A sans-IO filter a runtime streams a request body through: `push` each chunk and forward what
/// it returns, `finish` at the end and forward that too; any error aborts the backend request
/// and is the client's answer. `Debug` so the plans holding one stay printable.
pub trait BodyCheck: std::fmt::Debug {
    /// Feeds the next chunk; returns what may be forwarded now.
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error>;
    /// Ends the body; returns the held-back rest if everything verified.
    fn finish(&mut self) -> Result<Option<Bytes>, S3Error>;
}

impl BodyCheck for PayloadVerifier {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        PayloadVerifier::push(self, chunk)
    }
    fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        PayloadVerifier::finish(self)
    }
}

/// Sans-IO sha256 check of a streamed body.
#[derive(Debug)]
pub struct PayloadVerifier {
    expected: [u8; 32],
    content_length: u64,
    seen: u64,
    hasher: Sha256,
    held: Option<Bytes>,
}

impl PayloadVerifier {
    /// A verifier for a body of `content_length` bytes that must hash to `expected`.
    pub fn new(expected: [u8; 32], content_length: u64) -> Self {
        PayloadVerifier {
            expected,
            content_length,
            seen: 0,
            hasher: Sha256::new(),
            held: None,
        }
    }

    /// Feeds the next chunk. Returns what may be forwarded now (the previously held chunk).
    /// Errors when the body grows past its declared length.
    pub fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        if chunk.is_empty() {
            return Ok(None);
        }
        self.seen += chunk.len() as u64;
        if self.seen > self.content_length {
            return Err(S3Error::new(
                ErrorCode::InvalidRequest,
                format!(
                    "the body is longer than its Content-Length of {}",
                    self.content_length
                ),
            ));
        }
        self.hasher.update(&chunk);
        Ok(self.held.replace(chunk))
    }

    /// Ends the body. Returns the held-back bytes if the length and sha256 match, otherwise the
    /// error to answer with (`IncompleteBody` or `XAmzContentSHA256Mismatch`).
    pub fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        if self.seen != self.content_length {
            return Err(S3Error::new(
                ErrorCode::IncompleteBody,
                format!(
                    "the body ended after {} of the {} bytes its Content-Length declared",
                    self.seen, self.content_length
                ),
            ));
        }
        let actual: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        if actual != self.expected {
            return Err(S3Error::new(
                ErrorCode::XAmzContentSHA256Mismatch,
                "the body's sha256 does not match the x-amz-content-sha256 the request signed",
            )
            .with_detail("ClientComputedContentSHA256", hex::encode(self.expected))
            .with_detail("S3ComputedContentSHA256", hex::encode(actual)));
        }
        Ok(self.held.take())
    }
}

#[cfg(test)]
mod tests;
