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

/// AWS's floor for a session (AssumeRoleWithWebIdentity `DurationSeconds`).
pub(crate) const MIN_SESSION_SECS: u64 = 900;
/// AWS's ceiling for a role's maximum session (12 hours).
pub(crate) const MAX_SESSION_SECS: u64 = 43_200;

/// Parses `text` into a generic value. Syntax errors give a position, never the offending text
/// (it may be a secret).
pub(crate) fn to_value(text: &str, format: ConfigFormat) -> Result<Value, ConfigError> {
    match format {
        ConfigFormat::Json => serde_json::from_str(text).map_err(|e| {
            ConfigError::one(format!(
                "syntax: invalid JSON at line {} column {} ({})",
                e.line(),
                e.column(),
                json_error_kind(&e)
            ))
        }),
        ConfigFormat::Toml => match toml::from_str::<toml::Table>(text) {
            Ok(t) => Ok(toml_to_json(toml::Value::Table(t))),
            Err(e) => {
                let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
                let msg = e
                    .message()
                    .lines()
                    .next()
                    .unwrap_or("invalid TOML")
                    .to_string();
                Err(ConfigError::one(format!(
                    "syntax: invalid TOML at line {line} column {col} ({msg})"
                )))
            }
        },
    }
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of file",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "invalid data",
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Problems and warnings collected while reading.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Report {
    fn problem(&mut self, path: &str, msg: impl AsRef<str>) {
        self.problems.push(format!("{path}: {}", msg.as_ref()));
    }
    fn warn(&mut self, path: &str, msg: impl AsRef<str>) {
        self.warnings.push(format!("{path}: {}", msg.as_ref()));
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// One object being read, with its path.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Present and not null.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req_str(&self, key: &str, r: &mut Report) -> Option<String> {
        if self.get(key).is_none() {
            r.problem(&self.at(key), "missing");
            return None;
        }
        self.opt_str(key, r)
    }

    fn opt_str(&self, key: &str, r: &mut Report) -> Option<String> {
        match self.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected a string, found {}", type_name(v)),
                );
                None
            }
        }
    }

    fn bool_or(&self, key: &str, default: bool, r: &mut Report) -> bool {
        match self.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if parse_bool(s).is_some() => parse_bool(s).unwrap_or(default),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected true or false, found {}", type_name(v)),
                );
                default
            }
        }
    }

    fn opt_u64(&self, key: &str, r: &mut Report) -> Option<u64> {
        self.opt_number(key, "seconds", r)
    }

    /// A whole number of `unit`s (a number, or a string of digits).
    fn opt_number(&self, key: &str, unit: &str, r: &mut Report) -> Option<u64> {
        match self.get(key) {
            None => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
            Some(_) => {
                r.problem(&self.at(key), format!("expected a whole number of {unit}"));
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-element list when `one_ok`.
    fn str_list(&self, key: &str, one_ok: bool, r: &mut Report) -> Vec<String> {
        self.str_list_from(key, self.get(key), one_ok, r)
    }

    fn str_list_from(
        &self,
        key: &str,
        v: Option<&Value>,
        one_ok: bool,
        r: &mut Report,
    ) -> Vec<String> {
        match v {
            None => Vec::new(),
            Some(Value::String(s)) if one_ok => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        r.problem(
                            &format!("{}[{i}]", self.at(key)),
                            format!("expected a string, found {}", type_name(other)),
                        );
                        None
                    }
                })
                .collect(),
            Some(v) => {
                r.problem(
                    &self.at(key),
                    format!("expected a list of strings, found {}", type_name(v)),
                );
                Vec::new()
            }
        }
    }

    /// Elements of a list of tables, each with its path.
    fn tables(&self, key: &str, r: &mut Report) -> Vec<Obj<'a>> {
        list_of_tables(self.get(key), &self.at(key), r)
    }

    fn warn_unknown(&self, known: &[&str], r: &mut Report) {
        for k in self.map.keys() {
            if !known.contains(&k.as_str()) {
                r.warn(&self.at(k), "unknown key, ignored");
            }
        }
    }
}

