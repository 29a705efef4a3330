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
[[credentials]]
access_key_id = "AKIACIBOT"
secret_access_key = "ci-bot-secret"
principal_name = "ci-bot"
[[credentials]]
access_key_id = "AKIAOFF"
secret_access_key = "off-secret"
enabled = false
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
    // The form is read first: GetCallerIdentity works without session keys.
    assert!(matches!(
        g.plan(&form_post(), &ctx()),
        Plan::NeedBody { .. }
    ));
    let (status, text) =
        status_and_text(g.plan_with_body(&form_post(), &ctx(), body("https://idp.example")));
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
    let Plan::Respond(resp) =
        gateway(false).plan_with_body(&head, &ctx(), body("https://idp.example"))
    else {
        panic!("STS off is answered directly")
    };
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

// --- GetCallerIdentity ---

use crate::auth::secret::SecretKey;
use crate::auth::sigv4::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, scope, sha256_hex, sign,
    signing_key, string_to_sign, ALGORITHM,
};
use crate::sts::token::{SessionClaims, SessionKeys as Keys};

const WHO: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// How a caller signs: its key, and what to sign for.
struct Signer<'a> {
    akid: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    when: Timestamp,
    service: &'a str,
}

impl Signer<'_> {
    fn key(&self) -> [u8; 32] {
        signing_key(
            &SecretKey::new(self.secret),
            &self.when.date_stamp(),
            "us-east-1",
            self.service,
        )
    }

    /// A form POST to `/` signed as botocore signs STS calls: every header but the user
    /// agent, and no `x-amz-content-sha256` (the payload hash is the body's).
    fn post(&self, body: &str) -> RequestHead {
        let mut head = form_post();
        let h = &mut head.headers;
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            "x-amz-date",
            HeaderValue::from_str(&self.when.amz_date()).unwrap(),
        );
        if let Some(t) = self.token {
            h.insert("x-amz-security-token", HeaderValue::from_str(t).unwrap());
        }
        let mut names: Vec<&str> = h.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        let signed = names.join(";");
        let creq = canonical_request(
            "POST",
            &canonical_uri("/"),
            &canonical_query(""),
            &canonical_headers(h, &names).unwrap(),
            &signed,
            &sha256_hex(body.as_bytes()),
        );
        let sc = scope(&self.when.date_stamp(), "us-east-1", self.service);
        let sig = sign(
            &self.key(),
            &string_to_sign(&self.when.amz_date(), &sc, &creq),
        );
        let auth = format!(
            "{ALGORITHM} Credential={}/{sc}, SignedHeaders={signed}, Signature={}",
            self.akid,
            sig.to_hex()
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        head
    }

    /// A presigned `GET /?Action=GetCallerIdentity...` as botocore presigns it (the
    /// payload hash is that of the empty body).
    fn presigned(&self) -> RequestHead {
        let sc = scope(&self.when.date_stamp(), "us-east-1", self.service);
        let mut q = format!(
                "{WHO}&X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}%2F{}&X-Amz-Date={}&X-Amz-Expires=60&X-Amz-SignedHeaders=host",
                self.akid,
                sc.replace('/', "%2F"),
                self.when.amz_date()
            );
        if let Some(t) = self.token {
            q.push_str(&format!("&X-Amz-Security-Token={t}"));
        }
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        let creq = canonical_request(
            "GET",
            &canonical_uri("/"),
            &canonical_query(&q),
            &canonical_headers(&headers, &["host"]).unwrap(),
            "host",
            &sha256_hex(b""),
        );
        let sig = sign(
            &self.key(),
            &string_to_sign(&self.when.amz_date(), &sc, &creq),
        );
        RequestHead {
            method: Method::GET,
            target: format!("/?{q}&X-Amz-Signature={}", sig.to_hex()),
            headers,
        }
    }
}

fn bot() -> Signer<'static> {
    Signer {
        akid: "AKIACIBOT",
        secret: "ci-bot-secret",
        token: None,
        when: ctx().now,
        service: "sts",
    }
}

