//! S3-compatible backends: every forwarded request is presigned per method with the backend's
//! credentials (SigV4 query, `UNSIGNED-PAYLOAD`), path or virtual-hosted upstream, or sent as a
//! plain URL for `skip_signature` backends. Google Cloud Storage's XML API is one of them, in
//! its own dialect (see [`super::gcs`]: header names, and Google's V4 signatures with a service
//! account key).
//!
//! An [`S3Backend`] is built once per bucket per config snapshot: its endpoint is parsed and its
//! signing-key cache kept, so a request costs one canonical-request hash and one HMAC.
//!
//! A federated backend (`auth_type = "oidc"`) has no credentials of its own: each request is
//! signed with the temporary credentials the runtime obtained for it (see
//! [`crate::backend::federation`]), session token included, or carries the access token it got
//! (`Authorization: Bearer`, GCS).

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::gcs::{self, ServiceAccount};
use crate::auth::presign::{presign_url, PresignRequest, SigningCredentials};
use crate::auth::secret::SecretKey;
use crate::auth::sigv4::SigningKeyCache;
use crate::backend::federation::{BackendSecret, CredentialsNeeded, Federation};
use crate::config::{BackendType, BucketConfig};
use crate::percent;
use crate::time::Timestamp;

pub(crate) mod federation;
mod outbound;
pub(crate) mod prepare;
pub(crate) mod settings;

/// How long a presigned backend URL stays valid. It is used at once; the margin covers slow
/// uploads starting late and clock drift between us and the backend.
const PRESIGN_EXPIRES_SECS: u32 = 3600;

/// One S3-compatible backend bucket.
#[derive(Debug)]
pub(crate) struct S3Backend {
    scheme: String,
    /// `host[:port]` of the endpoint.
    host: String,
    /// Path of the endpoint (no trailing `/`), usually empty.
    base_path: String,
    bucket_name: String,
    virtual_hosted: bool,
    region: String,
    dialect: Dialect,
    signer: Signer,
    /// Set for `auth_type = "oidc"`: the credentials come per request from the runtime.
    federation: Option<CredentialsNeeded>,
    keys: SigningKeyCache,
}

/// The protocol variant of a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// S3 itself.
    S3,
    /// Google Cloud Storage's XML API: `x-goog-*` headers, no aws-chunked bodies.
    Gcs,
}

/// How a backend's requests are signed when no federated credentials are given.
#[derive(Debug)]
enum Signer {
    /// Plain URLs (`skip_signature`, federated or no credentials).
    Unsigned,
    /// SigV4 with an HMAC key (S3; GCS HMAC keys).
    Hmac(SigningCredentials),
    /// Google's V4 signatures with a service account key (GCS).
    ServiceAccount(Arc<ServiceAccount>),
}

impl Signer {
    /// Who signs (access key id or service account email).
    fn id(&self) -> Option<&str> {
        match self {
            Signer::Unsigned => None,
            Signer::Hmac(c) => Some(&c.access_key_id),
            Signer::ServiceAccount(a) => Some(a.client_email()),
        }
    }
}

/// A request to send to the backend, before signing.
#[derive(Debug)]
pub(crate) struct BackendRequest<'a> {
    /// Backend bucket to use instead of the configured one (pass-through glob buckets).
    pub bucket: Option<&'a str>,
    /// Method.
    pub method: &'a Method,
    /// Backend object key (prefix already applied), or None for bucket-level requests.
    pub key: Option<&'a str>,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Headers that will be sent; the dialect's own (`x-amz-*`, `x-goog-*`) are signed.
    /// [`S3Backend::url`] adapts them to the dialect, and adds a bearer token if one is used.
    pub headers: &'a mut HeaderMap,
}

