//! Cloudflare R2 through a Worker binding (`backend_type = "r2"`, `backend_options.binding`).
//!
//! An R2 bucket is reached through a binding object (`env.DATA.get(key, opts)`, `.put`, `.list`,
//! `.createMultipartUpload`...), not by URL. The core plans the binding call as plain data
//! ([`R2Call`]) and renders what the binding returned ([`R2Outcome`]) as the S3 answer, so the
//! Worker runtime only converts between JS objects and these types:
//!
//! ```text
//! Gateway::plan ─▶ Plan::R2(R2Plan { binding, call, body, content_length })
//! runtime: env[binding].<call>(..) ─▶ R2Outcome ─▶ R2Plan::respond ─▶ S3 response
//!          (a thrown exception ─▶ R2Plan::failed)
//! ```
//!
//! Keys in an [`R2Call`] are already under the bucket's `backend_prefix`; rendered answers use
//! the client's bucket name and keys. Conditional requests follow S3's precedence rules: the
//! conditions handed to R2 already have the ones S3 would ignore removed, and where R2 answers
//! without a body (or cannot evaluate them, as `head`) [`R2Plan::respond`] decides 304 vs 412.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use crate::auth::{Authenticated, PayloadMode};
use crate::backend::delete::authorized_deletes;
use crate::backend::s3::UploadLength;
use crate::chunked::SignedChunkDecoder;
use crate::config::BucketConfig;
use crate::cors::CorsHeaders;
use crate::pathmap::ClientView;
use crate::payload::PayloadVerifier;
use crate::plan::{
    check_small_body, error_response, ForwardBody, Plan, RequestContext, MAX_COMPLETE_BODY,
    MAX_DELETE_BODY,
};
use crate::policy::Identity;
use crate::post::PostAnswer;
use crate::s3::error::push_escaped;
use crate::s3::request::RequestHead;
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml::{self, url_encode_key, XmlRewrite, S3_NS};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

mod records;
#[cfg(test)]
mod tests;

pub(crate) use records::int_param;
pub use records::{is_reserved, reserved_key_error, RESERVED};

/// A byte range to ask R2 for (`range` in `get` options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum R2Range {
    /// `{ offset, length }` (`length` None: to the end).
    Bounded {
        /// First byte.
        offset: u64,
        /// Number of bytes; None to the end of the object.
        length: Option<u64>,
    },
    /// `{ suffix }`: the last `n` bytes.
    Suffix(u64),
}

/// Conditional headers, in R2's terms (`onlyIf`). Conditions S3 would ignore are already removed
/// (`If-Unmodified-Since` when `If-Match` is present, `If-Modified-Since` when `If-None-Match`
/// is), so passing every field as is gives S3's behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match` ETags without quotes (`*` kept): `onlyIf.etagMatches`.
    pub if_match: Vec<String>,
    /// `If-None-Match` ETags without quotes (`*` kept): `onlyIf.etagDoesNotMatch`.
    pub if_none_match: Vec<String>,
    /// `If-Modified-Since`, milliseconds since the epoch: `onlyIf.uploadedAfter` (with
    /// `secondsGranularity: true`).
    pub if_modified_since: Option<i64>,
    /// `If-Unmodified-Since`, milliseconds since the epoch: `onlyIf.uploadedBefore` (with
    /// `secondsGranularity: true`).
    pub if_unmodified_since: Option<i64>,
}

/// HTTP metadata R2 stores with an object (`httpMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpMetadata {
    /// `contentType`.
    pub content_type: Option<String>,
    /// `contentLanguage`.
    pub content_language: Option<String>,
    /// `contentDisposition`.
    pub content_disposition: Option<String>,
    /// `contentEncoding` (never `aws-chunked`).
    pub content_encoding: Option<String>,
    /// `cacheControl`.
    pub cache_control: Option<String>,
    /// `cacheExpiry` (the `Expires` header), milliseconds since the epoch.
    pub expires: Option<i64>,
}

