//! Provider option checks: what only a backend knows about its `backend_options` (Azure's
//! options and account key, federation settings). The config checks everything else when it
//! is read ([`crate::config::validate`]); these run when the gateway is built, once per config
//! snapshot, and report in the same form (`buckets[0].backend_options.access_key: ...`), so
//! `multistore-server check` and a refused config print the same lines as before.

use crate::backend::federation::Federation;
use crate::config::{BackendType, BucketConfig, GatewayConfig};

/// Problems (the config is refused) and warnings found in the buckets' backend options.
#[derive(Debug, Default)]
pub(crate) struct OptionReport {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl OptionReport {
    pub(crate) fn problem(&mut self, path: &str, msg: impl AsRef<str>) {
        self.problems.push(format!("{path}: {}", msg.as_ref()));
    }

    pub(crate) fn warn(&mut self, path: &str, msg: impl AsRef<str>) {
        self.warnings.push(format!("{path}: {}", msg.as_ref()));
    }
}

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

/// `auth_type = "oidc"`: the STS settings are usable, and no static credentials compete with
/// them. Whether the gateway has an OIDC provider is a runtime matter (such buckets answer 503
/// without one), not a reason to refuse the document.
pub(crate) fn check_federation(b: &BucketConfig, path: &str, r: &mut OptionReport) {
    if let Err(e) = Federation::from_bucket(b) {
        r.problem(path, e);
        return;
    }
    for k in [
        "access_key_id",
        "secret_access_key",
        "token",
        "session_token",
        "service_account_key",
        "client_email",
        "private_key",
    ] {
        if b.option(k).is_some() {
            r.problem(
                &format!("{path}.{k}"),
                "not allowed with auth_type = \"oidc\" (the credentials come from STS)",
            );
        }
    }
    if b.option_bool("skip_signature") == Some(true) {
        r.problem(
            &format!("{path}.skip_signature"),
            "not allowed with auth_type = \"oidc\" (requests are signed with the STS credentials)",
        );
    }
}

#[cfg(test)]
mod tests;
