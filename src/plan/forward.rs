//! The backend request the runtime sends ([`Forward`]) and what becomes of its answer: how
//! the runtime reads it, the headers the client sees, XML rewritten into the client's namespace,
//! backend errors translated into the gateway's own.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::checksum::{self, ChecksumCheck};
use crate::chunked::SignedChunkDecoder;
use crate::cors::CorsHeaders;
use crate::payload::{BodyCheck, PayloadVerifier};
use crate::post::{FormBody, PostAnswer};
use crate::s3::error::push_escaped;
use crate::s3::xml::{self, XmlRewrite};
use crate::s3::{ErrorCode, S3Error};

use super::answer::{Answer, ErrorAnswer};
use super::{error_response, respond};

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
    /// Send these bytes instead of the client's body (a body the gateway rewrote).
    Bytes(Bytes),
    /// Stream it through a [`SignedChunkDecoder`]: aws-chunked framing removed, every chunk
    /// signature verified, the last bytes held back until the final chunk verified.
    Decode(SignedChunkDecoder),
    /// Stream it through a [`ChecksumCheck`] (`x-amz-checksum-*` header), after its inner check:
    /// the last bytes are held back until the checksum matched.
    Checked(ChecksumCheck),
    /// The rest of a POST form body (after what [`Plan::NeedForm`](crate::gateway::Plan::NeedForm) read) through a [`FormBody`]:
    /// the file's bytes only, the last held back until the body closed as announced.
    Form(FormBody),
}

impl ForwardBody {
    /// The check a streamed client body must run through: the signed sha256, the aws-chunked
    /// decoder, or the checksum; `None` for the kinds that need none (or carry no client body).
    /// Runtimes call this rather than listing the kinds, so a new check cannot be missed.
    pub fn into_check(self) -> Option<Box<dyn BodyCheck + Send + Sync>> {
        match self {
            ForwardBody::Verify(v) => Some(Box::new(v)),
            ForwardBody::Decode(d) => Some(Box::new(d)),
            ForwardBody::Checked(c) => Some(Box::new(c)),
            ForwardBody::Form(f) => Some(Box::new(f)),
            ForwardBody::Empty | ForwardBody::Stream | ForwardBody::Bytes(_) => None,
        }
    }

    /// Wraps an upload body in a check of the request's `x-amz-checksum-*` header, if it has one.
    pub fn with_header_checksum(self, headers: &HeaderMap) -> Result<Self, S3Error> {
        let Some((alg, expected)) = checksum::from_headers(headers)? else {
            return Ok(self);
        };
        let inner = match self {
            ForwardBody::Stream => checksum::Inner::Plain,
            ForwardBody::Verify(v) => checksum::Inner::Verify(v),
            ForwardBody::Decode(d) => checksum::Inner::Decode(Box::new(d)),
            ForwardBody::Form(f) => checksum::Inner::Form(Box::new(f)),
            other => return Ok(other),
        };
        Ok(ForwardBody::Checked(ChecksumCheck::new(
            inner, alg, expected,
        )))
    }
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
pub(crate) struct Finish {
    /// Rewrites a successful XML answer (listings, multipart documents) into the client's
    /// namespace.
    pub(crate) rewrite: Option<XmlRewrite>,
    /// `/bucket/key` as the client named it, for error documents.
    pub(crate) resource: String,
    /// DeleteObjects keys refused by the gateway, reported in the backend's DeleteResult.
    pub(crate) delete_errors: Vec<(String, &'static str, String)>,
    /// A pass-through bucket: the backend's NoSuchBucket is the client's answer, not ours.
    pub(crate) passthrough: bool,
    /// The CORS headers of the answer (buckets with CORS rules).
    pub(crate) cors: Option<CorsHeaders>,
    /// A POST Object upload: how its success is answered.
    pub(crate) post: Option<PostAnswer>,
    /// How the provider's answers are told in S3's terms.
    pub(crate) answer: Box<dyn Answer>,
    /// PutObject, UploadPart, DeleteObject, AbortMultipartUpload: S3 answers them with no
    /// body, so whatever body a backend sends with its success (fake-gcs-server sends JSON) is
    /// dropped; SDKs read any 200 body of these as an XML error document.
    pub(crate) bodyless_success: bool,
    /// A backend `AccessDenied` is an object lock refusing the client (deleting a locked
    /// version, shortening a retention), not the backend refusing the gateway: kept as 403.
    pub(crate) lock_guarded: bool,
    /// Response headers this caller may not see (object lock state without the right to read it).
    pub(crate) hidden: Vec<&'static str>,
}

/// Largest backend XML document we buffer for rewriting (a 1000-key listing is ~350 KiB).
const MAX_REWRITE_BODY: usize = 16 << 20;
/// Largest backend error document we buffer.
const MAX_ERROR_BODY: usize = 64 << 10;

/// Headers of a backend error answer that reach the client with the gateway's error document.
const ERROR_VERSION_HEADERS: &[&str] =
    &["x-amz-delete-marker", "x-amz-version-id", "last-modified"];

/// Response headers that are hop-by-hop or identify the backend.
fn drop_response_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "server"
            | "date"
            | "via"
            | "alt-svc"
            | "x-amz-request-id"
            | "x-amz-id-2"
            | "x-amz-bucket-region"
            | "set-cookie"
    ) || name.starts_with("x-amz-cf-")
        || name.starts_with("seaweed-")
        || name.starts_with("x-seaweedfs-")
        || name.starts_with("x-minio-")
        || name.starts_with("x-rgw-")
        || name.starts_with("x-goog-")
        || name.starts_with("x-guploader-")
        || name.starts_with("x-ms-")
        || name.starts_with("x-envoy-")
        || name.starts_with("cf-")
        || name.starts_with("access-control-")
}

