//! The pipeline: request head in, [`Plan`] out. Runtimes execute the plan.
//!
//! ```text
//! parse ─▶ authenticate ─▶ authorize ─▶ backend plan
//! ```
//!
//! A [`Gateway`] is built once per config snapshot (per isolate / process) and shared by every
//! request: backend signers, signing-key caches and lookups live here, never per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use http::HeaderName;

use crate::auth::sigv4::SigningKeyCache;
use crate::auth::{self, AuthSettings, ChunkSigning, PayloadMode};
use crate::backend::azure::AzureBackend;
use crate::backend::r2::{self, R2Input};
pub use crate::backend::r2::{
    Conditions, HttpMetadata, R2Call, R2Listing, R2Object, R2Outcome, R2Plan, R2Range, R2Records,
};
use crate::backend::s3::{copy_header, set_header, BackendRequest, Dialect, S3Backend};
use crate::checksum;
use crate::chunked::SignedChunkDecoder;
use crate::config::{BackendType, BucketConfig, ConfigError, CredentialIndex, GatewayConfig};
use crate::cors::BucketCors;
pub use crate::cors::CorsHeaders;
use crate::oidc::federation::{BackendSecret, CredentialsNeeded, ExchangeError};
use crate::oidc::{OidcProvider, TemporaryCredentials};
use crate::pathmap::{self, ClientView, Marker, PathMap};
pub use crate::payload::PayloadVerifier;
use crate::policy::{self, Action, Identity};
use crate::post::FormReader;
pub use crate::s3::request::RequestHead;
use crate::s3::request::{self, Operation, S3Request};
use crate::s3::xml::{self, XmlRewrite};
use crate::s3::ErrorCode;
use crate::s3::S3Error;
use crate::sts::token::SessionKeys;
use crate::time::Timestamp;

mod azure;
pub mod copy;
mod federation;
mod forward;
mod list_buckets;
mod post;
mod response;
mod settings;
mod sts;

pub use copy::{CopyEvent, CopyStep, StreamedCopy};
pub use forward::{add_server_timing, Forward, ForwardBody, ResponseMode, Timing};
use forward::{strip_aws_chunked, Finish};
pub use list_buckets::{Gather, GATHER_LIMIT};
pub use response::error_response;
use response::respond;

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

/// Per-request inputs from the runtime: the world, passed in.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Now.
    pub now: Timestamp,
    /// Unique id for `x-amz-request-id` and logs.
    pub request_id: String,
}

/// What the runtime must do.
#[derive(Debug)]
pub enum Plan {
    /// Answer directly (errors, ListBuckets, HeadBucket, GetBucketLocation...).
    Respond(Response<Bytes>),
    /// One backend request.
    Forward(Box<Forward>),
    /// The request body is needed to plan (DeleteObjects): read at most `limit` bytes and call
    /// [`Gateway::plan_with_body`]. A longer body is answered with [`body_too_large`].
    NeedBody {
        /// Cap on the body.
        limit: usize,
    },
    /// An STS request needs the JSON Web Key Set of `issuer` (one the role trusts, checked
    /// fetchable): take it from the cache, or fetch it (see [`crate::sts::fetch`]), and call
    /// [`Gateway::plan_with_jwks`]. `refresh`: the cached one lacks the token's key; refetch it
    /// if the rate limit allows and call again with `may_refresh: false`.
    NeedJwks {
        /// The issuer URL.
        issuer: String,
        /// Whether the cached JWKS was found wanting.
        refresh: bool,
    },
    /// One call on an R2 binding (`backend_type = "r2"`), then [`R2Plan::respond`].
    R2(Box<R2Plan>),
    /// The bucket's backend is federated (`auth_type = "oidc"`): get its temporary credentials
    /// (cached by `key`, or exchanged with [`Gateway::credential_exchange`]; see
    /// [`crate::oidc::federation`]) and call [`Gateway::plan_with_credentials`].
    NeedBackendCredentials(Box<CredentialsNeeded>),
    /// A browser form upload (POST Object): feed the body's first chunks to the reader until
    /// [`FormReader::push`] returns true (or call [`FormReader::end`] / [`FormReader::broken`]
    /// when the body ends or fails first), then call [`Gateway::plan_with_form`] and stream the
    /// REST of the same body as the resulting plan says: the reader keeps what it took.
    NeedForm(Box<FormReader>),
    /// A copy between backends that cannot copy server-side, streamed through the gateway:
    /// run its steps ([`StreamedCopy::start`], [`StreamedCopy::advance`]).
    Copy(Box<StreamedCopy>),
    /// Several backend requests whose answers make one answer (ListBuckets through
    /// pass-through buckets): send them ([`Gather::take_requests`]) and hand the answers to
    /// [`Gateway::finish_gather`].
    Gather(Box<Gather>),
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

/// How a bucket's objects are reached.
#[derive(Debug)]
enum Backend {
    /// By presigned URL (boxed: it is large, and a snapshot may hold thousands of buckets).
    S3(Arc<S3Backend>),
    /// Azure Blob, by SAS URL.
    Azure(Arc<AzureBackend>),
    /// Through a Worker binding.
    R2 {
        /// The binding's name.
        binding: String,
    },
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
    /// Builds the gateway (backend planners, key caches) from a validated config.
    pub fn new(config: GatewayConfig, options: GatewayOptions) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let buckets = config
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let backend = match b.backend_type {
                    BackendType::S3 | BackendType::Gcs => {
                        S3Backend::from_config(b).map(|b| Backend::S3(Arc::new(b)))
                    }
                    BackendType::Azure => {
                        AzureBackend::from_config(b).map(|b| Backend::Azure(Arc::new(b)))
                    }
                    BackendType::R2 => b
                        .option("binding")
                        .filter(|n| !n.is_empty())
                        .map(|n| Backend::R2 {
                            binding: n.to_string(),
                        })
                        .ok_or_else(|| "backend_options.binding is missing".to_string()),
                };
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
        let authed = auth::authenticate(
            head,
            &req,
            &sts::GatewayCredentials {
                index: &self.credentials,
                sessions: self.options.session_keys.as_ref(),
            },
            &self.auth,
            &self.signing_keys,
            ctx.now,
        )
        .map_err(|e| e.with_resource(req.resource()))?;
        self.plan_authenticated(head, &req, &authed, ctx, body, credentials)
    }

    /// The pipeline after authentication: bucket lookup, authorization, backend planning.
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

        // S3 refuses response header overrides from anonymous callers: they would let anyone
        // serve a public object as HTML (or anything else) from the gateway's origin.
        if matches!(identity, Identity::Anonymous) {
            if let Some((name, _)) = req.query.iter().find(|(k, _)| k.starts_with("response-")) {
                return Err(S3Error::invalid_request(
                    "Request specific response headers cannot be used for anonymous GET requests.",
                )
                .with_detail("ArgumentName", name.clone())
                .with_resource(resource));
            }
        }

