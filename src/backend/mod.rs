//! Backends: turning an authorized S3 operation into a backend request (presigned URL, headers,
//! response handling). One planner per bucket, built once per config snapshot.

pub(crate) mod azure;
pub(crate) mod delete;
pub(crate) mod federation;
pub(crate) mod gcs;
pub(crate) mod options;
pub(crate) mod r2;
pub(crate) mod s3;
pub(crate) mod upload;

pub(crate) mod copy;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use http::Response;

use crate::auth::Authenticated;
use crate::config::{BackendType, BucketConfig};
use crate::pathmap::ClientView;
use crate::plan::{Forward, RequestContext};
use crate::policy::Identity;
use crate::s3::request::{Operation, RequestHead, S3Request};
use crate::s3::S3Error;
use crate::sts::token::SessionKeys;

use self::azure::AzureBackend;
use self::copy::{CopyOrder, CopySource, R2CopySource};
use self::federation::{CredentialsNeeded, ExchangeError, TemporaryCredentials, Unsigned};
use self::r2::R2Plan;
use self::s3::settings::{self, LockPlan};
use self::s3::{Dialect, S3Backend};

/// One authorized request on one bucket: everything a backend plans it from, built once by
/// the gateway once the bucket is resolved and the caller authorized.
pub(crate) struct BucketRequest<'a> {
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
    /// What object lock adds to the request (checked at authorization).
    pub(crate) lock: LockPlan,
    /// The body read because a plan asked for it ([`BackendPlan::NeedBody`]).
    pub(crate) body: Option<Bytes>,
    /// The federated credentials the runtime obtained because a plan asked for them
    /// ([`BackendPlan::NeedBackendCredentials`]), or why it could not.
    pub(crate) credentials: Option<Result<&'a TemporaryCredentials, &'a ExchangeError>>,
}

impl BucketRequest<'_> {
    /// The identity the request was authenticated as.
    pub(crate) fn identity(&self) -> &Identity {
        &self.authed.identity
    }
}

/// What a backend's planning asks of the gateway: the parts that look beyond this bucket (a
/// copy source in another bucket) or at the gateway's own setup (OIDC federation, the keys
/// of upload ids).
pub(crate) trait Services {
    /// CopyObject / UploadPartCopy into an S3-compatible bucket: the source authorized as a
    /// read, and copied by `dest` itself or streamed.
    fn copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        dest: &S3Backend,
    ) -> Result<CopySource, S3Error>;

    /// CopyObject / UploadPartCopy into an R2 bucket on `binding`: the source authorized as
    /// a read, and copied by the binding itself or streamed.
    fn r2_copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        binding: &str,
        operation: Operation,
    ) -> Result<R2CopySource, S3Error>;

    /// The federated credentials a request to a backend with `needed` (None: its own, or
    /// none) is signed with, or what to do without them.
    fn credentials<'c>(
        &self,
        needed: Option<&CredentialsNeeded>,
        bucket: &str,
        given: Option<Result<&'c TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Option<&'c TemporaryCredentials>, Unsigned>;

    /// The keys that seal session tokens (`SESSION_TOKEN_KEY`), if set.
    fn session_keys(&self) -> Option<&SessionKeys>;
}

/// What a backend answers a [`BucketRequest`] with; the gateway turns it into its plan.
#[derive(Debug)]
pub(crate) enum BackendPlan {
    /// Answer directly.
    Respond(Response<Bytes>),
    /// One backend request.
    Forward(Box<Forward>),
    /// The request body is needed: read at most `limit` bytes and plan again.
    NeedBody {
        /// Cap on the body.
        limit: usize,
    },
    /// The bucket's backend is federated: obtain its credentials and plan again.
    NeedBackendCredentials(Box<CredentialsNeeded>),
    /// One call on an R2 binding.
    R2(Box<R2Plan>),
    /// A copy between backends, streamed through the gateway.
    Copy(Box<CopyOrder>),
}

/// How a bucket's objects are reached.
#[derive(Debug)]
pub(crate) enum Backend {
    /// By presigned URL (boxed: it is large, and a snapshot may hold thousands of buckets).
    S3(Arc<S3Backend>),
    /// Azure Blob, by SAS URL.
    Azure(Arc<AzureBackend>),
    /// Through a Worker binding.
    R2 {
        /// The binding's name.
        binding: String,
    },
}

impl Backend {
    /// The backend of a config bucket whose options were checked ([`options::check_config`]).
    pub(crate) fn from_config(bucket: &BucketConfig) -> Result<Backend, String> {
        match bucket.backend_type {
            BackendType::S3 | BackendType::Gcs => {
                S3Backend::from_config(bucket).map(|b| Backend::S3(Arc::new(b)))
            }
            BackendType::Azure => {
                AzureBackend::from_config(bucket).map(|b| Backend::Azure(Arc::new(b)))
            }
            BackendType::R2 => bucket
                .option("binding")
                .filter(|n| !n.is_empty())
                .map(|n| Backend::R2 {
                    binding: n.to_string(),
                })
                .ok_or_else(|| "backend_options.binding is missing".to_string()),
        }
    }

    /// Plans an authorized request on this backend: refused when the backend lacks what the
    /// operation asks (S3-only operations, object lock), then planned by its kind.
    pub(crate) fn plan(
        &self,
        services: &dyn Services,
        request: &BucketRequest<'_>,
    ) -> Result<BackendPlan, S3Error> {
        if let Some(what) = self.without_settings() {
            let op = request.req.operation;
            if settings::s3_only(op) || request.lock.asks_lock {
                return Err(
                    settings::unsupported_backend(op, what).with_resource(request.resource.clone())
                );
            }
        }
        match self {
            Backend::S3(backend) => s3::prepare::plan(services, request, backend),
            Backend::Azure(az) => azure::plan::plan(services, request, az),
            Backend::R2 { binding } => r2::plan_bucket(services, request, binding),
        }
    }

    /// The backend's name when it has no object lock or S3's other bucket settings (None:
    /// S3 proper has them).
    fn without_settings(&self) -> Option<&'static str> {
        match self {
            Backend::Azure(_) => Some("Azure"),
            Backend::R2 { .. } => Some("R2"),
            Backend::S3(b) if b.dialect() == Dialect::Gcs => Some("GCS"),
            Backend::S3(_) => None,
        }
    }
}

/// A key that forms a `.` or `..` path segment once glued to the bucket's backend prefix.
pub(crate) fn glued_dot_segment() -> S3Error {
    S3Error::invalid_argument(
        "the key, under this bucket's backend prefix, would form a '.' or '..' path segment, \
         which fetch() and HTTP proxies normalize; choose another key",
    )
    .with_detail("ArgumentName", "key")
}