/// `Content-Encoding` without the `aws-chunked` token; None when nothing is left.
pub(crate) fn strip_aws_chunked(value: &HeaderValue) -> Option<HeaderValue> {
    let Ok(s) = value.to_str() else {
        return Some(value.clone());
    };
    if !s.to_ascii_lowercase().contains("aws-chunked") {
        return Some(value.clone());
    }
    let rest: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if rest.is_empty() {
        None
    } else {
        HeaderValue::from_str(&rest.join(", ")).ok()
    }
}

/// Backend error codes that mean the gateway's own backend credentials or config are wrong: the
/// client did nothing wrong, so they become a 502.
fn backend_config_error(code: &str) -> bool {
    matches!(
        code,
        "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "AccessDenied"
            | "ExpiredToken"
            | "InvalidToken"
            | "AuthorizationHeaderMalformed"
            | "AuthorizationQueryParametersError"
            | "NoSuchBucket"
            | "PermanentRedirect"
            | "InvalidBucketName"
            // GCS's own names for a refused or missing credential.
            | "AuthenticationRequired"
            | "MissingSecurityHeader"
            | "MalformedSecurityHeader"
            | "UserProjectMissing"
    )
}

impl Forward {
    /// How to read the backend's response with this status.
    pub fn response_mode(&self, status: StatusCode) -> ResponseMode {
        if self.method == Method::HEAD || status == StatusCode::NOT_MODIFIED {
            ResponseMode::Stream
        } else if status.is_success() {
            match (&self.finish.rewrite, &self.finish.post) {
                _ if self.finish.answer.buffers_success() => ResponseMode::Buffer {
                    limit: MAX_ERROR_BODY,
                },
                (Some(_), _) => ResponseMode::Buffer {
                    limit: MAX_REWRITE_BODY,
                },
                // The PUT's (empty) answer becomes the POST's.
                (None, Some(_)) => ResponseMode::Buffer {
                    limit: MAX_ERROR_BODY,
                },
                (None, None) if self.finish.bodyless_success => ResponseMode::Buffer {
                    limit: MAX_ERROR_BODY,
                },
                (None, None) => ResponseMode::Stream,
            }
        } else if status.is_client_error() || status.is_server_error() {
            ResponseMode::Buffer {
                limit: MAX_ERROR_BODY,
            }
        } else {
            ResponseMode::Stream
        }
    }

