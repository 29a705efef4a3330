//! STS on the Worker: the issuers' JWKS cached per isolate, fetched with the Fetch API.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use crate::sts::fetch::{self as jwks_fetch, JwksCache};
use crate::sts::jwt::Jwks;
use crate::time::Timestamp;
use crate::{Gateway, Plan, RequestContext, RequestHead};

use super::{body, js};

thread_local! {
    static JWKS: RefCell<JwksCache> = RefCell::default();
}

/// Verifies the web identity token with the issuer's JWKS (cached, fetched when missing or
/// stale, refetched once when the token's key is unknown) and mints the credentials.
pub async fn assume_role(
    gateway: &Gateway,
    head: &RequestHead,
    ctx: &RequestContext,
    body: &[u8],
    issuer: &str,
) -> Plan {
    let jwks = issuer_jwks(issuer, false).await;
    let plan = gateway.plan_with_jwks(
        head,
        ctx,
        body,
        jwks.as_deref(),
        true,
        &mut js::random_bytes,
    );
    let Plan::NeedJwks { refresh: true, .. } = plan else {
        return plan;
    };
    let jwks = issuer_jwks(issuer, true).await;
    gateway.plan_with_jwks(
        head,
        ctx,
        body,
        jwks.as_deref(),
        false,
        &mut js::random_bytes,
    )
}

fn now() -> Timestamp {
    #[allow(clippy::cast_possible_truncation)] // milliseconds since 1970 fit an i64
    Timestamp((js_sys::Date::now() / 1000.0) as i64)
}

/// The cached JWKS while fresh (unless `force`), else fetched if the rate limit allows, else
/// the last one fetched.
async fn issuer_jwks(issuer: &str, force: bool) -> Option<Arc<Jwks>> {
    let now = now();
    let may_fetch = JWKS.with(|c| {
        let mut c = c.borrow_mut();
        if !force {
            if let Some(j) = c.fresh(issuer, now) {
                return Err(j);
            }
        }
        Ok(c.begin_fetch(issuer, now))
    });
    let may_fetch = match may_fetch {
        Ok(m) => m,
        Err(fresh) => return Some(fresh),
    };
    if may_fetch {
        match fetch_jwks(issuer).await {
            Ok(jwks) => {
                let jwks = Arc::new(jwks);
                JWKS.with(|c| c.borrow_mut().store(issuer, jwks.clone(), now));
                return Some(jwks);
            }
            Err(e) => log::warn!(
                "fetching the JWKS of {issuer} failed: {}",
                crate::auth::redact(&e.to_string())
            ),
        }
    }
    JWKS.with(|c| c.borrow().stale(issuer))
}

async fn fetch_jwks(issuer: &str) -> Result<Jwks, String> {
    let discovery = fetch_document(&jwks_fetch::discovery_url(issuer)).await?;
    let uri = jwks_fetch::jwks_uri(&discovery, issuer)?;
    let doc = fetch_document(&uri).await?;
    Jwks::parse(&doc).map_err(|e| format!("{uri}: {e}"))
}

/// GETs a small JSON document: fetchable URLs only, capped, with a timeout, no redirects
/// followed.
async fn fetch_document(url: &str) -> Result<Bytes, String> {
    jwks_fetch::check_url(url)?;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    let (status, doc) = body::fetch_small(
        "GET",
        url,
        &headers,
        None,
        jwks_fetch::FETCH_TIMEOUT_SECS,
        jwks_fetch::MAX_DOCUMENT_BYTES,
    )
    .await
    .map_err(|e| match e {
        body::FetchError::Unreachable(e) | body::FetchError::Body(e) => format!("{url}: {e}"),
    })?;
    if !(200..300).contains(&status) {
        return Err(format!("{url} answered {status}"));
    }
    Ok(doc)
}
