//! S3-compatible backends.
