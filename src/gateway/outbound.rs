//! The backend request of an S3-compatible backend ([`plan_forward`]): built from the parsed,
//! authorized operation, an allowlist of query parameters and headers per operation, never copied
//! from the raw request.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};

use crate::auth::{ChunkSigning, PayloadMode};
use crate::backend::s3::{copy_header, set_header, BackendRequest, Dialect, S3Backend};
use crate::checksum;
use crate::chunked::SignedChunkDecoder;
use crate::oidc::federation::{BackendSecret, ExchangeError};
use crate::oidc::TemporaryCredentials;
use crate::payload::PayloadVerifier;
use crate::s3::request::{self, Operation, RequestHead, S3Request};
use crate::s3::xml::{self, XmlRewrite};
use crate::s3::{ErrorCode, S3Error};

use super::bodies::{
    check_small_body, MAX_COMPLETE_BODY, MAX_DELETE_BODY, MAX_TAGGING_BODY, MAX_VERSIONING_BODY,
};
use super::delete::DeletePlan;
use super::forward::{strip_aws_chunked, Finish, Forward, ForwardBody};
use super::resolve::glued_dot_segment;
use super::response::respond;
use super::settings::{self, LockPlan};
use super::{copy, federation, Authorized, Gateway, Plan, RequestContext};

