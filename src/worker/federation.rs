//! Backend federation on the Worker: the credential cache per isolate and the STS exchange
//! over the Fetch API.
//!
//! Promises are never shared between requests (the runtime forbids awaiting another request's
//! I/O), so a request that finds the one refresh in flight polls the isolate's cache on a short
//! timer instead of awaiting that refresh. A refresh ahead of expiry runs in the `waitUntil` of
//! the request that started it, while every request keeps signing with the still-valid
//! credentials.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::federation::{
    CredentialCache, CredentialsNeeded, ExchangeError, TemporaryCredentials,
};
use crate::backend::federation::{
    Decision, ExchangeStep, EXCHANGE_TIMEOUT_SECS, IN_FLIGHT_TIMEOUT_SECS, MAX_EXCHANGE_STEPS,
    MAX_RESPONSE_BYTES,
};
use crate::time::Timestamp;
use crate::Gateway;

use super::{body, js};

thread_local! {
    static CREDENTIALS: RefCell<CredentialCache> = RefCell::default();
}

/// How often a waiting request looks at the cache again.
const POLL: Duration = Duration::from_millis(25);

fn now() -> Timestamp {
    #[allow(clippy::cast_possible_truncation)] // milliseconds since 1970 fit an i64
    Timestamp((js_sys::Date::now() / 1000.0) as i64)
}

/// The credentials for `needed`: cached, or exchanged now (one exchange per key at a time in
/// this isolate), refreshed in the background when they near expiry.
pub async fn credentials(
    gateway: &Rc<Gateway>,
    ctx: &worker::Context,
    needed: &CredentialsNeeded,
) -> Result<Arc<TemporaryCredentials>, ExchangeError> {
    #[allow(clippy::cast_precision_loss)] // a few seconds
    let give_up = js_sys::Date::now() + (IN_FLIGHT_TIMEOUT_SECS as f64 + 5.0) * 1000.0;
    loop {
        let decision = CREDENTIALS.with(|c| c.borrow_mut().decide(&needed.key, now()));
        match decision {
            Decision::Use(c) => return Ok(c),
            Decision::UseAndRefresh(c) => {
                let gateway = gateway.clone();
                let needed = needed.clone();
                ctx.wait_until(async move {
                    if let Err(e) = refresh(&gateway, &needed).await {
                        log::warn!("refreshing backend credentials failed, still using the current ones: {}", crate::auth::redact(&e.to_string()));
                    }
                });
                return Ok(c);
            }
            Decision::Fetch => return refresh(gateway, needed).await,
            Decision::Fail(e) => return Err(e),
            Decision::Wait => {
                if js_sys::Date::now() > give_up {
                    return Err(ExchangeError::Unreachable(
                        "timed out waiting for another request's credential exchange".to_string(),
                    ));
                }
                worker::Delay::from(POLL).await;
            }
        }
    }
}

/// Runs the exchange this caller owns and records the result.
async fn refresh(
    gateway: &Gateway,
    needed: &CredentialsNeeded,
) -> Result<Arc<TemporaryCredentials>, ExchangeError> {
    let result = exchange(gateway, needed).await;
    if let Err(e) = &result {
        log::warn!(
            "backend credential exchange failed: {}",
            crate::auth::redact(&e.to_string())
        );
    }
    CREDENTIALS.with(|c| c.borrow_mut().finish(&needed.key, result, now()))
}

/// Runs the exchange's calls in turn (each within [`EXCHANGE_TIMEOUT_SECS`]).
async fn exchange(
    gateway: &Gateway,
    needed: &CredentialsNeeded,
) -> Result<TemporaryCredentials, ExchangeError> {
    let mut request = gateway.credential_exchange(needed, now(), &mut js::random_bytes)?;
    for step in 0..MAX_EXCHANGE_STEPS {
        let (status, body) = body::fetch_small(
            request.method.as_str(),
            &request.url,
            &request.headers,
            Some(&request.body),
            EXCHANGE_TIMEOUT_SECS,
            MAX_RESPONSE_BYTES,
        )
        .await
        .map_err(|e| match e {
            body::FetchError::Unreachable(e) => {
                ExchangeError::Unreachable(format!("{}: {e}", request.url))
            }
            body::FetchError::Body(e) => ExchangeError::Malformed(e),
        })?;
        match needed.parse_response(step, status, &body, now())? {
            ExchangeStep::Send(next) => request = next,
            ExchangeStep::Done(creds) => {
                log::info!(
                    "obtained backend credentials ({}, expire {})",
                    creds.secret.describe(),
                    creds.expiration.iso8601()
                );
                return Ok(creds);
            }
        }
    }
    Err(ExchangeError::Malformed(format!(
        "the exchange did not end within {MAX_EXCHANGE_STEPS} calls"
    )))
}
