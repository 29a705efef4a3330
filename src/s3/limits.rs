//! S3's size and time limits, and the copy sizes derived from them: facts of the protocol that
//! config validation, authentication, the pipeline and the backends all check against, so they
//! live on the ground floor.

/// Largest single PUT S3 accepts, and the largest part: copies above it go multipart.
pub(crate) const MAX_SINGLE_PUT: u64 = 5 << 30;
/// Smallest part S3 accepts (all parts but the last).
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;
/// Most parts one multipart upload may have (S3's limit).
pub(crate) const MAX_PARTS: u16 = 10_000;
/// Longest validity of a presigned URL S3 allows (7 days), in seconds.
pub(crate) const MAX_PRESIGN_EXPIRES: i64 = 604_800;
/// Default part size of a multipart streamed copy.
pub(crate) const DEFAULT_PART_SIZE: u64 = 512 << 20;

/// The sizes that decide between one PUT and a multipart upload.
#[derive(Clone, Copy, Debug)]
pub struct CopyLimits {
    /// Objects larger than this are copied in parts (at most [`MAX_SINGLE_PUT`]).
    pub multipart_threshold: u64,
    /// Part size of those copies (raised when the object would need more than 10,000 parts).
    pub part_size: u64,
}

impl Default for CopyLimits {
    fn default() -> Self {
        CopyLimits {
            multipart_threshold: MAX_SINGLE_PUT,
            part_size: DEFAULT_PART_SIZE,
        }
    }
}
