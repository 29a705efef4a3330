//! Request parsing, the whole exchange, and the XML documents.

use super::jwt::tests::{good_claims, jwks, jwt, role, TestKey, ISSUER, NOW};
use super::*;
use crate::policy::{Action, Identity, Scope};
use serde_json::json;

fn form(body: &str) -> Result<AssumeRoleRequest, StsError> {
    parse_request(
        &Method::POST,
        None,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        body.as_bytes(),
    )
}

const BASE: &str = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=ci&RoleSessionName=build-1&WebIdentityToken=eyJ.eyJ.sig";

#[test]
fn a_form_post_is_parsed_as_aws_cli_sends_it() {
    let r = form(&format!("{BASE}&DurationSeconds=1800")).unwrap();
    assert_eq!(r.role_id, "ci");
    assert_eq!(r.account_id, None);
    assert_eq!(r.session_name, "build-1");
    assert_eq!(r.web_identity_token, "eyJ.eyJ.sig");
    assert_eq!(r.duration_secs, Some(1800));
}

#[test]
fn a_get_with_the_query_string_is_parsed() {
    let r = parse_request(&Method::GET, Some(BASE), None, b"").unwrap();
    assert_eq!(r.role_id, "ci");
}

#[test]
fn the_role_arn_may_be_an_arn_shaped_alias() {
    let body = BASE.replace(
        "RoleArn=ci",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci",
    );
    let r = form(&body).unwrap();
    assert_eq!(r.role_id, "ci");
    assert_eq!(r.account_id.as_deref(), Some("123456789012"));
    for bad in [
        "arn:aws:s3:::bucket",
        "arn:aws:iam::123:user/ci",
        "arn:aws:iam::12x:role/ci",
        "arn:aws:iam::123:role/",
    ] {
        let body = BASE.replace("RoleArn=ci", &format!("RoleArn={bad}"));
        assert_eq!(
            form(&body).unwrap_err().code,
            StsErrorCode::InvalidParameterValue,
            "{bad}"
        );
    }
}

#[test]
fn missing_parameters_are_named() {
    for (drop, name) in [
        ("Action=AssumeRoleWithWebIdentity&", "Action"),
        ("RoleArn=ci&", "RoleArn"),
        ("&WebIdentityToken=eyJ.eyJ.sig", "WebIdentityToken"),
    ] {
        let err = form(&BASE.replace(drop, "")).unwrap_err();
        assert_eq!(err.code, StsErrorCode::MissingParameter, "{name}");
        assert!(err.message.contains(name));
    }
}

#[test]
fn other_actions_are_invalid() {
    let err = form(&BASE.replace("AssumeRoleWithWebIdentity", "AssumeRole")).unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidAction);
}

#[test]
fn session_policies_are_refused_rather_than_ignored() {
    for extra in ["&Policy=%7B%7D", "&PolicyArns.member.1.arn=arn"] {
        assert_eq!(
            form(&format!("{BASE}{extra}")).unwrap_err().code,
            StsErrorCode::MalformedPolicyDocument
        );
    }
}

#[test]
fn the_body_is_capped_at_64_kib() {
    let body = format!("{BASE}&Pad={}", "x".repeat(MAX_BODY_BYTES));
    let err = form(&body).unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidParameterValue);
    assert!(err.message.contains("larger than"));
}

#[test]
fn conflicting_duplicates_and_bad_values_are_refused() {
    assert!(form(&format!("{BASE}&RoleArn=other")).is_err());
    assert!(form(&format!("{BASE}&RoleArn=ci")).is_ok());
    assert!(form(&format!("{BASE}&DurationSeconds=abc")).is_err());
    assert!(form(&BASE.replace("build-1", "x")).is_err());
    assert!(form(&BASE.replace("build-1", "a%2Fb")).is_err());
    assert!(form(&format!("{BASE}&Bad=%ZZ")).is_err());
    assert!(parse_request(&Method::PUT, Some(BASE), None, b"").is_err());
}

#[test]
fn a_body_that_is_not_a_form_is_ignored() {
    let err = parse_request(
        &Method::POST,
        None,
        Some("application/json"),
        BASE.as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.code, StsErrorCode::MissingParameter);
}

