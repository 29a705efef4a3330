use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};

use super::listing::wrap_cursor;
use super::plan::parse_copy_range;
use super::*;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::gateway::Plan;
use crate::gateway::{Gateway, GatewayOptions};
use crate::plan::RequestContext;
use crate::s3::ranges::parse_range;
use crate::s3::request::RequestHead;
use crate::s3::ErrorCode;

const CONFIG: &str = r#"
[[buckets]]
name = "pub"
backend_type = "r2"
anonymous_access = true
backend_prefix = "p/"
[buckets.backend_options]
binding = "DATA"

[[buckets]]
name = "other"
backend_type = "r2"
[buckets.backend_options]
binding = "DATA"

[[buckets]]
name = "elsewhere"
backend_type = "r2"
[buckets.backend_options]
binding = "ARCHIVE"

[[credentials]]
access_key_id = "AKID"
secret_access_key = "client-secret-value"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "put_object", "list_bucket", "delete_object", "create_multipart_upload", "upload_part", "complete_multipart_upload", "abort_multipart_upload", "list_parts", "list_multipart_uploads", "get_object_version", "delete_object_version"]
"#;

fn gateway() -> Gateway {
    let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

fn ctx() -> RequestContext {
    RequestContext {
        now: Timestamp(1_700_000_000),
        request_id: "REQ".into(),
    }
}

fn head(method: Method, target: &str, headers: &[(&'static str, &'static str)]) -> RequestHead {
    let mut h = HeaderMap::new();
    h.insert(http::header::HOST, HeaderValue::from_static("gw.test"));
    for (k, v) in headers {
        h.append(*k, HeaderValue::from_static(v));
    }
    RequestHead {
        method,
        target: target.into(),
        headers: h,
    }
}

/// A request signed with SigV4 by the test credential (UNSIGNED-PAYLOAD).
fn signed(method: Method, target: &str, headers: &[(&'static str, &'static str)]) -> RequestHead {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let mut h = head(method.clone(), target, headers);
    h.headers
        .insert("x-amz-date", HeaderValue::from_static("20231114T221320Z"));
    h.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut names: Vec<&str> = h.headers.keys().map(|k| k.as_str()).collect();
    names.sort();
    names.dedup();
    let canonical_headers: String = names
        .iter()
        .map(|n| {
            let v: Vec<&str> = h
                .headers
                .get_all(*n)
                .iter()
                .map(|v| v.to_str().unwrap().trim())
                .collect();
            format!("{n}:{}\n", v.join(","))
        })
        .collect();
    let signed_headers = names.join(";");
    let creq = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD"
    );
    let scope = "20231114/us-east-1/s3/aws4_request";
    let sts = format!(
        "AWS4-HMAC-SHA256\n20231114T221320Z\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let mac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let mut k = mac(b"AWS4client-secret-value", "20231114");
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = mac(&k, part);
    }
    let sig = hex::encode(mac(&k, &sts));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKID/{scope}, SignedHeaders={signed_headers}, Signature={sig}"
    );
    h.headers
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    h
}

fn r2_plan(plan: Plan) -> Box<R2Plan> {
    match plan {
        Plan::R2(p) => p,
        Plan::Respond(r) => panic!(
            "answered {}: {}",
            r.status(),
            String::from_utf8_lossy(r.body())
        ),
        other => panic!("{other:?}"),
    }
}

fn plan_of(h: &RequestHead) -> Box<R2Plan> {
    r2_plan(gateway().plan(h, &ctx()))
}

fn object(key: &str, size: u64) -> R2Object {
    R2Object {
        key: key.into(),
        size,
        etag: "abc".into(),
        http_etag: "\"abc\"".into(),
        uploaded_ms: 1_700_000_000_123,
        ..R2Object::default()
    }
}

fn body_text(r: &Response<Bytes>) -> String {
    String::from_utf8_lossy(r.body()).into_owned()
}

#[test]
fn an_anonymous_get_on_a_public_r2_bucket_asks_the_binding_under_the_prefix() {
    let p = plan_of(&head(Method::GET, "/pub/a%20b.txt", &[]));
    assert_eq!(p.binding, "DATA");
    assert_eq!(
        p.call,
        R2Call::Get {
            key: "p/a b.txt".into(),
            range: None,
            conditions: Conditions::default()
        }
    );
    assert!(matches!(p.body, ForwardBody::Empty));
    assert_eq!(p.request_id, "REQ");
}

#[test]
fn a_suffix_range_asks_r2_for_the_last_bytes() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[("range", "bytes=-10")]));
    let R2Call::Get { range, .. } = &p.call else {
        panic!()
    };
    assert_eq!(*range, Some(R2Range::Suffix(10)));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 100),
        has_body: true,
    });
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 90-99/100");
    assert_eq!(r.headers()["content-length"], "10");
}

