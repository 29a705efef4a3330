//! An upload's length as its headers state it, the headers of an aws-chunked upload whose
//! framing the gateway removes, and the body of an upload to a backend that takes a plain body
//! (R2, Azure).

use http::HeaderMap;

use crate::auth::{Authenticated, PayloadMode};
use crate::backend::s3::set_header;
use crate::chunked::SignedChunkDecoder;
use crate::payload::PayloadVerifier;
use crate::plan::{strip_aws_chunked, ForwardBody};
use crate::s3::limits::MAX_SINGLE_PUT;
use crate::s3::request::RequestHead;
use crate::s3::{ErrorCode, S3Error};

/// The largest body one upload request may carry (PutObject, UploadPart): S3's 5 GiB.
pub(crate) const MAX_UPLOAD_LENGTH: u64 = MAX_SINGLE_PUT;

/// How long an upload's body is, as its headers state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UploadLength {
    /// A body forwarded as it is sent: `Content-Length` bytes.
    Plain(u64),
    /// An aws-chunked body: `wire` bytes as sent (`None`: sent with `Transfer-Encoding:
    /// chunked` and no `Content-Length`, as the AWS SDK for JavaScript v3 sends a stream), and
    /// `decoded` bytes once its framing is removed (`x-amz-decoded-content-length`).
    Chunked {
        /// `Content-Length`, when the client sent one.
        wire: Option<u64>,
        /// `x-amz-decoded-content-length`.
        decoded: u64,
    },
}

impl UploadLength {
    /// The upload's length as the request states it: `Content-Length`, or for an aws-chunked
    /// payload (`payload`) `x-amz-decoded-content-length`, which then suffices on its own. A
    /// body that states no length at all is 411 `MissingContentLength`, as S3 answers.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        payload: &PayloadMode,
    ) -> Result<Self, S3Error> {
        let wire = if headers.contains_key(http::header::CONTENT_LENGTH) {
            Some(content_length(headers)?)
        } else {
            None
        };
        let chunked = matches!(
            payload,
            PayloadMode::StreamingUnsignedTrailer | PayloadMode::StreamingSigned { .. }
        );
        match (chunked, wire) {
            (false, Some(wire)) => Ok(UploadLength::Plain(wire)),
            (false, None) => Err(S3Error::new(
                ErrorCode::MissingContentLength,
                "you must provide the Content-Length HTTP header",
            )),
            (true, wire) => Ok(UploadLength::Chunked {
                wire,
                decoded: decoded_content_length(headers)?,
            }),
        }
    }
}

/// `x-amz-decoded-content-length` of an aws-chunked upload: one decimal number of bytes, at
/// most [`MAX_UPLOAD_LENGTH`].
fn decoded_content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    const NAME: &str = "x-amz-decoded-content-length";
    let mut values = headers.get_all(NAME).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(NAME) {
            S3Error::invalid_argument(format!("{NAME} is given more than once"))
                .with_detail("ArgumentName", NAME)
        } else {
            S3Error::new(
                ErrorCode::MissingContentLength,
                "an aws-chunked upload needs x-amz-decoded-content-length",
            )
        });
    };
    let digits = value.as_bytes();
    let decoded = Some(digits)
        .filter(|d| (1..=20).contains(&d.len()) && d.iter().all(u8::is_ascii_digit))
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(format!("{NAME} is not a decimal number of bytes"))
                .with_detail("ArgumentName", NAME)
        })?;
    if decoded > MAX_UPLOAD_LENGTH {
        return Err(S3Error::new(
            ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_detail("ProposedSize", decoded.to_string())
        .with_detail("MaxSizeAllowed", MAX_UPLOAD_LENGTH.to_string()));
    }
    Ok(decoded)
}

/// The headers of an aws-chunked upload whose body the gateway decodes: the backend gets the
/// plain body of `decoded` bytes; framing and trailer stay here.
pub(crate) fn unframe_aws_chunked(headers: &mut HeaderMap, decoded: u64) {
    set_header(headers, "content-length", &decoded.to_string());
    for name in [
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-sdk-checksum-algorithm",
    ] {
        headers.remove(name);
    }
    match headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(strip_aws_chunked)
    {
        Some(v) => {
            headers.insert(http::header::CONTENT_ENCODING, v);
        }
        None => {
            headers.remove(http::header::CONTENT_ENCODING);
        }
    }
}

/// The declared body length: required for uploads, as S3 requires it.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    let Some(v) = headers.get(http::header::CONTENT_LENGTH) else {
        return Err(S3Error::new(
            ErrorCode::MissingContentLength,
            "you must provide the Content-Length HTTP header",
        ));
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| S3Error::invalid_argument("Content-Length is not a number"))
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
