use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::*;
use crate::auth::secret::SecretKey;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::gateway::{ForwardBody, Timing};
use crate::time::Timestamp;
use crate::GatewayOptions;

const CONFIG: &str = r#"
[[buckets]]
name = "up"
backend_type = "s3"
backend_prefix = "p/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "r2"
backend_type = "r2"
[buckets.backend_options]
binding = "DATA"

[[credentials]]
access_key_id = "AKID"
secret_access_key = "client-secret-value"
[[credentials.allowed_scopes]]
bucket = "*"
prefixes = ["user/"]
actions = ["put_object"]
"#;

const B: &str = "bNdRy";
const NOW: Timestamp = Timestamp(1_700_000_000); // 2023-11-14T22:13:20Z

fn gateway() -> Gateway {
    let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

fn ctx() -> RequestContext {
    RequestContext {
        now: NOW,
        request_id: "REQ".into(),
    }
}

/// Signed form fields for `conditions` (plus the auth fields' own conditions).
fn signed(secret: &str, conditions: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let cred = "AKID/20231114/us-east-1/s3/aws4_request";
    let doc = format!(
        r#"{{"expiration": "2023-11-15T00:00:00Z", "conditions": [{conditions}, {{"x-amz-algorithm": "AWS4-HMAC-SHA256"}}, {{"x-amz-credential": "{cred}"}}, {{"x-amz-date": "20231114T220000Z"}}]}}"#
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
    let key =
        crate::auth::sigv4::signing_key(&SecretKey::new(secret), "20231114", "us-east-1", "s3");
    let sig = crate::auth::sigv4::sign(&key, &b64).to_hex();
    let mut fields: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", cred),
        ("x-amz-date", "20231114T220000Z"),
        ("policy", &b64),
        ("x-amz-signature", &sig),
    ] {
        fields.push((k.to_string(), v.to_string()));
    }
    fields
}

fn head(target: &str, body: &[u8]) -> RequestHead {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static("gw.test"));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={B}")).unwrap(),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    RequestHead {
        method: Method::POST,
        target: target.into(),
        headers,
    }
}

/// Runs the two planning steps as a runtime does, feeding the body in 7-byte chunks.
fn plan(target: &str, fields: &[(String, String)], file: &[u8]) -> (Plan, Vec<u8>) {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = crate::post::tests::body(&refs, "cat.txt", file);
    let g = gateway();
    let h = head(target, &body);
    let Plan::NeedForm(mut reader) = g.plan(&h, &ctx()) else {
        panic!("a form upload asks for its preamble first");
    };
    let mut at = 0;
    for c in body.chunks(7) {
        at += c.len();
        if reader.push(c) {
            break;
        }
    }
    (g.plan_with_form(&h, &ctx(), *reader), body[at..].to_vec())
}

