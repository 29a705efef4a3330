//! The OIDC provider and backend federation in the pipeline.
//!
//! ```text
//! GET {issuer path}/.well-known/{openid-configuration,jwks.json} ─▶ Respond (before S3 parsing)
//!
//! plan ─▶ … authorize … ─▶ NeedBackendCredentials ─▶ (runtime: cache, or credential_exchange
//!                                                       + HTTP + parse_response)
//!                                                  ─▶ plan_with_credentials ─▶ Forward
//! ```
//!
//! The client is authenticated and authorized before any credentials are asked for, so an
//! anonymous or refused request never makes the gateway call STS.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};

use super::{respond, Gateway, RequestContext, RequestHead};
pub(crate) use crate::backend::federation::Unsigned;
use crate::backend::federation::{
    CredentialsNeeded, ExchangeError, ExchangeRequest, TemporaryCredentials, TOKEN_TTL_SECS,
};
use crate::oidc::provider::{MintRequest, CACHE_CONTROL};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

const NOT_CONFIGURED: &str = "this gateway has no OIDC provider to federate with: set \
     OIDC_PROVIDER_KEY (an RSA private key in PEM) and OIDC_PROVIDER_ISSUER";

impl Gateway {
    /// The provider's discovery document or JWKS, for a `GET`/`HEAD` of their paths.
    pub(super) fn oidc_document(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
    ) -> Option<Response<Bytes>> {
        if head.method != Method::GET && head.method != Method::HEAD {
            return None;
        }
        let provider = self.options.oidc_provider.as_ref()?;
        let path = head.target.split(['?', '#']).next().unwrap_or("");
        let doc = provider.document_for(path)?;
        let body = if head.method == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(doc.as_bytes())
        };
        let mut resp = respond(
            StatusCode::OK,
            body,
            Some("application/json"),
            &ctx.request_id,
        );
        let h = resp.headers_mut();
        h.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        // Public documents: verifiers in browsers may read them too.
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if head.method == Method::HEAD {
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(doc.len()));
        }
        Some(resp)
    }

    /// The federated credentials a request to a backend with `needed` (None: its own, or
    /// none) is signed with, or what to do without them.
    pub(super) fn federated_credentials<'c>(
        &self,
        needed: Option<&CredentialsNeeded>,
        bucket: &str,
        credentials: Option<Result<&'c TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Option<&'c TemporaryCredentials>, Unsigned> {
        let Some(needed) = needed else {
            return Ok(None);
        };
        match credentials {
            Some(Ok(c)) => Ok(Some(c)),
            Some(Err(e)) => Err(Unsigned::Fail(e.to_s3(&needed.federation, bucket))),
            None if self.options.oidc_provider.is_none() => {
                Err(Unsigned::Fail(S3Error::new(
                    ErrorCode::ServiceUnavailable,
                    format!("bucket '{bucket}' reaches its backend by OIDC federation, but {NOT_CONFIGURED}"),
                )))
            }
            None => Err(Unsigned::Ask(Box::new(needed.clone()))),
        }
    }

    /// The HTTP exchange that trades a freshly minted token for `needed`'s credentials. `rng`
    /// fills the token's `jti` and blinds the signature.
    pub fn credential_exchange(
        &self,
        needed: &CredentialsNeeded,
        now: Timestamp,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<ExchangeRequest, ExchangeError> {
        let provider = self
            .options
            .oidc_provider
            .as_ref()
            .ok_or_else(|| ExchangeError::NotConfigured(NOT_CONFIGURED.to_string()))?;
        let (subject, audience) = needed.federation.token_subject_and_audience();
        let token = provider
            .mint(
                &MintRequest {
                    subject,
                    audience,
                    ttl_secs: TOKEN_TTL_SECS,
                },
                now,
                rng,
            )
            .map_err(|e| ExchangeError::NotConfigured(e.to_string()))?;
        Ok(needed.federation.exchange_request(&token, now))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