impl Gateway {
    /// An S3-compatible bucket (S3, GCS): the operation's body or copy source read and checked,
    /// then one presigned backend request ([`plan_forward`]).
    pub(super) fn plan_s3(
        &self,
        authorized: Authorized<'_>,
        backend: &Arc<S3Backend>,
        lock_plan: LockPlan,
        body: Option<Bytes>,
        credentials: Option<Result<&TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Plan, S3Error> {
        refuse_gcs_gaps(backend, authorized.req, &authorized.resource)?;
        let extra = match self.s3_extra(&authorized, backend, lock_plan, body)? {
            ControlFlow::Continue(extra) => extra,
            ControlFlow::Break(plan) => return Ok(plan),
        };
        let Authorized {
            head,
            req,
            authed,
            ctx,
            name,
            bucket,
            prefix,
            view,
            resource,
        } = authorized;
        let backend_bucket = bucket.is_glob().then_some(name);
        let signing = match self.federated_signing(backend, name, credentials) {
            Ok(signing) => signing,
            Err(federation::Unsigned::Ask(needed)) => {
                return Ok(Plan::NeedBackendCredentials(needed))
            }
            Err(federation::Unsigned::Fail(e)) => return Err(e.with_resource(resource)),
        };
        let forward = plan_forward(ForwardInput {
            head,
            req,
            payload: &authed.payload,
            chunk_signing: authed.chunk_signing.as_ref(),
            prefix,
            backend,
            extra,
            backend_bucket,
            client_bucket: view.map_or(name, |v| v.bucket.as_str()),
            client_prefix: view.map_or("", |v| v.key_prefix.as_str()),
            resource,
            ctx,
            signing,
        })?;
        Ok(Plan::Forward(Box::new(forward)))
    }

    /// What an S3-compatible backend request adds to the client's (see [`Extra`]): object lock
    /// headers, and the bodies and copy sources the gateway reads, checks and writes anew. Breaks
    /// with the plan when the body must be read first or the operation is answered otherwise (a
    /// DeleteObjects nothing of which may be deleted, a copy streamed through the gateway).
    fn s3_extra(
        &self,
        authorized: &Authorized<'_>,
        backend: &Arc<S3Backend>,
        lock_plan: LockPlan,
        body: Option<Bytes>,
    ) -> Result<ControlFlow<Plan, Extra>, S3Error> {
        let &Authorized {
            head,
            req,
            authed,
            ctx,
            name,
            bucket,
            prefix,
            view,
            ref resource,
        } = authorized;
        let identity = &authed.identity;
        let mut extra = Extra {
            headers: lock_plan.headers,
            lock_guarded: lock_plan.lock_guarded,
            hidden: lock_plan.hidden,
            ..Extra::default()
        };
        // Object lock, bucket tags and encryption documents are read, checked and written anew.
        if let Some(limit) = settings::body_limit(req.operation) {
            let Some(body) = body.as_ref() else {
                return Ok(ControlFlow::Break(Plan::NeedBody { limit }));
            };
            extra.body = Some(
                settings::settings_body(req.operation, &head.headers, &authed.payload, body)
                    .map_err(|e| e.with_resource(resource.clone()))?,
            );
        }
        match req.operation {
            Operation::DeleteObjects => {
                let Some(body) = body else {
                    return Ok(ControlFlow::Break(Plan::NeedBody {
                        limit: MAX_DELETE_BODY,
                    }));
                };
                match self.delete_objects(
                    head,
                    &authed.payload,
                    identity,
                    bucket,
                    name,
                    prefix,
                    &body,
                    view,
                )? {
                    DeletePlan::Forward(fwd_body, errors) => {
                        extra.body = Some(fwd_body);
                        extra.delete_errors = errors;
                    }
                    DeletePlan::Respond(xml_doc) => {
                        return Ok(ControlFlow::Break(Plan::Respond(respond(
                            StatusCode::OK,
                            xml_doc.into(),
                            Some("application/xml"),
                            &ctx.request_id,
                        ))));
                    }
                }
            }
            // The tag set is read, checked and written anew (the client's bytes never reach the
            // backend), with the gateway's own Content-MD5 as S3 requires.
            Operation::PutObjectTagging => {
                let Some(body) = body else {
                    return Ok(ControlFlow::Break(Plan::NeedBody {
                        limit: MAX_TAGGING_BODY,
                    }));
                };
                let tags = check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_tagging(&body))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.body = Some(Bytes::from(xml::tagging_xml(&tags)));
            }
            // Likewise the versioning configuration: read, checked, written anew.
            Operation::PutBucketVersioning => {
                let Some(body) = body else {
                    return Ok(ControlFlow::Break(Plan::NeedBody {
                        limit: MAX_VERSIONING_BODY,
                    }));
                };
                let versioning = check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_versioning(&body))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.body = Some(Bytes::from(xml::versioning_xml(versioning)));
            }
            Operation::GetObjectAttributes => {
                check_object_attributes(&head.headers)
                    .map_err(|e| e.with_resource(resource.clone()))?;
            }
            // The part list is read and checked here: backends differ in how well they validate
            // it (SeaweedFS answers a malformed one with NoSuchUpload or InvalidPart).
            Operation::CompleteMultipartUpload => {
                let Some(body) = body else {
                    return Ok(ControlFlow::Break(Plan::NeedBody {
                        limit: MAX_COMPLETE_BODY,
                    }));
                };
                check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_complete(&body).map(drop))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.checked_body = Some(body);
            }
            Operation::CopyObject | Operation::UploadPartCopy => {
                match self.s3_copy(authorized, backend, lock_plan.asks_lock)? {
                    ControlFlow::Continue(source) => extra.copy_source = Some(source),
                    ControlFlow::Break(plan) => return Ok(ControlFlow::Break(plan)),
                }
            }
            _ => {}
        }
        Ok(ControlFlow::Continue(extra))
    }
}

/// GCS's XML API has neither sub-resource and ignores query parameters it does not know:
/// forwarded, `?tagging` would read, overwrite or delete the object itself, and a `versionId`
/// would read or delete the live object (GCS names versions `generation`).
fn refuse_gcs_gaps(backend: &S3Backend, req: &S3Request, resource: &str) -> Result<(), S3Error> {
    if backend.dialect() == Dialect::Gcs
        && (matches!(
            req.operation,
            Operation::GetObjectTagging
                | Operation::PutObjectTagging
                | Operation::DeleteObjectTagging
                | Operation::GetObjectAttributes
                | Operation::ListObjectVersions
                | Operation::GetBucketVersioning
                | Operation::PutBucketVersioning
        ) || req.query_param("versionId").is_some())
    {
        return Err(S3Error::not_implemented(format!(
            "{:?} is not available on GCS backends",
            req.operation
        ))
        .with_resource(resource));
    }
    Ok(())
}

