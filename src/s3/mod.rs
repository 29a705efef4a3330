//! The S3 protocol surface: request parsing and classification, XML documents, errors.

pub mod error;
pub mod limits;
pub mod lock;
pub mod request;
pub mod xml;

pub use error::{ErrorCode, S3Error};
pub use request::{Operation, S3Request};
