use http::Method;

use super::*;
use crate::auth::secret::SecretKey;

fn bucket(opts: &[(&str, &str)]) -> BucketConfig {
    BucketConfig::s3_for_test(opts)
}

const ROLE: &str = "arn:aws:iam::123456789012:role/multistore";

fn aws(opts: &[(&str, &str)]) -> AwsWebIdentity {
    match Federation::from_bucket(&bucket(opts)).unwrap().unwrap() {
        Federation::Aws(a) => a,
        other => panic!("not AWS: {other:?}"),
    }
}

/// The example answer of the AWS STS API reference for AssumeRoleWithWebIdentity.
const AWS_EXAMPLE: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

const STS_ERROR: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>No OpenIDConnect provider found in your account for https://gw.example.com</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"#;

#[test]
fn oidc_buckets_get_aws_defaults_and_other_buckets_no_federation() {
    assert_eq!(Federation::from_bucket(&bucket(&[])).unwrap(), None);
    let a = aws(&[
        ("auth_type", "oidc"),
        ("role_arn", ROLE),
        ("region", "eu-west-1"),
    ]);
    assert_eq!(
        a,
        AwsWebIdentity {
            sts_endpoint: "https://sts.eu-west-1.amazonaws.com".into(),
            role_arn: ROLE.into(),
            audience: "sts.amazonaws.com".into(),
            subject: "data".into(),
            session_name: "multistore".into(),
            duration_secs: 3600,
        }
    );
    let a = aws(&[
        ("auth_type", "OIDC"),
        ("role_arn", ROLE),
        ("sts_endpoint", "http://127.0.0.1:5000/"),
        ("oidc_audience", "my-aud"),
        ("oidc_subject", "gateway"),
        ("role_session_name", "gw"),
        ("duration_seconds", "900"),
    ]);
    assert_eq!(a.sts_endpoint, "http://127.0.0.1:5000");
    assert_eq!(
        (a.audience.as_str(), a.subject.as_str()),
        ("my-aud", "gateway")
    );
    assert_eq!((a.session_name.as_str(), a.duration_secs), ("gw", 900));
}

#[test]
fn bad_federation_settings_are_refused_with_the_option_named() {
    let err = |opts: &[(&str, &str)]| Federation::from_bucket(&bucket(opts)).unwrap_err();
    assert!(err(&[("auth_type", "kerberos")]).contains("auth_type"));
    assert!(err(&[("auth_type", "oidc")]).contains("role_arn"));
    let base = [("auth_type", "oidc"), ("role_arn", ROLE)];
    for (k, v) in [
        ("sts_endpoint", "http://sts.example.com"),
        ("sts_endpoint", "ftp://x"),
        ("duration_seconds", "899"),
        ("duration_seconds", "43201"),
        ("duration_seconds", "an hour"),
    ] {
        let mut opts = base.to_vec();
        opts.push((k, v));
        assert!(err(&opts).contains(k), "{k}={v}");
    }
}

#[test]
fn the_cache_key_changes_with_every_setting_that_changes_the_credentials() {
    let base = [("auth_type", "oidc"), ("role_arn", ROLE)];
    let key = |extra: &[(&str, &str)]| {
        let mut opts = base.to_vec();
        opts.extend_from_slice(extra);
        Federation::Aws(aws(&opts)).cache_key()
    };
    let k0 = key(&[]);
    assert_eq!(k0, key(&[("endpoint", "https://elsewhere.example")]));
    for extra in [
        ("role_arn", "arn:aws:iam::1:role/other"),
        ("sts_endpoint", "https://sts.example.com"),
        ("oidc_audience", "a"),
        ("oidc_subject", "s"),
        ("role_session_name", "n"),
        ("duration_seconds", "7200"),
    ] {
        assert_ne!(k0, key(&[extra]), "{extra:?}");
    }
}