#[test]
fn sts_requests_are_recognised_by_path_query_or_form() {
    let f = Some("application/x-www-form-urlencoded");
    assert!(is_sts_request(&Method::GET, "/.sts", None, None));
    assert!(is_sts_request(&Method::POST, "/", None, f));
    assert!(is_sts_request(
        &Method::GET,
        "/",
        Some("Action=AssumeRoleWithWebIdentity&RoleArn=x"),
        None
    ));
    assert!(!is_sts_request(&Method::GET, "/", None, None));
    assert!(!is_sts_request(&Method::POST, "/bucket", None, f));
    assert!(!is_sts_request(
        &Method::POST,
        "/",
        None,
        Some("application/xml")
    ));
}

#[test]
fn get_caller_identity_is_an_action_of_its_own_with_no_other_parameters() {
    let f = Some("application/x-www-form-urlencoded; charset=utf-8");
    let who = "Action=GetCallerIdentity&Version=2011-06-15";
    assert_eq!(
        parse_action(&Method::POST, None, f, who.as_bytes()).unwrap(),
        StsAction::GetCallerIdentity
    );
    assert_eq!(
        parse_action(&Method::GET, Some(BASE), None, b"").unwrap(),
        StsAction::AssumeRoleWithWebIdentity
    );
    assert!(parse_caller_identity_request(&Method::POST, None, f, who.as_bytes()).is_ok());
    // A presigned URL's parameters are the signature's, not the action's.
    let presigned = format!("{who}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60");
    assert!(parse_caller_identity_request(&Method::GET, Some(&presigned), None, b"").is_ok());
    let err = parse_caller_identity_request(
        &Method::POST,
        None,
        f,
        format!("{who}&RoleArn=ci").as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidParameterValue);
    let err = parse_action(
        &Method::POST,
        None,
        f,
        b"Action=GetCallerIdentity&Version=2",
    )
    .unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidParameterValue);
    // Each parser refuses the other's action.
    assert_eq!(form(who).unwrap_err().code, StsErrorCode::InvalidAction);
    assert_eq!(
        parse_caller_identity_request(&Method::GET, Some(BASE), None, b"")
            .unwrap_err()
            .code,
        StsErrorCode::InvalidAction
    );
    assert!(is_sts_request(
        &Method::GET,
        "/",
        Some("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=00"),
        None
    ));
}

#[test]
fn the_caller_identity_response_has_the_shape_boto3_parses() {
    let claims = token::SessionClaims {
        access_key_id: "ASIAEXAMPLE".into(),
        role_id: "ci".into(),
        subject: "repo:org/repo".into(),
        issuer: ISSUER.into(),
        session_name: "build-1".into(),
        scopes: vec![],
        issued_at: NOW,
        expires_at: NOW,
    };
    let who = CallerIdentity::of_session(&claims);
    assert_eq!(who.arn, "arn:aws:sts::000000000000:assumed-role/ci/build-1");
    assert_eq!(who.user_id, "ASIAEXAMPLE:build-1");
    let els = elements(&who.to_xml("req-3"));
    let r = "GetCallerIdentityResponse/GetCallerIdentityResult";
    assert_eq!(
        text(&els, &format!("{r}/Arn")),
        "arn:aws:sts::000000000000:assumed-role/ci/build-1"
    );
    assert_eq!(text(&els, &format!("{r}/UserId")), "ASIAEXAMPLE:build-1");
    assert_eq!(text(&els, &format!("{r}/Account")), DEFAULT_ACCOUNT_ID);
    assert_eq!(
        text(&els, "GetCallerIdentityResponse/ResponseMetadata/RequestId"),
        "req-3"
    );
    let key = CallerIdentity::of_access_key("a<b", "AKIAX");
    let els = elements(&key.to_xml("r"));
    assert_eq!(
        text(&els, &format!("{r}/Arn")),
        "arn:aws:iam::000000000000:user/a<b"
    );
    assert_eq!(text(&els, &format!("{r}/UserId")), "AKIAX");
}

// --- the whole exchange ---

