//! Backend federation: the gateway trades a token it minted ([`crate::oidc::provider`]) for temporary
//! backend credentials, so no long-lived backend secret is stored anywhere.
//!
//! Sans-IO. For a bucket with `backend_options.auth_type = "oidc"` the gateway plans
//! [`crate::Plan::NeedBackendCredentials`]; the runtime then:
//! 1. asks its [`CredentialCache`] what to do ([`CredentialCache::decide`]): use cached
//!    credentials, refresh them ahead of expiry in the background, fetch (no valid ones), wait for
//!    the one refresh in flight, or answer the last failure (within its backoff);
//! 2. to fetch, gets the HTTP exchange from [`crate::Gateway::credential_exchange`] (the token is
//!    minted there), sends it with [`EXCHANGE_TIMEOUT_SECS`] and [`MAX_RESPONSE_BYTES`], and
//!    parses the answer with [`CredentialsNeeded::parse_response`] (or reports
//!    [`ExchangeError::Unreachable`]);
//! 3. records the result with [`CredentialCache::finish`] and plans again with
//!    [`crate::Gateway::plan_with_credentials`].
//!
//! Three kinds exist: AWS STS `AssumeRoleWithWebIdentity` ([`Federation::Aws`], one call),
//! Azure (Entra client assertion, then Get User Delegation Key: [`Federation::Azure`], two
//! calls) and GCP (Google STS token exchange, then optional service account impersonation:
//! [`Federation::Gcp`]). A kind with several calls answers [`ExchangeStep::Send`] until it is
//! done; the cache, the plan step and the runtimes are the same for all.
//!
//! # Invariants
//!
//! - The cache key covers everything that changes the credentials (provider kind, endpoint,
//!   role, audience, subject, session name, duration), so two buckets share credentials exactly
//!   when they would get the same ones.
//! - At most one refresh per key is in flight; one older than [`IN_FLIGHT_TIMEOUT_SECS`] is
//!   presumed dead (a cancelled request) and may be taken over.
//! - A failure is answered for [`FAILURE_BACKOFF_SECS`], then retried; still-valid credentials
//!   keep being used while a refresh fails.
//! - Errors name the endpoint, the role and STS's code and message, never a token or a secret.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::auth::presign::SigningCredentials;
use crate::auth::secret::SecretKey;
use crate::config::{BackendType, BucketConfig};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

pub(crate) use crate::backend::azure::federation::AzureWorkloadIdentity;
pub(crate) use crate::backend::gcs::federation::GcpWorkloadIdentity;
pub(crate) use crate::backend::s3::federation::{parse_assume_role_response, AwsWebIdentity};

/// Refresh credentials this long before they expire.
pub(crate) const REFRESH_BEFORE_SECS: i64 = 300;
/// Credentials closer than this to their expiry are not used to sign at all.
pub(crate) const MIN_VALIDITY_SECS: i64 = 30;
/// How long a failed exchange is answered from the cache before it is tried again.
pub(crate) const FAILURE_BACKOFF_SECS: i64 = 5;
/// A refresh older than this is presumed dead.
pub(crate) const IN_FLIGHT_TIMEOUT_SECS: i64 = 30;
/// How long a runtime waits for the exchange.
pub(crate) const EXCHANGE_TIMEOUT_SECS: u64 = 10;
/// Largest exchange answer read.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Lifetime of the tokens minted for an exchange (used at once).
pub(crate) const TOKEN_TTL_SECS: i64 = 300;
/// Most cache entries kept; past it, entries with nothing in flight are dropped.
const MAX_ENTRIES: usize = 1024;

/// How a bucket's backend credentials are obtained by federation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Federation {
    /// AWS STS (or an S3-compatible store's STS).
    Aws(AwsWebIdentity),
    /// Microsoft Entra ID (client assertion), then an Azure user delegation key.
    Azure(AzureWorkloadIdentity),
    /// Google STS, then (optionally) service account impersonation: a bearer token for GCS.
    Gcp(GcpWorkloadIdentity),
}

/// Bounds of `duration_seconds` (AWS STS's own).
pub(crate) const MIN_DURATION_SECS: u64 = 900;
/// See [`MIN_DURATION_SECS`].
pub(crate) const MAX_DURATION_SECS: u64 = 43_200;
/// Most HTTP calls one exchange may take (token, then e.g. a delegation key or impersonation).
pub(crate) const MAX_EXCHANGE_STEPS: usize = 4;