#[test]
fn the_sts_request_is_an_unsigned_form_post_with_the_token() {
    let a = aws(&[
        ("auth_type", "oidc"),
        ("role_arn", ROLE),
        ("sts_endpoint", "https://sts.example.com"),
        ("duration_seconds", "1800"),
    ]);
    let req = a.exchange_request("aaa.b+b/=.ccc");
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.url, "https://sts.example.com/");
    assert_eq!(
        req.headers["content-type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert_eq!(
        req.headers["content-length"],
        req.body.len().to_string().as_str()
    );
    assert!(!req.headers.contains_key("authorization"));
    let body = std::str::from_utf8(&req.body).unwrap();
    assert_eq!(
        body,
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmultistore\
         &RoleSessionName=multistore&DurationSeconds=1800\
         &WebIdentityToken=aaa.b%2Bb%2F%3D.ccc"
    );
    // The token never shows in Debug output.
    assert!(!format!("{req:?}").contains("aaa.b"));
}

#[test]
fn the_aws_documentation_example_answer_parses() {
    let c = parse_assume_role_response(200, AWS_EXAMPLE.as_bytes()).unwrap();
    let BackendSecret::Aws(signing) = &c.secret else {
        panic!("not AWS credentials: {c:?}")
    };
    assert_eq!(signing.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
    assert_eq!(
        signing.secret.expose(),
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    );
    assert_eq!(
        signing.session_token.as_ref().unwrap().expose(),
        "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE"
    );
    assert_eq!(
        c.expiration,
        Timestamp::parse_rfc3339("2014-10-24T23:00:23Z").unwrap()
    );
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("wJalr") && !dbg.contains("AQoDY"), "{dbg}");
}

#[test]
fn an_sts_error_answer_keeps_its_code_and_message() {
    let e = parse_assume_role_response(400, STS_ERROR.as_bytes()).unwrap_err();
    assert_eq!(
        e,
        ExchangeError::Refused {
            status: 400,
            code: "InvalidIdentityToken".into(),
            message: "No OpenIDConnect provider found in your account for https://gw.example.com"
                .into(),
        }
    );
    let fed = Federation::Aws(aws(&[("auth_type", "oidc"), ("role_arn", ROLE)]));
    let s3 = e.to_s3(&fed, "data");
    assert_eq!(s3.code, ErrorCode::BadGateway);
    assert!(
        s3.message.contains("InvalidIdentityToken"),
        "{}",
        s3.message
    );
    assert!(
        s3.message.contains("No OpenIDConnect provider"),
        "{}",
        s3.message
    );
    assert!(s3.message.contains(ROLE), "{}", s3.message);
    // An STS outage is the service being unavailable, not a refusal.
    let outage = parse_assume_role_response(503, b"<html>down</html>").unwrap_err();
    assert!(matches!(&outage, ExchangeError::Refused { code, .. } if code == "HTTP503"));
    assert_eq!(
        outage.to_s3(&fed, "data").code,
        ErrorCode::ServiceUnavailable
    );
    let unreachable = ExchangeError::Unreachable("connection refused".into()).to_s3(&fed, "data");
    assert_eq!(unreachable.code, ErrorCode::ServiceUnavailable);
    assert!(unreachable.message.contains("connection refused"));
    assert!(unreachable
        .message
        .contains("https://sts.us-east-1.amazonaws.com"));
}

#[test]
fn answers_without_usable_credentials_are_malformed() {
    for body in [
        "not xml at all",
        "",
        "<AssumeRoleWithWebIdentityResponse/>",
        "<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>\
         <SessionToken>T</SessionToken><Expiration>tomorrow</Expiration></Credentials></R>",
        "<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>\
         <Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></R>",
    ] {
        let e = parse_assume_role_response(200, body.as_bytes()).unwrap_err();
        assert!(matches!(e, ExchangeError::Malformed(_)), "{body}: {e:?}");
    }
}

fn creds(expiration: i64) -> TemporaryCredentials {
    TemporaryCredentials {
        secret: BackendSecret::Bearer(SecretKey::new(format!("token-{expiration}"))),
        expiration: Timestamp(expiration),
    }
}

#[test]
fn one_fetch_runs_while_others_wait_then_everyone_uses_the_result() {
    let mut c = CredentialCache::default();
    assert!(matches!(c.decide("k", Timestamp(0)), Decision::Fetch));
    assert!(matches!(c.decide("k", Timestamp(1)), Decision::Wait));
    assert!(matches!(c.decide("other", Timestamp(1)), Decision::Fetch));
    let got = c.finish("k", Ok(creds(3600)), Timestamp(2)).unwrap();
    assert_eq!(got.expiration, Timestamp(3600));
    assert!(matches!(c.decide("k", Timestamp(3)), Decision::Use(_)));
}

