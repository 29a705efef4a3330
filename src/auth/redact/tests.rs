use super::*;

#[test]
fn sigv4_presigned_targets_keep_everything_but_the_signature_and_token() {
    let t = "/b/k%20x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-Security-Token=FwoGZXIvYXdzEJr%2Bsecret&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef";
    assert_eq!(
            redact_target(t),
            "/b/k%20x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-Security-Token=REDACTED&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED"
        );
}

#[test]
fn sigv2_azure_and_gcs_signatures_are_redacted_but_access_key_ids_stay() {
    assert_eq!(
            redact_target("/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%2Bdef%3D&x-amz-security-token=tok"),
            "/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=REDACTED&x-amz-security-token=REDACTED"
        );
    assert_eq!(
        redact_target(
            "https://acct.blob.core.windows.net/c/k?sv=2022-11-02&se=2024&sr=b&sp=r&sig=Zm9v%3D"
        ),
        "https://acct.blob.core.windows.net/c/k?sv=2022-11-02&se=2024&sr=b&sp=r&sig=REDACTED"
    );
    assert_eq!(
            redact_target("https://storage.googleapis.com/b/k?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=beef"),
            "https://storage.googleapis.com/b/k?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=REDACTED"
        );
}

#[test]
fn names_are_matched_in_any_case_and_percent_encoded() {
    assert_eq!(
        redact_target("/b/k?x-amz-signature=1&X%2DAmz%2DSignature=2&X-AMZ-SECURITY-TOKEN=3"),
        "/b/k?x-amz-signature=REDACTED&X%2DAmz%2DSignature=REDACTED&X-AMZ-SECURITY-TOKEN=REDACTED"
    );
}

#[test]
fn urls_inside_error_texts_are_redacted_where_they_stand() {
    assert_eq!(
            redact("error sending request for url (http://127.0.0.1:8333/b/k?X-Amz-Date=1&X-Amz-Signature=abc): connection refused"),
            "error sending request for url (http://127.0.0.1:8333/b/k?X-Amz-Date=1&X-Amz-Signature=REDACTED): connection refused"
        );
}

#[test]
fn authorization_headers_and_bearer_tokens_are_redacted() {
    assert_eq!(
            redact("Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc\nnext line"),
            "Authorization: REDACTED\nnext line"
        );
    assert_eq!(
        redact(r#"{"authorization": "AWS AKID:c2ln", "x-amz-security-token": "tok", "host": "h"}"#),
        r#"{"authorization": "REDACTED", "x-amz-security-token": "REDACTED", "host": "h"}"#
    );
    assert_eq!(
        redact("x-amz-security-token:tok"),
        "x-amz-security-token:REDACTED"
    );
    assert_eq!(
        redact("the issuer said: Bearer eyJhbGciOi.payload.sig was refused"),
        "the issuer said: Bearer REDACTED was refused"
    );
    assert_eq!(
        redact("grant_type=x&subject_token=eyJ&client_secret=s3cr3t&scope=a"),
        "grant_type=x&subject_token=REDACTED&client_secret=REDACTED&scope=a"
    );
}

#[test]
fn json_token_fields_and_sts_credentials_in_xml_are_redacted() {
    assert_eq!(
        redact(r#"{"access_token":"eyJ0","token_type":"Bearer","expires_in":3599}"#),
        r#"{"access_token":"REDACTED","token_type":"Bearer","expires_in":3599}"#
    );
    assert_eq!(
            redact("<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s/k+e=y</SecretAccessKey><SessionToken>FwoG+/=</SessionToken></Credentials>"),
            "<Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>REDACTED</SecretAccessKey><SessionToken>REDACTED</SessionToken></Credentials>"
        );
    assert_eq!(
        redact("Action=AssumeRoleWithWebIdentity&WebIdentityToken=eyJ&RoleArn=arn"),
        "Action=AssumeRoleWithWebIdentity&WebIdentityToken=REDACTED&RoleArn=arn"
    );
}

#[test]
fn texts_without_secrets_are_unchanged() {
    for t in [
        "GET /b/k?list-type=2&prefix=a%2Fb -> NoSuchKey (The specified key does not exist.)",
        "the authorization header is not ASCII",
        "the signed header 'x-amz-meta-a' is not in the request",
        "/b/ünïcødé?versionId=3",
        "",
    ] {
        assert_eq!(redact(t), t);
    }
}
