//! The scopes roles and credentials grant (bucket, prefixes, actions).

use super::*;

pub(super) const SCOPE_KEYS: &[&str] = &["bucket", "prefixes", "actions"];

pub(super) fn read_scopes(o: &Obj<'_>, templates: bool, r: &mut Report) -> Vec<Scope> {
    o.tables("allowed_scopes", r)
        .iter()
        .filter_map(|s| read_scope(s, templates, r))
        .collect()
}

pub(super) fn read_scope(o: &Obj<'_>, templates: bool, r: &mut Report) -> Option<Scope> {
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

pub(super) fn balanced_template(s: &str) -> bool {
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