        if req.operation == Operation::ListBuckets {
            // As S3: listing buckets needs an identity. Anonymous callers reach public buckets
            // by name; the gateway does not enumerate what it fronts to anyone.
            if matches!(identity, Identity::Anonymous) {
                return Err(S3Error::access_denied("Access Denied").with_resource(resource));
            }
            return self
                .list_buckets(identity, req, ctx)
                .map_err(|e| e.with_resource(resource));
        }
        // Path mapping, once the signature is checked over the path as sent.
        let (req, view) = match self.map_request(head, req.clone(), identity, ctx, body.as_ref())? {
            Mapped::Plain(req) => (req, None),
            Mapped::View(req, view) => (req, Some(view)),
            Mapped::Respond(plan) => return Ok(plan),
        };
        let view = view.as_ref();
        // Keys that did not come through `request::parse` (path mapping, POST forms) pass the
        // same check.
        if let Some(key) = req.key.as_deref() {
            request::check_key(key).map_err(|e| e.with_resource(resource.clone()))?;
        }
        let bucket_admin = matches!(
            req.operation,
            Operation::CreateBucket | Operation::DeleteBucket
        );
        // Only pass-through (glob) buckets map to backend buckets of the same name; every other
        // bucket is a config entry.
        let is_passthrough = req
            .bucket
            .as_deref()
            .and_then(|n| self.find_bucket(n))
            .is_some_and(|(_, b)| {
                b.is_glob() && b.backend_prefix.as_deref().unwrap_or("").is_empty()
            });
        // Tools that "ensure the bucket exists" (rclone, Terraform, s3fs) create it first and
        // accept S3's answer for a bucket that is already there.
        if req.operation == Operation::CreateBucket && !is_passthrough {
            if let Some((_, b)) = req.bucket.as_deref().and_then(|n| self.find_bucket(n)) {
                let (code, msg) = if policy::may_see_bucket(identity, b) {
                    (
                        ErrorCode::BucketAlreadyOwnedByYou,
                        "the bucket exists and you may already use it",
                    )
                } else {
                    (
                        ErrorCode::BucketAlreadyExists,
                        "the bucket name is taken; buckets are defined by the gateway's configuration",
                    )
                };
                return Err(S3Error::new(code, msg).with_resource(resource));
            }
        }
        if bucket_admin && !is_passthrough {
            return Err(S3Error::not_implemented(
                "buckets are defined by the gateway's configuration; create or delete them there",
            )
            .with_resource(resource));
        }
        let Some(name) = req.bucket.as_deref() else {
            return Err(S3Error::invalid_request("this operation needs a bucket"));
        };
        let (index, bucket) = self.find_bucket(name).ok_or_else(|| match view {
            Some(v) => no_such_product(v, &resource),
            None => S3Error::new(
                ErrorCode::NoSuchBucket,
                format!("the bucket '{name}' does not exist"),
            )
            .with_resource(resource.clone())
            .with_detail("BucketName", name),
        })?;
        // A pass-through bucket sends the client's name to the backend as it is (in the path,
        // or in the Host of a virtual-hosted backend): it must be a valid S3 name, checked
        // before anything else is done with it.
        if bucket.is_glob() {
            request::check_s3_bucket_name(name).map_err(|e| e.with_resource(resource.clone()))?;
        }
        if let Some(key) = req.key.as_deref() {
            check_backend_key(bucket, key).map_err(|e| e.with_resource(resource.clone()))?;
        }

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
                .try_for_each(|a| {
                    policy::authorize_named(identity, bucket, name, a, &key_or_prefix)
                })
        }
        .map_err(|e| e.with_resource(resource.clone()))?;
        let lock_plan = settings::check_lock(&req, &head.headers, identity, bucket, name)
            .map_err(|e| e.with_resource(resource.clone()))?;
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

        match req.operation {
            // A pass-through bucket exists only if the backend says so.
            Operation::HeadBucket if is_passthrough => {}
            Operation::HeadBucket | Operation::GetBucketLocation => {
                return Ok(Plan::Respond(self.bucket_answer(req.operation, ctx)));
            }
            _ => {}
        }

        let backend = self.buckets[index]
            .backend
            .as_ref()
            .map_err(|e| S3Error::internal(e.clone()))?;
        let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
        let without_lock = match backend {
            Backend::Azure(_) => Some("Azure"),
            Backend::R2 { .. } => Some("R2"),
            Backend::S3(b) if b.dialect() == Dialect::Gcs => Some("GCS"),
            Backend::S3(_) => None,
        };
        if let Some(what) = without_lock {
            if settings::s3_only(req.operation) || lock_plan.asks_lock {
                return Err(
                    settings::unsupported_backend(req.operation, what).with_resource(resource)
                );
            }
        }
        let backend = match backend {
            Backend::S3(b) => b,
            Backend::Azure(az) => {
                return self.plan_azure(azure::AzureInput {
                    head,
                    req: &req,
                    authed,
                    backend: az,
                    name,
                    prefix,
                    view,
                    resource,
                    ctx,
                    credentials,
                    body,
                });
            }
            // R2 has no versions: what S3 answers for a bucket never versioned.
            Backend::R2 { .. } if req.operation == Operation::GetBucketVersioning => {
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"{}\"/>",
                    xml::S3_NS
                );
                return Ok(Plan::Respond(respond(
                    StatusCode::OK,
                    body.into(),
                    Some("application/xml"),
                    &ctx.request_id,
                )));
            }
            Backend::R2 { binding } => {
                let copy_source = match req.operation {
                    Operation::CopyObject | Operation::UploadPartCopy => {
                        match self
                            .r2_copy_source(head, identity, binding, req.operation)
                            .map_err(|e| e.with_resource(resource.clone()))?
                        {
                            R2CopySource::SameBinding(key) => Some(key),
                            R2CopySource::Streamed(source, version) => {
                                let key = req.key.as_deref().unwrap_or_default();
                                if r2::is_reserved(key) {
                                    return Err(r2::reserved_key_error().with_resource(resource));
                                }
                                let dest = copy::Endpoint {
                                    store: copy::Store::R2 {
                                        binding: binding.clone(),
                                    },
                                    key: format!("{prefix}{key}"),
                                };
                                return self.plan_streamed_copy(
                                    head, &req, source, version, dest, resource, ctx,
                                );
                            }
                        }
                    }
                    _ => None,
                };
                let client_resource = resource.clone();
                return r2::plan(R2Input {
                    head,
                    req: &req,
                    authed,
                    bucket,
                    binding,
                    client_bucket: name,
                    prefix,
                    resource,
                    ctx,
                    body,
                    copy_source,
                    view,
                })
                .map_err(|e| {
                    if e.resource.is_none() {
                        e.with_resource(client_resource)
                    } else {
                        e
                    }
                });
            }
        };
        // GCS's XML API has neither sub-resource and ignores query parameters it does not know:
        // forwarded, `?tagging` would read, overwrite or delete the object itself, and a
        // `versionId` would read or delete the live object (GCS names versions `generation`).
        if backend.dialect() == Dialect::Gcs
            && (matches!(
                req.operation,
                Operation::GetObjectTagging
                    | Operation::PutObjectTagging
                    | Operation::DeleteObjectTagging
                    | Operation::GetObjectAttributes
                    | Operation::ListObjectVersions
                    | Operation::GetBucketVersioning
                    | Operation::PutBucketVersioning
            ) || req.query_param("versionId").is_some())
        {
            return Err(S3Error::not_implemented(format!(
                "{:?} is not available on GCS backends",
                req.operation
            ))
            .with_resource(resource));
        }
        let backend_bucket = bucket.is_glob().then_some(name);
        let mut extra = Extra {
            headers: lock_plan.headers,
            lock_guarded: lock_plan.lock_guarded,
            hidden: lock_plan.hidden,
            ..Extra::default()
        };
        // Object lock, bucket tags and encryption documents are read, checked and written anew.
        if let Some(limit) = settings::body_limit(req.operation) {
            let Some(body) = body.as_ref() else {
                return Ok(Plan::NeedBody { limit });
            };
            extra.body = Some(
                settings::settings_body(req.operation, &head.headers, &authed.payload, body)
                    .map_err(|e| e.with_resource(resource.clone()))?,
            );
        }
        match req.operation {
            Operation::DeleteObjects => {
                let Some(body) = body else {
                    return Ok(Plan::NeedBody {
                        limit: MAX_DELETE_BODY,
                    });
                };
                match self.delete_objects(
                    head,
                    &authed.payload,
                    identity,
                    bucket,
                    name,
                    prefix,
                    &body,
                    view,
                )? {
                    DeletePlan::Forward(fwd_body, errors) => {
                        extra.body = Some(fwd_body);
                        extra.delete_errors = errors;
                    }
                    DeletePlan::Respond(xml_doc) => {
                        return Ok(Plan::Respond(respond(
                            StatusCode::OK,
                            xml_doc.into(),
                            Some("application/xml"),
                            &ctx.request_id,
                        )));
                    }
                }
            }
            // The tag set is read, checked and written anew (the client's bytes never reach the
            // backend), with the gateway's own Content-MD5 as S3 requires.
            Operation::PutObjectTagging => {
                let Some(body) = body else {
                    return Ok(Plan::NeedBody {
                        limit: MAX_TAGGING_BODY,
                    });
                };
                let tags = check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_tagging(&body))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.body = Some(Bytes::from(xml::tagging_xml(&tags)));
            }
            // Likewise the versioning configuration: read, checked, written anew.
            Operation::PutBucketVersioning => {
                let Some(body) = body else {
                    return Ok(Plan::NeedBody {
                        limit: MAX_VERSIONING_BODY,
                    });
                };
                let versioning = check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_versioning(&body))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.body = Some(Bytes::from(xml::versioning_xml(versioning)));
            }
            Operation::GetObjectAttributes => {
                check_object_attributes(&head.headers)
                    .map_err(|e| e.with_resource(resource.clone()))?;
            }
            // The part list is read and checked here: backends differ in how well they validate
            // it (SeaweedFS answers a malformed one with NoSuchUpload or InvalidPart).
            Operation::CompleteMultipartUpload => {
                let Some(body) = body else {
                    return Ok(Plan::NeedBody {
                        limit: MAX_COMPLETE_BODY,
                    });
                };
                check_small_body(&head.headers, &authed.payload, &body)
                    .and_then(|()| xml::parse_complete(&body).map(drop))
                    .map_err(|e| e.with_resource(resource.clone()))?;
                extra.checked_body = Some(body);
            }
            Operation::CopyObject | Operation::UploadPartCopy => {
                match self
                    .copy_source(head, identity, backend)
                    .map_err(|e| e.with_resource(resource.clone()))?
                {
                    CopySource::ServerSide(source) => extra.copy_source = Some(source),
                    CopySource::Streamed(..) if lock_plan.asks_lock => {
                        return Err(S3Error::not_implemented(
                            "object lock headers on a copy between backends are not supported; \
                             copy within the backend, or set the lock after the copy",
                        )
                        .with_resource(resource));
                    }
                    CopySource::Streamed(source, version) => {
                        let dest = copy::Endpoint {
                            store: copy::Store::S3 {
                                backend: backend.clone(),
                                bucket: backend_bucket.map(str::to_string),
                            },
                            key: format!("{prefix}{}", req.key.as_deref().unwrap_or_default()),
                        };
                        return self
                            .plan_streamed_copy(head, &req, source, version, dest, resource, ctx);
                    }
                }
            }
            _ => {}
        }
        let signing = match self.federated_signing(backend, name, credentials) {
            Ok(signing) => signing,
            Err(federation::Unsigned::Ask(needed)) => {
                return Ok(Plan::NeedBackendCredentials(needed))
            }
            Err(federation::Unsigned::Fail(e)) => return Err(e.with_resource(resource)),
        };
        let forward = plan_forward(ForwardInput {
            head,
            req: &req,
            payload: &authed.payload,
            chunk_signing: authed.chunk_signing.as_ref(),
            prefix,
            backend,
            extra,
            backend_bucket,
            client_bucket: view.map_or(name, |v| v.bucket.as_str()),
            client_prefix: view.map_or("", |v| v.key_prefix.as_str()),
            resource,
            ctx,
            signing,
        })?;
        Ok(Plan::Forward(Box::new(forward)))
    }

    /// A copy between backends, streamed through the gateway (see [`copy`]).
    #[allow(clippy::too_many_arguments)] // two call sites; a struct would only rename them
    fn plan_streamed_copy(
        &self,
        head: &RequestHead,
        req: &S3Request,
        source: copy::Endpoint,
        version: Option<String>,
        dest: copy::Endpoint,
        resource: String,
        ctx: &RequestContext,
    ) -> Result<Plan, S3Error> {
        let copy = streamed_copy(
            head,
            req,
            source,
            version,
            dest,
            self.config.copy_limits(),
            resource,
            ctx,
        )?;
        Ok(Plan::Copy(Box::new(copy)))
    }

    /// DeleteObjects: the body parsed, each key authorized on its own, allowed keys mapped under
    /// the backend prefix, refused keys reported per key as S3 does.
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    fn delete_objects(
        &self,
        head: &RequestHead,
        payload: &PayloadMode,
        identity: &Identity,
        bucket: &BucketConfig,
        name: &str,
        prefix: &str,
        body: &Bytes,
        view: Option<&ClientView>,
    ) -> Result<DeletePlan, S3Error> {
        let client_prefix = view.map_or("", |v| v.key_prefix.as_str());
        let set = authorized_deletes(head, payload, identity, bucket, name, body, client_prefix)?;
        if set.allowed.is_empty() {
            return Ok(DeletePlan::Respond(xml::delete_result_xml(&set.errors)));
        }
        let allowed: Vec<(String, Option<String>)> = set
            .allowed
            .into_iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v))
            .collect();
        Ok(DeletePlan::Forward(
            Bytes::from(xml::delete_xml(set.quiet, &allowed)),
            set.errors,
        ))
    }

    /// CopyObject / UploadPartCopy: the source is authorized as a read. On the same backend
    /// account the backend copies server-side (the backend's copy source is returned);
    /// otherwise the gateway streams the copy.
    fn copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        dest: &S3Backend,
    ) -> Result<CopySource, S3Error> {
        let (src_index, src_bucket, src_name, src_key, version) =
            self.authorized_copy_source(head, identity)?;
        let src_prefix = src_bucket.backend_prefix.as_deref().unwrap_or("");
        let src_backend = match self.buckets[src_index].backend.as_ref() {
            Ok(Backend::S3(b)) if b.same_account(dest) => b,
            // A streamed copy signs each step with one backend's own keys; federated
            // credentials are obtained per request for one bucket only.
            Ok(Backend::S3(b)) if b.federation().is_some() || dest.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying between a bucket with auth_type = \"oidc\" and a bucket on another \
                     backend or role is not supported yet; copy within the bucket, or download \
                     and upload",
                ))
            }
            Ok(Backend::S3(b)) => {
                let source = s3_source(b, src_bucket, src_name, &src_key);
                return Ok(CopySource::Streamed(source, version));
            }
            Ok(Backend::R2 { .. }) if dest.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying from an R2-binding bucket into a bucket with auth_type = \"oidc\" is \
                     not supported yet; download and upload",
                ))
            }
            Ok(Backend::Azure(_)) => return Err(azure_copy_unsupported()),
            Ok(Backend::R2 { binding }) => {
                return Ok(CopySource::Streamed(
                    r2_source(binding, src_bucket, &src_key, version.as_deref())?,
                    None,
                ));
            }
            Err(e) => return Err(S3Error::internal(e.clone())),
        };
        let backend_bucket = if src_bucket.is_glob() {
            src_name.as_str()
        } else {
            src_backend.bucket_name()
        };
        let mut source = format!(
            "/{}/{}",
            crate::percent::encode(backend_bucket.as_bytes(), false),
            crate::percent::encode(format!("{src_prefix}{src_key}").as_bytes(), true)
        );
        if let Some(v) = version {
            source.push_str("?versionId=");
            source.push_str(&v);
        }
        Ok(CopySource::ServerSide(source))
    }

    /// CopyObject / UploadPartCopy into an R2 bucket. From the same binding the runtime reads
    /// the source and writes its body in one call (the source's R2 key); from another backend
    /// or binding the gateway streams the copy (CopyObject only).
    fn r2_copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        binding: &str,
        operation: Operation,
    ) -> Result<R2CopySource, S3Error> {
        let (src_index, src_bucket, src_name, src_key, version) =
            self.authorized_copy_source(head, identity)?;
        let streamed = match self.buckets[src_index].backend.as_ref() {
            Ok(Backend::R2 { binding: b }) if b == binding => {
                let source = r2_source(b, src_bucket, &src_key, version.as_deref())?;
                return Ok(R2CopySource::SameBinding(source.key));
            }
            _ if operation == Operation::UploadPartCopy => return Err(S3Error::not_implemented(
                "UploadPartCopy into an R2 bucket works only from a bucket on the same R2 binding",
            )),
            Ok(Backend::R2 { binding: b }) => (
                r2_source(b, src_bucket, &src_key, version.as_deref())?,
                None,
            ),
            Ok(Backend::S3(b)) if b.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying from a bucket with auth_type = \"oidc\" into an R2 bucket is not \
                     supported yet; download and upload",
                ))
            }
            Ok(Backend::S3(b)) => (s3_source(b, src_bucket, src_name, &src_key), version),
            Ok(Backend::Azure(_)) => return Err(azure_copy_unsupported()),
            Err(e) => return Err(S3Error::internal(e.clone())),
        };
        Ok(R2CopySource::Streamed(streamed.0, streamed.1))
    }

    /// `x-amz-copy-source` parsed and authorized as a read: the source bucket's index and
    /// config, its client name, key and version.
    #[allow(clippy::type_complexity)]
    fn authorized_copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
    ) -> Result<(usize, &BucketConfig, String, String, Option<String>), S3Error> {
        let raw = head
            .headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source is not valid ASCII"))?;
        let (path, version) = match raw.split_once("?versionId=") {
            Some((p, v)) => (p, Some(v)),
            None => (raw, None),
        };
        // The version goes into the backend's own x-amz-copy-source as given: it may only be
        // a version id, never something that adds parameters or changes the path.
        if let Some(v) = version {
            request::check_version_id(v, "x-amz-copy-source")?;
        }
        let decoded = crate::percent::decode_strict(path.as_bytes(), false)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::invalid_argument("x-amz-copy-source is not a valid URL-encoded bucket/key")
            })?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (src_name, src_key) = decoded
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source must be bucket/key"))?;
        request::check_bucket_name(src_name)?;
        request::check_key(src_key)?;
        // A path-mapped source: `account/product/key` names `account:product`, key `key`.
        let mapped;
        let (src_name, src_key) = match self.account(src_name) {
            Some(map) => {
                mapped = map
                    .split(src_name, src_key, false)
                    .filter(|(_, _, rest)| !rest.is_empty())
                    .ok_or_else(|| {
                        S3Error::new(
                            ErrorCode::NoSuchKey,
                            format!("the copy source '{decoded}' names no key of a product"),
                        )
                    })?;
                (mapped.0.as_str(), mapped.2)
            }
            None => (src_name, src_key),
        };
        let (src_index, src_bucket) = self.find_bucket(src_name).ok_or_else(|| {
            S3Error::new(
                ErrorCode::NoSuchBucket,
                format!("the copy source bucket of '{decoded}' does not exist"),
            )
        })?;
        if src_bucket.is_glob() {
            request::check_s3_bucket_name(src_name)?;
        }
        check_backend_key(src_bucket, src_key)?;
        let read = match version {
            Some(_) => Action::GetObjectVersion,
            None => Action::GetObject,
        };
        policy::authorize_named(identity, src_bucket, src_name, read, src_key)?;
        Ok((
            src_index,
            src_bucket,
            src_name.to_string(),
            src_key.to_string(),
            version.map(str::to_string),
        ))
    }

    /// Exact names first, then globs in file order.
    fn find_bucket(&self, name: &str) -> Option<(usize, &BucketConfig)> {
        let buckets = &self.config.buckets;
        self.by_name
            .get(name)
            .copied()
            .or_else(|| {
                self.globs
                    .iter()
                    .copied()
                    .find(|&i| buckets[i].matches(name))
            })
            .map(|i| (i, &buckets[i]))
    }

    /// The path mapping, when `name` is an account (and no plain bucket of that name).
    fn account(&self, name: &str) -> Option<&PathMap> {
        self.pathmap
            .as_ref()
            .filter(|m| m.products(name).is_some() && !self.by_name.contains_key(name))
    }

    /// Maps a request on an account (see [`crate::pathmap`]) onto a config bucket, or answers
    /// it when it names the account itself (its product listing, HeadBucket...). Requests on
    /// plain buckets pass unchanged.
    fn map_request(
        &self,
        head: &RequestHead,
        mut req: S3Request,
        identity: &Identity,
        ctx: &RequestContext,
        body: Option<&Bytes>,
    ) -> Result<Mapped, S3Error> {
        let Some(account) = req.bucket.clone() else {
            return Ok(Mapped::Plain(req));
        };
        let Some(map) = self.account(&account) else {
            return Ok(Mapped::Plain(req));
        };
        let resource = req.resource();
        if let Some(key) = req.key.take() {
            let Some((name, view, rest)) = map.split(&account, &key, true) else {
                return Err(S3Error::new(
                    ErrorCode::NoSuchBucket,
                    format!("'{key}' names no bucket of '{account}'"),
                )
                .with_resource(resource)
                .with_detail("BucketName", &account));
            };
            req.bucket = Some(name);
            req.key = (!rest.is_empty()).then(|| rest.to_string());
            req.operation =
                request::classify(head, &req).map_err(|e| e.with_resource(resource.clone()))?;
            return Ok(Mapped::View(req, view));
        }
        // The account itself: what the caller may see of it.
        let visible: Vec<&str> = map
            .products(&account)
            .unwrap_or_default()
            .iter()
            .filter(|(_, i)| policy::may_see_bucket(identity, &self.config.buckets[*i]))
            .map(|(p, _)| p.as_str())
            .collect();
        let denied = || {
            S3Error::access_denied(format!("no bucket of '{account}' is open to this caller"))
                .with_resource(resource.clone())
        };
        match req.operation {
            Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions => {
                let prefix = req.query_param("prefix").unwrap_or("").to_string();
                if let Some((name, view, rest)) = map.split(&account, &prefix, false) {
                    return map_listing(req, name, view, rest, ctx);
                }
                if visible.is_empty() {
                    return Err(denied());
                }
                if matches!(
                    req.operation,
                    Operation::ListMultipartUploads | Operation::ListObjectVersions
                ) {
                    return Err(S3Error::not_implemented(
                        "list the uploads or versions of one path-mapped bucket: give its path as the prefix (prefix=product/)",
                    )
                    .with_resource(resource));
                }
                let delimiter = req.query_param("delimiter");
                match pathmap::rolled_up(visible.iter().copied(), &prefix, delimiter) {
                    Ok(entries) => Ok(Mapped::Respond(Plan::Respond(r2::prefixes_listing(
                        &req,
                        &account,
                        &entries,
                        &ctx.request_id,
                    )?))),
                    // One product holds every key the prefix can name: list it.
                    Err(one) if one.len() == 1 => {
                        let (name, view, rest) = map
                            .split(&account, one[0], false)
                            .ok_or_else(|| S3Error::internal("a product path does not split"))?;
                        map_listing(req, name, view, rest, ctx)
                    }
                    Err(_) => Err(S3Error::not_implemented(
                        "listing the keys of several path-mapped buckets at once is not supported: list with delimiter=/ or name one bucket in the prefix (prefix=product/)",
                    )
                    .with_resource(resource)),
                }
            }
            Operation::HeadBucket | Operation::GetBucketLocation => {
                if visible.is_empty() {
                    return Err(denied());
                }
                Ok(Mapped::Respond(Plan::Respond(
                    self.bucket_answer(req.operation, ctx),
                )))
            }
            Operation::DeleteObjects => {
                let Some(body) = body else {
                    return Ok(Mapped::Respond(Plan::NeedBody {
                        limit: MAX_DELETE_BODY,
                    }));
                };
                // The first key naming a product chooses the bucket; keys of other products
                // are refused one by one (see `authorized_deletes`).
                let keys =
                    xml::parse_delete(body).map_err(|e| e.with_resource(resource.clone()))?;
                let (name, view, _) = keys
                    .objects
                    .iter()
                    .find_map(|(k, _)| map.split(&account, k, false))
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!(
                            "no key names a bucket of '{account}' (keys start with product/)"
                        ))
                        .with_resource(resource.clone())
                    })?;
                req.bucket = Some(name);
                Ok(Mapped::View(req, view))
            }
            _ => Ok(Mapped::Plain(req)),
        }
    }

    /// HeadBucket and GetBucketLocation, answered by the gateway (buckets are config entries).
    fn bucket_answer(&self, op: Operation, ctx: &RequestContext) -> Response<Bytes> {
        if op == Operation::HeadBucket {
            let mut resp = respond(StatusCode::OK, Bytes::new(), None, &ctx.request_id);
            set_header(
                resp.headers_mut(),
                "x-amz-bucket-region",
                self.config.region(),
            );
            return resp;
        }
        respond(
            StatusCode::OK,
            xml::location_xml(self.config.region()).into(),
            Some("application/xml"),
            &ctx.request_id,
        )
    }
}

