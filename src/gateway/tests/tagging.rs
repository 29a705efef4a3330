//! Object tagging and GetObjectAttributes: forwarded to S3-compatible backends with only what
//! each operation carries, refused (501) where the backend has no such thing.

use super::*;

fn tagging_gateway() -> Gateway {
    let text = format!(
        r#"
[[buckets]]
name = "data"
backend_type = "s3"
backend_prefix = "p/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
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
bucket = "data"
prefixes = ["team"]
actions = ["get_object", "get_object_tagging", "put_object_tagging", "get_object_version"]
[[credentials.allowed_scopes]]
bucket = "data"
prefixes = ["readonly"]
actions = ["get_object", "put_object", "delete_object"]
[[credentials.allowed_scopes]]
bucket = "gcs"
actions = ["get_object", "get_object_tagging", "put_object_tagging"]
[[credentials.allowed_scopes]]
bucket = "az"
actions = ["get_object", "get_object_tagging", "put_object_tagging"]
[[credentials.allowed_scopes]]
bucket = "r2"
actions = ["get_object", "get_object_tagging", "put_object_tagging"]
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

fn names(f: &Forward) -> Vec<String> {
    let mut names: Vec<String> = f.headers.keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    names
}

const HOSTILE: &[(&str, &str)] = &[
    ("x-amz-acl", "public-read"),
    ("x-amz-expected-bucket-owner", "1"),
    ("x-amz-request-payer", "requester"),
    ("x-amz-tagging", "a=b"),
    ("x-amz-meta-a", "1"),
    ("range", "bytes=0-1"),
    ("if-match", "\"e\""),
];

#[test]
fn get_and_delete_object_tagging_forward_the_key_tagging_and_version_id_only() {
    let g = tagging_gateway();
    for (method, op) in [
        ("GET", Operation::GetObjectTagging),
        ("DELETE", Operation::DeleteObjectTagging),
    ] {
        let h = signed(method, "/data/team/k?tagging&versionId=v1&x-id=X", HOSTILE);
        assert_eq!(request::parse(&h, None).unwrap().operation, op);
        let f = forwarded(g.plan(&h, &ctx()));
        let (path, query) = f.url.split_once('?').unwrap();
        assert!(path.ends_with("/backend/p/team/k"), "{}", f.url);
        let mut params: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with("X-Amz-"))
            .collect();
        params.sort_unstable();
        assert_eq!(params, ["tagging=", "versionId=v1"], "{}", f.url);
        assert!(names(&f).is_empty(), "{method}: {:?}", names(&f));
        assert!(matches!(f.body, ForwardBody::Empty));
    }
}

#[test]
fn put_object_tagging_reads_checks_and_rewrites_its_body_with_a_content_md5() {
    let g = tagging_gateway();
    let body =
        "<?xml version=\"1.0\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                <TagSet><Tag><Key>a&amp;b</Key><Value>1</Value></Tag></TagSet></Tagging>";
    let h = signed("PUT", "/data/team/k?tagging", HOSTILE);
    assert!(matches!(
        g.plan(&h, &ctx()),
        Plan::NeedBody {
            limit: MAX_TAGGING_BODY
        }
    ));
    let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!("{:?}", f.body)
    };
    assert_eq!(
        &sent[..],
        b"<Tagging><TagSet><Tag><Key>a&amp;b</Key><Value>1</Value></Tag></TagSet></Tagging>"
    );
    assert_eq!(
        names(&f),
        ["content-length", "content-md5", "content-type"],
        "{:?}",
        f.headers
    );
    use base64::Engine as _;
    use md5::Digest as _;
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(sent));
    assert_eq!(f.headers["content-md5"], md5.as_str());
    assert!(f.finish.bodyless_success);
}

