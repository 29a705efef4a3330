//! The pipeline: request head in, [`Plan`] out. Runtimes execute the plan.
//!
//! ```text
//! parse ─▶ authenticate ─▶ map ─▶ resolve bucket ─▶ authorize ─▶ BucketRequest ─▶ backend.plan
//! ```
//!
//! This file holds the pipeline ([`Gateway::plan`] down to `plan_backend`); each step's
//! details live beside it: `mapping` (path mapping), `resolve` (bucket resolution),
//! `copy_source` (copy sources), and `post`, `sts`, `list_buckets`, `copy`; `plan` holds the
//! [`Plan`] a runtime is handed. Below it: [`crate::plan`] (the forward and its answer, with
//! the provider's part of it in `plan::answer`, answers built here, small bodies),
//! [`crate::backend`] (one `BucketRequest` planned by the bucket's
//! `Backend::plan`: [`crate::backend::s3`] with its settings and federation, `backend::azure`,
//! `backend::gcs`, [`crate::backend::r2`], DeleteObjects in `backend::delete`).
//!
//! A [`Gateway`] is built once per config snapshot (per isolate / process) and shared by every
//! request: backend signers, signing-key caches and lookups live here, never per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

use crate::auth::sigv4::SigningKeyCache;
use crate::auth::{self, AuthSettings};
use crate::backend::federation::ExchangeError;
use crate::backend::federation::TemporaryCredentials;
pub use crate::backend::r2::{
    Conditions, HttpMetadata, R2Call, R2Listing, R2Object, R2Outcome, R2Plan, R2Range, R2Records,
};
use crate::backend::{Backend, BackendPlan, BucketRequest};
use crate::config::{BucketConfig, ConfigError, CredentialIndex, GatewayConfig};
use crate::cors::BucketCors;
pub use crate::cors::CorsHeaders;
use crate::oidc::OidcProvider;
use crate::pathmap::{ClientView, PathMap};
pub use crate::payload::PayloadVerifier;
use crate::policy::{self, Identity};
use crate::post::FormReader;
pub use crate::s3::request::RequestHead;
use crate::s3::request::{self, Operation, S3Request};
use crate::s3::S3Error;
use crate::sts::token::SessionKeys;

pub(crate) mod copy;
mod copy_source;
pub(crate) mod federation;
mod list_buckets;
mod mapping;
mod plan;
mod post;
pub(crate) mod resolve;
mod sts;

use crate::backend::s3::settings::{self, LockPlan};
pub use crate::plan::{
    add_server_timing, body_too_large, error_response, Forward, ForwardBody, RequestContext,
    ResponseMode, Timing,
};
use crate::plan::{respond, Finish};
pub use copy::{CopyEvent, CopyStep, StreamedCopy, ANSWER_LIMIT};
pub use list_buckets::{Gather, GATHER_LIMIT};
use mapping::{query_prefix, Mapped};
use plan::with_cors;
pub use plan::Plan;
use resolve::Resolved;

/// Runtime options that are not part of the config document.
#[derive(Clone, Debug, Default)]
pub struct GatewayOptions {
    /// Enables virtual-hosted style for `{bucket}.{domain}`.
    pub virtual_host_domain: Option<String>,
    /// Keys that seal and open STS session tokens (`SESSION_TOKEN_KEY`). None: STS requests
    /// answer 503 and requests carrying a session token are refused with `InvalidToken`.
    pub session_keys: Option<SessionKeys>,
    /// The gateway's own OIDC provider (`OIDC_PROVIDER_KEY`, `OIDC_PROVIDER_ISSUER`): serves
    /// discovery and JWKS, and mints the tokens of federated backends. None: those buckets
    /// answer 503.
    pub oidc_provider: Option<Arc<OidcProvider>>,
}

/// How long a backend has to start answering once the request (body included) has gone out,
/// and to deliver a buffered answer (listing, error) whole, unless the runtime is told
/// otherwise (`BACKEND_TIMEOUT_SECONDS`). Past it the client gets a 504.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest backend timeout a runtime accepts (an hour: longer is a hang).
const MAX_BACKEND_TIMEOUT_SECS: f64 = 3600.0;

