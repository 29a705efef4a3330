//! GCS's answers in S3's terms: its XML API answers as S3 does, but names user metadata
//! `x-goog-meta-*`, which clients read as `x-amz-meta-*`.

use http::HeaderName;

use super::amz_metadata_name;
use crate::backend::s3::Dialect;
use crate::plan::answer::{Answer, S3Answer};

/// A GCS bucket's answers.
#[derive(Debug, Default)]
pub(crate) struct GcsAnswer;

impl Answer for GcsAnswer {
    fn header_name(&self, name: &str) -> Option<HeaderName> {
        amz_metadata_name(name)
    }
}

/// The answer translation of an S3-protocol backend of this dialect.
pub(crate) fn for_dialect(dialect: Dialect) -> Box<dyn Answer> {
    match dialect {
        Dialect::Gcs => Box::new(GcsAnswer),
        Dialect::S3 => Box::new(S3Answer),
    }
}

#[cfg(test)]
mod tests;