fn config() -> GatewayConfig {
    let mut r = role();
    r.allowed_scopes = vec![
        Scope {
            bucket: "data".into(),
            prefixes: vec!["{repository}/".into()],
            actions: vec![Action::GetObject, Action::PutObject],
        },
        Scope {
            bucket: "ci-{repository_owner}".into(),
            prefixes: vec![],
            actions: vec![Action::ListBucket],
        },
    ];
    GatewayConfig {
        roles: vec![r],
        ..GatewayConfig::default()
    }
}

fn claims() -> serde_json::Value {
    let mut c = good_claims();
    c["repository_owner"] = json!("org");
    c
}

fn request(token: String, duration: Option<u64>) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_id: "ci".into(),
        account_id: None,
        session_name: "build-1".into(),
        web_identity_token: token,
        duration_secs: duration,
    }
}

fn session_keys() -> SessionKeys {
    SessionKeys::new(&[5; 32], None).unwrap()
}

fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |b: &mut [u8]| {
        for x in b {
            n = n.wrapping_add(37);
            *x = n;
        }
    }
}

fn exchange(
    cfg: &GatewayConfig,
    token: String,
    set: &Jwks,
    duration: Option<u64>,
) -> Result<AssumedRole, StsError> {
    assume_role(
        cfg,
        &request(token, duration),
        |iss| (iss == ISSUER).then_some(set),
        &session_keys(),
        NOW,
        &mut rng(),
    )
}

#[test]
fn a_valid_token_yields_credentials_that_open_to_the_expanded_scopes() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let token = jwt(&key, "ES256", Some("k1"), &claims());
    let cfg = config();
    assert_eq!(
        issuer_to_fetch(&cfg, &request(token.clone(), None)).unwrap(),
        ISSUER
    );
    let out = exchange(&cfg, token, &set, None).unwrap();
    let c = &out.credentials;
    assert!(c.access_key_id.starts_with("ASIA"));
    assert_eq!(c.expiration, Timestamp(NOW.0 + 7200), "role max by default");
    assert_eq!(out.subject, "repo:org/repo:ref:refs/heads/main");
    assert_eq!(out.assumed_role_id, format!("{}:build-1", c.access_key_id));
    assert_eq!(
        out.assumed_role_arn,
        "arn:aws:sts::000000000000:assumed-role/ci/build-1"
    );

    let opened = session_keys()
        .open(&c.session_token, &c.access_key_id, NOW)
        .unwrap();
    assert_eq!(
        opened.secret_access_key.expose(),
        c.secret_access_key.expose()
    );
    let Identity::Principal { role, scopes, .. } = opened.claims.identity() else {
        panic!("not a principal");
    };
    assert_eq!(role.as_deref(), Some("ci"));
    assert_eq!(scopes[0].prefixes, vec!["org/repo/".to_string()]);
    assert_eq!(scopes[1].bucket, "ci-org");
    assert_eq!(opened.claims.issuer, ISSUER);
}

#[test]
fn a_role_arn_with_an_iam_path_names_the_role_by_its_last_segment() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let token = jwt(&key, "ES256", Some("k1"), &claims());
    let cfg = config();
    let body = BASE.replace(
        "RoleArn=ci",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fgithub%2Fci",
    );
    let mut req = form(&body).unwrap();
    assert_eq!(req.role_id, "github/ci");
    req.web_identity_token = token;
    let out = assume_role(
        &cfg,
        &req,
        |iss| (iss == ISSUER).then_some(&set),
        &session_keys(),
        NOW,
        &mut rng(),
    )
    .unwrap();
    assert_eq!(
        out.assumed_role_arn,
        "arn:aws:sts::123456789012:assumed-role/ci/build-1"
    );
    req.role_id = "github/nope".into();
    assert_eq!(
        issuer_to_fetch(&cfg, &req).unwrap_err().code,
        StsErrorCode::AccessDenied
    );
}