#[test]
fn ranges_parse_as_s3_reads_them_and_malformed_ones_serve_the_whole_object() {
    assert_eq!(
        parse_range("bytes=0-9").unwrap(),
        Some(R2Range::Bounded {
            offset: 0,
            length: Some(10)
        })
    );
    assert_eq!(
        parse_range("bytes=5-").unwrap(),
        Some(R2Range::Bounded {
            offset: 5,
            length: None
        })
    );
    for whole in [
        "bytes=0-1,4-5",
        "bytes=9-2",
        "items=0-1",
        "bytes=x-",
        "bytes=-",
        "bytes=99999999999999999999999-",
    ] {
        assert_eq!(parse_range(whole).unwrap(), None, "{whole}");
    }
    assert_eq!(
        parse_range("bytes=-0").unwrap_err().code,
        ErrorCode::InvalidRange
    );
}

#[test]
fn a_bounded_range_past_the_end_is_clamped_and_one_beyond_it_is_416() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[("range", "bytes=90-200")]));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 100),
        has_body: true,
    });
    assert_eq!(r.headers()["content-range"], "bytes 90-99/100");
    let p = plan_of(&head(Method::GET, "/pub/k", &[("range", "bytes=100-")]));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 100),
        has_body: true,
    });
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[test]
fn get_headers_carry_the_object_metadata_as_s3_sends_them() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[]));
    let mut meta = object("p/k", 42);
    meta.http.content_type = Some("text/plain".into());
    meta.http.cache_control = Some("max-age=60".into());
    meta.http.expires = Some(1_700_000_000_000);
    meta.custom = vec![("color".into(), "blue".into())];
    let r = p.respond(R2Outcome::Object {
        meta,
        has_body: true,
    });
    let h = r.headers();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.body().is_empty(), "the runtime streams the body");
    assert_eq!(h["etag"], "\"abc\"");
    assert_eq!(h["last-modified"], "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_eq!(h["content-length"], "42");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-type"], "text/plain");
    assert_eq!(h["cache-control"], "max-age=60");
    assert_eq!(h["expires"], "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_eq!(h["x-amz-meta-color"], "blue");
    assert_eq!(h["x-amz-request-id"], "REQ");
}

#[test]
fn an_object_without_a_content_type_is_binary_octet_stream() {
    let p = plan_of(&head(Method::HEAD, "/pub/k", &[]));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 1),
        has_body: false,
    });
    assert_eq!(r.headers()["content-type"], "binary/octet-stream");
}

#[test]
fn response_overrides_apply_to_signed_gets_and_are_refused_anonymously() {
    let p = plan_of(&signed(
        Method::GET,
        "/pub/k?response-content-type=text%2Fcsv",
        &[],
    ));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 1),
        has_body: true,
    });
    assert_eq!(r.headers()["content-type"], "text/csv");
    let Plan::Respond(r) = gateway().plan(
        &head(Method::GET, "/pub/k?response-content-type=text%2Fcsv", &[]),
        &ctx(),
    ) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn if_none_match_on_a_bodyless_get_answers_304() {
    let p = plan_of(&head(
        Method::GET,
        "/pub/k",
        &[("if-none-match", "\"abc\"")],
    ));
    let R2Call::Get { conditions, .. } = &p.call else {
        panic!()
    };
    assert_eq!(conditions.if_none_match, vec!["abc".to_string()]);
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 5),
        has_body: false,
    });
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"], "\"abc\"");
    assert!(r.body().is_empty());
}

#[test]
fn if_match_failing_on_a_bodyless_get_answers_412() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[("if-match", "\"zzz\"")]));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 5),
        has_body: false,
    });
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert!(body_text(&r).contains("<Condition>If-Match</Condition>"));
}

#[test]
fn conditions_s3_ignores_are_not_passed_to_r2() {
    let p = plan_of(&head(
        Method::GET,
        "/pub/k",
        &[
            ("if-match", "\"abc\""),
            ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ],
    ));
    let R2Call::Get { conditions, .. } = &p.call else {
        panic!()
    };
    assert_eq!(conditions.if_unmodified_since, None);
    assert_eq!(conditions.if_modified_since, Some(784_111_777_000));
}

#[test]
fn a_head_evaluates_conditions_itself_at_second_granularity() {
    // The object was uploaded at 22:13:20.123: If-Modified-Since of that second is not modified.
    let p = plan_of(&head(
        Method::HEAD,
        "/pub/k",
        &[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")],
    ));
    assert!(matches!(p.call, R2Call::Head { .. }));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 5),
        has_body: false,
    });
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let p = plan_of(&head(
        Method::HEAD,
        "/pub/k",
        &[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT")],
    ));
    let r = p.respond(R2Outcome::Object {
        meta: object("p/k", 5),
        has_body: false,
    });
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert!(r.body().is_empty(), "HEAD errors carry no body");
}

#[test]
fn a_missing_object_is_no_such_key_naming_the_client_key() {
    let p = plan_of(&head(Method::GET, "/pub/dir/k", &[]));
    let r = p.respond(R2Outcome::Missing);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let text = body_text(&r);
    assert!(
        text.contains("<Code>NoSuchKey</Code>")
            && text.contains("<Resource>/pub/dir/k</Resource>")
            && text.contains("<Key>dir/k</Key>"),
        "{text}"
    );
    let p = plan_of(&head(Method::HEAD, "/pub/k", &[]));
    assert!(p.respond(R2Outcome::Missing).body().is_empty());
}

