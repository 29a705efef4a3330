//! Copies that name their source in another bucket (`x-amz-copy-source`): where the source is
//! and, when the backend cannot copy it itself, the copy the gateway streams (see
//! `gateway::copy`).

use std::sync::Arc;

use super::s3::S3Backend;

/// Where a copy reads or writes: a store and the backend key (backend prefix applied).
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub store: Store,
    pub key: String,
}

/// The store behind an [`Endpoint`].
#[derive(Debug)]
pub(crate) enum Store {
    /// An S3-compatible backend and its bucket (for pass-through buckets).
    S3 {
        backend: Arc<S3Backend>,
        bucket: Option<String>,
    },
    /// An R2 binding of the Worker (`env[binding]`).
    R2 { binding: String },
}

/// Where a copy into an S3-compatible bucket reads from.
pub(crate) enum CopySource {
    /// The backend's `x-amz-copy-source`: the backend copies server-side.
    ServerSide(String),
    /// Another backend: the gateway streams the copy (source, versionId).
    Streamed(Endpoint, Option<String>),
}

/// Where a copy into an R2 bucket reads from.
pub(crate) enum R2CopySource {
    /// The same binding: the source's R2 key.
    SameBinding(String),
    /// Another backend or binding: streamed by the gateway (source, versionId).
    Streamed(Endpoint, Option<String>),
}

/// A copy between backends the gateway streams: from `source` (at `version`) into `dest`.
#[derive(Debug)]
pub(crate) struct CopyOrder {
    pub source: Endpoint,
    pub version: Option<String>,
    pub dest: Endpoint,
}
