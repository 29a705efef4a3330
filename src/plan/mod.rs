//! What the gateway hands a runtime: the backend request ([`Forward`]) and what becomes of its
//! answer, and the answers the gateway builds itself (errors, small bodies refused).

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
