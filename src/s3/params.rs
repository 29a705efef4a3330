//! Query parameters with S3's own parsing rules.

use crate::s3::request::S3Request;
use crate::s3::S3Error;

/// An integer query parameter in `0..=max` (absent: `default`); S3's `InvalidArgument` else.
pub(crate) fn int_param(
    req: &S3Request,
    name: &str,
    default: u32,
    max: u32,
) -> Result<u32, S3Error> {
    match req.query_param(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| u32::try_from(n.min(i64::from(max))).unwrap_or(max))
            .ok_or_else(|| {
                S3Error::invalid_argument(format!(
                    "Provided {name} not an integer or within integer range"
                ))
                .with_detail("ArgumentName", name)
            }),
    }
}
