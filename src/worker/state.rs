//! Per-isolate state: the config snapshot and the [`Gateway`] built from it.
//!
//! The snapshot is built once and refreshed by TTL with stale-while-revalidate: a request that
//! finds it expired is served from it while one refresh runs in `waitUntil`. A document whose
//! digest did not change is not parsed again, and a broken document keeps the last good snapshot
//! serving (the refresh logs why). Promises are never shared between requests: the Workers
//! runtime forbids awaiting I/O started by another request.

use std::cell::RefCell;
use std::rc::Rc;

use sha2::Digest as _;
use worker::{Context, Env};

use crate::config::{ConfigFormat, GatewayConfig};
use crate::oidc::OidcProvider;
use crate::s3::{ErrorCode, S3Error};
use crate::sts::token::SessionKeys;
use crate::{Gateway, GatewayOptions};

/// The demo served by `npm run dev` with no setup (`scripts/worker.sh dev` passes
/// `--var MULTISTORE_DEMO:true`; never a `wrangler.toml` var, so never deployed).
const DEMO_CONFIG: &str = include_str!("demo.toml");
/// The demo's sample object.
pub const DEMO_OBJECT: (&str, &str) = (
    "demo/hello.txt",
    "Hello from Multistore! This object lives in a local R2 bucket.\n",
);

const DEFAULT_TTL_MS: f64 = 60_000.0;

struct Snapshot {
    gateway: Rc<Gateway>,
    digest: [u8; 32],
    checked_at_ms: f64,
    /// `CONFIG_TTL_SECONDS`, read when the snapshot was built (vars change only on deploy).
    ttl_ms: f64,
}

#[derive(Default)]
struct State {
    snapshot: Option<Snapshot>,
    refreshing: bool,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
}

/// The gateway for this request: the current snapshot (refreshed in the background when older
/// than the TTL), or a fresh load when the isolate has none yet.
pub async fn gateway(env: &Env, ctx: &Context) -> Result<Rc<Gateway>, S3Error> {
    let now = js_sys::Date::now();
    let current = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let state = &mut *s;
        let snap = state.snapshot.as_ref()?;
        let stale = now - snap.checked_at_ms >= snap.ttl_ms;
        let start_refresh = stale && !state.refreshing;
        if start_refresh {
            state.refreshing = true;
        }
        Some((snap.gateway.clone(), start_refresh))
    });
    match current {
        Some((gateway, start_refresh)) => {
            if start_refresh {
                let env = env.clone();
                ctx.wait_until(async move {
                    if let Err(e) = refresh(&env).await {
                        log::error!(
                            "config refresh failed, still serving the last good config: {e}"
                        );
                    }
                    STATE.with(|s| s.borrow_mut().refreshing = false);
                });
            }
            Ok(gateway)
        }
        None => refresh(env).await.map_err(|e| {
            log::error!("no usable config: {e}");
            S3Error::new(
                ErrorCode::ServiceUnavailable,
                format!("the gateway has no usable configuration: {e}"),
            )
        }),
    }
}

/// Loads the document, and installs a new gateway if it changed. The check time moves on even
/// when the document is broken, so a bad document is retried once per TTL, not per request.
async fn refresh(env: &Env) -> Result<Rc<Gateway>, String> {
    let loaded = load_document(env).await;
    let now = js_sys::Date::now();
    let (text, source) = match loaded {
        Ok(doc) => doc,
        Err(e) => {
            touch(now);
            return Err(e);
        }
    };
    let digest: [u8; 32] = sha2::Sha256::digest(text.as_bytes()).into();
    let unchanged = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let snap = s.snapshot.as_mut().filter(|snap| snap.digest == digest)?;
        snap.checked_at_ms = now;
        Some(snap.gateway.clone())
    });
    if let Some(gateway) = unchanged {
        return Ok(gateway);
    }
    let built = build(env, &text).map_err(|e| format!("{source}: {e}"));
    let gateway = match built {
        Ok(g) => Rc::new(g),
        Err(e) => {
            touch(now);
            return Err(e);
        }
    };
    if source == "demo" {
        seed_demo(env).await;
    }
    log::info!(
        "config loaded from {source} ({} buckets)",
        gateway.config().buckets.len()
    );
    STATE.with(|s| {
        s.borrow_mut().snapshot = Some(Snapshot {
            gateway: gateway.clone(),
            digest,
            checked_at_ms: now,
            ttl_ms: ttl_ms(env),
        });
    });
    Ok(gateway)
}

fn touch(now: f64) {
    STATE.with(|s| {
        if let Some(snap) = s.borrow_mut().snapshot.as_mut() {
            snap.checked_at_ms = now;
        }
    });
}

fn build(env: &Env, text: &str) -> Result<Gateway, String> {
    let format = if text.trim_start().starts_with('{') {
        ConfigFormat::Json
    } else {
        ConfigFormat::Toml
    };
    let (config, warnings) =
        GatewayConfig::parse_with_warnings(text, format).map_err(|e| e.to_string())?;
    for w in warnings {
        log::warn!("config: {w}");
    }
    let options = GatewayOptions {
        virtual_host_domain: var(env, "VIRTUAL_HOST_DOMAIN").filter(|d| !d.is_empty()),
        session_keys: session_keys(env)?,
        oidc_provider: oidc_provider(env)?.map(std::sync::Arc::new),
    };
    Gateway::new(config, options).map_err(|e| e.to_string())
}

