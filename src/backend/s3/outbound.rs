//! The backend request of an S3-compatible backend ([`plan_forward`]): built from the parsed,
//! authorized operation, an allowlist of query parameters and headers per operation, never copied
//! from the raw request.

use bytes::Bytes;
use http::{HeaderMap, HeaderName};

use super::{copy_header, set_header, BackendRequest, Dialect, S3Backend};
use crate::auth::{ChunkSigning, PayloadMode};
use crate::backend::federation::BackendSecret;
use crate::backend::upload::{content_length, unframe_aws_chunked, UploadLength};
use crate::backend::{glued_dot_segment, BucketRequest};
use crate::checksum;
use crate::chunked::SignedChunkDecoder;
use crate::payload::PayloadVerifier;
use crate::plan::{Finish, Forward, ForwardBody};
use crate::s3::request::{self, Operation, RequestHead, S3Request};
use crate::s3::xml::XmlRewrite;
use crate::s3::S3Error;

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
/// are set by the gateway once checked and authorized (see [`settings`](super::settings)).
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

/// What some operations add to a forward.
#[derive(Default)]
pub(crate) struct Extra {
    /// A rewritten request body (DeleteObjects).
    pub(crate) body: Option<Bytes>,
    /// Keys the gateway refused (DeleteObjects).
    pub(crate) delete_errors: Vec<(String, &'static str, String)>,
    /// The backend form of `x-amz-copy-source`.
    pub(crate) copy_source: Option<String>,
    /// The client's own small body, read and checked by the gateway (CompleteMultipartUpload),
    /// forwarded unchanged with its headers.
    pub(crate) checked_body: Option<Bytes>,
    /// Headers the gateway sets with checked values (object lock, see
    /// [`settings`](super::settings)).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// See [`Finish::lock_guarded`].
    pub(crate) lock_guarded: bool,
    /// See [`Finish::hidden`].
    pub(crate) hidden: Vec<&'static str>,
}

/// The request headers of GetObjectAttributes.
pub(super) const OBJECT_ATTRIBUTES_HEADERS: &[&str] = &[
    "x-amz-object-attributes",
    "x-amz-max-parts",
    "x-amz-part-number-marker",
];

/// The backend request of an authorized request on an S3-compatible bucket, with what the
/// gateway adds to it (`extra`), signed with the bucket's own key or `signing`.
pub(super) fn plan_forward(
    request: &BucketRequest<'_>,
    backend: &S3Backend,
    extra: Extra,
    signing: Option<&BackendSecret>,
) -> Result<Forward, S3Error> {
    let &BucketRequest {
        head,
        req,
        ctx,
        name,
        bucket,
        prefix,
        view,
        ref resource,
        ..
    } = request;
    let op = req.operation;
    let query = forward_query(req, prefix);
    let mut headers = forward_headers(head, op, &extra);
    let body = forward_body(request, backend, &extra, &mut headers)?;
    let backend_bucket = bucket.is_glob().then_some(name);
    let client_bucket = view.map_or(name, |v| v.bucket.as_str());
    // A path-mapped bucket's `product/`, in front of every key the client sees.
    let client_prefix = view.map_or("", |v| v.key_prefix.as_str());
    let backend_key = req.key.as_deref().map(|k| format!("{prefix}{k}"));
    // Checked with the bucket already (`check_backend_key`); checked again where the URL is
    // made, so no path to it can skip the check.
    if backend_key.as_deref().is_some_and(request::has_dot_segment) {
        return Err(glued_dot_segment().with_resource(resource.clone()));
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

    Ok(Forward {
        method: head.method.clone(),
        url,
        headers,
        body,
        request_id: ctx.request_id.clone(),
        finish: Finish {
            rewrite: answer_rewrite(req, prefix, client_bucket, client_prefix),
            resource: resource.clone(),
            delete_errors: extra.delete_errors,
            passthrough: backend_bucket.is_some(),
            cors: None,
            post: None,
            answer: crate::backend::gcs::answer::for_dialect(backend.dialect()),
            bodyless_success: bodyless_success(op),
            lock_guarded: extra.lock_guarded,
            hidden: extra.hidden,
        },
    })
}

/// The backend query: built from the one value of each allowed parameter that authorization
/// read (`S3Request::query_param`; `request::parse` refuses a repeated name), never copied.
fn forward_query(req: &S3Request, prefix: &str) -> Vec<(String, String)> {
    let op = req.operation;
    let allowed = forwarded_params(op);
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
    query
}

/// The backend request's headers: the client's that this operation may forward, then the ones
/// the gateway sets with checked values (copy source, object lock).
fn forward_headers(head: &RequestHead, op: Operation, extra: &Extra) -> HeaderMap {
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
    headers
}

/// What the backend request carries: a body the gateway wrote or checked (with its own
/// `Content-MD5`), the client's upload (see [`upload_body`]), or nothing.
fn forward_body(
    request: &BucketRequest<'_>,
    backend: &S3Backend,
    extra: &Extra,
    headers: &mut HeaderMap,
) -> Result<ForwardBody, S3Error> {
    let (head, req) = (request.head, request.req);
    let payload = &request.authed.payload;
    let op = req.operation;
    Ok(match op {
        _ if extra.checked_body.is_some() => {
            let bytes = extra.checked_body.clone().unwrap_or_default();
            set_header(headers, "content-length", &bytes.len().to_string());
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
            set_header(headers, "content-md5", &md5);
            set_header(headers, "content-type", "application/xml");
            set_header(headers, "content-length", &bytes.len().to_string());
            ForwardBody::Bytes(bytes)
        }
        Operation::CreateBucket if head.headers.contains_key(http::header::CONTENT_LENGTH) => {
            let length = content_length(&head.headers)?;
            set_header(headers, "content-length", &length.to_string());
            match payload {
                PayloadMode::Sha256(hash) => {
                    ForwardBody::Verify(PayloadVerifier::new(*hash, length))
                }
                _ => ForwardBody::Stream,
            }
        }
        Operation::PutObject | Operation::UploadPart | Operation::CompleteMultipartUpload => {
            upload_body(
                op,
                head,
                payload,
                request.authed.chunk_signing.as_ref(),
                backend,
                headers,
            )?
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
    })
}

/// The body of an upload (PutObject, UploadPart, CompleteMultipartUpload): streamed as sent,
/// verified against the signed sha256, or unframed from aws-chunked and checked here; its
/// length and framing headers set to match.
fn upload_body(
    op: Operation,
    head: &RequestHead,
    payload: &PayloadMode,
    chunk_signing: Option<&ChunkSigning>,
    backend: &S3Backend,
    headers: &mut HeaderMap,
) -> Result<ForwardBody, S3Error> {
    let length = UploadLength::from_headers(&head.headers, payload)?;
    let body = match (payload, length) {
        (PayloadMode::Sha256(hash), UploadLength::Plain(length)) => {
            set_header(headers, "content-length", &length.to_string());
            ForwardBody::Verify(PayloadVerifier::new(*hash, length))
        }
        (PayloadMode::Unsigned, UploadLength::Plain(length)) => {
            set_header(headers, "content-length", &length.to_string());
            ForwardBody::Stream
        }
        // Framed as sent, when the wire length is known: the backend checks the trailer.
        (
            PayloadMode::StreamingUnsignedTrailer,
            UploadLength::Chunked {
                wire: Some(wire), ..
            },
        ) if backend.dialect() == Dialect::S3 => {
            set_header(headers, "content-length", &wire.to_string());
            set_header(
                headers,
                "x-amz-content-sha256",
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            );
            ForwardBody::Stream
        }
        // Backends that do not speak aws-chunked, and bodies whose framed length is not
        // known (Transfer-Encoding: chunked), get the plain body, checked here.
        (PayloadMode::StreamingUnsignedTrailer, UploadLength::Chunked { decoded, .. }) => {
            unframe_aws_chunked(headers, decoded);
            ForwardBody::Decode(
                SignedChunkDecoder::unsigned(decoded)
                    .with_trailer_checksum(checksum::trailer_algorithm(&head.headers)?),
            )
        }
        (PayloadMode::StreamingSigned { trailer }, UploadLength::Chunked { decoded, .. }) => {
            let signing = chunk_signing.cloned().ok_or_else(|| {
                S3Error::internal("a signed aws-chunked upload came without its signing context")
            })?;
            unframe_aws_chunked(headers, decoded);
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
        Ok(body)
    } else {
        body.with_header_checksum(&head.headers)
    }
}

/// The rewrite of a successful XML answer into the client's namespace (listings, multipart
/// documents, copy results, DeleteResult); None for operations without one.
fn answer_rewrite(
    req: &S3Request,
    prefix: &str,
    client_bucket: &str,
    client_prefix: &str,
) -> Option<XmlRewrite> {
    let op = req.operation;
    matches!(
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
    })
}

/// Operations S3 answers with no body: whatever body a backend sends with its success
/// (fake-gcs-server sends JSON) is dropped (see [`Finish::bodyless_success`]).
fn bodyless_success(op: Operation) -> bool {
    matches!(
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
    )
}
