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
    /// A browser form upload (`POST /bucket` with `multipart/form-data`).
    PostObject,
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
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "select-type",
    "session",
    "tagging",
    "torrent",
    "versioning",
    "versions",
    "website",
];

/// Longest key S3 accepts, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// Parses a request head. `domain` enables virtual-hosted style for `{bucket}.{domain}` hosts
/// (port ignored; the bare domain stays path style).
pub fn parse(head: &RequestHead, domain: Option<&str>) -> Result<S3Request, S3Error> {
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
    Ok(req)
}

/// The bucket a request names, by routing alone (virtual-hosted Host, else the first path
/// segment), without classifying the operation: what CORS needs, for preflights and for
/// requests that fail to parse. None for the service root or an undecodable name.
pub fn bucket_name(head: &RequestHead, domain: Option<&str>) -> Option<String> {
    route(head, domain).map(|(b, _)| b)
}

/// [`bucket_name`] and the decoded key after it (empty for none, or when it does not decode).
pub fn route(head: &RequestHead, domain: Option<&str>) -> Option<(String, String)> {
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

/// Decodes the query string into pairs, form style.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, S3Error> {
    let mut out = Vec::new();
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
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

/// Whether the request body is `multipart/form-data` (a browser form upload).
pub fn is_multipart_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Chooses the operation. Anything S3 has that we do not implement is refused, never misrouted.
/// Path mapping calls it again once a request's bucket and key are mapped.
pub(crate) fn classify(head: &RequestHead, req: &S3Request) -> Result<Operation, S3Error> {
    let has = |name: &str| req.query.iter().any(|(k, _)| k == name);
    if let Some((name, _)) = req
        .query
        .iter()
        .find(|(k, _)| UNIMPLEMENTED_SUBRESOURCES.contains(&k.as_str()))
    {
        return Err(S3Error::not_implemented(format!(
            "the '{name}' sub-resource is not implemented by this gateway"
        )));
    }
    let copy = head.headers.contains_key("x-amz-copy-source");
    let method = &head.method;
    let misplaced = |sub: &str| {
        Err(S3Error::not_implemented(format!(
            "'{sub}' with {method} on a {} is not an operation this gateway implements",
            if req.key.is_some() { "key" } else { "bucket" }
        )))
    };
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
    if req.key.is_none() {
        return match *method {
            Method::HEAD => Ok(Operation::HeadBucket),
            Method::GET if has("location") => Ok(Operation::GetBucketLocation),
            Method::GET if has("uploads") => Ok(Operation::ListMultipartUploads),
            Method::GET if has("delete") => misplaced("delete"),
            Method::GET => match req.query_param("list-type") {
                None => Ok(Operation::ListObjects),
                Some("2") => Ok(Operation::ListObjectsV2),
                Some(other) => Err(S3Error::invalid_argument(format!(
                    "list-type '{other}' is not 2"
                ))),
            },
            Method::PUT if has("location") || has("uploads") => misplaced("location/uploads"),
            Method::PUT => Ok(Operation::CreateBucket),
            Method::DELETE if has("uploads") || has("delete") => misplaced("uploads/delete"),
            Method::DELETE => Ok(Operation::DeleteBucket),
            Method::POST if has("delete") => Ok(Operation::DeleteObjects),
            Method::POST if is_multipart_form(&head.headers) => Ok(Operation::PostObject),
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
        };
    }
    let upload = has("uploadId");
    match *method {
        Method::GET if upload => Ok(Operation::ListParts),
        Method::GET if has("uploads") || has("location") || has("delete") => {
            misplaced("uploads/location/delete")
        }
        Method::GET => Ok(Operation::GetObject),
        Method::HEAD if upload || has("uploads") => misplaced("uploadId/uploads"),
        Method::HEAD => Ok(Operation::HeadObject),
        Method::PUT if upload && has("partNumber") => Ok(if copy {
            Operation::UploadPartCopy
        } else {
            Operation::UploadPart
        }),
        Method::PUT if upload => Err(S3Error::invalid_argument(
            "UploadPart needs both partNumber and uploadId",
        )),
        Method::PUT if has("uploads") => misplaced("uploads"),
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
        Method::DELETE if has("uploads") => misplaced("uploads"),
        Method::DELETE => Ok(Operation::DeleteObject),
        _ => Err(S3Error::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on an object"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(method: Method, target: &str) -> RequestHead {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("s3.example.com:8080"),
        );
        RequestHead {
            method,
            target: target.to_string(),
            headers,
        }
    }

    fn op(method: Method, target: &str) -> Result<Operation, ErrorCode> {
        parse(&head(method, target), None)
            .map(|r| r.operation)
            .map_err(|e| e.code)
    }

    #[test]
    fn operations_are_classified_by_method_target_and_subresource() {
        use Operation::*;
        let cases = [
            (Method::GET, "/", ListBuckets),
            (Method::HEAD, "/b", HeadBucket),
            (Method::GET, "/b?location", GetBucketLocation),
            (Method::GET, "/b?list-type=2&prefix=a", ListObjectsV2),
            (Method::GET, "/b/", ListObjects),
            (Method::GET, "/b?uploads", ListMultipartUploads),
            (Method::PUT, "/b", CreateBucket),
            (Method::DELETE, "/b", DeleteBucket),
            (Method::POST, "/b?delete", DeleteObjects),
            (Method::GET, "/b/k?x-id=GetObject", GetObject),
            (Method::HEAD, "/b/k", HeadObject),
            (Method::PUT, "/b/k", PutObject),
            (Method::PUT, "/b/k?partNumber=1&uploadId=u", UploadPart),
            (Method::POST, "/b/k?uploads", CreateMultipartUpload),
            (Method::POST, "/b/k?uploadId=u", CompleteMultipartUpload),
            (Method::DELETE, "/b/k?uploadId=u", AbortMultipartUpload),
            (Method::GET, "/b/k?uploadId=u", ListParts),
            (Method::DELETE, "/b/k", DeleteObject),
        ];
        for (m, t, want) in cases {
            assert_eq!(op(m.clone(), t), Ok(want), "{m} {t}");
        }
    }

    #[test]
    fn copy_source_header_makes_a_put_a_copy() {
        let mut h = head(Method::PUT, "/b/k");
        h.headers
            .insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
        assert_eq!(parse(&h, None).unwrap().operation, Operation::CopyObject);
        h.target = "/b/k?partNumber=2&uploadId=x".into();
        assert_eq!(
            parse(&h, None).unwrap().operation,
            Operation::UploadPartCopy
        );
    }

    #[test]
    fn acl_subresource_is_not_implemented_rather_than_listed() {
        for sub in UNIMPLEMENTED_SUBRESOURCES {
            assert_eq!(
                op(Method::GET, &format!("/b?{sub}")),
                Err(ErrorCode::NotImplemented),
                "{sub}"
            );
            assert_eq!(
                op(Method::GET, &format!("/b/k?{sub}=")),
                Err(ErrorCode::NotImplemented),
                "{sub}"
            );
        }
    }

    #[test]
    fn misplaced_subresources_and_odd_methods_are_refused() {
        assert_eq!(op(Method::GET, "/b?delete"), Err(ErrorCode::NotImplemented));
        assert_eq!(
            op(Method::PUT, "/b/k?uploads"),
            Err(ErrorCode::NotImplemented)
        );
        assert_eq!(op(Method::OPTIONS, "/b/k"), Err(ErrorCode::NotImplemented));
        assert_eq!(op(Method::PATCH, "/b/k"), Err(ErrorCode::MethodNotAllowed));
        assert_eq!(
            op(Method::GET, "/b?list-type=3"),
            Err(ErrorCode::InvalidArgument)
        );
        assert_eq!(op(Method::POST, "/b"), Err(ErrorCode::PreconditionFailed));
    }

    #[test]
    fn keys_are_decoded_byte_faithfully_while_the_raw_target_is_kept() {
        let r = parse(
            &head(
                Method::GET,
                "/b/a%20b+c%3D%21%2A%27%28%29%25/%2F%E1%88%B4?versionId=x+y",
            ),
            None,
        )
        .unwrap();
        assert_eq!(r.key.as_deref(), Some("a b+c=!*'()%//ሴ"));
        assert_eq!(r.raw_path, "/b/a%20b+c%3D%21%2A%27%28%29%25/%2F%E1%88%B4");
        assert_eq!(r.raw_query, "versionId=x+y");
        assert_eq!(r.query_param("versionId"), Some("x y"));
    }

    #[test]
    fn key_with_encoded_slash_decodes_to_slash_and_double_slash_keeps_a_leading_slash() {
        assert_eq!(
            parse(&head(Method::GET, "/b/a%2Fb"), None)
                .unwrap()
                .key
                .as_deref(),
            Some("a/b")
        );
        assert_eq!(
            parse(&head(Method::GET, "/b//x"), None)
                .unwrap()
                .key
                .as_deref(),
            Some("/x")
        );
    }

    #[test]
    fn invalid_escapes_and_utf8_are_invalid_uri() {
        assert_eq!(op(Method::GET, "/b/a%zz"), Err(ErrorCode::InvalidURI));
        assert_eq!(op(Method::GET, "/b/a%"), Err(ErrorCode::InvalidURI));
        assert_eq!(op(Method::GET, "/b/%FF%FE"), Err(ErrorCode::InvalidURI));
        assert_eq!(op(Method::GET, "/b/k?a=%E1%88"), Err(ErrorCode::InvalidURI));
        assert_eq!(op(Method::GET, "b/k"), Err(ErrorCode::InvalidURI));
    }

    #[test]
    fn keys_over_1024_bytes_are_refused() {
        assert_eq!(
            op(Method::GET, &format!("/b/{}", "a".repeat(1025))),
            Err(ErrorCode::KeyTooLongError)
        );
        assert_eq!(
            op(Method::GET, &format!("/b/{}", "a".repeat(1024))),
            Ok(Operation::GetObject)
        );
    }

    #[test]
    fn absolute_form_targets_are_reduced_to_their_path() {
        let r = parse(
            &head(Method::GET, "http://s3.example.com:8080/b/k?x=1"),
            None,
        )
        .unwrap();
        assert_eq!(
            (r.bucket.as_deref(), r.key.as_deref(), r.raw_path.as_str()),
            (Some("b"), Some("k"), "/b/k")
        );
    }

    #[test]
    fn virtual_hosted_bucket_ignores_port() {
        let mut h = head(Method::GET, "/dir/k");
        h.headers.insert(
            http::header::HOST,
            HeaderValue::from_static("Data.S3.Example.com:8080"),
        );
        let r = parse(&h, Some("s3.example.com")).unwrap();
        assert_eq!(
            (r.bucket.as_deref(), r.key.as_deref(), r.virtual_hosted),
            (Some("data"), Some("dir/k"), true)
        );
    }

    #[test]
    fn bucket_name_routes_requests_that_do_not_parse_as_operations() {
        let h = head(Method::OPTIONS, "/my%2Dbucket/k?acl");
        assert!(parse(&h, None).is_err());
        assert_eq!(bucket_name(&h, None).as_deref(), Some("my-bucket"));
        assert_eq!(bucket_name(&head(Method::OPTIONS, "/"), None), None);
        let mut v = head(Method::OPTIONS, "/k");
        v.headers.insert(
            http::header::HOST,
            HeaderValue::from_static("data.s3.example.com"),
        );
        assert_eq!(
            bucket_name(&v, Some("s3.example.com")).as_deref(),
            Some("data")
        );
    }

    #[test]
    fn bare_domain_stays_path_style() {
        let r = parse(&head(Method::GET, "/b/k"), Some("s3.example.com")).unwrap();
        assert_eq!(
            (r.bucket.as_deref(), r.key.as_deref(), r.virtual_hosted),
            (Some("b"), Some("k"), false)
        );
    }

    #[test]
    fn hostile_targets_never_panic() {
        for t in [
            "/",
            "//",
            "/%",
            "/?",
            "/?&&=&",
            "/b?=",
            "/b/\u{7f}",
            "http://",
            "https://x",
            "/b/%c3%28",
        ] {
            let _ = parse(&head(Method::GET, t), Some("x"));
        }
    }
}
