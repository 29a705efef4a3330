//! Backends: turning an authorized S3 operation into a backend request (presigned URL, headers,
//! response handling). One planner per bucket, built once per config snapshot.

pub mod azure;
pub mod gcs;
pub(crate) mod options;
pub mod r2;
pub mod s3;