/// A request after path mapping.
enum Mapped {
    /// Not on an account: unchanged.
    Plain(S3Request),
    /// Mapped onto a config bucket, with the client's view of it.
    View(S3Request, ClientView),
    /// Answered for the account itself.
    Respond(Plan),
}

/// A listing whose prefix names a product: the prefix and markers mapped into the product's
/// bucket. A marker past every key of it gives an empty listing.
fn map_listing(
    mut req: S3Request,
    name: String,
    view: ClientView,
    rest: &str,
    ctx: &RequestContext,
) -> Result<Mapped, S3Error> {
    set_param(&mut req.query, "prefix", Some(rest.to_string()));
    for marker in ["start-after", "marker", "key-marker"] {
        let Some(value) = req.query_param(marker).map(str::to_string) else {
            continue;
        };
        let mapped = match view.marker(&value) {
            Marker::Inside(m) => Some(m.to_string()),
            // A key marker before the product starts the listing at its first key; a version
            // marker belongs to the key marker it came with.
            Marker::Before => {
                set_param(&mut req.query, "version-id-marker", None);
                None
            }
            Marker::After
                if matches!(
                    req.operation,
                    Operation::ListMultipartUploads | Operation::ListObjectVersions
                ) =>
            {
                Some(char::MAX.to_string())
            }
            Marker::After => {
                return Ok(Mapped::Respond(Plan::Respond(r2::prefixes_listing(
                    &req,
                    &view.bucket,
                    &[],
                    &ctx.request_id,
                )?)))
            }
        };
        set_param(&mut req.query, marker, mapped);
    }
    req.bucket = Some(name);
    Ok(Mapped::View(req, view))
}