impl S3Backend {
    /// Builds the backend from a validated bucket entry.
    pub(crate) fn from_config(bucket: &BucketConfig) -> Result<Self, String> {
        let opts = &bucket.backend_options;
        let flag = |k: &str| opts.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let dialect = match bucket.backend_type {
            BackendType::Gcs => Dialect::Gcs,
            _ => Dialect::S3,
        };
        let region = match (opts.get("region"), dialect) {
            (Some(r), _) => r.clone(),
            (None, Dialect::Gcs) => gcs::REGION.to_string(),
            (None, Dialect::S3) => "us-east-1".to_string(),
        };
        let endpoint = match (opts.get("endpoint"), dialect) {
            (Some(e), _) => e.clone(),
            (None, Dialect::Gcs) => gcs::DEFAULT_ENDPOINT.to_string(),
            (None, Dialect::S3) => format!("https://s3.{region}.amazonaws.com"),
        };
        let (scheme, rest) = endpoint
            .split_once("://")
            .ok_or_else(|| format!("endpoint '{endpoint}' is not an http(s) URL"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("endpoint '{endpoint}' is not an http(s) URL"));
        }
        let (host, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if scheme == "http" { ":80" } else { ":443" };
        let host = host.strip_suffix(default_port).unwrap_or(host);
        // A pass-through (glob) bucket names its backend bucket per request.
        let bucket_name = match opts.get("bucket_name") {
            Some(b) => b.clone(),
            None if bucket.is_glob() => bucket.name.clone(),
            None => return Err("backend_options.bucket_name is missing".to_string()),
        };
        let federation = Federation::from_bucket(bucket)?.map(|f| CredentialsNeeded {
            key: f.cache_key(),
            federation: std::sync::Arc::new(f),
        });
        let account = match dialect {
            Dialect::Gcs => ServiceAccount::from_bucket(bucket)?,
            Dialect::S3 => None,
        };
        let signer = if flag("skip_signature") || federation.is_some() {
            Signer::Unsigned
        } else if let Some(account) = account {
            if opts.contains_key("access_key_id") {
                return Err(
                    "give HMAC keys (access_key_id, secret_access_key) or a service account key, not both"
                        .to_string(),
                );
            }
            Signer::ServiceAccount(Arc::new(account))
        } else {
            match (opts.get("access_key_id"), opts.get("secret_access_key")) {
                (Some(id), Some(secret)) => Signer::Hmac(SigningCredentials {
                    access_key_id: id.clone(),
                    secret: SecretKey::new(secret.clone()),
                    session_token: opts
                        .get("token")
                        .or_else(|| opts.get("session_token"))
                        .map(|t| SecretKey::new(t.clone())),
                }),
                _ => Signer::Unsigned,
            }
        };
        Ok(S3Backend {
            scheme: scheme.to_string(),
            host: host.to_string(),
            base_path: base_path.to_string(),
            bucket_name,
            virtual_hosted: flag("virtual_hosted_style_request"),
            region,
            dialect,
            signer,
            federation,
            keys: SigningKeyCache::default(),
        })
    }

    /// How a federated backend gets its credentials (None: static or no credentials).
    pub(crate) fn federation(&self) -> Option<&CredentialsNeeded> {
        self.federation.as_ref()
    }

    /// The backend bucket's name.
    pub(crate) fn bucket_name(&self) -> &str {
        &self.bucket_name
    }

    /// True when `other` is the same endpoint with the same credentials, so one request can
    /// read from one and write to the other (server-side copy).
    pub(crate) fn same_account(&self, other: &S3Backend) -> bool {
        self.endpoint_id() == other.endpoint_id()
            && self.dialect == other.dialect
            && self.signer.id() == other.signer.id()
            && self.federation.as_ref().map(|f| &f.key) == other.federation.as_ref().map(|f| &f.key)
    }

    /// `scheme://host/base` identifying the endpoint (for same-backend checks).
    pub(crate) fn endpoint_id(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.base_path)
    }

