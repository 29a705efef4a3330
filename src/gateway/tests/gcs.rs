//! GCS buckets in the pipeline: signing, header names both ways, bodies GCS cannot take.

use super::*;

const KEY_FILE: &str = include_str!("../../backend/gcs/conformance-service-account.json");

fn gcs_gateway() -> Gateway {
    let text = format!(
        r#"
[[buckets]]
name = "g"
backend_type = "gcs"
[buckets.backend_options]
endpoint = "http://127.0.0.1:4443"
bucket_name = "gbk"
service_account_key = '''{KEY_FILE}'''

[[buckets]]
name = "h"
backend_type = "gcs"
[buckets.backend_options]
bucket_name = "gbk"
access_key_id = "GOOG1KEY"
secret_access_key = "hmac-secret"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "put_object", "list_bucket", "delete_object"]
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

#[test]
fn a_put_to_a_service_account_bucket_sends_goog_metadata_on_a_v4_signed_url() {
    let f = forward(
        &gcs_gateway(),
        &signed(
            "PUT",
            "/g/dir/k",
            &[
                ("content-length", "5"),
                ("x-amz-meta-colour", "blue"),
                ("x-amz-tagging", "a=b"),
            ],
        ),
    );
    assert!(
        f.url.starts_with(
            "http://127.0.0.1:4443/gbk/dir/k?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20231114%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20231114T221320Z&X-Goog-Expires=3600&X-Goog-SignedHeaders=host%3Bx-goog-meta-colour&X-Goog-Signature="
        ),
        "{}",
        f.url
    );
    assert_eq!(f.headers["x-goog-meta-colour"], "blue");
    assert!(
        f.headers.keys().all(|k| !k.as_str().starts_with("x-amz-")),
        "{:?}",
        f.headers
    );
}

#[test]
fn an_hmac_bucket_signs_sigv4_for_region_auto_at_googles_endpoint() {
    let f = forward(&gcs_gateway(), &signed("GET", "/h/k", &[]));
    assert!(
        f.url.starts_with(
            "https://storage.googleapis.com/gbk/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=GOOG1KEY%2F20231114%2Fauto%2Fs3%2Faws4_request"
        ),
        "{}",
        f.url
    );
}

#[test]
fn an_aws_chunked_upload_reaches_gcs_as_its_plain_body() {
    let f = forward(
        &gcs_gateway(),
        &signed(
            "PUT",
            "/g/k",
            &[
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "5"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
                ("content-length", "60"),
            ],
        ),
    );
    assert!(matches!(f.body, ForwardBody::Decode(_)));
    assert_eq!(f.headers["content-length"], "5");
    assert!(f.headers.get("content-encoding").is_none());
    assert!(
        f.headers.keys().all(|k| !k.as_str().starts_with("x-amz-")),
        "{:?}",
        f.headers
    );
}

#[test]
fn goog_metadata_comes_back_as_amz_metadata_and_other_goog_headers_are_dropped() {
    let f = forward(&gcs_gateway(), &signed("GET", "/g/k", &[]));
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("x-goog-meta-colour", "blue"),
        ("x-goog-generation", "1"),
        ("x-goog-hash", "crc32c=AAAAAA=="),
        ("x-guploader-uploadid", "x"),
        ("etag", "\"e\""),
    ] {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    let (_, out) = f.response_head(StatusCode::OK, &h, Timing::default());
    assert_eq!(out["x-amz-meta-colour"], "blue");
    assert_eq!(out["etag"], "\"e\"");
    assert!(
        out.keys()
            .all(|k| !k.as_str().starts_with("x-goog-") && !k.as_str().starts_with("x-gup")),
        "{out:?}"
    );
}

#[test]
fn a_backends_body_on_a_successful_put_or_delete_is_dropped() {
    let g = gcs_gateway();
    for (method, target, extra) in [
        ("PUT", "/g/k", &[("content-length", "1")][..]),
        ("DELETE", "/g/k", &[][..]),
    ] {
        let f = forward(&g, &signed(method, target, extra));
        assert!(matches!(
            f.response_mode(StatusCode::OK),
            ResponseMode::Buffer { .. }
        ));
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let resp = f.buffered_response(
            StatusCode::OK,
            &h,
            Bytes::from_static(b"{\"kind\":\"storage#object\"}"),
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.body().is_empty());
        assert_eq!(resp.headers()["content-length"], "0");
        assert!(resp.headers().get("content-type").is_none());
    }
    // Reads still stream.
    let f = forward(&g, &signed("GET", "/g/k", &[]));
    assert_eq!(f.response_mode(StatusCode::OK), ResponseMode::Stream);
}

#[test]
fn gcs_refusals_of_the_gateways_credentials_are_bad_gateway() {
    let f = forward(&gcs_gateway(), &signed("GET", "/g/k", &[]));
    for code in [
        "AccessDenied",
        "SignatureDoesNotMatch",
        "AuthenticationRequired",
    ] {
        let body = format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
        let resp = f.buffered_response(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            Bytes::from(body),
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{code}");
    }
}

#[test]
fn a_gcs_bucket_with_an_unusable_key_is_refused_when_the_gateway_is_built() {
    let text = r#"
[[buckets]]
name = "bad"
backend_type = "gcs"
[buckets.backend_options]
bucket_name = "b"
client_email = "x@y"
private_key = "not a key"
"#;
    let config = GatewayConfig::parse(text, ConfigFormat::Toml).unwrap();
    let err = Gateway::new(config, GatewayOptions::default()).unwrap_err();
    let text = err.problems.join("\n");
    assert!(
        text.contains("buckets[0] (bad)") && text.contains("expected an RSA private key"),
        "{text}"
    );
}

#[test]
fn a_federated_gcs_bucket_exchanges_then_forwards_with_the_bearer_token() {
    use crate::backend::federation::{BackendSecret, ExchangeStep};
    use crate::oidc::OidcProvider;
    use crate::sts::jwt::{peek, verify_signature, Jwks};
    let text = r#"
[[buckets]]
name = "gfed"
backend_type = "gcs"
anonymous_access = true
[buckets.backend_options]
endpoint = "http://127.0.0.1:4443"
bucket_name = "gbk"
auth_type = "oidc"
workload_identity_provider = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gw"
service_account = "sa@proj.iam.gserviceaccount.com"
"#;
    let provider = std::sync::Arc::new(
        OidcProvider::from_env_values(
            "https://gw.example.com",
            include_str!("../../sts/testdata/provider_pkcs8_test_only.pem"),
            None,
        )
        .unwrap(),
    );
    let g = Gateway::new(
        GatewayConfig::parse(text, ConfigFormat::Toml).unwrap(),
        GatewayOptions {
            oidc_provider: Some(provider.clone()),
            ..GatewayOptions::default()
        },
    )
    .unwrap();
    let get = head(Method::GET, "/gfed/dir/k.txt");
    let Plan::NeedBackendCredentials(needed) = g.plan(&get, &ctx()) else {
        panic!("expected a credentials request")
    };
    let exchange = g
        .credential_exchange(&needed, ctx().now, &mut |b: &mut [u8]| b.fill(7))
        .unwrap();
    assert_eq!(exchange.url, "https://sts.googleapis.com/v1/token");
    let form = std::str::from_utf8(&exchange.body).unwrap();
    let token = form
        .split('&')
        .find_map(|p| p.strip_prefix("subject_token="))
        .unwrap();
    let token =
        String::from_utf8(crate::percent::decode_strict(token.as_bytes(), true).unwrap()).unwrap();
    let jwks = Jwks::parse(provider.jwks_document().as_bytes()).unwrap();
    let claims = verify_signature(peek(&token).unwrap(), &jwks).unwrap();
    assert_eq!(claims.get("sub").and_then(|v| v.as_str()), Some("gfed"));
    assert_eq!(
        claims.get("aud").and_then(|v| v.as_str()),
        Some("https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gw")
    );

    // STS, then IAM: two calls.
    let sts = br#"{"access_token":"fed-token","token_type":"Bearer","expires_in":3600}"#;
    let Ok(ExchangeStep::Send(iam)) = needed.parse_response(0, 200, sts, ctx().now) else {
        panic!("expected the impersonation call")
    };
    assert_eq!(iam.headers["authorization"], "Bearer fed-token");
    let answer = br#"{"accessToken":"ya29.sa-token","expireTime":"2030-01-01T00:00:00Z"}"#;
    let Ok(ExchangeStep::Done(creds)) = needed.parse_response(1, 200, answer, ctx().now) else {
        panic!("expected credentials")
    };
    assert!(matches!(creds.secret, BackendSecret::Bearer(_)));

    let Plan::Forward(fwd) = g.plan_with_credentials(&get, &ctx(), None, Ok(&creds)) else {
        panic!("expected a forward")
    };
    assert_eq!(fwd.url, "http://127.0.0.1:4443/gbk/dir/k.txt");
    assert_eq!(fwd.headers["authorization"], "Bearer ya29.sa-token");
    assert!(fwd.headers["authorization"].is_sensitive());
    assert!(!format!("{fwd:?}").contains("ya29"));
}