#[test]
fn anonymous_writes_to_an_r2_bucket_are_denied() {
    for (m, t) in [
        (Method::PUT, "/pub/k"),
        (Method::DELETE, "/pub/k"),
        (Method::POST, "/pub/k?uploads"),
    ] {
        let Plan::Respond(r) =
            gateway().plan(&head(m.clone(), t, &[("content-length", "1")]), &ctx())
        else {
            panic!("{m} {t}")
        };
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{m} {t}");
    }
}

#[test]
fn a_put_carries_its_metadata_md5_and_length() {
    let p = plan_of(&signed(
        Method::PUT,
        "/pub/k",
        &[
            ("content-length", "3"),
            ("content-type", "text/plain"),
            ("content-encoding", "gzip, aws-chunked"),
            ("x-amz-meta-Color", "blue"),
            ("content-md5", "rL0Y20zC+Fzt72VPzMSk2A=="),
            ("if-none-match", "*"),
        ],
    ));
    let R2Call::Put {
        key,
        http,
        custom,
        md5,
        conditions,
    } = &p.call
    else {
        panic!("{:?}", p.call)
    };
    assert_eq!(key, "p/k");
    assert_eq!(http.content_type.as_deref(), Some("text/plain"));
    assert_eq!(http.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(custom, &vec![("color".to_string(), "blue".to_string())]);
    assert_eq!(md5.as_deref(), Some("acbd18db4cc2f85cedef654fccc4a4d8"));
    assert_eq!(conditions.if_none_match, vec!["*".to_string()]);
    assert_eq!(p.content_length, Some(3));
    assert!(matches!(p.body, ForwardBody::Stream));
    let r = p.respond(R2Outcome::Put(object("p/k", 3)));
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "\"abc\"");
    assert_eq!(
        p.respond(R2Outcome::PreconditionFailed).status(),
        StatusCode::PRECONDITION_FAILED
    );
}

#[test]
fn a_put_without_a_length_is_411_and_a_bad_md5_is_invalid_digest() {
    let Plan::Respond(r) = gateway().plan(&signed(Method::PUT, "/pub/k", &[]), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);
    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/k",
            &[("content-length", "1"), ("content-md5", "nope")],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert!(body_text(&r).contains("InvalidDigest"));
}