    /// The region requests are signed for.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The protocol variant.
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The presigned URL of ListBuckets (`GET /` on the endpoint, no bucket in path or host),
    /// for a backend with credentials of its own; None for federated backends (their
    /// credentials come per request).
    pub(crate) fn list_buckets_url(&self, now: Timestamp) -> Option<String> {
        if self.federation.is_some() {
            return None;
        }
        let path = format!("{}/", self.base_path);
        let signed = HeaderMap::new();
        let presign = |service: &'static str| PresignRequest {
            method: &Method::GET,
            scheme: &self.scheme,
            host: &self.host,
            encoded_path: &path,
            query: &[],
            signed_headers: &signed,
            region: &self.region,
            service,
            now,
            expires_secs: PRESIGN_EXPIRES_SECS,
        };
        Some(match &self.signer {
            Signer::Hmac(creds) => presign_url(&presign("s3"), creds, &self.keys),
            Signer::ServiceAccount(account) => gcs::presign(&presign(gcs::GOOG4_SERVICE), account),
            Signer::Unsigned => format!("{}://{}{path}", self.scheme, self.host),
        })
    }

    /// The host and encoded path of `bucket` (the configured one when `None`) and `key`:
    /// virtual-hosted or path style, under the endpoint's base path.
    fn host_and_path(&self, bucket: Option<&str>, key: Option<&str>) -> (String, String) {
        let bucket = bucket.unwrap_or(&self.bucket_name);
        let (host, mut path) = if self.virtual_hosted {
            (format!("{bucket}.{}", self.host), self.base_path.clone())
        } else {
            (
                self.host.clone(),
                format!("{}/{}", self.base_path, encode_path(bucket)),
            )
        };
        match key {
            Some(k) => {
                path.push('/');
                path.push_str(&encode_path(k));
            }
            None if self.virtual_hosted || path.is_empty() => path.push('/'),
            None => {}
        }
        (host, path)
    }

    /// The URL for a request: presigned unless the backend skips signatures; its headers
    /// adapted to the dialect. `temporary`: the federated credentials of this request (they
    /// take the place of configured ones; an access token goes in `Authorization`).
    pub(crate) fn url(
        &self,
        req: &mut BackendRequest<'_>,
        now: Timestamp,
        temporary: Option<&BackendSecret>,
    ) -> String {
        if self.dialect == Dialect::Gcs {
            gcs::to_goog_headers(req.headers);
        }
        let (host, path) = self.host_and_path(req.bucket, req.key);
        let own_prefix = match self.dialect {
            Dialect::S3 => "x-amz-",
            Dialect::Gcs => "x-goog-",
        };
        let mut signed = HeaderMap::new();
        for (name, value) in req.headers.iter() {
            if name.as_str().starts_with(own_prefix) {
                signed.append(name.clone(), value.clone());
            }
        }
        let presign = |service: &'static str| PresignRequest {
            method: req.method,
            scheme: &self.scheme,
            host: &host,
            encoded_path: &path,
            query: req.query,
            signed_headers: &signed,
            region: &self.region,
            service,
            now,
            expires_secs: PRESIGN_EXPIRES_SECS,
        };
        let hmac = match (temporary, &self.signer) {
            (Some(BackendSecret::Aws(creds)), _) | (None, Signer::Hmac(creds)) => Some(creds),
            (None, Signer::ServiceAccount(account)) => {
                return gcs::presign(&presign(gcs::GOOG4_SERVICE), account)
            }
            (Some(BackendSecret::Bearer(token)), _) => {
                if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                    v.set_sensitive(true);
                    req.headers.insert(http::header::AUTHORIZATION, v);
                }
                None
            }
            (None, Signer::Unsigned) => None,
            // Federation matches the backend type (an Azure key only ever comes for an Azure
            // bucket); were it not so, the unsigned request is refused upstream (502).
            (Some(BackendSecret::AzureDelegation(_)), _) => None,
        };
        match hmac {
            Some(creds) => presign_url(&presign("s3"), creds, &self.keys),
            None => {
                let mut url = format!("{}://{host}{path}", self.scheme);
                let mut sep = '?';
                for (k, v) in req.query {
                    url.push(sep);
                    sep = '&';
                    url.push_str(&encode_component(k));
                    url.push('=');
                    url.push_str(&encode_component(v));
                }
                url
            }
        }
    }
}

/// S3 URI-encoding of a key: every byte but unreserved ones and `/`.
pub(crate) fn encode_path(s: &str) -> String {
    percent::encode(s.as_bytes(), true)
}

/// S3 URI-encoding of a query component: every byte but unreserved ones.
pub(crate) fn encode_component(s: &str) -> String {
    percent::encode(s.as_bytes(), false)
}

/// Copies `name` from `from` to `to` if present.
pub(crate) fn copy_header(from: &HeaderMap, to: &mut HeaderMap, name: &HeaderName) {
    for v in from.get_all(name) {
        to.append(name.clone(), v.clone());
    }
}

/// Inserts a header whose value we produced (always valid).
pub(crate) fn set_header(to: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        to.insert(HeaderName::from_static(name), v);
    }
}

#[cfg(test)]
mod tests;
