//! Azure's answers in S3's terms: `x-ms-meta-*` as `x-amz-meta-*`, Put Blob's 201 and Delete
//! Blob's 202 as S3's statuses, the ETag of a part (Put Block answers none), the
//! CompleteMultipartUploadResult of a committed block list, List Blobs as a
//! `ListBucketResult`, and Azure's error codes as S3's.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::{listing_to_s3, s3_code, ListEcho};
use crate::plan::answer::{Answer, ErrorAnswer};
use crate::s3::{xml, S3Error};

/// How the answer of an Azure request is read back.
#[derive(Debug, Default)]
pub(crate) struct AzureAnswer {
    /// A listing: its parameters, to build the `ListBucketResult`.
    pub listing: Option<ListEcho>,
    /// DeleteObject: a missing blob is a success, as in S3.
    pub delete: bool,
    /// UploadPart: the ETag answered (Put Block answers none).
    pub etag: Option<String>,
    /// CompleteMultipartUpload: `(Location, bucket, key)` of the result document.
    pub complete: Option<(String, String, String)>,
}

impl Answer for AzureAnswer {
    fn buffers_success(&self) -> bool {
        self.complete.is_some()
    }

    /// `x-ms-meta-*` as `x-amz-meta-*` (the other `x-ms-*` headers are dropped with the
    /// backend-identifying ones), the part's ETag, and S3's status for Azure's success.
    fn head(&self, status: StatusCode, backend: &HeaderMap, out: &mut HeaderMap) -> StatusCode {
        for (name, value) in backend {
            if let Some(meta) = name.as_str().strip_prefix("x-ms-meta-") {
                if let Ok(h) = HeaderName::from_bytes(format!("x-amz-meta-{meta}").as_bytes()) {
                    out.append(h, value.clone());
                }
            }
        }
        if let (Some(etag), true) = (&self.etag, status.is_success()) {
            if let Ok(v) = HeaderValue::from_str(etag) {
                out.insert(http::header::ETAG, v);
            }
        }
        match status {
            StatusCode::CREATED => StatusCode::OK,
            StatusCode::ACCEPTED if self.delete => StatusCode::NO_CONTENT,
            s => s,
        }
    }

    /// Azure names the error of a HEAD in `x-ms-error-code` (also for a missing container).
    fn head_refuses_gateway(&self, backend: &HeaderMap) -> bool {
        backend
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|code| s3_code(code).1)
    }

    /// The CompleteMultipartUploadResult of a committed block list, from its ETag.
    fn success_document(&self, backend: &HeaderMap) -> Option<String> {
        let (location, bucket, key) = self.complete.as_ref()?;
        let etag = backend
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Some(xml::complete_result_xml(location, bucket, key, etag))
    }

    fn listing(&self, body: Bytes) -> Result<Bytes, S3Error> {
        match &self.listing {
            Some(echo) => listing_to_s3(&body, echo).map(Bytes::from),
            None => Ok(body),
        }
    }

    /// S3 answers a delete of a missing key with success; Azure's codes become S3's, those
    /// about the gateway's own access a 502.
    fn error<'c>(&self, status: StatusCode, code: &'c str) -> ErrorAnswer<'c> {
        if code == "BlobNotFound" && self.delete {
            return ErrorAnswer::Success(StatusCode::ACCEPTED);
        }
        match s3_code(code) {
            (_, true) => ErrorAnswer::RefusedGateway,
            ("PreconditionFailed", _) => ErrorAnswer::Error(
                StatusCode::PRECONDITION_FAILED,
                Cow::Borrowed("PreconditionFailed"),
            ),
            (s3, false) => ErrorAnswer::Error(status, Cow::Borrowed(s3)),
        }
    }
}