/// The decoded `prefix` query parameter of a request, by routing alone.
fn query_prefix(head: &RequestHead) -> Option<String> {
    let (_, query) = head.target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("prefix=")?;
        crate::percent::decode_strict(value.as_bytes(), true)
            .and_then(|b| String::from_utf8(b).ok())
    })
}

/// Sets (or with None removes) a query parameter.
fn set_param(query: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    query.retain(|(k, _)| k != name);
    if let Some(v) = value {
        query.push((name.to_string(), v));
    }
}

/// NoSuchBucket for a path-mapped bucket the config lacks, in the client's words.
fn no_such_product(view: &ClientView, resource: &str) -> S3Error {
    let path = view.key_prefix.trim_end_matches('/');
    S3Error::new(
        ErrorCode::NoSuchBucket,
        format!("the bucket '{}/{path}' does not exist", view.bucket),
    )
    .with_resource(resource.to_string())
    .with_detail("BucketName", &view.bucket)
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

/// Attaches a request's CORS headers to its plan: set now on a direct answer, carried by a
/// forward or an R2 plan to every response it may produce. Runtimes need not know.
fn with_cors(plan: Plan, cors: Option<CorsHeaders>) -> Plan {
    let Some(cors) = cors else {
        return plan;
    };
    match plan {
        Plan::Respond(mut resp) => {
            cors.apply(resp.headers_mut());
            Plan::Respond(resp)
        }
        Plan::Forward(mut fwd) => {
            fwd.finish.cors = Some(cors);
            Plan::Forward(fwd)
        }
        Plan::R2(mut r2) => {
            r2.cors = Some(cors);
            Plan::R2(r2)
        }
        Plan::Copy(mut copy) => {
            copy.cors = Some(cors);
            Plan::Copy(copy)
        }
        Plan::Gather(mut gather) => {
            gather.cors = Some(cors);
            Plan::Gather(gather)
        }
        // Planned again once the body, the form, the issuer's keys or the backend credentials
        // are in.
        p @ (Plan::NeedBody { .. }
        | Plan::NeedJwks { .. }
        | Plan::NeedForm(_)
        | Plan::NeedBackendCredentials(_)) => p,
    }
}

/// A key checked alone (`request::check_key`) may still form a dot segment once glued to the
/// bucket's backend prefix (`p/.` + `/k` is `p/./k`), which `fetch()` would send elsewhere: the
/// backend key passes the same check, for every backend kind, before anything is planned.
/// (The validating reader already refuses such prefixes and ends each with `/`; this stays for
/// configs built in code.)
fn check_backend_key(bucket: &BucketConfig, key: &str) -> Result<(), S3Error> {
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    if !prefix.is_empty() && request::has_dot_segment(&format!("{prefix}{key}")) {
        return Err(glued_dot_segment());
    }
    Ok(())
}

fn glued_dot_segment() -> S3Error {
    S3Error::invalid_argument(
        "the key, under this bucket's backend prefix, would form a '.' or '..' path segment, \
         which fetch() and HTTP proxies normalize; choose another key",
    )
    .with_detail("ArgumentName", "key")
}

/// An S3 copy source streamed by the gateway (pass-through buckets name their backend bucket).
fn s3_source(
    backend: &Arc<S3Backend>,
    bucket: &BucketConfig,
    name: String,
    key: &str,
) -> copy::Endpoint {
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    copy::Endpoint {
        store: copy::Store::S3 {
            backend: backend.clone(),
            bucket: bucket.is_glob().then_some(name),
        },
        key: format!("{prefix}{key}"),
    }
}

/// Copies from an Azure bucket are not implemented.
fn azure_copy_unsupported() -> S3Error {
    S3Error::not_implemented(
        "CopyObject and UploadPartCopy from a bucket are not supported on Azure backends yet; \
         download and upload",
    )
}

/// An R2 copy source: its R2 key (the binding's `binding`), checked like any R2 key.
fn r2_source(
    binding: &str,
    bucket: &BucketConfig,
    key: &str,
    version: Option<&str>,
) -> Result<copy::Endpoint, S3Error> {
    if version.is_some_and(|v| v != "null") {
        return Err(S3Error::not_implemented(
            "R2 buckets are not versioned: a copy source can only name versionId=null",
        ));
    }
    if r2::is_reserved(key) {
        return Err(r2::reserved_key_error());
    }
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    Ok(copy::Endpoint {
        store: copy::Store::R2 {
            binding: binding.to_string(),
        },
        key: format!("{prefix}{key}"),
    })
}

/// Where a copy into an R2 bucket reads from.
enum R2CopySource {
    /// The same binding: the source's R2 key.
    SameBinding(String),
    /// Another backend or binding: streamed by the gateway (source, versionId).
    Streamed(copy::Endpoint, Option<String>),
}

/// Where a copy reads from.
enum CopySource {
    /// The backend's `x-amz-copy-source`: the backend copies server-side.
    ServerSide(String),
    /// Another backend: the gateway streams the copy (source, versionId).
    Streamed(copy::Endpoint, Option<String>),
}

/// A copy between backends, streamed through the gateway (see [`copy`]).
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn streamed_copy(
    head: &RequestHead,
    req: &S3Request,
    source: copy::Endpoint,
    source_version: Option<String>,
    dest: copy::Endpoint,
    limits: copy::CopyLimits,
    resource: String,
    ctx: &RequestContext,
) -> Result<StreamedCopy, S3Error> {
    let target = match req.operation {
        Operation::UploadPartCopy => copy::Target::Part {
            part_number: req
                .query_param("partNumber")
                .unwrap_or_default()
                .to_string(),
            upload_id: req.query_param("uploadId").unwrap_or_default().to_string(),
            range: head
                .headers
                .get("x-amz-copy-source-range")
                .map(|v| {
                    v.to_str()
                        .map_err(|_| {
                            S3Error::invalid_argument("x-amz-copy-source-range is not ASCII")
                        })
                        .and_then(copy::parse_copy_range)
                })
                .transpose()?,
        },
        _ => {
            let directive = |name: &str| -> Result<bool, S3Error> {
                match head.headers.get(name).map(|v| v.to_str().unwrap_or("")) {
                    None => Ok(false),
                    Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(false),
                    Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(true),
                    Some(_) => Err(S3Error::invalid_argument(format!(
                        "{name} must be COPY or REPLACE"
                    ))),
                }
            };
            let metadata = directive("x-amz-metadata-directive")?.then(|| {
                let mut m = HeaderMap::new();
                for (name, value) in &head.headers {
                    if copy::is_metadata_header(name.as_str()) {
                        m.append(name.clone(), value.clone());
                    }
                }
                m
            });
            let mut headers = HeaderMap::new();
            let mut keep = vec![
                "x-amz-storage-class",
                "x-amz-server-side-encryption",
                "if-match",
                "if-none-match",
            ];
            if directive("x-amz-tagging-directive")? {
                keep.push("x-amz-tagging");
            }
            for name in keep {
                if let Some(v) = head.headers.get(name) {
                    headers.insert(HeaderName::from_static(name), v.clone());
                }
            }
            copy::Target::Object { metadata, headers }
        }
    };
    Ok(StreamedCopy {
        request_id: ctx.request_id.clone(),
        resource,
        cors: None,
        source,
        source_version,
        source_conditions: copy::source_conditions(&head.headers),
        dest,
        target,
        limits,
        state: copy::State::Opening,
        r2_range: None,
    })
}

/// Buckets are config entries and have no creation time of their own; S3 clients need one.
const BUCKET_CREATION_DATE: Timestamp = Timestamp(1_577_836_800); // 2020-01-01

struct ForwardInput<'a> {
    head: &'a RequestHead,
    req: &'a S3Request,
    payload: &'a PayloadMode,
    chunk_signing: Option<&'a ChunkSigning>,
    prefix: &'a str,
    backend: &'a S3Backend,
    backend_bucket: Option<&'a str>,
    client_bucket: &'a str,
    /// A path-mapped bucket's `product/`, in front of every key the client sees.
    client_prefix: &'a str,
    resource: String,
    ctx: &'a RequestContext,
    extra: Extra,
    /// The federated credentials of this request (None: the backend's own, if any).
    signing: Option<&'a BackendSecret>,
}

