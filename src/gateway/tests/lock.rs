//! Object lock, bucket tagging and bucket encryption: documents read, checked and written anew,
//! lock headers checked and authorized, bucket settings refused on prefixed buckets and on
//! backends without them.

use super::*;
use crate::s3::lock;

fn lock_gateway() -> Gateway {
    let s3 = |name: &str, extra: &str| {
        format!(
            r#"
[[buckets]]
name = "{name}"
backend_type = "s3"
{extra}
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend-{name}"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"
"#
        )
    };
    let all = Action::NAMES
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
{whole}
{plain}
{data}
[[buckets]]
name = "pt-*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "gcs"
backend_type = "gcs"
[buckets.backend_options]
bucket_name = "gbk"
access_key_id = "GOOG1KEY"
secret_access_key = "hmac-secret"

[[buckets]]
name = "az"
backend_type = "azure"
[buckets.backend_options]
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
account_name = "devstoreaccount1"
container_name = "c"
skip_signature = "true"

[[buckets]]
name = "r2"
backend_type = "r2"
[buckets.backend_options]
binding = "BUCKET"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
[[credentials.allowed_scopes]]
bucket = "whole"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "data"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "pt-*"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "gcs"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "az"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "r2"
actions = [{all}]
[[credentials.allowed_scopes]]
bucket = "plain"
actions = ["get_object", "put_object", "delete_object", "delete_object_version", "create_multipart_upload", "list_bucket"]
[[credentials.allowed_scopes]]
bucket = "whole"
prefixes = ["team"]
actions = ["get_object"]
"#,
        whole = s3("whole", ""),
        plain = s3("plain", ""),
        data = s3("data", "backend_prefix = \"p/\""),
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

fn sent(f: &Forward) -> String {
    let ForwardBody::Bytes(b) = &f.body else {
        panic!("{:?}", f.body)
    };
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn retention_legal_hold_and_lock_configuration_documents_are_written_anew() {
    let g = lock_gateway();
    for (target, body, want) in [
        (
            "/whole/k?retention&versionId=v1",
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate></Retention>",
        ),
        (
            "/whole/k?legal-hold",
            "<LegalHold><Status>ON</Status></LegalHold>",
            "<LegalHold><Status>ON</Status></LegalHold>",
        ),
        (
            "/whole?object-lock",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
        ),
        (
            "/whole?tagging",
            "<Tagging><TagSet><Tag><Key>Hello</Key><Value>World</Value></Tag></TagSet></Tagging>",
            "<Tagging><TagSet><Tag><Key>Hello</Key><Value>World</Value></Tag></TagSet></Tagging>",
        ),
        (
            "/whole?encryption",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        ),
    ] {
        let h = signed(
            "PUT",
            target,
            &[("x-amz-acl", "public-read"), ("x-amz-expected-bucket-owner", "1")],
        );
        assert!(matches!(g.plan(&h, &ctx()), Plan::NeedBody { .. }), "{target}");
        let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
        assert_eq!(sent(&f), want, "{target}");
        let mut names: Vec<&str> = f.headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "content-md5", "content-type"], "{target}");
        assert!(f.finish.bodyless_success, "{target}");
        assert!(f.url.contains("/backend-whole"), "{}", f.url);
    }
    let f = forwarded(g.plan(
        &signed("GET", "/whole/k?retention&versionId=v1&x-id=G", &[]),
        &ctx(),
    ));
    assert_eq!(params(&f), ["retention=", "versionId=v1"]);
    let f = forwarded(g.plan(&signed("GET", "/whole?object-lock", &[]), &ctx()));
    assert_eq!(params(&f), ["object-lock="]);
    let f = forwarded(g.plan(&signed("DELETE", "/pt-bucket?encryption", &[]), &ctx()));
    assert_eq!(params(&f), ["encryption="]);
    assert!(f.url.contains("/pt-bucket"), "{}", f.url);
}

#[test]
fn bad_lock_documents_get_s3s_errors_before_any_backend() {
    let g = lock_gateway();
    for (target, body, code) in [
        ("/whole/k?retention", "<Retention><Mode>governance</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>", "MalformedXML"),
        ("/whole/k?legal-hold", "<LegalHold><Status>abc</Status></LegalHold>", "MalformedXML"),
        ("/whole?object-lock", "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>", "InvalidRetentionPeriod"),
        ("/whole?object-lock", "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>", "MalformedXML"),
        ("/whole?tagging", "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>v</Value></Tag></TagSet></Tagging>", "InvalidTag"),
        ("/whole?encryption", "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>rot13</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>", "MalformedXML"),
    ] {
        let h = signed("PUT", target, &[]);
        refused(g.plan_with_body(&h, &ctx(), Bytes::from(body)), 400, code);
    }
}