/// The binding call to make. Keys are R2 keys (under the bucket's `backend_prefix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum R2Call {
    /// `get(key, { range, onlyIf: conditions })`. `null` → [`R2Outcome::Missing`]; an object
    /// with a body → `Object { has_body: true }`; one without (a condition failed) →
    /// `Object { has_body: false }`.
    Get {
        /// R2 key.
        key: String,
        /// Range to read, if any.
        range: Option<R2Range>,
        /// `onlyIf`.
        conditions: Conditions,
    },
    /// `head(key)` → `Object { has_body: false }` or `Missing`. R2's head takes no conditions:
    /// [`R2Plan::respond`] evaluates them.
    Head {
        /// R2 key.
        key: String,
        /// Evaluated by `respond`, not passed to R2.
        conditions: Conditions,
    },
    /// `put(key, body, { httpMetadata, customMetadata, md5, onlyIf })` → `Put(object)`, or
    /// `PreconditionFailed` when R2 returned `null`.
    Put {
        /// R2 key.
        key: String,
        /// `httpMetadata`.
        http: HttpMetadata,
        /// `customMetadata` (from `x-amz-meta-*`: names lowercased, prefix stripped).
        custom: Vec<(String, String)>,
        /// `md5` as hex, from `Content-MD5`: R2 verifies it.
        md5: Option<String>,
        /// `onlyIf` (`If-Match` / `If-None-Match: *` on PUT).
        conditions: Conditions,
    },
    /// `delete(keys)` (one key or up to 1000) → `Deleted`.
    Delete {
        /// R2 keys.
        keys: Vec<String>,
    },
    /// `list({ prefix, delimiter, cursor, startAfter, limit })` → `Listing`. Listings never
    /// need `include`.
    List {
        /// R2 prefix (always under the backend prefix).
        prefix: String,
        /// Delimiter, if any.
        delimiter: Option<String>,
        /// R2's cursor from a previous listing (unwrapped from the continuation token).
        cursor: Option<String>,
        /// `startAfter` (an R2 key).
        start_after: Option<String>,
        /// `limit` (1..=1000).
        limit: u32,
        /// ListObjectsV2 (else V1); rendering only.
        v2: bool,
    },
    /// `createMultipartUpload(key, { httpMetadata, customMetadata })` → `Upload { upload_id }`.
    CreateMultipart {
        /// R2 key.
        key: String,
        /// `httpMetadata`.
        http: HttpMetadata,
        /// `customMetadata`.
        custom: Vec<(String, String)>,
    },
    /// `resumeMultipartUpload(key, upload_id).uploadPart(part_number, body)` → `Part { etag }`.
    UploadPart {
        /// R2 key.
        key: String,
        /// Upload id.
        upload_id: String,
        /// 1..=10000.
        part_number: u16,
    },
    /// `resumeMultipartUpload(key, upload_id).complete([{ partNumber, etag }])` →
    /// `Completed(object)`.
    CompleteMultipart {
        /// R2 key.
        key: String,
        /// Upload id.
        upload_id: String,
        /// `(partNumber, etag)` in ascending order, ETags without quotes.
        parts: Vec<(u16, String)>,
        /// `If-Match` / `If-None-Match` of the request. `complete` takes no `onlyIf`, so when
        /// set the runtime first `head`s the key: `null` with an `If-Match` → `Missing`, an
        /// object failing [`Conditions::hold_for_write`] → `PreconditionFailed`. Not atomic: a
        /// write landing between the check and `complete` is overwritten.
        conditions: Conditions,
    },
    /// `resumeMultipartUpload(key, upload_id).abort()` → `Aborted`.
    AbortMultipart {
        /// R2 key.
        key: String,
        /// Upload id.
        upload_id: String,
    },
    /// UploadPartCopy within one binding: `get(source_key, { range, onlyIf: source_conditions })`,
    /// then `resumeMultipartUpload(key, upload_id).uploadPart(part_number, source.body)` with the
    /// body wrapped to the range's length (the whole object without a range). Source `null` →
    /// `Missing`; without body → `PreconditionFailed`; a range ending past the source →
    /// `InvalidCopyRange { size }` (the body cancelled); part stored → `Part { etag }`.
    UploadPartCopy {
        /// R2 key of the source.
        source_key: String,
        /// R2 key of the upload.
        key: String,
        /// Upload id.
        upload_id: String,
        /// 1..=10000.
        part_number: u16,
        /// `x-amz-copy-source-range` as `(offset, length)`.
        range: Option<(u64, u64)>,
        /// `x-amz-copy-source-if-*`, as `onlyIf` of the source `get`.
        source_conditions: Conditions,
    },
    /// CopyObject within one binding: `get(source_key, { onlyIf: source_conditions })`, then
    /// `put(key, source.body, { httpMetadata, customMetadata })` with the source's metadata, or
    /// with `replace` when set. Source `null` → `Missing`; source without body →
    /// `PreconditionFailed`; put done → `Put(new object)`.
    Copy {
        /// R2 key of the source.
        source_key: String,
        /// R2 key of the new object.
        key: String,
        /// `x-amz-metadata-directive: REPLACE`: the metadata to write instead of the source's.
        replace: Option<(HttpMetadata, Vec<(String, String)>)>,
        /// `x-amz-copy-source-if-*`, as `onlyIf` of the source `get`.
        source_conditions: Conditions,
    },
    /// ListParts from the gateway's records: `head(upload_record)`; `null` → `Missing`, else
    /// `list({ prefix: parts_prefix, startAfter, limit, include: ["customMetadata"] })` →
    /// `Listing`.
    ListParts {
        /// R2 key of the upload's record.
        upload_record: String,
        /// Prefix of its part records.
        parts_prefix: String,
        /// `startAfter` (the record of `part-number-marker`).
        start_after: Option<String>,
        /// `limit` (1..=1000).
        limit: u32,
    },
    /// ListMultipartUploads from the gateway's records: `list({ prefix, startAfter, limit,
    /// include: ["customMetadata"] })` → `Listing`.
    ListUploads {
        /// Prefix of the upload records.
        prefix: String,
        /// `startAfter`.
        start_after: Option<String>,
        /// `limit` (1..=1000).
        limit: u32,
    },
}

/// Bookkeeping to do after a successful binding call ([`R2Plan::records`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum R2Records {
    /// `put(key, "", { customMetadata: custom })`: an upload's or a part's record. If it fails
    /// the request fails (the client retries; a retried part replaces its record).
    Put {
        /// R2 key of the record.
        key: String,
        /// Its `customMetadata`.
        custom: Vec<(String, String)>,
    },
    /// `delete(keys)`, then every key under `prefix` (`list` pages of 1000, each deleted):
    /// an upload's records after Complete or Abort. Best effort: failures are only logged.
    Clean {
        /// Keys to delete.
        keys: Vec<String>,
        /// Prefix to empty.
        prefix: String,
    },
}

/// An R2 object's metadata as the runtime read it from an `R2Object` / `R2ObjectBody`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct R2Object {
    /// R2 key.
    pub key: String,
    /// `size`.
    pub size: u64,
    /// `etag` (unquoted).
    pub etag: String,
    /// `httpEtag` (quoted); may be empty, then `etag` is quoted.
    pub http_etag: String,
    /// `uploaded`, milliseconds since the epoch.
    pub uploaded_ms: i64,
    /// `httpMetadata`.
    pub http: HttpMetadata,
    /// `customMetadata`.
    pub custom: Vec<(String, String)>,
    /// The resolved byte range R2 returned (offset, length), if the runtime knows it; None lets
    /// `respond` resolve the requested range against `size`.
    pub range: Option<(u64, u64)>,
}

/// An `R2Objects` listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct R2Listing {
    /// `objects`.
    pub objects: Vec<R2Object>,
    /// `delimitedPrefixes`.
    pub delimited_prefixes: Vec<String>,
    /// `truncated`.
    pub truncated: bool,
    /// `cursor` (when truncated).
    pub cursor: Option<String>,
}

