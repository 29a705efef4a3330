//! Backends: turning an authorized S3 operation into a backend request (presigned URL, headers,
//! response handling). One planner per bucket, built once per config snapshot.

pub mod azure;
pub(crate) mod delete;
pub mod federation;
pub mod gcs;
pub(crate) mod options;
pub mod r2;
pub mod s3;
pub(crate) mod upload;

use crate::auth::Authenticated;
use crate::config::BucketConfig;
use crate::pathmap::ClientView;
use crate::plan::RequestContext;
use crate::s3::request::{RequestHead, S3Request};
use crate::s3::S3Error;

/// A request whose bucket is resolved and whose caller is authorized: what a backend's planning
/// starts from.
pub(crate) struct Authorized<'a> {
    pub(crate) head: &'a RequestHead,
    /// The request after path mapping.
    pub(crate) req: &'a S3Request,
    pub(crate) authed: &'a Authenticated,
    pub(crate) ctx: &'a RequestContext,
    /// The config bucket's name (for a pass-through bucket, the client's).
    pub(crate) name: &'a str,
    pub(crate) bucket: &'a BucketConfig,
    /// The bucket's backend prefix ("" for none).
    pub(crate) prefix: &'a str,
    /// A path-mapped bucket: the client's view of it.
    pub(crate) view: Option<&'a ClientView>,
    /// `/bucket/key` as the client named it, for error documents.
    pub(crate) resource: String,
}

/// A key that forms a `.` or `..` path segment once glued to the bucket's backend prefix.
pub(crate) fn glued_dot_segment() -> S3Error {
    S3Error::invalid_argument(
        "the key, under this bucket's backend prefix, would form a '.' or '..' path segment, \
         which fetch() and HTTP proxies normalize; choose another key",
    )
    .with_detail("ArgumentName", "key")
}