#[test]
fn credentials_are_refreshed_once_ahead_of_expiry_and_used_meanwhile() {
    let mut c = CredentialCache::default();
    c.decide("k", Timestamp(0));
    c.finish("k", Ok(creds(3600)), Timestamp(0)).unwrap();
    let due = 3600 - REFRESH_BEFORE_SECS;
    assert!(matches!(
        c.decide("k", Timestamp(due - 1)),
        Decision::Use(_)
    ));
    assert!(matches!(
        c.decide("k", Timestamp(due)),
        Decision::UseAndRefresh(_)
    ));
    assert!(matches!(
        c.decide("k", Timestamp(due + 1)),
        Decision::Use(_)
    ));
    c.finish("k", Ok(creds(7200)), Timestamp(due + 2)).unwrap();
    match c.decide("k", Timestamp(due + 3)) {
        Decision::Use(got) => assert_eq!(got.expiration, Timestamp(7200)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_refresh_keeps_valid_credentials_and_retries_after_the_backoff() {
    let mut c = CredentialCache::default();
    c.decide("k", Timestamp(0));
    c.finish("k", Ok(creds(1000)), Timestamp(0)).unwrap();
    assert!(matches!(
        c.decide("k", Timestamp(800)),
        Decision::UseAndRefresh(_)
    ));
    let err = ExchangeError::Unreachable("down".into());
    assert!(c.finish("k", Err(err), Timestamp(801)).is_err());
    assert!(matches!(c.decide("k", Timestamp(802)), Decision::Use(_)));
    assert!(matches!(
        c.decide("k", Timestamp(801 + FAILURE_BACKOFF_SECS)),
        Decision::UseAndRefresh(_)
    ));
}

#[test]
fn without_valid_credentials_a_failure_is_answered_until_the_backoff_ends() {
    let mut c = CredentialCache::default();
    c.decide("k", Timestamp(0));
    let err = ExchangeError::Unreachable("down".into());
    c.finish("k", Err(err.clone()), Timestamp(0)).unwrap_err();
    match c.decide("k", Timestamp(1)) {
        Decision::Fail(e) => assert_eq!(e, err),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.decide("k", Timestamp(FAILURE_BACKOFF_SECS)),
        Decision::Fetch
    ));
    // Expired credentials (or ones too close to expiry to sign with) are not used.
    c.finish("k", Ok(creds(100)), Timestamp(10)).unwrap();
    assert!(matches!(
        c.decide("k", Timestamp(100 - MIN_VALIDITY_SECS)),
        Decision::Fetch
    ));
}

#[test]
fn a_refresh_that_never_finished_is_taken_over() {
    let mut c = CredentialCache::default();
    assert!(matches!(c.decide("k", Timestamp(0)), Decision::Fetch));
    assert!(matches!(
        c.decide("k", Timestamp(IN_FLIGHT_TIMEOUT_SECS - 1)),
        Decision::Wait
    ));
    assert!(matches!(
        c.decide("k", Timestamp(IN_FLIGHT_TIMEOUT_SECS)),
        Decision::Fetch
    ));
}

#[test]
fn an_aws_exchange_is_done_after_its_one_call() {
    let f = Federation::Aws(aws(&[("auth_type", "oidc"), ("role_arn", ROLE)]));
    let step = f
        .parse_response(0, 200, AWS_EXAMPLE.as_bytes(), Timestamp(0))
        .unwrap();
    assert!(matches!(step, ExchangeStep::Done(_)), "{step:?}");
}

#[test]
fn an_exchange_that_does_not_end_within_the_step_limit_is_cut_off() {
    let f = Federation::Aws(aws(&[("auth_type", "oidc"), ("role_arn", ROLE)]));
    let err = f
        .parse_response(
            MAX_EXCHANGE_STEPS,
            200,
            AWS_EXAMPLE.as_bytes(),
            Timestamp(0),
        )
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
}
