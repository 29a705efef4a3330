//! STS requests in the pipeline: routed before S3 parsing, answered by the gateway itself.
//!
//! ```text
//! plan ─▶ NeedBody (POST form) ─▶ plan_with_body ─▶ NeedJwks { issuer } ─▶ plan_with_jwks ─▶ Respond
//!                                                        ▲                      │
//!                                                        └── NeedJwks { refresh: true } (unknown kid)
//! ```
//!
//! The runtime fetches the JWKS (see [`crate::sts::fetch`]) and supplies the random bytes for the
//! access key id and the token nonce; the core stays sans-IO.
//!
//! `GetCallerIdentity` is answered at `plan_with_body` (or at `plan` for a `GET`): its SigV4
//! signature (service `sts`, over the hash of the form body) is verified with the caller's
//! access key or session token, and failures are answered in STS's words
//! (`MissingAuthenticationToken`, `SignatureDoesNotMatch`, `InvalidClientTokenId`...).

use std::cell::{Cell, RefCell};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{respond, Gateway, Plan, RequestContext, RequestHead};
use crate::auth::sigv4::{self, SignedService};
use crate::auth::{CredentialStore, ResolvedCredential};
use crate::config::CredentialIndex;
use crate::policy::Identity;
use crate::s3::{ErrorCode, Operation, S3Error, S3Request};
use crate::sts::jwt::Jwks;
use crate::sts::token::{SessionClaims, SessionKeys};
use crate::sts::{self, CallerIdentity, StsAction, StsError, StsErrorCode};
use crate::time::Timestamp;

/// Whether `head` is an STS request (see [`sts::is_sts_request`]).
pub(super) fn is_sts(head: &RequestHead) -> bool {
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (head.target.as_str(), None),
    };
    let content_type = head
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    sts::is_sts_request(&head.method, path, query, content_type)
}