#[test]
fn a_listing_strips_the_backend_prefix_and_wraps_the_cursor() {
    let p = plan_of(&head(
        Method::GET,
        "/pub?list-type=2&prefix=d%2F&delimiter=%2F&max-keys=5000",
        &[],
    ));
    assert_eq!(
        p.call,
        R2Call::List {
            prefix: "p/d/".into(),
            delimiter: Some("/".into()),
            cursor: None,
            start_after: None,
            limit: 1000,
            v2: true
        }
    );
    let r = p.respond(R2Outcome::Listing(R2Listing {
        objects: vec![object("p/d/a&b", 3)],
        delimited_prefixes: vec!["p/d/sub/".into()],
        truncated: true,
        cursor: Some("r2-cursor".into()),
    }));
    let text = body_text(&r);
    let token = wrap_cursor("r2-cursor");
    for want in [
        "<Name>pub</Name>",
        "<Prefix>d/</Prefix>",
        "<KeyCount>2</KeyCount>",
        "<MaxKeys>1000</MaxKeys>",
        "<IsTruncated>true</IsTruncated>",
        "<Key>d/a&amp;b</Key>",
        "<LastModified>2023-11-14T22:13:20.123Z</LastModified>",
        "<ETag>&quot;abc&quot;</ETag>",
        "<Size>3</Size><StorageClass>STANDARD</StorageClass>",
        "<CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes>",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(text.contains(&format!(
        "<NextContinuationToken>{token}</NextContinuationToken>"
    )));
    // The token comes back as R2's cursor.
    let target = format!("/pub?list-type=2&continuation-token={token}&start-after=x");
    let h = RequestHead {
        target,
        ..head(Method::GET, "/", &[])
    };
    let p = plan_of(&h);
    let R2Call::List {
        cursor,
        start_after,
        ..
    } = &p.call
    else {
        panic!()
    };
    assert_eq!(cursor.as_deref(), Some("r2-cursor"));
    assert_eq!(*start_after, None);
}

#[test]
fn a_bad_continuation_token_is_invalid_argument() {
    let Plan::Respond(r) = gateway().plan(
        &head(
            Method::GET,
            "/pub?list-type=2&continuation-token=%21%21",
            &[],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(&r).contains("continuation token"));
}

#[test]
fn a_v1_listing_maps_the_marker_and_gives_a_next_marker_with_a_delimiter() {
    let p = plan_of(&head(
        Method::GET,
        "/pub?marker=a&delimiter=%2F&encoding-type=url",
        &[],
    ));
    let R2Call::List {
        start_after, v2, ..
    } = &p.call
    else {
        panic!()
    };
    assert_eq!((start_after.as_deref(), *v2), (Some("p/a"), false));
    let r = p.respond(R2Outcome::Listing(R2Listing {
        objects: vec![object("p/b c", 1), object("p/", 0)],
        delimited_prefixes: vec!["p/z/".into()],
        truncated: true,
        cursor: Some("c".into()),
    }));
    let text = body_text(&r);
    assert!(
        text.contains("<Name>pub</Name><EncodingType>url</EncodingType>"),
        "{text}"
    );
    assert!(text.contains("<Marker>a</Marker>"), "{text}");
    assert!(
        text.contains("<NextMarker>z%2F</NextMarker>")
            || text.contains("<NextMarker>z/</NextMarker>"),
        "{text}"
    );
    assert!(text.contains("<Key>b+c</Key>"), "{text}");
    assert!(
        !text.contains("<Key></Key>"),
        "the prefix folder marker is dropped: {text}"
    );
    // Continuing after a common prefix skips everything under it.
    let p = plan_of(&head(Method::GET, "/pub?marker=z%2F&delimiter=%2F", &[]));
    let R2Call::List { start_after, .. } = &p.call else {
        panic!()
    };
    assert_eq!(start_after.as_deref(), Some("p/z/\u{10FFFF}"));
}

#[test]
fn max_keys_zero_is_answered_without_asking_r2() {
    let Plan::Respond(r) = gateway().plan(
        &head(Method::GET, "/pub?list-type=2&max-keys=0", &[]),
        &ctx(),
    ) else {
        panic!()
    };
    let text = body_text(&r);
    assert!(
        text.contains("<KeyCount>0</KeyCount><MaxKeys>0</MaxKeys>"),
        "{text}"
    );
    let Plan::Respond(r) = gateway().plan(&head(Method::GET, "/pub?max-keys=-1", &[]), &ctx())
    else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn delete_object_answers_204() {
    let p = plan_of(&signed(Method::DELETE, "/pub/k", &[]));
    assert_eq!(
        p.call,
        R2Call::Delete {
            keys: vec!["p/k".into()]
        }
    );
    assert_eq!(
        p.respond(R2Outcome::Deleted).status(),
        StatusCode::NO_CONTENT
    );
}

#[test]
fn delete_objects_reads_the_body_and_reports_each_key() {
    let g = gateway();
    let h = signed(Method::POST, "/pub?delete", &[]);
    assert!(matches!(g.plan(&h, &ctx()), Plan::NeedBody { .. }));
    let body = Bytes::from_static(
        b"<Delete><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object></Delete>",
    );
    let p = r2_plan(g.plan_with_body(&h, &ctx(), body));
    assert_eq!(
        p.call,
        R2Call::Delete {
            keys: vec!["p/a".into(), "p/b&c".into()]
        }
    );
    let text = body_text(&p.respond(R2Outcome::Deleted));
    assert!(
        text.contains("<Deleted><Key>a</Key></Deleted><Deleted><Key>b&amp;c</Key></Deleted>"),
        "{text}"
    );
    let quiet =
        Bytes::from_static(b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>");
    let p = r2_plan(g.plan_with_body(&h, &ctx(), quiet));
    assert!(!body_text(&p.respond(R2Outcome::Deleted)).contains("<Deleted>"));
}

#[test]
fn multipart_uploads_map_to_the_binding_calls() {
    let p = plan_of(&signed(
        Method::POST,
        "/pub/big?uploads",
        &[("content-type", "video/mp4")],
    ));
    let R2Call::CreateMultipart { key, http, .. } = &p.call else {
        panic!()
    };
    assert_eq!(
        (key.as_str(), http.content_type.as_deref()),
        ("p/big", Some("video/mp4"))
    );
    let text = body_text(&p.respond(R2Outcome::Upload {
        upload_id: "U1".into(),
    }));
    assert!(
        text.contains("<Bucket>pub</Bucket><Key>big</Key><UploadId>U1</UploadId>"),
        "{text}"
    );

    let p = plan_of(&signed(
        Method::PUT,
        "/pub/big?partNumber=2&uploadId=U1",
        &[("content-length", "5")],
    ));
    assert_eq!(
        p.call,
        R2Call::UploadPart {
            key: "p/big".into(),
            upload_id: "U1".into(),
            part_number: 2
        }
    );
    assert_eq!(p.content_length, Some(5));
    let r = p.respond(R2Outcome::Part {
        etag: "e2".into(),
        size: 5,
    });
    assert_eq!(r.headers()["etag"], "\"e2\"");

    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/big?partNumber=10001&uploadId=U1",
            &[("content-length", "5")],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert!(body_text(&r).contains("InvalidArgument"));

    let g = gateway();
    let h = signed(Method::POST, "/pub/big?uploadId=U1", &[]);
    assert!(matches!(g.plan(&h, &ctx()), Plan::NeedBody { .. }));
    let body = Bytes::from_static(b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>e2</ETag></Part></CompleteMultipartUpload>");
    let p = r2_plan(g.plan_with_body(&h, &ctx(), body));
    assert_eq!(
        p.call,
        R2Call::CompleteMultipart {
            key: "p/big".into(),
            upload_id: "U1".into(),
            parts: vec![(1, "e1".into()), (2, "e2".into())],
            conditions: Conditions::default(),
        }
    );
    let text = body_text(&p.respond(R2Outcome::Completed(object("p/big", 10))));
    assert!(
        text.contains("<Bucket>pub</Bucket><Key>big</Key><ETag>&quot;abc&quot;</ETag>"),
        "{text}"
    );

    let p = plan_of(&signed(Method::DELETE, "/pub/big?uploadId=U1", &[]));
    assert!(matches!(p.call, R2Call::AbortMultipart { .. }));
    assert_eq!(
        p.respond(R2Outcome::Aborted).status(),
        StatusCode::NO_CONTENT
    );
}

#[test]
fn a_conditional_complete_carries_only_its_etag_conditions_and_renders_412() {
    let g = gateway();
    let h = signed(
        Method::POST,
        "/pub/big?uploadId=U1",
        &[
            ("if-none-match", "*"),
            ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ],
    );
    let body = Bytes::from_static(
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e1</ETag></Part></CompleteMultipartUpload>",
    );
    let p = r2_plan(g.plan_with_body(&h, &ctx(), body));
    let R2Call::CompleteMultipart { conditions, .. } = &p.call else {
        panic!("{:?}", p.call)
    };
    assert_eq!(
        *conditions,
        Conditions {
            if_none_match: vec!["*".into()],
            ..Conditions::default()
        }
    );
    assert!(!conditions.hold_for_write(&object("p/big", 1)));
    let if_match = Conditions {
        if_match: vec!["abc".into()],
        ..Conditions::default()
    };
    assert!(if_match.hold_for_write(&object("p/big", 1)));
    assert_eq!(
        p.respond(R2Outcome::PreconditionFailed).status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        p.respond(R2Outcome::Missing).status(),
        StatusCode::NOT_FOUND
    );
}

fn record(key: &str, custom: &[(&str, &str)]) -> R2Object {
    R2Object {
        custom: custom
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..object(key, 0)
    }
}

#[test]
fn records_are_written_after_create_and_each_part_and_cleaned_after_complete_and_abort() {
    let p = plan_of(&signed(Method::POST, "/pub/dir/big?uploads", &[]));
    let upload = R2Outcome::Upload {
        upload_id: "U1".into(),
    };
    assert_eq!(
        p.records(&upload),
        Some(R2Records::Put {
            key: "p/.multistore/uploads/dir/big\u{1}U1".into(),
            custom: vec![
                ("key".into(), "dir/big".into()),
                ("upload-id".into(), "U1".into()),
                ("initiated".into(), "1700000000000".into()),
            ],
        })
    );
    // A failed create writes nothing.
    assert_eq!(p.records(&R2Outcome::Missing), None);

    let p = plan_of(&signed(
        Method::PUT,
        "/pub/dir/big?partNumber=7&uploadId=U1",
        &[
            ("content-length", "5"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ],
    ));
    let part = R2Outcome::Part {
        etag: "e7".into(),
        size: 5,
    };
    assert_eq!(
        p.records(&part),
        Some(R2Records::Put {
            key: "p/.multistore/parts/U1/00007".into(),
            custom: vec![
                ("etag".into(), "e7".into()),
                ("size".into(), "5".into()),
                ("modified".into(), "1700000000000".into()),
                ("checksum-crc32".into(), "AAAAAA==".into()),
            ],
        })
    );

    let clean = Some(R2Records::Clean {
        keys: vec!["p/.multistore/uploads/dir/big\u{1}U1".into()],
        prefix: "p/.multistore/parts/U1/".into(),
    });
    let p = plan_of(&signed(Method::DELETE, "/pub/dir/big?uploadId=U1", &[]));
    assert_eq!(p.records(&R2Outcome::Aborted), clean);
    let g = gateway();
    let h = signed(Method::POST, "/pub/dir/big?uploadId=U1", &[]);
    let body = Bytes::from_static(
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e1</ETag></Part></CompleteMultipartUpload>",
    );
    let p = r2_plan(g.plan_with_body(&h, &ctx(), body));
    assert_eq!(
        p.records(&R2Outcome::Completed(object("p/dir/big", 1))),
        clean
    );
    // A failed complete keeps the records: the upload still exists.
    assert_eq!(p.records(&R2Outcome::PreconditionFailed), None);
}

#[test]
fn a_record_whose_key_would_pass_r2_limits_is_skipped() {
    let long = "k".repeat(1010);
    let target: &'static str = Box::leak(format!("/other/{long}?uploads").into_boxed_str());
    let p = plan_of(&signed(Method::POST, target, &[]));
    let upload = R2Outcome::Upload {
        upload_id: "U1".into(),
    };
    assert_eq!(p.records(&upload), None);
}

#[test]
fn list_parts_checks_the_upload_record_and_pages_by_part_number() {
    let p = plan_of(&signed(
        Method::GET,
        "/pub/dir/big?uploadId=U1&part-number-marker=2&max-parts=2",
        &[],
    ));
    assert_eq!(
        p.call,
        R2Call::ListParts {
            upload_record: "p/.multistore/uploads/dir/big\u{1}U1".into(),
            parts_prefix: "p/.multistore/parts/U1/".into(),
            start_after: Some("p/.multistore/parts/U1/00002".into()),
            limit: 2,
        }
    );
    let r = p.respond(R2Outcome::Missing);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(body_text(&r).contains("NoSuchUpload"));

    let listing = R2Listing {
        objects: vec![
            record(
                "p/.multistore/parts/U1/00003",
                &[
                    ("etag", "e3"),
                    ("size", "5242880"),
                    ("modified", "1700000000000"),
                ],
            ),
            record(
                "p/.multistore/parts/U1/00004",
                &[
                    ("etag", "e4"),
                    ("size", "12"),
                    ("checksum-crc32", "AAAAAA=="),
                ],
            ),
        ],
        truncated: true,
        cursor: Some("c".into()),
        ..R2Listing::default()
    };
    let text = body_text(&p.respond(R2Outcome::Listing(listing)));
    assert!(
        text.contains("<Bucket>pub</Bucket><Key>dir/big</Key><UploadId>U1</UploadId>"),
        "{text}"
    );
    assert!(
        text.contains("<PartNumberMarker>2</PartNumberMarker><NextPartNumberMarker>4</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>"),
        "{text}"
    );
    assert!(
        text.contains("<Part><PartNumber>3</PartNumber><LastModified>2023-11-14T22:13:20.000Z</LastModified><ETag>&quot;e3&quot;</ETag><Size>5242880</Size></Part>"),
        "{text}"
    );
    assert!(
        text.contains("<Size>12</Size><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"),
        "{text}"
    );

    let Plan::Respond(r) = gateway().plan(
        &signed(Method::GET, "/pub/k?uploadId=U1&max-parts=x", &[]),
        &ctx(),
    ) else {
        panic!()
    };
    assert!(body_text(&r).contains("InvalidArgument"));
}

#[test]
fn list_multipart_uploads_rolls_up_prefixes_and_pages_with_key_and_upload_markers() {
    let p = plan_of(&signed(
        Method::GET,
        "/pub?uploads&prefix=d&delimiter=%2F&max-uploads=3",
        &[],
    ));
    assert_eq!(
        p.call,
        R2Call::ListUploads {
            prefix: "p/.multistore/uploads/d".into(),
            start_after: None,
            limit: 1000,
        }
    );
    let up = |key: &str, id: &str, initiated: &str| {
        record(
            &format!("p/.multistore/uploads/{key}\u{1}{id}"),
            &[("key", key), ("upload-id", id), ("initiated", initiated)],
        )
    };
    let listing = R2Listing {
        objects: vec![
            up("d", "B", "1700000000000"),
            up("d", "C", "1600000000000"),
            up("d/x", "A", "1700000000000"),
            up("d/y", "A", "1700000000000"),
            up("e", "A", "1700000000000"),
        ],
        ..R2Listing::default()
    };
    let text = body_text(&p.respond(R2Outcome::Listing(listing)));
    // One key's uploads by initiation time, then the rolled-up prefix; "e" did not fit.
    assert!(
        text.contains("<Upload><Key>d</Key><UploadId>C</UploadId><StorageClass>STANDARD</StorageClass><Initiated>2020-09-13T12:26:40.000Z</Initiated></Upload><Upload><Key>d</Key><UploadId>B</UploadId>"),
        "{text}"
    );
    assert!(
        text.contains(
            "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListMultipartUploadsResult>"
        ),
        "{text}"
    );
    assert!(
        text.contains("<NextKeyMarker>d/</NextKeyMarker><Delimiter>/</Delimiter><Prefix>d</Prefix><MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated>"),
        "{text}"
    );

    let p = plan_of(&signed(
        Method::GET,
        "/pub?uploads&prefix=d&delimiter=%2F&key-marker=d%2F",
        &[],
    ));
    let R2Call::ListUploads { start_after, .. } = &p.call else {
        panic!()
    };
    assert_eq!(
        start_after.as_deref(),
        Some(format!("p/.multistore/uploads/d/{}", char::MAX).as_str())
    );
    let p = plan_of(&signed(
        Method::GET,
        "/pub?uploads&key-marker=d&upload-id-marker=B&max-uploads=1",
        &[],
    ));
    assert_eq!(
        p.call,
        R2Call::ListUploads {
            prefix: "p/.multistore/uploads/".into(),
            start_after: Some("p/.multistore/uploads/d\u{1}B".into()),
            limit: 1,
        }
    );
    let listing = R2Listing {
        objects: vec![up("d/x", "A", "1700000000000")],
        truncated: true,
        ..R2Listing::default()
    };
    let text = body_text(&p.respond(R2Outcome::Listing(listing)));
    assert!(
        text.contains("<KeyMarker>d</KeyMarker><UploadIdMarker>B</UploadIdMarker><NextKeyMarker>d/x</NextKeyMarker><NextUploadIdMarker>A</NextUploadIdMarker>"),
        "{text}"
    );
    let p = plan_of(&signed(Method::GET, "/pub?uploads&key-marker=d", &[]));
    let R2Call::ListUploads { start_after, .. } = &p.call else {
        panic!()
    };
    assert_eq!(
        start_after.as_deref(),
        Some(format!("p/.multistore/uploads/d\u{1}{}", char::MAX).as_str())
    );
}

#[test]
fn the_reserved_prefix_is_refused_as_a_key_and_hidden_from_listings() {
    for (m, t) in [
        (Method::GET, "/pub/.multistore/uploads/x"),
        (Method::PUT, "/pub/.multistore/x"),
        (Method::POST, "/pub/.multistore/x?uploads"),
        (Method::GET, "/pub/.multistore/x?uploadId=U"),
        (Method::DELETE, "/pub/.multistore/x"),
    ] {
        let Plan::Respond(r) =
            gateway().plan(&signed(m.clone(), t, &[("content-length", "0")]), &ctx())
        else {
            panic!("{t}")
        };
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{m} {t}");
        assert!(body_text(&r).contains("reserved"), "{t}");
    }
    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/k",
            &[("x-amz-copy-source", "/other/.multistore/uploads/x")],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let g = gateway();
    let h = signed(Method::POST, "/pub?delete", &[]);
    let body = Bytes::from_static(
        b"<Delete><Object><Key>a</Key></Object><Object><Key>.multistore/uploads/a</Key></Object></Delete>",
    );
    let p = r2_plan(g.plan_with_body(&h, &ctx(), body));
    assert_eq!(
        p.call,
        R2Call::Delete {
            keys: vec!["p/a".into()]
        }
    );
    let text = body_text(&p.respond(R2Outcome::Deleted));
    assert!(
        text.contains("<Error><Key>.multistore/uploads/a</Key><Code>InvalidArgument</Code>"),
        "{text}"
    );

    // Records are never listed; a page that ends among them skips past all of them.
    let p = plan_of(&signed(Method::GET, "/pub?list-type=2&max-keys=3", &[]));
    let listing = R2Listing {
        objects: vec![
            object("p/-a", 1),
            object("p/.multistore/parts/U/00001", 0),
            object("p/.multistore/uploads/a\u{1}U", 0),
        ],
        truncated: true,
        cursor: Some("r2cursor".into()),
        ..R2Listing::default()
    };
    let text = body_text(&p.respond(R2Outcome::Listing(listing)));
    assert!(text.contains("<KeyCount>1</KeyCount>"), "{text}");
    assert!(!text.contains("multistore"), "{text}");
    let token = text
        .split("<NextContinuationToken>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    let target: &'static str =
        Box::leak(format!("/pub?list-type=2&continuation-token={token}").into_boxed_str());
    let p = plan_of(&signed(Method::GET, target, &[]));
    let R2Call::List {
        cursor,
        start_after,
        ..
    } = &p.call
    else {
        panic!()
    };
    assert_eq!(cursor, &None);
    assert_eq!(
        start_after.as_deref(),
        Some(format!("p/.multistore/{}", char::MAX).as_str())
    );

    // With a delimiter the records roll up into one prefix, which is dropped too.
    let p = plan_of(&signed(Method::GET, "/pub?delimiter=%2F", &[]));
    let listing = R2Listing {
        objects: vec![object("p/a", 1)],
        delimited_prefixes: vec!["p/.multistore/".into(), "p/d/".into()],
        ..R2Listing::default()
    };
    let text = body_text(&p.respond(R2Outcome::Listing(listing)));
    assert!(
        !text.contains("multistore") && text.contains("<Prefix>d/</Prefix>"),
        "{text}"
    );
}

#[test]
fn a_copy_within_one_binding_reads_the_source_and_renders_copy_object_result() {
    let p = plan_of(&signed(
        Method::PUT,
        "/pub/dst",
        &[("x-amz-copy-source", "/other/src%20file")],
    ));
    assert_eq!(
        p.call,
        R2Call::Copy {
            source_key: "src file".into(),
            key: "p/dst".into(),
            replace: None,
            source_conditions: Conditions::default()
        }
    );
    let text = body_text(&p.respond(R2Outcome::Put(object("p/dst", 1))));
    assert!(
        text.contains("<CopyObjectResult")
            && text.contains("<LastModified>2023-11-14T22:13:20.123Z</LastModified>"),
        "{text}"
    );
    assert_eq!(
        p.respond(R2Outcome::Missing).status(),
        StatusCode::NOT_FOUND
    );
    // From another binding, the gateway streams the copy (see gateway::copy).
    let Plan::Copy(mut c) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/dst",
            &[("x-amz-copy-source", "/elsewhere/src")],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert!(c.uses_r2());
    let crate::gateway::CopyStep::OpenR2(get) = c.start(Timestamp(1_700_000_000)) else {
        panic!()
    };
    assert_eq!((get.binding.as_str(), get.key.as_str()), ("ARCHIVE", "src"));
    // R2 is not versioned: a source version other than null is refused.
    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/dst",
            &[("x-amz-copy-source", "/elsewhere/src?versionId=v1")],
        ),
        &ctx(),
    ) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
}

#[test]
fn an_upload_part_copy_reads_the_source_range_into_the_part() {
    let p = plan_of(&signed(
        Method::PUT,
        "/pub/dst?partNumber=3&uploadId=U1",
        &[
            ("x-amz-copy-source", "/other/src%20file"),
            ("x-amz-copy-source-range", "bytes=5-14"),
            ("x-amz-copy-source-if-match", "\"abc\""),
        ],
    ));
    assert_eq!(
        p.call,
        R2Call::UploadPartCopy {
            source_key: "src file".into(),
            key: "p/dst".into(),
            upload_id: "U1".into(),
            part_number: 3,
            range: Some((5, 10)),
            source_conditions: Conditions {
                if_match: vec!["abc".into()],
                ..Conditions::default()
            },
        }
    );
    let ok = p.respond(R2Outcome::Part {
        etag: "0123abcd".into(),
        size: 10,
    });
    let text = body_text(&ok);
    assert!(
        text.contains("<CopyPartResult")
            && text.contains("<ETag>&quot;0123abcd&quot;</ETag>")
            && text.contains("<LastModified>2023-11-14T22:13:20.000Z</LastModified>"),
        "{text}"
    );
    assert_eq!(
        p.respond(R2Outcome::Missing).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        p.respond(R2Outcome::PreconditionFailed).status(),
        StatusCode::PRECONDITION_FAILED
    );
    let bad = p.respond(R2Outcome::InvalidCopyRange { size: 8 });
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(&bad).contains("<Code>InvalidArgument</Code>"));
    let thrown = p.failed("get: The requested range is not satisfiable (10039)");
    assert!(body_text(&thrown).contains("<Code>InvalidArgument</Code>"));
}

#[test]
fn copy_source_ranges_must_be_bytes_first_last() {
    assert_eq!(parse_copy_range("bytes=0-0").unwrap(), (0, 1));
    assert_eq!(parse_copy_range(" bytes=10-19 ").unwrap(), (10, 10));
    for bad in [
        "0-5",
        "bytes=5-",
        "bytes=-5",
        "bytes=9-3",
        "bytes=a-b",
        "bytes=0-1,2-3",
        "",
    ] {
        let err = parse_copy_range(bad).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{bad}");
    }
    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/dst?partNumber=1&uploadId=U",
            &[
                ("x-amz-copy-source", "/other/src"),
                ("x-amz-copy-source-range", "bytes=5-"),
            ],
        ),
        &ctx(),
    ) else {
        panic!("a bad range is answered directly")
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let Plan::Respond(r) = gateway().plan(
        &signed(
            Method::PUT,
            "/pub/dst?partNumber=1&uploadId=U",
            &[("x-amz-copy-source", "/elsewhere/src")],
        ),
        &ctx(),
    ) else {
        panic!("a source on another binding is answered directly")
    };
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
}

#[test]
fn binding_exceptions_become_s3_errors() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[]));
    assert_eq!(
        p.failed("get: Precondition Failed (10031)").status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        p.failed("get: The requested range is not satisfiable (10039)")
            .status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );
    let r = p.failed("something odd");
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(body_text(&r).contains("DATA"));
}