    /// Status and headers for a streamed response: hop-by-hop and backend-identifying headers
    /// removed, `x-amz-request-id` and `Server-Timing` added.
    pub fn response_head(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        timing: Timing,
    ) -> (StatusCode, HeaderMap) {
        let mut out = HeaderMap::with_capacity(headers.len() + 2);
        for (name, value) in headers {
            if let Some(amz) = self.finish.answer.header_name(name.as_str()) {
                out.append(amz, value.clone());
                continue;
            }
            if drop_response_header(name.as_str()) || self.finish.hidden.contains(&name.as_str()) {
                continue;
            }
            // A backend `Location` (CreateBucket, a redirect) names the backend's endpoint:
            // the client is told its own resource instead.
            if name == http::header::LOCATION {
                if let Ok(v) = HeaderValue::from_str(&self.finish.resource) {
                    out.insert(http::header::LOCATION, v);
                }
                continue;
            }
            if name == http::header::CONTENT_ENCODING {
                // `aws-chunked` describes how an upload was framed, never the stored object; some
                // backends keep it anyway. S3 strips it.
                if let Some(v) = strip_aws_chunked(value) {
                    out.append(name.clone(), v);
                }
                continue;
            }
            out.append(name.clone(), value.clone());
        }
        finish_headers(&mut out, &self.request_id, timing);
        if let Some(cors) = &self.finish.cors {
            cors.apply(&mut out);
        }
        let status = self.finish.answer.head(status, headers, &mut out);
        // A HEAD that failed at the backend has no body to translate; an auth failure there is
        // still ours to report as a gateway problem (Azure names it in `x-ms-error-code`, also
        // for a missing container).
        if self.method == Method::HEAD && status == StatusCode::FORBIDDEN {
            return (StatusCode::BAD_GATEWAY, out);
        }
        if self.method == Method::HEAD && self.finish.answer.head_refuses_gateway(headers) {
            return (StatusCode::BAD_GATEWAY, out);
        }
        (status, out)
    }

    /// The response for a buffered backend answer (rewritten listings, translated errors).
    pub fn buffered_response(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
        timing: Timing,
    ) -> Response<Bytes> {
        if status.is_success() {
            self.buffered_success(status, headers, body, timing)
        } else {
            self.buffered_error(status, headers, body, timing)
        }
    }

    /// A successful buffered answer: a document the gateway writes, a POST's answer, a
    /// rewritten XML document, or a bodiless success.
    fn buffered_success(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
        timing: Timing,
    ) -> Response<Bytes> {
        if let Some(doc) = self.finish.answer.success_document(headers) {
            let (status, mut h) = self.response_head(status, headers, timing);
            h.remove(http::header::CONTENT_LENGTH);
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            let mut resp = Response::new(Bytes::from(doc));
            *resp.status_mut() = status;
            *resp.headers_mut() = h;
            return resp;
        }
        if let Some(post) = &self.finish.post {
            let etag = headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let mut resp = post.respond(etag, &self.request_id);
            add_server_timing(resp.headers_mut(), timing);
            if let Some(cors) = &self.finish.cors {
                cors.apply(resp.headers_mut());
            }
            return resp;
        }
        if let Some(rw) = &self.finish.rewrite {
            return self.rewritten(rw, status, headers, body, timing);
        }
        let (status, mut h) = self.response_head(status, headers, timing);
        let body = if self.finish.bodyless_success {
            for name in [http::header::CONTENT_TYPE, http::header::CONTENT_ENCODING] {
                h.remove(name);
            }
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
            Bytes::new()
        } else {
            body
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        *resp.headers_mut() = h;
        resp
    }

    /// An XML answer rewritten into the client's namespace (a provider's listing translated
    /// first).
    fn rewritten(
        &self,
        rw: &XmlRewrite,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
        timing: Timing,
    ) -> Response<Bytes> {
        // CompleteMultipartUpload may answer 200 with an <Error> document.
        if let Some((code, message)) = xml::parse_error_xml(&body) {
            return self.backend_error(status, headers, &code, &message, timing);
        }
        let body = match self.finish.answer.listing(body) {
            Ok(body) => body,
            Err(e) => return self.error(&e, timing),
        };
        match rw
            .rewrite_answer(&body, &self.finish.resource)
            .map(|doc| self.add_delete_errors(doc))
        {
            Ok(doc) => {
                let (status, mut h) = self.response_head(status, headers, timing);
                h.remove(http::header::CONTENT_LENGTH);
                h.remove(http::header::CONTENT_ENCODING);
                let mut resp = Response::new(Bytes::from(doc));
                *resp.status_mut() = status;
                *resp.headers_mut() = h;
                resp
            }
            Err(e) => {
                log::warn!(
                    "request {}: backend XML could not be rewritten: {e}",
                    self.request_id
                );
                self.error(&e, timing)
            }
        }
    }

    /// A failed buffered answer: the backend's error document told in our words.
    fn buffered_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
        timing: Timing,
    ) -> Response<Bytes> {
        match xml::parse_error_xml(&body) {
            Some((code, message)) => match self.finish.answer.error(status, &code) {
                // Not an error in S3's terms (a delete of a missing key).
                ErrorAnswer::Success(status) => {
                    self.buffered_response(status, &HeaderMap::new(), Bytes::new(), timing)
                }
                ErrorAnswer::RefusedGateway => self.refused_gateway(&code, &message, timing),
                ErrorAnswer::Error(status, s3_code) => {
                    self.backend_error(status, headers, &s3_code, &message, timing)
                }
            },
            None => {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                log::warn!(
                    "request {}: backend answered {status} without an S3 error: {}",
                    self.request_id,
                    crate::auth::redact(&text)
                );
                // A bare 503 (an overloaded backend or a load balancer in front of it) stays a
                // 503, so clients back off and retry as they would for S3's own.
                let code = if status == StatusCode::SERVICE_UNAVAILABLE {
                    ErrorCode::ServiceUnavailable
                } else {
                    ErrorCode::BadGateway
                };
                let err = S3Error::new(
                    code,
                    format!("the backend answered {status} without an S3 error document"),
                );
                self.error(&err, timing)
            }
        }
    }

