//! `[[buckets]]`: names, backends and their options, credentials, endpoints.

use super::*;

pub(super) const BUCKET_KEYS: &[&str] = &[
    "name",
    "backend_type",
    "backend_prefix",
    "anonymous_access",
    "allowed_roles",
    "backend_options",
    "cors",
    "cors_rules",
];

pub(super) fn read_bucket(
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
    let backend_type = read_backend_type(o, r);
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

/// `backend_type`: required, one of the names `BackendType::from_name` knows.
fn read_backend_type(o: &Obj<'_>, r: &mut Report) -> Option<BackendType> {
    match o.get("backend_type") {
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
    }
}

/// Bucket names: anything that cannot be routed is an error; names S3 itself would reject
/// (outside 3-63 characters of `a-z 0-9 . -`) are only a warning, because multistore 0.7
/// accepted any non-empty name and a 0.7 file must keep loading.
pub(super) fn check_bucket_name(name: &str, path: &str, r: &mut Report) {
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

pub(super) fn read_options(o: &Obj<'_>, r: &mut Report) -> BTreeMap<String, String> {
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

pub(super) fn check_backend(b: &BucketConfig, path: &str, r: &mut Report) {
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
pub(super) fn check_credentials(b: &BucketConfig, path: &str, r: &mut Report) {
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
