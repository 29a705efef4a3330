//! An Azure bucket's own option checks: run when the gateway is built (once per config
//! snapshot), reported with the same paths as the config's own checks.

use super::SigningKey;
use crate::backend::options::shared::{check_federation, OptionReport};
use crate::config::validate::is_http_url;
use crate::config::BucketConfig;

/// Backend options an Azure bucket understands.
pub(crate) const OPTIONS: &[&str] = &[
    "account_name",
    "container_name",
    "access_key",
    "account_key",
    "endpoint",
    "skip_signature",
    "auth_type",
    "tenant_id",
    "client_id",
    "token_endpoint",
    "oidc_audience",
    "oidc_subject",
];

/// An Azure bucket's credentials and endpoint; unknown options are warned about.
pub(crate) fn check(b: &BucketConfig, path: &str, r: &mut OptionReport) {
    let at = |k: &str| format!("{path}.{k}");
    for k in b.backend_options.keys() {
        if !OPTIONS.contains(&k.as_str()) {
            r.warn(
                &at(k),
                "unknown option for az backends, ignored (known: account_name, container_name, \
                 access_key, endpoint, skip_signature, auth_type and its settings)",
            );
        }
    }
    if let Some(e) = b.option("endpoint") {
        if !is_http_url(e) {
            r.problem(
                &at("endpoint"),
                "not an http(s) URL (expected e.g. https://ACCOUNT.blob.core.windows.net)",
            );
        }
    }
    let key = b.option("access_key").or_else(|| b.option("account_key"));
    if b.option("auth_type").is_some() {
        check_federation(b, path, r);
        if key.is_some() {
            r.problem(
                &at("access_key"),
                "not allowed with auth_type = \"oidc\" (requests are signed with a user delegation key)",
            );
        }
    } else if b.option_bool("skip_signature") == Some(true) {
        if key.is_some() {
            r.warn(
                &at("access_key"),
                "ignored: skip_signature = true sends unsigned requests",
            );
        }
    } else {
        match key {
            None => r.problem(
                &at("access_key"),
                "missing (the storage account key; or skip_signature = true for a public \
                 container, or auth_type = \"oidc\")",
            ),
            Some(k) if !k.is_empty() && SigningKey::from_base64(k).is_none() => {
                r.problem(&at("access_key"), "not a base64 account key");
            }
            Some(_) => {}
        }
    }
}