fn error_code(plan: &Plan) -> String {
    let Plan::Respond(r) = plan else {
        panic!("expected an answer, got {plan:?}");
    };
    let text = String::from_utf8_lossy(r.body()).into_owned();
    text.split("<Code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
        .to_string()
}

#[test]
fn object_lock_fields_of_a_form_are_checked_and_authorized_never_dropped() {
    let conditions = r#"{"bucket": "up"}, ["starts-with", "$key", "user/"], ["starts-with", "$x-amz-object-lock-legal-hold", ""]"#;
    // The caller may put objects but not place legal holds: refused, not stored unlocked.
    let fields = signed(
        "client-secret-value",
        conditions,
        &[("key", "user/x"), ("x-amz-object-lock-legal-hold", "ON")],
    );
    assert_eq!(error_code(&plan("/up", &fields, b"x").0), "AccessDenied");
    // A value S3 would refuse is refused the same way.
    let fields = signed(
        "client-secret-value",
        conditions,
        &[("key", "user/x"), ("x-amz-object-lock-legal-hold", "yes")],
    );
    assert_eq!(error_code(&plan("/up", &fields, b"x").0), "InvalidArgument");
}

#[test]
fn a_signed_form_becomes_a_presigned_put_of_the_file_with_its_metadata() {
    let fields = signed(
        "client-secret-value",
        r#"{"bucket": "up"}, ["starts-with", "$key", "user/"], ["eq", "$Content-Type", "text/plain"], ["starts-with", "$x-amz-meta-who", ""], {"success_action_status": "201"}"#,
        &[
            ("key", "user/${filename}"),
            ("Content-Type", "text/plain"),
            ("x-amz-meta-who", "me"),
            ("success_action_status", "201"),
        ],
    );
    let (plan, rest) = plan("/up", &fields, b"hello world");
    let Plan::Forward(mut fwd) = plan else {
        panic!("{plan:?}");
    };
    assert_eq!(fwd.method, Method::PUT);
    assert!(
        fwd.url
            .starts_with("http://127.0.0.1:9000/backend/p/user/cat.txt?"),
        "{}",
        fwd.url
    );
    assert_eq!(fwd.headers["content-length"], "11");
    assert_eq!(fwd.headers["content-type"], "text/plain");
    assert_eq!(fwd.headers["x-amz-meta-who"], "me");
    assert!(!fwd.headers.contains_key("x-amz-signature"));
    let mut check = std::mem::replace(&mut fwd.body, ForwardBody::Empty)
        .into_check()
        .expect("the file streams through a check");
    let mut out = Vec::new();
    if let Some(b) = check.push(Bytes::from(rest)).unwrap() {
        out.extend_from_slice(&b);
    }
    if let Some(b) = check.finish().unwrap() {
        out.extend_from_slice(&b);
    }
    assert_eq!(out, b"hello world");

    let mut backend = HeaderMap::new();
    backend.insert("etag", HeaderValue::from_static("\"abc\""));
    let resp = fwd.buffered_response(StatusCode::OK, &backend, Bytes::new(), Timing::default());
    assert_eq!(resp.status(), StatusCode::CREATED);
    let text = String::from_utf8_lossy(resp.body());
    assert!(
        text.contains("<Key>user/cat.txt</Key>") && text.contains("<Bucket>up</Bucket>"),
        "{text}"
    );
    assert_eq!(resp.headers()["x-amz-request-id"], "REQ");
}

#[test]
fn a_form_key_with_a_dot_segment_is_refused_before_any_upload() {
    let cond = r#"["starts-with", "$key", "user/"]"#;
    for key in ["user/../other/a", "user/./a", "user/.."] {
        let (p, _) = plan(
            "/up",
            &signed("client-secret-value", cond, &[("key", key)]),
            b"x",
        );
        assert_eq!(error_code(&p), "InvalidArgument", "{key}");
    }
}

#[test]
fn bad_signatures_unknown_keys_and_policy_violations_are_refused_before_any_upload() {
    let cond = r#"["starts-with", "$key", "user/"]"#;
    let (p, _) = plan(
        "/up",
        &signed("wrong-secret", cond, &[("key", "user/a")]),
        b"x",
    );
    assert_eq!(error_code(&p), "SignatureDoesNotMatch");

    let mut fields = signed("client-secret-value", cond, &[("key", "user/a")]);
    for f in &mut fields {
        if f.0 == "x-amz-credential" {
            f.1 = "NOPE/20231114/us-east-1/s3/aws4_request".into();
        }
    }
    let (p, _) = plan("/up", &fields, b"x");
    assert_eq!(error_code(&p), "InvalidAccessKeyId");

    let (p, _) = plan(
        "/up",
        &signed("client-secret-value", cond, &[("key", "other/a")]),
        b"x",
    );
    assert_eq!(error_code(&p), "AccessDenied");

    let fields = signed(
        "client-secret-value",
        r#"["starts-with", "$key", ""], ["content-length-range", 0, 3]"#,
        &[("key", "user/a")],
    );
    let (p, _) = plan("/up", &fields, b"four");
    assert_eq!(error_code(&p), "EntityTooLarge");

    // The policy allows any key; the credential's scope does not.
    let fields = signed(
        "client-secret-value",
        r#"["starts-with", "$key", ""]"#,
        &[("key", "secret/a")],
    );
    let (p, _) = plan("/up", &fields, b"x");
    assert_eq!(error_code(&p), "AccessDenied");

    // An unknown bucket is answered before the body is read.
    assert_eq!(
        error_code(&gateway().plan(&head("/nope", b"x"), &ctx())),
        "NoSuchBucket"
    );
}

#[test]
fn an_unsigned_form_is_anonymous_and_a_bucket_without_public_writes_refuses_it() {
    let fields = vec![("key".to_string(), "user/a".to_string())];
    let (p, _) = plan("/up", &fields, b"x");
    assert_eq!(error_code(&p), "AccessDenied");
}

#[test]
fn an_r2_bucket_gets_a_put_call_with_the_file_length_and_the_post_answer() {
    let fields = signed(
        "client-secret-value",
        r#"["starts-with", "$key", "user/"], {"success_action_redirect": "https://app.test/ok"}"#,
        &[
            ("key", "user/r"),
            ("success_action_redirect", "https://app.test/ok"),
        ],
    );
    let (plan, _) = plan("/r2", &fields, b"abc");
    let Plan::R2(r2) = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(r2.content_length, Some(3));
    assert!(matches!(r2.call, crate::gateway::R2Call::Put { ref key, .. } if key == "user/r"));
    let meta = crate::gateway::R2Object {
        key: "user/r".into(),
        etag: "e1".into(),
        ..Default::default()
    };
    let resp = r2.respond(crate::gateway::R2Outcome::Put(meta));
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()["location"],
        "https://app.test/ok?bucket=r2&key=user%2Fr&etag=%22e1%22"
    );
}

