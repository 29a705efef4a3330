use super::*;
use http::HeaderValue;

fn head(method: Method, target: &str) -> RequestHead {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("s3.example.com:8080"),
    );
    RequestHead {
        method,
        target: target.to_string(),
        headers,
    }
}

fn op(method: Method, target: &str) -> Result<Operation, ErrorCode> {
    parse(&head(method, target), None)
        .map(|r| r.operation)
        .map_err(|e| e.code)
}

#[test]
fn operations_are_classified_by_method_target_and_subresource() {
    use Operation::*;
    let cases = [
        (Method::GET, "/", ListBuckets),
        (Method::HEAD, "/b", HeadBucket),
        (Method::GET, "/b?location", GetBucketLocation),
        (Method::GET, "/b?list-type=2&prefix=a", ListObjectsV2),
        (Method::GET, "/b/", ListObjects),
        (Method::GET, "/b?uploads", ListMultipartUploads),
        (Method::PUT, "/b", CreateBucket),
        (Method::DELETE, "/b", DeleteBucket),
        (Method::POST, "/b?delete", DeleteObjects),
        (Method::GET, "/b/k?x-id=GetObject", GetObject),
        (Method::HEAD, "/b/k", HeadObject),
        (Method::PUT, "/b/k", PutObject),
        (Method::PUT, "/b/k?partNumber=1&uploadId=u", UploadPart),
        (Method::POST, "/b/k?uploads", CreateMultipartUpload),
        (Method::POST, "/b/k?uploadId=u", CompleteMultipartUpload),
        (Method::DELETE, "/b/k?uploadId=u", AbortMultipartUpload),
        (Method::GET, "/b/k?uploadId=u", ListParts),
        (Method::DELETE, "/b/k", DeleteObject),
    ];
    for (m, t, want) in cases {
        assert_eq!(op(m.clone(), t), Ok(want), "{m} {t}");
    }
}

#[test]
fn copy_source_header_makes_a_put_a_copy() {
    let mut h = head(Method::PUT, "/b/k");
    h.headers
        .insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
    assert_eq!(parse(&h, None).unwrap().operation, Operation::CopyObject);
    h.target = "/b/k?partNumber=2&uploadId=x".into();
    assert_eq!(
        parse(&h, None).unwrap().operation,
        Operation::UploadPartCopy
    );
}

#[test]
fn acl_subresource_is_not_implemented_rather_than_listed() {
    for sub in UNIMPLEMENTED_SUBRESOURCES {
        assert_eq!(
            op(Method::GET, &format!("/b?{sub}")),
            Err(ErrorCode::NotImplemented),
            "{sub}"
        );
        assert_eq!(
            op(Method::GET, &format!("/b/k?{sub}=")),
            Err(ErrorCode::NotImplemented),
            "{sub}"
        );
    }
}

#[test]
fn misplaced_subresources_and_odd_methods_are_refused() {
    assert_eq!(op(Method::GET, "/b?delete"), Err(ErrorCode::NotImplemented));
    assert_eq!(
        op(Method::PUT, "/b/k?uploads"),
        Err(ErrorCode::NotImplemented)
    );
    assert_eq!(op(Method::OPTIONS, "/b/k"), Err(ErrorCode::NotImplemented));
    assert_eq!(op(Method::PATCH, "/b/k"), Err(ErrorCode::MethodNotAllowed));
    assert_eq!(
        op(Method::GET, "/b?list-type=3"),
        Err(ErrorCode::InvalidArgument)
    );
    assert_eq!(op(Method::POST, "/b"), Err(ErrorCode::PreconditionFailed));
}

