//! Per-isolate state: the core's [`Isolate`] (settings, config snapshot, request ids), and
//! where the Worker finds its config document.
//!
//! The snapshot is refreshed by TTL with stale-while-revalidate: a request that finds it
//! expired is served from it while one refresh runs in `waitUntil`. A document whose digest did
//! not change is not parsed again, and a broken document keeps the last good snapshot serving
//! (logged once). Promises are never shared between requests: the Workers runtime forbids
//! awaiting I/O started by another request.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use worker::{Context, Env};

use crate::config::ConfigFormat;
use crate::executor::{Document, Documents, Due, Isolate, Loaded, Options};
use crate::s3::S3Error;
use crate::Gateway;

/// The demo served by `npm run dev` with no setup (`scripts/worker.sh dev` passes
/// `--var MULTISTORE_DEMO:true`; never a `wrangler.toml` var, so never deployed).
const DEMO_CONFIG: &str = include_str!("demo.toml");
/// The demo's sample object.
pub(super) const DEMO_OBJECT: (&str, &str) = (
    "demo/hello.txt",
    "Hello from Multistore! This object lives in a local R2 bucket.\n",
);

thread_local! {
    static ISOLATE: RefCell<Option<Arc<Isolate>>> = const { RefCell::new(None) };
}

/// This isolate's state, made at its first request: the settings are read from the vars and
/// secrets once (they change only with a deploy, which starts new isolates).
pub(super) fn isolate(env: &Env) -> Arc<Isolate> {
    ISOLATE.with(|i| {
        i.borrow_mut()
            .get_or_insert_with(|| Arc::new(new_isolate(env)))
            .clone()
    })
}

fn new_isolate(env: &Env) -> Isolate {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let seed = (half() << 32) | half();
    // A secret reads as a var too.
    match Options::from_env(|name| Ok(var(env, name))) {
        Ok(mut options) => {
            options.gateway.virtual_host_domain =
                var(env, "VIRTUAL_HOST_DOMAIN").filter(|d| !d.is_empty());
            Isolate::new(options, seed)
        }
        Err(e) => {
            log::error!("invalid settings, every request answers 503: {e}");
            Isolate::unusable(e, seed)
        }
    }
}

fn now() -> Duration {
    Duration::from_secs_f64((js_sys::Date::now() / 1000.0).max(0.0))
}

/// The gateway for this request: the current snapshot (refreshed in the background when older
/// than the TTL), or a fresh load when the isolate has none yet.
pub(super) async fn gateway(env: &Env, ctx: &Context) -> Result<Arc<Gateway>, S3Error> {
    let isolate = isolate(env);
    match isolate.due(now()) {
        Due::Serve(gateway) => Ok(gateway),
        Due::Refresh(gateway) => {
            let env = env.clone();
            ctx.wait_until(async move {
                let _ = refresh(&isolate, &env).await;
            });
            Ok(gateway)
        }
        Due::Load => refresh(&isolate, env).await,
        Due::Refuse(err) => Err(err),
    }
}

/// Loads the document and hands it to the isolate; the current snapshot afterwards, or why
/// there is none.
async fn refresh(isolate: &Isolate, env: &Env) -> Result<Arc<Gateway>, S3Error> {
    let (docs, source) = match load_document(env).await {
        Ok((text, source)) => {
            let format = if text.trim_start().starts_with('{') {
                ConfigFormat::Json
            } else {
                ConfigFormat::Toml
            };
            let name = source.to_string();
            (
                Documents::Read(vec![Document { name, format, text }]),
                source,
            )
        }
        Err(e) => (Documents::Unreadable(e), ""),
    };
    match isolate.load(now(), docs) {
        Loaded::Installed { gateway, warnings } => {
            for w in warnings {
                log::warn!("config: {w}");
            }
            if source == "demo" {
                seed_demo(env).await;
            }
            log::info!(
                "config loaded from {source} ({} buckets)",
                gateway.config().buckets.len()
            );
            Ok(gateway)
        }
        Loaded::Broken {
            problems,
            report: true,
            ..
        } => {
            let problems = problems.join("; ");
            if isolate.current().is_some() {
                log::error!(
                    "config refresh failed, still serving the last good config: {problems}"
                );
            } else {
                log::error!("no usable config: {problems}");
            }
            isolate.gateway()
        }
        Loaded::Broken { .. } | Loaded::Unchanged | Loaded::Held => isolate.gateway(),
    }
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

/// A plain-text var, if set.
pub(super) fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}
