//! Backend federation natively: the process-wide credential cache and the STS exchange.
//!
//! One [`Federator`] per process, shared by every request. The core's
//! [`CredentialCache`] decides; this file only does the I/O: the exchange over the shared hyper
//! client (with a timeout and a size cap), a background refresh ahead of expiry, and waiting
//! (on a [`Notify`]) for the one refresh in flight when no valid credentials exist.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full, Limited};
use multistore::backend::federation::{
    CredentialCache, CredentialsNeeded, ExchangeError, TemporaryCredentials,
};
use multistore::backend::federation::{
    Decision, ExchangeRequest, ExchangeStep, EXCHANGE_TIMEOUT_SECS, IN_FLIGHT_TIMEOUT_SECS,
    MAX_EXCHANGE_STEPS, MAX_RESPONSE_BYTES,
};
use multistore::Gateway;
use tokio::sync::Notify;

use crate::proxy::{error_chain, now, random_bytes, BackendClient};

/// Federated backend credentials for the whole process.
#[derive(Clone)]
pub struct Federator {
    client: BackendClient,
    cache: Arc<Mutex<CredentialCache>>,
    /// Woken whenever a refresh ends.
    changed: Arc<Notify>,
}

impl Federator {
    /// Shares the backend client. The cache outlives config refreshes: its key holds every
    /// setting that changes the credentials.
    pub fn new(client: BackendClient) -> Self {
        Federator {
            client,
            cache: Arc::default(),
            changed: Arc::new(Notify::new()),
        }
    }

    /// The credentials for `needed`: cached, or exchanged now (one exchange per key at a time;
    /// others wait for it), refreshed in the background when they near expiry. `gateway` (the
    /// request's config snapshot) mints the token an exchange presents.
    pub async fn credentials(
        &self,
        gateway: &Arc<Gateway>,
        needed: &CredentialsNeeded,
    ) -> Result<Arc<TemporaryCredentials>, ExchangeError> {
        // Waiting longer than a dead refresh is presumed alive would be pointless.
        let give_up = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(IN_FLIGHT_TIMEOUT_SECS).unwrap_or(30) + 5);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before deciding, so a refresh ending in between still wakes us.
            notified.as_mut().enable();
            let decision = self.decide(&needed.key);
            match decision {
                Decision::Use(c) => return Ok(c),
                Decision::UseAndRefresh(c) => {
                    let (this, gateway) = (self.clone(), gateway.clone());
                    let needed = needed.clone();
                    tokio::spawn(async move {
                        if let Err(e) = this.refresh(&gateway, &needed).await {
                            log::warn!("refreshing backend credentials failed, still using the current ones: {}", multistore::auth::redact(&e.to_string()));
                        }
                    });
                    return Ok(c);
                }
                Decision::Fetch => return self.refresh(gateway, needed).await,
                Decision::Fail(e) => return Err(e),
                Decision::Wait => {
                    if tokio::time::timeout_at(give_up, notified).await.is_err() {
                        return Err(ExchangeError::Unreachable(
                            "timed out waiting for another request's credential exchange"
                                .to_string(),
                        ));
                    }
                }
            }
        }
    }

    fn decide(&self, key: &str) -> Decision {
        match self.cache.lock() {
            Ok(mut c) => c.decide(key, now()),
            // A poisoned lock (a panic mid-update) must not take federation down with it.
            Err(poisoned) => poisoned.into_inner().decide(key, now()),
        }
    }

    /// Runs the exchange this caller owns, records the result and wakes the waiters.
    async fn refresh(
        &self,
        gateway: &Gateway,
        needed: &CredentialsNeeded,
    ) -> Result<Arc<TemporaryCredentials>, ExchangeError> {
        let result = self.exchange(gateway, needed).await;
        if let Err(e) = &result {
            log::warn!(
                "backend credential exchange failed: {}",
                multistore::auth::redact(&e.to_string())
            );
        }
        let out = match self.cache.lock() {
            Ok(mut c) => c.finish(&needed.key, result, now()),
            Err(poisoned) => poisoned.into_inner().finish(&needed.key, result, now()),
        };
        self.changed.notify_waiters();
        out
    }

    /// Runs the exchange's calls in turn (each within [`EXCHANGE_TIMEOUT_SECS`]).
    async fn exchange(
        &self,
        gateway: &Gateway,
        needed: &CredentialsNeeded,
    ) -> Result<TemporaryCredentials, ExchangeError> {
        let mut request = gateway.credential_exchange(needed, now(), &mut random_bytes)?;
        for step in 0..MAX_EXCHANGE_STEPS {
            let (status, body) = tokio::time::timeout(
                Duration::from_secs(EXCHANGE_TIMEOUT_SECS),
                self.send(&request),
            )
            .await
            .map_err(|_| {
                ExchangeError::Unreachable(format!(
                    "{}: no answer within {EXCHANGE_TIMEOUT_SECS} s",
                    request.url
                ))
            })??;
            match needed.parse_response(step, status, &body, now())? {
                ExchangeStep::Send(next) => request = next,
                ExchangeStep::Done(result) => {
                    log::info!(
                        "obtained backend credentials ({}, expire {})",
                        result.secret.describe(),
                        result.expiration.iso8601()
                    );
                    return Ok(result);
                }
            }
        }
        Err(ExchangeError::Malformed(format!(
            "the exchange did not end within {MAX_EXCHANGE_STEPS} calls"
        )))
    }

    /// One call of an exchange: its status and (capped) body.
    async fn send(&self, exchange: &ExchangeRequest) -> Result<(u16, Bytes), ExchangeError> {
        let url = exchange.url.as_str();
        let mut builder = Request::builder().method(exchange.method.clone()).uri(url);
        if let Some(h) = builder.headers_mut() {
            *h = exchange.headers.clone();
        }
        let request = builder
            .body(
                Full::new(exchange.body.clone())
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .map_err(|e| ExchangeError::Unreachable(format!("{url}: {e}")))?;
        let resp = self
            .client
            .request(request)
            .await
            .map_err(|e| ExchangeError::Unreachable(format!("{url}: {}", error_chain(&e))))?;
        let status = resp.status().as_u16();
        let body: Bytes = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| ExchangeError::Malformed(format!("reading the answer failed: {e}")))?;
        Ok((status, body))
    }
}