    /// Adds the keys the gateway refused to a DeleteResult.
    fn add_delete_errors(&self, doc: Vec<u8>) -> Vec<u8> {
        xml::insert_delete_errors(doc, &self.finish.delete_errors)
    }

    /// A backend error document, told in our words: the code and message kept, the resource and
    /// request id ours; errors about the gateway's own backend access become 502.
    fn backend_error(
        &self,
        status: StatusCode,
        backend_headers: &HeaderMap,
        code: &str,
        message: &str,
        timing: Timing,
    ) -> Response<Bytes> {
        // A pass-through bucket's name is the client's: the backend's word on it is theirs.
        let clients_name =
            self.finish.passthrough && matches!(code, "NoSuchBucket" | "InvalidBucketName");
        let locked = self.finish.lock_guarded && code == "AccessDenied";
        if backend_config_error(code) && !clients_name && !locked {
            return self.refused_gateway(code, message, timing);
        }
        let message = self.scrub_backend_message(message);
        let mut body = String::with_capacity(256);
        body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        push_escaped(&mut body, code);
        body.push_str("</Code><Message>");
        push_escaped(&mut body, &message);
        body.push_str("</Message><Resource>");
        push_escaped(&mut body, &self.finish.resource);
        body.push_str("</Resource><RequestId>");
        push_escaped(&mut body, &self.request_id);
        body.push_str("</RequestId></Error>");
        let status = if status.is_success() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            status
        };
        let mut resp = respond(
            status,
            body.into(),
            Some("application/xml"),
            &self.request_id,
        );
        // What S3 tells with a NoSuchKey or MethodNotAllowed of a versioned key: the key's
        // latest version is a delete marker, or the version named is one (and which).
        for name in ERROR_VERSION_HEADERS {
            if let Some(v) = backend_headers.get(*name) {
                resp.headers_mut().insert(*name, v.clone());
            }
        }
        add_server_timing(resp.headers_mut(), timing);
        if let Some(cors) = &self.finish.cors {
            cors.apply(resp.headers_mut());
        }
        resp
    }

    /// A backend's error message as the client may see it: never one that names the backend
    /// (its host, an URL, its bucket when the client knows the bucket by another name) or carries
    /// a signature. Such a message is replaced by a neutral one; the code stays the backend's.
    fn scrub_backend_message<'m>(&self, message: &'m str) -> std::borrow::Cow<'m, str> {
        let lower = message.to_ascii_lowercase();
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        let (authority, path) = after_scheme
            .split_once('/')
            .map_or((after_scheme, ""), |(a, p)| (a, p));
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let backend_bucket = path.split(['/', '?']).next().unwrap_or("");
        let client_bucket = self
            .finish
            .resource
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        let names_backend =
            |needle: &str| needle.len() >= 3 && lower.contains(&needle.to_ascii_lowercase());
        let leaks = lower.contains("://")
            || lower.contains("signature")
            || lower.contains("security-token")
            || names_backend(host)
            || (backend_bucket != client_bucket && names_backend(backend_bucket));
        if leaks {
            log::debug!(
                "request {}: backend message withheld: {}",
                self.request_id,
                crate::auth::redact(message)
            );
            std::borrow::Cow::Borrowed("The storage backend refused the request.")
        } else {
            std::borrow::Cow::Borrowed(message)
        }
    }

    /// The backend refused the gateway's own credentials or configuration: a 502.
    fn refused_gateway(&self, code: &str, message: &str, timing: Timing) -> Response<Bytes> {
        log::warn!(
            "request {}: the backend refused the gateway: {code}: {}",
            self.request_id,
            crate::auth::redact(message)
        );
        let err = S3Error::new(
            ErrorCode::BadGateway,
            format!("the storage backend refused the gateway's request ({code}); the gateway's backend configuration needs attention"),
        );
        self.error(&err, timing)
    }

    fn error(&self, err: &S3Error, timing: Timing) -> Response<Bytes> {
        let err = err.clone().with_resource(self.finish.resource.clone());
        let mut resp = self.refused(&err);
        add_server_timing(resp.headers_mut(), timing);
        resp
    }

    /// The answer when the runtime refuses the request itself (a request body that failed
    /// verification or broke off): the error, with this request's CORS headers.
    pub fn refused(&self, err: &S3Error) -> Response<Bytes> {
        let mut resp = error_response(&self.method, err, &self.request_id);
        if let Some(cors) = &self.finish.cors {
            cors.apply(resp.headers_mut());
        }
        resp
    }

    /// The answer when the backend could not be reached or its response could not be read.
    pub fn backend_failed(&self, reason: &str, timing: Timing) -> Response<Bytes> {
        log::warn!(
            "request {}: backend failed: {}",
            self.request_id,
            crate::auth::redact(reason)
        );
        // The reason (a transport error, perhaps with the backend's address) stays in the log.
        self.error(
            &S3Error::new(
                ErrorCode::BadGateway,
                format!(
                    "the storage backend could not be reached or its answer failed (request {}; details are in the gateway's log)",
                    self.request_id
                ),
            ),
            timing,
        )
    }
}