/// What an exchange does after an answer: send the next request, or it is done.
#[derive(Debug)]
pub enum ExchangeStep {
    /// Send this request and pass its answer to [`CredentialsNeeded::parse_response`] with the
    /// next step number.
    Send(ExchangeRequest),
    /// The credentials.
    Done(TemporaryCredentials),
}

impl Federation {
    /// The federation of a bucket (`auth_type = "oidc"`), or None for other buckets.
    pub fn from_bucket(b: &BucketConfig) -> Result<Option<Self>, String> {
        match b.option("auth_type") {
            None => return Ok(None),
            Some(t) if t.eq_ignore_ascii_case("oidc") => {}
            Some(t) => {
                return Err(format!(
                    "auth_type '{t}' is not supported (expected \"oidc\")"
                ))
            }
        }
        match b.backend_type {
            BackendType::S3 => AwsWebIdentity::from_bucket(b).map(|a| Some(Federation::Aws(a))),
            BackendType::Azure => {
                AzureWorkloadIdentity::from_bucket(b).map(|a| Some(Federation::Azure(a)))
            }
            BackendType::Gcs => {
                GcpWorkloadIdentity::from_bucket(b).map(|g| Some(Federation::Gcp(g)))
            }
            other => Err(format!(
                "auth_type = \"oidc\" is not supported for backend_type '{}'",
                other.as_str()
            )),
        }
    }

    /// The cache key: every setting that changes the credentials.
    pub fn cache_key(&self) -> String {
        match self {
            Federation::Aws(a) => a.cache_key(),
            Federation::Azure(a) => a.cache_key(),
            Federation::Gcp(g) => g.cache_key(),
        }
    }

    /// `sub` and `aud` of the token to mint.
    pub fn token_subject_and_audience(&self) -> (&str, &str) {
        match self {
            Federation::Aws(a) => (&a.subject, &a.audience),
            Federation::Azure(a) => (&a.subject, &a.audience),
            Federation::Gcp(g) => (&g.subject, &g.audience),
        }
    }

    /// The first request of the exchange, carrying `token`.
    pub fn exchange_request(&self, token: &str, _now: Timestamp) -> ExchangeRequest {
        match self {
            Federation::Aws(a) => a.exchange_request(token),
            Federation::Azure(a) => a.exchange_request(token),
            Federation::Gcp(g) => g.exchange_request(token),
        }
    }

    /// Reads the answer to request number `step` (0 for [`Federation::exchange_request`]'s):
    /// the next request, or the credentials.
    pub fn parse_response(
        &self,
        step: usize,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<ExchangeStep, ExchangeError> {
        if step >= MAX_EXCHANGE_STEPS {
            return Err(ExchangeError::Malformed(format!(
                "the exchange did not end within {MAX_EXCHANGE_STEPS} calls"
            )));
        }
        match self {
            Federation::Aws(_) => parse_assume_role_response(status, body).map(ExchangeStep::Done),
            Federation::Azure(a) => a.parse_response(step, status, body, now),
            Federation::Gcp(g) => g.parse_response(step, status, body, now),
        }
    }

    /// `endpoint (role)`, for messages.
    fn describe(&self) -> String {
        match self {
            Federation::Aws(a) => a.describe(),
            Federation::Azure(a) => a.describe(),
            Federation::Gcp(g) => g.describe(),
        }
    }
}

/// One HTTP request for the runtime to send.
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// Method.
    pub method: Method,
    /// Full URL (checked fetchable at config time).
    pub url: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (a small form).
    pub body: Bytes,
}

impl fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body", &"*** (carries a token)")
            .finish_non_exhaustive()
    }
}

/// Credentials obtained by federation.
#[derive(Clone, Debug)]
pub struct TemporaryCredentials {
    /// What the backend's requests are signed with.
    pub secret: BackendSecret,
    /// When they stop working.
    pub expiration: Timestamp,
}

/// The secret a federated backend's requests are signed with (never shown by `Debug`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BackendSecret {
    /// AWS-style key id, secret and session token (SigV4 presigning).
    Aws(SigningCredentials),
    /// An OAuth 2.0 access token, sent as `Authorization: Bearer`.
    Bearer(SecretKey),
    /// An Azure user delegation key (user delegation SAS signing).
    AzureDelegation(Box<crate::backend::azure::UserDelegationKey>),
}

impl BackendSecret {
    /// What to call these credentials in logs (never the secret itself).
    pub fn describe(&self) -> String {
        match self {
            BackendSecret::Aws(s) => format!("access key {}", s.access_key_id),
            BackendSecret::Bearer(_) => "an access token".to_string(),
            BackendSecret::AzureDelegation(k) => {
                format!("an Azure user delegation key of {}", k.signed_oid)
            }
        }
    }
}