#[test]
fn an_outcome_that_does_not_fit_the_call_is_an_internal_error() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[]));
    assert_eq!(
        p.respond(R2Outcome::Aborted).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[test]
fn creating_an_r2_bucket_answers_already_owned_and_deleting_it_stays_not_implemented() {
    let Plan::Respond(r) = gateway().plan(&signed(Method::PUT, "/pub", &[]), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(body_text(&r).contains("BucketAlreadyOwnedByYou"));
    let Plan::Respond(r) = gateway().plan(&signed(Method::DELETE, "/pub", &[]), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
}

#[test]
fn a_runtime_without_bindings_answers_501_naming_the_binding() {
    let p = plan_of(&head(Method::GET, "/pub/k", &[]));
    let r = p.unsupported_runtime();
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(body_text(&r).contains("DATA"));
}

#[test]
fn hostile_r2_requests_never_panic() {
    let g = gateway();
    for (m, t, hs) in [
        (
            Method::GET,
            "/pub/k",
            vec![("range", "bytes=18446744073709551615-")],
        ),
        (
            Method::GET,
            "/pub/k",
            vec![("range", "bytes=-18446744073709551615")],
        ),
        (
            Method::GET,
            "/pub/k",
            vec![("if-modified-since", "garbage")],
        ),
        (Method::GET, "/pub/k", vec![("if-match", ",,,\"")]),
        (
            Method::GET,
            "/pub?list-type=2&max-keys=99999999999999999999",
            vec![],
        ),
        (Method::GET, "/pub?list-type=2&continuation-token=", vec![]),
        (Method::GET, "/pub/k?partNumber=2", vec![]),
        (Method::GET, "/pub/k?versionId=v1", vec![]),
    ] {
        let h = head(m, t, &hs);
        if let Plan::R2(p) = g.plan(&h, &ctx()) {
            for outcome in [
                R2Outcome::Object {
                    meta: object("p/k", 0),
                    has_body: true,
                },
                R2Outcome::Object {
                    meta: object("p/k", u64::MAX),
                    has_body: false,
                },
                R2Outcome::Listing(R2Listing {
                    truncated: true,
                    ..R2Listing::default()
                }),
                R2Outcome::Missing,
            ] {
                let _ = p.respond(outcome);
            }
            let _ = p.failed("");
            let _ = p.failed("((((");
        }
    }
}
