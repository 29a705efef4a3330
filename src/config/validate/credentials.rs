//! `[[credentials]]`: long-lived access keys.

use super::*;

pub(super) const CREDENTIAL_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "principal_name",
    "created_at",
    "expires_at",
    "enabled",
    "allowed_scopes",
];

pub(super) fn read_credential(o: &Obj<'_>, r: &mut Report) -> Option<CredentialConfig> {
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