fn list_of_tables<'a>(v: Option<&'a Value>, path: &str, r: &mut Report) -> Vec<Obj<'a>> {
    match v {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let path = format!("{path}[{i}]");
                match v {
                    Value::Object(map) => Some(Obj { map, path }),
                    other => {
                        r.problem(
                            &path,
                            format!("expected a table, found {}", type_name(other)),
                        );
                        None
                    }
                }
            })
            .collect(),
        Some(other) => {
            r.problem(
                path,
                format!("expected a list of tables, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}

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

const BUCKET_KEYS: &[&str] = &[
    "name",
    "backend_type",
    "backend_prefix",
    "anonymous_access",
    "allowed_roles",
    "backend_options",
    "cors",
    "cors_rules",
];

fn read_bucket(
    o: &Obj<'_>,
    mapping: Option<&PathMapping>,
    check: Option<OptionCheck<'_>>,
    r: &mut Report,
) -> Option<BucketConfig> {
    o.warn_unknown(BUCKET_KEYS, r);
    let name = o.req_str("name", r);
    if let Some(n) = &name {
        match mapping.filter(|m| n.contains(m.separator.as_str())) {
            // A mapped name is never a client's bucket name: its segments are checked below.
            Some(_) => {}
            None => check_bucket_name(n, &o.at("name"), r),
        }
    }
    let backend_type = match o.get("backend_type") {
        None => {
            r.problem(
                &o.at("backend_type"),
                "missing (one of s3, az, azure, gcs, gs, r2)",
            );
            None
        }
        Some(Value::String(s)) => {
            let t = BackendType::from_name(s);
            if t.is_none() {
                r.problem(
                    &o.at("backend_type"),
                    format!(
                        "unknown backend type '{s}' (expected one of s3, az, azure, gcs, gs, r2)"
                    ),
                );
            }
            t
        }
        Some(v) => {
            r.problem(
                &o.at("backend_type"),
                format!("expected a string, found {}", type_name(v)),
            );
            None
        }
    };
    // A folder, as in multistore 0.7: normalized once here, so every backend and every path
    // (keys, listings, copies, multipart, R2 records) prepends and strips `pfx/`.
    let backend_prefix =
        o.opt_str("backend_prefix", r)
            .and_then(|p| match crate::config::normalize_backend_prefix(&p) {
                Ok(p) => Some(p),
                Err(e) => {
                    let bucket = name.as_deref().unwrap_or("?");
                    r.problem(&o.at("backend_prefix"), format!("bucket '{bucket}': {e}"));
                    None
                }
            });
    let anonymous_access = o.bool_or("anonymous_access", false, r);
    let allowed_roles = o.str_list("allowed_roles", false, r);
    for (i, role) in allowed_roles.iter().enumerate() {
        if role.is_empty() {
            r.problem(&format!("{}[{i}]", o.at("allowed_roles")), "empty role id");
        }
    }
    let backend_options = read_options(o, r);
    let cors = read_cors(o, r);
    let bucket = BucketConfig {
        name: name?,
        backend_type: backend_type?,
        backend_prefix,
        anonymous_access,
        allowed_roles,
        backend_options,
        cors,
    };
    check_backend(&bucket, &o.at("backend_options"), r);
    if let Some(check) = check {
        let (problems, warnings) = check(&bucket, &o.at("backend_options"));
        r.problems.extend(problems);
        r.warnings.extend(warnings);
    }
    Some(bucket)
}

/// Keys of a CORS rule: ours, and S3's (`aws s3api put-bucket-cors` JSON) as aliases.
const CORS_KEYS: &[(&str, &str)] = &[
    ("id", "ID"),
    ("allowed_origins", "AllowedOrigins"),
    ("allowed_methods", "AllowedMethods"),
    ("allowed_headers", "AllowedHeaders"),
    ("expose_headers", "ExposeHeaders"),
    ("max_age_seconds", "MaxAgeSeconds"),
];

/// `cors` (or `cors_rules`): a list of S3 CORSRules. Absent: `None` (public buckets get the
/// default rule); an empty list: no CORS.
fn read_cors(o: &Obj<'_>, r: &mut Report) -> Option<Vec<CorsRule>> {
    let key = match (o.get("cors"), o.get("cors_rules")) {
        (None, None) => return None,
        (Some(_), Some(_)) => {
            r.problem(
                &o.at("cors_rules"),
                "give the rules either as cors or as cors_rules, not both",
            );
            "cors"
        }
        (Some(_), None) => "cors",
        (None, Some(_)) => "cors_rules",
    };
    let tables = o.tables(key, r);
    if tables.len() > crate::cors::MAX_RULES {
        r.problem(
            &o.at(key),
            format!("at most {} rules per bucket", crate::cors::MAX_RULES),
        );
    }
    Some(tables.iter().filter_map(|t| read_cors_rule(t, r)).collect())
}

fn read_cors_rule(o: &Obj<'_>, r: &mut Report) -> Option<CorsRule> {
    let known: Vec<&str> = CORS_KEYS.iter().flat_map(|(a, b)| [*a, *b]).collect();
    o.warn_unknown(&known, r);
    // The name the file used (ours or S3's), for reading and for paths in messages.
    let name = |i: usize| {
        let (ours, s3) = CORS_KEYS[i];
        if o.get(ours).is_none() && o.get(s3).is_some() {
            s3
        } else {
            ours
        }
    };
    let id = o.opt_str(name(0), r);
    let origins = o.str_list(name(1), true, r);
    let methods = o.str_list(name(2), true, r);
    let allowed_headers = o.str_list(name(3), true, r);
    let expose_headers = o.str_list(name(4), true, r);
    let max_age_seconds = o.opt_u64(name(5), r);
    let before = r.problems.len();
    if origins.is_empty() {
        r.problem(&o.at(name(1)), "missing (at least one origin, or \"*\")");
    }
    for (i, origin) in origins.iter().enumerate() {
        let at = format!("{}[{i}]", o.at(name(1)));
        if origin.is_empty() {
            r.problem(&at, "empty origin");
        } else if origin.matches('*').count() > 1 {
            r.problem(&at, "an origin may hold at most one '*'");
        } else if origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
            r.problem(&at, "an origin may not contain spaces");
        }
    }
    if methods.is_empty() {
        r.problem(
            &o.at(name(2)),
            "missing (at least one of GET, PUT, POST, DELETE, HEAD)",
        );
    }
    let mut allowed_methods = Vec::with_capacity(methods.len());
    for (i, m) in methods.iter().enumerate() {
        let upper = m.to_ascii_uppercase();
        if crate::cors::CORS_METHODS.contains(&upper.as_str()) {
            if !allowed_methods.contains(&upper) {
                allowed_methods.push(upper);
            }
        } else {
            r.problem(
                &format!("{}[{i}]", o.at(name(2))),
                format!("unknown method '{m}' (expected GET, PUT, POST, DELETE or HEAD)"),
            );
        }
    }
    for (i, h) in allowed_headers.iter().enumerate() {
        let at = format!("{}[{i}]", o.at(name(3)));
        if h.matches('*').count() > 1 {
            r.problem(&at, "a header may hold at most one '*'");
        } else if !is_header_pattern(h) {
            r.problem(&at, "not a header name");
        }
    }
    for (i, h) in expose_headers.iter().enumerate() {
        if !is_header_pattern(h) {
            r.problem(&format!("{}[{i}]", o.at(name(4))), "not a header name");
        }
    }
    if r.problems.len() > before {
        return None;
    }
    Some(CorsRule {
        id,
        allowed_origins: origins,
        allowed_methods,
        allowed_headers,
        expose_headers,
        max_age_seconds,
    })
}

/// `[path_mapping]`: `segments` at least 2, `separator` non-empty and free of `/`, `*`, `?`
/// and whitespace.
fn read_path_mapping(v: Option<&Value>, r: &mut Report) -> Option<PathMapping> {
    let map = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Object(map)) => map,
        Some(other) => {
            r.problem(
                "path_mapping",
                format!("expected a table, found {}", type_name(other)),
            );
            return None;
        }
    };
    let o = Obj {
        map,
        path: "path_mapping".to_string(),
    };
    o.warn_unknown(&["segments", "separator"], r);
    let defaults = PathMapping::default();
    let segments = match o.get("segments") {
        None => defaults.segments,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (2..=16).contains(&n)) => {
            usize::try_from(n.as_u64().unwrap_or(2)).unwrap_or(2)
        }
        Some(_) => {
            r.problem(&o.at("segments"), "expected a whole number from 2 to 16");
            return None;
        }
    };
    let separator = o.opt_str("separator", r).unwrap_or(defaults.separator);
    if separator.is_empty()
        || separator
            .chars()
            .any(|c| c == '/' || c == '*' || c == '?' || c.is_whitespace() || c.is_control())
    {
        r.problem(
            &o.at("separator"),
            "expected a non-empty string without '/', '*', '?' or whitespace",
        );
        return None;
    }
    Some(PathMapping {
        segments,
        separator,
    })
}

