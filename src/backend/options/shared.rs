//! What the provider option checks share (below them: [`super`] dispatches to them): the
//! report they write to, and the check of federation settings every federated backend runs.

use crate::backend::federation::Federation;
use crate::config::BucketConfig;

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
