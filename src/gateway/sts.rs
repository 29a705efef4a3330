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

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{respond, Gateway, Plan, RequestContext, RequestHead};
use crate::auth::{CredentialStore, ResolvedCredential};
use crate::config::CredentialIndex;
use crate::s3::{ErrorCode, S3Error};
use crate::sts::jwt::Jwks;
use crate::sts::token::SessionKeys;
use crate::sts::{self, StsError, StsErrorCode};
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
        let Some(_) = self.options.session_keys else {
            return sts_error(&not_configured(), &ctx.request_id);
        };
        let body = match body {
            Some(b) => b,
            None if head.method == Method::POST => {
                return Plan::NeedBody {
                    limit: sts::MAX_BODY_BYTES,
                }
            }
            None => &[],
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
mod tests {
    use super::*;
    use crate::config::{ConfigFormat, GatewayConfig};
    use crate::GatewayOptions;
    use http::HeaderValue;

    const CONFIG: &str = r#"
[[buckets]]
name = "b"
backend_type = "s3"
allowed_roles = ["r"]
[buckets.backend_options]
endpoint = "https://s3.example.com"
bucket_name = "bk"
[[roles]]
role_id = "r"
trusted_oidc_issuers = ["https://idp.example"]
required_audiences = ["sts.amazonaws.com"]
subject_conditions = ["*"]
[[roles.allowed_scopes]]
bucket = "b"
actions = ["get_object"]
"#;

    fn gateway(keys: bool) -> Gateway {
        let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
        let session_keys = keys.then(|| SessionKeys::new(&[7; 32], None).unwrap());
        Gateway::new(
            config,
            GatewayOptions {
                session_keys,
                ..GatewayOptions::default()
            },
        )
        .unwrap()
    }

    fn ctx() -> RequestContext {
        RequestContext {
            now: Timestamp(1_700_000_000),
            request_id: "REQ".into(),
        }
    }

    fn form_post() -> RequestHead {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        RequestHead {
            method: Method::POST,
            target: "/".into(),
            headers,
        }
    }

    /// `{"alg":"RS256","kid":"k"}.{"iss":"https://idp.example","sub":"s"}.sig`
    fn token(iss: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let c = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"{iss}","sub":"s"}}"#));
        format!("{h}.{c}.c2ln")
    }

    fn body(iss: &str) -> Bytes {
        Bytes::from(format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=r&WebIdentityToken={}",
            token(iss)
        ))
    }

    fn status_and_text(plan: Plan) -> (u16, String) {
        let Plan::Respond(resp) = plan else {
            panic!("expected an answer, got {plan:?}")
        };
        (
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body()).into_owned(),
        )
    }

    #[test]
    fn a_form_post_to_the_root_reads_the_body_then_asks_for_the_issuers_jwks() {
        let g = gateway(true);
        assert!(matches!(
            g.plan(&form_post(), &ctx()),
            Plan::NeedBody {
                limit: sts::MAX_BODY_BYTES
            }
        ));
        match g.plan_with_body(&form_post(), &ctx(), body("https://idp.example")) {
            Plan::NeedJwks { issuer, refresh } => {
                assert_eq!(issuer, "https://idp.example");
                assert!(!refresh);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_untrusted_issuer_is_refused_before_anything_is_fetched() {
        let g = gateway(true);
        let (status, text) =
            status_and_text(g.plan_with_body(&form_post(), &ctx(), body("https://evil.example")));
        assert_eq!(status, 400);
        assert!(text.contains("<Code>InvalidIdentityToken</Code>"), "{text}");
    }

    #[test]
    fn without_a_jwks_the_runtime_is_asked_to_refetch_once_then_the_error_is_answered() {
        let g = gateway(true);
        let b = body("https://idp.example");
        let mut rng = |buf: &mut [u8]| buf.fill(1);
        assert!(matches!(
            g.plan_with_jwks(&form_post(), &ctx(), &b, None, true, &mut rng),
            Plan::NeedJwks { refresh: true, .. }
        ));
        let (status, text) =
            status_and_text(g.plan_with_jwks(&form_post(), &ctx(), &b, None, false, &mut rng));
        assert_eq!(status, 400);
        assert!(
            text.contains("<Code>IDPCommunicationError</Code>"),
            "{text}"
        );
    }

    #[test]
    fn without_session_keys_sts_is_unavailable_and_session_tokens_are_invalid() {
        let g = gateway(false);
        let (status, text) = status_and_text(g.plan(&form_post(), &ctx()));
        assert_eq!(status, 503);
        assert!(text.contains("SESSION_TOKEN_KEY"), "{text}");
        let creds = GatewayCredentials {
            index: &g.credentials,
            sessions: None,
        };
        let err = creds
            .lookup("ASIAXXXXXXXXXXXXXXXX", Some("tok"), Timestamp(0))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidToken);
    }

    fn with_origin(mut head: RequestHead) -> RequestHead {
        head.headers.insert(
            http::header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        head
    }

    fn preflight(target: &str, method: &'static str) -> RequestHead {
        let mut head = with_origin(RequestHead {
            method: Method::OPTIONS,
            target: target.into(),
            headers: HeaderMap::new(),
        });
        head.headers.insert(
            http::header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static(method),
        );
        head.headers.insert(
            http::header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type,amz-sdk-invocation-id"),
        );
        head
    }

    #[test]
    fn sts_preflights_are_answered_for_any_origin_without_credentials() {
        let g = gateway(true);
        for (target, method) in [
            ("/.sts", "POST"),
            ("/.sts?Action=AssumeRoleWithWebIdentity", "GET"),
            ("/", "POST"),
            ("/?Action=AssumeRoleWithWebIdentity&RoleArn=r", "GET"),
        ] {
            let Plan::Respond(resp) = g.plan(&preflight(target, method), &ctx()) else {
                panic!("a preflight is answered directly");
            };
            assert_eq!(resp.status(), 200, "{target} {method}");
            let h = resp.headers();
            assert_eq!(h["access-control-allow-origin"], "*");
            assert!(h.get("access-control-allow-credentials").is_none());
            assert_eq!(
                h["access-control-allow-headers"],
                "content-type, amz-sdk-invocation-id"
            );
            assert!(h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains(method));
        }
    }

    #[test]
    fn a_preflight_for_listing_buckets_at_the_root_is_not_an_sts_preflight() {
        let g = gateway(true);
        let Plan::Respond(resp) = g.plan(&preflight("/", "GET"), &ctx()) else {
            panic!("a preflight is answered directly");
        };
        assert_eq!(resp.status(), 403);
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn sts_answers_and_errors_carry_cors_headers_for_a_browser() {
        let g = gateway(true);
        let head = with_origin(form_post());
        let plan = g.plan_with_body(&head, &ctx(), body("https://evil.example"));
        let Plan::Respond(resp) = plan else {
            panic!("an untrusted issuer is answered directly")
        };
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            resp.headers()["access-control-expose-headers"],
            "x-amz-request-id"
        );
        let b = body("https://idp.example");
        let mut rng = |buf: &mut [u8]| buf.fill(1);
        let Plan::Respond(resp) = g.plan_with_jwks(&head, &ctx(), &b, None, false, &mut rng) else {
            panic!("no refetch allowed: answered")
        };
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let Plan::Respond(resp) = gateway(false).plan(&head, &ctx()) else {
            panic!("STS off is answered directly")
        };
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }
}