#[test]
fn lock_headers_on_uploads_are_checked_authorized_and_set_by_the_gateway() {
    let g = lock_gateway();
    let lock = [
        ("x-amz-object-lock-mode", "GOVERNANCE"),
        (
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00.5Z",
        ),
        ("x-amz-object-lock-legal-hold", "ON"),
        ("content-length", "0"),
    ];
    for (m, t) in [("PUT", "/whole/k"), ("POST", "/whole/k?uploads")] {
        let f = forwarded(g.plan(&signed(m, t, &lock), &ctx()));
        assert_eq!(f.headers["x-amz-object-lock-mode"], "GOVERNANCE");
        assert_eq!(
            f.headers["x-amz-object-lock-retain-until-date"],
            "2030-01-01T00:00:01.000Z"
        );
        assert_eq!(f.headers["x-amz-object-lock-legal-hold"], "ON");
    }
    // `plain` grants put_object but neither put_object_retention nor put_object_legal_hold.
    for one in [&lock[..2], &lock[2..3]] {
        let body = refused(
            g.plan(&signed("PUT", "/plain/k", one), &ctx()),
            403,
            "AccessDenied",
        );
        assert!(body.contains("put_object_"), "{body}");
    }
    forwarded(g.plan(
        &signed("PUT", "/plain/k", &[("content-length", "0")]),
        &ctx(),
    ));
    for bad in [
        vec![
            ("x-amz-object-lock-mode", "governance"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
        ],
        vec![("x-amz-object-lock-mode", "GOVERNANCE")],
        vec![
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            ("x-amz-object-lock-retain-until-date", "01/01/2030"),
        ],
        vec![("x-amz-object-lock-legal-hold", "yes")],
    ] {
        refused(
            g.plan(&signed("PUT", "/whole/k", &bad), &ctx()),
            400,
            "InvalidArgument",
        );
    }
}

#[test]
fn bypassing_governance_retention_needs_its_own_action() {
    let g = lock_gateway();
    let bypass = [("x-amz-bypass-governance-retention", "true")];
    let f = forwarded(g.plan(&signed("DELETE", "/whole/k?versionId=v1", &bypass), &ctx()));
    assert_eq!(f.headers["x-amz-bypass-governance-retention"], "true");
    assert_eq!(params(&f), ["versionId=v1"]);
    assert!(f.finish.lock_guarded);
    refused(
        g.plan(&signed("DELETE", "/plain/k?versionId=v1", &bypass), &ctx()),
        403,
        "AccessDenied",
    );
    // Without the header the delete is the backend's to refuse, and "false" asks nothing.
    let f = forwarded(g.plan(
        &signed(
            "DELETE",
            "/plain/k",
            &[("x-amz-bypass-governance-retention", "false")],
        ),
        &ctx(),
    ));
    assert!(f.headers.get("x-amz-bypass-governance-retention").is_none());
    assert!(!f.finish.lock_guarded);
    refused(
        g.plan(
            &signed(
                "DELETE",
                "/whole/k",
                &[("x-amz-bypass-governance-retention", "maybe")],
            ),
            &ctx(),
        ),
        400,
        "InvalidArgument",
    );
    // DeleteObjects: per key, the keys the caller may not bypass for are refused in the result.
    let body = "<Delete><Object><Key>k</Key><VersionId>v</VersionId></Object></Delete>";
    let h = signed("POST", "/plain?delete", &bypass);
    match g.plan_with_body(&h, &ctx(), Bytes::from(body)) {
        Plan::Respond(r) => {
            let doc = String::from_utf8_lossy(r.body()).into_owned();
            assert!(doc.contains("<Code>AccessDenied</Code>"), "{doc}");
            assert!(doc.contains("bypass_governance_retention"), "{doc}");
        }
        other => panic!("{other:?}"),
    }
    let h = signed("POST", "/whole?delete", &bypass);
    let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
    assert_eq!(f.headers["x-amz-bypass-governance-retention"], "true");
}

#[test]
fn a_bucket_created_with_object_lock_needs_the_lock_configuration_action() {
    let g = lock_gateway();
    let h = signed(
        "PUT",
        "/pt-new",
        &[("x-amz-bucket-object-lock-enabled", "True")],
    );
    let f = forwarded(g.plan(&h, &ctx()));
    assert_eq!(f.headers["x-amz-bucket-object-lock-enabled"], "true");
    let h = signed(
        "PUT",
        "/pt-new",
        &[("x-amz-bucket-object-lock-enabled", "on")],
    );
    refused(g.plan(&h, &ctx()), 400, "InvalidArgument");
}

#[test]
fn bucket_settings_on_a_folder_of_a_shared_backend_bucket_are_not_implemented() {
    let g = lock_gateway();
    for (m, sub) in [
        ("GET", "object-lock"),
        ("PUT", "object-lock"),
        ("GET", "tagging"),
        ("PUT", "tagging"),
        ("DELETE", "tagging"),
        ("GET", "encryption"),
        ("PUT", "encryption"),
        ("DELETE", "encryption"),
    ] {
        let body = refused(
            g.plan(&signed(m, &format!("/data?{sub}"), &[]), &ctx()),
            501,
            "NotImplemented",
        );
        assert!(body.contains("folder of a shared backend bucket"), "{body}");
        assert!(!body.contains("backend-data"), "{body}");
    }
    // Object-level lock operations stay available under the prefix.
    let f = forwarded(g.plan(&signed("GET", "/data/k?retention", &[]), &ctx()));
    assert!(f.url.contains("/backend-data/p/k?"), "{}", f.url);
}

#[test]
fn bucket_settings_need_a_scope_over_the_whole_bucket() {
    let g = lock_gateway();
    for (m, t) in [
        ("GET", "/plain?tagging"),
        ("PUT", "/plain?encryption"),
        ("GET", "/plain?object-lock"),
        ("GET", "/plain/k?retention"),
        ("PUT", "/plain/k?legal-hold"),
    ] {
        refused(g.plan(&signed(m, t, &[]), &ctx()), 403, "AccessDenied");
    }
}

#[test]
fn lock_and_bucket_settings_are_not_implemented_on_gcs_azure_and_r2() {
    let g = lock_gateway();
    for (bucket, backend) in [("gcs", "GCS"), ("az", "Azure"), ("r2", "R2")] {
        for (m, t, extra) in [
            ("GET", format!("/{bucket}/k?retention"), vec![]),
            ("PUT", format!("/{bucket}/k?legal-hold"), vec![]),
            ("GET", format!("/{bucket}?object-lock"), vec![]),
            ("PUT", format!("/{bucket}?tagging"), vec![]),
            ("DELETE", format!("/{bucket}?encryption"), vec![]),
            (
                "PUT",
                format!("/{bucket}/k"),
                vec![
                    ("x-amz-object-lock-legal-hold", "ON"),
                    ("content-length", "0"),
                ],
            ),
        ] {
            let body = refused(
                g.plan(&signed(m, &t, &extra), &ctx()),
                501,
                "NotImplemented",
            );
            assert!(body.contains(backend), "{m} {t}: {body}");
        }
    }
}

#[test]
fn a_backend_access_denied_is_the_clients_only_where_a_lock_can_refuse() {
    let g = lock_gateway();
    let denied = Bytes::from_static(
        b"<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>",
    );
    for (m, t, client) in [
        ("DELETE", "/whole/k?versionId=v1", true),
        ("PUT", "/whole/k?retention", true),
        ("DELETE", "/whole/k", false),
        ("GET", "/whole/k", false),
    ] {
        let h = signed(m, t, &[]);
        let plan = match g.plan(&h, &ctx()) {
            Plan::NeedBody { .. } => g.plan_with_body(
                &h,
                &ctx(),
                Bytes::from_static(b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2031-01-01T00:00:00Z</RetainUntilDate></Retention>"),
            ),
            p => p,
        };
        let f = forwarded(plan);
        let r = f.buffered_response(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            denied.clone(),
            Timing::default(),
        );
        let want = if client { 403 } else { 502 };
        assert_eq!(r.status().as_u16(), want, "{m} {t}");
    }
}

#[test]
fn lock_state_in_answers_is_shown_only_to_callers_who_may_read_it() {
    let g = lock_gateway();
    let mut backend = HeaderMap::new();
    for (n, v) in [
        ("x-amz-object-lock-mode", "GOVERNANCE"),
        (
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00Z",
        ),
        ("x-amz-object-lock-legal-hold", "ON"),
    ] {
        backend.insert(n, HeaderValue::from_static(v));
    }
    for (m, t, shown) in [("HEAD", "/whole/k", true), ("GET", "/plain/k", false)] {
        let f = forwarded(g.plan(&signed(m, t, &[]), &ctx()));
        let (_, out) = f.response_head(StatusCode::OK, &backend, Timing::default());
        for n in lock::LOCK_HEADERS {
            assert_eq!(out.contains_key(n), shown, "{m} {t} {n}");
        }
    }
}
