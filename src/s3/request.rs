//! Parsing a request head into an [`S3Request`]: bucket and key (path style or virtual-hosted),
//! the decoded query, and the [`Operation`].
//!
//! Keys are byte-faithful: routing uses the percent-decoded path, while SigV4 verification uses
//! the raw target exactly as received (kept in [`S3Request::raw_path`] / [`S3Request::raw_query`]).
//! Sub-resources we do not implement are refused with `NotImplemented`, never misrouted.

use http::{HeaderMap, Method};

use super::error::{ErrorCode, S3Error};

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

/// Sub-resources S3 has and this gateway does not implement: always `NotImplemented`.
const UNIMPLEMENTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "select",
    "select-type",
    "session",
    "torrent",
    "website",
];

/// Sub-resources that each name one operation on a key or a bucket's settings (see `classify`).
const SETTING_SUBRESOURCES: [&str; 6] = [
    "tagging",
    "attributes",
    "retention",
    "legal-hold",
    "object-lock",
    "encryption",
];

/// Longest key S3 accepts, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// Longest bucket name the gateway routes, in bytes (configs may hold names S3 would refuse).
const MAX_BUCKET_BYTES: usize = 255;

/// Longest version id accepted, in bytes (S3's own are 32; other backends' are longer).
const MAX_VERSION_ID_BYTES: usize = 1024;

/// Operations that take a `versionId` query parameter (S3's own list). Any other operation
/// given one is refused: answering the current object, or overwriting it, when the client named
/// a version would be silently wrong.
const VERSIONED_OPERATIONS: &[Operation] = &[
    Operation::GetObject,
    Operation::HeadObject,
    Operation::DeleteObject,
    Operation::GetObjectTagging,
    Operation::PutObjectTagging,
    Operation::DeleteObjectTagging,
    Operation::GetObjectAttributes,
    Operation::GetObjectRetention,
    Operation::PutObjectRetention,
    Operation::GetObjectLegalHold,
    Operation::PutObjectLegalHold,
];

/// The check every version id a client names passes (the `versionId` query parameter, a copy
/// source's `?versionId=`, ListObjectVersions' `version-id-marker`, a DeleteObjects
/// `<VersionId>`): 1 to 1024 bytes of `A-Z a-z 0-9 . _ - + = /` (what S3, SeaweedFS, MinIO and
/// Ceph issue, and `null`), with no `.` or `..` segment. A version id is glued into a backend
/// header as it is, so nothing that could add a parameter or change a path gets through. S3's
/// answer otherwise.
pub(crate) fn check_version_id(value: &str, argument: &str) -> Result<(), S3Error> {
    let valid = !value.is_empty()
        && value.len() <= MAX_VERSION_ID_BYTES
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'=' | b'/')
        })
        && !has_dot_segment(value);
    if !valid {
        return Err(S3Error::invalid_argument("Invalid version id specified")
            .with_detail("ArgumentName", argument)
            .with_detail("ArgumentValue", value));
    }
    Ok(())
}

/// `versionId` on an operation that takes it is a valid version id; on any other it is refused.
/// ListObjectVersions' `version-id-marker` is a version id and needs a `key-marker`, as in S3.
fn check_version_params(op: Operation, req: &S3Request) -> Result<(), S3Error> {
    if let Some(v) = req.query_param("versionId") {
        if !VERSIONED_OPERATIONS.contains(&op) {
            return Err(S3Error::invalid_argument(format!(
                "{op:?} does not take a versionId; only GetObject, HeadObject, DeleteObject, \
                 object tagging, retention, legal hold and GetObjectAttributes name a version"
            ))
            .with_detail("ArgumentName", "versionId")
            .with_detail("ArgumentValue", v));
        }
        check_version_id(v, "versionId")?;
    }
    if op == Operation::ListObjectVersions {
        if let Some(v) = req.query_param("version-id-marker") {
            if req.query_param("key-marker").is_none_or(str::is_empty) {
                return Err(S3Error::invalid_argument(
                    "A version-id marker cannot be specified without a key marker.",
                )
                .with_detail("ArgumentName", "version-id-marker")
                .with_detail("ArgumentValue", v));
            }
            check_version_id(v, "version-id-marker")?;
        }
    }
    Ok(())
}

