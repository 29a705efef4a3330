//! What an R2 binding call's answer becomes: the S3 response ([`R2Plan::respond`]), the
//! gateway's records to write ([`R2Plan::records`]), and the S3 error of a thrown exception.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use super::listing::{delete_result, listing_response};
use super::wire::{base_response, iso8601_ms, quoted_etag, xml_response};
use super::{evaluate, records, R2Call, R2Object, R2Outcome, R2Plan, R2Records};
use crate::plan::error_response;
use crate::s3::error::push_escaped;
use crate::s3::metadata::content_headers;
use crate::s3::ranges::ByteRange;
use crate::s3::xml::{self, S3_NS};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

/// Maps the text of an exception thrown by the binding (`get: Precondition Failed (10031)`) to
/// an S3 code; None when it is not one we recognize.
pub(super) fn r2_error_code(message: &str) -> Option<ErrorCode> {
    let code = message
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(n, _)| n.trim().parse::<u32>().ok());
    let by_code = match code {
        Some(10007) => Some(ErrorCode::NoSuchKey),
        Some(10011) => Some(ErrorCode::EntityTooSmall),
        Some(10014) => Some(ErrorCode::InvalidDigest),
        Some(10024) => Some(ErrorCode::NoSuchUpload),
        Some(10025) | Some(10048) => Some(ErrorCode::InvalidPart),
        Some(10031) => Some(ErrorCode::PreconditionFailed),
        Some(10037) => Some(ErrorCode::BadDigest),
        Some(10039) => Some(ErrorCode::InvalidRange),
        Some(10058) => Some(ErrorCode::SlowDown),
        _ => None,
    };
    if by_code.is_some() {
        return by_code;
    }
    let m = message.to_ascii_lowercase();
    if m.contains("precondition") {
        Some(ErrorCode::PreconditionFailed)
    } else if m.contains("range") {
        Some(ErrorCode::InvalidRange)
    } else if m.contains("md5") || m.contains("digest") {
        Some(ErrorCode::BadDigest)
    } else if m.contains("upload") && (m.contains("not exist") || m.contains("not found")) {
        Some(ErrorCode::NoSuchUpload)
    } else if m.contains("too small") {
        Some(ErrorCode::EntityTooSmall)
    } else if m.contains("part") && m.contains("invalid") {
        Some(ErrorCode::InvalidPart)
    } else {
        None
    }
}

fn no_such_upload() -> S3Error {
    S3Error::new(
        ErrorCode::NoSuchUpload,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    )
}

/// R2's longest key, in bytes.
const MAX_R2_KEY: usize = 1024;

impl R2Plan {
    /// The gateway's multipart records to write or delete after the binding call returned
    /// `outcome` (see [`R2Records`]): an upload's record after CreateMultipartUpload, a part's
    /// after UploadPart / UploadPartCopy, cleanup after Complete and Abort. None otherwise, and
    /// for a record whose key would pass R2's 1024 bytes (a very long client key: that upload is
    /// then not listed).
    pub fn records(&self, outcome: &R2Outcome) -> Option<R2Records> {
        let prefix = self.render.prefix.as_str();
        let client_key = self.render.client_key.as_str();
        let now_ms = self.render.now.0.saturating_mul(1000);
        let put = |key: String, custom| {
            (key.len() <= MAX_R2_KEY).then_some(R2Records::Put { key, custom })
        };
        match (&self.call, outcome) {
            (R2Call::CreateMultipart { .. }, R2Outcome::Upload { upload_id }) => put(
                records::upload_record(prefix, client_key, upload_id),
                records::upload_meta(client_key, upload_id, now_ms),
            ),
            (
                R2Call::UploadPart {
                    upload_id,
                    part_number,
                    ..
                }
                | R2Call::UploadPartCopy {
                    upload_id,
                    part_number,
                    ..
                },
                R2Outcome::Part { etag, size },
            ) => put(
                records::part_record(prefix, upload_id, *part_number),
                records::part_meta(etag, *size, now_ms, self.render.checksum.as_ref()),
            ),
            (R2Call::CompleteMultipart { upload_id, .. }, R2Outcome::Completed(_))
            | (R2Call::AbortMultipart { upload_id, .. }, R2Outcome::Aborted) => {
                Some(R2Records::Clean {
                    keys: vec![records::upload_record(prefix, client_key, upload_id)],
                    prefix: records::parts_prefix(prefix, upload_id),
                })
            }
            _ => None,
        }
    }

