//! Streamed copies: CopyObject and UploadPartCopy between buckets whose backends cannot copy
//! server-side (different endpoints, or the same endpoint under other credentials).
//!
//! The gateway reads the source and writes the destination itself, as a short sequence of
//! backend requests that the runtime executes one after the other ([`CopyStep`]), feeding each
//! answer back ([`CopyEvent`]): the core decides, the runtime moves bytes. Bodies stream from the
//! source's response into the destination's request; nothing is buffered but small XML answers.
//!
//! - An object up to the multipart threshold (5 GiB, S3's largest single PUT): GET the source,
//!   PUT it (one request each way).
//! - A larger object: CreateMultipartUpload, then per part a ranged GET (pinned to the source's
//!   ETag with `If-Match`, so a source replaced mid-copy fails the copy instead of mixing two
//!   versions) piped into UploadPart, then CompleteMultipartUpload. Any failure after the upload
//!   was created aborts it: a failed copy never leaves an object or billable parts behind.
//! - UploadPartCopy: a (ranged) GET piped into UploadPart of the client's upload.
//!
//! Metadata follows `x-amz-metadata-directive`: COPY takes the source's content headers and
//! `x-amz-meta-*` from its GET answer, REPLACE takes the request's. `x-amz-copy-source-if-*`
//! become the source GET's conditions; the destination's `If-Match`/`If-None-Match` go with the
//! write. Tags are not copied across backends (a GET does not return them): `x-amz-tagging`
//! with `x-amz-tagging-directive: REPLACE` is honoured.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use super::{error_response, respond, Finish, Forward, ForwardBody, Timing};
use crate::backend::gcs;
use crate::backend::r2::{self, R2Object, R2Outcome, R2Range};
use crate::backend::s3::{set_header, BackendRequest};
use crate::cors::CorsHeaders;
use crate::s3::conditions::Conditions;
use crate::s3::metadata::{content_headers, upload_metadata, HttpMetadata};
pub(crate) use crate::s3::ranges::parse_copy_range;
use crate::s3::xml;
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

mod answers;
mod requests;

// S3's limits live on the ground floor (config validates against them too); the copy's
// callers keep naming them here.
pub(crate) use crate::s3::limits::{CopyLimits, MAX_SINGLE_PUT, MIN_PART_SIZE};
/// Most parts an upload may have.
const MAX_PARTS: u64 = crate::s3::limits::MAX_PARTS as u64;
/// Cap on the backend answers the runtime reads for [`CopyEvent::Answer`].
pub const ANSWER_LIMIT: usize = 1 << 20;

pub(crate) use crate::backend::copy::{Endpoint, Store};

/// A `get` of an R2 copy source ([`CopyStep::OpenR2`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct R2Get {
    /// `env[binding]`.
    pub binding: String,
    /// R2 key.
    pub key: String,
    /// `range: { offset, length }`.
    pub range: Option<R2Range>,
    /// `onlyIf`.
    pub conditions: Conditions,
}

/// A `put` into an R2 destination ([`CopyStep::PipeR2`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct R2Put {
    /// `env[binding]`.
    pub binding: String,
    /// R2 key.
    pub key: String,
    /// Bytes the open source delivers (the `FixedLengthStream`'s length).
    pub length: u64,
    /// `httpMetadata`.
    pub http: HttpMetadata,
    /// `customMetadata`.
    pub custom: Vec<(String, String)>,
    /// `onlyIf` (the destination's `If-Match` / `If-None-Match`); default: none.
    pub conditions: Conditions,
}

/// What the copy produces.
#[derive(Debug)]
pub(crate) enum Target {
    /// CopyObject. `metadata`: the request's content headers and `x-amz-meta-*` (REPLACE), or
    /// None to take the source's (COPY). `headers`: storage class, tagging and the
    /// destination's conditions, sent with the write.
    Object {
        metadata: Option<HeaderMap>,
        headers: HeaderMap,
    },
    /// UploadPartCopy into the client's upload; `range` from `x-amz-copy-source-range`.
    Part {
        part_number: String,
        upload_id: String,
        range: Option<(u64, u64)>,
    },
}

