//! Reading a config document into [`GatewayConfig`], field by field, so that every problem is
//! reported at once with its path, and semantic checks on the result.
//!
//! The text is first parsed into a generic JSON value (TOML is converted, datetimes becoming
//! RFC 3339 strings); each field is then read with its own path. Messages say what was expected,
//! never the value found, so a mistyped secret is never echoed.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::{
    is_secret_option, parse_bool, BackendType, BucketConfig, ConfigError, ConfigFormat, CorsRule,
    CredentialConfig, GatewayConfig, PathMapping, RoleConfig,
};
use crate::auth::secret::SecretKey;
use crate::policy::{is_glob, Action, Scope};
use crate::s3::limits::{MAX_SINGLE_PUT, MIN_PART_SIZE};
use crate::time::Timestamp;

mod buckets;
mod cors;
mod credentials;
mod cross_checks;
mod document;
mod path_mapping;
mod reader;
mod roles;
mod scopes;

pub(crate) use buckets::*;
use cors::*;
use credentials::*;
pub(crate) use cross_checks::*;
pub(crate) use document::*;
use path_mapping::*;
use reader::*;
use roles::*;
use scopes::*;

/// AWS's floor for a session (AssumeRoleWithWebIdentity `DurationSeconds`).
pub(crate) const MIN_SESSION_SECS: u64 = 900;
/// AWS's ceiling for a role's maximum session (12 hours).
pub(crate) const MAX_SESSION_SECS: u64 = 43_200;

/// Reads and validates a whole document.
pub(crate) fn from_value(value: &Value) -> Result<(GatewayConfig, Vec<String>), ConfigError> {
    let (config, warnings) = from_value_reporting(value);
    config.map(|c| (c, warnings))
}

/// [`from_value`], with the warnings returned whether or not there are problems.
pub(crate) fn from_value_reporting(
    value: &Value,
) -> (Result<GatewayConfig, ConfigError>, Vec<String>) {
    from_value_checked(value, None)
}

/// A backend's own checks of a bucket's options, given by the layer that knows the backends
/// (`crate::backend::options`): the bucket and the path of its options
/// (`buckets[i].backend_options`) in, `(problems, warnings)` out, each prefixed by its path.
pub(crate) type OptionCheck<'c> = &'c dyn Fn(&BucketConfig, &str) -> (Vec<String>, Vec<String>);

/// [`from_value_reporting`], with `check` run on each bucket's options as the bucket is read, so
/// its problems and warnings come in the document's order among the others.
pub(crate) fn from_value_checked(
    value: &Value,
    check: Option<OptionCheck<'_>>,
) -> (Result<GatewayConfig, ConfigError>, Vec<String>) {
    let Value::Object(map) = value else {
        let problem = format!("(top level): expected a table, found {}", type_name(value));
        return (Err(ConfigError::one(problem)), Vec::new());
    };
    let mut r = Report::default();
    let top = Obj {
        map,
        path: String::new(),
    };
    let field = |k: &str| k.to_string();
    let mapping = read_path_mapping(top.get("path_mapping"), &mut r);
    let top_opt = |k: &str, r: &mut Report| match top.get(k) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            r.problem(k, format!("expected a string, found {}", type_name(v)));
            None
        }
    };
    let config = GatewayConfig {
        buckets: list_of_tables(top.get("buckets"), &field("buckets"), &mut r)
            .iter()
            .filter_map(|o| read_bucket(o, mapping.as_ref(), check, &mut r))
            .collect(),
        roles: list_of_tables(top.get("roles"), &field("roles"), &mut r)
            .iter()
            .filter_map(|o| read_role(o, &mut r))
            .collect(),
        credentials: list_of_tables(top.get("credentials"), &field("credentials"), &mut r)
            .iter()
            .filter_map(|o| read_credential(o, &mut r))
            .collect(),
        owner_id: top_opt("owner_id", &mut r),
        owner_display_name: top_opt("owner_display_name", &mut r),
        region: top_opt("region", &mut r),
        allow_sigv2: top.bool_or("allow_sigv2", true, &mut r),
        path_mapping: mapping,
        copy_multipart_threshold: top.opt_number("copy_multipart_threshold", "bytes", &mut r),
        copy_part_size: top.opt_number("copy_part_size", "bytes", &mut r),
    };
    top.warn_unknown(TOP_KEYS, &mut r);
    top_values(&config, &mut r);
    duplicates(&config, &mut r);
    mapped_names(&config, &mut r);
    references(&config, &mut r);
    if r.problems.is_empty() {
        (Ok(config), r.warnings)
    } else {
        let problems = r.problems;
        (Err(ConfigError { problems }), r.warnings)
    }
}

const TOP_KEYS: &[&str] = &[
    "buckets",
    "roles",
    "credentials",
    "owner_id",
    "owner_display_name",
    "region",
    "allow_sigv2",
    "path_mapping",
    "copy_multipart_threshold",
    "copy_part_size",
];

/// The checks of the top-level values: a region name, copy sizes S3 allows for a part.
fn top_values(config: &GatewayConfig, r: &mut Report) {
    if let Some(region) = &config.region {
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            r.problem("region", "expected a region name like us-east-1");
        }
    }
    for (key, value) in [
        ("copy_multipart_threshold", config.copy_multipart_threshold),
        ("copy_part_size", config.copy_part_size),
    ] {
        if value.is_some_and(|v| !(MIN_PART_SIZE..=MAX_SINGLE_PUT).contains(&v)) {
            r.problem(
                key,
                "expected a number of bytes from 5 MiB (5242880) to 5 GiB (5368709120)",
            );
        }
    }
}
