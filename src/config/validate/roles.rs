//! `[[roles]]`: issuers, audiences, session durations and claim conditions.

use super::*;

pub(super) const ROLE_KEYS: &[&str] = &[
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

pub(super) fn read_role(o: &Obj<'_>, r: &mut Report) -> Option<RoleConfig> {
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
pub(super) fn read_issuers(o: &Obj<'_>, r: &mut Report) -> Vec<String> {
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
pub(super) fn read_audiences(o: &Obj<'_>, role_id: Option<&str>, r: &mut Report) -> Vec<String> {
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
pub(super) fn read_session_duration(o: &Obj<'_>, r: &mut Report) -> Option<u64> {
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
pub(super) fn read_claim_conditions(o: &Obj<'_>, r: &mut Report) -> BTreeMap<String, Vec<String>> {
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
