//! The S3 protocol surface: request parsing and classification, XML documents, errors, and the
//! wire helpers every backend shares (conditions, metadata, ranges, limits).

pub mod conditions;
pub mod error;
pub mod limits;
pub mod lock;
pub mod metadata;
pub mod params;
pub mod ranges;
pub mod request;
pub mod xml;

pub use error::{ErrorCode, S3Error};
pub use request::{Operation, S3Request};
