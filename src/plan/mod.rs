//! What the gateway hands a runtime (see [`crate::gateway::Plan`]): the backend request
//! ([`Forward`]) and what becomes of its answer, and the answers the gateway builds itself
//! (errors, small bodies refused).

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