#[test]
fn lock_tagging_and_encryption_subresources_name_one_key_or_bucket_operation_each() {
    use Operation::*;
    for (m, t, want) in [
        (Method::GET, "/b/k?retention", GetObjectRetention),
        (
            Method::PUT,
            "/b/k?retention&versionId=v",
            PutObjectRetention,
        ),
        (Method::GET, "/b/k?legal-hold", GetObjectLegalHold),
        (Method::PUT, "/b/k?legal-hold=", PutObjectLegalHold),
        (Method::GET, "/b?object-lock", GetObjectLockConfiguration),
        (Method::PUT, "/b?object-lock", PutObjectLockConfiguration),
        (Method::GET, "/b?tagging", GetBucketTagging),
        (Method::PUT, "/b?tagging", PutBucketTagging),
        (Method::DELETE, "/b?tagging", DeleteBucketTagging),
        (Method::GET, "/b/?encryption", GetBucketEncryption),
        (Method::PUT, "/b?encryption", PutBucketEncryption),
        (Method::DELETE, "/b?encryption", DeleteBucketEncryption),
    ] {
        assert_eq!(op(m.clone(), t), Ok(want), "{m} {t}");
        assert!(want.is_bucket_setting() != t.contains("/k"), "{t}");
    }
    for (m, t, code) in [
        (Method::GET, "/b?retention", ErrorCode::NotImplemented),
        (Method::PUT, "/b?legal-hold", ErrorCode::NotImplemented),
        (Method::GET, "/b/k?object-lock", ErrorCode::NotImplemented),
        (Method::PUT, "/b/k?encryption", ErrorCode::NotImplemented),
        (Method::DELETE, "/b/k?retention", ErrorCode::NotImplemented),
        (Method::DELETE, "/b?object-lock", ErrorCode::NotImplemented),
        (Method::POST, "/b?encryption", ErrorCode::NotImplemented),
        (Method::HEAD, "/b/k?legal-hold", ErrorCode::NotImplemented),
        (
            Method::GET,
            "/b?tagging&location",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::PUT,
            "/b?object-lock&tagging",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::PUT,
            "/b/k?retention&legal-hold",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::PUT,
            "/b/k?retention&uploadId=u",
            ErrorCode::InvalidRequest,
        ),
        (Method::GET, "/b?encryption&acl", ErrorCode::NotImplemented),
    ] {
        assert_eq!(op(m.clone(), t), Err(code), "{m} {t}");
    }
    let mut h = head(Method::PUT, "/b/k?retention");
    h.headers
        .insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
    assert_eq!(
        parse(&h, None).map_err(|e| e.code).err(),
        Some(ErrorCode::NotImplemented)
    );
}

#[test]
fn object_tagging_and_attributes_are_key_operations_and_refused_on_buckets() {
    use Operation::*;
    for (m, t, want) in [
        (Method::GET, "/b/k?tagging", GetObjectTagging),
        (Method::GET, "/b/k?tagging=&versionId=v", GetObjectTagging),
        (Method::PUT, "/b/k?tagging", PutObjectTagging),
        (Method::DELETE, "/b/k?tagging", DeleteObjectTagging),
        (Method::GET, "/b/k?attributes", GetObjectAttributes),
    ] {
        assert_eq!(op(m.clone(), t), Ok(want), "{m} {t}");
    }
    for (m, t, code) in [
        (Method::GET, "/b?attributes", ErrorCode::NotImplemented),
        (Method::POST, "/b/k?tagging", ErrorCode::NotImplemented),
        (Method::HEAD, "/b/k?tagging", ErrorCode::NotImplemented),
        (Method::PUT, "/b/k?attributes", ErrorCode::NotImplemented),
        (
            Method::GET,
            "/b/k?tagging&attributes",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::PUT,
            "/b/k?tagging&uploadId=u&partNumber=1",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::DELETE,
            "/b/k?tagging&uploadId=u",
            ErrorCode::InvalidRequest,
        ),
        (Method::GET, "/b/k?tagging&acl", ErrorCode::NotImplemented),
        (
            Method::GET,
            "/b/k?tagging&versionId=a&versionId=b",
            ErrorCode::InvalidArgument,
        ),
    ] {
        assert_eq!(op(m.clone(), t), Err(code), "{m} {t}");
    }
}

#[test]
fn versions_and_versioning_are_bucket_operations_one_per_request() {
    use Operation::*;
    for (m, t, want) in [
        (Method::GET, "/b?versions", ListObjectVersions),
        (
            Method::GET,
            "/b?versions&prefix=a/&key-marker=a/b&version-id-marker=v",
            ListObjectVersions,
        ),
        (Method::GET, "/b?versioning", GetBucketVersioning),
        (Method::PUT, "/b?versioning", PutBucketVersioning),
    ] {
        assert_eq!(op(m.clone(), t), Ok(want), "{m} {t}");
    }
    for (m, t, code) in [
        (Method::GET, "/b/k?versions", ErrorCode::NotImplemented),
        (Method::PUT, "/b/k?versioning", ErrorCode::NotImplemented),
        (Method::DELETE, "/b?versioning", ErrorCode::NotImplemented),
        (Method::PUT, "/b?versions", ErrorCode::NotImplemented),
        (
            Method::GET,
            "/b?versions&list-type=2",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::GET,
            "/b?versioning&location",
            ErrorCode::InvalidRequest,
        ),
        (
            Method::GET,
            "/b/k?tagging&versions",
            ErrorCode::InvalidRequest,
        ),
        (Method::GET, "/b?versions&acl", ErrorCode::NotImplemented),
        (
            Method::GET,
            "/b?versions&version-id-marker=v",
            ErrorCode::InvalidArgument,
        ),
        (
            Method::GET,
            "/b?versions&key-marker=&version-id-marker=v",
            ErrorCode::InvalidArgument,
        ),
        (
            Method::GET,
            "/b?versions&key-marker=a&version-id-marker=a%3Db%26c",
            ErrorCode::InvalidArgument,
        ),
        (
            Method::GET,
            "/b?versions&prefix=a/../",
            ErrorCode::InvalidArgument,
        ),
    ] {
        assert_eq!(op(m.clone(), t), Err(code), "{m} {t}");
    }
}