/// What some operations add to a forward.
#[derive(Default)]
struct Extra {
    /// A rewritten request body (DeleteObjects).
    body: Option<Bytes>,
    /// Keys the gateway refused (DeleteObjects).
    delete_errors: Vec<(String, &'static str, String)>,
    /// The backend form of `x-amz-copy-source`.
    copy_source: Option<String>,
    /// The client's own small body, read and checked by the gateway (CompleteMultipartUpload),
    /// forwarded unchanged with its headers.
    checked_body: Option<Bytes>,
    /// Headers the gateway sets with checked values (object lock, see [`settings`]).
    headers: Vec<(&'static str, String)>,
    /// See [`Finish::lock_guarded`].
    lock_guarded: bool,
    /// See [`Finish::hidden`].
    hidden: Vec<&'static str>,
}

/// Largest DeleteObjects body: 1000 keys of up to 1024 bytes, XML-escaped, with room to spare.
pub(crate) const MAX_DELETE_BODY: usize = 8 << 20;
/// Largest CompleteMultipartUpload body: 10000 parts of ~100 bytes, with room to spare.
pub(crate) const MAX_COMPLETE_BODY: usize = 2 << 20;
/// Largest PutObjectTagging body: 10 tags of 128 + 256 characters (up to 4 bytes each, or a
/// character reference each), with room to spare.
pub(crate) const MAX_TAGGING_BODY: usize = 64 << 10;
/// Largest PutBucketVersioning body: a `<VersioningConfiguration>` is some 150 bytes.
const MAX_VERSIONING_BODY: usize = 4 << 10;

/// The request headers of GetObjectAttributes.
const OBJECT_ATTRIBUTES_HEADERS: &[&str] = &[
    "x-amz-object-attributes",
    "x-amz-max-parts",
    "x-amz-part-number-marker",
];

/// What `x-amz-object-attributes` may name (S3's list).
const OBJECT_ATTRIBUTES: &[&str] = &[
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// GetObjectAttributes' headers, checked before they are forwarded: each at most once,
/// `x-amz-object-attributes` present and a comma-separated list of S3's attribute names, the
/// part counters decimal numbers. `InvalidArgument` otherwise, as S3 answers.
fn check_object_attributes(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in OBJECT_ATTRIBUTES_HEADERS {
        if headers.get_all(*name).iter().count() > 1 {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} is given more than once"
            ))
            .with_detail("ArgumentName", *name));
        }
    }
    let names = headers
        .get("x-amz-object-attributes")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            )
            .with_detail("ArgumentName", "x-amz-object-attributes")
        })?;
    if let Some(bad) = names
        .split(',')
        .map(str::trim)
        .find(|n| !OBJECT_ATTRIBUTES.contains(n))
    {
        return Err(S3Error::invalid_argument(format!(
            "Invalid attribute name specified: '{bad}' (expected some of {})",
            OBJECT_ATTRIBUTES.join(", ")
        ))
        .with_detail("ArgumentName", "x-amz-object-attributes"));
    }
    for name in ["x-amz-max-parts", "x-amz-part-number-marker"] {
        let Some(v) = headers.get(name) else { continue };
        let number = v
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()));
        if number.is_none() {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} must be a non-negative integer"
            ))
            .with_detail("ArgumentName", name));
        }
    }
    Ok(())
}