/// What the binding call gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum R2Outcome {
    /// `get`/`head` returned an object; `has_body` false when it came without one.
    Object {
        /// Its metadata.
        meta: R2Object,
        /// Whether R2 returned a body (a `get` whose conditions held).
        has_body: bool,
    },
    /// `get`/`head` returned `null` (or a copy's source was `null`).
    Missing,
    /// `list` result.
    Listing(R2Listing),
    /// `delete` done.
    Deleted,
    /// `put` (or the put of a copy) done.
    Put(R2Object),
    /// `put` returned `null` (its `onlyIf` failed), or a copy source came without a body.
    PreconditionFailed,
    /// `createMultipartUpload` done.
    Upload {
        /// `uploadId`.
        upload_id: String,
    },
    /// `uploadPart` done (also for an UploadPartCopy).
    Part {
        /// The part's `etag`.
        etag: String,
        /// Bytes written to the part.
        size: u64,
    },
    /// UploadPartCopy: `x-amz-copy-source-range` ends past the source, of this size.
    InvalidCopyRange {
        /// The source's size.
        size: u64,
    },
    /// `complete` done.
    Completed(R2Object),
    /// `abort` done.
    Aborted,
}

/// What to do for a request on an R2 bucket: one binding call, then [`R2Plan::respond`].
#[derive(Debug)]
pub struct R2Plan {
    /// Name of the binding (`env[binding]`).
    pub binding: String,
    /// The call.
    pub call: R2Call,
    /// What to do with the client's body (PutObject, UploadPart): pass the resulting stream to
    /// R2 (wrapped to `content_length`).
    pub body: ForwardBody,
    /// Length of the body R2 receives, after aws-chunked decoding.
    pub content_length: Option<u64>,
    /// `x-amz-request-id` of this request.
    pub request_id: String,
    render: Render,
    /// CORS headers for every answer (set by the gateway for buckets with CORS rules).
    pub(crate) cors: Option<CorsHeaders>,
    /// A path-mapped bucket: its XML answers are rendered in the config bucket's namespace,
    /// then mapped into the client's (see [`crate::pathmap`]).
    namespace: Option<Namespace>,
    /// A POST Object upload: how its success is answered.
    pub(crate) post: Option<PostAnswer>,
}

