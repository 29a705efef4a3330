//! Versioned buckets: `versionId` forwarded where S3 takes it (and refused where it does not),
//! the version actions, ListObjectVersions in the client's namespace, bucket versioning on
//! buckets that map a whole backend bucket, and 501 on backends without S3 versions.

use super::*;

fn versioning_gateway() -> Gateway {
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
bucket = "data"
prefixes = ["team"]
actions = ["get_object", "put_object", "delete_object", "list_bucket", "get_object_version",
           "list_bucket_versions", "get_bucket_versioning", "put_bucket_versioning"]
[[credentials.allowed_scopes]]
bucket = "data"
prefixes = ["plain"]
actions = ["get_object", "head_object", "delete_object", "list_bucket"]
[[credentials.allowed_scopes]]
bucket = "data"
actions = ["get_bucket_versioning", "put_bucket_versioning"]
[[credentials.allowed_scopes]]
bucket = "pt-*"
actions = ["get_object", "put_object", "delete_object", "get_object_version",
           "delete_object_version", "list_bucket_versions", "get_bucket_versioning",
           "put_bucket_versioning", "upload_part"]
[[credentials.allowed_scopes]]
bucket = "gcs"
actions = ["get_object_version", "list_bucket_versions", "get_bucket_versioning"]
[[credentials.allowed_scopes]]
bucket = "az"
actions = ["get_object_version", "list_bucket_versions", "get_bucket_versioning"]
[[credentials.allowed_scopes]]
bucket = "r2"
actions = ["get_object_version", "delete_object_version", "delete_object",
           "list_bucket_versions", "get_bucket_versioning", "put_bucket_versioning"]
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

#[test]
fn a_versioned_read_needs_get_object_version_and_forwards_the_version_encoded_and_signed() {
    let g = versioning_gateway();
    for method in ["GET", "HEAD"] {
        let f = forwarded(g.plan(
            &signed(
                method,
                "/data/team/k?versionId=a%2Bb%2Fc%3D&x-id=GetObject",
                &[],
            ),
            &ctx(),
        ));
        assert_eq!(params(&f), ["versionId=a%2Bb%2Fc%3D"], "{}", f.url);
        assert!(f.url.contains("/backend/p/team/k?"), "{}", f.url);
        assert!(f.url.contains("X-Amz-Signature="), "{}", f.url);
    }
    // `get_object` (and `head_object`) read the current object only, as in IAM.
    for method in ["GET", "HEAD"] {
        let h = signed(method, "/data/plain/k?versionId=v1", &[]);
        let Plan::Respond(r) = g.plan(&h, &ctx()) else {
            panic!("{method}: a version read without get_object_version was forwarded")
        };
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method}");
        forwarded(g.plan(&signed(method, "/data/plain/k", &[]), &ctx()));
    }
}

#[test]
fn a_version_delete_needs_delete_object_version_not_delete_object() {
    let g = versioning_gateway();
    let body = refused(
        g.plan(&signed("DELETE", "/data/team/k?versionId=v1", &[]), &ctx()),
        403,
        "AccessDenied",
    );
    assert!(body.contains("delete_object_version"), "{body}");
    forwarded(g.plan(&signed("DELETE", "/data/team/k", &[]), &ctx()));
    let f = forwarded(g.plan(&signed("DELETE", "/pt-a/k?versionId=v1", &[]), &ctx()));
    assert_eq!(params(&f), ["versionId=v1"]);
    assert!(
        f.url.starts_with("http://127.0.0.1:9000/pt-a/k?"),
        "{}",
        f.url
    );
}

#[test]
fn a_junk_version_id_is_invalid_argument_before_any_backend() {
    let g = versioning_gateway();
    let long = format!("/pt-a/k?versionId={}", "a".repeat(1025));
    for target in [
        "/pt-a/k?versionId=",
        "/pt-a/k?versionId=a%3Fb",
        "/pt-a/k?versionId=a%26x-id%3D1",
        "/pt-a/k?versionId=a+b",
        "/pt-a/k?versionId=%C3%A9",
        "/pt-a/k?versionId=a%0Ab",
        long.as_str(),
    ] {
        let body = refused(
            g.plan(&signed("GET", target, &[]), &ctx()),
            400,
            "InvalidArgument",
        );
        assert!(
            body.contains("Invalid version id specified"),
            "{target}: {body}"
        );
    }
    forwarded(g.plan(&signed("GET", "/pt-a/k?versionId=null", &[]), &ctx()));
}