/// A session of role `r` minted with the gateway's keys: (access key id, secret, token).
fn session(expires_at: Timestamp) -> (String, String, String) {
    let keys = Keys::new(&[7; 32], None).unwrap();
    let akid = "ASIAEXAMPLESESSION01".to_string();
    let claims = SessionClaims {
        access_key_id: akid.clone(),
        role_id: "r".into(),
        subject: "repo:org/app".into(),
        issuer: "https://idp.example".into(),
        session_name: "build-7".into(),
        scopes: vec![],
        issued_at: Timestamp(ctx().now.0 - 60),
        expires_at,
    };
    let token = keys.seal(&claims, &mut |b: &mut [u8]| b.fill(3)).unwrap();
    let secret = keys.secret_for(&akid).expose().to_string();
    (akid, secret, token)
}

/// Posts the form `body` signed by `head` (as the runtime does: the body after NeedBody).
fn call(g: &Gateway, head: &RequestHead, body: &str) -> (u16, String) {
    if head.method == Method::POST {
        assert!(matches!(g.plan(head, &ctx()), Plan::NeedBody { .. }));
        status_and_text(g.plan_with_body(head, &ctx(), Bytes::from(body.to_string())))
    } else {
        status_and_text(g.plan(head, &ctx()))
    }
}

fn code(text: &str) -> &str {
    let start = text.find("<Code>").map(|i| i + 6).unwrap_or(0);
    let end = text.find("</Code>").unwrap_or(start);
    &text[start..end]
}

#[test]
fn get_caller_identity_names_the_access_key_that_signed_it() {
    let (status, text) = call(&gateway(true), &bot().post(WHO), WHO);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>"#
        ));
    assert!(text.contains("<Arn>arn:aws:iam::000000000000:user/ci-bot</Arn>"));
    assert!(text.contains("<UserId>AKIACIBOT</UserId>"));
    assert!(text.contains("<Account>000000000000</Account>"));
    assert!(text.contains("<RequestId>REQ</RequestId>"));
}

#[test]
fn get_caller_identity_names_the_session_its_role_and_session_name() {
    let (akid, secret, token) = session(Timestamp(ctx().now.0 + 600));
    let signer = Signer {
        akid: &akid,
        secret: &secret,
        token: Some(&token),
        ..bot()
    };
    for head in [signer.post(WHO), signer.presigned()] {
        let (status, text) = call(&gateway(true), &head, WHO);
        assert_eq!(status, 200, "{text}");
        assert!(
            text.contains("<Arn>arn:aws:sts::000000000000:assumed-role/r/build-7</Arn>"),
            "{text}"
        );
        assert!(text.contains("<UserId>ASIAEXAMPLESESSION01:build-7</UserId>"));
    }
}

#[test]
fn a_presigned_get_caller_identity_with_an_access_key_verifies() {
    let (status, text) = call(&gateway(true), &bot().presigned(), "");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<UserId>AKIACIBOT</UserId>"));
}

