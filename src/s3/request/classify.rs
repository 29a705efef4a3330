//! Choosing the operation from method, headers, query and whether a key is named:
//! anything S3 has that the gateway does not implement is refused, never misrouted, and a
//! `versionId` the operation does not take is refused, never dropped.

use super::*;

/// Sub-resources S3 has and this gateway does not implement: always `NotImplemented`.
pub(super) const UNIMPLEMENTED_SUBRESOURCES: &[&str] = &[
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
pub(super) const SETTING_SUBRESOURCES: [&str; 6] = [
    "tagging",
    "attributes",
    "retention",
    "legal-hold",
    "object-lock",
    "encryption",
];

/// Operations that take a `versionId` query parameter (S3's own list). Any other operation
/// given one is refused: answering the current object, or overwriting it, when the client named
/// a version would be silently wrong.
pub(super) const VERSIONED_OPERATIONS: &[Operation] = &[
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

/// `versionId` on an operation that takes it is a valid version id; on any other it is refused.
/// ListObjectVersions' `version-id-marker` is a version id and needs a `key-marker`, as in S3.
pub(super) fn check_version_params(op: Operation, req: &S3Request) -> Result<(), S3Error> {
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

pub(super) fn classify_operation(
    head: &RequestHead,
    req: &S3Request,
) -> Result<Operation, S3Error> {
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
pub(super) struct Route<'r> {
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