#[test]
fn the_duration_is_clamped_between_900_seconds_and_the_role_maximum() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let cfg = config();
    for (asked, got) in [(Some(60), 900), (Some(1000), 1000), (Some(99_999), 7200)] {
        let token = jwt(&key, "ES256", Some("k1"), &claims());
        let out = exchange(&cfg, token, &set, asked).unwrap();
        assert_eq!(
            out.credentials.expiration,
            Timestamp(NOW.0 + got),
            "{asked:?}"
        );
    }
    let mut cfg = config();
    cfg.roles[0].max_session_duration_secs = None;
    let token = jwt(&key, "ES256", Some("k1"), &claims());
    let out = exchange(&cfg, token, &set, None).unwrap();
    assert_eq!(out.credentials.expiration, Timestamp(NOW.0 + 3600));
}

#[test]
fn an_unknown_kid_asks_the_runtime_to_refetch_the_jwks() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("old")]);
    let token = jwt(&key, "ES256", Some("new"), &claims());
    let err = exchange(&config(), token, &set, None).unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidIdentityToken);
    assert_eq!(err.jwks_refresh.as_deref(), Some(ISSUER));
}

#[test]
fn a_missing_jwks_asks_the_runtime_to_fetch_it() {
    let key = TestKey::p256();
    let token = jwt(&key, "ES256", Some("k1"), &claims());
    let err = assume_role(
        &config(),
        &request(token, None),
        |_| None,
        &session_keys(),
        NOW,
        &mut rng(),
    )
    .unwrap_err();
    assert_eq!(err.code, StsErrorCode::IDPCommunicationError);
    assert_eq!(err.jwks_refresh.as_deref(), Some(ISSUER));
}

#[test]
fn an_untrusted_issuer_is_refused_before_any_fetch() {
    let key = TestKey::p256();
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    let token = jwt(&key, "ES256", Some("k1"), &c);
    let err = issuer_to_fetch(&config(), &request(token.clone(), None)).unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidIdentityToken);
    assert_eq!(err.jwks_refresh, None);
    let set = jwks(&[key.jwk("k1")]);
    let err = exchange(&config(), token, &set, None).unwrap_err();
    assert_eq!(err.jwks_refresh, None);
}

#[test]
fn a_template_claim_missing_from_the_token_refuses_the_session() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("repository");
    let token = jwt(&key, "ES256", Some("k1"), &c);
    let err = exchange(&config(), token, &set, None).unwrap_err();
    assert_eq!(err.code, StsErrorCode::AccessDenied);
    assert!(err.message.contains("repository"), "{}", err.message);
}

#[test]
fn token_failures_map_to_sts_codes() {
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let cfg = config();
    let mut expired = claims();
    expired["exp"] = json!(NOW.0 - 1);
    let mut other_sub = claims();
    other_sub["sub"] = json!("repo:elsewhere/x");
    for (c, code) in [
        (expired, StsErrorCode::ExpiredTokenException),
        (other_sub, StsErrorCode::AccessDenied),
    ] {
        let token = jwt(&key, "ES256", Some("k1"), &c);
        assert_eq!(exchange(&cfg, token, &set, None).unwrap_err().code, code);
    }
    let err = exchange(&cfg, "garbage".into(), &set, None).unwrap_err();
    assert_eq!(err.code, StsErrorCode::InvalidIdentityToken);
    let mut unknown_role = request(jwt(&key, "ES256", Some("k1"), &claims()), None);
    unknown_role.role_id = "nope".into();
    let err = assume_role(
        &cfg,
        &unknown_role,
        |_| Some(&set),
        &session_keys(),
        NOW,
        &mut rng(),
    )
    .unwrap_err();
    assert_eq!(err.code, StsErrorCode::AccessDenied);
}

// --- XML ---

/// Reads the text of every leaf element into (path, text) pairs, checking well-formedness.
fn elements(xml: &str) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                path.push(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap());
                buf.clear();
            }
            Event::End(_) => {
                if !buf.is_empty() {
                    out.push((path.join("/"), std::mem::take(&mut buf)));
                }
                path.pop();
            }
            Event::Text(t) => buf.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                buf.push_str(match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity {other}"),
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn text<'a>(els: &'a [(String, String)], path: &str) -> &'a str {
    els.iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("no {path} in {els:#?}"))
}

