//! Limits of the S3 protocol the gateway keeps, wherever it plans.

/// Largest single PUT S3 accepts, and the largest part: copies above it go multipart.
pub const MAX_SINGLE_PUT: u64 = 5 << 30;
/// Smallest part S3 accepts (all parts but the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
