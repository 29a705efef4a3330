//! `[path_mapping]` and the bucket names it maps to.

use super::*;

/// `[path_mapping]`: `segments` at least 2, `separator` non-empty and free of `/`, `*`, `?`
/// and whitespace.
pub(super) fn read_path_mapping(v: Option<&Value>, r: &mut Report) -> Option<PathMapping> {
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
pub(super) fn mapped_names(c: &GatewayConfig, r: &mut Report) {
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