pub(super) struct ForwardInput<'a> {
    pub(super) head: &'a RequestHead,
    pub(super) req: &'a S3Request,
    pub(super) payload: &'a PayloadMode,
    pub(super) chunk_signing: Option<&'a ChunkSigning>,
    pub(super) prefix: &'a str,
    pub(super) backend: &'a S3Backend,
    pub(super) backend_bucket: Option<&'a str>,
    pub(super) client_bucket: &'a str,
    /// A path-mapped bucket's `product/`, in front of every key the client sees.
    pub(super) client_prefix: &'a str,
    pub(super) resource: String,
    pub(super) ctx: &'a RequestContext,
    pub(super) extra: Extra,
    /// The federated credentials of this request (None: the backend's own, if any).
    pub(super) signing: Option<&'a BackendSecret>,
}

/// What some operations add to a forward.
#[derive(Default)]
pub(super) struct Extra {
    /// A rewritten request body (DeleteObjects).
    pub(super) body: Option<Bytes>,
    /// Keys the gateway refused (DeleteObjects).
    pub(super) delete_errors: Vec<(String, &'static str, String)>,
    /// The backend form of `x-amz-copy-source`.
    pub(super) copy_source: Option<String>,
    /// The client's own small body, read and checked by the gateway (CompleteMultipartUpload),
    /// forwarded unchanged with its headers.
    pub(super) checked_body: Option<Bytes>,
    /// Headers the gateway sets with checked values (object lock, see [`settings`]).
    pub(super) headers: Vec<(&'static str, String)>,
    /// See [`Finish::lock_guarded`].
    pub(super) lock_guarded: bool,
    /// See [`Finish::hidden`].
    pub(super) hidden: Vec<&'static str>,
}

/// The request headers of GetObjectAttributes.
const OBJECT_ATTRIBUTES_HEADERS: &[&str] = &[
    "x-amz-object-attributes",
    "x-amz-max-parts",
    "x-amz-part-number-marker",
];

/// What `x-amz-object-attributes` may name (S3's list).
const OBJECT_ATTRIBUTES: &[&str] = &[
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// GetObjectAttributes' headers, checked before they are forwarded: each at most once,
/// `x-amz-object-attributes` present and a comma-separated list of S3's attribute names, the
/// part counters decimal numbers. `InvalidArgument` otherwise, as S3 answers.
pub(super) fn check_object_attributes(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in OBJECT_ATTRIBUTES_HEADERS {
        if headers.get_all(*name).iter().count() > 1 {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} is given more than once"
            ))
            .with_detail("ArgumentName", *name));
        }
    }
    let names = headers
        .get("x-amz-object-attributes")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            )
            .with_detail("ArgumentName", "x-amz-object-attributes")
        })?;
    if let Some(bad) = names
        .split(',')
        .map(str::trim)
        .find(|n| !OBJECT_ATTRIBUTES.contains(n))
    {
        return Err(S3Error::invalid_argument(format!(
            "Invalid attribute name specified: '{bad}' (expected some of {})",
            OBJECT_ATTRIBUTES.join(", ")
        ))
        .with_detail("ArgumentName", "x-amz-object-attributes"));
    }
    for name in ["x-amz-max-parts", "x-amz-part-number-marker"] {
        let Some(v) = headers.get(name) else { continue };
        let number = v
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()));
        if number.is_none() {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} must be a non-negative integer"
            ))
            .with_detail("ArgumentName", name));
        }
    }
    Ok(())
}

