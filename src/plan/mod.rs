//! What the gateway hands a runtime: the backend request ([`Forward`]) and what becomes of its
//! answer, and the answers the gateway builds itself (errors, small bodies refused).

use bytes::Bytes;
use http::Response;

use crate::backend::federation::CredentialsNeeded;
use crate::backend::r2::R2Plan;
#[cfg(doc)]
use crate::gateway::Gateway;
use crate::gateway::{Gather, StreamedCopy};
use crate::post::FormReader;
use crate::time::Timestamp;

pub(crate) mod answer;
mod bodies;
mod forward;
mod response;

pub use bodies::body_too_large;
pub(crate) use bodies::{
    check_small_body, MAX_COMPLETE_BODY, MAX_DELETE_BODY, MAX_TAGGING_BODY, MAX_VERSIONING_BODY,
};
pub use forward::{add_server_timing, Forward, ForwardBody, ResponseMode, Timing};
pub(crate) use forward::{strip_aws_chunked, Finish};
pub use response::error_response;
pub(crate) use response::respond;

/// Per-request inputs from the runtime: the world, passed in.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Now.
    pub now: Timestamp,
    /// Unique id for `x-amz-request-id` and logs.
    pub request_id: String,
}

/// What the runtime must do.
#[derive(Debug)]
pub enum Plan {
    /// Answer directly (errors, ListBuckets, HeadBucket, GetBucketLocation...).
    Respond(Response<Bytes>),
    /// One backend request.
    Forward(Box<Forward>),
    /// The request body is needed to plan (DeleteObjects): read at most `limit` bytes and call
    /// [`Gateway::plan_with_body`]. A longer body is answered with [`body_too_large`].
    NeedBody {
        /// Cap on the body.
        limit: usize,
    },
    /// An STS request needs the JSON Web Key Set of `issuer` (one the role trusts, checked
    /// fetchable): take it from the cache, or fetch it (see [`crate::sts::fetch`]), and call
    /// [`Gateway::plan_with_jwks`]. `refresh`: the cached one lacks the token's key; refetch it
    /// if the rate limit allows and call again with `may_refresh: false`.
    NeedJwks {
        /// The issuer URL.
        issuer: String,
        /// Whether the cached JWKS was found wanting.
        refresh: bool,
    },
    /// One call on an R2 binding (`backend_type = "r2"`), then [`R2Plan::respond`].
    R2(Box<R2Plan>),
    /// The bucket's backend is federated (`auth_type = "oidc"`): get its temporary credentials
    /// (cached by `key`, or exchanged with [`Gateway::credential_exchange`]; see
    /// [`crate::backend::federation`]) and call [`Gateway::plan_with_credentials`].
    NeedBackendCredentials(Box<CredentialsNeeded>),
    /// A browser form upload (POST Object): feed the body's first chunks to the reader until
    /// [`FormReader::push`] returns true (or call [`FormReader::end`] / [`FormReader::broken`]
    /// when the body ends or fails first), then call [`Gateway::plan_with_form`] and stream the
    /// REST of the same body as the resulting plan says: the reader keeps what it took.
    NeedForm(Box<FormReader>),
    /// A copy between backends that cannot copy server-side, streamed through the gateway:
    /// run its steps ([`StreamedCopy::start`], [`StreamedCopy::advance`]).
    Copy(Box<StreamedCopy>),
    /// Several backend requests whose answers make one answer (ListBuckets through
    /// pass-through buckets): send them ([`Gather::take_requests`]) and hand the answers to
    /// [`Gateway::finish_gather`].
    Gather(Box<Gather>),
}
