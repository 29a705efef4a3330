//! Checks across sections: duplicate names, references to undefined roles, and
//! conflicts between merged config files.

use super::*;

/// Duplicate bucket names, role ids and access key ids.
pub(super) fn duplicates(c: &GatewayConfig, r: &mut Report) {
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

pub(super) fn dup_check<'a>(
    items: impl Iterator<Item = &'a str>,
    list: &str,
    field: &str,
    r: &mut Report,
) {
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
pub(super) fn references(c: &GatewayConfig, r: &mut Report) {
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
