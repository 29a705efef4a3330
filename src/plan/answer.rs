//! Answer-side translation: how a backend's answer is told in S3's terms. [`Forward`]'s answer
//! handling (header filtering, XML rewriting into the client's namespace, error documents) is
//! the same for every backend; what differs per provider sits behind [`Answer`], one of which
//! each [`Forward`] carries: [`S3Answer`] (the identity) for S3-compatible backends, and the
//! GCS and Azure ones in their folders (`backend/gcs/answer.rs`, `backend/azure/answer.rs`).
//!
//! Every method has the identity as its default, so a provider states only what it changes.
//!
//! [`Forward`]: super::Forward

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};

use crate::s3::S3Error;

/// What becomes of a backend's error document (its code, read from the XML).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ErrorAnswer<'c> {
    /// Not an error for S3: answered as a bodiless success with this status (a delete of a
    /// missing blob).
    Success(StatusCode),
    /// The backend refused the gateway's own credentials or configuration: a 502.
    RefusedGateway,
    /// An S3 error with this status and code (the backend's message kept).
    Error(StatusCode, Cow<'c, str>),
}

/// A provider's translation of its answers into S3's. The defaults are the identity.
pub(crate) trait Answer: fmt::Debug + Send + Sync {
    /// Whether a successful answer is read whole because the gateway writes the client's
    /// document itself ([`Answer::success_document`]).
    fn buffers_success(&self) -> bool {
        false
    }

    /// The name a backend's response header reaches the client under, when it is not its own
    /// (provider metadata headers as `x-amz-meta-*`); None: the header is kept or dropped by
    /// the common rules.
    fn header_name(&self, _name: &str) -> Option<HeaderName> {
        None
    }

    /// Last word on a streamed answer's head: headers added from the backend's (`backend`) to
    /// those the client gets (`out`), and the status the client sees.
    fn head(&self, status: StatusCode, _backend: &HeaderMap, _out: &mut HeaderMap) -> StatusCode {
        status
    }

    /// Whether the headers of a failed HEAD (no body to read) say the backend refused the
    /// gateway itself (answered 502).
    fn head_refuses_gateway(&self, _backend: &HeaderMap) -> bool {
        false
    }

    /// The document a successful answer becomes, when the gateway writes it (None: the
    /// backend's own body is answered).
    fn success_document(&self, _backend: &HeaderMap) -> Option<String> {
        None
    }

    /// A listing answer as an S3 `ListBucketResult` in the backend's namespace (then rewritten
    /// into the client's as S3 listings are).
    fn listing(&self, body: Bytes) -> Result<Bytes, S3Error> {
        Ok(body)
    }

    /// What a backend error document with `code`, answered with `status`, becomes.
    fn error<'c>(&self, status: StatusCode, code: &'c str) -> ErrorAnswer<'c> {
        ErrorAnswer::Error(status, Cow::Borrowed(code))
    }
}

/// S3-compatible backends: their answers are S3's already.
#[derive(Debug, Default)]
pub(crate) struct S3Answer;

impl Answer for S3Answer {}

#[cfg(test)]
mod tests;