    /// The S3 response for what the binding returned. For a [`R2Call::Get`] whose outcome was
    /// `Object { has_body: true }` a 200 or 206 answer comes with an empty body and the
    /// `Content-Length` of the bytes R2 returned: the runtime sends the object's body in its
    /// place. Every other answer is complete as returned.
    pub fn respond(&self, outcome: R2Outcome) -> Response<Bytes> {
        self.with_cors(self.in_namespace(self.respond_inner(outcome)))
    }

    /// A path-mapped bucket's XML answer, mapped into the client's namespace.
    fn in_namespace(&self, mut resp: Response<Bytes>) -> Response<Bytes> {
        let Some(ns) = &self.namespace else {
            return resp;
        };
        let xml_answer = matches!(
            self.call,
            R2Call::List { .. } | R2Call::CreateMultipart { .. } | R2Call::CompleteMultipart { .. }
        ) || (matches!(self.call, R2Call::Delete { .. })
            && self.render.delete.is_some());
        if !xml_answer || !resp.status().is_success() || resp.body().is_empty() {
            return resp;
        }
        match ns.rewrite.rewrite(resp.body()) {
            Ok(doc) => {
                let doc = xml::insert_delete_errors(doc, &ns.delete_errors);
                *resp.body_mut() = Bytes::from(doc);
                resp
            }
            Err(e) => self.error(e),
        }
    }

    fn with_cors(&self, mut resp: Response<Bytes>) -> Response<Bytes> {
        if let Some(cors) = &self.cors {
            cors.apply(resp.headers_mut());
        }
        resp
    }

    fn respond_inner(&self, outcome: R2Outcome) -> Response<Bytes> {
        match &self.call {
            R2Call::Get { .. } | R2Call::Head { .. } => self.read_answer(outcome),
            R2Call::Put { .. } | R2Call::Copy { .. } | R2Call::UploadPartCopy { .. } => {
                self.write_answer(outcome)
            }
            R2Call::Delete { .. }
            | R2Call::List { .. }
            | R2Call::ListParts { .. }
            | R2Call::ListUploads { .. } => self.listing_answer(outcome),
            R2Call::CreateMultipart { .. }
            | R2Call::UploadPart { .. }
            | R2Call::CompleteMultipart { .. }
            | R2Call::AbortMultipart { .. } => self.multipart_answer(outcome),
        }
    }

    /// GetObject and HeadObject: the object, 304 or 412 by S3's rules, or NoSuchKey.
    fn read_answer(&self, outcome: R2Outcome) -> Response<Bytes> {
        match (&self.call, outcome) {
            (R2Call::Get { .. } | R2Call::Head { .. }, R2Outcome::Missing) => {
                self.error(self.no_such_key())
            }
            (R2Call::Get { conditions, .. }, R2Outcome::Object { meta, has_body }) => {
                if has_body {
                    return self.object_response(&meta);
                }
                match evaluate(conditions, &meta) {
                    Some((StatusCode::NOT_MODIFIED, _)) => self.not_modified(&meta),
                    Some((_, header)) => self.precondition_failed(Some(header)),
                    // R2 held back the body although S3's rules pass: trust R2.
                    None => self.precondition_failed(None),
                }
            }
            (R2Call::Head { conditions, .. }, R2Outcome::Object { meta, .. }) => {
                match evaluate(conditions, &meta) {
                    Some((StatusCode::NOT_MODIFIED, _)) => self.not_modified(&meta),
                    Some((_, header)) => self.precondition_failed(Some(header)),
                    None => self.object_response(&meta),
                }
            }
            (call, outcome) => self.mismatch(call, outcome),
        }
    }