/// The client's namespace of a path-mapped R2 bucket.
#[derive(Debug)]
struct Namespace {
    /// Renames the bucket and puts the product in front of keys.
    rewrite: XmlRewrite,
    /// DeleteObjects keys refused by the gateway, already in the client's namespace.
    delete_errors: Vec<(String, &'static str, String)>,
}

/// What `respond` needs beyond the call.
#[derive(Debug, Default)]
struct Render {
    method: Method,
    /// `/bucket/key` for error documents.
    resource: String,
    client_bucket: String,
    /// The key as the client named it.
    client_key: String,
    /// The bucket's backend prefix.
    prefix: String,
    /// Requested range (GET and HEAD).
    range: Option<R2Range>,
    /// `response-*` overrides (GET).
    overrides: Vec<(HeaderName, String)>,
    list: Option<ListEcho>,
    delete: Option<DeleteEcho>,
    /// The request's time (UploadPartCopy's `LastModified`).
    now: Timestamp,
    /// ListParts parameters.
    parts: Option<records::PartsEcho>,
    /// ListMultipartUploads parameters.
    uploads: Option<records::UploadsEcho>,
    /// UploadPart's `x-amz-checksum-*` header `(algorithm, value)`, kept in its record.
    checksum: Option<(String, String)>,
}

/// The request's listing parameters, echoed in the result.
#[derive(Debug, Default)]
struct ListEcho {
    prefix: String,
    delimiter: Option<String>,
    max_keys: u32,
    url: bool,
    /// V1 `marker` / V2 `start-after`, client namespace.
    start_after: Option<String>,
    continuation_token: Option<String>,
}

#[derive(Debug, Default)]
struct DeleteEcho {
    quiet: bool,
    /// Allowed keys, client namespace.
    keys: Vec<String>,
    /// Refused keys.
    errors: Vec<(String, &'static str, String)>,
}

/// Most keys a listing returns (S3's and R2's cap).
const MAX_KEYS: u32 = 1000;

/// Everything the gateway hands over once a request on an R2 bucket is authorized.
pub(crate) struct R2Input<'a> {
    pub head: &'a RequestHead,
    pub req: &'a S3Request,
    pub authed: &'a Authenticated,
    pub bucket: &'a BucketConfig,
    pub binding: &'a str,
    pub client_bucket: &'a str,
    pub prefix: &'a str,
    pub resource: String,
    pub ctx: &'a RequestContext,
    pub body: Option<Bytes>,
    /// CopyObject: the source's R2 key (same binding, already authorized).
    pub copy_source: Option<String>,
    /// A path-mapped bucket: how the client names it and its keys.
    pub view: Option<&'a ClientView>,
}

/// Plans a request on an R2 bucket.
pub(crate) fn plan(input: R2Input<'_>) -> Result<Plan, S3Error> {
    let R2Input {
        head,
        req,
        authed,
        bucket,
        binding,
        client_bucket,
        prefix,
        resource,
        ctx,
        body,
        copy_source,
        view,
    } = input;
    let mut namespace_errors = Vec::new();
    let h = &head.headers;
    let client_key = req.key.clone().unwrap_or_default();
    let key = format!("{prefix}{client_key}");
    let mut render = Render {
        method: head.method.clone(),
        resource: resource.clone(),
        client_bucket: client_bucket.to_string(),
        client_key: client_key.clone(),
        prefix: prefix.to_string(),
        now: ctx.now,
        ..Render::default()
    };
    // The gateway's records are not the client's (a copy's source is checked by the gateway).
    if is_reserved(&client_key) {
        return Err(reserved_key_error());
    }
    let mut upload = None;
    let call = match req.operation {
        Operation::GetObject | Operation::HeadObject => {
            check_version(req)?;
            if req
                .query_param("partNumber")
                .is_some_and(|n| n.trim() != "1")
            {
                return Err(S3Error::not_implemented(
                    "R2 buckets cannot read a single part of an object (partNumber other than 1)",
                ));
            }
            let range = match header_str(h, "range") {
                Some(r) => parse_range(&r)?,
                None => None,
            };
            render.range = range;
            let conditions = conditions(h, "");
            if req.operation == Operation::GetObject {
                render.overrides = overrides(req, &authed.identity)?;
                R2Call::Get {
                    key,
                    range,
                    conditions,
                }
            } else {
                R2Call::Head { key, conditions }
            }
        }
        Operation::PutObject => {
            upload = Some(upload_body(head, authed)?);
            let (http, custom) = metadata(h);
            R2Call::Put {
                key,
                http,
                custom,
                md5: content_md5(h)?,
                conditions: conditions(h, ""),
            }
        }
        Operation::CopyObject => {
            let source_key = copy_source.ok_or_else(|| {
                S3Error::internal("a copy to an R2 bucket was planned without its source")
            })?;
            let replace = header_str(h, "x-amz-metadata-directive")
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("REPLACE"));
            if !replace && source_key == key {
                return Err(S3Error::invalid_request(
                    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                ));
            }
            R2Call::Copy {
                source_key,
                key,
                replace: replace.then(|| metadata(h)),
                source_conditions: conditions(h, "x-amz-copy-source-"),
            }
        }
        Operation::DeleteObject => {
            check_version(req)?;
            R2Call::Delete { keys: vec![key] }
        }
        Operation::DeleteObjects => {
            let Some(body) = body else {
                return Ok(Plan::NeedBody {
                    limit: MAX_DELETE_BODY,
                });
            };
            let mut set = authorized_deletes(
                head,
                &authed.payload,
                &authed.identity,
                bucket,
                client_bucket,
                &body,
                view.map_or("", |v| v.key_prefix.as_str()),
            )?;
            let (refused, allowed): (Vec<_>, Vec<_>) =
                set.allowed.into_iter().partition(|(k, _)| is_reserved(k));
            set.allowed = allowed;
            for (k, _) in refused {
                let err = reserved_key_error();
                set.errors.push((k, "InvalidArgument", err.message));
            }
            // R2 has no versions: deleting one by id would delete the live object.
            let (versioned, allowed): (Vec<_>, Vec<_>) = set
                .allowed
                .into_iter()
                .partition(|(_, v)| v.as_deref().is_some_and(|v| v != "null"));
            set.allowed = allowed;
            for (k, _) in versioned {
                let message = "R2 buckets are not versioned: only versionId=null can be deleted";
                let k = format!("{}{k}", view.map_or("", |v| v.key_prefix.as_str()));
                set.errors.push((k, "NotImplemented", message.to_string()));
            }
            let keys: Vec<String> = set
                .allowed
                .iter()
                .map(|(k, _)| format!("{prefix}{k}"))
                .collect();
            let mut echo = DeleteEcho {
                quiet: set.quiet,
                keys: set.allowed.into_iter().map(|(k, _)| k).collect(),
                errors: set.errors,
            };
            if view.is_some() && !keys.is_empty() {
                // In the client's namespace already: added after the rewrite.
                namespace_errors = std::mem::take(&mut echo.errors);
            }
            if keys.is_empty() {
                render.delete = Some(echo);
                return Ok(Plan::Respond(delete_result(&render, &ctx.request_id)));
            }
            render.delete = Some(echo);
            R2Call::Delete { keys }
        }
        Operation::ListObjects | Operation::ListObjectsV2 => {
            let v2 = req.operation == Operation::ListObjectsV2;
            let (call, echo) = list_call(req, prefix, v2)?;
            render.list = Some(echo);
            match call {
                Some(call) => call,
                // max-keys=0: nothing to ask R2.
                None => {
                    return Ok(Plan::Respond(listing_response(
                        &render,
                        &R2Listing::default(),
                        v2,
                        &ctx.request_id,
                    )))
                }
            }
        }
        Operation::CreateMultipartUpload => {
            let (http, custom) = metadata(h);
            R2Call::CreateMultipart { key, http, custom }
        }
        Operation::UploadPart => {
            let part_number = part_number(req)?;
            upload = Some(upload_body(head, authed)?);
            render.checksum = header_checksum(h);
            R2Call::UploadPart {
                key,
                upload_id: upload_id(req)?,
                part_number,
            }
        }
        Operation::UploadPartCopy => {
            let source_key = copy_source.ok_or_else(|| {
                S3Error::internal("a part copy on an R2 bucket was planned without its source")
            })?;
            R2Call::UploadPartCopy {
                source_key,
                key,
                upload_id: upload_id(req)?,
                part_number: part_number(req)?,
                range: match header_str(h, "x-amz-copy-source-range") {
                    Some(r) => Some(parse_copy_range(&r)?),
                    None => None,
                },
                source_conditions: conditions(h, "x-amz-copy-source-"),
            }
        }
        Operation::CompleteMultipartUpload => {
            let upload_id = upload_id(req)?;
            let Some(body) = body else {
                return Ok(Plan::NeedBody {
                    limit: MAX_COMPLETE_BODY,
                });
            };
            check_small_body(h, &authed.payload, &body)?;
            let all = conditions(h, "");
            R2Call::CompleteMultipart {
                key,
                upload_id,
                parts: xml::parse_complete(&body)?,
                conditions: Conditions {
                    if_match: all.if_match,
                    if_none_match: all.if_none_match,
                    ..Conditions::default()
                },
            }
        }
        Operation::AbortMultipartUpload => R2Call::AbortMultipart {
            key,
            upload_id: upload_id(req)?,
        },
        Operation::ListParts => {
            let upload_id = upload_id(req)?;
            let (start_after, limit, echo) = records::list_parts_params(req, prefix, &upload_id)?;
            render.parts = Some(echo);
            R2Call::ListParts {
                upload_record: records::upload_record(prefix, &client_key, &upload_id),
                parts_prefix: records::parts_prefix(prefix, &upload_id),
                start_after,
                limit,
            }
        }
        Operation::ListMultipartUploads => {
            let (call, echo) = records::list_uploads_params(req, prefix)?;
            let Some((list_prefix, start_after, limit)) = call else {
                return Ok(Plan::Respond(records::list_uploads_response(
                    client_bucket,
                    prefix,
                    &echo,
                    &R2Listing::default(),
                    &ctx.request_id,
                )));
            };
            render.uploads = Some(echo);
            R2Call::ListUploads {
                prefix: list_prefix,
                start_after,
                limit,
            }
        }
        other => {
            return Err(S3Error::not_implemented(format!(
                "{other:?} is not available on R2 buckets"
            )))
        }
    };
    let (body, content_length) = match upload {
        Some((body, len)) => (body, Some(len)),
        None => (ForwardBody::Empty, None),
    };
    Ok(Plan::R2(Box::new(R2Plan {
        binding: binding.to_string(),
        call,
        body,
        content_length,
        request_id: ctx.request_id.clone(),
        namespace: view.map(|v| Namespace {
            rewrite: XmlRewrite {
                client_bucket: v.bucket.clone(),
                strip_prefix: String::new(),
                // Keys are rendered already encoded when the client asked for it.
                add_prefix: match render.list.as_ref().is_some_and(|l| l.url) {
                    true => url_encode_key(&v.key_prefix),
                    false => v.key_prefix.clone(),
                },
                url_encoded: false,
                // R2 listings are rendered already encoded (their v1 `Prefix` echo too).
                list_v1: false,
            },
            delete_errors: namespace_errors,
        }),
        render,
        cors: None,
        post: None,
    })))
}

