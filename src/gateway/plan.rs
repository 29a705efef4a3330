//! What the gateway hands a runtime: a [`Plan`]. A backend's own answer
//! ([`crate::backend::BackendPlan`]) becomes one, beside the plans only the pipeline makes (a
//! copy streamed between backends, a ListBuckets gathered, a form or an issuer's keys to read).

use bytes::Bytes;
use http::Response;

#[cfg(doc)]
use super::Gateway;
use super::{Gather, StreamedCopy};
use crate::backend::federation::CredentialsNeeded;
use crate::backend::r2::R2Plan;
use crate::cors::CorsHeaders;
#[cfg(doc)]
use crate::plan::body_too_large;
use crate::plan::Forward;
use crate::post::FormReader;

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

/// Attaches a request's CORS headers to its plan: set now on a direct answer, carried by a
/// forward or an R2 plan to every response it may produce. Runtimes need not know.
pub(super) fn with_cors(plan: Plan, cors: Option<CorsHeaders>) -> Plan {
    let Some(cors) = cors else {
        return plan;
    };
    match plan {
        Plan::Respond(mut resp) => {
            cors.apply(resp.headers_mut());
            Plan::Respond(resp)
        }
        Plan::Forward(mut fwd) => {
            fwd.finish.cors = Some(cors);
            Plan::Forward(fwd)
        }
        Plan::R2(mut r2) => {
            r2.cors = Some(cors);
            Plan::R2(r2)
        }
        Plan::Copy(mut copy) => {
            copy.cors = Some(cors);
            Plan::Copy(copy)
        }
        Plan::Gather(mut gather) => {
            gather.cors = Some(cors);
            Plan::Gather(gather)
        }
        // Planned again once the body, the form, the issuer's keys or the backend credentials
        // are in.
        p @ (Plan::NeedBody { .. }
        | Plan::NeedJwks { .. }
        | Plan::NeedForm(_)
        | Plan::NeedBackendCredentials(_)) => p,
    }
}
