//! What a runtime needs to fetch an issuer's JWKS, minus the I/O: which URLs it may fetch, how
//! to read the discovery document, and a per-process/isolate cache with a TTL and a refetch rate
//! limit. The runtime does the two GETs (discovery, then `jwks_uri`) with [`MAX_DOCUMENT_BYTES`]
//! as the cap on each answer.
//!
//! # Invariants
//!
//! - Only `https://` URLs are fetched, and `http://` on loopback (`127.0.0.1`, `[::1]`,
//!   `localhost`) for tests and local issuers.
//! - The discovery document's `issuer`, when present, must be the issuer asked for.
//! - A cached JWKS is refetched after [`JWKS_TTL_SECS`]; an unknown `kid` forces a refetch at
//!   most once per [`REFRESH_INTERVAL_SECS`] per issuer. An issuer with no JWKS cached yet is
//!   always fetched (the issuers are the config's trusted ones, so this cannot be aimed at an
//!   arbitrary host).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::jwt::Jwks;
use crate::time::Timestamp;

/// Largest discovery document or JWKS read.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long a fetched JWKS is used before it is fetched again.
pub(crate) const JWKS_TTL_SECS: i64 = 600;
/// Least time between two fetches of the same issuer's JWKS once one is cached.
pub(crate) const REFRESH_INTERVAL_SECS: i64 = 30;
/// How long a runtime should wait for each fetch.
pub(crate) const FETCH_TIMEOUT_SECS: u64 = 5;

/// Whether the gateway may fetch `url`: https, or http on a loopback host.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("'{url}' has no host"));
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        if matches!(host, "127.0.0.1" | "::1" | "localhost") {
            return Ok(());
        }
        return Err(format!(
            "'{url}' is not https (plain http is accepted only on loopback)"
        ));
    }
    Err(format!("'{url}' is not an https URL"))
}

/// `{issuer}/.well-known/openid-configuration`.
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The `jwks_uri` of a discovery document, checked with [`check_url`].
pub(crate) fn jwks_uri(discovery: &[u8], issuer: &str) -> Result<String, String> {
    let doc: Value = serde_json::from_slice(discovery)
        .map_err(|_| "the OpenID discovery document is not JSON".to_string())?;
    if let Some(iss) = doc.get("issuer").and_then(Value::as_str) {
        if iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(format!(
                "the discovery document names issuer '{iss}', not '{issuer}'"
            ));
        }
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| "the OpenID discovery document has no jwks_uri".to_string())?;
    check_url(uri)?;
    Ok(uri.to_string())
}

#[derive(Debug)]
struct Entry {
    jwks: Option<Arc<Jwks>>,
    fetched_at: Timestamp,
    last_attempt: Timestamp,
}

/// Parsed JWKS by issuer, with fetch times. Hold one per process (behind a lock) or isolate.
#[derive(Debug, Default)]
pub(crate) struct JwksCache {
    entries: HashMap<String, Entry>,
}

impl JwksCache {
    /// The JWKS of `issuer` if one was fetched less than [`JWKS_TTL_SECS`] ago.
    pub(crate) fn fresh(&self, issuer: &str, now: Timestamp) -> Option<Arc<Jwks>> {
        let e = self.entries.get(issuer)?;
        if now.0.saturating_sub(e.fetched_at.0) < JWKS_TTL_SECS {
            e.jwks.clone()
        } else {
            None
        }
    }

    /// The last JWKS fetched for `issuer`, however old.
    pub(crate) fn stale(&self, issuer: &str) -> Option<Arc<Jwks>> {
        self.entries.get(issuer).and_then(|e| e.jwks.clone())
    }

    /// Whether a fetch of `issuer` may start now; if so, it is recorded as started. Refused
    /// when a JWKS is cached and the last attempt was under [`REFRESH_INTERVAL_SECS`] ago.
    pub(crate) fn begin_fetch(&mut self, issuer: &str, now: Timestamp) -> bool {
        let entry = self.entries.entry(issuer.to_string()).or_insert(Entry {
            jwks: None,
            fetched_at: Timestamp(i64::MIN),
            last_attempt: Timestamp(i64::MIN),
        });
        if entry.jwks.is_some()
            && now.0.saturating_sub(entry.last_attempt.0) < REFRESH_INTERVAL_SECS
        {
            return false;
        }
        entry.last_attempt = now;
        true
    }

    /// Stores a freshly fetched JWKS.
    pub(crate) fn store(&mut self, issuer: &str, jwks: Arc<Jwks>, now: Timestamp) {
        self.entries.insert(
            issuer.to_string(),
            Entry {
                jwks: Some(jwks),
                fetched_at: now,
                last_attempt: now,
            },
        );
    }
}

#[cfg(test)]
mod tests;