/// Parses a backend timeout setting: seconds, more than 0 and at most an hour (fractions allowed).
pub fn parse_backend_timeout(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= MAX_BACKEND_TIMEOUT_SECS => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "expected a number of seconds above 0 and at most {MAX_BACKEND_TIMEOUT_SECS}, got '{value}'"
        )),
    }
}

/// A config bucket with its backend planner, built once per snapshot.
#[derive(Debug)]
struct BucketEntry {
    backend: Result<Backend, String>,
    /// The CORS rules in force (configured, or the public default).
    cors: BucketCors,
}

/// A built gateway: one per config snapshot.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    options: GatewayOptions,
    buckets: Vec<BucketEntry>,
    /// Exact bucket names to their index: configs with thousands of buckets stay O(1).
    by_name: HashMap<String, usize>,
    /// Indexes of glob entries, in file order.
    globs: Vec<usize>,
    credentials: CredentialIndex,
    auth: AuthSettings,
    signing_keys: SigningKeyCache,
    /// Whether any bucket has CORS rules: if none, requests skip the CORS lookup.
    any_cors: bool,
    /// `[path_mapping]`: the mapped buckets by account.
    pathmap: Option<PathMap>,
    /// The CORS rule of the STS endpoint ([`crate::cors::CorsRule::sts_default`]).
    sts_cors: BucketCors,
}

impl Gateway {
    /// Builds the gateway (backend planners, key caches) from a validated config. The
    /// backends check their own options first ([`Gateway::build_reporting`]); their warnings
    /// are logged at `warn`.
    pub fn new(config: GatewayConfig, options: GatewayOptions) -> Result<Self, ConfigError> {
        let (gateway, warnings) = Self::build_reporting(config, options);
        for w in &warnings {
            log::warn!("config: {w}");
        }
        gateway
    }

    /// Reads a config document as [`GatewayConfig::parse_reporting`] does, the backends'
    /// checks of their options included, in the document's order: every problem and warning a
    /// build of it would find (`multistore-server check` prints them).
    pub fn parse_config_reporting(
        text: &str,
        format: crate::config::ConfigFormat,
    ) -> (Result<GatewayConfig, ConfigError>, Vec<String>) {
        GatewayConfig::parse_reporting_checked(
            text,
            format,
            &crate::backend::options::check_options,
        )
    }

    /// [`Gateway::new`], with the warnings of the backends' option checks returned whether or
    /// not there are problems (`multistore-server check` prints both). The problems and
    /// warnings name the option by its path in the config, as the config's own checks do.
    pub fn build_reporting(
        config: GatewayConfig,
        options: GatewayOptions,
    ) -> (Result<Self, ConfigError>, Vec<String>) {
        let checked = crate::backend::options::check_config(&config);
        if !checked.problems.is_empty() {
            let problems = checked.problems;
            return (Err(ConfigError { problems }), checked.warnings);
        }
        (Self::build(config, options), checked.warnings)
    }

