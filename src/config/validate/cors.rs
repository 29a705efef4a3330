//! A bucket's CORS rules.

use super::*;

/// Keys of a CORS rule: ours, and S3's (`aws s3api put-bucket-cors` JSON) as aliases.
pub(super) const CORS_KEYS: &[(&str, &str)] = &[
    ("id", "ID"),
    ("allowed_origins", "AllowedOrigins"),
    ("allowed_methods", "AllowedMethods"),
    ("allowed_headers", "AllowedHeaders"),
    ("expose_headers", "ExposeHeaders"),
    ("max_age_seconds", "MaxAgeSeconds"),
];

/// `cors` (or `cors_rules`): a list of S3 CORSRules. Absent: `None` (public buckets get the
/// default rule); an empty list: no CORS.
pub(super) fn read_cors(o: &Obj<'_>, r: &mut Report) -> Option<Vec<CorsRule>> {
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

pub(super) fn read_cors_rule(o: &Obj<'_>, r: &mut Report) -> Option<CorsRule> {
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

/// A header name, possibly with `*` in it.
pub(super) fn is_header_pattern(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b == b'*' || b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b))
}