impl Forward {
    /// The answer when the backend did not answer (or did not finish a buffered answer) within
    /// `after`: a 504.
    pub fn backend_timed_out(&self, after: Duration, timing: Timing) -> Response<Bytes> {
        log::warn!(
            "request {}: the backend did not answer within {:.1} s",
            self.request_id,
            after.as_secs_f64()
        );
        self.error(
            &S3Error::new(
                ErrorCode::GatewayTimeout,
                format!(
                    "the storage backend did not answer within {} seconds",
                    after.as_secs_f64()
                ),
            ),
            timing,
        )
    }
}

fn finish_headers(h: &mut HeaderMap, request_id: &str, timing: Timing) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", v);
    }
    add_server_timing(h, timing);
}

/// Adds `Server-Timing: gateway;dur=..[, backend;dur=..]` (milliseconds). Runtimes call it for
/// [`Plan::Respond`](crate::gateway::Plan::Respond) answers too.
pub fn add_server_timing(h: &mut HeaderMap, timing: Timing) {
    let mut v = format!("gateway;dur={:.3}", timing.plan.as_secs_f64() * 1000.0);
    if !timing.backend.is_zero() {
        v.push_str(&format!(
            ", backend;dur={:.3}",
            timing.backend.as_secs_f64() * 1000.0
        ));
    }
    if let Ok(v) = HeaderValue::from_str(&v) {
        h.insert("server-timing", v);
    }
}
