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
use std::sync::Arc;

use crate::config::{BackendType, BucketConfig};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

pub(crate) mod exchange;

pub(crate) use crate::backend::azure::federation::AzureWorkloadIdentity;
pub(crate) use crate::backend::gcs::federation::GcpWorkloadIdentity;
pub(crate) use crate::backend::s3::federation::{parse_assume_role_response, AwsWebIdentity};
pub(crate) use exchange::{
    BackendSecret, ExchangeError, ExchangeRequest, ExchangeStep, TemporaryCredentials,
};

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

/// Most HTTP calls one exchange may take (token, then e.g. a delegation key or impersonation).
pub(crate) const MAX_EXCHANGE_STEPS: usize = 4;

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