/// Copy failures in the gateway's own words (runtimes and core), safe to show a client.
const OWN_REASONS: &[&str] = &[
    "the backend did not answer within",
    "the storage backend did not answer within",
    "no copy source is open",
    "R2 bindings exist only in a Worker",
    "the R2 binding answered",
    "unexpected ",
];

/// A copy the gateway streams itself. Drive it with [`StreamedCopy::start`] and
/// [`StreamedCopy::advance`] until [`CopyStep::Done`].
#[derive(Debug)]
pub struct StreamedCopy {
    pub(crate) request_id: String,
    pub(crate) resource: String,
    pub(crate) cors: Option<CorsHeaders>,
    pub(crate) source: Endpoint,
    pub(crate) source_version: Option<String>,
    /// `If-*` headers for the source GET (from `x-amz-copy-source-if-*`).
    pub(crate) source_conditions: HeaderMap,
    pub(crate) dest: Endpoint,
    pub(crate) target: Target,
    pub(crate) limits: CopyLimits,
    pub(crate) state: State,
    /// The byte range (inclusive) of the last [`CopyStep::OpenR2`], to tell a 206 from a 200.
    pub(crate) r2_range: Option<(u64, u64)>,
}

/// What the runtime must do next.
#[derive(Debug)]
pub enum CopyStep {
    /// Send this GET and keep its response body open as the copy source; report the response
    /// head as [`CopyEvent::Opened`].
    Open(Forward),
    /// Send this request with the open source body as its body (its `content-length` header is
    /// the source's length); read the answer (at most [`ANSWER_LIMIT`] bytes) and report it as
    /// [`CopyEvent::Answer`]. If the source breaks off, report [`CopyEvent::Failed`].
    Pipe(Forward),
    /// Drop any open source body, send this request (with its own small body, if any), read
    /// the answer (at most [`ANSWER_LIMIT`] bytes) and report it as [`CopyEvent::Answer`].
    Send(Forward),
    /// The client's answer (add `Server-Timing`); drop any open source body.
    Done(Response<Bytes>),
    /// Worker only: `env[binding].get(key, { range, onlyIf })`; keep the object's body open as
    /// the copy source and report the outcome as [`CopyEvent::R2`] (`Object` or `Missing`).
    OpenR2(R2Get),
    /// Worker only: `env[binding].put(key, body, { httpMetadata, customMetadata, onlyIf })`
    /// with the open source body wrapped to `length` bytes; report the outcome as
    /// [`CopyEvent::R2`] (`Put`, or `PreconditionFailed` for a `null`).
    PipeR2(R2Put),
}

/// What happened to the last step.
#[derive(Debug)]
pub enum CopyEvent {
    /// The head of an [`CopyStep::Open`]ed GET.
    Opened {
        /// Its status.
        status: StatusCode,
        /// Its headers.
        headers: HeaderMap,
    },
    /// The answer to a [`CopyStep::Pipe`] or [`CopyStep::Send`].
    Answer {
        /// Its status.
        status: StatusCode,
        /// Its headers.
        headers: HeaderMap,
        /// Its body (capped).
        body: Bytes,
    },
    /// The step's request failed (connection, timeout, a source body that broke off, an answer
    /// over the cap).
    Failed(String),
    /// The outcome of a [`CopyStep::OpenR2`] or [`CopyStep::PipeR2`] binding call.
    R2(R2Outcome),
}

#[derive(Debug)]
pub(crate) enum State {
    /// The first GET of the source is in flight.
    Opening,
    /// The single PUT (or the part of an UploadPartCopy) is in flight.
    Writing,
    /// CreateMultipartUpload is in flight.
    Creating(Upload),
    /// The GET of the next part is in flight.
    OpeningPart(Upload),
    /// The UploadPart of the next part is in flight.
    WritingPart(Upload),
    /// CompleteMultipartUpload is in flight.
    Completing(Upload),
    /// The upload is being aborted; this is the client's answer afterwards.
    Aborting(Box<Response<Bytes>>),
    /// Finished.
    Done,
}

/// A multipart copy in progress.
#[derive(Debug)]
pub(crate) struct Upload {
    id: String,
    size: u64,
    /// The source's ETag: every part's GET is pinned to it.
    etag: String,
    part_size: u64,
    /// Content headers and metadata of the new object.
    metadata: HeaderMap,
    /// ETags of the parts written so far.
    parts: Vec<String>,
}