/// Why no credentials came out of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The gateway has no OIDC provider to mint the token (503).
    NotConfigured(String),
    /// The exchange endpoint could not be reached, or did not answer in time (503).
    Unreachable(String),
    /// The endpoint answered with an error (502; 503 for its own 5xx).
    Refused {
        /// HTTP status.
        status: u16,
        /// Its error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The endpoint answered something that is not credentials (502).
    Malformed(String),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::NotConfigured(m)
            | ExchangeError::Unreachable(m)
            | ExchangeError::Malformed(m) => f.write_str(m),
            ExchangeError::Refused {
                status,
                code,
                message,
            } => write!(f, "HTTP {status}, {code}: {message}"),
        }
    }
}

impl ExchangeError {
    /// The S3 error a client gets for a bucket whose credentials failed this way.
    pub fn to_s3(&self, federation: &Federation, bucket: &str) -> S3Error {
        let what = federation.describe();
        match self {
            ExchangeError::NotConfigured(m) => S3Error::new(ErrorCode::ServiceUnavailable, m),
            ExchangeError::Unreachable(m) => S3Error::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "bucket '{bucket}': the backend credentials could not be obtained: {what} could not be reached ({m})"
                ),
            ),
            ExchangeError::Refused { status, .. } => S3Error::new(
                if *status >= 500 {
                    ErrorCode::ServiceUnavailable
                } else {
                    ErrorCode::BadGateway
                },
                format!("bucket '{bucket}': {what} refused the gateway's token: {self}"),
            ),
            ExchangeError::Malformed(m) => S3Error::new(
                ErrorCode::BadGateway,
                format!("bucket '{bucket}': {what} answered something unexpected: {m}"),
            ),
        }
    }
}

/// A bucket's non-empty, trimmed backend option.
pub(crate) fn option<'b>(b: &'b BucketConfig, key: &str) -> Option<&'b str> {
    b.option(key).map(str::trim).filter(|v| !v.is_empty())
}

/// An endpoint option (or its default), without a trailing `/`, checked fetchable.
pub(crate) fn endpoint_option(
    b: &BucketConfig,
    key: &str,
    default: impl FnOnce() -> String,
) -> Result<String, String> {
    let url = option(b, key).map_or_else(default, |e| e.trim_end_matches('/').to_string());
    crate::sts::fetch::check_url(&url).map_err(|e| format!("{key}: {e}"))?;
    Ok(url)
}

/// `duration_seconds` (default 3600), within [`MIN_DURATION_SECS`, `MAX_DURATION_SECS`].
pub(crate) fn duration_option(b: &BucketConfig) -> Result<u64, String> {
    match option(b, "duration_seconds") {
        None => Ok(3600),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|d| (MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(d))
            .ok_or_else(|| {
                format!(
                    "duration_seconds '{v}' is not a number of seconds in [{MIN_DURATION_SECS}, {MAX_DURATION_SECS}]"
                )
            }),
    }
}

/// One component of an `application/x-www-form-urlencoded` body.
pub(crate) fn form_component(s: &str) -> String {
    crate::percent::encode(s.as_bytes(), false)
}

/// A form `POST` (unsigned: the token in it is the credential).
pub(crate) fn form_request(url: String, body: String, accept: &'static str) -> ExchangeRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert(http::header::ACCEPT, HeaderValue::from_static(accept));
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    ExchangeRequest {
        method: Method::POST,
        url,
        headers,
        body: Bytes::from(body),
    }
}

/// A `POST` authorized by an access token from an earlier step (`Authorization: Bearer`,
/// marked sensitive), with `content_type`, `extra` headers and `body`.
pub(crate) fn bearer_post(
    url: String,
    token: &str,
    content_type: &'static str,
    extra: &[(&'static str, &'static str)],
    body: String,
) -> ExchangeRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        v.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, v);
    }
    ExchangeRequest {
        method: Method::POST,
        url,
        headers,
        body: Bytes::from(body),
    }
}