/// Query parameters whose values are keys or key prefixes: the backend prefix is glued in
/// front of them, so they pass the same dot-segment check as keys.
const KEY_QUERY_PARAMS: &[&str] = &["prefix", "marker", "start-after", "key-marker"];

/// The check every bucket name a client sends passes before it is used (path, Host header,
/// `x-amz-copy-source`): non-empty, at most 255 bytes, only `A-Z a-z 0-9 . _ -`, and not `.` or
/// `..`. A `/` (from `%2F`) would turn a bucket-level request into an object one, and a name
/// that is no DNS label could steer a virtual-hosted backend request to another host. Configured
/// buckets may keep legacy names inside this set (see `config::validate`); names that reach a
/// backend as they are (pass-through buckets) must pass [`check_s3_bucket_name`] too.
pub(crate) fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let refuse = |why: &str| {
        Err(S3Error::new(
            ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}"),
        )
        .with_detail("BucketName", name))
    };
    if name.is_empty() {
        return refuse("the name is empty");
    }
    if name.len() > MAX_BUCKET_BYTES {
        return refuse("the name is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return refuse("the name is a dot segment");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return refuse(&format!(
            "it contains {c:?}; bucket names are letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// S3's own bucket naming rules, for names the gateway passes to a backend as they are
/// (pass-through glob buckets): 3-63 characters of `a-z 0-9 . -`, starting and ending with a
/// letter or digit, no `..`, not an IPv4 address, no `xn--` prefix and no `-s3alias` or
/// `--ol-s3` suffix.
pub(crate) fn check_s3_bucket_name(name: &str) -> Result<(), S3Error> {
    check_bucket_name(name)?;
    let bytes = name.as_bytes();
    let why = if !(3..=63).contains(&bytes.len()) {
        Some("a bucket name is 3 to 63 characters long")
    } else if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        Some("a bucket name is lowercase letters, digits, '.' and '-'")
    } else if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        Some("a bucket name starts and ends with a letter or digit")
    } else if name.contains("..") {
        Some("a bucket name has no two adjacent periods")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("a bucket name is not an IP address")
    } else if name.starts_with("xn--") || name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        Some("the prefix 'xn--' and the suffixes '-s3alias' and '--ol-s3' are reserved")
    } else {
        None
    };
    match why {
        Some(why) => Err(S3Error::new(
            ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {why}"),
        )
        .with_detail("BucketName", name)),
        None => Ok(()),
    }
}

/// Whether `path` has a `.` or `..` segment (between `/`s, or at either end).
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// The check every decoded key passes before it is used (request path, copy source, path
/// mapping, DeleteObjects bodies, POST forms): no `.` or `..` segment. S3 keeps such keys
/// verbatim, but `fetch()` and HTTP proxies normalize them away (also `%2e`), so the backend
/// would be asked for another key than the one authorized, possibly outside the backend prefix.
pub(crate) fn check_key(key: &str) -> Result<(), S3Error> {
    if has_dot_segment(key) {
        return Err(S3Error::invalid_argument(format!(
            "the key '{key}' has a '.' or '..' path segment; such keys are refused because \
             fetch() and HTTP proxies normalize them into other keys"
        ))
        .with_detail("ArgumentName", "key"));
    }
    Ok(())
}