/// Query parameters each operation forwards (everything else is dropped: auth parameters,
/// SDK markers such as `x-id`, and anything the backend should not see).
fn forwarded_params(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::GetObject => &[
            "partNumber",
            "versionId",
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
        ],
        Operation::HeadObject => &["partNumber", "versionId"],
        Operation::DeleteObject => &["versionId"],
        // `encoding-type` is applied by the gateway (see `XmlRewrite`), never forwarded.
        Operation::ListObjects => &["prefix", "delimiter", "max-keys", "marker"],
        Operation::ListObjectsV2 => &[
            "list-type",
            "prefix",
            "delimiter",
            "max-keys",
            "continuation-token",
            "start-after",
            "fetch-owner",
        ],
        Operation::ListMultipartUploads => &[
            "uploads",
            "prefix",
            "delimiter",
            "max-uploads",
            "key-marker",
            "upload-id-marker",
        ],
        Operation::CreateMultipartUpload => &["uploads"],
        Operation::UploadPart | Operation::UploadPartCopy => &["partNumber", "uploadId"],
        Operation::DeleteObjects => &["delete"],
        Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => &["uploadId"],
        Operation::ListParts => &["uploadId", "max-parts", "part-number-marker"],
        Operation::GetObjectTagging
        | Operation::PutObjectTagging
        | Operation::DeleteObjectTagging => &["tagging", "versionId"],
        Operation::GetObjectAttributes => &["attributes", "versionId"],
        // `encoding-type` is applied by the gateway, as for the other listings.
        Operation::ListObjectVersions => &[
            "versions",
            "prefix",
            "delimiter",
            "max-keys",
            "key-marker",
            "version-id-marker",
        ],
        Operation::GetBucketVersioning | Operation::PutBucketVersioning => &["versioning"],
        Operation::GetObjectRetention | Operation::PutObjectRetention => {
            &["retention", "versionId"]
        }
        Operation::GetObjectLegalHold | Operation::PutObjectLegalHold => {
            &["legal-hold", "versionId"]
        }
        Operation::GetObjectLockConfiguration | Operation::PutObjectLockConfiguration => {
            &["object-lock"]
        }
        Operation::GetBucketTagging
        | Operation::PutBucketTagging
        | Operation::DeleteBucketTagging => &["tagging"],
        Operation::GetBucketEncryption
        | Operation::PutBucketEncryption
        | Operation::DeleteBucketEncryption => &["encryption"],
        _ => &[],
    }
}

/// Parameters that carry keys and so get the backend prefix.
const KEY_PARAMS: &[&str] = &["prefix", "marker", "start-after", "key-marker"];

/// Conditional request headers (`If-*`).
const CONDITIONALS: &[&str] = &[
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// The customer-provided key of an SSE-C object (needed to read, write or copy it).
const SSE_C: &[&str] = &[
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

/// The headers that describe an object an upload or a copy creates: content headers, user
/// metadata, tagging, storage class, encryption and the website redirect. Object lock headers
/// are set by the gateway once checked and authorized (see [`settings`]).
fn object_attribute_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "cache-control"
            | "expires"
            | "x-amz-tagging"
            | "x-amz-storage-class"
            | "x-amz-server-side-encryption"
            | "x-amz-server-side-encryption-aws-kms-key-id"
            | "x-amz-server-side-encryption-context"
            | "x-amz-server-side-encryption-bucket-key-enabled"
            | "x-amz-website-redirect-location"
    ) || name.starts_with("x-amz-meta-")
        || SSE_C.contains(&name)
}

/// The integrity headers of a body: `Content-MD5`, `x-amz-checksum-*`, and the aws-chunked
/// framing the gateway forwards or removes (see [`plan_forward`]).
fn body_integrity_header(name: &str) -> bool {
    matches!(
        name,
        "content-md5"
            | "x-amz-sdk-checksum-algorithm"
            | "x-amz-trailer"
            | "x-amz-decoded-content-length"
            | "content-encoding"
    ) || name.starts_with("x-amz-checksum-")
}

