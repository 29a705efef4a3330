//! The runtime settings both runtimes take from their environment (process environment
//! variables natively, vars and secrets on the Worker): parsed once, with one set of names,
//! defaults and error texts.
//!
//! Unset and blank are the same. A value set but invalid is a problem: the native server refuses
//! to start (`multistore-server check` lists it), the Worker answers 503 until it is fixed.

use std::sync::Arc;
use std::time::Duration;

use crate::config::GatewayConfig;
use crate::gateway::{parse_backend_timeout, DEFAULT_BACKEND_TIMEOUT};
use crate::oidc::OidcProvider;
use crate::sts::token::SessionKeys;
use crate::GatewayOptions;

/// How long a config snapshot is served before its document(s) are checked again, unless
/// `CONFIG_TTL_SECONDS` says otherwise.
pub(super) const DEFAULT_CONFIG_TTL: Duration = Duration::from_secs(60);

/// Every variable [`Options::read_env`] asks for.
pub const VARS: [&str; 7] = [
    "SESSION_TOKEN_KEY",
    "SESSION_TOKEN_KEY_PREVIOUS",
    "OIDC_PROVIDER_KEY",
    "OIDC_PROVIDER_KEY_PREVIOUS",
    "OIDC_PROVIDER_ISSUER",
    "BACKEND_TIMEOUT_SECONDS",
    "CONFIG_TTL_SECONDS",
];

/// The settings a runtime runs the gateway with.
#[derive(Clone, Debug)]
pub struct Options {
    /// What the [`Gateway`](crate::Gateway) is built with: the session keys, the OIDC provider
    /// and the virtual-host domain (not an environment setting: `--domain` natively, the
    /// `VIRTUAL_HOST_DOMAIN` var on the Worker; the runtime sets it).
    pub gateway: GatewayOptions,
    /// `BACKEND_TIMEOUT_SECONDS`: how long a backend has to start answering once the request
    /// went out, and to deliver an answer the gateway reads whole.
    pub backend_timeout: Duration,
    /// `CONFIG_TTL_SECONDS`: how long a snapshot is served before the document(s) are checked
    /// again. None (`0`): never by time (natively SIGHUP still reloads; on the Worker the
    /// snapshot lives as long as the isolate).
    pub config_ttl: Option<Duration>,
    /// `SESSION_TOKEN_KEY` is unset (not invalid): its absence is worth a warning.
    session_keys_unset: bool,
    /// `OIDC_PROVIDER_KEY` and `OIDC_PROVIDER_ISSUER` are both unset.
    oidc_unset: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            gateway: GatewayOptions::default(),
            backend_timeout: DEFAULT_BACKEND_TIMEOUT,
            config_ttl: Some(DEFAULT_CONFIG_TTL),
            session_keys_unset: true,
            oidc_unset: true,
        }
    }
}

/// What reading the environment found.
#[derive(Debug, Default)]
pub struct FromEnv {
    /// Every valid setting; an invalid one is left at its default (unset).
    pub options: Options,
    /// One line per invalid setting, naming its variable (never its value).
    pub problems: Vec<String>,
    /// What is on and off (logged when the native server starts, printed by `check`).
    pub notes: Vec<String>,
}

