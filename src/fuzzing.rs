//! Fuzzing and property-test entry points (issue 16). Not an API: hidden from the docs, no
//! stability promise.
//!
//! Thin wrappers over the crate-private parsers the fuzz targets (`fuzz/`, cargo-fuzz) and the
//! property tests drive; every other parser they drive is public already. [`harness`] holds
//! the targets' bodies (input decoding plus the invariants each asserts) so that the nightly
//! fuzzer and the stable property tests run exactly the same code; it is compiled only for
//! tests and for `--cfg fuzzing` builds (which cargo-fuzz sets), never into the gateway.

use crate::auth::sigv4::SigningKeyCache;
use crate::auth::{AuthSettings, CredentialStore};
use crate::policy::Identity;
use crate::post::{PostForm, PostPolicy};
use crate::s3::S3Error;
use crate::time::Timestamp;

#[cfg(any(test, fuzzing))]
pub mod harness;
#[cfg(test)]
mod props;

/// [`crate::post`]'s form authentication: who signed the form, and the policy they signed.
pub fn post_authenticate(
    form: &PostForm,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    keys: &SigningKeyCache,
    now: Timestamp,
) -> Result<(Identity, Option<PostPolicy>), S3Error> {
    crate::post::authenticate(form, store, settings, keys, now).map(|a| (a.identity, a.policy))
}

/// [`crate::post`]'s object key: the `key` field with `${filename}` expanded.
pub fn post_object_key(form: &PostForm) -> Result<String, S3Error> {
    crate::post::object_key(form)
}
