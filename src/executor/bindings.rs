//! What the Worker decides between the R2 binding calls of one request, without making them:
//! whether a multipart completion may go ahead, how long a copied part is, what metadata a copy
//! writes. The calls and the JS objects stay in the runtime.

use crate::gateway::{Conditions, HttpMetadata, R2Object, R2Outcome};

/// Whether a CompleteMultipartUpload under `conditions` may go ahead, given the object now at
/// its key (`None`: there is none): `None` when it may, else the outcome to answer instead.
pub fn completion_blocked(
    conditions: &Conditions,
    existing: Option<&R2Object>,
) -> Option<R2Outcome> {
    match existing {
        None if !conditions.if_match.is_empty() => Some(R2Outcome::Missing),
        None => None,
        Some(object) if !conditions.hold_for_write(object) => Some(R2Outcome::PreconditionFailed),
        Some(_) => None,
    }
}

/// The length of an UploadPartCopy's part from a source of `size` bytes: its `range` (offset,
/// length), or the whole source; `None` when the range runs past the source's end (answered
/// `R2Outcome::InvalidCopyRange`).
pub fn part_copy_length(range: Option<(u64, u64)>, size: u64) -> Option<u64> {
    match range {
        Some((offset, length)) => (offset.saturating_add(length) <= size).then_some(length),
        None => Some(size),
    }
}

/// The metadata a copy writes: the request's replacement, or the source's own.
pub fn copy_metadata(
    replace: Option<&(HttpMetadata, Vec<(String, String)>)>,
    source: &R2Object,
) -> (HttpMetadata, Vec<(String, String)>) {
    match replace {
        Some((http, custom)) => (http.clone(), custom.clone()),
        None => (source.http.clone(), source.custom.clone()),
    }
}

#[cfg(test)]
mod tests;