/// R2 has no versions: only the `null` version exists.
fn check_version(req: &S3Request) -> Result<(), S3Error> {
    match req.query_param("versionId") {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::not_implemented(
            "R2 buckets are not versioned: only versionId=null can be read or deleted",
        )),
    }
}

fn part_number(req: &S3Request) -> Result<u16, S3Error> {
    req.query_param("partNumber")
        .and_then(|n| n.trim().parse::<u16>().ok())
        .filter(|n| (1..=xml::MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_detail("ArgumentName", "partNumber")
        })
}

/// `x-amz-copy-source-range: bytes=first-last` as `(offset, length)`; anything else is S3's
/// `InvalidArgument`.
pub(crate) fn parse_copy_range(value: &str) -> Result<(u64, u64), S3Error> {
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
        .and_then(|(a, b)| Some((num(a)?, num(b)?)))
        .filter(|(a, b)| b >= a)
        .map(|(a, b)| (a, b - a + 1))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            )
            .with_detail("ArgumentName", "x-amz-copy-source-range")
            .with_detail("ArgumentValue", value)
        })
}

fn upload_id(req: &S3Request) -> Result<String, S3Error> {
    match req.query_param("uploadId") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(S3Error::invalid_argument("the uploadId parameter is empty")),
    }
}

/// The `x-amz-checksum-*` header of an upload as `(algorithm, value)`, if any.
fn header_checksum(h: &HeaderMap) -> Option<(String, String)> {
    ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]
        .into_iter()
        .find_map(|alg| {
            header_str(h, &format!("x-amz-checksum-{alg}")).map(|v| (alg.to_string(), v))
        })
}

/// The body of an upload and the length R2 receives, chosen as the S3 path chooses it.
/// The upload's body plan, with its `x-amz-checksum-*` header verified by the gateway (the R2
/// binding checks no CRCs).
pub(crate) fn upload_body(
    head: &RequestHead,
    authed: &Authenticated,
) -> Result<(ForwardBody, u64), S3Error> {
    let (body, length) = upload_body_framing(head, authed)?;
    Ok((body.with_header_checksum(&head.headers)?, length))
}

fn upload_body_framing(
    head: &RequestHead,
    authed: &Authenticated,
) -> Result<(ForwardBody, u64), S3Error> {
    let h = &head.headers;
    match (
        &authed.payload,
        UploadLength::from_headers(h, &authed.payload)?,
    ) {
        (PayloadMode::Sha256(hash), UploadLength::Plain(wire)) => {
            Ok((ForwardBody::Verify(PayloadVerifier::new(*hash, wire)), wire))
        }
        (PayloadMode::Unsigned, UploadLength::Plain(wire)) => Ok((ForwardBody::Stream, wire)),
        (PayloadMode::StreamingUnsignedTrailer, UploadLength::Chunked { decoded, .. }) => Ok((
            ForwardBody::Decode(
                SignedChunkDecoder::unsigned(decoded)
                    .with_trailer_checksum(crate::checksum::trailer_algorithm(h)?),
            ),
            decoded,
        )),
        (PayloadMode::StreamingSigned { trailer }, UploadLength::Chunked { decoded, .. }) => {
            let signing = authed.chunk_signing.clone().ok_or_else(|| {
                S3Error::internal("a signed aws-chunked upload came without its signing context")
            })?;
            Ok((
                ForwardBody::Decode(
                    SignedChunkDecoder::new(signing, *trailer, decoded)
                        .with_trailer_checksum(crate::checksum::trailer_algorithm(h)?),
                ),
                decoded,
            ))
        }
        _ => Err(S3Error::internal(
            "an upload's length does not fit its payload mode",
        )),
    }
}

/// A header as text: UTF-8 when it is, else None.
fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .map(str::to_string)
}