#[test]
fn a_version_id_is_taken_only_where_s3_takes_one_and_only_when_it_is_sane() {
    for (m, t) in [
        (
            Method::GET,
            "/b/k?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY",
        ),
        (Method::HEAD, "/b/k?versionId=null"),
        (Method::DELETE, "/b/k?versionId=a.b_c-d%3D%2F"),
        (Method::GET, "/b/k?tagging&versionId=v"),
        (Method::PUT, "/b/k?tagging&versionId=v"),
        (Method::DELETE, "/b/k?tagging&versionId=v"),
        (Method::GET, "/b/k?attributes&versionId=v"),
    ] {
        assert!(op(m.clone(), t).is_ok(), "{m} {t}");
    }
    for (m, t) in [
        (Method::PUT, "/b/k?versionId=v"),
        (Method::POST, "/b/k?uploads&versionId=v"),
        (Method::POST, "/b/k?uploadId=u&versionId=v"),
        (Method::DELETE, "/b/k?uploadId=u&versionId=v"),
        (Method::GET, "/b/k?uploadId=u&versionId=v"),
        (Method::PUT, "/b/k?partNumber=1&uploadId=u&versionId=v"),
        (Method::GET, "/b?versionId=v"),
        (Method::GET, "/b?versions&versionId=v"),
        (Method::GET, "/b?versioning&versionId=v"),
        (Method::GET, "/b?uploads&versionId=v"),
        (Method::HEAD, "/b?versionId=v"),
        (Method::GET, "/?versionId=v"),
        (Method::GET, "/b/k?versionId="),
        (Method::GET, "/b/k?versionId"),
        (Method::GET, "/b/k?versionId=a%20b"),
        (Method::GET, "/b/k?versionId=a%3Fb"),
        (Method::GET, "/b/k?versionId=%E2%82%AC"),
        (Method::GET, "/b/k?versionId=..%2Fx"),
        (Method::GET, "/b/k?versionId=a%2F."),
    ] {
        let e = parse(&head(m.clone(), t), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{m} {t}");
        assert_eq!(e.status(), 400);
    }
    assert!(check_version_id(&"v".repeat(1024), "versionId").is_ok());
    let e = check_version_id(&"v".repeat(1025), "versionId").unwrap_err();
    assert_eq!(e.message, "Invalid version id specified");
}

#[test]
fn a_put_tagging_with_a_copy_source_is_refused_not_taken_for_a_copy() {
    let mut h = head(Method::PUT, "/b/k?tagging");
    h.headers
        .insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
    assert_eq!(
        parse(&h, None).map(|r| r.operation).map_err(|e| e.code),
        Err(ErrorCode::NotImplemented)
    );
}

#[test]
fn keys_are_decoded_byte_faithfully_while_the_raw_target_is_kept() {
    let r = parse(
        &head(
            Method::GET,
            "/b/a%20b+c%3D%21%2A%27%28%29%25/%2F%E1%88%B4?response-content-type=x+y",
        ),
        None,
    )
    .unwrap();
    assert_eq!(r.key.as_deref(), Some("a b+c=!*'()%//ሴ"));
    assert_eq!(r.raw_path, "/b/a%20b+c%3D%21%2A%27%28%29%25/%2F%E1%88%B4");
    assert_eq!(r.raw_query, "response-content-type=x+y");
    assert_eq!(r.query_param("response-content-type"), Some("x y"));
}

#[test]
fn key_with_encoded_slash_decodes_to_slash_and_double_slash_keeps_a_leading_slash() {
    assert_eq!(
        parse(&head(Method::GET, "/b/a%2Fb"), None)
            .unwrap()
            .key
            .as_deref(),
        Some("a/b")
    );
    assert_eq!(
        parse(&head(Method::GET, "/b//x"), None)
            .unwrap()
            .key
            .as_deref(),
        Some("/x")
    );
}

#[test]
fn invalid_escapes_and_utf8_are_invalid_uri() {
    assert_eq!(op(Method::GET, "/b/a%zz"), Err(ErrorCode::InvalidURI));
    assert_eq!(op(Method::GET, "/b/a%"), Err(ErrorCode::InvalidURI));
    assert_eq!(op(Method::GET, "/b/%FF%FE"), Err(ErrorCode::InvalidURI));
    assert_eq!(op(Method::GET, "/b/k?a=%E1%88"), Err(ErrorCode::InvalidURI));
    assert_eq!(op(Method::GET, "b/k"), Err(ErrorCode::InvalidURI));
}

#[test]
fn keys_over_1024_bytes_are_refused() {
    assert_eq!(
        op(Method::GET, &format!("/b/{}", "a".repeat(1025))),
        Err(ErrorCode::KeyTooLongError)
    );
    assert_eq!(
        op(Method::GET, &format!("/b/{}", "a".repeat(1024))),
        Ok(Operation::GetObject)
    );
}

#[test]
fn absolute_form_targets_are_reduced_to_their_path() {
    let r = parse(
        &head(Method::GET, "http://s3.example.com:8080/b/k?x=1"),
        None,
    )
    .unwrap();
    assert_eq!(
        (r.bucket.as_deref(), r.key.as_deref(), r.raw_path.as_str()),
        (Some("b"), Some("k"), "/b/k")
    );
}

#[test]
fn virtual_hosted_bucket_ignores_port() {
    let mut h = head(Method::GET, "/dir/k");
    h.headers.insert(
        http::header::HOST,
        HeaderValue::from_static("Data.S3.Example.com:8080"),
    );
    let r = parse(&h, Some("s3.example.com")).unwrap();
    assert_eq!(
        (r.bucket.as_deref(), r.key.as_deref(), r.virtual_hosted),
        (Some("data"), Some("dir/k"), true)
    );
}

#[test]
fn bucket_name_routes_requests_that_do_not_parse_as_operations() {
    let h = head(Method::OPTIONS, "/my%2Dbucket/k?acl");
    assert!(parse(&h, None).is_err());
    assert_eq!(bucket_name(&h, None).as_deref(), Some("my-bucket"));
    assert_eq!(bucket_name(&head(Method::OPTIONS, "/"), None), None);
    let mut v = head(Method::OPTIONS, "/k");
    v.headers.insert(
        http::header::HOST,
        HeaderValue::from_static("data.s3.example.com"),
    );
    assert_eq!(
        bucket_name(&v, Some("s3.example.com")).as_deref(),
        Some("data")
    );
}

#[test]
fn bare_domain_stays_path_style() {
    let r = parse(&head(Method::GET, "/b/k"), Some("s3.example.com")).unwrap();
    assert_eq!(
        (r.bucket.as_deref(), r.key.as_deref(), r.virtual_hosted),
        (Some("b"), Some("k"), false)
    );
}

#[test]
fn a_repeated_query_parameter_is_refused_naming_the_parameter() {
    for t in [
        "/b?prefix=team/&prefix=",
        "/b?uploads&prefix=team/&prefix=",
        "/b?list-type=2&prefix=a&pre%66ix=b",
        "/b/k?versionId=1&versionId=2",
        "/b?uploads&uploads",
    ] {
        let e = parse(&head(Method::GET, t), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{t}");
        assert_eq!(e.status(), 400);
        assert!(
            e.message.contains("is given more than once"),
            "{t}: {}",
            e.message
        );
    }
    let e = parse(&head(Method::GET, "/b?prefix=a&prefix=b"), None).unwrap_err();
    assert!(e.message.contains("'prefix'"), "{}", e.message);
    // Distinct names stay fine, and each value is the one routing and authorization read.
    let r = parse(&head(Method::GET, "/b?list-type=2&prefix=a&Prefix=b"), None).unwrap();
    assert_eq!(r.query_param("prefix"), Some("a"));
}

#[test]
fn bucket_names_outside_the_routable_set_are_refused_at_parse() {
    for t in [
        "/a%2Fb",
        "/a%2Fb/k",
        "/..",
        "/%2E%2E/k",
        "/./k",
        "/a%20b/k",
        "/a:b/k",
        "/a@evil.example/k",
        "/a%23b/k",
    ] {
        let e = parse(&head(Method::DELETE, t), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidBucketName, "{t}");
        assert_eq!(e.status(), 400, "{t}");
    }
    let long = format!("/{}/k", "a".repeat(256));
    assert_eq!(op(Method::GET, &long), Err(ErrorCode::InvalidBucketName));
    // Legacy names a config may hold (uppercase, `_`) still route.
    assert_eq!(
        op(Method::GET, "/Legacy_Bucket.v1/k"),
        Ok(Operation::GetObject)
    );
    assert_eq!(
        op(Method::GET, &format!("/{}/k", "a".repeat(255))),
        Ok(Operation::GetObject)
    );
}

#[test]
fn virtual_hosted_bucket_names_pass_the_same_checks() {
    for host in [
        "evil.example#.s3.example.com",
        "a@evil.example.s3.example.com",
        "a%2fb.s3.example.com",
    ] {
        let mut h = head(Method::GET, "/k");
        h.headers
            .insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
        let e = parse(&h, Some("s3.example.com")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidBucketName, "{host}");
    }
}

#[test]
fn s3_naming_rules_apply_to_names_that_reach_a_backend_as_sent() {
    for ok in ["abc", "my-bucket.v1", "a1b", &"a".repeat(63)] {
        assert!(check_s3_bucket_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ab",
        &"a".repeat(64),
        "Upper",
        "under_score",
        "-start",
        "end-",
        ".start",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "abc-s3alias",
        "abc--ol-s3",
        "a/b",
        "..",
    ] {
        let e = check_s3_bucket_name(bad).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidBucketName, "{bad}");
    }
}

#[test]
fn keys_with_dot_segments_are_refused_however_they_are_encoded() {
    for t in [
        "/b/.",
        "/b/..",
        "/b/a/../c",
        "/b/a/./c",
        "/b/a/..",
        "/b/%2e%2E/x",
        "/b/.%2e/x",
        "/b/%2E/x",
        "/b/a%2F..%2Fb",
        "/b/a%2f.",
    ] {
        let e = parse(&head(Method::GET, t), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument, "{t}");
        assert!(e.message.contains("normalize"), "{}", e.message);
    }
    for t in [
        "/b/...",
        "/b/.hidden",
        "/b/a..b/c.",
        "/b/a/",
        "/b//x",
        "/b/a/.../b",
    ] {
        assert_eq!(op(Method::GET, t), Ok(Operation::GetObject), "{t}");
    }
}

#[test]
fn listing_prefixes_and_markers_with_dot_segments_are_refused() {
    for t in [
        "/b?prefix=a/../",
        "/b?prefix=%2E%2E/x",
        "/b?marker=a/..",
        "/b?list-type=2&start-after=..",
        "/b?list-type=2&prefix=./",
        "/b?uploads&key-marker=a%2F.%2Fb",
    ] {
        assert_eq!(op(Method::GET, t), Err(ErrorCode::InvalidArgument), "{t}");
    }
    // A prefix may end in the start of a dotted name.
    for t in [
        "/b?prefix=.",
        "/b?prefix=a/..",
        "/b?prefix=a/.hid",
        "/b?marker=a/...b",
    ] {
        assert_eq!(op(Method::GET, t), Ok(Operation::ListObjects), "{t}");
    }
}

#[test]
fn a_request_head_over_64_kib_of_headers_is_refused_before_anything_else() {
    let mut h = head(Method::GET, "/bucket/key");
    h.headers.insert(
        "x-amz-meta-big",
        HeaderValue::from_str(&"a".repeat(MAX_HEADER_BYTES)).unwrap(),
    );
    let err = parse(&h, None).unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestHeaderSectionTooLarge);
    let mut h = head(Method::GET, "/bucket/key");
    h.headers.insert(
        "x-amz-meta-fits",
        HeaderValue::from_str(&"a".repeat(8 * 1024)).unwrap(),
    );
    assert!(parse(&h, None).is_ok());
}

#[test]
fn hostile_targets_never_panic() {
    for t in [
        "/",
        "//",
        "/%",
        "/?",
        "/?&&=&",
        "/b?=",
        "/b/\u{7f}",
        "http://",
        "https://x",
        "/b/%c3%28",
    ] {
        let _ = parse(&head(Method::GET, t), Some("x"));
    }
}