impl Options {
    /// Every setting, refused whole if one is invalid (the problems joined with `; `).
    /// `lookup` answers a variable's value, None when unset, or why it cannot be read.
    pub fn from_env(
        lookup: impl FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Options, String> {
        let read = Options::read_env(lookup);
        if read.problems.is_empty() {
            Ok(read.options)
        } else {
            Err(read.problems.join("; "))
        }
    }

    /// Every setting, with a problem for each invalid one (all of them, for `check`).
    pub fn read_env(mut lookup: impl FnMut(&str) -> Result<Option<String>, String>) -> FromEnv {
        let mut out = FromEnv::default();
        let mut var = |name: &str, problems: &mut Vec<String>| match lookup(name) {
            Ok(v) => v.filter(|v| !v.trim().is_empty()),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let problems = &mut out.problems;
        let session = (
            var("SESSION_TOKEN_KEY", problems),
            var("SESSION_TOKEN_KEY_PREVIOUS", problems),
        );
        let oidc = (
            var("OIDC_PROVIDER_KEY", problems),
            var("OIDC_PROVIDER_ISSUER", problems),
            var("OIDC_PROVIDER_KEY_PREVIOUS", problems),
        );
        let timeout = var("BACKEND_TIMEOUT_SECONDS", problems);
        let ttl = var("CONFIG_TTL_SECONDS", problems);

        let options = &mut out.options;
        options.session_keys_unset = session.0.is_none();
        match session_keys(session) {
            Ok(Some(keys)) => {
                out.notes.push(format!(
                    "STS enabled: session tokens sealed with key {}",
                    keys.current_key_id()
                ));
                options.gateway.session_keys = Some(keys);
            }
            Ok(None) => out
                .notes
                .push("SESSION_TOKEN_KEY is not set: STS and session tokens are off".into()),
            Err(e) => out.problems.push(e),
        }
        options.oidc_unset = oidc.0.is_none() && oidc.1.is_none();
        match oidc_provider(oidc) {
            Ok(Some(provider)) => {
                out.notes.push(format!(
                    "OIDC provider enabled: issuer {}, signing key {}",
                    provider.issuer(),
                    provider.current_kid()
                ));
                options.gateway.oidc_provider = Some(Arc::new(provider));
            }
            Ok(None) => out.notes.push(
                "OIDC_PROVIDER_KEY is not set: the OIDC provider and backend federation are off"
                    .into(),
            ),
            Err(e) => out.problems.push(e),
        }
        if let Some(v) = timeout {
            match parse_backend_timeout(&v) {
                Ok(t) => options.backend_timeout = t,
                Err(e) => out.problems.push(format!("BACKEND_TIMEOUT_SECONDS: {e}")),
            }
        }
        if let Some(v) = ttl {
            match parse_ttl(&v) {
                Ok(t) => options.config_ttl = t,
                Err(e) => out.problems.push(format!("CONFIG_TTL_SECONDS: {e}")),
            }
        }
        out
    }

    /// What a config holds that these options leave unusable: roles without
    /// `SESSION_TOKEN_KEY`, federated buckets without the OIDC provider (unset, not invalid:
    /// an invalid one is a problem already).
    pub fn config_warnings(&self, config: &GatewayConfig) -> Vec<String> {
        let mut out = Vec::new();
        if !config.roles.is_empty() && self.session_keys_unset {
            out.push(format!(
                "roles: {} configured but SESSION_TOKEN_KEY is not set: AssumeRoleWithWebIdentity answers 503",
                config.roles.len()
            ));
        }
        if self.oidc_unset {
            for (i, b) in config.buckets.iter().enumerate() {
                if b.option("auth_type").is_some() {
                    out.push(format!(
                        "buckets[{i}] ({}): auth_type is set but OIDC_PROVIDER_KEY is not: its requests answer 503",
                        b.name
                    ));
                }
            }
        }
        out
    }
}

/// `SESSION_TOKEN_KEY` (and `SESSION_TOKEN_KEY_PREVIOUS`): the keys of STS session tokens.
/// Unset: STS is off.
fn session_keys(
    (current, previous): (Option<String>, Option<String>),
) -> Result<Option<SessionKeys>, String> {
    let Some(current) = current else {
        return Ok(None);
    };
    SessionKeys::from_env_values(&current, previous.as_deref())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// `OIDC_PROVIDER_KEY` (+ `OIDC_PROVIDER_KEY_PREVIOUS`) and `OIDC_PROVIDER_ISSUER`: the
/// gateway's own OIDC provider. Unset: off (federated buckets answer 503). Half set: a problem.
fn oidc_provider(
    (key, issuer, previous): (Option<String>, Option<String>, Option<String>),
) -> Result<Option<OidcProvider>, String> {
    match (key, issuer) {
        (None, None) => Ok(None),
        (Some(key), Some(issuer)) => {
            OidcProvider::from_env_values(&issuer, &key, previous.as_deref())
                .map(Some)
                .map_err(|e| e.to_string())
        }
        (Some(_), None) => Err(
            "OIDC_PROVIDER_KEY is set but OIDC_PROVIDER_ISSUER is not (e.g. https://gw.example.com)"
                .into(),
        ),
        (None, Some(_)) => Err(
            "OIDC_PROVIDER_ISSUER is set but OIDC_PROVIDER_KEY (an RSA private key in PEM) is not"
                .into(),
        ),
    }
}

/// `CONFIG_TTL_SECONDS`: seconds (fractions allowed); `0` turns timed refresh off (None).
pub(super) fn parse_ttl(value: &str) -> Result<Option<Duration>, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("'{value}' is not a number of seconds"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| format!("'{value}' is too long"))
}

#[cfg(test)]
mod tests;