/// With `[path_mapping]`: a name holding the separator must split into exactly `segments`
/// non-empty parts (the first a valid client bucket name), and no plain bucket may take an
/// account's name (it would hide the account's buckets).
fn mapped_names(c: &GatewayConfig, r: &mut Report) {
    let Some(m) = &c.path_mapping else { return };
    let mut accounts: HashMap<&str, usize> = HashMap::new();
    for (i, b) in c.buckets.iter().enumerate() {
        if !b.name.contains(m.separator.as_str()) {
            continue;
        }
        let at = format!("buckets[{i}].name");
        let parts: Vec<&str> = b.name.split(m.separator.as_str()).collect();
        if parts.len() != m.segments || parts.iter().any(|p| p.is_empty()) {
            r.problem(
                &at,
                format!(
                    "a mapped bucket name must be {} non-empty parts joined by '{}' (path_mapping)",
                    m.segments, m.separator
                ),
            );
            continue;
        }
        if is_glob(&b.name) {
            r.problem(&at, "a mapped bucket name cannot be a glob");
            continue;
        }
        if let Some(ch) = b
            .name
            .chars()
            .find(|ch| *ch == '/' || ch.is_whitespace() || ch.is_control())
        {
            r.problem(&at, format!("invalid bucket name: contains {ch:?}"));
            continue;
        }
        let mut sub = Report::default();
        check_bucket_name(parts[0], &at, &mut sub);
        r.problems.extend(sub.problems);
        r.warnings.extend(sub.warnings);
        accounts.entry(parts[0]).or_insert(i);
    }
    for (i, b) in c.buckets.iter().enumerate() {
        if let Some(j) = accounts.get(b.name.as_str()) {
            r.problem(
                &format!("buckets[{i}].name"),
                format!(
                    "'{}' is also the account of the mapped bucket buckets[{j}]; a plain bucket of that name would hide it",
                    b.name
                ),
            );
        }
    }
}

