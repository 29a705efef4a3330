//! Parsing a request head into an [`S3Request`]: bucket and key (path style or virtual-hosted),
//! the decoded query, and the [`Operation`].
//!
//! Keys are byte-faithful: routing uses the percent-decoded path, while SigV4 verification uses
//! the raw target exactly as received (kept in [`S3Request::raw_path`] / [`S3Request::raw_query`]).
//! Sub-resources we do not implement are refused with `NotImplemented`, never misrouted.

use http::{HeaderMap, Method};

use super::error::{ErrorCode, S3Error};

mod classify;
mod names;
mod route;

pub(crate) use classify::*;
pub(crate) use names::*;
pub(crate) use route::*;

/// What the runtime hands the core: everything but the body.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// HTTP method.
    pub method: Method,
    /// The request target exactly as received: raw path plus `?query`, never re-encoded.
    pub target: String,
    /// Request headers (including `host`).
    pub headers: HeaderMap,
}

/// The S3 operations the gateway knows. Anything else is `NotImplemented`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // variants are the S3 API names
pub enum Operation {
    ListBuckets,
    HeadBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    CreateBucket,
    DeleteBucket,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    DeleteObject,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    /// `GET /bucket/key?tagging`.
    GetObjectTagging,
    /// `PUT /bucket/key?tagging` with a `<Tagging>` body.
    PutObjectTagging,
    /// `DELETE /bucket/key?tagging`.
    DeleteObjectTagging,
    /// `GET /bucket/key?attributes` (what to return in `x-amz-object-attributes`).
    GetObjectAttributes,
    /// A browser form upload (`POST /bucket` with `multipart/form-data`).
    PostObject,
    /// `GET /bucket?versions`.
    ListObjectVersions,
    /// `GET /bucket?versioning`.
    GetBucketVersioning,
    /// `PUT /bucket?versioning` with a `<VersioningConfiguration>` body.
    PutBucketVersioning,
    /// `GET /bucket/key?retention`.
    GetObjectRetention,
    /// `PUT /bucket/key?retention` with a `<Retention>` body.
    PutObjectRetention,
    /// `GET /bucket/key?legal-hold`.
    GetObjectLegalHold,
    /// `PUT /bucket/key?legal-hold` with a `<LegalHold>` body.
    PutObjectLegalHold,
    /// `GET /bucket?object-lock`.
    GetObjectLockConfiguration,
    /// `PUT /bucket?object-lock` with an `<ObjectLockConfiguration>` body.
    PutObjectLockConfiguration,
    /// `GET /bucket?tagging`.
    GetBucketTagging,
    /// `PUT /bucket?tagging` with a `<Tagging>` body.
    PutBucketTagging,
    /// `DELETE /bucket?tagging`.
    DeleteBucketTagging,
    /// `GET /bucket?encryption`.
    GetBucketEncryption,
    /// `PUT /bucket?encryption` with a `<ServerSideEncryptionConfiguration>` body.
    PutBucketEncryption,
    /// `DELETE /bucket?encryption`.
    DeleteBucketEncryption,
}

impl Operation {
    /// Operations on a bucket's own settings (object lock configuration, tags, default
    /// encryption): they change or reveal the whole backend bucket, so they are refused on
    /// buckets that are a folder of one (`backend_prefix`).
    pub fn is_bucket_setting(self) -> bool {
        matches!(
            self,
            Operation::GetObjectLockConfiguration
                | Operation::PutObjectLockConfiguration
                | Operation::GetBucketTagging
                | Operation::PutBucketTagging
                | Operation::DeleteBucketTagging
                | Operation::GetBucketEncryption
                | Operation::PutBucketEncryption
                | Operation::DeleteBucketEncryption
        )
    }
}

/// A parsed S3 request.
#[derive(Clone, Debug)]
pub struct S3Request {
    /// The operation.
    pub operation: Operation,
    /// Bucket name (None only for ListBuckets).
    pub bucket: Option<String>,
    /// Decoded object key (None for bucket-level operations).
    pub key: Option<String>,
    /// The raw path as received (for SigV4).
    pub raw_path: String,
    /// The raw query string as received, without `?` (for SigV4).
    pub raw_query: String,
    /// Decoded query parameters in order of appearance. `?uploads` gives `("uploads", "")`.
    pub query: Vec<(String, String)>,
    /// True when the bucket came from the Host header.
    pub virtual_hosted: bool,
}

impl S3Request {
    /// First value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `/bucket/key` as S3 writes it in `<Resource>`.
    pub fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".to_string(),
        }
    }
}

/// Most bytes of header names and values (plus their separators) a request may carry: the same
/// bound on both runtimes (natively hyper refuses a larger head first, with 431; Workers pass much
/// larger heads through to us). S3 itself allows 8 KiB of user metadata and far less than this.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Refuses a request head whose headers exceed [`MAX_HEADER_BYTES`].
fn check_head_size(head: &RequestHead) -> Result<(), S3Error> {
    let size: usize = head
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return Err(S3Error::new(
            ErrorCode::RequestHeaderSectionTooLarge,
            format!(
                "Your request header section exceeds the maximum allowed size ({size} bytes; the limit is {MAX_HEADER_BYTES})"
            ),
        ));
    }
    Ok(())
}

/// Parses a request head. `domain` enables virtual-hosted style for `{bucket}.{domain}` hosts
/// (port ignored; the bare domain stays path style).
pub(crate) fn parse(head: &RequestHead, domain: Option<&str>) -> Result<S3Request, S3Error> {
    check_head_size(head)?;
    let target = strip_authority(&head.target);
    let (raw_path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    if !raw_path.starts_with('/') {
        return Err(S3Error::new(
            ErrorCode::InvalidURI,
            "the request path must start with '/'",
        ));
    }
    let query = parse_query(raw_query)?;

    let host_bucket = domain.and_then(|d| bucket_from_host(&head.headers, d));
    let virtual_hosted = host_bucket.is_some();
    let (bucket, raw_key) = match host_bucket {
        Some(b) => (Some(b), &raw_path[1..]),
        None => {
            let rest = &raw_path[1..];
            match rest.split_once('/') {
                Some((b, k)) => (Some(decode(b, "bucket name")?), k),
                None => (Some(decode(rest, "bucket name")?), ""),
            }
        }
    };
    let bucket = bucket.filter(|b| !b.is_empty());
    if bucket.is_none() && !raw_key.is_empty() {
        return Err(S3Error::new(
            ErrorCode::InvalidBucketName,
            "the bucket name is empty",
        ));
    }
    if let Some(b) = &bucket {
        check_bucket_name(b)?;
    }
    let key = if raw_key.is_empty() {
        None
    } else {
        Some(decode(raw_key, "key")?)
    };
    if let Some(k) = &key {
        if k.len() > MAX_KEY_BYTES {
            return Err(S3Error::new(
                ErrorCode::KeyTooLongError,
                format!(
                    "the key is {} bytes long; the limit is {MAX_KEY_BYTES}",
                    k.len()
                ),
            ));
        }
        check_key(k)?;
    }

    let mut req = S3Request {
        operation: Operation::ListBuckets,
        bucket,
        key,
        raw_path: raw_path.to_string(),
        raw_query: raw_query.to_string(),
        query,
        virtual_hosted,
    };
    req.operation = classify(head, &req)?;
    if matches!(
        req.operation,
        Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions
    ) {
        for (k, v) in &req.query {
            if KEY_QUERY_PARAMS.contains(&k.as_str()) {
                check_key_param(k, v)?;
            }
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests;