/// `Range: bytes=a-b | a- | -n`. Malformed or multiple ranges are ignored (the whole object),
/// as S3 does; `bytes=-0` and `b < a` cannot be satisfied.
pub(crate) fn parse_range(value: &str) -> Result<Option<R2Range>, S3Error> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let unsatisfiable = || {
        S3Error::new(
            ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ok(None),
        (true, false) => match num(b) {
            Some(0) => Err(unsatisfiable()),
            Some(n) => Ok(Some(R2Range::Suffix(n))),
            None => Ok(None),
        },
        (false, true) => Ok(num(a).map(|offset| R2Range::Bounded {
            offset,
            length: None,
        })),
        (false, false) => match (num(a), num(b)) {
            (Some(a), Some(b)) if b >= a => Ok(Some(R2Range::Bounded {
                offset: a,
                length: Some(b - a + 1),
            })),
            _ => Ok(None),
        },
    }
}

/// ETags of an `If-Match` / `If-None-Match` value, quotes and `W/` removed.
fn etag_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.trim_matches('"').to_string()
        })
        .collect()
}

/// The conditions of `If-*` headers (`prefix` `x-amz-copy-source-` for a copy's source), with
/// S3's precedence applied. Unparseable dates are ignored, as S3 ignores them.
pub(crate) fn conditions(h: &HeaderMap, prefix: &str) -> Conditions {
    let get = |n: &str| header_str(h, &format!("{prefix}{n}"));
    let date = |n: &str| {
        get(n)
            .and_then(|v| Timestamp::parse_http_date(v.trim()))
            .map(|t| t.0.saturating_mul(1000))
    };
    let if_match = get("if-match").map(|v| etag_list(&v)).unwrap_or_default();
    let if_none_match = get("if-none-match")
        .map(|v| etag_list(&v))
        .unwrap_or_default();
    Conditions {
        if_unmodified_since: if if_match.is_empty() {
            date("if-unmodified-since")
        } else {
            None
        },
        if_modified_since: if if_none_match.is_empty() {
            date("if-modified-since")
        } else {
            None
        },
        if_match,
        if_none_match,
    }
}

impl Conditions {
    /// Whether a write may replace `existing` under these conditions (a write's 304 is a 412).
    pub fn hold_for_write(&self, existing: &R2Object) -> bool {
        evaluate(self, existing).is_none()
    }
}

/// Which condition failed, if any: `(status, header)` with 412 or 304. S3's order: If-Match,
/// If-Unmodified-Since (412), then If-None-Match, If-Modified-Since (304; 412 for writes).
fn evaluate(c: &Conditions, meta: &R2Object) -> Option<(StatusCode, &'static str)> {
    let etag = meta.etag.trim_matches('"');
    let matches = |list: &[String]| list.iter().any(|e| e == "*" || e == etag);
    let secs = meta.uploaded_ms.div_euclid(1000);
    if !c.if_match.is_empty() && !matches(&c.if_match) {
        return Some((StatusCode::PRECONDITION_FAILED, "If-Match"));
    }
    if c.if_unmodified_since
        .is_some_and(|t| secs > t.div_euclid(1000))
    {
        return Some((StatusCode::PRECONDITION_FAILED, "If-Unmodified-Since"));
    }
    if !c.if_none_match.is_empty() && matches(&c.if_none_match) {
        return Some((StatusCode::NOT_MODIFIED, "If-None-Match"));
    }
    if c.if_modified_since
        .is_some_and(|t| secs <= t.div_euclid(1000))
    {
        return Some((StatusCode::NOT_MODIFIED, "If-Modified-Since"));
    }
    None
}

/// HTTP metadata and `x-amz-meta-*` of an upload.
pub(crate) fn metadata(h: &HeaderMap) -> (HttpMetadata, Vec<(String, String)>) {
    let get = |n: &str| header_str(h, n).filter(|v| !v.is_empty());
    let content_encoding = get("content-encoding").and_then(|v| {
        let rest: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!rest.is_empty()).then(|| rest.join(", "))
    });
    let http = HttpMetadata {
        content_type: get("content-type"),
        content_language: get("content-language"),
        content_disposition: get("content-disposition"),
        content_encoding,
        cache_control: get("cache-control"),
        expires: get("expires")
            .and_then(|v| Timestamp::parse_http_date(v.trim()))
            .map(|t| t.0.saturating_mul(1000)),
    };
    let mut custom: Vec<(String, String)> = Vec::new();
    for (name, value) in h {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match custom.iter_mut().find(|(k, _)| k == n) {
                // Repeated headers join as HTTP joins them.
                Some((_, prev)) => {
                    prev.push(',');
                    prev.push_str(&v);
                }
                None => custom.push((n.to_ascii_lowercase(), v)),
            }
        }
    }
    (http, custom)
}

/// `Content-MD5` (base64) as hex; `InvalidDigest` when it is not 16 bytes of base64.
fn content_md5(h: &HeaderMap) -> Result<Option<String>, S3Error> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(v.as_bytes())
        .ok()
        .filter(|d| d.len() == 16)
        .map(|d| Some(hex::encode(d)))
        .ok_or_else(|| {
            S3Error::new(
                ErrorCode::InvalidDigest,
                "The Content-MD5 you specified is not valid",
            )
        })
}

