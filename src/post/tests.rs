use super::*;
use base64::Engine as _;

const B: &str = "bNdRy";

/// A whole form body with `fields` before a file part.
pub(crate) fn body(fields: &[(&str, &str)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
    out
}

fn form(fields: &[(&str, &str)], file: &[u8]) -> PostForm {
    let b = body(fields, "photo.jpg", file);
    let mut r = FormReader::new(B, b.len() as u64);
    assert!(r.push(&b));
    r.finish().unwrap()
}

fn policy(json: &str) -> PostPolicy {
    PostPolicy::parse(&base64::engine::general_purpose::STANDARD.encode(json)).unwrap()
}

const NOW: Timestamp = Timestamp(1_700_000_000); // 2023-11-14T22:13:20Z

fn check(json: &str, fields: &[(&str, &str)], file: &[u8]) -> Result<(), S3Error> {
    let f = form(fields, file);
    let key = object_key(&f)?;
    policy(json).check(&f, "bkt", &key, file.len() as u64, NOW)
}

#[test]
fn every_condition_kind_is_enforced() {
    let p = r#"{"expiration": "2023-11-15T00:00:00.000Z", "conditions": [
        {"bucket": "bkt"},
        ["starts-with", "$key", "user/"],
        ["eq", "$Content-Type", "image/jpeg"],
        {"x-amz-meta-tag": "a"},
        ["starts-with", "$success_action_status", ""],
        ["content-length-range", 1, 10]
    ]}"#;
    let ok = [
        ("key", "user/${filename}"),
        ("Content-Type", "image/jpeg"),
        ("x-amz-meta-tag", "a"),
        ("success_action_status", "201"),
    ];
    check(p, &ok, b"12345").unwrap();

    let mut bad = ok;
    bad[0] = ("key", "other/x");
    let err = check(p, &bad, b"12345").unwrap_err();
    assert_eq!(err.code, ErrorCode::AccessDenied);
    assert_eq!(
        err.message,
        "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"user/\"]"
    );
    let mut bad = ok;
    bad[1] = ("Content-Type", "text/html");
    let err = check(p, &bad, b"12345").unwrap_err();
    assert!(
        err.message
            .contains("[\"eq\", \"$content-type\", \"image/jpeg\"]"),
        "{}",
        err.message
    );
    let mut bad = ok;
    bad[2] = ("x-amz-meta-tag", "b");
    assert_eq!(
        check(p, &bad, b"12345").unwrap_err().code,
        ErrorCode::AccessDenied
    );

    assert_eq!(
        check(p, &ok, b"12345678901").unwrap_err().code,
        ErrorCode::EntityTooLarge
    );
    assert_eq!(
        check(p, &ok, b"").unwrap_err().code,
        ErrorCode::EntityTooSmall
    );

    let f = form(&ok, b"1");
    let err = policy(p)
        .check(&f, "other", "user/photo.jpg", 1, NOW)
        .unwrap_err();
    assert!(err.message.contains("$bucket"), "{}", err.message);
}

#[test]
fn an_expired_policy_is_refused_as_s3_words_it() {
    let p =
        r#"{"expiration": "2023-11-14T22:13:20Z", "conditions": [["starts-with", "$key", ""]]}"#;
    let err = check(p, &[("key", "k")], b"x").unwrap_err();
    assert_eq!(err.code, ErrorCode::AccessDenied);
    assert_eq!(err.message, "Invalid according to Policy: Policy expired.");
}

#[test]
fn every_field_must_be_covered_except_the_exempt_ones() {
    let p =
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "$key", ""]]}"#;
    check(
        p,
        &[
            ("key", "k"),
            ("policy", "x"),
            ("x-amz-signature", "s"),
            ("x-ignore-me", "1"),
        ],
        b"x",
    )
    .unwrap();
    let err = check(
        p,
        &[("key", "k"), ("acl", "private"), ("Cache-Control", "no")],
        b"x",
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AccessDenied);
    assert_eq!(
        err.message,
        "Invalid according to Policy: Extra input fields: acl, cache-control"
    );
}

#[test]
fn content_type_starts_with_applies_to_every_listed_type() {
    let p = r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["starts-with", "$key", ""], ["starts-with", "$Content-Type", "image/"]]}"#;
    check(
        p,
        &[("key", "k"), ("content-type", "image/png, image/gif")],
        b"x",
    )
    .unwrap();
    assert!(check(
        p,
        &[("key", "k"), ("content-type", "image/png,text/html")],
        b"x"
    )
    .is_err());
}

