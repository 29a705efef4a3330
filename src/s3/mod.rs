//! The S3 protocol surface: request parsing and classification, XML documents, errors, and the
//! wire helpers every backend shares (conditions, metadata, ranges, limits).

pub(crate) mod conditions;
pub(crate) mod error;
pub(crate) mod limits;
pub(crate) mod lock;
pub(crate) mod metadata;
pub(crate) mod params;
pub(crate) mod ranges;
pub(crate) mod request;
pub(crate) mod xml;

pub use error::{ErrorCode, S3Error};
pub use request::{Operation, S3Request};