/// A header name, possibly with `*` in it.
fn is_header_pattern(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b == b'*' || b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b))
}

/// Bucket names: anything that cannot be routed is an error; names S3 itself would reject
/// (outside 3-63 characters of `a-z 0-9 . -`) are only a warning, because multistore 0.7
/// accepted any non-empty name and a 0.7 file must keep loading.
fn check_bucket_name(name: &str, path: &str, r: &mut Report) {
    if name.is_empty() {
        r.problem(path, "empty");
        return;
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
    {
        r.problem(path, format!("invalid bucket name: contains {c:?}"));
        return;
    }
    if name.len() > 255 {
        r.problem(path, "invalid bucket name: longer than 255 bytes");
        return;
    }
    // The request parser refuses any other byte in a bucket name (and `.`/`..`, which name no
    // bucket), so a bucket named so can never be reached. A warning, not an error, because a
    // multistore 0.7 file must keep loading; the warning says the bucket is dead.
    let glob = is_glob(name);
    let odd = name.chars().find(|&c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, '.' | '_' | '-')
            || glob && matches!(c, '*' | '?'))
    });
    if odd.is_some() || name == "." || name == ".." {
        let why = odd.map_or_else(
            || "it is a dot segment".to_string(),
            |c| format!("it contains {c:?}"),
        );
        r.warn(
            path,
            format!(
                "bucket name '{name}' is not a valid S3 bucket name and no request can reach it: \
                 {why} (requests name buckets with A-Z a-z 0-9 . _ - only)"
            ),
        );
        return;
    }
    if glob {
        return;
    }
    let dns_ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..");
    if !dns_ok {
        r.warn(
            path,
            format!(
                "bucket name '{name}' is not a valid S3 bucket name (3-63 characters of a-z 0-9 . -); \
                 some clients and virtual-hosted-style requests will not reach it"
            ),
        );
    }
}