/// A secret (or a var of the same name, in local tests), if set and not blank.
fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
}

/// `OIDC_PROVIDER_KEY` (+ `OIDC_PROVIDER_KEY_PREVIOUS`) secrets and the `OIDC_PROVIDER_ISSUER`
/// var, read once per config snapshot (the key is parsed once, not per request). Unset: off
/// (federated buckets answer 503). Invalid or half set: the snapshot is refused.
fn oidc_provider(env: &Env) -> Result<Option<OidcProvider>, String> {
    let key = secret(env, "OIDC_PROVIDER_KEY");
    let issuer = var(env, "OIDC_PROVIDER_ISSUER").filter(|v| !v.trim().is_empty());
    match (key, issuer) {
        (None, None) => Ok(None),
        (Some(key), Some(issuer)) => {
            let previous = secret(env, "OIDC_PROVIDER_KEY_PREVIOUS");
            OidcProvider::from_env_values(&issuer, &key, previous.as_deref())
                .map(Some)
                .map_err(|e| e.to_string())
        }
        (Some(_), None) => Err("OIDC_PROVIDER_KEY is set but OIDC_PROVIDER_ISSUER is not".into()),
        (None, Some(_)) => Err("OIDC_PROVIDER_ISSUER is set but OIDC_PROVIDER_KEY is not".into()),
    }
}

/// `SESSION_TOKEN_KEY` / `SESSION_TOKEN_KEY_PREVIOUS` (secrets, or vars in local tests), read
/// once per config snapshot. Unset: STS is off. Set but invalid: the snapshot is refused.
fn session_keys(env: &Env) -> Result<Option<SessionKeys>, String> {
    let secret = |name: &str| secret(env, name);
    let Some(current) = secret("SESSION_TOKEN_KEY") else {
        return Ok(None);
    };
    let previous = secret("SESSION_TOKEN_KEY_PREVIOUS");
    SessionKeys::from_env_values(&current, previous.as_deref())
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The config document and where it came from: the KV namespace `CONFIG` (key `CONFIG_KEY`,
/// default `config`), else the R2 binding named by `CONFIG_R2_BINDING`, else the
/// `MULTISTORE_CONFIG` var, else the embedded demo when `MULTISTORE_DEMO` is `true`.
async fn load_document(env: &Env) -> Result<(String, &'static str), String> {
    let key = var(env, "CONFIG_KEY").unwrap_or_else(|| "config".to_string());
    let kv_binding = var(env, "CONFIG_KV_BINDING").unwrap_or_else(|| "CONFIG".to_string());
    if let Ok(kv) = env.kv(&kv_binding) {
        match kv.get(&key).text().await {
            Ok(Some(text)) => return Ok((text, "KV")),
            Ok(None) => {}
            Err(e) => return Err(format!("reading KV {kv_binding}/{key}: {e}")),
        }
    }
    if let Some(binding) = var(env, "CONFIG_R2_BINDING") {
        let bucket = env
            .bucket(&binding)
            .map_err(|e| format!("R2 binding {binding}: {e}"))?;
        let object = bucket
            .get(&key)
            .execute()
            .await
            .map_err(|e| format!("reading R2 {binding}/{key}: {e}"))?;
        if let Some(body) = object.as_ref().and_then(|o| o.body()) {
            let text = body
                .text()
                .await
                .map_err(|e| format!("reading R2 {binding}/{key}: {e}"))?;
            return Ok((text, "R2"));
        }
    }
    if let Some(text) = var(env, "MULTISTORE_CONFIG").filter(|t| !t.trim().is_empty()) {
        return Ok((text, "var MULTISTORE_CONFIG"));
    }
    if var(env, "MULTISTORE_DEMO").as_deref() == Some("true") {
        return Ok((DEMO_CONFIG.to_string(), "demo"));
    }
    Err(format!(
        "no config document: put one in KV namespace {kv_binding} under '{key}', or set \
         CONFIG_R2_BINDING or MULTISTORE_CONFIG (the local demo: npm run dev)"
    ))
}

/// Puts the demo's sample object in the local R2 bucket if it is missing.
async fn seed_demo(env: &Env) {
    let Ok(bucket) = env.bucket("DATA") else {
        log::warn!("demo: no R2 binding DATA to seed");
        return;
    };
    let (key, text) = DEMO_OBJECT;
    if matches!(bucket.head(key).await, Ok(Some(_))) {
        return;
    }
    let meta = worker::HttpMetadata {
        content_type: Some("text/plain; charset=utf-8".to_string()),
        ..Default::default()
    };
    if let Err(e) = bucket
        .put(key, text.as_bytes().to_vec())
        .http_metadata(meta)
        .execute()
        .await
    {
        log::warn!("demo: seeding {key} failed: {e}");
    }
}

fn ttl_ms(env: &Env) -> f64 {
    var(env, "CONFIG_TTL_SECONDS")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map_or(DEFAULT_TTL_MS, |s| s * 1000.0)
}

/// A plain-text var, if set.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}
