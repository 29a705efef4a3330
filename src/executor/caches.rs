//! What outlives one request: the issuers' JWKS and the federated backends' credentials, plus
//! the small fetches that fill them ([`SmallRequest`]) and the background credential refresh
//! ([`Refresh`]) a runtime runs after answering.
//!
//! Both caches sit behind a `std::sync::Mutex` that is never held across I/O (a [`Session`]
//! never awaits, so it cannot be), so native threads and a Worker isolate share this code.
//!
//! [`Session`]: super::Session

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::backend::federation::{
    CredentialCache, CredentialsNeeded, ExchangeError, TemporaryCredentials,
};
use crate::backend::federation::{
    Decision, ExchangeRequest, ExchangeStep, EXCHANGE_TIMEOUT_SECS, MAX_EXCHANGE_STEPS,
    MAX_RESPONSE_BYTES,
};
use crate::gateway::Gateway;
use crate::sts::fetch::JwksCache;
use crate::time::Timestamp;

/// The world a session may not reach by itself: the clock and a random source. Plain function
/// pointers, so a background [`Refresh`] can keep them past the request.
#[derive(Clone, Copy, Debug)]
pub struct World {
    /// Now (seconds).
    pub now: fn() -> Timestamp,
    /// Fills the buffer with cryptographically secure random bytes.
    pub random: fn(&mut [u8]),
}

/// The per-process (native) or per-isolate (Worker) caches a [`Session`](super::Session) uses.
#[derive(Debug, Default)]
pub struct Caches {
    pub(super) jwks: Mutex<JwksCache>,
    credentials: Mutex<CredentialCache>,
}

/// The lock, even after a panic elsewhere poisoned it: a cache must not take requests down.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Caches {
    pub(super) fn decide(&self, key: &str, now: Timestamp) -> Decision {
        lock(&self.credentials).decide(key, now)
    }

    /// Ends the refresh of `needed` (logging a failure) and returns what to sign with.
    pub(super) fn finish(
        &self,
        needed: &CredentialsNeeded,
        result: Result<TemporaryCredentials, ExchangeError>,
        now: Timestamp,
    ) -> Result<std::sync::Arc<TemporaryCredentials>, ExchangeError> {
        match &result {
            Ok(c) => log::info!(
                "obtained backend credentials ({}, expire {})",
                c.secret.describe(),
                c.expiration.iso8601()
            ),
            Err(e) => log::warn!(
                "backend credential exchange failed: {}",
                crate::auth::redact(&e.to_string())
            ),
        }
        lock(&self.credentials).finish(&needed.key, result, now)
    }
}

/// One small request a runtime sends for the core (a discovery document, a JWKS, a credential
/// exchange call): no redirects followed, the whole call within `timeout`, at most `limit`
/// bytes of the answer read.
#[derive(Clone, Debug)]
pub struct SmallRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers to send (a runtime may leave `Content-Length` to its HTTP stack).
    pub headers: HeaderMap,
    /// Body (empty: none).
    pub body: Bytes,
    /// Cap on the answer's body.
    pub limit: usize,
    /// Bound on the whole call, answer body included.
    pub timeout: Duration,
}

/// Why a [`SmallRequest`] has no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No answer: the request could not be built or sent, or the connection failed.
    Unreachable(String),
    /// No whole answer within the request's timeout.
    TimedOut,
    /// An answer whose body was larger than the limit or broke off.
    Body(String),
}

/// What came back for a [`SmallRequest`]: the status and the (capped) body.
pub type Fetched = Result<(u16, Bytes), FetchError>;

/// A credential exchange in progress: the calls of [`Gateway::credential_exchange`] and
/// [`CredentialsNeeded::parse_response`], one at a time.
#[derive(Debug)]
pub(super) struct Exchange {
    pub(super) needed: Box<CredentialsNeeded>,
    request: ExchangeRequest,
    step: usize,
}

