//! Small request bodies the gateway reads itself (DeleteObjects, CompleteMultipartUpload, tagging,
//! versioning): their limits and checks.

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

use crate::auth::PayloadMode;
use crate::s3::{ErrorCode, S3Error};

use super::response::error_response;

/// Largest DeleteObjects body: 1000 keys of up to 1024 bytes, XML-escaped, with room to spare.
pub(crate) const MAX_DELETE_BODY: usize = 8 << 20;

/// Largest CompleteMultipartUpload body: 10000 parts of ~100 bytes, with room to spare.
pub(crate) const MAX_COMPLETE_BODY: usize = 2 << 20;

/// Largest PutObjectTagging body: 10 tags of 128 + 256 characters (up to 4 bytes each, or a
/// character reference each), with room to spare.
pub(crate) const MAX_TAGGING_BODY: usize = 64 << 10;

/// Largest PutBucketVersioning body: a `<VersioningConfiguration>` is some 150 bytes.
pub(crate) const MAX_VERSIONING_BODY: usize = 4 << 10;

/// The answer for a body over [`Plan::NeedBody`](crate::gateway::Plan::NeedBody)'s limit.
pub fn body_too_large(method: &Method, request_id: &str, limit: usize) -> Response<Bytes> {
    let err = S3Error::new(
        ErrorCode::MalformedXML,
        format!("the request body is larger than the {limit} bytes this operation accepts"),
    );
    error_response(method, &err, request_id)
}

/// A small XML request body checked against what the request signed: its sha256 (when a hash
/// was signed) and its `Content-MD5` (when sent).
pub(crate) fn check_small_body(
    headers: &HeaderMap,
    payload: &PayloadMode,
    body: &Bytes,
) -> Result<(), S3Error> {
    use sha2::Digest as _;
    if let PayloadMode::Sha256(expected) = payload {
        let actual: [u8; 32] = sha2::Sha256::digest(body).into();
        if &actual != expected {
            return Err(S3Error::new(
                ErrorCode::XAmzContentSHA256Mismatch,
                "the body's sha256 does not match the x-amz-content-sha256 the request signed",
            ));
        }
    }
    if let Some(md5) = headers.get("content-md5") {
        use base64::Engine as _;
        use md5::Digest as _;
        let actual = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body));
        if md5.as_bytes() != actual.as_bytes() {
            return Err(S3Error::new(
                ErrorCode::BadDigest,
                "the Content-MD5 you specified did not match what we received",
            ));
        }
    }
    Ok(())
}