/// Request headers each operation forwards: an allowlist, so a header the gateway did not
/// consider (an ACL, a bucket owner, a request payer, a copy source on a PUT, a bypass of
/// governance retention) never reaches the backend. Our own auth (`authorization`,
/// `x-amz-date`, `x-amz-security-token`, `x-amz-content-sha256`) and hop-by-hop headers are on
/// no list; `x-amz-copy-source` is written by the gateway from the authorized source.
fn forwardable_request_header(op: Operation, name: &str) -> bool {
    match op {
        Operation::GetObject | Operation::HeadObject => {
            name == "range"
                || name == "x-amz-checksum-mode"
                || CONDITIONALS.contains(&name)
                || SSE_C.contains(&name)
        }
        // Conditional writes (`If-None-Match: *`, `If-Match`) are S3's own.
        Operation::PutObject => {
            object_attribute_header(name)
                || body_integrity_header(name)
                || name == "if-match"
                || name == "if-none-match"
        }
        Operation::CreateMultipartUpload => {
            object_attribute_header(name)
                || name == "x-amz-checksum-algorithm"
                || name == "x-amz-checksum-type"
        }
        Operation::UploadPart => body_integrity_header(name) || SSE_C.contains(&name),
        Operation::CopyObject => {
            object_attribute_header(name)
                || copy_source_header(name)
                || name == "x-amz-metadata-directive"
                || name == "x-amz-tagging-directive"
                || name == "x-amz-checksum-algorithm"
                || name == "if-match"
                || name == "if-none-match"
        }
        Operation::UploadPartCopy => {
            copy_source_header(name) || name == "x-amz-copy-source-range" || SSE_C.contains(&name)
        }
        // Checksums on Complete describe the whole object; the body is the gateway's checked copy.
        Operation::CompleteMultipartUpload => {
            matches!(
                name,
                "content-type"
                    | "content-md5"
                    | "if-match"
                    | "if-none-match"
                    | "x-amz-checksum-type"
                    | "x-amz-mp-object-size"
            ) || name.starts_with("x-amz-checksum-")
                || SSE_C.contains(&name)
        }
        Operation::ListParts => SSE_C.contains(&name),
        // Checked by `check_object_attributes` before they are forwarded.
        Operation::GetObjectAttributes => {
            OBJECT_ATTRIBUTES_HEADERS.contains(&name) || SSE_C.contains(&name)
        }
        // The gateway writes the PutObjectTagging body and its Content-MD5 itself; Get and
        // Delete carry nothing but the key and `versionId`.
        // The gateway writes the DeleteObjects body and its headers itself.
        Operation::CreateBucket => name == "content-type" || name == "content-md5",
        _ => false,
    }
}

/// The conditions and SSE-C key of a copy's source.
fn copy_source_header(name: &str) -> bool {
    matches!(
        name,
        "x-amz-copy-source-if-match"
            | "x-amz-copy-source-if-none-match"
            | "x-amz-copy-source-if-modified-since"
            | "x-amz-copy-source-if-unmodified-since"
            | "x-amz-copy-source-server-side-encryption-customer-algorithm"
            | "x-amz-copy-source-server-side-encryption-customer-key"
            | "x-amz-copy-source-server-side-encryption-customer-key-md5"
    )
}