impl Exchange {
    pub(super) fn start(
        gateway: &Gateway,
        needed: Box<CredentialsNeeded>,
        world: World,
    ) -> Result<Self, (Box<CredentialsNeeded>, ExchangeError)> {
        let mut random = world.random;
        match gateway.credential_exchange(&needed, (world.now)(), &mut random) {
            Ok(request) => Ok(Exchange {
                needed,
                request,
                step: 0,
            }),
            Err(e) => Err((needed, e)),
        }
    }

    /// The call to send now.
    pub(super) fn request(&self) -> SmallRequest {
        SmallRequest {
            method: self.request.method.clone(),
            url: self.request.url.clone(),
            headers: self.request.headers.clone(),
            body: self.request.body.clone(),
            limit: MAX_RESPONSE_BYTES,
            timeout: Duration::from_secs(EXCHANGE_TIMEOUT_SECS),
        }
    }

    /// Reads the answer to [`Exchange::request`]: `None` while another call is needed.
    pub(super) fn answered(
        &mut self,
        fetched: Fetched,
        now: Timestamp,
    ) -> Option<Result<TemporaryCredentials, ExchangeError>> {
        let url = &self.request.url;
        let (status, body) = match fetched {
            Ok(answer) => answer,
            Err(FetchError::Unreachable(e)) => {
                return Some(Err(ExchangeError::Unreachable(format!("{url}: {e}"))))
            }
            Err(FetchError::TimedOut) => {
                return Some(Err(ExchangeError::Unreachable(format!(
                    "{url}: no answer within {EXCHANGE_TIMEOUT_SECS} s"
                ))))
            }
            Err(FetchError::Body(e)) => {
                return Some(Err(ExchangeError::Malformed(format!(
                    "reading the answer failed: {e}"
                ))))
            }
        };
        match self.needed.parse_response(self.step, status, &body, now) {
            Ok(ExchangeStep::Done(creds)) => Some(Ok(creds)),
            Ok(ExchangeStep::Send(_)) if self.step + 1 >= MAX_EXCHANGE_STEPS => {
                Some(Err(ExchangeError::Malformed(format!(
                    "the exchange did not end within {MAX_EXCHANGE_STEPS} calls"
                ))))
            }
            Ok(ExchangeStep::Send(next)) => {
                self.request = next;
                self.step += 1;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// A refresh of federated credentials ahead of their expiry, run after the request that
/// started it was answered (natively a spawned task, on the Worker `waitUntil`): send
/// [`Refresh::next`]'s request, hand the answer to [`Refresh::fetched`], until `next` is `None`.
/// Dropping it unfinished is harmless: the cache stops waiting for it after
/// [`IN_FLIGHT_TIMEOUT_SECS`](crate::backend::federation::IN_FLIGHT_TIMEOUT_SECS).
#[derive(Debug)]
pub struct Refresh {
    exchange: Option<Exchange>,
    world: World,
}

impl Refresh {
    /// Starts the refresh this caller owns; `None` when it ended at once (recorded in `caches`).
    pub(super) fn start(
        gateway: &Gateway,
        caches: &Caches,
        needed: Box<CredentialsNeeded>,
        world: World,
    ) -> Option<Self> {
        match Exchange::start(gateway, needed, world) {
            Ok(exchange) => Some(Refresh {
                exchange: Some(exchange),
                world,
            }),
            Err((needed, e)) => {
                let _ = caches.finish(&needed, Err(e), (world.now)());
                None
            }
        }
    }

    /// The next call to send; `None` once the refresh is over.
    pub fn next(&self) -> Option<SmallRequest> {
        self.exchange.as_ref().map(Exchange::request)
    }

    /// The answer to the last [`Refresh::next`]; the result goes into `caches`.
    pub fn fetched(&mut self, caches: &Caches, fetched: Fetched) {
        let Some(exchange) = self.exchange.as_mut() else {
            return;
        };
        let now = (self.world.now)();
        if let Some(result) = exchange.answered(fetched, now) {
            let _ = caches.finish(&exchange.needed, result, now);
            self.exchange = None;
        }
    }
}