#[test]
fn a_version_id_smuggled_on_an_operation_that_takes_none_is_refused_never_dropped() {
    let g = versioning_gateway();
    for (method, target, extra) in [
        ("PUT", "/pt-a/k?versionId=v1", vec![]),
        (
            "PUT",
            "/pt-a/k?versionId=v1",
            vec![("x-amz-copy-source", "/pt-a/src")],
        ),
        (
            "PUT",
            "/pt-a/k?partNumber=1&uploadId=u&versionId=v1",
            vec![],
        ),
        ("POST", "/pt-a/k?uploads&versionId=v1", vec![]),
        ("GET", "/pt-a?versionId=v1", vec![]),
        ("GET", "/pt-a?list-type=2&versionId=v1", vec![]),
        ("GET", "/pt-a?versions&versionId=v1", vec![]),
        ("POST", "/pt-a?delete&versionId=v1", vec![]),
        ("HEAD", "/pt-a?versionId=v1", vec![]),
        ("GET", "/?versionId=v1", vec![]),
    ] {
        let h = signed(method, target, &extra);
        let e = request::parse(&h, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{method} {target}");
        assert!(matches!(g.plan(&h, &ctx()), Plan::Respond(r) if r.status() == 400));
    }
}

#[test]
fn a_copy_source_version_needs_get_object_version_on_the_source() {
    let g = versioning_gateway();
    let h = signed(
        "PUT",
        "/data/team/dst",
        &[("x-amz-copy-source", "/data/plain/k?versionId=v1")],
    );
    refused(g.plan(&h, &ctx()), 403, "AccessDenied");
    let h = signed(
        "PUT",
        "/data/team/dst",
        &[("x-amz-copy-source", "/data/team/k?versionId=v1")],
    );
    let f = forwarded(g.plan(&h, &ctx()));
    assert_eq!(
        f.headers["x-amz-copy-source"],
        "/backend/p/team/k?versionId=v1"
    );
    // UploadPartCopy likewise.
    let h = signed(
        "PUT",
        "/pt-a/k?partNumber=1&uploadId=u",
        &[("x-amz-copy-source", "/pt-b/src?versionId=v2")],
    );
    let f = forwarded(g.plan(&h, &ctx()));
    assert_eq!(f.headers["x-amz-copy-source"], "/pt-b/src?versionId=v2");
}

#[test]
fn list_object_versions_is_confined_to_the_scope_and_the_backend_prefix() {
    let g = versioning_gateway();
    let f = forwarded(g.plan(
        &signed(
            "GET",
            "/data?versions&prefix=team/&delimiter=/&key-marker=team/a&version-id-marker=v1&max-keys=5&encoding-type=url&x-id=X",
            &[],
        ),
        &ctx(),
    ));
    assert_eq!(
        params(&f),
        [
            "delimiter=%2F",
            "key-marker=p%2Fteam%2Fa",
            "max-keys=5",
            "prefix=p%2Fteam%2F",
            "version-id-marker=v1",
            "versions=",
        ],
        "{}",
        f.url
    );
    let rw = f.finish.rewrite.as_ref().unwrap();
    assert_eq!((rw.strip_prefix.as_str(), rw.url_encoded), ("p/", true));
    // Prefixes outside the scope's folder, or none, are refused (`team` would list `team-x/`).
    for target in [
        "/data?versions",
        "/data?versions&prefix=team",
        "/data?versions&prefix=te",
    ] {
        refused(
            g.plan(&signed("GET", target, &[]), &ctx()),
            403,
            "AccessDenied",
        );
    }
    // `list_bucket` does not list versions.
    refused(
        g.plan(&signed("GET", "/data?versions&prefix=plain/", &[]), &ctx()),
        403,
        "AccessDenied",
    );
    // A version marker needs its key marker, and both pass the checks of their kind.
    for (target, code) in [
        ("/pt-a?versions&version-id-marker=v1", "InvalidArgument"),
        (
            "/pt-a?versions&key-marker=a&version-id-marker=a%3Fb",
            "InvalidArgument",
        ),
        ("/pt-a?versions&key-marker=a/../b", "InvalidArgument"),
        ("/pt-a/k?versions", "NotImplemented"),
        ("/pt-a?versions&uploads", "InvalidRequest"),
        ("/pt-a?versions&versioning", "InvalidRequest"),
    ] {
        let status = if code == "NotImplemented" { 501 } else { 400 };
        refused(g.plan(&signed("GET", target, &[]), &ctx()), status, code);
    }
}

#[test]
fn a_version_listing_answer_is_rewritten_into_the_clients_namespace() {
    let g = versioning_gateway();
    let f = forwarded(g.plan(
        &signed("GET", "/data?versions&prefix=team/&encoding-type=url", &[]),
        &ctx(),
    ));
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>backend</Name><Prefix>p/team/</Prefix><KeyMarker>p/team/</KeyMarker><VersionIdMarker></VersionIdMarker><NextKeyMarker>p/team/b c</NextKeyMarker><NextVersionIdMarker>v9</NextVersionIdMarker><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Version><Key>p/team/a</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><ETag>"e"</ETag><Size>1</Size></Version><DeleteMarker><Key>p/team/b c</Key><VersionId>v9</VersionId><IsLatest>true</IsLatest></DeleteMarker><Version><Key>elsewhere/x</Key><VersionId>v3</VersionId></Version><CommonPrefixes><Prefix>p/team/d/</Prefix></CommonPrefixes></ListVersionsResult>"#;
    let resp = f.buffered_response(
        StatusCode::OK,
        &HeaderMap::new(),
        Bytes::from(doc),
        Timing::default(),
    );
    let out = String::from_utf8_lossy(resp.body()).into_owned();
    assert!(
        out.contains("<Name>data</Name><EncodingType>url</EncodingType>"),
        "{out}"
    );
    assert!(out.contains("<Prefix>team/</Prefix>"), "{out}");
    assert!(
        out.contains("<NextKeyMarker>team/b+c</NextKeyMarker>"),
        "{out}"
    );
    assert!(
        out.contains("<Key>team/a</Key><VersionId>v2</VersionId>"),
        "{out}"
    );
    assert!(out.contains("<DeleteMarker><Key>team/b+c</Key>"), "{out}");
    assert!(out.contains("<Prefix>team/d/</Prefix>"), "{out}");
    assert!(
        !out.contains("elsewhere") && !out.contains("backend") && !out.contains("p/"),
        "{out}"
    );
}

#[test]
fn put_bucket_versioning_reads_checks_and_rewrites_its_body_on_whole_backend_buckets_only() {
    let g = versioning_gateway();
    let h = signed("PUT", "/pt-a?versioning", &[("x-amz-acl", "public-read")]);
    assert!(matches!(g.plan(&h, &ctx()), Plan::NeedBody { .. }));
    let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                <!-- hi --><Status> Enabled </Status></VersioningConfiguration>";
    let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!("{:?}", f.body)
    };
    assert_eq!(
        &sent[..],
        b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>"
    );
    assert_eq!(params(&f), ["versioning="]);
    assert!(f.headers.get("x-amz-acl").is_none());
    assert!(f.headers.contains_key("content-md5"));
    assert!(
        f.url.starts_with("http://127.0.0.1:9000/pt-a?"),
        "{}",
        f.url
    );
    for (bad, status, code) in [
        ("<VersioningConfiguration><Status>On</Status></VersioningConfiguration>", 400, "MalformedXML"),
        ("<VersioningConfiguration></VersioningConfiguration>", 400, "MalformedXML"),
        ("<VersioningConfiguration/>", 400, "MalformedXML"),
        ("<Tagging><Status>Enabled</Status></Tagging>", 400, "MalformedXML"),
        ("<VersioningConfiguration><Status>Enabled</Status><Status>Suspended</Status></VersioningConfiguration>", 400, "MalformedXML"),
        ("<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>", 501, "NotImplemented"),
        ("<VersioningConfiguration><Status>Enabled</Status><MfaDelete>No</MfaDelete></VersioningConfiguration>", 400, "MalformedXML"),
        ("<VersioningConfiguration><Status>Enabled", 400, "MalformedXML"),
    ] {
        refused(
            g.plan_with_body(&h, &ctx(), Bytes::from(bad)),
            status,
            code,
        );
    }
    // A bucket that is a folder of its backend bucket cannot switch the whole backend bucket.
    let h = signed("PUT", "/data?versioning", &[]);
    refused(g.plan(&h, &ctx()), 501, "NotImplemented");
    // Reading the setting is fine there, and forwards nothing but the sub-resource.
    let f = forwarded(g.plan(&signed("GET", "/data?versioning&x-id=X", &[]), &ctx()));
    assert_eq!(params(&f), ["versioning="]);
    assert!(f.url.contains("/backend?"), "{}", f.url);
}