fn read_options(o: &Obj<'_>, r: &mut Report) -> BTreeMap<String, String> {
    let path = o.at("backend_options");
    match o.get("backend_options") {
        None => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| {
                let s = match v {
                    Value::Null => return None,
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        r.problem(
                            &format!("{path}.{k}"),
                            format!(
                                "expected a string, boolean or number, found {}",
                                type_name(other)
                            ),
                        );
                        return None;
                    }
                };
                Some((k.clone(), s))
            })
            .collect(),
        Some(v) => {
            r.problem(&path, format!("expected a table, found {}", type_name(v)));
            BTreeMap::new()
        }
    }
}

fn check_backend(b: &BucketConfig, path: &str, r: &mut Report) {
    let at = |k: &str| format!("{path}.{k}");
    let need = |k: &str, r: &mut Report| {
        if b.option(k).is_none_or(|v| v.trim().is_empty()) {
            r.problem(
                &at(k),
                format!(
                    "missing (required for {} backends)",
                    b.backend_type.as_str()
                ),
            );
        }
    };
    for k in [
        "skip_signature",
        "virtual_hosted_style_request",
        "allow_http",
    ] {
        if b.option(k).is_some() && b.option_bool(k).is_none() {
            r.problem(&at(k), "expected true or false");
        }
    }
    for (k, v) in &b.backend_options {
        if is_secret_option(k) && v.is_empty() {
            // A warning, not an error: 0.7 passed it through, and a 0.7 file must keep loading.
            r.warn(&at(k), "empty secret value");
        }
    }
    match b.backend_type {
        BackendType::S3 => {
            // A pass-through (glob) bucket uses the client's bucket name at the backend.
            if !b.is_glob() {
                need("bucket_name", r);
            }
            if let Some(e) = b.option("endpoint") {
                if !is_http_url(e) {
                    r.problem(
                        &at("endpoint"),
                        "not an http(s) URL (expected e.g. https://s3.example.com)",
                    );
                }
            } else if b.option("region").is_none() {
                r.warn(
                    &at("endpoint"),
                    "neither endpoint nor region given: using AWS us-east-1 (https://s3.us-east-1.amazonaws.com)",
                );
            }
            if let Some(region) = b.option("region") {
                if region.is_empty() || region.chars().any(|c| c.is_whitespace() || c == '/') {
                    r.problem(&at("region"), "expected a region name like us-west-2");
                }
            }
            check_credentials(b, path, r);
        }
        BackendType::Azure => {
            need("account_name", r);
            need("container_name", r);
            // Its credentials, endpoint and other options are checked by the backend when the
            // gateway is built (crate::backend::options).
        }
        BackendType::Gcs => {
            need("bucket_name", r);
            if b.option("endpoint").is_some_and(|e| !is_http_url(e)) {
                r.problem(
                    &at("endpoint"),
                    "not an http(s) URL (expected e.g. https://storage.googleapis.com)",
                );
            }
            // The service account key is parsed when the gateway is built (its errors name
            // the bucket there too).
            check_credentials(b, path, r);
        }
        BackendType::R2 => need("binding", r),
    }
}

/// HMAC keys given as a pair (federation settings: see `crate::backend::options`).
fn check_credentials(b: &BucketConfig, path: &str, r: &mut Report) {
    let has_id = b.option("access_key_id").is_some();
    let has_secret = b.option("secret_access_key").is_some();
    // Federation settings are checked by the backend when the gateway is built
    // (crate::backend::options).
    if b.option("auth_type").is_none()
        && has_id != has_secret
        && b.option_bool("skip_signature") != Some(true)
    {
        let missing = if has_id {
            "secret_access_key"
        } else {
            "access_key_id"
        };
        r.problem(
            &format!("{path}.{missing}"),
            "missing (access_key_id and secret_access_key go together, or set skip_signature = true)",
        );
    }
}

/// `http://` or `https://` followed by a host, no whitespace.
pub(crate) fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .or_else(|| {
            s.get(..8)
                .filter(|p| p.eq_ignore_ascii_case("https://"))
                .and(s.get(8..))
        })
        .or_else(|| {
            s.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("http://"))
                .and(s.get(7..))
        });
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && !host.contains('@')
}

