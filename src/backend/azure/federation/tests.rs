use crate::backend::federation::{BackendSecret, ExchangeError, ExchangeStep, Federation};
use crate::config::{BackendType, BucketConfig};
use crate::time::Timestamp;

fn bucket(opts: &[(&str, &str)]) -> BucketConfig {
    let mut b = BucketConfig::s3_for_test(opts);
    b.backend_type = BackendType::Azure;
    b
}

fn federation() -> Federation {
    Federation::from_bucket(&bucket(&[
        ("auth_type", "oidc"),
        ("account_name", "acct"),
        ("container_name", "c"),
        ("tenant_id", "tid-1"),
        ("client_id", "app-1"),
    ]))
    .unwrap()
    .unwrap()
}

#[test]
fn an_azure_bucket_needs_tenant_and_client_and_defaults_to_entra_and_the_account() {
    let Federation::Azure(a) = federation() else {
        panic!()
    };
    assert_eq!(
        a.token_endpoint,
        "https://login.microsoftonline.com/tid-1/oauth2/v2.0/token"
    );
    assert_eq!(a.blob_endpoint, "https://acct.blob.core.windows.net");
    assert_eq!(a.audience, "api://AzureADTokenExchange");
    assert_eq!(a.subject, "data");
    let e = Federation::from_bucket(&bucket(&[
        ("auth_type", "oidc"),
        ("account_name", "acct"),
        ("client_id", "app-1"),
    ]))
    .unwrap_err();
    assert!(e.contains("tenant_id"), "{e}");
}

#[test]
fn the_first_call_posts_the_client_assertion_for_the_storage_scope() {
    let req = federation().exchange_request("the.jwt.token", Timestamp(0));
    assert_eq!(req.method, http::Method::POST);
    let body = String::from_utf8(req.body.to_vec()).unwrap();
    for part in [
        "client_id=app-1",
        "grant_type=client_credentials",
        "scope=https%3A%2F%2Fstorage.azure.com%2F.default",
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
        "client_assertion=the.jwt.token",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
}

#[test]
fn the_token_leads_to_the_delegation_key_request_and_the_key_to_credentials() {
    let f = federation();
    let now = Timestamp(1_700_000_000);
    let token = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.access.token"}"#;
    let ExchangeStep::Send(next) = f.parse_response(0, 200, token, now).unwrap() else {
        panic!()
    };
    assert_eq!(
        next.url,
        "https://acct.blob.core.windows.net/?restype=service&comp=userdelegationkey"
    );
    assert_eq!(next.headers["authorization"], "Bearer eyJ.access.token");
    let body = String::from_utf8(next.body.to_vec()).unwrap();
    assert!(
        body.contains("<Start>2023-11-14T22:08:20Z</Start><Expiry>2023-11-15T00:13:20Z</Expiry>"),
        "{body}"
    );
    let key = br#"<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid</SignedOid><SignedTid>tid</SignedTid><SignedStart>2023-11-14T22:08:20Z</SignedStart><SignedExpiry>2023-11-15T00:13:20Z</SignedExpiry><SignedService>b</SignedService><SignedVersion>2021-08-06</SignedVersion><Value>a2V5</Value></UserDelegationKey>"#;
    let ExchangeStep::Done(c) = f.parse_response(1, 200, key, now).unwrap() else {
        panic!()
    };
    let BackendSecret::AzureDelegation(k) = &c.secret else {
        panic!()
    };
    assert_eq!(k.signed_oid, "oid");
    // Usable until one SAS lifetime before the key expires.
    assert_eq!(c.expiration, Timestamp(1_700_003_600));
}

#[test]
fn entra_and_storage_refusals_keep_their_code_and_message() {
    let f = federation();
    let refusal = br#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found"}"#;
    let err = f.parse_response(0, 400, refusal, Timestamp(0)).unwrap_err();
    let ExchangeError::Refused { code, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(code, "invalid_client");
    assert!(message.contains("AADSTS700213"));
    let s3 = err.to_s3(&f, "azfed");
    assert_eq!(s3.status(), 502);
    assert!(s3.message.contains("invalid_client"), "{}", s3.message);
    let denied = b"<Error><Code>AuthenticationFailed</Code><Message>bad token</Message></Error>";
    let err = f.parse_response(1, 403, denied, Timestamp(0)).unwrap_err();
    assert!(matches!(&err, ExchangeError::Refused { code, .. } if code == "AuthenticationFailed"));
    assert!(matches!(
        f.parse_response(0, 200, b"not json", Timestamp(0)),
        Err(ExchangeError::Malformed(_))
    ));
    assert!(matches!(
        f.parse_response(1, 200, b"<UserDelegationKey/>", Timestamp(0)),
        Err(ExchangeError::Malformed(_))
    ));
}