#[test]
fn malformed_policies_are_invalid_policy_documents() {
    for doc in [
        "not json",
        r#"{"conditions": []}"#,
        r#"{"expiration": "tomorrow", "conditions": []}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z"}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["in", "$key", "a"]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "key", "a"]]}"#,
        r#"{"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 5]]}"#,
    ] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
        assert_eq!(
            PostPolicy::parse(&b64).unwrap_err().code,
            ErrorCode::InvalidPolicyDocument,
            "{doc}"
        );
    }
    assert_eq!(
        PostPolicy::parse("%%%").unwrap_err().code,
        ErrorCode::InvalidPolicyDocument
    );
}

#[test]
fn an_expiration_that_is_not_iso_8601_utc_is_an_invalid_policy_document() {
    // s3-tests' test_post_object_invalid_date_format posts Python's `str(datetime)`.
    for exp in [
        "2030-01-01 00:00:00.123456+00:00",
        "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00+00:00",
        "2030-01-01T00:00:00",
        "2030-01-01t00:00:00z",
        "2030-02-30T00:00:00Z",
        "2030-01-01",
    ] {
        let doc = format!(r#"{{"expiration": "{exp}", "conditions": []}}"#);
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
        let err = PostPolicy::parse(&b64).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidPolicyDocument, "{exp}");
        assert_eq!(
            err.message,
            format!("Invalid Policy: Invalid 'expiration' value: '{exp}'")
        );
    }
    for exp in ["2030-01-01T00:00:00Z", "2030-01-01T00:00:00.000Z"] {
        let doc = format!(r#"{{"expiration": "{exp}", "conditions": []}}"#);
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
        assert!(PostPolicy::parse(&b64).is_ok(), "{exp}");
    }
}

#[test]
fn a_simple_condition_names_exactly_one_field() {
    // s3-tests' test_post_object_empty_conditions posts `[{}]`.
    for conditions in [r#"[{}]"#, r#"[{"acl": "private", "key": "k"}]"#] {
        let doc =
            format!(r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": {conditions}}}"#);
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
        let err = PostPolicy::parse(&b64).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidPolicyDocument, "{conditions}");
        assert_eq!(
            err.message,
            "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one \
             property specified."
        );
    }
}

#[test]
fn a_deeply_nested_or_huge_policy_is_an_invalid_policy_document_not_a_crash() {
    // JSON has no entities; nesting is bounded by serde_json's recursion limit (128), the
    // policy's size by the form's field cap before the file (MAX_PREAMBLE).
    let deep = format!(
        r#"{{"expiration": "2030-01-01T00:00:00Z", "conditions": [{}{}]}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(deep);
    assert_eq!(
        PostPolicy::parse(&b64).unwrap_err().code,
        ErrorCode::InvalidPolicyDocument
    );
}

#[test]
fn the_key_takes_the_files_base_name_and_must_be_present() {
    let f = form(&[("key", "up/${filename}")], b"x");
    assert_eq!(object_key(&f).unwrap(), "up/photo.jpg");
    let f = form(&[("acl", "private")], b"x");
    assert_eq!(object_key(&f).unwrap_err().code, ErrorCode::InvalidArgument);
}

#[test]
fn the_answer_follows_success_action_status_and_redirect() {
    let f = form(&[("key", "k"), ("success_action_status", "201")], b"x");
    let a = PostAnswer::new(&f, "b", "a b", "/b/a%20b".into());
    let r = a.respond("\"e\"", "RID");
    assert_eq!(r.status(), StatusCode::CREATED);
    let text = String::from_utf8(r.body().to_vec()).unwrap();
    assert!(text.contains("<PostResponse><Location>/b/a%20b</Location><Bucket>b</Bucket><Key>a b</Key><ETag>&quot;e&quot;</ETag></PostResponse>"), "{text}");

    let f = form(&[("key", "k")], b"x");
    let r = PostAnswer::new(&f, "b", "k", "/b/k".into()).respond("\"e\"", "RID");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.body().is_empty());
    assert_eq!(r.headers()["etag"], "\"e\"");

    let f = form(
        &[
            ("key", "k"),
            ("success_action_redirect", "https://app.test/done?x=1"),
        ],
        b"x",
    );
    let r = PostAnswer::new(&f, "b", "a/k", "/b/a/k".into()).respond("\"e\"", "RID");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "https://app.test/done?x=1&bucket=b&key=a%2Fk&etag=%22e%22"
    );
}