const ROLE_KEYS: &[&str] = &[
    "role_id",
    "name",
    "trusted_oidc_issuers",
    "required_audiences",
    "required_audience",
    "subject_conditions",
    "claim_conditions",
    "max_session_duration_secs",
    "allowed_scopes",
];

fn read_role(o: &Obj<'_>, r: &mut Report) -> Option<RoleConfig> {
    o.warn_unknown(ROLE_KEYS, r);
    let role_id = o.req_str("role_id", r);
    if role_id.as_deref() == Some("") {
        r.problem(&o.at("role_id"), "empty");
    }
    let name = o.opt_str("name", r);
    let trusted_oidc_issuers = read_issuers(o, r);
    let required_audiences = read_audiences(o, role_id.as_deref(), r);
    let subject_conditions = o.str_list("subject_conditions", false, r);
    if subject_conditions.is_empty() {
        r.warn(
            &o.at("subject_conditions"),
            "empty: no subject is accepted (write \"*\" to accept any subject)",
        );
    }
    let claim_conditions = read_claim_conditions(o, r);
    let max_session_duration_secs = read_session_duration(o, r);
    let allowed_scopes = read_scopes(o, true, r);
    Some(RoleConfig {
        role_id: role_id?,
        name,
        trusted_oidc_issuers,
        required_audiences,
        subject_conditions,
        claim_conditions,
        max_session_duration_secs,
        allowed_scopes,
    })
}

/// `trusted_oidc_issuers`: at least one, each an http(s) URL (https advised).
fn read_issuers(o: &Obj<'_>, r: &mut Report) -> Vec<String> {
    let trusted_oidc_issuers = o.str_list("trusted_oidc_issuers", false, r);
    if trusted_oidc_issuers.is_empty() {
        r.problem(
            &o.at("trusted_oidc_issuers"),
            "empty (the role would never accept a token)",
        );
    }
    for (i, iss) in trusted_oidc_issuers.iter().enumerate() {
        if !is_http_url(iss) {
            r.problem(
                &format!("{}[{i}]", o.at("trusted_oidc_issuers")),
                "not an http(s) URL",
            );
        } else if !iss.starts_with("https://") {
            r.warn(
                &format!("{}[{i}]", o.at("trusted_oidc_issuers")),
                "issuer is not https",
            );
        }
    }
    trusted_oidc_issuers
}

/// `required_audiences` (or `required_audience`, not both): at least one, none empty.
fn read_audiences(o: &Obj<'_>, role_id: Option<&str>, r: &mut Report) -> Vec<String> {
    let required_audiences = match (o.get("required_audiences"), o.get("required_audience")) {
        (Some(_), Some(_)) => {
            r.problem(
                &o.at("required_audience"),
                "both required_audience and required_audiences are set; keep one",
            );
            Vec::new()
        }
        (Some(v), None) => o.str_list_from("required_audiences", Some(v), true, r),
        (None, Some(v)) => o.str_list_from("required_audience", Some(v), true, r),
        (None, None) => Vec::new(),
    };
    let both = o.get("required_audiences").is_some() && o.get("required_audience").is_some();
    if required_audiences.iter().any(|a| a.trim().is_empty()) {
        r.problem(&o.at("required_audiences"), "an audience is empty");
    }
    if required_audiences.is_empty() && !both {
        // Fail closed: without an audience list any token of a trusted issuer, minted for any
        // application, would be accepted.
        r.problem(
            &o.at("required_audiences"),
            format!(
                "role '{}' has no required_audiences: it would accept a token minted for any \
                 audience; list the audiences its tokens carry (e.g. [\"sts.amazonaws.com\"])",
                role_id.unwrap_or("?")
            ),
        );
    }
    required_audiences
}

/// `max_session_duration_secs`, within the session bounds.
fn read_session_duration(o: &Obj<'_>, r: &mut Report) -> Option<u64> {
    let max_session_duration_secs = o.opt_u64("max_session_duration_secs", r);
    match max_session_duration_secs {
        Some(s) if s < MIN_SESSION_SECS => r.problem(
            &o.at("max_session_duration_secs"),
            format!("{s} is below the minimum session of {MIN_SESSION_SECS} seconds"),
        ),
        Some(s) if s > MAX_SESSION_SECS => r.problem(
            &o.at("max_session_duration_secs"),
            format!("{s} is above the maximum session of {MAX_SESSION_SECS} seconds (12 hours)"),
        ),
        _ => {}
    }
    max_session_duration_secs
}