#[test]
fn a_post_to_the_root_of_a_virtual_hosted_bucket_is_a_form_upload() {
    let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
    let options = GatewayOptions {
        virtual_host_domain: Some("gw.test".into()),
        ..GatewayOptions::default()
    };
    let g = Gateway::new(config, options).unwrap();
    let mut h = head("/", b"x");
    h.headers
        .insert(http::header::HOST, HeaderValue::from_static("up.gw.test"));
    assert!(matches!(g.plan(&h, &ctx()), Plan::NeedForm(_)));
}

#[test]
fn a_preflight_for_a_post_to_a_virtual_hosted_bucket_uses_the_buckets_rules() {
    let text = format!(
            "{CONFIG}\n[[buckets.cors]]\nallowed_origins = [\"https://app.test\"]\nallowed_methods = [\"POST\"]\n"
        );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    let options = GatewayOptions {
        virtual_host_domain: Some("gw.test".into()),
        ..GatewayOptions::default()
    };
    let g = Gateway::new(config, options).unwrap();
    let mut h = head("/", b"");
    h.method = Method::OPTIONS;
    h.headers
        .insert(http::header::HOST, HeaderValue::from_static("r2.gw.test"));
    h.headers.insert(
        http::header::ORIGIN,
        HeaderValue::from_static("https://app.test"),
    );
    h.headers.insert(
        http::header::ACCESS_CONTROL_REQUEST_METHOD,
        HeaderValue::from_static("POST"),
    );
    let Plan::Respond(resp) = g.plan(&h, &ctx()) else {
        panic!("a preflight is answered");
    };
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.test"
    );
}

#[test]
fn a_post_without_boundary_or_length_is_refused_up_front() {
    let g = gateway();
    let mut h = head("/up", b"");
    h.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data"),
    );
    assert_eq!(error_code(&g.plan(&h, &ctx())), "MalformedPOSTRequest");
    let mut h = head("/up", b"");
    h.headers.remove(http::header::CONTENT_LENGTH);
    assert_eq!(error_code(&g.plan(&h, &ctx())), "MissingContentLength");
}