/// [`check_key`] for a listing's `prefix`, `marker`, `start-after` and `key-marker`. A prefix
/// may end in `.` or `..` (the start of a name such as `.hidden`): only complete segments count.
fn check_key_param(name: &str, value: &str) -> Result<(), S3Error> {
    let complete = if name == "prefix" {
        value.rsplit_once('/').map_or("", |(done, _)| done)
    } else {
        value
    };
    if has_dot_segment(complete) {
        return Err(S3Error::invalid_argument(format!(
            "the {name} '{value}' has a '.' or '..' path segment; such values are refused \
             because fetch() and HTTP proxies normalize them"
        ))
        .with_detail("ArgumentName", name.to_string()));
    }
    Ok(())
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

/// The bucket a request names, by routing alone (virtual-hosted Host, else the first path
/// segment), without classifying the operation: what CORS needs, for preflights and for
/// requests that fail to parse. None for the service root or an undecodable name.
#[cfg(test)]
pub(crate) fn bucket_name(head: &RequestHead, domain: Option<&str>) -> Option<String> {
    route(head, domain).map(|(b, _)| b)
}

/// [`bucket_name`] and the decoded key after it (empty for none, or when it does not decode).
pub(crate) fn route(head: &RequestHead, domain: Option<&str>) -> Option<(String, String)> {
    let target = strip_authority(&head.target);
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let key_of = |raw: &str| decode(raw, "key").unwrap_or_default();
    if let Some(b) = domain.and_then(|d| bucket_from_host(&head.headers, d)) {
        return Some((b, key_of(path.strip_prefix('/').unwrap_or(path))));
    }
    let path = path.strip_prefix('/')?;
    let (first, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = decode(first, "bucket name")
        .ok()
        .filter(|b| !b.is_empty())?;
    Some((bucket, key_of(key)))
}

/// Strips `scheme://authority` from an absolute-form target.
fn strip_authority(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            return match rest.find(['/', '?']) {
                Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                Some(i) => {
                    // `http://host?q` has an empty path: treat it as `/`.
                    let _ = i;
                    "/"
                }
                None => "/",
            };
        }
    }
    target
}

/// The bucket of a `{bucket}.{domain}[:port]` Host header.
pub(crate) fn bucket_from_host(headers: &HeaderMap, domain: &str) -> Option<String> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let bucket = host.strip_suffix(&domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_string())
}

/// Percent-decodes a path component (a literal `+` stays `+`).
fn decode(raw: &str, what: &str) -> Result<String, S3Error> {
    let bytes = percent_decode(raw.as_bytes(), false).ok_or_else(|| {
        S3Error::new(
            ErrorCode::InvalidURI,
            format!("the {what} has an invalid percent escape"),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        S3Error::new(
            ErrorCode::InvalidURI,
            format!("the {what} is not valid UTF-8"),
        )
    })
}

/// Percent-decodes; `plus_is_space` for query strings. None on a malformed escape.
pub(crate) fn percent_decode(raw: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    crate::percent::decode_strict(raw, plus_is_space)
}

/// Decodes the query string into pairs, form style. A parameter name given twice is refused:
/// authorization reads one value and the backend would be sent every one (`prefix=team/&prefix=`
/// listed the whole bucket), and no S3 client repeats one.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, S3Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_decode(s.as_bytes(), true)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::new(
                        ErrorCode::InvalidURI,
                        "the query string has an invalid percent escape or is not UTF-8",
                    )
                })
        };
        let name = dec(k)?;
        if !seen.insert(name.clone()) {
            return Err(S3Error::invalid_argument(format!(
                "the query parameter '{name}' is given more than once; each parameter may \
                 appear once"
            ))
            .with_detail("ArgumentName", name));
        }
        out.push((name, dec(v)?));
    }
    Ok(out)
}

/// Whether the request body is `multipart/form-data` (a browser form upload).
pub(crate) fn is_multipart_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Chooses the operation. Anything S3 has that we do not implement is refused, never misrouted;
/// a `versionId` the operation does not take is refused, never dropped.
/// Path mapping calls it again once a request's bucket and key are mapped.
pub(crate) fn classify(head: &RequestHead, req: &S3Request) -> Result<Operation, S3Error> {
    let op = classify_operation(head, req)?;
    check_version_params(op, req)?;
    Ok(op)
}