/// Whether an `OPTIONS` request is the preflight of an STS call: to `/.sts`, or to `/` for a
/// `POST` (the form SDKs send) or a `GET` naming the STS action. On the gateway's own host `/`
/// serves nothing else that takes a POST, so the preflight need not see the (unsent) body; the
/// caller rules out virtual-hosted buckets, whose `POST /` is a form upload.
pub(super) fn is_sts_preflight(head: &RequestHead) -> bool {
    let path = head
        .target
        .split_once('?')
        .map_or(head.target.as_str(), |(p, _)| p);
    let method = head
        .headers
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
    match method {
        Some(m) if m == Method::POST && path == "/" => true,
        Some(m) => sts::is_sts_request(&m, path, query(head), None),
        None => path == sts::STS_PATH,
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn query(head: &RequestHead) -> Option<&str> {
    head.target.split_once('?').map(|(_, q)| q)
}

/// An STS answer: `text/xml`, the document, the request id.
fn sts_response(status: StatusCode, xml: String, request_id: &str) -> Response<Bytes> {
    respond(status, Bytes::from(xml), Some("text/xml"), request_id)
}

/// An STS error document with its status.
pub(super) fn sts_error(err: &StsError, request_id: &str) -> Plan {
    log::debug!("STS -> {}", crate::auth::redact(&err.to_string()));
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Plan::Respond(sts_response(status, err.to_xml(request_id), request_id))
}

impl Gateway {
    /// First step of an STS request: read the form body if there is one, then name the issuer
    /// whose JWKS is needed.
    pub(super) fn plan_sts(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        body: Option<&[u8]>,
    ) -> Plan {
        let body = match body {
            Some(b) => b,
            None if head.method == Method::POST => {
                return Plan::NeedBody {
                    limit: sts::MAX_BODY_BYTES,
                }
            }
            None => &[],
        };
        match sts::parse_action(&head.method, query(head), content_type(&head.headers), body) {
            Ok(StsAction::GetCallerIdentity) => {
                return match self.caller_identity(head, ctx, body) {
                    Ok(who) => Plan::Respond(sts_response(
                        StatusCode::OK,
                        who.to_xml(&ctx.request_id),
                        &ctx.request_id,
                    )),
                    Err(e) => sts_error(&e, &ctx.request_id),
                }
            }
            Ok(StsAction::AssumeRoleWithWebIdentity) => {}
            Err(e) => return sts_error(&e, &ctx.request_id),
        }
        let Some(_) = self.options.session_keys else {
            return sts_error(&not_configured(), &ctx.request_id);
        };
        let issuer =
            sts::parse_request(&head.method, query(head), content_type(&head.headers), body)
                .and_then(|req| sts::issuer_to_fetch(&self.config, &req))
                .and_then(|issuer| {
                    sts::fetch::check_url(&issuer).map_err(|e| {
                        StsError::new(
                            StsErrorCode::IDPCommunicationError,
                            format!("the issuer's keys cannot be fetched: {e}"),
                        )
                    })?;
                    Ok(issuer)
                });
        match issuer {
            Ok(issuer) => Plan::NeedJwks {
                issuer,
                refresh: false,
            },
            Err(e) => sts_error(&e, &ctx.request_id),
        }
    }

    /// Answers an STS request with the JWKS the runtime has for the issuer [`Plan::NeedJwks`]
    /// named (`None` if it could not get one). With `may_refresh`, a token whose `kid` the JWKS
    /// lacks (or a missing JWKS) gives [`Plan::NeedJwks`] with `refresh: true`: refetch (rate
    /// limited) and call again with `may_refresh: false`. `rng` fills the new access key id and
    /// the token nonce.
    ///
    /// `body` is the form body read for [`Plan::NeedBody`] (empty for `GET`).
    #[allow(clippy::too_many_arguments)] // the world, passed in
    pub fn plan_with_jwks(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        body: &[u8],
        jwks: Option<&Jwks>,
        may_refresh: bool,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Plan {
        let plan = self.assume_role(head, ctx, body, jwks, may_refresh, rng);
        self.with_sts_cors(head, plan)
    }

    /// An STS answer with the CORS headers of [`crate::cors::CorsRule::sts_default`].
    pub(super) fn with_sts_cors(&self, head: &RequestHead, plan: Plan) -> Plan {
        super::with_cors(plan, self.sts_cors.for_request(&head.method, &head.headers))
    }

    #[allow(clippy::too_many_arguments)] // the world, passed in
    fn assume_role(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        body: &[u8],
        jwks: Option<&Jwks>,
        may_refresh: bool,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Plan {
        let Some(keys) = &self.options.session_keys else {
            return sts_error(&not_configured(), &ctx.request_id);
        };
        let req = match sts::parse_request(
            &head.method,
            query(head),
            content_type(&head.headers),
            body,
        ) {
            Ok(r) => r,
            Err(e) => return sts_error(&e, &ctx.request_id),
        };
        match sts::assume_role(&self.config, &req, |_| jwks, keys, ctx.now, rng) {
            Ok(assumed) => {
                log::debug!(
                    "STS: {} assumed role {} as {}",
                    assumed.subject,
                    req.role_id,
                    assumed.credentials.access_key_id
                );
                Plan::Respond(sts_response(
                    StatusCode::OK,
                    assumed.to_xml(&ctx.request_id),
                    &ctx.request_id,
                ))
            }
            Err(StsError {
                jwks_refresh: Some(issuer),
                ..
            }) if may_refresh => Plan::NeedJwks {
                issuer,
                refresh: true,
            },
            Err(e) => sts_error(&e, &ctx.request_id),
        }
    }
}

impl Gateway {
    /// `GetCallerIdentity`: verifies the request's signature for service `sts` (header or
    /// presigned; the payload hash is the body's) and names who signed it. Works with the
    /// config's access keys even without `SESSION_TOKEN_KEY`.
    fn caller_identity(
        &self,
        head: &RequestHead,
        ctx: &RequestContext,
        body: &[u8],
    ) -> Result<CallerIdentity, StsError> {
        let ct = content_type(&head.headers);
        sts::parse_caller_identity_request(&head.method, query(head), ct, body)?;
        let (raw_path, raw_query) = head
            .target
            .split_once('?')
            .unwrap_or((head.target.as_str(), ""));
        let req = S3Request {
            operation: Operation::ListBuckets,
            bucket: None,
            key: None,
            raw_path: raw_path.to_string(),
            raw_query: raw_query.to_string(),
            query: sts::query_params(raw_query)?,
            virtual_hosted: false,
        };
        let body_sha256 = sigv4::sha256_hex(body);
        let store = CallerStore {
            creds: GatewayCredentials {
                index: &self.credentials,
                sessions: self.options.session_keys.as_ref(),
            },
            session: RefCell::new(None),
            lookup_failed: Cell::new(false),
        };
        let authed = sigv4::verify_service_request(
            head,
            &req,
            &store,
            &self.auth,
            &self.signing_keys,
            ctx.now,
            SignedService {
                name: "sts",
                body_sha256: Some(&body_sha256),
            },
        )
        .map_err(|e| caller_error(e, store.lookup_failed.get()))?;
        match (authed.identity, store.session.into_inner()) {
            (Identity::Anonymous, _) => Err(StsError::new(
                StsErrorCode::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            )),
            (Identity::Principal { .. }, Some(claims)) => Ok(CallerIdentity::of_session(&claims)),
            (
                Identity::Principal {
                    name,
                    access_key_id,
                    ..
                },
                None,
            ) => Ok(CallerIdentity::of_access_key(&name, &access_key_id)),
        }
    }
}

/// The gateway's credential store, remembering what `GetCallerIdentity` answers with: the
/// session the token opened to, and whether the lookup itself failed (an unknown, disabled or
/// expired key or token, as opposed to a bad signature).
struct CallerStore<'a> {
    creds: GatewayCredentials<'a>,
    session: RefCell<Option<SessionClaims>>,
    lookup_failed: Cell<bool>,
}

impl CredentialStore for CallerStore<'_> {
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        let resolved = match (session_token, self.creds.sessions) {
            (Some(token), Some(keys)) => keys
                .open(token, access_key_id, now)
                .map(|opened| {
                    *self.session.borrow_mut() = Some(opened.claims.clone());
                    opened.into_resolved_credential()
                })
                .map_err(S3Error::from),
            _ => self.creds.lookup(access_key_id, session_token, now),
        };
        self.lookup_failed.set(resolved.is_err());
        resolved
    }
}

/// An S3 authentication error in STS's words. `lookup_failed`: the access key or session token
/// itself was refused.
fn caller_error(e: S3Error, lookup_failed: bool) -> StsError {
    let (code, message) = match e.code {
        ErrorCode::ExpiredToken if lookup_failed => (
            StsErrorCode::ExpiredToken,
            format!(
                "The security token included in the request is expired ({})",
                e.message
            ),
        ),
        _ if lookup_failed => (
            StsErrorCode::InvalidClientTokenId,
            format!(
                "The security token included in the request is invalid ({})",
                e.message
            ),
        ),
        ErrorCode::SignatureDoesNotMatch => (
            StsErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_string(),
        ),
        ErrorCode::RequestTimeTooSkewed => (
            StsErrorCode::SignatureDoesNotMatch,
            "Signature expired: the request time is more than 15 minutes away from the server's time".to_string(),
        ),
        ErrorCode::AccessDenied if e.details.iter().any(|(k, _)| *k == "X-Amz-Expires") => (
            StsErrorCode::SignatureDoesNotMatch,
            "Signature expired: the presigned request has expired".to_string(),
        ),
        _ => {
            let mut message = e.message;
            for (k, v) in &e.details {
                if *k == "HeadersNotSigned" {
                    message = format!("{message}: {v}");
                }
            }
            (StsErrorCode::IncompleteSignature, message)
        }
    };
    StsError::new(code, message)
}

fn not_configured() -> StsError {
    StsError::new(
        StsErrorCode::ServiceUnavailable,
        "STS is not enabled on this gateway: set SESSION_TOKEN_KEY (32 bytes, base64)",
    )
}

/// The credential store of a request: sealed session tokens when the gateway has session keys,
/// the config's long-lived keys otherwise.
pub(super) struct GatewayCredentials<'a> {
    pub(super) index: &'a CredentialIndex,
    pub(super) sessions: Option<&'a SessionKeys>,
}

impl CredentialStore for GatewayCredentials<'_> {
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        match (session_token, self.sessions) {
            (Some(_), Some(keys)) => sts::SessionCredentialStore {
                keys,
                fallback: self.index,
            }
            .lookup(access_key_id, session_token, now),
            (Some(_), None) => Err(S3Error::new(
                ErrorCode::InvalidToken,
                "this gateway does not accept session tokens (no SESSION_TOKEN_KEY is set)",
            )),
            (None, _) => self.index.lookup(access_key_id, None, now),
        }
    }
}

#[cfg(test)]
mod tests;