/// The text of elements by name, for the first occurrence of each (namespaces ignored), from
/// a small XML document. None if it is not XML.
pub(crate) fn xml_fields<const N: usize>(
    body: &[u8],
    names: [&str; N],
) -> Option<[Option<String>; N]> {
    let mut reader = Reader::from_reader(body);
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut current: Option<usize> = None;
    let mut saw_element = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                saw_element = true;
                let local = e.local_name();
                current = names
                    .iter()
                    .position(|n| n.as_bytes() == local.as_ref())
                    .filter(|i| out[*i].is_none());
                if let Some(i) = current {
                    out[i] = Some(String::new());
                }
            }
            Event::End(_) => current = None,
            Event::Text(t) => {
                if let Some(i) = current {
                    let text = t.decode().ok()?;
                    if let Some(s) = out[i].as_mut() {
                        s.push_str(&text);
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(i) = current {
                    let c = crate::s3::xml::resolve_ref(&r)?;
                    if let Some(s) = out[i].as_mut() {
                        s.push(c);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    saw_element.then_some(out)
}

/// What a federated request lacks: the plan that asks for credentials, or the error to answer.
pub(crate) enum Unsigned {
    Ask(Box<CredentialsNeeded>),
    Fail(S3Error),
}

/// A bucket's request for credentials, carried by [`crate::Plan::NeedBackendCredentials`].
#[derive(Clone, Debug)]
pub struct CredentialsNeeded {
    /// The cache key ([`Federation::cache_key`]).
    pub key: String,
    /// How to get them.
    pub federation: Arc<Federation>,
}

impl CredentialsNeeded {
    /// Reads the answer to request number `step` ([`Federation::parse_response`]).
    pub fn parse_response(
        &self,
        step: usize,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<ExchangeStep, ExchangeError> {
        self.federation.parse_response(step, status, body, now)
    }
}

/// What the runtime does for a key, from [`CredentialCache::decide`].
#[derive(Debug)]
pub(crate) enum Decision {
    /// Sign with these.
    Use(Arc<TemporaryCredentials>),
    /// Sign with these, and refresh them in the background (this caller owns the refresh and
    /// must end it with [`CredentialCache::finish`]).
    UseAndRefresh(Arc<TemporaryCredentials>),
    /// None are valid: fetch now (this caller owns the refresh and must end it with
    /// [`CredentialCache::finish`]).
    Fetch,
    /// None are valid and another refresh is in flight: wait for it, then decide again.
    Wait,
    /// The last exchange failed less than [`FAILURE_BACKOFF_SECS`] ago.
    Fail(ExchangeError),
}

#[derive(Debug, Default)]
struct Entry {
    creds: Option<Arc<TemporaryCredentials>>,
    refreshing_since: Option<Timestamp>,
    failure: Option<(ExchangeError, Timestamp)>,
}

/// Federated credentials by key, with refresh bookkeeping. One per process (behind a lock) or
/// isolate; the lock is never held across I/O.
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    entries: HashMap<String, Entry>,
}

impl CredentialCache {
    /// What to do for `key` at `now` (see [`Decision`]); marks a refresh in flight when it
    /// hands one to the caller.
    pub(crate) fn decide(&mut self, key: &str, now: Timestamp) -> Decision {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key) {
            self.entries.retain(|_, e| e.refreshing_since.is_some());
        }
        let entry = self.entries.entry(key.to_string()).or_default();
        let in_flight = entry
            .refreshing_since
            .is_some_and(|t| now.0.saturating_sub(t.0) < IN_FLIGHT_TIMEOUT_SECS);
        let backing_off = entry
            .failure
            .as_ref()
            .is_some_and(|(_, retry_at)| now.0 < retry_at.0);
        let valid = entry
            .creds
            .clone()
            .filter(|c| c.expiration.0.saturating_sub(now.0) > MIN_VALIDITY_SECS);
        match valid {
            Some(c) => {
                let due = c.expiration.0.saturating_sub(now.0) <= REFRESH_BEFORE_SECS;
                if due && !in_flight && !backing_off {
                    entry.refreshing_since = Some(now);
                    Decision::UseAndRefresh(c)
                } else {
                    Decision::Use(c)
                }
            }
            None if in_flight => Decision::Wait,
            None => match &entry.failure {
                Some((err, _)) if backing_off => Decision::Fail(err.clone()),
                _ => {
                    entry.refreshing_since = Some(now);
                    Decision::Fetch
                }
            },
        }
    }

    /// Ends the refresh of `key` with its result; returns what the caller should use.
    pub(crate) fn finish(
        &mut self,
        key: &str,
        result: Result<TemporaryCredentials, ExchangeError>,
        now: Timestamp,
    ) -> Result<Arc<TemporaryCredentials>, ExchangeError> {
        let entry = self.entries.entry(key.to_string()).or_default();
        entry.refreshing_since = None;
        match result {
            Ok(c) => {
                let c = Arc::new(c);
                entry.creds = Some(c.clone());
                entry.failure = None;
                Ok(c)
            }
            Err(e) => {
                entry.failure = Some((e.clone(), Timestamp(now.0 + FAILURE_BACKOFF_SECS)));
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests;