/// The answer for a body over [`Plan::NeedBody`]'s limit.
pub fn body_too_large(method: &Method, request_id: &str, limit: usize) -> Response<Bytes> {
    let err = S3Error::new(
        ErrorCode::MalformedXML,
        format!("the request body is larger than the {limit} bytes this operation accepts"),
    );
    error_response(method, &err, request_id)
}

/// The keys of a DeleteObjects body, each authorized on its own (allowed keys in the config
/// bucket's namespace, refused ones as the client sent them).
pub(crate) struct DeleteSet {
    /// `<Quiet>true</Quiet>`.
    pub quiet: bool,
    /// `(key, version id)` the identity may delete.
    pub allowed: Vec<(String, Option<String>)>,
    /// `(key, code, message)` of refused keys (keys as the client named them).
    pub errors: Vec<(String, &'static str, String)>,
}

/// A small XML request body checked against what the request signed: its sha256 (when a hash
/// was signed) and its `Content-MD5` (when sent).
pub(crate) fn check_small_body(
    headers: &HeaderMap,
    payload: &PayloadMode,
    body: &Bytes,
) -> Result<(), S3Error> {
    use sha2::Digest as _;
    if let PayloadMode::Sha256(expected) = payload {
        let actual: [u8; 32] = sha2::Sha256::digest(body).into();
        if &actual != expected {
            return Err(S3Error::new(
                ErrorCode::XAmzContentSHA256Mismatch,
                "the body's sha256 does not match the x-amz-content-sha256 the request signed",
            ));
        }
    }
    if let Some(md5) = headers.get("content-md5") {
        use base64::Engine as _;
        use md5::Digest as _;
        let actual = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body));
        if md5.as_bytes() != actual.as_bytes() {
            return Err(S3Error::new(
                ErrorCode::BadDigest,
                "the Content-MD5 you specified did not match what we received",
            ));
        }
    }
    Ok(())
}

/// DeleteObjects: the body checked and parsed, each key authorized on its own.
pub(crate) fn authorized_deletes(
    head: &RequestHead,
    payload: &PayloadMode,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
    body: &Bytes,
    client_prefix: &str,
) -> Result<DeleteSet, S3Error> {
    check_small_body(&head.headers, payload, body)?;
    let request = xml::parse_delete(body)?;
    let mut allowed = Vec::with_capacity(request.objects.len());
    let mut errors = Vec::new();
    for (key, version) in request.objects {
        if let Err(e) = request::check_key(&key) {
            errors.push((key, "InvalidArgument", e.message));
            continue;
        }
        let Some(inner) = key.strip_prefix(client_prefix) else {
            let message = format!(
                "one DeleteObjects request deletes from one path-mapped bucket: this key is not under '{client_prefix}'"
            );
            errors.push((key, "InvalidRequest", message));
            continue;
        };
        if let Some(Err(e)) = version
            .as_deref()
            .map(|v| request::check_version_id(v, "VersionId"))
        {
            errors.push((key, "InvalidArgument", e.message));
            continue;
        }
        let action = match version {
            Some(_) => Action::DeleteObjectVersion,
            None => Action::DeleteObject,
        };
        let may = policy::authorize_named(identity, bucket, name, action, inner)
            .and_then(|()| settings::may_bypass(&head.headers, identity, bucket, name, inner));
        match may {
            Ok(()) => allowed.push((inner.to_string(), version)),
            Err(e) => errors.push((key, "AccessDenied", e.message)),
        }
    }
    Ok(DeleteSet {
        quiet: request.quiet,
        allowed,
        errors,
    })
}