#[test]
fn the_response_has_the_shape_boto3_parses() {
    let role = AssumedRole {
        credentials: Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: SecretKey::new("s3cr&t"),
            session_token: "tok_en-1".into(),
            expiration: Timestamp(1_700_000_000),
        },
        subject: "repo:org/repo".into(),
        provider: ISSUER.into(),
        audience: Some("sts.amazonaws.com".into()),
        assumed_role_arn: "arn:aws:sts::000000000000:assumed-role/ci/s".into(),
        assumed_role_id: "ASIAEXAMPLE:s".into(),
    };
    let xml = role.to_xml("req-1");
    assert!(xml.contains(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">"#
    ));
    let els = elements(&xml);
    let r = "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult";
    assert_eq!(
        text(&els, &format!("{r}/Credentials/AccessKeyId")),
        "ASIAEXAMPLE"
    );
    assert_eq!(
        text(&els, &format!("{r}/Credentials/SecretAccessKey")),
        "s3cr&t"
    );
    assert_eq!(
        text(&els, &format!("{r}/Credentials/SessionToken")),
        "tok_en-1"
    );
    assert_eq!(
        text(&els, &format!("{r}/Credentials/Expiration")),
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        text(&els, &format!("{r}/SubjectFromWebIdentityToken")),
        "repo:org/repo"
    );
    assert_eq!(
        text(&els, &format!("{r}/AssumedRoleUser/AssumedRoleId")),
        "ASIAEXAMPLE:s"
    );
    assert_eq!(text(&els, &format!("{r}/Provider")), ISSUER);
    assert_eq!(text(&els, &format!("{r}/Audience")), "sts.amazonaws.com");
    assert_eq!(
        text(
            &els,
            "AssumeRoleWithWebIdentityResponse/ResponseMetadata/RequestId"
        ),
        "req-1"
    );
}

#[test]
fn errors_have_the_sts_error_response_shape() {
    let e = StsError::new(StsErrorCode::InvalidIdentityToken, "bad <token>");
    assert_eq!(e.status(), 400);
    let els = elements(&e.to_xml("req-2"));
    assert_eq!(text(&els, "ErrorResponse/Error/Type"), "Sender");
    assert_eq!(
        text(&els, "ErrorResponse/Error/Code"),
        "InvalidIdentityToken"
    );
    assert_eq!(text(&els, "ErrorResponse/Error/Message"), "bad <token>");
    assert_eq!(text(&els, "ErrorResponse/RequestId"), "req-2");
    assert_eq!(StsError::new(StsErrorCode::AccessDenied, "").status(), 403);
}

#[test]
fn the_request_debug_hides_the_token() {
    let r = request("secret.token.value".into(), None);
    assert!(!format!("{r:?}").contains("secret.token.value"));
}

#[test]
fn a_session_identity_is_authorized_by_its_expanded_scopes_and_role() {
    use crate::config::{BackendType, BucketConfig};
    use crate::policy::authorize;
    let key = TestKey::p256();
    let set = jwks(&[key.jwk("k1")]);
    let token = jwt(&key, "ES256", Some("k1"), &claims());
    let out = exchange(&config(), token, &set, None).unwrap();
    let identity = session_keys()
        .open(
            &out.credentials.session_token,
            &out.credentials.access_key_id,
            NOW,
        )
        .unwrap()
        .claims
        .identity();
    let bucket = |roles: &[&str]| BucketConfig {
        name: "data".into(),
        backend_type: BackendType::S3,
        backend_prefix: None,
        anonymous_access: false,
        allowed_roles: roles.iter().map(|r| (*r).to_string()).collect(),
        backend_options: Default::default(),
        cors: None,
    };
    let data = bucket(&["ci"]);
    assert!(authorize(&identity, &data, Action::PutObject, "org/repo/build.tar").is_ok());
    assert!(authorize(&identity, &data, Action::GetObject, "org/other/x").is_err());
    assert!(authorize(&identity, &data, Action::DeleteObject, "org/repo/x").is_err());
    assert!(
        authorize(&identity, &bucket(&[]), Action::GetObject, "org/repo/x").is_err(),
        "a bucket whose allowed_roles omit the role admits no session"
    );
}