fn classify_operation(head: &RequestHead, req: &S3Request) -> Result<Operation, S3Error> {
    let route = Route { head, req };
    if let Some((name, _)) = req
        .query
        .iter()
        .find(|(k, _)| UNIMPLEMENTED_SUBRESOURCES.contains(&k.as_str()))
    {
        return Err(S3Error::not_implemented(format!(
            "the '{name}' sub-resource is not implemented by this gateway"
        )));
    }
    let method = &head.method;
    if *method == Method::OPTIONS {
        return Err(S3Error::not_implemented(
            "CORS preflight is not configured on this gateway",
        ));
    }
    let Some(_) = &req.bucket else {
        return match *method {
            Method::GET | Method::HEAD => Ok(Operation::ListBuckets),
            _ => Err(S3Error::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on the service root"),
            )),
        };
    };
    // Sub-resources that name one operation each: object tagging, attributes, retention and
    // legal hold on keys; tagging, object lock and encryption settings on buckets.
    if let Some(sub) = SETTING_SUBRESOURCES.into_iter().find(|s| route.has(s)) {
        return route.setting_operation(sub);
    }
    // Bucket versioning and the version listing are bucket sub-resources, one per request.
    if let Some(sub) = ["versioning", "versions"]
        .into_iter()
        .find(|s| route.has(s))
    {
        return route.versioning_operation(sub);
    }
    match req.key {
        None => route.bucket_operation(),
        Some(_) => route.object_operation(),
    }
}

/// What [`classify_operation`] looks at: the request's method, headers and query.
struct Route<'r> {
    head: &'r RequestHead,
    req: &'r S3Request,
}