/// `response-*` query overrides of a GET; S3 refuses them on anonymous requests.
pub(crate) fn overrides(
    req: &S3Request,
    identity: &Identity,
) -> Result<Vec<(HeaderName, String)>, S3Error> {
    const PARAMS: [(&str, HeaderName); 6] = [
        ("response-content-type", http::header::CONTENT_TYPE),
        ("response-content-language", http::header::CONTENT_LANGUAGE),
        ("response-expires", http::header::EXPIRES),
        ("response-cache-control", http::header::CACHE_CONTROL),
        (
            "response-content-disposition",
            http::header::CONTENT_DISPOSITION,
        ),
        ("response-content-encoding", http::header::CONTENT_ENCODING),
    ];
    let mut out = Vec::new();
    for (param, header) in PARAMS {
        if let Some(v) = req.query_param(param) {
            out.push((header, v.to_string()));
        }
    }
    if !out.is_empty() && matches!(identity, Identity::Anonymous) {
        return Err(S3Error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    Ok(out)
}

/// The R2 `list` call of a ListObjects(V2) request; None when `max-keys=0`.
fn list_call(
    req: &S3Request,
    prefix: &str,
    v2: bool,
) -> Result<(Option<R2Call>, ListEcho), S3Error> {
    let max_keys = records::int_param(req, "max-keys", MAX_KEYS, MAX_KEYS)?;
    let client_prefix = req.query_param("prefix").unwrap_or("").to_string();
    let delimiter = req
        .query_param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let url = match req.query_param("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => {
            return Err(
                S3Error::invalid_argument("Invalid Encoding Method specified in Request")
                    .with_detail("ArgumentName", "encoding-type"),
            )
        }
    };
    let token = if v2 {
        req.query_param("continuation-token").map(str::to_string)
    } else {
        None
    };
    let mut cursor = match &token {
        Some(t) => Some(unwrap_token(t)?),
        None => None,
    };
    // Our own token (a listing that skipped the gateway's records): a start-after key.
    let jump = cursor
        .as_deref()
        .and_then(|c| c.strip_prefix(JUMP))
        .map(str::to_string);
    if jump.is_some() {
        cursor = None;
    }
    let start_after = if v2 {
        req.query_param("start-after")
    } else {
        req.query_param("marker")
    }
    .filter(|s| !s.is_empty())
    .map(str::to_string);
    let echo = ListEcho {
        prefix: client_prefix.clone(),
        delimiter: delimiter.clone(),
        max_keys,
        url,
        start_after: start_after.clone(),
        continuation_token: token,
    };
    if max_keys == 0 {
        return Ok((None, echo));
    }
    // A cursor supersedes start-after, as a continuation token does in S3.
    let r2_start_after = if cursor.is_some() {
        None
    } else if jump.is_some() {
        jump
    } else {
        start_after.map(|m| {
            let mut m = format!("{prefix}{m}");
            // A V1 NextMarker that is a common prefix: continue after everything under it, as
            // S3 does (R2 would roll the following keys up into the same prefix again).
            if !v2 && delimiter.as_deref().is_some_and(|d| m.ends_with(d)) {
                m.push(char::MAX);
            }
            m
        })
    };
    Ok((
        Some(R2Call::List {
            prefix: format!("{prefix}{client_prefix}"),
            delimiter,
            cursor,
            start_after: r2_start_after,
            limit: max_keys,
            v2,
        }),
        echo,
    ))
}

/// A listing the gateway answers itself from sorted common prefixes (an account's products,
/// under path mapping), paged as R2 listings are: `max-keys`, `start-after` / `marker` and
/// continuation tokens (the last prefix returned, wrapped).
pub(crate) fn prefixes_listing(
    req: &S3Request,
    client_bucket: &str,
    entries: &[String],
    request_id: &str,
) -> Result<Response<Bytes>, S3Error> {
    let v2 = req.operation == Operation::ListObjectsV2;
    let (call, echo) = list_call(req, "", v2)?;
    let mut listing = R2Listing::default();
    if let Some(R2Call::List {
        cursor,
        start_after,
        limit,
        ..
    }) = call
    {
        let after = cursor.or(start_after);
        let mut rest = entries
            .iter()
            .filter(|e| after.as_deref().is_none_or(|a| e.as_str() > a));
        listing.delimited_prefixes = rest.by_ref().take(limit as usize).cloned().collect();
        listing.truncated = rest.next().is_some();
        if listing.truncated {
            listing.cursor = listing.delimited_prefixes.last().cloned();
        }
    }
    let render = Render {
        client_bucket: client_bucket.to_string(),
        list: Some(echo),
        ..Render::default()
    };
    Ok(listing_response(&render, &listing, v2, request_id))
}

/// Starts a continuation token that holds an R2 `startAfter` key instead of R2's cursor.
const JUMP: char = '\u{0}';

/// A V2 continuation token: R2's cursor, base64url so clients treat it as opaque.
fn wrap_cursor(cursor: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor.as_bytes())
}

fn unwrap_token(token: &str) -> Result<String, S3Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('=').as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument("The continuation token provided is incorrect")
                .with_detail("ArgumentName", "continuation-token")
        })
}

/// `2024-01-02T03:04:05.678Z`.
fn iso8601_ms(ms: i64) -> String {
    let base = Timestamp(ms.div_euclid(1000)).iso8601();
    match base.strip_suffix(".000Z") {
        Some(b) => format!("{b}.{:03}Z", ms.rem_euclid(1000)),
        None => base,
    }
}

pub(crate) fn quoted_etag(meta: &R2Object) -> String {
    if meta.http_etag.starts_with('"') {
        meta.http_etag.clone()
    } else {
        format!("\"{}\"", meta.etag.trim_matches('"'))
    }
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
        h.insert(name, v);
    }
}