    /// PutObject, CopyObject and UploadPartCopy.
    fn write_answer(&self, outcome: R2Outcome) -> Response<Bytes> {
        let rid = self.request_id.as_str();
        match (&self.call, outcome) {
            (R2Call::Put { .. }, R2Outcome::Put(meta)) => {
                if let Some(post) = &self.post {
                    return post.respond(&quoted_etag(&meta), rid);
                }
                let mut resp = base_response(StatusCode::OK, Bytes::new(), rid);
                set(resp.headers_mut(), http::header::ETAG, &quoted_etag(&meta));
                resp
            }
            (
                R2Call::Put { .. } | R2Call::Copy { .. } | R2Call::UploadPartCopy { .. },
                R2Outcome::PreconditionFailed,
            ) => self.precondition_failed(None),
            (R2Call::UploadPartCopy { .. }, R2Outcome::InvalidCopyRange { size }) => {
                self.error(S3Error::invalid_argument(format!(
                    "Range specified is not valid for source object of size: {size}"
                )))
            }
            (R2Call::UploadPartCopy { .. }, R2Outcome::Part { etag, .. }) => {
                let mut out = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyPartResult xmlns=\"{S3_NS}\"><LastModified>"
                );
                out.push_str(&self.render.now.iso8601());
                out.push_str("</LastModified><ETag>");
                push_escaped(&mut out, &format!("\"{}\"", etag.trim_matches('"')));
                out.push_str("</ETag></CopyPartResult>");
                xml_response(StatusCode::OK, out, rid)
            }
            (R2Call::Copy { .. } | R2Call::UploadPartCopy { .. }, R2Outcome::Missing) => self
                .error(
                    S3Error::new(ErrorCode::NoSuchKey, "The specified key does not exist.")
                        .with_resource(self.render.resource.clone()),
                ),
            (R2Call::Copy { .. }, R2Outcome::Put(meta)) => {
                let mut out = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"{S3_NS}\"><LastModified>"
                );
                out.push_str(&iso8601_ms(meta.uploaded_ms));
                out.push_str("</LastModified><ETag>");
                push_escaped(&mut out, &quoted_etag(&meta));
                out.push_str("</ETag></CopyObjectResult>");
                xml_response(StatusCode::OK, out, rid)
            }
            (call, outcome) => self.mismatch(call, outcome),
        }
    }

    /// Deletes and listings (objects, parts, uploads).
    fn listing_answer(&self, outcome: R2Outcome) -> Response<Bytes> {
        let rid = self.request_id.as_str();
        match (&self.call, outcome) {
            (R2Call::Delete { .. }, R2Outcome::Deleted) => match &self.render.delete {
                Some(_) => delete_result(&self.render, rid),
                None => base_response(StatusCode::NO_CONTENT, Bytes::new(), rid),
            },
            (R2Call::List { v2, .. }, R2Outcome::Listing(listing)) => {
                listing_response(&self.render, &listing, *v2, rid)
            }
            (R2Call::ListParts { .. }, R2Outcome::Missing) => self.error(no_such_upload()),
            (R2Call::ListParts { parts_prefix, .. }, R2Outcome::Listing(listing)) => {
                records::list_parts_response(
                    &self.render.client_bucket,
                    &self.render.client_key,
                    parts_prefix,
                    self.render.parts.as_ref().unwrap_or(&Default::default()),
                    &listing,
                    rid,
                )
            }
            (R2Call::ListUploads { .. }, R2Outcome::Listing(listing)) => {
                records::list_uploads_response(
                    &self.render.client_bucket,
                    &self.render.prefix,
                    self.render.uploads.as_ref().unwrap_or(&Default::default()),
                    &listing,
                    rid,
                )
            }
            (call, outcome) => self.mismatch(call, outcome),
        }
    }

    /// CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload.
    fn multipart_answer(&self, outcome: R2Outcome) -> Response<Bytes> {
        let rid = self.request_id.as_str();
        match (&self.call, outcome) {
            (R2Call::CreateMultipart { .. }, R2Outcome::Upload { upload_id }) => {
                let out = xml::initiate_result_xml(
                    &self.render.client_bucket,
                    &self.render.client_key,
                    &upload_id,
                );
                xml_response(StatusCode::OK, out, rid)
            }
            (R2Call::UploadPart { .. }, R2Outcome::Part { etag, .. }) => {
                let mut resp = base_response(StatusCode::OK, Bytes::new(), rid);
                set(
                    resp.headers_mut(),
                    http::header::ETAG,
                    &format!("\"{}\"", etag.trim_matches('"')),
                );
                resp
            }
            (R2Call::CompleteMultipart { .. }, R2Outcome::PreconditionFailed) => {
                self.precondition_failed(None)
            }
            (R2Call::CompleteMultipart { .. }, R2Outcome::Missing) => {
                self.error(self.no_such_key())
            }
            (R2Call::CompleteMultipart { .. }, R2Outcome::Completed(meta)) => {
                let out = xml::complete_result_xml(
                    &self.render.resource,
                    &self.render.client_bucket,
                    &self.render.client_key,
                    &quoted_etag(&meta),
                );
                xml_response(StatusCode::OK, out, rid)
            }
            (R2Call::AbortMultipart { .. }, R2Outcome::Aborted) => {
                base_response(StatusCode::NO_CONTENT, Bytes::new(), rid)
            }
            (call, outcome) => self.mismatch(call, outcome),
        }
    }

    /// An outcome the runtime should not have given for this call: a 500.
    fn mismatch(&self, call: &R2Call, outcome: R2Outcome) -> Response<Bytes> {
        let rid = self.request_id.as_str();
        log::warn!(
            "request {rid}: the runtime answered {outcome:?} to an R2 {}",
            call_name(call)
        );
        self.error(S3Error::internal(format!(
            "the runtime gave an answer that does not fit an R2 {} call",
            call_name(call)
        )))
    }

    /// The S3 error for an exception thrown by the binding (its message): R2's precondition,
    /// range, upload and part errors keep their S3 codes; anything else is a 502 naming the
    /// binding.
    pub fn failed(&self, message: &str) -> Response<Bytes> {
        self.with_cors(self.failed_inner(message))
    }

    fn failed_inner(&self, message: &str) -> Response<Bytes> {
        log::warn!(
            "request {}: R2 binding '{}' failed: {message}",
            self.request_id,
            self.binding
        );
        let err = match r2_error_code(message) {
            Some(ErrorCode::PreconditionFailed) => return self.precondition_failed(None),
            Some(ErrorCode::NoSuchKey) => self.no_such_key(),
            Some(ErrorCode::NoSuchUpload) => no_such_upload(),
            Some(ErrorCode::InvalidRange) if matches!(self.call, R2Call::UploadPartCopy { .. }) => {
                S3Error::invalid_argument("Range specified is not valid for the source object")
            }
            Some(ErrorCode::InvalidRange) => S3Error::new(
                ErrorCode::InvalidRange,
                "The requested range is not satisfiable",
            ),
            Some(code) => S3Error::new(code, format!("R2 refused the request: {message}")),
            None => S3Error::new(
                ErrorCode::BadGateway,
                format!("the R2 binding '{}' failed: {message}", self.binding),
            ),
        };
        self.error(err.with_resource(self.render.resource.clone()))
    }

    /// The answer of a runtime that has no R2 bindings (the native server): 501 naming the
    /// binding, so a config shared with the Worker fails clearly rather than silently.
    pub fn unsupported_runtime(&self) -> Response<Bytes> {
        self.with_cors(self.error(S3Error::not_implemented(format!(
            "this bucket is served through the R2 binding '{}', which exists only when the gateway runs as a Cloudflare Worker",
            self.binding
        ))))
    }

    /// The answer when the runtime refuses the request itself (a request body that failed
    /// verification or broke off): the error, with this request's CORS headers.
    pub fn refused(&self, err: &S3Error) -> Response<Bytes> {
        self.with_cors(error_response(&self.render.method, err, &self.request_id))
    }

    fn no_such_key(&self) -> S3Error {
        S3Error::new(ErrorCode::NoSuchKey, "The specified key does not exist.")
            .with_resource(self.render.resource.clone())
            .with_detail("Key", self.render.client_key.clone())
    }

    fn error(&self, err: S3Error) -> Response<Bytes> {
        let err = if err.resource.is_none() {
            err.with_resource(self.render.resource.clone())
        } else {
            err
        };
        error_response(&self.render.method, &err, &self.request_id)
    }

    fn precondition_failed(&self, header: Option<&'static str>) -> Response<Bytes> {
        let mut err = S3Error::new(
            ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        );
        if let Some(h) = header {
            err = err.with_detail("Condition", h);
        }
        self.error(err)
    }

    fn not_modified(&self, meta: &R2Object) -> Response<Bytes> {
        let mut resp = base_response(StatusCode::NOT_MODIFIED, Bytes::new(), &self.request_id);
        let h = resp.headers_mut();
        set(h, http::header::ETAG, &quoted_etag(meta));
        set(
            h,
            http::header::LAST_MODIFIED,
            &Timestamp(meta.uploaded_ms.div_euclid(1000)).http_date(),
        );
        resp
    }

    /// GET/HEAD headers of an object (200, or 206 for a satisfiable range).
    fn object_response(&self, meta: &R2Object) -> Response<Bytes> {
        let size = meta.size;
        let range = match (meta.range, self.render.range) {
            (_, None) => None,
            (Some((offset, length)), Some(_)) => {
                Some((offset, length.min(size.saturating_sub(offset))))
            }
            (None, Some(ByteRange::Suffix(n))) => Some((size.saturating_sub(n), n.min(size))),
            (None, Some(ByteRange::Bounded { offset, length })) => {
                if offset >= size && size > 0 {
                    let mut resp = self.error(S3Error::new(
                        ErrorCode::InvalidRange,
                        "The requested range is not satisfiable",
                    ));
                    set(
                        resp.headers_mut(),
                        http::header::CONTENT_RANGE,
                        &format!("bytes */{size}"),
                    );
                    return resp;
                }
                let rest = size.saturating_sub(offset);
                Some((offset, length.map_or(rest, |l| l.min(rest))))
            }
        };
        // An empty object has no bytes to range over: S3 serves it whole.
        let range = range.filter(|_| size > 0);
        let status = if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        let mut resp = base_response(status, Bytes::new(), &self.request_id);
        let h = resp.headers_mut();
        set(h, http::header::ETAG, &quoted_etag(meta));
        set(
            h,
            http::header::LAST_MODIFIED,
            &Timestamp(meta.uploaded_ms.div_euclid(1000)).http_date(),
        );
        set(h, http::header::ACCEPT_RANGES, "bytes");
        match range {
            Some((offset, length)) => {
                set(h, http::header::CONTENT_LENGTH, &length.to_string());
                let end = (offset + length).saturating_sub(1);
                set(
                    h,
                    http::header::CONTENT_RANGE,
                    &format!("bytes {offset}-{end}/{size}"),
                );
            }
            None => set(h, http::header::CONTENT_LENGTH, &size.to_string()),
        }
        content_headers(h, &meta.http, &meta.custom);
        for (name, value) in &self.render.overrides {
            set(h, name.clone(), value);
        }
        resp
    }
}

fn call_name(call: &R2Call) -> &'static str {
    match call {
        R2Call::Get { .. } => "get",
        R2Call::Head { .. } => "head",
        R2Call::Put { .. } => "put",
        R2Call::Delete { .. } => "delete",
        R2Call::List { .. } => "list",
        R2Call::CreateMultipart { .. } => "createMultipartUpload",
        R2Call::UploadPart { .. } => "uploadPart",
        R2Call::CompleteMultipart { .. } => "complete",
        R2Call::AbortMultipart { .. } => "abort",
        R2Call::Copy { .. } => "copy",
        R2Call::UploadPartCopy { .. } => "uploadPartCopy",
        R2Call::ListParts { .. } => "listParts",
        R2Call::ListUploads { .. } => "listUploads",
    }
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
        h.insert(name, v);
    }
}
