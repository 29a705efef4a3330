use std::sync::Arc;

use super::*;
use crate::backend::s3::S3Backend;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::s3::limits::DEFAULT_PART_SIZE;

const NOW: Timestamp = Timestamp(1_700_000_000);

fn backend(endpoint: &str, bucket: &str) -> Arc<S3Backend> {
    let text = format!(
        "[[buckets]]\nname = \"b\"\nbackend_type = \"s3\"\n[buckets.backend_options]\n\
         endpoint = \"{endpoint}\"\nbucket_name = \"{bucket}\"\naccess_key_id = \"K\"\n\
         secret_access_key = \"backend-secret-value\"\n"
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Arc::new(S3Backend::from_config(&config.buckets[0]).unwrap())
}

fn copy(target: Target, limits: CopyLimits) -> StreamedCopy {
    StreamedCopy {
        request_id: "REQ".into(),
        resource: "/dst/new".into(),
        cors: None,
        source: Endpoint {
            store: Store::S3 {
                backend: backend("http://src.test", "srcb"),
                bucket: None,
            },
            key: "p/old key".into(),
        },
        source_version: None,
        source_conditions: HeaderMap::new(),
        dest: Endpoint {
            store: Store::S3 {
                backend: backend("http://dst.test", "dstb"),
                bucket: None,
            },
            key: "new".into(),
        },
        target,
        limits,
        state: State::Opening,
        r2_range: None,
    }
}

fn r2_endpoint(binding: &str, key: &str) -> Endpoint {
    Endpoint {
        store: Store::R2 {
            binding: binding.into(),
        },
        key: key.into(),
    }
}

/// A copy from S3 into the R2 binding `DATA`.
fn into_r2(target: Target, limits: CopyLimits) -> StreamedCopy {
    let mut c = copy(target, limits);
    c.dest = r2_endpoint("DATA", "pre/new");
    c
}

/// A copy from the R2 binding `DATA` into S3.
fn from_r2(target: Target, limits: CopyLimits) -> StreamedCopy {
    let mut c = copy(target, limits);
    c.source = r2_endpoint("DATA", "pre/old");
    c
}

fn r2_object(size: u64) -> R2Object {
    R2Object {
        key: "pre/old".into(),
        size,
        etag: "e1".into(),
        http_etag: "\"e1\"".into(),
        uploaded_ms: 1_600_000_000_000,
        http: HttpMetadata {
            content_type: Some("text/csv".into()),
            cache_control: Some("max-age=60".into()),
            ..HttpMetadata::default()
        },
        custom: vec![("colour".into(), "blue".into())],
        range: None,
    }
}

fn r2_opened(size: u64) -> CopyEvent {
    CopyEvent::R2(R2Outcome::Object {
        meta: r2_object(size),
        has_body: true,
    })
}

fn object(metadata: Option<HeaderMap>) -> Target {
    Target::Object {
        metadata,
        headers: HeaderMap::new(),
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn opened(status: u16, pairs: &[(&'static str, &str)]) -> CopyEvent {
    CopyEvent::Opened {
        status: StatusCode::from_u16(status).unwrap(),
        headers: headers(pairs),
    }
}

fn answer(status: u16, pairs: &[(&'static str, &str)], body: &str) -> CopyEvent {
    CopyEvent::Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers: headers(pairs),
        body: Bytes::from(body.to_string()),
    }
}

fn done(step: CopyStep) -> Response<Bytes> {
    match step {
        CopyStep::Done(r) => r,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn text(resp: &Response<Bytes>) -> String {
    String::from_utf8(resp.body().to_vec()).unwrap()
}

const SMALL: CopyLimits = CopyLimits {
    multipart_threshold: 10 << 20,
    part_size: 5 << 20,
};

#[test]
fn a_small_object_is_one_get_piped_into_one_put_carrying_the_source_metadata() {
    let mut c = copy(object(None), CopyLimits::default());
    let CopyStep::Open(get) = c.start(NOW) else {
        panic!()
    };
    assert_eq!(get.method, Method::GET);
    assert!(
        get.url.starts_with("http://src.test/srcb/p/old%20key?"),
        "{}",
        get.url
    );
    let step = c.advance(
        opened(
            200,
            &[
                ("content-length", "10"),
                ("content-type", "text/csv"),
                ("content-encoding", "gzip, aws-chunked"),
                ("x-amz-meta-colour", "blue"),
                ("etag", "\"abc\""),
                ("server", "backend"),
            ],
        ),
        NOW,
    );
    let CopyStep::Pipe(put) = step else {
        panic!("{step:?}")
    };
    assert_eq!(put.method, Method::PUT);
    assert!(
        put.url.starts_with("http://dst.test/dstb/new?"),
        "{}",
        put.url
    );
    assert_eq!(put.headers["content-length"], "10");
    assert_eq!(put.headers["content-type"], "text/csv");
    assert_eq!(put.headers["content-encoding"], "gzip");
    assert_eq!(put.headers["x-amz-meta-colour"], "blue");
    assert!(!put.headers.contains_key("server") && !put.headers.contains_key("etag"));
    let resp = done(c.advance(answer(200, &[("etag", "\"def\"")], ""), NOW));
    assert_eq!(resp.status(), StatusCode::OK);
    let body = text(&resp);
    assert!(body.contains("<CopyObjectResult"), "{body}");
    assert!(body.contains("<ETag>&quot;def&quot;</ETag>"), "{body}");
    assert!(body.contains("<LastModified>2023-11-14T22:13:20.000Z</LastModified>"));
    assert_eq!(resp.headers()["x-amz-request-id"], "REQ");
}

#[test]
fn the_replace_directive_takes_the_requests_metadata_instead_of_the_sources() {
    let mut c = copy(
        object(Some(headers(&[("content-type", "application/json")]))),
        CopyLimits::default(),
    );
    c.start(NOW);
    let step = c.advance(
        opened(
            200,
            &[
                ("content-length", "3"),
                ("content-type", "text/csv"),
                ("x-amz-meta-colour", "blue"),
            ],
        ),
        NOW,
    );
    let CopyStep::Pipe(put) = step else { panic!() };
    assert_eq!(put.headers["content-type"], "application/json");
    assert!(!put.headers.contains_key("x-amz-meta-colour"));
}

#[test]
fn source_conditions_and_versions_go_on_the_source_get() {
    let mut c = copy(object(None), CopyLimits::default());
    c.source_conditions = source_conditions(&headers(&[
        ("x-amz-copy-source-if-match", "\"abc\""),
        (
            "x-amz-copy-source-if-modified-since",
            "Tue, 14 Nov 2023 00:00:00 GMT",
        ),
    ]));
    c.source_version = Some("v1".into());
    let CopyStep::Open(get) = c.start(NOW) else {
        panic!()
    };
    assert_eq!(get.headers["if-match"], "\"abc\"");
    assert_eq!(
        get.headers["if-modified-since"],
        "Tue, 14 Nov 2023 00:00:00 GMT"
    );
    assert!(get.url.contains("versionId=v1"), "{}", get.url);
}

#[test]
fn a_failed_source_condition_or_missing_source_is_the_clients_error() {
    for (status, code, http) in [
        (412, "PreconditionFailed", 412),
        (304, "PreconditionFailed", 412),
        (404, "NoSuchKey", 404),
        (403, "BadGateway", 502),
        (500, "BadGateway", 502),
    ] {
        let mut c = copy(object(None), CopyLimits::default());
        c.start(NOW);
        let resp = done(c.advance(opened(status, &[]), NOW));
        assert_eq!(resp.status().as_u16(), http, "{status}");
        assert!(
            text(&resp).contains(&format!("<Code>{code}</Code>")),
            "{status}"
        );
        assert!(text(&resp).contains("<Resource>/dst/new</Resource>"));
    }
}

#[test]
fn a_destination_refusal_is_told_with_its_code() {
    let mut c = copy(object(None), CopyLimits::default());
    c.start(NOW);
    c.advance(opened(200, &[("content-length", "3")]), NOW);
    let resp = done(c.advance(
        answer(
            412,
            &[],
            "<Error><Code>PreconditionFailed</Code><Message>m</Message></Error>",
        ),
        NOW,
    ));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert!(text(&resp).contains("<Code>PreconditionFailed</Code>"));
}

#[test]
fn a_source_that_breaks_off_during_a_single_put_is_a_bad_gateway() {
    let mut c = copy(object(None), CopyLimits::default());
    c.start(NOW);
    c.advance(opened(200, &[("content-length", "3")]), NOW);
    let resp = done(c.advance(CopyEvent::Failed("connection reset".into()), NOW));
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(text(&resp).contains("could not be reached or its answer failed"));
}

#[test]
fn a_transport_error_naming_the_backend_stays_in_the_log_and_the_timeout_is_told() {
    let mut c = copy(object(None), CopyLimits::default());
    c.start(NOW);
    c.advance(opened(200, &[("content-length", "3")]), NOW);
    let resp = done(c.advance(
        CopyEvent::Failed(
            "error sending request for url (http://10.1.2.3:9000/bk/k?X-Amz-Signature=abc)".into(),
        ),
        NOW,
    ));
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let body = text(&resp);
    assert!(
        !body.contains("10.1.2.3") && !body.contains("Signature"),
        "{body}"
    );
    let mut c = copy(object(None), CopyLimits::default());
    c.start(NOW);
    let resp = done(c.advance(
        CopyEvent::Failed("the backend did not answer within 30 seconds".into()),
        NOW,
    ));
    assert!(text(&resp).contains("did not answer within 30 seconds"));
}

/// Runs a multipart copy of a 12 MiB object with 5 MiB parts up to the Complete.
fn multipart_until_complete(c: &mut StreamedCopy) -> Forward {
    c.start(NOW);
    let size = (12u64 << 20).to_string();
    let step = c.advance(
        opened(
            200,
            &[
                ("content-length", &size),
                ("etag", "\"src\""),
                ("x-amz-meta-a", "1"),
            ],
        ),
        NOW,
    );
    let CopyStep::Send(create) = step else {
        panic!("{step:?}")
    };
    assert_eq!(create.method, Method::POST);
    assert!(create.url.contains("uploads="), "{}", create.url);
    assert_eq!(create.headers["x-amz-meta-a"], "1");
    let mut step = c.advance(
        answer(
            200,
            &[],
            "<InitiateMultipartUploadResult><Bucket>dstb</Bucket><Key>new</Key><UploadId>U&amp;1</UploadId></InitiateMultipartUploadResult>",
        ),
        NOW,
    );
    let ranges = [
        (0u64, (5u64 << 20) - 1),
        (5 << 20, (10 << 20) - 1),
        (10 << 20, (12 << 20) - 1),
    ];
    for (n, (a, b)) in ranges.iter().enumerate() {
        let CopyStep::Open(get) = step else {
            panic!("{step:?}")
        };
        assert_eq!(get.headers["range"], format!("bytes={a}-{b}"));
        assert_eq!(get.headers["if-match"], "\"src\"");
        let len = (b - a + 1).to_string();
        let CopyStep::Pipe(put) = c.advance(opened(206, &[("content-length", &len)]), NOW) else {
            panic!()
        };
        assert!(
            put.url.contains(&format!("partNumber={}", n + 1)),
            "{}",
            put.url
        );
        assert!(put.url.contains("uploadId=U%261"), "{}", put.url);
        assert_eq!(put.headers["content-length"], len.as_str());
        let etag = format!("\"e{}\"", n + 1);
        step = c.advance(answer(200, &[("etag", &etag)], ""), NOW);
    }
    let CopyStep::Send(complete) = step else {
        panic!("{step:?}")
    };
    complete
}

#[test]
fn a_large_object_is_copied_in_ranged_parts_pinned_to_the_sources_etag() {
    let mut c = copy(object(None), SMALL);
    let complete = multipart_until_complete(&mut c);
    assert_eq!(complete.method, Method::POST);
    let ForwardBody::Bytes(body) = &complete.body else {
        panic!()
    };
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("<Part><PartNumber>3</PartNumber><ETag>&quot;e3&quot;</ETag></Part>"));
    let resp = done(c.advance(
        answer(
            200,
            &[],
            "<CompleteMultipartUploadResult><ETag>&quot;m-3&quot;</ETag></CompleteMultipartUploadResult>",
        ),
        NOW,
    ));
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(text(&resp).contains("<ETag>&quot;m-3&quot;</ETag>"));
}

#[test]
fn a_complete_that_answers_200_with_an_error_aborts_the_upload() {
    let mut c = copy(object(None), SMALL);
    multipart_until_complete(&mut c);
    let step = c.advance(
        answer(
            200,
            &[],
            "<Error><Code>InternalError</Code><Message>boom</Message></Error>",
        ),
        NOW,
    );
    let CopyStep::Send(abort) = step else {
        panic!("{step:?}")
    };
    assert_eq!(abort.method, Method::DELETE);
    let resp = done(c.advance(answer(204, &[], ""), NOW));
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text(&resp).contains("<Code>InternalError</Code>"));
}

#[test]
fn a_part_that_fails_aborts_the_upload_and_answers_the_failure() {
    let mut c = copy(object(None), SMALL);
    c.start(NOW);
    let size = (12u64 << 20).to_string();
    c.advance(
        opened(200, &[("content-length", &size), ("etag", "\"src\"")]),
        NOW,
    );
    c.advance(
        answer(
            200,
            &[],
            "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>",
        ),
        NOW,
    );
    // The source changed between the first GET and the first part.
    let step = c.advance(opened(412, &[]), NOW);
    let CopyStep::Send(abort) = step else {
        panic!("{step:?}")
    };
    assert_eq!(abort.method, Method::DELETE);
    assert!(abort.url.contains("uploadId=U"));
    let resp = done(c.advance(CopyEvent::Failed("abort failed too".into()), NOW));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn upload_part_copy_reads_the_range_and_writes_the_clients_part() {
    let mut c = copy(
        Target::Part {
            part_number: "2".into(),
            upload_id: "UP".into(),
            range: Some((5, 14)),
        },
        CopyLimits::default(),
    );
    let CopyStep::Open(get) = c.start(NOW) else {
        panic!()
    };
    assert_eq!(get.headers["range"], "bytes=5-14");
    let CopyStep::Pipe(put) = c.advance(opened(206, &[("content-length", "10")]), NOW) else {
        panic!()
    };
    assert!(put.url.contains("partNumber=2") && put.url.contains("uploadId=UP"));
    let resp = done(c.advance(answer(200, &[("etag", "\"p2\"")], ""), NOW));
    assert!(text(&resp).contains("<CopyPartResult"));
    assert!(text(&resp).contains("<ETag>&quot;p2&quot;</ETag>"));
}

#[test]
fn a_source_backend_that_ignores_the_range_fails_the_part_copy() {
    let mut c = copy(
        Target::Part {
            part_number: "1".into(),
            upload_id: "UP".into(),
            range: Some((0, 9)),
        },
        CopyLimits::default(),
    );
    c.start(NOW);
    let resp = done(c.advance(opened(200, &[("content-length", "100")]), NOW));
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
}

#[test]
fn copy_source_ranges_are_parsed_strictly() {
    assert_eq!(parse_copy_range("bytes=0-9").unwrap(), (0, 9));
    for bad in ["bytes=9-0", "0-9", "bytes=-9", "bytes=0-", "bytes=a-b"] {
        assert!(parse_copy_range(bad).is_err(), "{bad}");
    }
    assert!(parse_copy_range(&format!("bytes=0-{}", 5u64 << 30)).is_err());
}

#[test]
fn part_sizes_grow_so_the_largest_object_fits_in_ten_thousand_parts() {
    assert_eq!(part_size_for(1 << 30, DEFAULT_PART_SIZE), DEFAULT_PART_SIZE);
    let five_tib = 5u64 << 40;
    let size = part_size_for(five_tib, DEFAULT_PART_SIZE);
    assert!(five_tib.div_ceil(size) <= MAX_PARTS);
    assert_eq!(size % (1 << 20), 0);
}

#[test]
fn a_copy_into_r2_reads_s3_and_puts_into_the_binding_with_the_source_metadata() {
    let mut c = into_r2(object(None), SMALL);
    assert!(c.uses_r2());
    let CopyStep::Open(get) = c.start(NOW) else {
        panic!()
    };
    assert!(get.url.starts_with("http://src.test/srcb/p/old%20key?"));
    let step = c.advance(
        opened(
            200,
            &[
                ("content-length", "20971520"),
                ("content-type", "text/csv"),
                ("cache-control", "no-cache"),
                ("x-amz-meta-colour", "blue"),
                ("etag", "\"abc\""),
            ],
        ),
        NOW,
    );
    // Above the multipart threshold, still one put: R2 takes up to 5 GiB in one.
    let CopyStep::PipeR2(put) = step else {
        panic!("{step:?}")
    };
    assert_eq!(put.binding, "DATA");
    assert_eq!(put.key, "pre/new");
    assert_eq!(put.length, 20 << 20);
    assert_eq!(put.http.content_type.as_deref(), Some("text/csv"));
    assert_eq!(put.http.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(put.custom, vec![("colour".to_string(), "blue".to_string())]);
    assert_eq!(put.conditions, Conditions::default());
    let mut meta = r2_object(20 << 20);
    meta.etag = "new1".into();
    meta.http_etag = String::new();
    let resp = done(c.advance(CopyEvent::R2(R2Outcome::Put(meta)), NOW));
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        text(&resp).contains("<ETag>&quot;new1&quot;</ETag>"),
        "{}",
        text(&resp)
    );
}

#[test]
fn a_copy_into_r2_with_replace_takes_the_requests_metadata_and_conditions() {
    let target = Target::Object {
        metadata: Some(headers(&[
            ("content-type", "image/png"),
            ("x-amz-meta-shape", "round"),
        ])),
        headers: headers(&[("if-none-match", "*")]),
    };
    let mut c = into_r2(target, SMALL);
    c.start(NOW);
    let step = c.advance(
        opened(
            200,
            &[("content-length", "0"), ("x-amz-meta-colour", "blue")],
        ),
        NOW,
    );
    let CopyStep::PipeR2(put) = step else {
        panic!("{step:?}")
    };
    assert_eq!(put.length, 0);
    assert_eq!(put.http.content_type.as_deref(), Some("image/png"));
    assert_eq!(put.custom, vec![("shape".to_string(), "round".to_string())]);
    assert_eq!(put.conditions.if_none_match, vec!["*".to_string()]);
    // The binding refused the put (its onlyIf failed): 412, nothing written.
    let resp = done(c.advance(CopyEvent::R2(R2Outcome::PreconditionFailed), NOW));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert!(text(&resp).contains("<Code>PreconditionFailed</Code>"));
}

#[test]
fn a_copy_into_r2_above_5_gib_is_refused_as_too_large() {
    let mut c = into_r2(object(None), CopyLimits::default());
    c.start(NOW);
    let size = (MAX_SINGLE_PUT + 1).to_string();
    let resp = done(c.advance(opened(200, &[("content-length", &size)]), NOW));
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(text(&resp).contains("<Code>EntityTooLarge</Code>"));
}

#[test]
fn an_upload_part_copy_into_r2_from_elsewhere_is_not_implemented() {
    let target = Target::Part {
        part_number: "1".into(),
        upload_id: "U".into(),
        range: None,
    };
    let mut c = into_r2(target, SMALL);
    c.start(NOW);
    let resp = done(c.advance(opened(200, &[("content-length", "3")]), NOW));
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
}

#[test]
fn a_copy_from_r2_gets_from_the_binding_with_the_source_conditions_and_puts_into_s3() {
    let mut c = from_r2(object(None), SMALL);
    c.source_conditions = headers(&[("if-match", "\"e1\"")]);
    let CopyStep::OpenR2(get) = c.start(NOW) else {
        panic!()
    };
    assert_eq!(get.binding, "DATA");
    assert_eq!(get.key, "pre/old");
    assert_eq!(get.range, None);
    assert_eq!(get.conditions.if_match, vec!["e1".to_string()]);
    let step = c.advance(r2_opened(10), NOW);
    let CopyStep::Pipe(put) = step else {
        panic!("{step:?}")
    };
    assert!(
        put.url.starts_with("http://dst.test/dstb/new?"),
        "{}",
        put.url
    );
    assert_eq!(put.headers["content-length"], "10");
    assert_eq!(put.headers["content-type"], "text/csv");
    assert_eq!(put.headers["cache-control"], "max-age=60");
    assert_eq!(put.headers["x-amz-meta-colour"], "blue");
    let resp = done(c.advance(answer(200, &[("etag", "\"d\"")], ""), NOW));
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn a_copy_from_a_missing_or_unmatched_r2_source_answers_404_or_412() {
    let mut c = from_r2(object(None), SMALL);
    c.start(NOW);
    let resp = done(c.advance(CopyEvent::R2(R2Outcome::Missing), NOW));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(text(&resp).contains("<Code>NoSuchKey</Code>"));

    let mut c = from_r2(object(None), SMALL);
    c.start(NOW);
    let unmatched = CopyEvent::R2(R2Outcome::Object {
        meta: r2_object(10),
        has_body: false,
    });
    let resp = done(c.advance(unmatched, NOW));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn a_large_copy_from_r2_reads_each_part_as_a_range_pinned_to_the_etag() {
    let mut c = from_r2(object(None), SMALL);
    c.start(NOW);
    let size = 12 << 20;
    let step = c.advance(r2_opened(size), NOW);
    let CopyStep::Send(create) = step else {
        panic!("{step:?}")
    };
    assert!(create.url.contains("uploads"));
    let step = c.advance(
        answer(
            200,
            &[],
            "<InitiateMultipartUploadResult><UploadId>U1</UploadId></InitiateMultipartUploadResult>",
        ),
        NOW,
    );
    let CopyStep::OpenR2(get) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        get.range,
        Some(R2Range::Bounded {
            offset: 0,
            length: Some(5 << 20)
        })
    );
    assert_eq!(get.conditions.if_match, vec!["e1".to_string()]);
    let step = c.advance(r2_opened(size), NOW);
    let CopyStep::Pipe(part) = step else {
        panic!("{step:?}")
    };
    assert_eq!(part.headers["content-length"], (5u64 << 20).to_string());
    // The source was replaced meanwhile: the part's get fails its condition; the upload is
    // aborted and the copy fails.
    let step = c.advance(answer(200, &[("etag", "\"p1\"")], ""), NOW);
    let CopyStep::OpenR2(_) = step else {
        panic!("{step:?}")
    };
    let step = c.advance(
        CopyEvent::R2(R2Outcome::Object {
            meta: r2_object(size),
            has_body: false,
        }),
        NOW,
    );
    let CopyStep::Send(abort) = step else {
        panic!("{step:?}")
    };
    assert_eq!(abort.method, Method::DELETE);
    let resp = done(c.advance(answer(204, &[], ""), NOW));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn an_upload_part_copy_from_r2_reads_the_range_and_past_the_end_is_invalid_range() {
    let target = || Target::Part {
        part_number: "2".into(),
        upload_id: "U".into(),
        range: Some((4, 7)),
    };
    let mut c = from_r2(target(), SMALL);
    let CopyStep::OpenR2(get) = c.start(NOW) else {
        panic!()
    };
    assert_eq!(
        get.range,
        Some(R2Range::Bounded {
            offset: 4,
            length: Some(4)
        })
    );
    let step = c.advance(r2_opened(10), NOW);
    let CopyStep::Pipe(put) = step else {
        panic!("{step:?}")
    };
    assert_eq!(put.headers["content-length"], "4");
    assert!(put.url.contains("partNumber=2"));

    let mut c = from_r2(target(), SMALL);
    c.start(NOW);
    let resp = done(c.advance(r2_opened(6), NOW));
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[test]
fn a_copy_between_two_r2_bindings_gets_from_one_and_puts_into_the_other() {
    let mut c = from_r2(object(None), SMALL);
    c.dest = r2_endpoint("OTHER", "new");
    let CopyStep::OpenR2(_) = c.start(NOW) else {
        panic!()
    };
    let step = c.advance(r2_opened(3), NOW);
    let CopyStep::PipeR2(put) = step else {
        panic!("{step:?}")
    };
    assert_eq!(put.binding, "OTHER");
    assert_eq!(put.length, 3);
    assert_eq!(put.http.content_type.as_deref(), Some("text/csv"));
    assert_eq!(put.custom, vec![("colour".to_string(), "blue".to_string())]);
}

#[test]
fn an_s3_to_s3_copy_does_not_use_r2() {
    assert!(!copy(object(None), SMALL).uses_r2());
}
