//! The one error type at the protocol edge: an S3 error code, its HTTP status and a message that
//! says which check failed. Rendered as the S3 `<Error>` XML document.

use std::fmt;

/// S3 error codes the gateway emits, each with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the S3 codes of the same name
pub enum ErrorCode {
    AccessDenied,
    /// S3's answer to a CORS preflight that no rule allows.
    AccessForbidden,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    /// S3's answer to a malformed CORS preflight.
    BadRequest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    /// A POST form without exactly one `file` field.
    IncorrectNumberOfFilesInPostRequest,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    /// A POST policy that is not valid base64 JSON of the documented shape.
    InvalidPolicyDocument,
    InvalidRange,
    InvalidRequest,
    /// An object lock default retention period that is not a positive number of days or years.
    InvalidRetentionPeriod,
    /// An object tag set S3 would refuse: too many tags, a key or value too long, a key twice.
    InvalidTag,
    InvalidToken,
    InvalidURI,
    KeyTooLongError,
    /// A POST body that is not well-formed multipart/form-data.
    MalformedPOSTRequest,
    /// Trailing headers of an aws-chunked body that are not well-formed (or too large).
    MalformedTrailerError,
    MalformedXML,
    /// The POST form fields before the file are larger than the gateway reads.
    MaxPostPreDataLengthExceededError,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotImplemented,
    PreconditionFailed,
    /// The request head (header names and values) is larger than the gateway reads.
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
    /// The backend could not be reached or answered nonsense.
    BadGateway,
    /// The backend did not answer in time.
    GatewayTimeout,
}

impl ErrorCode {
    /// The code as written in the XML `<Code>` element.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AccessForbidden => "AccessForbidden",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::BadRequest => "BadRequest",
            Self::BucketAlreadyExists => "BucketAlreadyExists",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::ExpiredToken => "ExpiredToken",
            Self::IncorrectNumberOfFilesInPostRequest => "IncorrectNumberOfFilesInPostRequest",
            Self::IncompleteBody => "IncompleteBody",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::InvalidPolicyDocument => "InvalidPolicyDocument",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidRetentionPeriod => "InvalidRetentionPeriod",
            Self::InvalidTag => "InvalidTag",
            Self::InvalidToken => "InvalidToken",
            Self::InvalidURI => "InvalidURI",
            Self::KeyTooLongError => "KeyTooLongError",
            Self::MalformedPOSTRequest => "MalformedPOSTRequest",
            Self::MalformedTrailerError => "MalformedTrailerError",
            Self::MalformedXML => "MalformedXML",
            Self::MaxPostPreDataLengthExceededError => "MaxPostPreDataLengthExceededError",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::MissingContentLength => "MissingContentLength",
            Self::MissingSecurityHeader => "MissingSecurityHeader",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NotImplemented => "NotImplemented",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::SlowDown => "SlowDown",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            Self::BadGateway => "BadGateway",
            Self::GatewayTimeout => "GatewayTimeout",
        }
    }

    /// The HTTP status S3 answers this code with.
    pub fn status(self) -> u16 {
        match self {
            Self::AccessDenied
            | Self::AccessForbidden
            | Self::InvalidAccessKeyId
            | Self::RequestTimeTooSkewed
            | Self::SignatureDoesNotMatch => 403,
            Self::NoSuchBucket | Self::NoSuchKey | Self::NoSuchUpload => 404,
            Self::MethodNotAllowed => 405,
            Self::BucketAlreadyExists | Self::BucketAlreadyOwnedByYou => 409,
            Self::MissingContentLength => 411,
            Self::PreconditionFailed => 412,
            Self::InvalidRange => 416,
            Self::InternalError => 500,
            Self::NotImplemented => 501,
            Self::BadGateway => 502,
            Self::ServiceUnavailable | Self::SlowDown => 503,
            Self::GatewayTimeout => 504,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 protocol error: what the client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error {
    /// The S3 code.
    pub code: ErrorCode,
    /// A message that says which check failed. Never contains a secret.
    pub message: String,
    /// The resource the request named (`/bucket/key`), if known.
    pub resource: Option<String>,
    /// Extra elements for the XML body (`<StringToSign>`-free: only safe, helpful fields such as
    /// `CanonicalRequestHash`, `ServerTime`, `MaxSizeAllowed`).
    pub details: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            resource: None,
            details: Vec::new(),
        }
    }

    /// Sets the resource.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Adds an extra XML element.
    #[must_use]
    pub fn with_detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The S3 `<Error>` document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        out.push_str(self.code.as_str());
        out.push_str("</Code><Message>");
        push_escaped(&mut out, &self.message);
        out.push_str("</Message>");
        if let Some(r) = &self.resource {
            out.push_str("<Resource>");
            push_escaped(&mut out, r);
            out.push_str("</Resource>");
        }
        for (name, value) in &self.details {
            out.push('<');
            out.push_str(name);
            out.push('>');
            push_escaped(&mut out, value);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        out.push_str("<RequestId>");
        push_escaped(&mut out, request_id);
        out.push_str("</RequestId></Error>");
        out
    }

    /// Shorthands for the common cases.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, message)
    }
    /// `InvalidArgument`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    /// `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
    /// `NotImplemented`.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotImplemented, message)
    }
    /// `InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

/// Appends `s` with the five XML special characters escaped.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are written as references S3 also uses.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