impl Route<'_> {
    /// The query names `name`.
    fn has(&self, name: &str) -> bool {
        self.req.query.iter().any(|(k, _)| k == name)
    }

    /// The request copies (`x-amz-copy-source`).
    fn copy(&self) -> bool {
        self.head.headers.contains_key("x-amz-copy-source")
    }

    /// `NotImplemented` for `sub` with a method it does not go with.
    fn misplaced(&self, sub: &str) -> Result<Operation, S3Error> {
        Err(S3Error::not_implemented(format!(
            "'{sub}' with {} on a {} is not an operation this gateway implements",
            self.head.method,
            if self.req.key.is_some() {
                "key"
            } else {
                "bucket"
            }
        )))
    }

    /// `InvalidRequest` when a sub-resource of `others` rides along with `sub`: one operation
    /// per request.
    fn alone(
        &self,
        sub: &str,
        others: impl IntoIterator<Item = &'static str>,
    ) -> Result<(), S3Error> {
        match others.into_iter().find(|s| *s != sub && self.has(s)) {
            Some(other) => Err(S3Error::invalid_request(format!(
                "'{sub}' and '{other}' name different operations; a request names one"
            ))),
            None => Ok(()),
        }
    }

    /// A tagging, attributes, retention, legal hold, object lock or encryption request.
    fn setting_operation(&self, sub: &'static str) -> Result<Operation, S3Error> {
        self.alone(
            sub,
            SETTING_SUBRESOURCES.into_iter().chain([
                "uploads",
                "uploadId",
                "partNumber",
                "location",
                "delete",
                "versioning",
                "versions",
            ]),
        )?;
        let on_key = self.req.key.is_some();
        match (self.head.method.clone(), sub, on_key) {
            (Method::PUT, _, _) if self.copy() => self.misplaced("x-amz-copy-source"),
            (Method::GET, "tagging", true) => Ok(Operation::GetObjectTagging),
            (Method::PUT, "tagging", true) => Ok(Operation::PutObjectTagging),
            (Method::DELETE, "tagging", true) => Ok(Operation::DeleteObjectTagging),
            (Method::GET, "attributes", true) => Ok(Operation::GetObjectAttributes),
            (Method::GET, "retention", true) => Ok(Operation::GetObjectRetention),
            (Method::PUT, "retention", true) => Ok(Operation::PutObjectRetention),
            (Method::GET, "legal-hold", true) => Ok(Operation::GetObjectLegalHold),
            (Method::PUT, "legal-hold", true) => Ok(Operation::PutObjectLegalHold),
            (Method::GET, "tagging", false) => Ok(Operation::GetBucketTagging),
            (Method::PUT, "tagging", false) => Ok(Operation::PutBucketTagging),
            (Method::DELETE, "tagging", false) => Ok(Operation::DeleteBucketTagging),
            (Method::GET, "object-lock", false) => Ok(Operation::GetObjectLockConfiguration),
            (Method::PUT, "object-lock", false) => Ok(Operation::PutObjectLockConfiguration),
            (Method::GET, "encryption", false) => Ok(Operation::GetBucketEncryption),
            (Method::PUT, "encryption", false) => Ok(Operation::PutBucketEncryption),
            (Method::DELETE, "encryption", false) => Ok(Operation::DeleteBucketEncryption),
            _ => self.misplaced(sub),
        }
    }

    /// GetBucketVersioning, PutBucketVersioning or ListObjectVersions.
    fn versioning_operation(&self, sub: &'static str) -> Result<Operation, S3Error> {
        if self.req.key.is_some() {
            return self.misplaced(sub);
        }
        self.alone(
            sub,
            [
                "versioning",
                "versions",
                "location",
                "uploads",
                "delete",
                "list-type",
            ],
        )?;
        match (self.head.method.clone(), sub) {
            (Method::GET, "versions") => Ok(Operation::ListObjectVersions),
            (Method::GET, "versioning") => Ok(Operation::GetBucketVersioning),
            (Method::PUT, "versioning") => Ok(Operation::PutBucketVersioning),
            _ => self.misplaced(sub),
        }
    }

    /// An operation on a bucket without a setting sub-resource.
    fn bucket_operation(&self) -> Result<Operation, S3Error> {
        let method = &self.head.method;
        let has = |name: &str| self.has(name);
        match *method {
            Method::HEAD => Ok(Operation::HeadBucket),
            Method::GET if has("location") => Ok(Operation::GetBucketLocation),
            Method::GET if has("uploads") => Ok(Operation::ListMultipartUploads),
            Method::GET if has("delete") => self.misplaced("delete"),
            Method::GET => match self.req.query_param("list-type") {
                None => Ok(Operation::ListObjects),
                Some("2") => Ok(Operation::ListObjectsV2),
                Some(other) => Err(S3Error::invalid_argument(format!(
                    "list-type '{other}' is not 2"
                ))),
            },
            Method::PUT if has("location") || has("uploads") => self.misplaced("location/uploads"),
            Method::PUT => Ok(Operation::CreateBucket),
            Method::DELETE if has("uploads") || has("delete") => self.misplaced("uploads/delete"),
            Method::DELETE => Ok(Operation::DeleteBucket),
            Method::POST if has("delete") => Ok(Operation::DeleteObjects),
            Method::POST if is_multipart_form(&self.head.headers) => Ok(Operation::PostObject),
            Method::POST => Err(S3Error::new(
                ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
            .with_detail(
                "Condition",
                "Bucket POST must be of the enclosure-type multipart/form-data",
            )),
            _ => Err(S3Error::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on a bucket"),
            )),
        }
    }

    /// An operation on a key without a setting sub-resource.
    fn object_operation(&self) -> Result<Operation, S3Error> {
        let method = &self.head.method;
        let has = |name: &str| self.has(name);
        let (upload, copy) = (has("uploadId"), self.copy());
        match *method {
            Method::GET if upload => Ok(Operation::ListParts),
            Method::GET if has("uploads") || has("location") || has("delete") => {
                self.misplaced("uploads/location/delete")
            }
            Method::GET => Ok(Operation::GetObject),
            Method::HEAD if upload || has("uploads") => self.misplaced("uploadId/uploads"),
            Method::HEAD => Ok(Operation::HeadObject),
            Method::PUT if upload && has("partNumber") => Ok(if copy {
                Operation::UploadPartCopy
            } else {
                Operation::UploadPart
            }),
            Method::PUT if upload => Err(S3Error::invalid_argument(
                "UploadPart needs both partNumber and uploadId",
            )),
            Method::PUT if has("uploads") => self.misplaced("uploads"),
            Method::PUT => Ok(if copy {
                Operation::CopyObject
            } else {
                Operation::PutObject
            }),
            Method::POST if has("uploads") => Ok(Operation::CreateMultipartUpload),
            Method::POST if upload => Ok(Operation::CompleteMultipartUpload),
            Method::POST => Err(S3Error::not_implemented(
                "this POST on a key is not an operation this gateway implements",
            )),
            Method::DELETE if upload => Ok(Operation::AbortMultipartUpload),
            Method::DELETE if has("uploads") => self.misplaced("uploads"),
            Method::DELETE => Ok(Operation::DeleteObject),
            _ => Err(S3Error::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on an object"),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