#[test]
fn delete_objects_forwards_authorized_versions_and_refuses_others_per_key() {
    let g = versioning_gateway();
    let body = "<Delete><Object><Key>team/a</Key><VersionId>v1</VersionId></Object>\
                <Object><Key>team/b</Key></Object>\
                <Object><Key>team/c</Key><VersionId>a&amp;b</VersionId></Object></Delete>";
    let h = signed("POST", "/data?delete", &[]);
    let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!()
    };
    let sent = String::from_utf8_lossy(sent);
    assert!(sent.contains("<Key>p/team/b</Key>"), "{sent}");
    assert!(
        !sent.contains("team/a") && !sent.contains("team/c"),
        "{sent}"
    );
    let errors: Vec<&str> = f.finish.delete_errors.iter().map(|e| e.1).collect();
    assert_eq!(errors, ["AccessDenied", "InvalidArgument"]);
    let body = "<Delete><Object><Key>k</Key><VersionId>v1</VersionId></Object></Delete>";
    let h = signed("POST", "/pt-a?delete", &[]);
    let f = forwarded(g.plan_with_body(&h, &ctx(), Bytes::from(body)));
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!()
    };
    assert!(String::from_utf8_lossy(sent).contains("<Key>k</Key><VersionId>v1</VersionId>"));
}

