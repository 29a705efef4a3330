use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use super::*;
use crate::backend::s3::{BackendRequest, S3Backend};
use crate::config::BackendType;
use crate::time::Timestamp;

/// Google's dummy conformance-test service account (see the file's `comment`).
const KEY_FILE: &str = include_str!("conformance-service-account.json");
/// A subset of Google's V4 signing conformance vectors (see the file's `source`).
const VECTORS: &str = include_str!("v4_signatures.json");

fn account() -> ServiceAccount {
    let v: Value = serde_json::from_str(KEY_FILE).unwrap();
    ServiceAccount::new(
        v["client_email"].as_str().unwrap(),
        v["private_key"].as_str().unwrap(),
    )
    .unwrap()
}

fn vectors() -> Vec<Value> {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    v["signingV4Tests"].as_array().unwrap().clone()
}

/// The vectors spell the signature parameter in either case.
fn normalized(url: &str) -> String {
    url.replace("&x-goog-signature=", "&X-Goog-Signature=")
}

#[test]
fn signed_urls_match_googles_v4_conformance_vectors() {
    let account = account();
    let vectors = vectors();
    assert_eq!(vectors.len(), 11);
    let mut failed = Vec::new();
    for t in &vectors {
        let name = t["description"].as_str().unwrap();
        let bucket = t["bucket"].as_str().unwrap();
        let virtual_hosted = t["urlStyle"].as_str() == Some("VIRTUAL_HOSTED_STYLE");
        let host = if virtual_hosted {
            format!("{bucket}.storage.googleapis.com")
        } else {
            "storage.googleapis.com".to_string()
        };
        let mut path = if virtual_hosted {
            String::new()
        } else {
            format!("/{bucket}")
        };
        if let Some(object) = t["object"].as_str() {
            path.push('/');
            path.push_str(&crate::backend::s3::encode_path(object));
        } else if path.is_empty() {
            path.push('/');
        }
        let mut headers = HeaderMap::new();
        for (k, v) in t["headers"].as_object().into_iter().flatten() {
            headers.append(
                HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        let query: Vec<(String, String)> = t["queryParameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let method = Method::from_bytes(t["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = presign(
            &PresignRequest {
                method: &method,
                scheme: "https",
                host: &host,
                encoded_path: &path,
                query: &query,
                signed_headers: &headers,
                region: REGION,
                service: GOOG4_SERVICE,
                now: Timestamp::parse_rfc3339(t["timestamp"].as_str().unwrap()).unwrap(),
                expires_secs: t["expiration"].as_str().unwrap().parse().unwrap(),
            },
            &account,
        );
        if normalized(&url) != normalized(t["expectedUrl"].as_str().unwrap()) {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}

fn gcs_bucket(opts: &[(&str, &str)]) -> BucketConfig {
    let mut b = BucketConfig::s3_for_test(opts);
    b.backend_type = BackendType::Gcs;
    b
}

#[test]
fn a_gcs_bucket_with_a_key_file_signs_like_googles_simple_get_vector() {
    let backend = S3Backend::from_config(&gcs_bucket(&[
        ("bucket_name", "test-bucket"),
        ("service_account_key", KEY_FILE),
    ]))
    .unwrap();
    let mut headers = HeaderMap::new();
    let url = backend.url(
        &mut BackendRequest {
            bucket: None,
            method: &Method::GET,
            key: Some("test-object"),
            query: &[],
            headers: &mut headers,
        },
        Timestamp::parse_rfc3339("2019-02-01T09:00:00Z").unwrap(),
        None,
    );
    // The gateway signs for an hour; the vector for 10 s: compare all but expiry and signature.
    assert!(
        url.starts_with(
            "https://storage.googleapis.com/test-bucket/test-object?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=3600&X-Goog-SignedHeaders=host&X-Goog-Signature="
        ),
        "{url}"
    );
}

#[test]
fn client_email_and_private_key_are_the_same_account_as_the_key_file() {
    let v: Value = serde_json::from_str(KEY_FILE).unwrap();
    let split = ServiceAccount::from_bucket(&gcs_bucket(&[
        ("client_email", v["client_email"].as_str().unwrap()),
        ("private_key", v["private_key"].as_str().unwrap()),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(split.sign_hex("x"), account().sign_hex("x"));
}

#[test]
fn bad_service_account_settings_are_refused_with_the_reason() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("service_account_key", "not json")],
            "not a service account's JSON key file",
        ),
        (
            &[(
                "service_account_key",
                r#"{"type":"authorized_user","client_email":"a","private_key":"b"}"#,
            )],
            "is not \"service_account\"",
        ),
        (
            &[("service_account_key", r#"{"type":"service_account"}"#)],
            "no client_email or private_key",
        ),
        (&[("client_email", "a@b")], "client_email needs private_key"),
        (&[("private_key", "x")], "private_key needs client_email"),
        (
            &[("client_email", "a@b"), ("private_key", "not a pem")],
            "expected an RSA private key in PEM",
        ),
        (
            &[("service_account_key", KEY_FILE), ("client_email", "a@b")],
            "not both",
        ),
    ];
    for (opts, want) in cases {
        let err = ServiceAccount::from_bucket(&gcs_bucket(opts)).unwrap_err();
        assert!(err.contains(want), "{opts:?}: {err}");
    }
    assert!(
        ServiceAccount::from_bucket(&gcs_bucket(&[("bucket_name", "b")]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_private_key_never_shows_in_debug_output() {
    let dbg = format!("{:?}", account());
    assert!(
        dbg.contains("test-iam-credentials@") && !dbg.contains("PRIVATE"),
        "{dbg}"
    );
}

#[test]
fn amz_metadata_and_copy_headers_become_goog_ones_and_other_amz_headers_are_dropped() {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("x-amz-meta-colour", "blue"),
        ("x-amz-copy-source", "/b/k"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-copy-source-if-match", "\"e\""),
        ("x-amz-checksum-crc32", "AAAAAA=="),
        ("x-amz-tagging", "a=b"),
        ("content-type", "text/plain"),
    ] {
        h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    to_goog_headers(&mut h);
    let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "content-type",
            "x-goog-copy-source",
            "x-goog-copy-source-if-match",
            "x-goog-meta-colour",
            "x-goog-metadata-directive",
        ]
    );
    assert_eq!(h["x-goog-meta-colour"], "blue");
}

#[test]
fn only_goog_metadata_headers_get_an_amz_name() {
    assert_eq!(
        amz_metadata_name("x-goog-meta-colour").unwrap().as_str(),
        "x-amz-meta-colour"
    );
    assert!(amz_metadata_name("x-goog-generation").is_none());
    assert!(amz_metadata_name("x-amz-meta-a").is_none());
}