#[test]
fn a_bad_tagging_body_is_refused_before_any_backend() {
    let g = tagging_gateway();
    let h = signed("PUT", "/data/team/k?tagging", &[]);
    let eleven: String = (0..11)
        .map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>"))
        .collect();
    for (body, code) in [
        ("<Tagging><TagSet>".to_string(), "MalformedXML"),
        (
            "<!DOCTYPE t [<!ENTITY x \"y\">]><Tagging><TagSet/></Tagging>".to_string(),
            "MalformedXML",
        ),
        ("<Other><TagSet/></Other>".to_string(), "MalformedXML"),
        (
            format!("<Tagging><TagSet>{eleven}</TagSet></Tagging>"),
            "InvalidTag",
        ),
    ] {
        refused(g.plan_with_body(&h, &ctx(), Bytes::from(body)), 400, code);
    }
    let bad_md5 = signed(
        "PUT",
        "/data/team/k?tagging",
        &[("content-md5", "rL0Y20zC+Fzt72VPzMSk2A==")],
    );
    refused(
        g.plan_with_body(
            &bad_md5,
            &ctx(),
            Bytes::from_static(b"<Tagging><TagSet/></Tagging>"),
        ),
        400,
        "BadDigest",
    );
}

#[test]
fn tagging_needs_the_tagging_actions_under_the_scope_prefix() {
    let g = tagging_gateway();
    // `readonly/` grants get, put and delete of objects but no tagging action.
    for (m, t) in [
        ("GET", "/data/readonly/k?tagging"),
        ("PUT", "/data/readonly/k?tagging"),
        ("DELETE", "/data/readonly/k?tagging"),
        ("GET", "/data/elsewhere/k?tagging"),
        ("PUT", "/data/team-private/k?tagging"),
        ("GET", "/data/elsewhere/k?attributes"),
    ] {
        let h = signed(m, t, &[("x-amz-object-attributes", "ETag")]);
        // Refused before the body is read.
        refused(g.plan(&h, &ctx()), 403, "AccessDenied");
    }
}

#[test]
fn get_object_attributes_needs_get_object_and_forwards_its_checked_headers() {
    let g = tagging_gateway();
    let mut extra = HOSTILE.to_vec();
    extra.extend_from_slice(&[
        ("x-amz-object-attributes", "ETag,ObjectSize, ObjectParts"),
        ("x-amz-max-parts", "5"),
        ("x-amz-part-number-marker", "2"),
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
    ]);
    let h = signed("GET", "/data/team/k?attributes&versionId=v", &extra);
    let f = forwarded(g.plan(&h, &ctx()));
    assert!(f.url.contains("attributes="), "{}", f.url);
    assert!(f.url.contains("versionId=v"), "{}", f.url);
    assert_eq!(
        names(&f),
        [
            "x-amz-max-parts",
            "x-amz-object-attributes",
            "x-amz-part-number-marker",
            "x-amz-server-side-encryption-customer-algorithm",
        ]
    );
    // `readonly/` has get_object: attributes are what a HEAD shows.
    let h = signed(
        "GET",
        "/data/readonly/k?attributes",
        &[("x-amz-object-attributes", "StorageClass")],
    );
    forwarded(g.plan(&h, &ctx()));
}

#[test]
fn get_object_attributes_headers_are_checked_before_they_are_forwarded() {
    let g = tagging_gateway();
    for extra in [
        vec![],
        vec![("x-amz-object-attributes", "")],
        vec![("x-amz-object-attributes", "ETag,Owner")],
        vec![
            ("x-amz-object-attributes", "ETag"),
            ("x-amz-max-parts", "-1"),
        ],
        vec![
            ("x-amz-object-attributes", "ETag"),
            ("x-amz-part-number-marker", "1 2"),
        ],
    ] {
        let h = signed("GET", "/data/team/k?attributes", &extra);
        refused(g.plan(&h, &ctx()), 400, "InvalidArgument");
    }
}

#[test]
fn tagging_and_attributes_answer_not_implemented_on_gcs_azure_and_r2() {
    let g = tagging_gateway();
    for (bucket, backend) in [("gcs", "GCS"), ("az", "Azure"), ("r2", "R2")] {
        for (m, sub) in [
            ("GET", "tagging"),
            ("PUT", "tagging"),
            ("DELETE", "tagging"),
            ("GET", "attributes"),
        ] {
            let h = signed(
                m,
                &format!("/{bucket}/k?{sub}"),
                &[("x-amz-object-attributes", "ETag")],
            );
            let body = refused(g.plan(&h, &ctx()), 501, "NotImplemented");
            assert!(body.contains(backend), "{m} {bucket}?{sub}: {body}");
        }
    }
}
