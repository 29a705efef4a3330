//! The pipeline: request head in, [`Plan`] out. Runtimes execute the plan.
//!
//! ```text
//! parse ─▶ authenticate ─▶ authorize ─▶ backend plan
//! ```
//!
//! A [`Gateway`] is built once per config snapshot (per isolate / process) and shared by every
//! request: backend signers, signing-key caches and lookups live here, never per request.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use crate::config::{ConfigError, GatewayConfig};
pub use crate::payload::PayloadVerifier;
use crate::s3::S3Error;
pub use crate::s3::request::RequestHead;
use crate::time::Timestamp;

/// Runtime options that are not part of the config document.
#[derive(Clone, Debug, Default)]
pub struct GatewayOptions {
    /// Enables virtual-hosted style for `{bucket}.{domain}`.
    pub virtual_host_domain: Option<String>,
}

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
}

/// A backend request and how to treat its response.
#[derive(Debug)]
pub struct Forward {
    /// Method to send.
    pub method: Method,
    /// Full (usually presigned) URL.
    pub url: String,
    /// Headers to send (client headers worth keeping, minus auth and hop-by-hop).
    pub headers: HeaderMap,
    /// What to do with the client's body.
    pub body: ForwardBody,
    /// `x-amz-request-id` of this request.
    pub request_id: String,
    pub(crate) finish: Finish,
}

/// What to do with the client's request body.
#[derive(Debug)]
pub enum ForwardBody {
    /// Send no body.
    Empty,
    /// Stream the client's body as is (the `content-length` header is set in `headers`).
    Stream,
    /// Stream it through a [`PayloadVerifier`]: the last bytes are held back until the whole body
    /// hashed to the signed sha256, so a mismatching body can never complete an object.
    Verify(PayloadVerifier),
}

/// How the runtime reads a backend response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    /// Stream the body to the client; headers from [`Forward::response_head`].
    Stream,
    /// Read at most `limit` bytes and pass them to [`Forward::buffered_response`].
    Buffer {
        /// Cap on what may be read; past it the runtime answers [`Forward::backend_failed`].
        limit: usize,
    },
}

/// Timings the runtime measured, for `Server-Timing`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// Time spent in the core building the plan.
    pub plan: Duration,
    /// Time from sending the backend request to its response head.
    pub backend: Duration,
}

/// Response post-processing chosen at plan time.
#[derive(Debug)]
pub(crate) enum Finish {
    /// Stream; rewrite backend errors to ours.
    Plain,
}


/// A built gateway: one per config snapshot.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    options: GatewayOptions,
}

impl Gateway {
    /// Builds the gateway (backend planners, key caches) from a validated config.
    pub fn new(config: GatewayConfig, options: GatewayOptions) -> Result<Self, ConfigError> {
        Ok(Gateway { config, options })
    }

    /// Plans one request. Never panics on request data.
    pub fn plan(&self, head: &RequestHead, ctx: &RequestContext) -> Plan {
        let _ = (head, &self.config, &self.options);
        Plan::Respond(error_response(&head.method, &S3Error::not_implemented("not yet"), &ctx.request_id))
    }
}

impl Forward {
    /// How to read the backend's response with this status.
    pub fn response_mode(&self, status: StatusCode) -> ResponseMode {
        let _ = status;
        ResponseMode::Stream
    }

    /// Status and headers for a streamed response: hop-by-hop and backend-identifying headers
    /// removed, `x-amz-request-id` and `Server-Timing` added.
    pub fn response_head(&self, status: StatusCode, headers: &HeaderMap, timing: Timing) -> (StatusCode, HeaderMap) {
        let _ = timing;
        (status, headers.clone())
    }

    /// The response for a buffered backend answer (rewritten listings, translated errors).
    pub fn buffered_response(&self, status: StatusCode, headers: &HeaderMap, body: Bytes, timing: Timing) -> Response<Bytes> {
        let _ = (status, headers, body, timing);
        error_response(&self.method, &S3Error::internal("not yet"), &self.request_id)
    }

    /// The answer when the backend could not be reached or its response could not be read
    /// (502 `BadGateway`, or the verifier's error when the body was refused).
    pub fn backend_failed(&self, reason: &str, timing: Timing) -> Response<Bytes> {
        let _ = timing;
        error_response(&self.method, &S3Error::new(crate::s3::ErrorCode::BadGateway, reason), &self.request_id)
    }
}

/// An S3 error as an HTTP response (empty body for HEAD).
pub fn error_response(method: &Method, err: &S3Error, request_id: &str) -> Response<Bytes> {
    let body = if method == Method::HEAD { Bytes::new() } else { Bytes::from(err.to_xml(request_id)) };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    resp
}