/// `claim_conditions`: a table of claim name to a glob or a list of globs.
fn read_claim_conditions(o: &Obj<'_>, r: &mut Report) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    match o.get("claim_conditions") {
        None => {}
        Some(Value::Object(map)) => {
            let inner = Obj {
                map,
                path: o.at("claim_conditions"),
            };
            for (claim, v) in map {
                let globs = inner.str_list_from(claim, Some(v), true, r);
                if globs.is_empty() {
                    r.problem(
                        &inner.at(claim),
                        "no glob given (the condition could never be met)",
                    );
                }
                out.insert(claim.clone(), globs);
            }
        }
        Some(v) => r.problem(
            &o.at("claim_conditions"),
            format!(
                "expected a table of claim = glob(s), found {}",
                type_name(v)
            ),
        ),
    }
    out
}

const CREDENTIAL_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "principal_name",
    "created_at",
    "expires_at",
    "enabled",
    "allowed_scopes",
];

fn read_credential(o: &Obj<'_>, r: &mut Report) -> Option<CredentialConfig> {
    o.warn_unknown(CREDENTIAL_KEYS, r);
    let access_key_id = o.req_str("access_key_id", r);
    if let Some(id) = &access_key_id {
        if id.is_empty() {
            r.problem(&o.at("access_key_id"), "empty");
        } else if !id.bytes().all(|b| b.is_ascii_graphic()) || id.contains(['/', ',', '=']) {
            // It travels inside `Credential=AKID/date/region/s3/aws4_request`.
            r.problem(
                &o.at("access_key_id"),
                "must be printable ASCII without '/', ',' or '='",
            );
        }
    }
    // Read by hand: never echo the value, whatever its type.
    let secret = match o.get("secret_access_key") {
        None => {
            r.problem(&o.at("secret_access_key"), "missing");
            None
        }
        Some(Value::String(s)) => {
            if s.is_empty() {
                r.problem(&o.at("secret_access_key"), "empty");
            }
            Some(SecretKey::new(s.as_str()))
        }
        Some(v) => {
            r.problem(
                &o.at("secret_access_key"),
                format!("expected a string, found {}", type_name(v)),
            );
            None
        }
    };
    let principal_name = o.opt_str("principal_name", r);
    let created_at = o.opt_str("created_at", r);
    let expires_at = o.opt_str("expires_at", r);
    for (k, v) in [("created_at", &created_at), ("expires_at", &expires_at)] {
        if let Some(v) = v {
            if Timestamp::parse_rfc3339(v).is_none() {
                r.problem(&o.at(k), "not an RFC 3339 time (e.g. 2025-01-31T00:00:00Z)");
            }
        }
    }
    let enabled = o.bool_or("enabled", true, r);
    let allowed_scopes = read_scopes(o, false, r);
    Some(CredentialConfig {
        access_key_id: access_key_id?,
        secret_access_key: secret?,
        principal_name,
        created_at,
        expires_at,
        enabled,
        allowed_scopes,
    })
}

const SCOPE_KEYS: &[&str] = &["bucket", "prefixes", "actions"];

fn read_scopes(o: &Obj<'_>, templates: bool, r: &mut Report) -> Vec<Scope> {
    o.tables("allowed_scopes", r)
        .iter()
        .filter_map(|s| read_scope(s, templates, r))
        .collect()
}