pub(super) fn plan_forward(input: ForwardInput<'_>) -> Result<Forward, S3Error> {
    let ForwardInput {
        head,
        req,
        payload,
        chunk_signing,
        prefix,
        backend,
        backend_bucket,
        client_bucket,
        client_prefix,
        resource,
        ctx,
        extra,
        signing,
    } = input;
    let op = req.operation;
    let allowed = forwarded_params(op);
    // Built from the one value of each allowed parameter that authorization read
    // (`S3Request::query_param`; `request::parse` refuses a repeated name), never copied.
    let mut query: Vec<(String, String)> = Vec::with_capacity(allowed.len());
    for name in allowed {
        let Some(v) = req.query_param(name) else {
            continue;
        };
        let v = if KEY_PARAMS.contains(name) {
            format!("{prefix}{v}")
        } else {
            v.to_string()
        };
        query.push((name.to_string(), v));
    }
    // A prefixed bucket must never list outside its prefix, even without a `prefix` parameter.
    if matches!(
        op,
        Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions
    ) && !prefix.is_empty()
        && !query.iter().any(|(k, _)| k == "prefix")
    {
        query.push(("prefix".to_string(), prefix.to_string()));
    }

    let mut headers = HeaderMap::new();
    for name in head.headers.keys() {
        if forwardable_request_header(op, name.as_str()) {
            copy_header(&head.headers, &mut headers, name);
        }
    }

    if let Some(source) = &extra.copy_source {
        set_header(&mut headers, "x-amz-copy-source", source);
    }
    for (name, value) in &extra.headers {
        set_header(&mut headers, name, value);
    }
    let body = match op {
        _ if extra.checked_body.is_some() => {
            let bytes = extra.checked_body.clone().unwrap_or_default();
            set_header(&mut headers, "content-length", &bytes.len().to_string());
            ForwardBody::Bytes(bytes)
        }
        _ if extra.body.is_some() => {
            let bytes = extra.body.clone().unwrap_or_default();
            for name in [
                "content-md5",
                "x-amz-sdk-checksum-algorithm",
                "x-amz-trailer",
            ] {
                headers.remove(name);
            }
            let checksums: Vec<HeaderName> = headers
                .keys()
                .filter(|n| n.as_str().starts_with("x-amz-checksum-"))
                .cloned()
                .collect();
            for name in checksums {
                headers.remove(name);
            }
            use base64::Engine as _;
            use md5::Digest as _;
            let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&bytes));
            set_header(&mut headers, "content-md5", &md5);
            set_header(&mut headers, "content-type", "application/xml");
            set_header(&mut headers, "content-length", &bytes.len().to_string());
            ForwardBody::Bytes(bytes)
        }
        Operation::CreateBucket if head.headers.contains_key(http::header::CONTENT_LENGTH) => {
            let length = content_length(&head.headers)?;
            set_header(&mut headers, "content-length", &length.to_string());
            match payload {
                PayloadMode::Sha256(hash) => {
                    ForwardBody::Verify(PayloadVerifier::new(*hash, length))
                }
                _ => ForwardBody::Stream,
            }
        }
        Operation::PutObject | Operation::UploadPart | Operation::CompleteMultipartUpload => {
            let length = UploadLength::from_headers(&head.headers, payload)?;
            let body = match (payload, length) {
                (PayloadMode::Sha256(hash), UploadLength::Plain(length)) => {
                    set_header(&mut headers, "content-length", &length.to_string());
                    ForwardBody::Verify(PayloadVerifier::new(*hash, length))
                }
                (PayloadMode::Unsigned, UploadLength::Plain(length)) => {
                    set_header(&mut headers, "content-length", &length.to_string());
                    ForwardBody::Stream
                }
                // Framed as sent, when the wire length is known: the backend checks the trailer.
                (
                    PayloadMode::StreamingUnsignedTrailer,
                    UploadLength::Chunked {
                        wire: Some(wire), ..
                    },
                ) if backend.dialect() == Dialect::S3 => {
                    set_header(&mut headers, "content-length", &wire.to_string());
                    set_header(
                        &mut headers,
                        "x-amz-content-sha256",
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                    );
                    ForwardBody::Stream
                }
                // Backends that do not speak aws-chunked, and bodies whose framed length is not
                // known (Transfer-Encoding: chunked), get the plain body, checked here.
                (PayloadMode::StreamingUnsignedTrailer, UploadLength::Chunked { decoded, .. }) => {
                    unframe_aws_chunked(&mut headers, decoded);
                    ForwardBody::Decode(
                        SignedChunkDecoder::unsigned(decoded)
                            .with_trailer_checksum(checksum::trailer_algorithm(&head.headers)?),
                    )
                }
                (
                    PayloadMode::StreamingSigned { trailer },
                    UploadLength::Chunked { decoded, .. },
                ) => {
                    let signing = chunk_signing.cloned().ok_or_else(|| {
                        S3Error::internal(
                            "a signed aws-chunked upload came without its signing context",
                        )
                    })?;
                    unframe_aws_chunked(&mut headers, decoded);
                    ForwardBody::Decode(
                        SignedChunkDecoder::new(signing, *trailer, decoded)
                            .with_trailer_checksum(checksum::trailer_algorithm(&head.headers)?),
                    )
                }
                _ => {
                    return Err(S3Error::internal(
                        "an upload's length does not fit its payload mode",
                    ))
                }
            };
            // Checksum headers on Complete describe the whole object, not the XML body.
            if op == Operation::CompleteMultipartUpload {
                body
            } else {
                body.with_header_checksum(&head.headers)?
            }
        }
        // A copy carries the new object's content headers (with REPLACE) but no body; an upload
        // carries those of the object it will become.
        Operation::CopyObject | Operation::UploadPartCopy | Operation::CreateMultipartUpload => {
            ForwardBody::Empty
        }
        _ => {
            headers.remove(http::header::CONTENT_TYPE);
            ForwardBody::Empty
        }
    };

    let backend_key = req.key.as_deref().map(|k| format!("{prefix}{k}"));
    // Checked with the bucket already (`check_backend_key`); checked again where the URL is
    // made, so no path to it can skip the check.
    if backend_key.as_deref().is_some_and(request::has_dot_segment) {
        return Err(glued_dot_segment().with_resource(resource));
    }
    let url = backend.url(
        &mut BackendRequest {
            bucket: backend_bucket,
            method: &head.method,
            key: backend_key.as_deref(),
            query: &query,
            headers: &mut headers,
        },
        ctx.now,
        signing,
    );

    let rewrite = matches!(
        op,
        Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions
            | Operation::ListParts
            | Operation::CreateMultipartUpload
            | Operation::CompleteMultipartUpload
            | Operation::CopyObject
            | Operation::UploadPartCopy
            | Operation::DeleteObjects
    )
    .then(|| XmlRewrite {
        client_bucket: client_bucket.to_string(),
        strip_prefix: prefix.to_string(),
        add_prefix: client_prefix.to_string(),
        url_encoded: req.query_param("encoding-type") == Some("url"),
        list_v1: op == Operation::ListObjects,
    });

    Ok(Forward {
        method: head.method.clone(),
        url,
        headers,
        body,
        request_id: ctx.request_id.clone(),
        finish: Finish {
            rewrite,
            resource,
            delete_errors: extra.delete_errors,
            passthrough: backend_bucket.is_some(),
            cors: None,
            post: None,
            answer: crate::backend::gcs::answer::for_dialect(backend.dialect()),
            bodyless_success: matches!(
                op,
                Operation::PutObject
                    | Operation::UploadPart
                    | Operation::DeleteObject
                    | Operation::AbortMultipartUpload
                    | Operation::PutObjectTagging
                    | Operation::DeleteObjectTagging
                    | Operation::PutBucketVersioning
                    | Operation::PutObjectRetention
                    | Operation::PutObjectLegalHold
                    | Operation::PutObjectLockConfiguration
                    | Operation::PutBucketTagging
                    | Operation::DeleteBucketTagging
                    | Operation::PutBucketEncryption
                    | Operation::DeleteBucketEncryption
            ),
            lock_guarded: extra.lock_guarded,
            hidden: extra.hidden,
        },
    })
}