#[test]
fn an_unsigned_get_caller_identity_is_missing_authentication_token() {
    let (status, text) = call(&gateway(true), &form_post(), WHO);
    assert_eq!((status, code(&text)), (403, "MissingAuthenticationToken"));
    assert!(text.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"));
    let get = RequestHead {
        method: Method::GET,
        target: format!("/?{WHO}"),
        headers: HeaderMap::new(),
    };
    let (status, text) = call(&gateway(true), &get, "");
    assert_eq!((status, code(&text)), (403, "MissingAuthenticationToken"));
}

#[test]
fn a_wrong_secret_or_a_changed_body_is_signature_does_not_match() {
    let g = gateway(true);
    let wrong = Signer {
        secret: "not-the-secret",
        ..bot()
    };
    let (status, text) = call(&g, &wrong.post(WHO), WHO);
    assert_eq!((status, code(&text)), (403, "SignatureDoesNotMatch"));
    assert!(!text.contains("ci-bot-secret"));
    // The signature covers the body's hash.
    let (status, text) = call(&g, &bot().post(WHO), &format!("{WHO}&Version=2011-06-15"));
    assert_eq!((status, code(&text)), (403, "SignatureDoesNotMatch"));
    // An x-amz-content-sha256 that is not the body's is refused, whatever it signs.
    let mut head = bot().post(WHO);
    head.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let (status, text) = call(&g, &head, WHO);
    assert_eq!(
        (status, code(&text)),
        (400, "IncompleteSignature"),
        "{text}"
    );
}

#[test]
fn unknown_disabled_keys_and_bad_session_tokens_are_invalid_client_token_id() {
    let g = gateway(true);
    for signer in [
        Signer {
            akid: "AKIANOBODY",
            ..bot()
        },
        Signer {
            akid: "AKIAOFF",
            secret: "off-secret",
            ..bot()
        },
        Signer {
            token: Some("bm90LWEtdG9rZW4"),
            ..bot()
        },
    ] {
        let (status, text) = call(&g, &signer.post(WHO), WHO);
        assert_eq!(
            (status, code(&text)),
            (403, "InvalidClientTokenId"),
            "{}: {text}",
            signer.akid
        );
        assert!(text.contains("The security token included in the request is invalid"));
    }
    // A session token under another access key id does not open.
    let (_, secret, token) = session(Timestamp(ctx().now.0 + 600));
    let swapped = Signer {
        akid: "ASIAANOTHERSESSION01",
        secret: &secret,
        token: Some(&token),
        ..bot()
    };
    let (status, text) = call(&g, &swapped.post(WHO), WHO);
    assert_eq!((status, code(&text)), (403, "InvalidClientTokenId"));
    // Without session keys no session token opens, but access keys still work.
    let off = gateway(false);
    let (akid, secret, token) = session(Timestamp(ctx().now.0 + 600));
    let signer = Signer {
        akid: &akid,
        secret: &secret,
        token: Some(&token),
        ..bot()
    };
    let (status, text) = call(&off, &signer.post(WHO), WHO);
    assert_eq!((status, code(&text)), (403, "InvalidClientTokenId"));
    assert_eq!(call(&off, &bot().post(WHO), WHO).0, 200);
}

#[test]
fn an_expired_session_is_expired_token() {
    let (akid, secret, token) = session(Timestamp(ctx().now.0 - 1));
    let signer = Signer {
        akid: &akid,
        secret: &secret,
        token: Some(&token),
        ..bot()
    };
    let (status, text) = call(&gateway(true), &signer.post(WHO), WHO);
    assert_eq!((status, code(&text)), (403, "ExpiredToken"), "{text}");
}

#[test]
fn a_skewed_clock_or_a_scope_for_another_service_is_refused() {
    let g = gateway(true);
    let late = Signer {
        when: Timestamp(ctx().now.0 - 3600),
        ..bot()
    };
    let (status, text) = call(&g, &late.post(WHO), WHO);
    assert_eq!((status, code(&text)), (403, "SignatureDoesNotMatch"));
    assert!(text.contains("Signature expired"), "{text}");
    let s3 = Signer {
        service: "s3",
        ..bot()
    };
    let (status, text) = call(&g, &s3.post(WHO), WHO);
    assert_eq!((status, code(&text)), (400, "IncompleteSignature"));
    assert!(
        text.contains("expecting &apos;sts&apos;") || text.contains("expecting 'sts'"),
        "{text}"
    );
}

#[test]
fn get_caller_identity_takes_no_other_parameters() {
    let body = format!("{WHO}&RoleArn=r");
    let (status, text) = call(&gateway(true), &bot().post(&body), &body);
    assert_eq!((status, code(&text)), (400, "InvalidParameterValue"));
    assert!(text.contains("RoleArn"));
}