fn read_scope(o: &Obj<'_>, templates: bool, r: &mut Report) -> Option<Scope> {
    o.warn_unknown(SCOPE_KEYS, r);
    let bucket = o.req_str("bucket", r);
    if bucket.as_deref() == Some("") {
        r.problem(&o.at("bucket"), "empty (write \"*\" for every bucket)");
    }
    let prefixes = o.str_list("prefixes", false, r);
    let check_template = |path: &str, s: &str, r: &mut Report| {
        if !templates && (s.contains('{') || s.contains('}')) {
            r.warn(
                path,
                "{claim} templates are only expanded in role scopes; taken literally here",
            );
        } else if templates && !balanced_template(s) {
            r.problem(path, "unbalanced {claim} template");
        }
    };
    if let Some(b) = &bucket {
        check_template(&o.at("bucket"), b, r);
    }
    for (i, p) in prefixes.iter().enumerate() {
        let path = format!("{}[{i}]", o.at("prefixes"));
        check_template(&path, p, r);
        if p.starts_with('/') {
            r.warn(
                &path,
                "keys never start with '/'; this prefix matches nothing a client sends",
            );
        }
    }
    let actions = match o.get("actions") {
        None => {
            r.problem(&o.at("actions"), "missing");
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let path = format!("{}[{i}]", o.at("actions"));
                match v {
                    Value::String(s) => {
                        let a = Action::from_name(s);
                        if a.is_none() {
                            r.problem(
                                &path,
                                format!(
                                    "unknown action '{s}' (expected one of {})",
                                    Action::NAMES.join(", ")
                                ),
                            );
                        }
                        a
                    }
                    other => {
                        r.problem(
                            &path,
                            format!("expected a string, found {}", type_name(other)),
                        );
                        None
                    }
                }
            })
            .collect(),
        Some(v) => {
            r.problem(
                &o.at("actions"),
                format!("expected a list of actions, found {}", type_name(v)),
            );
            Vec::new()
        }
    };
    Some(Scope {
        bucket: bucket?,
        prefixes,
        actions,
    })
}

fn balanced_template(s: &str) -> bool {
    let mut open = false;
    for c in s.chars() {
        match c {
            '{' if open => return false,
            '{' => open = true,
            '}' if !open => return false,
            '}' => open = false,
            _ => {}
        }
    }
    !open
}

/// Duplicate bucket names, role ids and access key ids.
fn duplicates(c: &GatewayConfig, r: &mut Report) {
    dup_check(
        c.buckets.iter().map(|b| b.name.as_str()),
        "buckets",
        "name",
        r,
    );
    dup_check(
        c.roles.iter().map(|x| x.role_id.as_str()),
        "roles",
        "role_id",
        r,
    );
    dup_check(
        c.credentials.iter().map(|x| x.access_key_id.as_str()),
        "credentials",
        "access_key_id",
        r,
    );
}

fn dup_check<'a>(items: impl Iterator<Item = &'a str>, list: &str, field: &str, r: &mut Report) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in items.enumerate() {
        if v.is_empty() {
            continue;
        }
        if let Some(first) = seen.get(v) {
            r.problem(
                &format!("{list}[{i}].{field}"),
                format!("duplicate of {list}[{first}]"),
            );
        } else {
            seen.insert(v, i);
        }
    }
}

/// `allowed_roles` naming roles this file does not define: a warning only, since roles may be
/// defined in a separate `--sts-config` file.
fn references(c: &GatewayConfig, r: &mut Report) {
    for (i, b) in c.buckets.iter().enumerate() {
        for (j, role) in b.allowed_roles.iter().enumerate() {
            if role != "*" && !role.is_empty() && c.find_role(role).is_none() {
                r.warn(
                    &format!("buckets[{i}].allowed_roles[{j}]"),
                    format!(
                        "role '{role}' is not defined here (fine if it comes from --sts-config)"
                    ),
                );
            }
        }
    }
}

/// Conflicts between a config and one merged into it: the same bucket name, role id or access
/// key id in both.
pub(crate) fn merge_conflicts(base: &GatewayConfig, other: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |list: &str, field: &str, a: Vec<&str>, b: Vec<&str>| {
        for (i, v) in b.iter().enumerate() {
            if let Some(j) = a.iter().position(|x| x == v) {
                out.push(format!(
                    "(merged file) {list}[{i}].{field}: duplicate of {list}[{j}] in the main config"
                ));
            }
        }
    };
    check(
        "buckets",
        "name",
        base.buckets.iter().map(|b| b.name.as_str()).collect(),
        other.buckets.iter().map(|b| b.name.as_str()).collect(),
    );
    check(
        "roles",
        "role_id",
        base.roles.iter().map(|b| b.role_id.as_str()).collect(),
        other.roles.iter().map(|b| b.role_id.as_str()).collect(),
    );
    check(
        "credentials",
        "access_key_id",
        base.credentials
            .iter()
            .map(|b| b.access_key_id.as_str())
            .collect(),
        other
            .credentials
            .iter()
            .map(|b| b.access_key_id.as_str())
            .collect(),
    );
    out
}