impl Upload {
    fn part_count(&self) -> u64 {
        self.size.div_ceil(self.part_size).max(1)
    }

    /// Byte range (inclusive) of part `n` (1-based).
    fn range(&self, n: u64) -> (u64, u64) {
        let start = (n - 1) * self.part_size;
        (start, (start + self.part_size).min(self.size) - 1)
    }
}

/// Content headers a copy carries over (COPY) or takes from the request (REPLACE).
pub(crate) fn is_metadata_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "cache-control"
            | "expires"
            | "x-amz-website-redirect-location"
    ) || name.starts_with("x-amz-meta-")
}

/// The part size for an object of `size` bytes: the configured one, raised so the object fits
/// in 10,000 parts (rounded up to a MiB).
fn part_size_for(size: u64, configured: u64) -> u64 {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    configured.max(needed).max(MIN_PART_SIZE)
}

/// The source GET's conditions from `x-amz-copy-source-if-*`.
pub(crate) fn source_conditions(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (from, to) in [
        ("x-amz-copy-source-if-match", http::header::IF_MATCH),
        (
            "x-amz-copy-source-if-none-match",
            http::header::IF_NONE_MATCH,
        ),
        (
            "x-amz-copy-source-if-modified-since",
            http::header::IF_MODIFIED_SINCE,
        ),
        (
            "x-amz-copy-source-if-unmodified-since",
            http::header::IF_UNMODIFIED_SINCE,
        ),
    ] {
        if let Some(v) = headers.get(from) {
            out.insert(to, v.clone());
        }
    }
    out
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The error a copy answers when the source's first GET was refused with `status`.
fn source_refused(status: StatusCode) -> S3Error {
    match status {
        StatusCode::NOT_MODIFIED | StatusCode::PRECONDITION_FAILED => S3Error::new(
            ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with_detail("Condition", "x-amz-copy-source-If-*"),
        StatusCode::NOT_FOUND => S3Error::new(
            ErrorCode::NoSuchKey,
            "The specified key does not exist (the copy source).",
        ),
        StatusCode::RANGE_NOT_SATISFIABLE => S3Error::new(
            ErrorCode::InvalidRange,
            "x-amz-copy-source-range is outside the copy source",
        ),
        s if s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED => S3Error::new(
            ErrorCode::BadGateway,
            "the copy source's backend refused the gateway; its backend configuration needs attention",
        ),
        s => S3Error::new(
            ErrorCode::BadGateway,
            format!("the copy source's backend answered {s}"),
        ),
    }
}

/// The metadata a CopyObject that does not replace it keeps: the source's `x-amz-meta-*` and
/// content headers (a GCS source's `x-goog-meta-*` renamed), without the `aws-chunked` coding.
fn source_metadata(headers: &HeaderMap) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (name, value) in headers {
        if is_metadata_header(name.as_str()) {
            m.append(name.clone(), value.clone());
        } else if let Some(amz) = gcs::amz_metadata_name(name.as_str()) {
            m.append(amz, value.clone());
        }
    }
    strip_aws_chunked(&mut m);
    m
}

impl StreamedCopy {
    /// The first step: open the source.
    pub fn start(&mut self, now: Timestamp) -> CopyStep {
        self.state = State::Opening;
        let range = match &self.target {
            Target::Part { range, .. } => *range,
            Target::Object { .. } => None,
        };
        self.open_source(self.source_conditions.clone(), range, now)
    }

    /// Whether a step of this copy is a call of an R2 binding (only a Worker has those).
    pub fn uses_r2(&self) -> bool {
        matches!(self.source.store, Store::R2 { .. }) || matches!(self.dest.store, Store::R2 { .. })
    }

    /// The answer of a runtime without R2 bindings (the native server) to a copy that
    /// [`uses_r2`](Self::uses_r2).
    pub fn unsupported_runtime(&self) -> Response<Bytes> {
        self.error(&S3Error::not_implemented(
            "this copy reads or writes a bucket served through an R2 binding, which exists only \
             when the gateway runs as a Cloudflare Worker",
        ))
    }

    /// The next step, given what happened to the last one.
    pub fn advance(&mut self, event: CopyEvent, now: Timestamp) -> CopyStep {
        let event = match event {
            CopyEvent::R2(outcome) => self.r2_event(outcome),
            other => other,
        };
        match std::mem::replace(&mut self.state, State::Done) {
            State::Opening => self.opened(event, now),
            State::Writing => self.written(event, now),
            State::Creating(upload) => self.created(upload, event, now),
            State::OpeningPart(upload) => self.part_opened(upload, event, now),
            State::WritingPart(upload) => self.part_written(upload, event, now),
            State::Completing(upload) => self.completed(upload, event, now),
            State::Aborting(resp) => {
                if !matches!(&event, CopyEvent::Answer { status, .. } if status.is_success()) {
                    log::warn!(
                        "request {}: aborting the multipart upload of a failed copy failed: {}",
                        self.request_id,
                        crate::auth::redact(&format!("{event:?}"))
                    );
                }
                self.finish(*resp)
            }
            State::Done => self.finish(self.error(&S3Error::internal(
                "the copy was advanced after it finished",
            ))),
        }
    }

    /// The single PUT (or UploadPart) of the copy answered.
    fn written(&mut self, event: CopyEvent, now: Timestamp) -> CopyStep {
        match event {
            CopyEvent::Answer {
                status, headers, ..
            } if status.is_success() => {
                let etag = header_str(&headers, "etag").unwrap_or("").to_string();
                let part = matches!(self.target, Target::Part { .. });
                let version = header_str(&headers, "x-amz-version-id").map(str::to_string);
                self.done_ok(xml::copy_result_xml(part, &now.iso8601(), &etag), version)
            }
            CopyEvent::Answer {
                status,
                headers,
                body,
            } => self.told(status, &headers, body),
            other => self.failed(other, "writing the copy"),
        }
    }

    /// The destination's CreateMultipartUpload answered.
    fn created(&mut self, mut upload: Upload, event: CopyEvent, now: Timestamp) -> CopyStep {
        match event {
            CopyEvent::Answer { status, body, .. } if status.is_success() => {
                match xml::child_text(&body, "InitiateMultipartUploadResult", "UploadId") {
                    Some(id) if !id.is_empty() => {
                        upload.id = id;
                        self.open_part(upload, now)
                    }
                    _ => self.finish(self.error(&S3Error::new(
                        ErrorCode::BadGateway,
                        "the destination backend's CreateMultipartUpload answer has no UploadId",
                    ))),
                }
            }
            CopyEvent::Answer {
                status,
                headers,
                body,
            } => self.told(status, &headers, body),
            other => self.failed(other, "starting the multipart copy"),
        }
    }

    /// The source's range GET of the next part answered.
    fn part_opened(&mut self, upload: Upload, event: CopyEvent, now: Timestamp) -> CopyStep {
        let (status, headers) = match event {
            CopyEvent::Opened { status, headers } => (status, headers),
            other => return self.abort_after(upload, other, "reading the copy source", now),
        };
        let n = upload.parts.len() as u64 + 1;
        let (a, b) = upload.range(n);
        if status == StatusCode::PARTIAL_CONTENT && content_length(&headers) == Some(b - a + 1) {
            let fwd = self.part_put(&upload, n, b - a + 1, now);
            self.state = State::WritingPart(upload);
            return CopyStep::Pipe(fwd);
        }
        let err = if status == StatusCode::PRECONDITION_FAILED || status == StatusCode::NOT_FOUND {
            S3Error::new(
                ErrorCode::PreconditionFailed,
                "the copy source changed or disappeared while it was being copied",
            )
        } else {
            S3Error::new(
                ErrorCode::BadGateway,
                format!("the copy source's backend answered {status} to a range request"),
            )
        };
        let resp = self.error(&err);
        self.abort(upload, resp, now)
    }

    /// The destination's UploadPart answered: the next part, or the Complete after the last.
    fn part_written(&mut self, mut upload: Upload, event: CopyEvent, now: Timestamp) -> CopyStep {
        let etag = match event {
            CopyEvent::Answer {
                status, headers, ..
            } if status.is_success() => header_str(&headers, "etag").map(str::to_string),
            other => return self.abort_after(upload, other, "writing a part of the copy", now),
        };
        let Some(etag) = etag else {
            let resp = self.error(&S3Error::new(
                ErrorCode::BadGateway,
                "the destination backend answered UploadPart without an ETag",
            ));
            return self.abort(upload, resp, now);
        };
        upload.parts.push(etag);
        if (upload.parts.len() as u64) < upload.part_count() {
            return self.open_part(upload, now);
        }
        let fwd = self.complete(&upload, now);
        self.state = State::Completing(upload);
        CopyStep::Send(fwd)
    }

    /// The destination's CompleteMultipartUpload answered.
    fn completed(&mut self, upload: Upload, event: CopyEvent, now: Timestamp) -> CopyStep {
        match event {
            // CompleteMultipartUpload may answer 200 with an <Error> document.
            CopyEvent::Answer {
                status,
                headers,
                body,
            } if status.is_success() && xml::parse_error_xml(&body).is_none() => {
                let etag = xml::child_text(&body, "CompleteMultipartUploadResult", "ETag")
                    .unwrap_or_default();
                let version = header_str(&headers, "x-amz-version-id").map(str::to_string);
                self.done_ok(xml::copy_result_xml(false, &now.iso8601(), &etag), version)
            }
            other => self.abort_after(upload, other, "completing the copy", now),
        }
    }

    /// The source's first GET answered.
    fn opened(&mut self, event: CopyEvent, now: Timestamp) -> CopyStep {
        let (status, headers) = match event {
            CopyEvent::Opened { status, headers } => (status, headers),
            other => return self.failed(other, "reading the copy source"),
        };
        if !status.is_success() {
            return self.finish(self.error(&source_refused(status)));
        }
        let Some(size) = content_length(&headers) else {
            return self.finish(self.error(&S3Error::new(
                ErrorCode::BadGateway,
                "the copy source's backend answered without a Content-Length",
            )));
        };
        match &self.target {
            Target::Part { range, .. } => {
                if range.is_some() && status != StatusCode::PARTIAL_CONTENT {
                    return self.finish(self.error(&S3Error::new(
                        ErrorCode::BadGateway,
                        "the copy source's backend ignored x-amz-copy-source-range",
                    )));
                }
                self.state = State::Writing;
                self.single_put(HeaderMap::new(), size, now)
            }
            Target::Object { metadata, .. } => {
                let metadata = match metadata {
                    Some(m) => m.clone(),
                    None => source_metadata(&headers),
                };
                self.copy_object(metadata, size, &headers, now)
            }
        }
    }

    /// A CopyObject whose source opened with `size` bytes: one PUT, or a multipart copy pinned
    /// to the source's ETag above the multipart threshold.
    fn copy_object(
        &mut self,
        metadata: HeaderMap,
        size: u64,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> CopyStep {
        // Into R2, one `put` up to 5 GiB (multipart copies into R2 are not built).
        if let Store::R2 { .. } = self.dest.store {
            if size > MAX_SINGLE_PUT {
                return self.finish(self.error(&S3Error::new(
                    ErrorCode::EntityTooLarge,
                    "copying an object larger than 5 GiB into an R2 bucket from another \
                     backend is not supported",
                )));
            }
            self.state = State::Writing;
            return self.single_put(metadata, size, now);
        }
        if size <= self.limits.multipart_threshold {
            self.state = State::Writing;
            return self.single_put(metadata, size, now);
        }
        let Some(etag) = header_str(headers, "etag").map(str::to_string) else {
            return self.finish(self.error(&S3Error::new(
                ErrorCode::BadGateway,
                "the copy source has no ETag to pin a multipart copy to",
            )));
        };
        let upload = Upload {
            id: String::new(),
            size,
            etag,
            part_size: part_size_for(size, self.limits.part_size),
            metadata,
            parts: Vec::new(),
        };
        let fwd = self.create(&upload, now);
        self.state = State::Creating(upload);
        CopyStep::Send(fwd)
    }

    fn open_part(&mut self, upload: Upload, now: Timestamp) -> CopyStep {
        let n = upload.parts.len() as u64 + 1;
        let (a, b) = upload.range(n);
        let mut headers = HeaderMap::new();
        set_header(&mut headers, "if-match", &upload.etag);
        self.state = State::OpeningPart(upload);
        self.open_source(headers, Some((a, b)), now)
    }

    /// Opens the source (`conditions`: its `If-*` headers; `range`: inclusive).
    fn open_source(
        &mut self,
        mut conditions: HeaderMap,
        range: Option<(u64, u64)>,
        now: Timestamp,
    ) -> CopyStep {
        match &self.source.store {
            Store::S3 { .. } => {
                if let Some((a, b)) = range {
                    set_header(&mut conditions, "range", &format!("bytes={a}-{b}"));
                }
                CopyStep::Open(self.source_get(conditions, now))
            }
            Store::R2 { binding } => {
                self.r2_range = range;
                CopyStep::OpenR2(R2Get {
                    binding: binding.clone(),
                    key: self.source.key.clone(),
                    range: range.map(|(a, b)| R2Range::Bounded {
                        offset: a,
                        length: Some(b - a + 1),
                    }),
                    conditions: Conditions::from_headers(&conditions, ""),
                })
            }
        }
    }

    /// A binding call's outcome, as the answer an S3 backend would have given.
    fn r2_event(&self, outcome: R2Outcome) -> CopyEvent {
        let opening = matches!(self.state, State::Opening | State::OpeningPart(_));
        let status_only = |status: StatusCode| CopyEvent::Opened {
            status,
            headers: HeaderMap::new(),
        };
        match outcome {
            R2Outcome::Object {
                meta,
                has_body: true,
            } if opening => self.r2_opened(&meta),
            R2Outcome::Object { .. } | R2Outcome::PreconditionFailed if opening => {
                status_only(StatusCode::PRECONDITION_FAILED)
            }
            R2Outcome::Missing if opening => status_only(StatusCode::NOT_FOUND),
            R2Outcome::Put(meta) if !opening => {
                let mut headers = HeaderMap::new();
                set_header(&mut headers, "etag", &r2::quoted_etag(&meta));
                CopyEvent::Answer {
                    status: StatusCode::OK,
                    headers,
                    body: Bytes::new(),
                }
            }
            R2Outcome::PreconditionFailed => {
                let err = S3Error::new(
                    ErrorCode::PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold",
                );
                let resp = error_response(&Method::PUT, &err, &self.request_id);
                let (parts, body) = resp.into_parts();
                CopyEvent::Answer {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                }
            }
            other => CopyEvent::Failed(format!("the R2 binding answered {other:?}")),
        }
    }

    /// The head of an opened R2 source: 200, or 206 for the range asked for (416 past its end).
    fn r2_opened(&self, meta: &R2Object) -> CopyEvent {
        let (status, length) = match self.r2_range {
            None => (StatusCode::OK, meta.size),
            Some((a, b)) if b < meta.size => (StatusCode::PARTIAL_CONTENT, b - a + 1),
            Some(_) => {
                return CopyEvent::Opened {
                    status: StatusCode::RANGE_NOT_SATISFIABLE,
                    headers: HeaderMap::new(),
                }
            }
        };
        let mut headers = HeaderMap::new();
        content_headers(&mut headers, &meta.http, &meta.custom);
        set_header(&mut headers, "etag", &r2::quoted_etag(meta));
        set_header(&mut headers, "content-length", &length.to_string());
        CopyEvent::Opened { status, headers }
    }

    /// A step of a multipart copy failed: abort the upload, then tell why (the backend's
    /// answer, or the failure).
    fn abort_after(
        &mut self,
        upload: Upload,
        event: CopyEvent,
        what: &str,
        now: Timestamp,
    ) -> CopyStep {
        let resp = match event {
            CopyEvent::Answer {
                status,
                headers,
                body,
            } => self.told_response(status, &headers, body),
            other => self.failure_response(other, what),
        };
        self.abort(upload, resp, now)
    }

    fn abort(&mut self, upload: Upload, resp: Response<Bytes>, now: Timestamp) -> CopyStep {
        let query = [("uploadId".to_string(), upload.id.clone())];
        let fwd = self.dest_request(Method::DELETE, &query, HeaderMap::new(), now);
        self.state = State::Aborting(Box::new(resp));
        CopyStep::Send(fwd)
    }
}

/// Drops the `aws-chunked` token some backends keep in a stored object's Content-Encoding.
fn strip_aws_chunked(h: &mut HeaderMap) {
    let name = HeaderName::from_static("content-encoding");
    if let Some(v) = h.get(&name) {
        match crate::plan::strip_aws_chunked(v) {
            Some(v) => {
                h.insert(name, v);
            }
            None => {
                h.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests;
