//! Provider option checks: what only a backend knows about its `backend_options` (Azure's
//! options and account key, federation settings). The config checks everything else when it
//! is read ([`crate::config::validate`]); these run when the gateway is built, once per config
//! snapshot, and report in the same form (`buckets[0].backend_options.access_key: ...`), so
//! `multistore-server check` and a refused config print the same lines as before.

use crate::config::{BackendType, BucketConfig, GatewayConfig};

pub(crate) mod shared;

pub(crate) use shared::{check_federation, OptionReport};

/// Every bucket's backend options, by the path the config names them with
/// (`buckets[i].backend_options`).
pub(crate) fn check_config(config: &GatewayConfig) -> OptionReport {
    let mut r = OptionReport::default();
    for (i, b) in config.buckets.iter().enumerate() {
        check_bucket(b, &format!("buckets[{i}].backend_options"), &mut r);
    }
    r
}

/// [`check_bucket`] in the form the config reader takes ([`crate::config::validate::OptionCheck`]).
pub(crate) fn check_options(b: &BucketConfig, path: &str) -> (Vec<String>, Vec<String>) {
    let mut r = OptionReport::default();
    check_bucket(b, path, &mut r);
    (r.problems, r.warnings)
}

/// One bucket's backend options (`path`: where they are in the config).
pub(crate) fn check_bucket(b: &BucketConfig, path: &str, r: &mut OptionReport) {
    match b.backend_type {
        BackendType::Azure => crate::backend::azure::options::check(b, path, r),
        BackendType::S3 | BackendType::Gcs if b.option("auth_type").is_some() => {
            check_federation(b, path, r)
        }
        BackendType::S3 | BackendType::Gcs | BackendType::R2 => {}
    }
}

#[cfg(test)]
mod tests;