enum DeletePlan {
    Forward(Bytes, Vec<(String, &'static str, String)>),
    Respond(String),
}

/// Query parameters each operation forwards (everything else is dropped: auth parameters,
/// SDK markers such as `x-id`, and anything the backend should not see).
fn forwarded_params(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::GetObject => &[
            "partNumber",
            "versionId",
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
        ],
        Operation::HeadObject => &["partNumber", "versionId"],
        Operation::DeleteObject => &["versionId"],
        // `encoding-type` is applied by the gateway (see `XmlRewrite`), never forwarded.
        Operation::ListObjects => &["prefix", "delimiter", "max-keys", "marker"],
        Operation::ListObjectsV2 => &[
            "list-type",
            "prefix",
            "delimiter",
            "max-keys",
            "continuation-token",
            "start-after",
            "fetch-owner",
        ],
        Operation::ListMultipartUploads => &[
            "uploads",
            "prefix",
            "delimiter",
            "max-uploads",
            "key-marker",
            "upload-id-marker",
        ],
        Operation::CreateMultipartUpload => &["uploads"],
        Operation::UploadPart | Operation::UploadPartCopy => &["partNumber", "uploadId"],
        Operation::DeleteObjects => &["delete"],
        Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => &["uploadId"],
        Operation::ListParts => &["uploadId", "max-parts", "part-number-marker"],
        Operation::GetObjectTagging
        | Operation::PutObjectTagging
        | Operation::DeleteObjectTagging => &["tagging", "versionId"],
        Operation::GetObjectAttributes => &["attributes", "versionId"],
        // `encoding-type` is applied by the gateway, as for the other listings.
        Operation::ListObjectVersions => &[
            "versions",
            "prefix",
            "delimiter",
            "max-keys",
            "key-marker",
            "version-id-marker",
        ],
        Operation::GetBucketVersioning | Operation::PutBucketVersioning => &["versioning"],
        Operation::GetObjectRetention | Operation::PutObjectRetention => {
            &["retention", "versionId"]
        }
        Operation::GetObjectLegalHold | Operation::PutObjectLegalHold => {
            &["legal-hold", "versionId"]
        }
        Operation::GetObjectLockConfiguration | Operation::PutObjectLockConfiguration => {
            &["object-lock"]
        }
        Operation::GetBucketTagging
        | Operation::PutBucketTagging
        | Operation::DeleteBucketTagging => &["tagging"],
        Operation::GetBucketEncryption
        | Operation::PutBucketEncryption
        | Operation::DeleteBucketEncryption => &["encryption"],
        _ => &[],
    }
}

/// Parameters that carry keys and so get the backend prefix.
const KEY_PARAMS: &[&str] = &["prefix", "marker", "start-after", "key-marker"];

/// Conditional request headers (`If-*`).
const CONDITIONALS: &[&str] = &[
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// The customer-provided key of an SSE-C object (needed to read, write or copy it).
const SSE_C: &[&str] = &[
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

/// The headers that describe an object an upload or a copy creates: content headers, user
/// metadata, tagging, storage class, encryption and the website redirect. Object lock headers
/// are set by the gateway once checked and authorized (see [`settings`]).
fn object_attribute_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "cache-control"
            | "expires"
            | "x-amz-tagging"
            | "x-amz-storage-class"
            | "x-amz-server-side-encryption"
            | "x-amz-server-side-encryption-aws-kms-key-id"
            | "x-amz-server-side-encryption-context"
            | "x-amz-server-side-encryption-bucket-key-enabled"
            | "x-amz-website-redirect-location"
    ) || name.starts_with("x-amz-meta-")
        || SSE_C.contains(&name)
}

/// The integrity headers of a body: `Content-MD5`, `x-amz-checksum-*`, and the aws-chunked
/// framing the gateway forwards or removes (see [`plan_forward`]).
fn body_integrity_header(name: &str) -> bool {
    matches!(
        name,
        "content-md5"
            | "x-amz-sdk-checksum-algorithm"
            | "x-amz-trailer"
            | "x-amz-decoded-content-length"
            | "content-encoding"
    ) || name.starts_with("x-amz-checksum-")
}

/// Request headers each operation forwards: an allowlist, so a header the gateway did not
/// consider (an ACL, a bucket owner, a request payer, a copy source on a PUT, a bypass of
/// governance retention) never reaches the backend. Our own auth (`authorization`,
/// `x-amz-date`, `x-amz-security-token`, `x-amz-content-sha256`) and hop-by-hop headers are on
/// no list; `x-amz-copy-source` is written by the gateway from the authorized source.
fn forwardable_request_header(op: Operation, name: &str) -> bool {
    match op {
        Operation::GetObject | Operation::HeadObject => {
            name == "range"
                || name == "x-amz-checksum-mode"
                || CONDITIONALS.contains(&name)
                || SSE_C.contains(&name)
        }
        // Conditional writes (`If-None-Match: *`, `If-Match`) are S3's own.
        Operation::PutObject => {
            object_attribute_header(name)
                || body_integrity_header(name)
                || name == "if-match"
                || name == "if-none-match"
        }
        Operation::CreateMultipartUpload => {
            object_attribute_header(name)
                || name == "x-amz-checksum-algorithm"
                || name == "x-amz-checksum-type"
        }
        Operation::UploadPart => body_integrity_header(name) || SSE_C.contains(&name),
        Operation::CopyObject => {
            object_attribute_header(name)
                || copy_source_header(name)
                || name == "x-amz-metadata-directive"
                || name == "x-amz-tagging-directive"
                || name == "x-amz-checksum-algorithm"
                || name == "if-match"
                || name == "if-none-match"
        }
        Operation::UploadPartCopy => {
            copy_source_header(name) || name == "x-amz-copy-source-range" || SSE_C.contains(&name)
        }
        // Checksums on Complete describe the whole object; the body is the gateway's checked copy.
        Operation::CompleteMultipartUpload => {
            matches!(
                name,
                "content-type"
                    | "content-md5"
                    | "if-match"
                    | "if-none-match"
                    | "x-amz-checksum-type"
                    | "x-amz-mp-object-size"
            ) || name.starts_with("x-amz-checksum-")
                || SSE_C.contains(&name)
        }
        Operation::ListParts => SSE_C.contains(&name),
        // Checked by `check_object_attributes` before they are forwarded.
        Operation::GetObjectAttributes => {
            OBJECT_ATTRIBUTES_HEADERS.contains(&name) || SSE_C.contains(&name)
        }
        // The gateway writes the PutObjectTagging body and its Content-MD5 itself; Get and
        // Delete carry nothing but the key and `versionId`.
        // The gateway writes the DeleteObjects body and its headers itself.
        Operation::CreateBucket => name == "content-type" || name == "content-md5",
        _ => false,
    }
}

/// The conditions and SSE-C key of a copy's source.
fn copy_source_header(name: &str) -> bool {
    matches!(
        name,
        "x-amz-copy-source-if-match"
            | "x-amz-copy-source-if-none-match"
            | "x-amz-copy-source-if-modified-since"
            | "x-amz-copy-source-if-unmodified-since"
            | "x-amz-copy-source-server-side-encryption-customer-algorithm"
            | "x-amz-copy-source-server-side-encryption-customer-key"
            | "x-amz-copy-source-server-side-encryption-customer-key-md5"
    )
}

fn plan_forward(input: ForwardInput<'_>) -> Result<Forward, S3Error> {
    let ForwardInput {
        head,
        req,
        payload,
        chunk_signing,
        prefix,
        backend,
        backend_bucket,
        client_bucket,
        client_prefix,
        resource,
        ctx,
        extra,
        signing,
    } = input;
    let op = req.operation;
    let allowed = forwarded_params(op);
    // Built from the one value of each allowed parameter that authorization read
    // (`S3Request::query_param`; `request::parse` refuses a repeated name), never copied.
    let mut query: Vec<(String, String)> = Vec::with_capacity(allowed.len());
    for name in allowed {
        let Some(v) = req.query_param(name) else {
            continue;
        };
        let v = if KEY_PARAMS.contains(name) {
            format!("{prefix}{v}")
        } else {
            v.to_string()
        };
        query.push((name.to_string(), v));
    }
    // A prefixed bucket must never list outside its prefix, even without a `prefix` parameter.
    if matches!(
        op,
        Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions
    ) && !prefix.is_empty()
        && !query.iter().any(|(k, _)| k == "prefix")
    {
        query.push(("prefix".to_string(), prefix.to_string()));
    }

    let mut headers = HeaderMap::new();
    for name in head.headers.keys() {
        if forwardable_request_header(op, name.as_str()) {
            copy_header(&head.headers, &mut headers, name);
        }
    }

    if let Some(source) = &extra.copy_source {
        set_header(&mut headers, "x-amz-copy-source", source);
    }
    for (name, value) in &extra.headers {
        set_header(&mut headers, name, value);
    }
    let body = match op {
        _ if extra.checked_body.is_some() => {
            let bytes = extra.checked_body.clone().unwrap_or_default();
            set_header(&mut headers, "content-length", &bytes.len().to_string());
            ForwardBody::Bytes(bytes)
        }
        _ if extra.body.is_some() => {
            let bytes = extra.body.clone().unwrap_or_default();
            for name in [
                "content-md5",
                "x-amz-sdk-checksum-algorithm",
                "x-amz-trailer",
            ] {
                headers.remove(name);
            }
            let checksums: Vec<HeaderName> = headers
                .keys()
                .filter(|n| n.as_str().starts_with("x-amz-checksum-"))
                .cloned()
                .collect();
            for name in checksums {
                headers.remove(name);
            }
            use base64::Engine as _;
            use md5::Digest as _;
            let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&bytes));
            set_header(&mut headers, "content-md5", &md5);
            set_header(&mut headers, "content-type", "application/xml");
            set_header(&mut headers, "content-length", &bytes.len().to_string());
            ForwardBody::Bytes(bytes)
        }
        Operation::CreateBucket if head.headers.contains_key(http::header::CONTENT_LENGTH) => {
            let length = content_length(&head.headers)?;
            set_header(&mut headers, "content-length", &length.to_string());
            match payload {
                PayloadMode::Sha256(hash) => {
                    ForwardBody::Verify(PayloadVerifier::new(*hash, length))
                }
                _ => ForwardBody::Stream,
            }
        }
        Operation::PutObject | Operation::UploadPart | Operation::CompleteMultipartUpload => {
            let length = UploadLength::from_headers(&head.headers, payload)?;
            let body = match (payload, length) {
                (PayloadMode::Sha256(hash), UploadLength::Plain(length)) => {
                    set_header(&mut headers, "content-length", &length.to_string());
                    ForwardBody::Verify(PayloadVerifier::new(*hash, length))
                }
                (PayloadMode::Unsigned, UploadLength::Plain(length)) => {
                    set_header(&mut headers, "content-length", &length.to_string());
                    ForwardBody::Stream
                }
                // Framed as sent, when the wire length is known: the backend checks the trailer.
                (
                    PayloadMode::StreamingUnsignedTrailer,
                    UploadLength::Chunked {
                        wire: Some(wire), ..
                    },
                ) if backend.dialect() == Dialect::S3 => {
                    set_header(&mut headers, "content-length", &wire.to_string());
                    set_header(
                        &mut headers,
                        "x-amz-content-sha256",
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                    );
                    ForwardBody::Stream
                }
                // Backends that do not speak aws-chunked, and bodies whose framed length is not
                // known (Transfer-Encoding: chunked), get the plain body, checked here.
                (PayloadMode::StreamingUnsignedTrailer, UploadLength::Chunked { decoded, .. }) => {
                    unframe_aws_chunked(&mut headers, decoded);
                    ForwardBody::Decode(
                        SignedChunkDecoder::unsigned(decoded)
                            .with_trailer_checksum(checksum::trailer_algorithm(&head.headers)?),
                    )
                }
                (
                    PayloadMode::StreamingSigned { trailer },
                    UploadLength::Chunked { decoded, .. },
                ) => {
                    let signing = chunk_signing.cloned().ok_or_else(|| {
                        S3Error::internal(
                            "a signed aws-chunked upload came without its signing context",
                        )
                    })?;
                    unframe_aws_chunked(&mut headers, decoded);
                    ForwardBody::Decode(
                        SignedChunkDecoder::new(signing, *trailer, decoded)
                            .with_trailer_checksum(checksum::trailer_algorithm(&head.headers)?),
                    )
                }
                _ => {
                    return Err(S3Error::internal(
                        "an upload's length does not fit its payload mode",
                    ))
                }
            };
            // Checksum headers on Complete describe the whole object, not the XML body.
            if op == Operation::CompleteMultipartUpload {
                body
            } else {
                body.with_header_checksum(&head.headers)?
            }
        }
        // A copy carries the new object's content headers (with REPLACE) but no body; an upload
        // carries those of the object it will become.
        Operation::CopyObject | Operation::UploadPartCopy | Operation::CreateMultipartUpload => {
            ForwardBody::Empty
        }
        _ => {
            headers.remove(http::header::CONTENT_TYPE);
            ForwardBody::Empty
        }
    };

    let backend_key = req.key.as_deref().map(|k| format!("{prefix}{k}"));
    // Checked with the bucket already (`check_backend_key`); checked again where the URL is
    // made, so no path to it can skip the check.
    if backend_key.as_deref().is_some_and(request::has_dot_segment) {
        return Err(glued_dot_segment().with_resource(resource));
    }
    let url = backend.url(
        &mut BackendRequest {
            bucket: backend_bucket,
            method: &head.method,
            key: backend_key.as_deref(),
            query: &query,
            headers: &mut headers,
        },
        ctx.now,
        signing,
    );

    let rewrite = matches!(
        op,
        Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions
            | Operation::ListParts
            | Operation::CreateMultipartUpload
            | Operation::CompleteMultipartUpload
            | Operation::CopyObject
            | Operation::UploadPartCopy
            | Operation::DeleteObjects
    )
    .then(|| XmlRewrite {
        client_bucket: client_bucket.to_string(),
        strip_prefix: prefix.to_string(),
        add_prefix: client_prefix.to_string(),
        url_encoded: req.query_param("encoding-type") == Some("url"),
        list_v1: op == Operation::ListObjects,
    });

    Ok(Forward {
        method: head.method.clone(),
        url,
        headers,
        body,
        request_id: ctx.request_id.clone(),
        finish: Finish {
            rewrite,
            resource,
            delete_errors: extra.delete_errors,
            passthrough: backend_bucket.is_some(),
            cors: None,
            post: None,
            azure: None,
            bodyless_success: matches!(
                op,
                Operation::PutObject
                    | Operation::UploadPart
                    | Operation::DeleteObject
                    | Operation::AbortMultipartUpload
                    | Operation::PutObjectTagging
                    | Operation::DeleteObjectTagging
                    | Operation::PutBucketVersioning
                    | Operation::PutObjectRetention
                    | Operation::PutObjectLegalHold
                    | Operation::PutObjectLockConfiguration
                    | Operation::PutBucketTagging
                    | Operation::DeleteBucketTagging
                    | Operation::PutBucketEncryption
                    | Operation::DeleteBucketEncryption
            ),
            lock_guarded: extra.lock_guarded,
            hidden: extra.hidden,
        },
    })
}

