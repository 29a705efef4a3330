//! Byte ranges of the S3 protocol: `Range` of a GET and `x-amz-copy-source-range` of an
//! UploadPartCopy, parsed once, with S3's errors.

use crate::s3::limits::MAX_SINGLE_PUT;
use crate::s3::{ErrorCode, S3Error};

/// A byte range of a GET (`Range`), as a backend is asked for it: R2's `range` option of
/// `get`, the range of a streamed copy's read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
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

/// `Range: bytes=a-b | a- | -n`. Malformed or multiple ranges are ignored (the whole object),
/// as S3 does; `bytes=-0` and `b < a` cannot be satisfied.
pub(crate) fn parse_range(value: &str) -> Result<Option<ByteRange>, S3Error> {
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
            Some(n) => Ok(Some(ByteRange::Suffix(n))),
            None => Ok(None),
        },
        (false, true) => Ok(num(a).map(|offset| ByteRange::Bounded {
            offset,
            length: None,
        })),
        (false, false) => match (num(a), num(b)) {
            (Some(a), Some(b)) if b >= a => Ok(Some(ByteRange::Bounded {
                offset: a,
                length: Some(b - a + 1),
            })),
            _ => Ok(None),
        },
    }
}

/// `x-amz-copy-source-range: bytes=first-last` as `(first, last)`, both inclusive, as the header
/// states them: decimal digits only, `first <= last`, at most [`MAX_SINGLE_PUT`] bytes (the
/// largest part). Anything else is S3's `InvalidArgument`.
pub(crate) fn parse_copy_range(value: &str) -> Result<(u64, u64), S3Error> {
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
        .and_then(|(a, b)| Some((num(a)?, num(b)?)))
        .filter(|(a, b)| b >= a)
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            )
            .with_detail("ArgumentName", "x-amz-copy-source-range")
            .with_detail("ArgumentValue", value)
        })?;
    if last - first + 1 > MAX_SINGLE_PUT {
        return Err(S3Error::invalid_argument(
            "a part copied with x-amz-copy-source-range may be at most 5 GiB",
        )
        .with_detail("ArgumentName", "x-amz-copy-source-range"));
    }
    Ok((first, last))
}
