use super::*;
use crate::backend::federation::{CredentialsNeeded, Federation};
use crate::config::BackendType;
use http::Method;

const PROVIDER: &str =
    "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/gw";
const SA: &str = "storage@proj.iam.gserviceaccount.com";

fn bucket(opts: &[(&str, &str)]) -> BucketConfig {
    let mut b = BucketConfig::s3_for_test(opts);
    b.backend_type = BackendType::Gcs;
    b
}

fn gcp(extra: &[(&str, &str)]) -> GcpWorkloadIdentity {
    let mut opts = vec![
        ("auth_type", "oidc"),
        ("bucket_name", "bk"),
        ("workload_identity_provider", PROVIDER),
    ];
    opts.extend_from_slice(extra);
    match Federation::from_bucket(&bucket(&opts)).unwrap().unwrap() {
        Federation::Gcp(g) => g,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_are_googles_endpoints_and_the_providers_https_audience() {
    let g = gcp(&[]);
    assert_eq!(g.sts_endpoint, "https://sts.googleapis.com/v1/token");
    assert_eq!(g.iam_endpoint, "https://iamcredentials.googleapis.com");
    assert_eq!(
        g.audience,
        "https://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/gw"
    );
    assert_eq!((g.subject.as_str(), g.duration_secs), ("data", 3600));
    assert_eq!(g.service_account, None);
    // The resource name without its host is accepted too.
    let short = gcp(&[(
        "workload_identity_provider",
        "projects/123456/locations/global/workloadIdentityPools/pool/providers/gw",
    )]);
    assert_eq!(short.provider, PROVIDER);
}

#[test]
fn bad_gcp_settings_are_refused_with_the_option_named() {
    let err = |extra: &[(&str, &str)]| {
        let mut opts = vec![("auth_type", "oidc"), ("bucket_name", "bk")];
        opts.extend_from_slice(extra);
        Federation::from_bucket(&bucket(&opts)).unwrap_err()
    };
    assert!(err(&[]).contains("workload_identity_provider"));
    for (k, v) in [
        ("workload_identity_provider", "//iam.googleapis.com/projects/1/pools/p"),
        ("workload_identity_provider", "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"),
        ("service_account", "not-an-email"),
        ("sts_endpoint", "http://sts.example.com"),
        ("iam_credentials_endpoint", "ftp://x"),
        ("duration_seconds", "60"),
    ] {
        let mut opts = vec![("workload_identity_provider", PROVIDER)];
        opts.retain(|(o, _)| *o != k);
        opts.push((k, v));
        assert!(err(&opts).contains(k), "{k}={v}: {}", err(&opts));
    }
}

#[test]
fn the_cache_key_changes_with_every_setting_that_changes_the_token() {
    let k0 = Federation::Gcp(gcp(&[])).cache_key();
    assert_eq!(
        k0,
        Federation::Gcp(gcp(&[("endpoint", "http://elsewhere")])).cache_key()
    );
    for extra in [
        ("workload_identity_provider", "//iam.googleapis.com/projects/9/locations/global/workloadIdentityPools/pool/providers/gw"),
        ("service_account", SA),
        ("sts_endpoint", "https://sts.example.com/v1/token"),
        ("iam_credentials_endpoint", "https://iam.example.com"),
        ("oidc_audience", "a"),
        ("oidc_subject", "s"),
        ("duration_seconds", "1800"),
    ] {
        assert_ne!(k0, Federation::Gcp(gcp(&[extra])).cache_key(), "{extra:?}");
    }
    // An AWS federation never shares a key with a Google one.
    assert!(k0.starts_with("gcp-wif\n"));
}

#[test]
fn the_sts_request_is_an_rfc_8693_token_exchange_form() {
    let req = gcp(&[]).exchange_request("aaa.b+b/=.ccc");
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.url, "https://sts.googleapis.com/v1/token");
    assert_eq!(
        req.headers["content-type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert!(!req.headers.contains_key("authorization"));
    let form: Vec<(String, String)> = std::str::from_utf8(&req.body)
        .unwrap()
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let v = crate::percent::decode_strict(v.as_bytes(), true).unwrap();
            (k.to_string(), String::from_utf8(v).unwrap())
        })
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).unwrap().1.as_str();
    assert_eq!(
        get("grant_type"),
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(get("audience"), PROVIDER);
    assert_eq!(
        get("scope"),
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(
        get("requested_token_type"),
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(
        get("subject_token_type"),
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(get("subject_token"), "aaa.b+b/=.ccc");
    assert!(!format!("{req:?}").contains("aaa.b"));
}

const STS_OK: &str = r#"{"access_token":"federated-token","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3599}"#;

#[test]
fn without_a_service_account_the_federated_token_is_the_credential() {
    let now = Timestamp(1_700_000_000);
    let ExchangeStep::Done(c) = gcp(&[])
        .parse_response(0, 200, STS_OK.as_bytes(), now)
        .unwrap()
    else {
        panic!("expected credentials")
    };
    let BackendSecret::Bearer(t) = &c.secret else {
        panic!("{c:?}")
    };
    assert_eq!(t.expose(), "federated-token");
    assert_eq!(c.expiration, Timestamp(now.0 + 3599));
    assert!(!format!("{c:?}").contains("federated-token"));
}

#[test]
fn with_a_service_account_the_federated_token_impersonates_it() {
    let g = gcp(&[
        ("service_account", SA),
        ("iam_credentials_endpoint", "https://iam.example.com/"),
        ("duration_seconds", "1800"),
    ]);
    let now = Timestamp(1_700_000_000);
    let ExchangeStep::Send(req) = g.parse_response(0, 200, STS_OK.as_bytes(), now).unwrap() else {
        panic!("expected the impersonation request")
    };
    assert_eq!(req.method, Method::POST);
    assert_eq!(
        req.url,
        "https://iam.example.com/v1/projects/-/serviceAccounts/storage%40proj.iam.gserviceaccount.com:generateAccessToken"
    );
    assert_eq!(req.headers["authorization"], "Bearer federated-token");
    assert!(req.headers["authorization"].is_sensitive());
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"scope": ["https://www.googleapis.com/auth/cloud-platform"], "lifetime": "1800s"})
    );
    let iam = br#"{"accessToken":"ya29.impersonated","expireTime":"2023-11-14T22:43:20.123456Z"}"#;
    let ExchangeStep::Done(c) = g.parse_response(1, 200, iam, now).unwrap() else {
        panic!("expected credentials")
    };
    let BackendSecret::Bearer(t) = &c.secret else {
        panic!("{c:?}")
    };
    assert_eq!(t.expose(), "ya29.impersonated");
    assert_eq!(c.expiration, Timestamp(1_700_001_800));
}

#[test]
fn google_error_answers_keep_their_code_and_message() {
    let g = gcp(&[("service_account", SA)]);
    let now = Timestamp(0);
    let sts = br#"{"error":"invalid_grant","error_description":"The audience in ID Token does not match the expected audience."}"#;
    assert_eq!(
        g.parse_response(0, 400, sts, now).unwrap_err(),
        ExchangeError::Refused {
            status: 400,
            code: "invalid_grant".into(),
            message: "The audience in ID Token does not match the expected audience.".into(),
        }
    );
    let iam = br#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied","status":"PERMISSION_DENIED"}}"#;
    assert_eq!(
        g.parse_response(1, 403, iam, now).unwrap_err(),
        ExchangeError::Refused {
            status: 403,
            code: "PERMISSION_DENIED".into(),
            message: "Permission 'iam.serviceAccounts.getAccessToken' denied".into(),
        }
    );
    let ExchangeError::Refused { code, .. } = g
        .parse_response(0, 503, b"<html>down</html>", now)
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(code, "HTTP503");
}

#[test]
fn refusals_are_502_and_googles_own_failures_503() {
    let f = Federation::Gcp(gcp(&[("service_account", SA)]));
    let needed = CredentialsNeeded {
        key: f.cache_key(),
        federation: std::sync::Arc::new(f),
    };
    let refused = needed
        .parse_response(0, 400, br#"{"error":"invalid_grant"}"#, Timestamp(0))
        .unwrap_err()
        .to_s3(&needed.federation, "b");
    assert_eq!(refused.code.status(), 502);
    assert!(
        refused
            .message
            .contains("Google STS at https://sts.googleapis.com/v1/token")
            && refused.message.contains(SA),
        "{}",
        refused.message
    );
    let down = needed
        .parse_response(
            1,
            500,
            br#"{"error":{"code":500,"message":"x"}}"#,
            Timestamp(0),
        )
        .unwrap_err()
        .to_s3(&needed.federation, "b");
    assert_eq!(down.code.status(), 503);
}

#[test]
fn answers_without_a_token_or_out_of_order_are_malformed() {
    let g = gcp(&[("service_account", SA)]);
    let now = Timestamp(0);
    for (step, body) in [
        (0, &b"not json"[..]),
        (0, br#"{"expires_in":3600}"#),
        (1, br#"{"accessToken":"t"}"#),
        (1, br#"{"accessToken":"t","expireTime":"tomorrow"}"#),
        (2, STS_OK.as_bytes()),
    ] {
        assert!(
            matches!(
                g.parse_response(step, 200, body, now),
                Err(ExchangeError::Malformed(_))
            ),
            "step {step}: {}",
            String::from_utf8_lossy(body)
        );
    }
    // Without a service account there is no step 1.
    assert!(matches!(
        gcp(&[]).parse_response(1, 200, STS_OK.as_bytes(), now),
        Err(ExchangeError::Malformed(_))
    ));
}
