use std::sync::Arc;

use http::HeaderMap;

use super::*;
use crate::backend::federation::parse_assume_role_response;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::oidc::OidcProvider;
use crate::sts::jwt::{peek, verify_signature, Jwks};
use crate::GatewayOptions;
use crate::Plan;

const CONFIG: &str = r#"
[[buckets]]
name = "fed"
backend_type = "s3"
anonymous_access = true
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "bk"
auth_type = "oidc"
role_arn = "arn:aws:iam::123456789012:role/gw"
sts_endpoint = "http://127.0.0.1:5000"
oidc_audience = "sts.amazonaws.com"

[[buckets]]
name = "private-fed"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "bk"
auth_type = "oidc"
role_arn = "arn:aws:iam::123456789012:role/gw"
sts_endpoint = "http://127.0.0.1:5000"
"#;

const ISSUER: &str = "https://gw.example.com";
const NOW: Timestamp = Timestamp(1_700_000_000);

fn provider() -> Arc<OidcProvider> {
    Arc::new(
        OidcProvider::from_env_values(
            ISSUER,
            include_str!("../../sts/testdata/provider_pkcs8_test_only.pem"),
            None,
        )
        .unwrap(),
    )
}

fn gateway(with_provider: bool) -> Gateway {
    Gateway::new(
        GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap(),
        GatewayOptions {
            oidc_provider: with_provider.then(provider),
            ..GatewayOptions::default()
        },
    )
    .unwrap()
}

fn ctx() -> RequestContext {
    RequestContext {
        now: NOW,
        request_id: "REQ".into(),
    }
}

fn get(target: &str) -> RequestHead {
    RequestHead {
        method: Method::GET,
        target: target.into(),
        headers: HeaderMap::new(),
    }
}

fn answer(plan: Plan) -> Response<Bytes> {
    match plan {
        Plan::Respond(r) => r,
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn credentials() -> TemporaryCredentials {
    parse_assume_role_response(
        200,
        b"<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
          <AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>\
          <SessionToken>temp/token+1</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>\
          </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
    )
    .unwrap()
}

#[test]
fn discovery_and_jwks_are_served_with_cache_headers_before_any_s3_routing() {
    let g = gateway(true);
    let resp = answer(g.plan(&get("/.well-known/openid-configuration"), &ctx()));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], CACHE_CONTROL);
    let doc: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        doc["jwks_uri"],
        "https://gw.example.com/.well-known/jwks.json"
    );
    let resp = answer(g.plan(&get("/.well-known/jwks.json?x=1"), &ctx()));
    assert!(Jwks::parse(resp.body()).unwrap().len() == 1);
    let mut head = get("/.well-known/jwks.json");
    head.method = Method::HEAD;
    let resp = answer(g.plan(&head, &ctx()));
    assert!(resp.body().is_empty());
    assert_eq!(
        resp.headers()["content-length"],
        g.options
            .oidc_provider
            .as_ref()
            .unwrap()
            .jwks_document()
            .len()
            .to_string()
            .as_str()
    );
    // Without a provider these are ordinary (invalid) S3 paths.
    let resp = answer(gateway(false).plan(&get("/.well-known/jwks.json"), &ctx()));
    assert_ne!(resp.status(), 200);
}

#[test]
fn a_refused_client_never_makes_the_gateway_ask_for_credentials() {
    let resp = answer(gateway(true).plan(&get("/private-fed/k"), &ctx()));
    assert_eq!(resp.status(), 403);
}

#[test]
fn a_federated_request_asks_for_credentials_then_presigns_with_the_session_token() {
    let g = gateway(true);
    let Plan::NeedBackendCredentials(needed) = g.plan(&get("/fed/dir/k.txt"), &ctx()) else {
        panic!("expected a credentials request")
    };
    // Both buckets share the role, so they share credentials.
    let Plan::NeedBackendCredentials(other) = gateway(true).plan(&get("/fed/x"), &ctx()) else {
        panic!()
    };
    assert_eq!(needed.key, other.key);

    let exchange = g
        .credential_exchange(&needed, NOW, &mut |b: &mut [u8]| b.fill(7))
        .unwrap();
    assert_eq!(exchange.method, Method::POST);
    assert_eq!(exchange.url, "http://127.0.0.1:5000/");
    let form = std::str::from_utf8(&exchange.body).unwrap();
    let token = form
        .split('&')
        .find_map(|p| p.strip_prefix("WebIdentityToken="))
        .unwrap();
    let token =
        String::from_utf8(crate::percent::decode_strict(token.as_bytes(), true).unwrap()).unwrap();
    let jwks = Jwks::parse(provider().jwks_document().as_bytes()).unwrap();
    let claims = verify_signature(peek(&token).unwrap(), &jwks).unwrap();
    assert_eq!(claims.get("sub").and_then(|v| v.as_str()), Some("fed"));
    assert_eq!(
        claims.get("aud").and_then(|v| v.as_str()),
        Some("sts.amazonaws.com")
    );
    assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some(ISSUER));

    let creds = credentials();
    let Plan::Forward(fwd) =
        g.plan_with_credentials(&get("/fed/dir/k.txt"), &ctx(), None, Ok(&creds))
    else {
        panic!("expected a forward")
    };
    assert!(
        fwd.url.starts_with("http://127.0.0.1:9000/bk/dir/k.txt?"),
        "{}",
        fwd.url
    );
    assert!(
        fwd.url.contains("X-Amz-Credential=ASIATEMP%2F"),
        "{}",
        fwd.url
    );
    assert!(
        fwd.url.contains("X-Amz-Security-Token=temp%2Ftoken%2B1"),
        "{}",
        fwd.url
    );
}

#[test]
fn exchange_failures_answer_502_or_503_with_the_reason() {
    let g = gateway(true);
    let refused = ExchangeError::Refused {
        status: 403,
        code: "AccessDenied".into(),
        message: "Not authorized to perform sts:AssumeRoleWithWebIdentity".into(),
    };
    let resp = answer(g.plan_with_credentials(&get("/fed/k"), &ctx(), None, Err(&refused)));
    assert_eq!(resp.status(), 502);
    let body = String::from_utf8_lossy(resp.body()).into_owned();
    assert!(body.contains("<Code>BadGateway</Code>"), "{body}");
    assert!(
        body.contains("AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        "{body}"
    );
    assert_eq!(resp.headers()["x-amz-request-id"], "REQ");
    let down = ExchangeError::Unreachable("connection refused".into());
    let resp = answer(g.plan_with_credentials(&get("/fed/k"), &ctx(), None, Err(&down)));
    assert_eq!(resp.status(), 503);
    let body = String::from_utf8_lossy(resp.body()).into_owned();
    assert!(body.contains("STS at http://127.0.0.1:5000"), "{body}");
}

#[test]
fn without_an_oidc_provider_federated_buckets_answer_503_and_others_still_work() {
    let g = gateway(false);
    let resp = answer(g.plan(&get("/fed/k"), &ctx()));
    assert_eq!(resp.status(), 503);
    let body = String::from_utf8_lossy(resp.body()).into_owned();
    assert!(body.contains("OIDC_PROVIDER_KEY"), "{body}");
    let needed = CredentialsNeeded {
        key: "k".into(),
        federation: Arc::new(
            crate::backend::federation::Federation::from_bucket(&g.config().buckets[0])
                .unwrap()
                .unwrap(),
        ),
    };
    assert!(matches!(
        g.credential_exchange(&needed, NOW, &mut |b: &mut [u8]| b.fill(0)),
        Err(ExchangeError::NotConfigured(_))
    ));
}