/// The largest body one upload request may carry (PutObject, UploadPart): S3's 5 GiB.
pub(crate) const MAX_UPLOAD_LENGTH: u64 = copy::MAX_SINGLE_PUT;

/// How long an upload's body is, as its headers state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UploadLength {
    /// A body forwarded as it is sent: `Content-Length` bytes.
    Plain(u64),
    /// An aws-chunked body: `wire` bytes as sent (`None`: sent with `Transfer-Encoding:
    /// chunked` and no `Content-Length`, as the AWS SDK for JavaScript v3 sends a stream), and
    /// `decoded` bytes once its framing is removed (`x-amz-decoded-content-length`).
    Chunked {
        /// `Content-Length`, when the client sent one.
        wire: Option<u64>,
        /// `x-amz-decoded-content-length`.
        decoded: u64,
    },
}

impl UploadLength {
    /// The upload's length as the request states it: `Content-Length`, or for an aws-chunked
    /// payload (`payload`) `x-amz-decoded-content-length`, which then suffices on its own. A
    /// body that states no length at all is 411 `MissingContentLength`, as S3 answers.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        payload: &PayloadMode,
    ) -> Result<Self, S3Error> {
        let wire = if headers.contains_key(http::header::CONTENT_LENGTH) {
            Some(content_length(headers)?)
        } else {
            None
        };
        let chunked = matches!(
            payload,
            PayloadMode::StreamingUnsignedTrailer | PayloadMode::StreamingSigned { .. }
        );
        match (chunked, wire) {
            (false, Some(wire)) => Ok(UploadLength::Plain(wire)),
            (false, None) => Err(S3Error::new(
                ErrorCode::MissingContentLength,
                "you must provide the Content-Length HTTP header",
            )),
            (true, wire) => Ok(UploadLength::Chunked {
                wire,
                decoded: decoded_content_length(headers)?,
            }),
        }
    }
}