#[test]
fn a_delete_marker_answer_keeps_its_version_headers() {
    let g = versioning_gateway();
    let f = forwarded(g.plan(&signed("GET", "/pt-a/k?versionId=v1", &[]), &ctx()));
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
    headers.insert("x-amz-version-id", HeaderValue::from_static("v1"));
    headers.insert("x-amz-id-2", HeaderValue::from_static("backend"));
    let doc = "<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message></Error>";
    let resp = f.buffered_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &headers,
        Bytes::from(doc),
        Timing::default(),
    );
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["x-amz-delete-marker"], "true");
    assert_eq!(resp.headers()["x-amz-version-id"], "v1");
    assert!(resp.headers().get("x-amz-id-2").is_none());
    // A streamed success keeps them too.
    let (_, out) = f.response_head(StatusCode::OK, &headers, Timing::default());
    assert_eq!(out["x-amz-version-id"], "v1");
}

#[test]
fn backends_without_s3_versions_answer_not_implemented() {
    let g = versioning_gateway();
    for (method, target) in [
        ("GET", "/gcs/k?versionId=v1"),
        ("GET", "/gcs?versions"),
        ("GET", "/gcs?versioning"),
        ("GET", "/az/k?versionId=v1"),
        ("GET", "/az?versions"),
        ("GET", "/az?versioning"),
        ("GET", "/r2/k?versionId=v1"),
        ("DELETE", "/r2/k?versionId=v1"),
        ("GET", "/r2?versions"),
        ("PUT", "/r2?versioning"),
    ] {
        refused(
            g.plan(&signed(method, target, &[]), &ctx()),
            501,
            "NotImplemented",
        );
    }
}

#[test]
fn an_r2_bucket_reports_that_it_was_never_versioned() {
    let g = versioning_gateway();
    let Plan::Respond(r) = g.plan(&signed("GET", "/r2?versioning", &[]), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::OK);
    let body = String::from_utf8_lossy(r.body());
    assert!(
        body.ends_with(
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
        ),
        "{body}"
    );
}
