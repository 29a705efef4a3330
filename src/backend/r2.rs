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

use http::{HeaderName, Method, StatusCode};

use crate::cors::CorsHeaders;
use crate::plan::ForwardBody;
use crate::post::PostAnswer;
use crate::s3::xml::XmlRewrite;
use crate::time::Timestamp;

mod listing;
mod plan;
mod records;
mod respond;
#[cfg(test)]
mod tests;
mod wire;

pub use crate::s3::conditions::Conditions;
pub use crate::s3::metadata::HttpMetadata;
pub use crate::s3::ranges::ByteRange as R2Range;
pub(crate) use listing::prefixes_listing;
pub(crate) use plan::plan_bucket;
pub(crate) use records::{is_reserved, reserved_key_error, RESERVED};
pub(crate) use wire::quoted_etag;

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

impl Conditions {
    /// Whether a write may replace `existing` under these conditions (a write's 304 is a 412).
    pub fn hold_for_write(&self, existing: &R2Object) -> bool {
        evaluate(self, existing).is_none()
    }
}

/// Which condition fails for `meta`, if any (see [`Conditions::failed`]).
fn evaluate(c: &Conditions, meta: &R2Object) -> Option<(StatusCode, &'static str)> {
    c.failed(&meta.etag, meta.uploaded_ms)
}