/// The largest body one upload request may carry (PutObject, UploadPart): S3's 5 GiB.
pub(crate) const MAX_UPLOAD_LENGTH: u64 = copy::MAX_SINGLE_PUT;

/// How long an upload's body is, as its headers state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UploadLength {
    /// A body forwarded as it is sent: `Content-Length` bytes.
    Plain(u64),
    /// An aws-chunked body: `wire` bytes as sent (`None`: sent with `Transfer-Encoding:
    /// chunked` and no `Content-Length`, as the AWS SDK for JavaScript v3 sends a stream), and
    /// `decoded` bytes once its framing is removed (`x-amz-decoded-content-length`).
    Chunked {
        /// `Content-Length`, when the client sent one.
        wire: Option<u64>,
        /// `x-amz-decoded-content-length`.
        decoded: u64,
    },
}

impl UploadLength {
    /// The upload's length as the request states it: `Content-Length`, or for an aws-chunked
    /// payload (`payload`) `x-amz-decoded-content-length`, which then suffices on its own. A
    /// body that states no length at all is 411 `MissingContentLength`, as S3 answers.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        payload: &PayloadMode,
    ) -> Result<Self, S3Error> {
        let wire = if headers.contains_key(http::header::CONTENT_LENGTH) {
            Some(content_length(headers)?)
        } else {
            None
        };
        let chunked = matches!(
            payload,
            PayloadMode::StreamingUnsignedTrailer | PayloadMode::StreamingSigned { .. }
        );
        match (chunked, wire) {
            (false, Some(wire)) => Ok(UploadLength::Plain(wire)),
            (false, None) => Err(S3Error::new(
                ErrorCode::MissingContentLength,
                "you must provide the Content-Length HTTP header",
            )),
            (true, wire) => Ok(UploadLength::Chunked {
                wire,
                decoded: decoded_content_length(headers)?,
            }),
        }
    }
}

/// `x-amz-decoded-content-length` of an aws-chunked upload: one decimal number of bytes, at
/// most [`MAX_UPLOAD_LENGTH`].
fn decoded_content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    const NAME: &str = "x-amz-decoded-content-length";
    let mut values = headers.get_all(NAME).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(NAME) {
            S3Error::invalid_argument(format!("{NAME} is given more than once"))
                .with_detail("ArgumentName", NAME)
        } else {
            S3Error::new(
                ErrorCode::MissingContentLength,
                "an aws-chunked upload needs x-amz-decoded-content-length",
            )
        });
    };
    let digits = value.as_bytes();
    let decoded = Some(digits)
        .filter(|d| (1..=20).contains(&d.len()) && d.iter().all(u8::is_ascii_digit))
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(format!("{NAME} is not a decimal number of bytes"))
                .with_detail("ArgumentName", NAME)
        })?;
    if decoded > MAX_UPLOAD_LENGTH {
        return Err(S3Error::new(
            ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with_detail("ProposedSize", decoded.to_string())
        .with_detail("MaxSizeAllowed", MAX_UPLOAD_LENGTH.to_string()));
    }
    Ok(decoded)
}

/// The headers of an aws-chunked upload whose body the gateway decodes: the backend gets the
/// plain body of `decoded` bytes; framing and trailer stay here.
fn unframe_aws_chunked(headers: &mut HeaderMap, decoded: u64) {
    set_header(headers, "content-length", &decoded.to_string());
    for name in [
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-sdk-checksum-algorithm",
    ] {
        headers.remove(name);
    }
    match headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(strip_aws_chunked)
    {
        Some(v) => {
            headers.insert(http::header::CONTENT_ENCODING, v);
        }
        None => {
            headers.remove(http::header::CONTENT_ENCODING);
        }
    }
}

/// The declared body length: required for uploads, as S3 requires it.
fn content_length(headers: &HeaderMap) -> Result<u64, S3Error> {
    let Some(v) = headers.get(http::header::CONTENT_LENGTH) else {
        return Err(S3Error::new(
            ErrorCode::MissingContentLength,
            "you must provide the Content-Length HTTP header",
        ));
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| S3Error::invalid_argument("Content-Length is not a number"))
}

#[cfg(test)]
mod tests;