fn base_response(status: StatusCode, body: Bytes, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

fn xml_response(status: StatusCode, doc: String, request_id: &str) -> Response<Bytes> {
    let mut resp = base_response(status, Bytes::from(doc), request_id);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// The `<DeleteResult>` of a DeleteObjects.
fn delete_result(render: &Render, request_id: &str) -> Response<Bytes> {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{S3_NS}\">");
    if let Some(d) = &render.delete {
        if !d.quiet {
            for k in &d.keys {
                out.push_str("<Deleted><Key>");
                push_escaped(&mut out, k);
                out.push_str("</Key></Deleted>");
            }
        }
        out.push_str(&xml::delete_errors_xml(&d.errors));
    }
    out.push_str("</DeleteResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// A ListBucketResult (V1 or V2) in the client's namespace.
fn listing_response(
    render: &Render,
    listing: &R2Listing,
    v2: bool,
    request_id: &str,
) -> Response<Bytes> {
    let default = ListEcho::default();
    let echo = render.list.as_ref().unwrap_or(&default);
    let enc = |s: &str| {
        if echo.url {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let prefix = render.prefix.as_str();
    // Keys outside the backend prefix, its own folder marker and the gateway's records are not
    // the client's.
    let objects: Vec<(&str, &R2Object)> = listing
        .objects
        .iter()
        .filter_map(|o| o.key.strip_prefix(prefix).map(|k| (k, o)))
        .filter(|(k, _)| (!k.is_empty() || prefix.is_empty()) && !is_reserved(k))
        .collect();
    let prefixes: Vec<&str> = listing
        .delimited_prefixes
        .iter()
        .filter_map(|p| p.strip_prefix(prefix))
        .filter(|p| !p.is_empty() && !is_reserved(p))
        .collect();
    // A truncated page that ended among the records: continue after all of them rather than
    // page through records the client never sees.
    let last_r2 = listing
        .objects
        .last()
        .map(|o| o.key.as_str())
        .max(listing.delimited_prefixes.last().map(String::as_str));
    let skip_records = listing.truncated
        && last_r2
            .and_then(|k| k.strip_prefix(prefix))
            .is_some_and(is_reserved);
    let past_records = format!("{RESERVED}{}", char::MAX);
    let mut out = String::with_capacity(512 + objects.len() * 256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"");
    out.push_str(S3_NS);
    out.push_str("\"><Name>");
    push_escaped(&mut out, &render.client_bucket);
    out.push_str("</Name>");
    if echo.url {
        out.push_str("<EncodingType>url</EncodingType>");
    }
    let leaf = |out: &mut String, name: &str, value: &str| {
        out.push('<');
        out.push_str(name);
        out.push('>');
        push_escaped(out, value);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    };
    leaf(&mut out, "Prefix", &enc(&echo.prefix));
    if v2 {
        if let Some(t) = &echo.continuation_token {
            leaf(&mut out, "ContinuationToken", t);
        }
        if let Some(s) = &echo.start_after {
            leaf(&mut out, "StartAfter", &enc(s));
        }
        leaf(
            &mut out,
            "KeyCount",
            &(objects.len() + prefixes.len()).to_string(),
        );
    } else {
        leaf(
            &mut out,
            "Marker",
            &enc(echo.start_after.as_deref().unwrap_or("")),
        );
    }
    leaf(&mut out, "MaxKeys", &echo.max_keys.to_string());
    if let Some(d) = &echo.delimiter {
        leaf(&mut out, "Delimiter", &enc(d));
    }
    leaf(
        &mut out,
        "IsTruncated",
        if listing.truncated { "true" } else { "false" },
    );
    if skip_records {
        if v2 {
            let token = format!("{JUMP}{prefix}{past_records}");
            leaf(&mut out, "NextContinuationToken", &wrap_cursor(&token));
        } else {
            leaf(&mut out, "NextMarker", &enc(&past_records));
        }
    } else if listing.truncated {
        if v2 {
            if let Some(c) = listing.cursor.as_deref().filter(|c| !c.is_empty()) {
                leaf(&mut out, "NextContinuationToken", &wrap_cursor(c));
            }
        } else if echo.delimiter.is_some() {
            let last_key = objects.last().map(|(k, _)| *k);
            let last_prefix = prefixes.last().copied();
            if let Some(next) = last_key.max(last_prefix) {
                leaf(&mut out, "NextMarker", &enc(next));
            }
        }
    }
    for (key, o) in &objects {
        out.push_str("<Contents>");
        leaf(&mut out, "Key", &enc(key));
        leaf(&mut out, "LastModified", &iso8601_ms(o.uploaded_ms));
        leaf(&mut out, "ETag", &quoted_etag(o));
        leaf(&mut out, "Size", &o.size.to_string());
        out.push_str("<StorageClass>STANDARD</StorageClass></Contents>");
    }
    for p in &prefixes {
        out.push_str("<CommonPrefixes>");
        leaf(&mut out, "Prefix", &enc(p));
        out.push_str("</CommonPrefixes>");
    }
    out.push_str("</ListBucketResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// Maps the text of an exception thrown by the binding (`get: Precondition Failed (10031)`) to
/// an S3 code; None when it is not one we recognize.
fn r2_error_code(message: &str) -> Option<ErrorCode> {
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
        let rid = self.request_id.as_str();
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
            (R2Call::Delete { .. }, R2Outcome::Deleted) => match &self.render.delete {
                Some(_) => delete_result(&self.render, rid),
                None => base_response(StatusCode::NO_CONTENT, Bytes::new(), rid),
            },
            (R2Call::List { v2, .. }, R2Outcome::Listing(listing)) => {
                listing_response(&self.render, &listing, *v2, rid)
            }
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
            (call, outcome) => {
                log::warn!(
                    "request {rid}: the runtime answered {outcome:?} to an R2 {}",
                    call_name(call)
                );
                self.error(S3Error::internal(format!(
                    "the runtime gave an answer that does not fit an R2 {} call",
                    call_name(call)
                )))
            }
        }
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
            (None, Some(R2Range::Suffix(n))) => Some((size.saturating_sub(n), n.min(size))),
            (None, Some(R2Range::Bounded { offset, length })) => {
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
        metadata_headers(h, meta);
        for (name, value) in &self.render.overrides {
            set(h, name.clone(), value);
        }
        resp
    }
}

/// An object's content headers and `x-amz-meta-*`, as GET answers them.
pub(crate) fn metadata_headers(h: &mut HeaderMap, meta: &R2Object) {
    let m = &meta.http;
    set(
        h,
        http::header::CONTENT_TYPE,
        m.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, value) in [
        (http::header::CONTENT_LANGUAGE, &m.content_language),
        (http::header::CONTENT_DISPOSITION, &m.content_disposition),
        (http::header::CONTENT_ENCODING, &m.content_encoding),
        (http::header::CACHE_CONTROL, &m.cache_control),
    ] {
        if let Some(v) = value {
            set(h, name, v);
        }
    }
    if let Some(ms) = m.expires {
        set(
            h,
            http::header::EXPIRES,
            &Timestamp(ms.div_euclid(1000)).http_date(),
        );
    }
    for (name, value) in &meta.custom {
        if let Ok(n) = HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()) {
            set(h, n, value);
        }
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