/// `x-amz-decoded-content-length` of an aws-chunked upload: one decimal number of bytes, at
/// most [`MAX_UPLOAD_LENGTH`].
fn decoded_content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    const NAME: &str = "x-amz-decoded-content-length";
    let mut values = headers.get_all(NAME).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(NAME) {
            S3Error::invalid_argument(format!("{NAME} is given more than once"))
                .with_detail("ArgumentName", NAME)
        } else {
            S3Error::new(
                ErrorCode::MissingContentLength,
                "an aws-chunked upload needs x-amz-decoded-content-length",
            )
        });
    };
    let digits = value.as_bytes();
    let decoded = Some(digits)
        .filter(|d| (1..=20).contains(&d.len()) && d.iter().all(u8::is_ascii_digit))
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(format!("{NAME} is not a decimal number of bytes"))
                .with_detail("ArgumentName", NAME)
        })?;
    if decoded > MAX_UPLOAD_LENGTH {
        return Err(S3Error::new(
            ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_detail("ProposedSize", decoded.to_string())
        .with_detail("MaxSizeAllowed", MAX_UPLOAD_LENGTH.to_string()));
    }
    Ok(decoded)
}

/// The headers of an aws-chunked upload whose body the gateway decodes: the backend gets the
/// plain body of `decoded` bytes; framing and trailer stay here.
fn unframe_aws_chunked(headers: &mut HeaderMap, decoded: u64) {
    set_header(headers, "content-length", &decoded.to_string());
    for name in [
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-sdk-checksum-algorithm",
    ] {
        headers.remove(name);
    }
    match headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(strip_aws_chunked)
    {
        Some(v) => {
            headers.insert(http::header::CONTENT_ENCODING, v);
        }
        None => {
            headers.remove(http::header::CONTENT_ENCODING);
        }
    }
}

/// The declared body length: required for uploads, as S3 requires it.
pub(super) fn content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    let Some(v) = headers.get(http::header::CONTENT_LENGTH) else {
        return Err(S3Error::new(
            ErrorCode::MissingContentLength,
            "you must provide the Content-Length HTTP header",
        ));
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| S3Error::invalid_argument("Content-Length is not a number"))
}