    /// Builds the backend planners and lookups of a config whose options were checked.
    fn build(config: GatewayConfig, options: GatewayOptions) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let buckets = config
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let backend = Backend::from_config(b);
                if let Err(e) = &backend {
                    problems.push(format!("buckets[{i}] ({}): {e}", b.name));
                }
                BucketEntry {
                    backend,
                    cors: BucketCors::new(b.cors_rules()),
                }
            })
            .collect::<Vec<BucketEntry>>();
        let any_cors = buckets.iter().any(|b| !b.cors.is_empty());
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut regions = vec![config.region().to_string()];
        if !regions.iter().any(|r| r == "auto") {
            regions.push("auto".to_string());
        }
        let mut by_name = HashMap::new();
        let mut globs = Vec::new();
        for (i, b) in config.buckets.iter().enumerate() {
            if b.is_glob() {
                globs.push(i);
            } else {
                by_name.entry(b.name.clone()).or_insert(i);
            }
        }
        Ok(Gateway {
            by_name,
            globs,
            credentials: CredentialIndex::new(&config),
            auth: AuthSettings {
                regions,
                allow_sigv2: config.allow_sigv2,
                ..AuthSettings::default()
            },
            signing_keys: SigningKeyCache::default(),
            any_cors,
            pathmap: config
                .path_mapping
                .as_ref()
                .map(|m| PathMap::new(m, &config.buckets)),
            sts_cors: BucketCors::new(vec![crate::cors::CorsRule::sts_default()]),
            buckets,
            config,
            options,
        })
    }

    /// The config this gateway was built from.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Plans one request. Never panics on request data.
    pub fn plan(&self, head: &RequestHead, ctx: &RequestContext) -> Plan {
        self.plan_inner(head, ctx, Given::Nothing, None)
    }

    /// Plans a request whose body was read because [`Plan::NeedBody`] asked for it.
    pub fn plan_with_body(&self, head: &RequestHead, ctx: &RequestContext, body: Bytes) -> Plan {
        self.plan_inner(head, ctx, Given::Body(body), None)
    }

    /// Plans a POST form upload once the runtime fed [`Plan::NeedForm`]'s reader.
    pub fn plan_with_form(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        form: FormReader,
    ) -> Plan {
        self.plan_inner(head, ctx, Given::Form(form), None)
    }

    /// Plans a request whose backend credentials [`Plan::NeedBackendCredentials`] asked for:
    /// the credentials, or why the exchange failed (answered as a 502/503 S3 error). `body`:
    /// the body read for an earlier [`Plan::NeedBody`], if any.
    pub fn plan_with_credentials(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        body: Option<Bytes>,
        credentials: Result<&TemporaryCredentials, &ExchangeError>,
    ) -> Plan {
        let given = body.map_or(Given::Nothing, Given::Body);
        self.plan_inner(head, ctx, given, Some(credentials))
    }

    fn plan_inner(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        given: Given,
        credentials: Option<Result<&TemporaryCredentials, &ExchangeError>>,
    ) -> Plan {
        if head.method == Method::OPTIONS {
            return Plan::Respond(self.preflight(head, ctx));
        }
        if let Some(resp) = self.oidc_document(head, ctx) {
            return Plan::Respond(resp);
        }
        if sts::is_sts(head) {
            let body = match &given {
                Given::Body(b) => Some(&b[..]),
                _ => None,
            };
            let plan = self.plan_sts(head, ctx, body);
            return self.with_sts_cors(head, plan);
        }
        let plan = match self.try_plan(head, ctx, given, credentials) {
            Ok(plan) => plan,
            Err(err) => {
                log::debug!(
                    "{} {} -> {} ({})",
                    head.method,
                    crate::auth::redact_target(&head.target),
                    err.code,
                    crate::auth::redact(&err.message)
                );
                Plan::Respond(error_response(&head.method, &err, &ctx.request_id))
            }
        };
        match self.bucket_cors(head) {
            Some(cors) => with_cors(plan, cors.for_request(&head.method, &head.headers)),
            None => plan,
        }
    }

    /// The CORS rules of the bucket a request names (by routing alone, so that requests that
    /// fail to parse or authenticate get CORS headers too); None when it has none.
    fn bucket_cors(&self, head: &RequestHead) -> Option<&BucketCors> {
        if !self.any_cors {
            return None;
        }
        let (name, key) = request::route(head, self.options.virtual_host_domain.as_deref())?;
        let name = match self.account(&name) {
            // A product's path, or for the account itself the product its listing prefix names.
            Some(map) if key.is_empty() => map.split(&name, &query_prefix(head)?, false)?.0,
            Some(map) => map.split(&name, &key, true)?.0,
            None => name,
        };
        let (index, _) = self.find_bucket(&name)?;
        Some(&self.buckets[index].cors).filter(|c| !c.is_empty())
    }

    /// A CORS preflight: answered from the bucket's rules, without authentication (browsers
    /// never sign preflights); it never reaches the backend.
    fn preflight(&self, head: &RequestHead, ctx: &RequestContext) -> Response<Bytes> {
        let none = BucketCors::default();
        // `POST /` on a virtual-hosted bucket is a form upload (POST Object), not STS.
        let host_bucket = self
            .options
            .virtual_host_domain
            .as_deref()
            .and_then(|d| request::bucket_from_host(&head.headers, d));
        let cors = if host_bucket.is_none() && sts::is_sts_preflight(head) {
            &self.sts_cors
        } else {
            self.bucket_cors(head).unwrap_or(&none)
        };
        match cors.preflight(&head.headers, &ctx.request_id) {
            Ok(resp) => resp,
            Err(err) => {
                log::debug!(
                    "OPTIONS {} -> {} ({})",
                    crate::auth::redact_target(&head.target),
                    err.code,
                    crate::auth::redact(&err.message)
                );
                let mut resp = error_response(&head.method, &err, &ctx.request_id);
                if !cors.is_empty() {
                    if let Some(h) = cors.for_request(&Method::OPTIONS, &HeaderMap::new()) {
                        h.apply(resp.headers_mut());
                    }
                }
                resp
            }
        }
    }

    fn try_plan(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        given: Given,
        credentials: Option<Result<&TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Plan, S3Error> {
        let req = request::parse(head, self.options.virtual_host_domain.as_deref())?;
        // A form upload carries its authentication in the body.
        if req.operation == Operation::PostObject {
            let form = match given {
                Given::Form(f) => Some(f),
                _ => None,
            };
            return self.plan_post(head, &req, ctx, form);
        }
        let body = match given {
            Given::Body(b) => Some(b),
            _ => None,
        };
        let authed = self.authenticate(head, &req, ctx)?;
        self.plan_authenticated(head, &req, &authed, ctx, body, credentials)
    }

    /// Authentication: the request's signature (or session token, or none: anonymous).
    fn authenticate(
        &self,
        head: &RequestHead,
        req: &S3Request,
        ctx: &RequestContext,
    ) -> Result<auth::Authenticated, S3Error> {
        let credentials = sts::GatewayCredentials {
            index: &self.credentials,
            sessions: self.options.session_keys.as_ref(),
        };
        auth::authenticate(
            head,
            req,
            &credentials,
            &self.auth,
            &self.signing_keys,
            ctx.now,
        )
        .map_err(|e| e.with_resource(req.resource()))
    }

    /// The pipeline after authentication: path mapping, bucket resolution, authorization, one
    /// [`BucketRequest`], and the bucket's backend plans it.
    fn plan_authenticated(
        &self,
        head: &RequestHead,
        req: &S3Request,
        authed: &auth::Authenticated,
        ctx: &RequestContext,
        body: Option<Bytes>,
        credentials: Option<Result<&TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Plan, S3Error> {
        let resource = req.resource();
        let identity = &authed.identity;
        refuse_anonymous_overrides(identity, req, &resource)?;
        if req.operation == Operation::ListBuckets {
            return self.plan_list_buckets(identity, req, ctx, resource);
        }
        // Path mapping, once the signature is checked over the path as sent.
        let (req, view) = match self.map_request(head, req.clone(), identity, ctx, body.as_ref())? {
            Mapped::Plain(req) => (req, None),
            Mapped::View(req, view) => (req, Some(view)),
            Mapped::Respond(plan) => return Ok(plan),
        };
        let view = view.as_ref();
        let Resolved {
            index,
            bucket,
            name,
            is_passthrough,
        } = self.resolve_bucket(&req, identity, view, &resource)?;
        let lock = authorize(head, &req, identity, bucket, name, view, &resource)?;
        if let Some(answer) = self.config_bucket_answer(req.operation, is_passthrough, ctx) {
            return Ok(Plan::Respond(answer));
        }
        let request = BucketRequest {
            head,
            req: &req,
            authed,
            ctx,
            name,
            bucket,
            prefix: bucket.backend_prefix.as_deref().unwrap_or(""),
            view,
            resource,
            lock,
            body,
            credentials,
        };
        self.plan_backend(index, &request)
    }

    /// ListBuckets. As S3: listing buckets needs an identity. Anonymous callers reach public
    /// buckets by name; the gateway does not enumerate what it fronts to anyone.
    fn plan_list_buckets(
        &self,
        identity: &Identity,
        req: &S3Request,
        ctx: &RequestContext,
        resource: String,
    ) -> Result<Plan, S3Error> {
        if matches!(identity, Identity::Anonymous) {
            return Err(S3Error::access_denied("Access Denied").with_resource(resource));
        }
        self.list_buckets(identity, req, ctx)
            .map_err(|e| e.with_resource(resource))
    }

    /// Backend planning: the bucket's backend plans the request; a copy it cannot make itself
    /// is streamed through the gateway.
    fn plan_backend(&self, index: usize, request: &BucketRequest<'_>) -> Result<Plan, S3Error> {
        let backend = self.buckets[index]
            .backend
            .as_ref()
            .map_err(|e| S3Error::internal(e.clone()))?;
        Ok(match backend.plan(self, request)? {
            BackendPlan::Copy(order) => {
                let resource = request.resource.clone();
                let (head, req, ctx) = (request.head, request.req, request.ctx);
                return self.plan_streamed_copy(head, req, *order, resource, ctx);
            }
            BackendPlan::Respond(resp) => Plan::Respond(resp),
            BackendPlan::Forward(forward) => Plan::Forward(forward),
            BackendPlan::NeedBody { limit } => Plan::NeedBody { limit },
            BackendPlan::NeedBackendCredentials(needed) => Plan::NeedBackendCredentials(needed),
            BackendPlan::R2(r2) => Plan::R2(r2),
        })
    }
}

/// S3 refuses response header overrides from anonymous callers: they would let anyone serve a
/// public object as HTML (or anything else) from the gateway's origin.
fn refuse_anonymous_overrides(
    identity: &Identity,
    req: &S3Request,
    resource: &str,
) -> Result<(), S3Error> {
    if matches!(identity, Identity::Anonymous) {
        if let Some((name, _)) = req.query.iter().find(|(k, _)| k.starts_with("response-")) {
            return Err(S3Error::invalid_request(
                "Request specific response headers cannot be used for anonymous GET requests.",
            )
            .with_detail("ArgumentName", name.clone())
            .with_resource(resource));
        }
    }
    Ok(())
}

/// Authorization: the caller may do this operation on this bucket and key (or prefix), with the
/// object lock headers it sends; and a bucket that is a folder of a backend bucket does not
/// touch the whole backend bucket's settings. Returns what object lock adds to the request.
fn authorize(
    head: &RequestHead,
    req: &S3Request,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
    view: Option<&ClientView>,
    resource: &str,
) -> Result<LockPlan, S3Error> {
    let action = policy::action_for(req.operation);
    let key_or_prefix = match req.operation {
        Operation::ListObjects
        | Operation::ListObjectsV2
        | Operation::ListMultipartUploads
        | Operation::ListObjectVersions => req.query_param("prefix").unwrap_or("").to_string(),
        _ => req.key.clone().unwrap_or_default(),
    };
    if req.operation == Operation::DeleteObjects {
        // S3 authorizes DeleteObjects key by key: a signed caller who may delete none of the
        // keys gets 200 with an AccessDenied <Error> per key (see `authorized_deletes`).
        // Anonymous callers are refused before their body is read, unless the bucket lets
        // anyone delete.
        match identity {
            Identity::Principal { .. } => Ok(()),
            Identity::Anonymous => policy::authorize_some_key(identity, bucket, name, action),
        }
    } else {
        // A request that names a version needs the version action too (see
        // `policy::actions_for`).
        policy::actions_for(req.operation, req.query_param("versionId"))
            .into_iter()
            .try_for_each(|a| policy::authorize_named(identity, bucket, name, a, &key_or_prefix))
    }
    .map_err(|e| e.with_resource(resource))?;
    let lock_plan = settings::check_lock(req, &head.headers, identity, bucket, name)
        .map_err(|e| e.with_resource(resource))?;
    // A bucket that is a folder of a backend bucket (a backend prefix, a path-mapped
    // product) must not change or reveal settings of the whole backend bucket.
    let is_folder = bucket
        .backend_prefix
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        || view.is_some();
    // Versioning is a setting of a whole backend bucket: a folder would switch it for every
    // other folder.
    if req.operation == Operation::PutBucketVersioning && is_folder {
        return Err(S3Error::not_implemented(
            "this bucket is a folder (backend_prefix) of a backend bucket, and versioning is \
             a setting of the whole backend bucket: set it at the backend",
        )
        .with_resource(resource));
    }
    if req.operation.is_bucket_setting() && is_folder {
        return Err(settings::prefixed_bucket(req.operation, name).with_resource(resource));
    }
    Ok(lock_plan)
}

/// What the runtime read for a plan that asked for it.
enum Given {
    /// Nothing (the first call).
    Nothing,
    /// The whole body ([`Plan::NeedBody`]).
    Body(Bytes),
    /// A form's preamble ([`Plan::NeedForm`]).
    Form(FormReader),
}

#[cfg(test)]
mod tests;
