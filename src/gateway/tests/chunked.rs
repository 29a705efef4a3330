//! Uploads whose length is only in `x-amz-decoded-content-length`: an aws-chunked body sent with
//! `Transfer-Encoding: chunked` and no `Content-Length` (the AWS SDK for JavaScript v3 with a
//! stream body). The backend gets the plain, checked body with `Content-Length` = the decoded
//! length; a body that states no length at all stays 411.

use super::*;

fn chunked_gateway() -> Gateway {
    let text = format!(
        r#"
[[buckets]]
name = "data"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

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
bucket = "*"
actions = ["get_object", "put_object", "upload_part"]
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

/// What the JavaScript SDK v3 sends for `PutObject` with a stream body of `decoded` bytes.
fn js_stream_headers(decoded: &str) -> Vec<(&str, &str)> {
    vec![
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("content-encoding", "aws-chunked"),
        ("transfer-encoding", "chunked"),
        ("x-amz-decoded-content-length", decoded),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ]
}

/// `hello` framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER, with its CRC32 trailer.
const HELLO_FRAMED: &[u8] = b"3\r\nhel\r\n2\r\nlo\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";

fn refusal(g: &Gateway, h: &RequestHead) -> (u16, String) {
    let Plan::Respond(r) = g.plan(h, &ctx()) else {
        panic!("not refused")
    };
    let text = String::from_utf8_lossy(r.body()).into_owned();
    let code = text
        .split("<Code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
        .to_string();
    (r.status().as_u16(), code)
}

/// Streams `wire` through the forward's body check as a runtime does, `step` bytes a read.
fn run_body(body: ForwardBody, wire: &[u8], step: usize) -> Result<Vec<u8>, S3Error> {
    let mut check = body.into_check().expect("a checked body");
    let mut out = Vec::new();
    for piece in wire.chunks(step) {
        if let Some(b) = check.push(Bytes::copy_from_slice(piece))? {
            out.extend_from_slice(&b);
        }
    }
    if let Some(b) = check.finish()? {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

fn assert_plain_upload_of(f: &Forward, length: &str) {
    assert_eq!(f.headers["content-length"], length);
    for name in [
        "content-encoding",
        "transfer-encoding",
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-sdk-checksum-algorithm",
    ] {
        assert!(f.headers.get(name).is_none(), "{name} forwarded");
    }
}

#[test]
fn a_chunked_put_with_only_a_decoded_length_reaches_an_s3_backend_as_a_plain_body() {
    let g = chunked_gateway();
    let f = forward(&g, &signed("PUT", "/data/k", &js_stream_headers("5")));
    assert!(matches!(f.body, ForwardBody::Decode(_)), "{:?}", f.body);
    assert_plain_upload_of(&f, "5");
    assert_eq!(
        f.headers
            .get("x-amz-content-sha256")
            .map(|v| v.to_str().unwrap()),
        None,
        "a plain body is not announced as aws-chunked"
    );
    for step in [1, 4, HELLO_FRAMED.len()] {
        assert_eq!(
            run_body(
                forward(&g, &signed("PUT", "/data/k", &js_stream_headers("5"))).body,
                HELLO_FRAMED,
                step
            )
            .unwrap(),
            b"hello"
        );
    }
}

#[test]
fn a_chunked_upload_part_with_only_a_decoded_length_is_decoded_too() {
    let g = chunked_gateway();
    let f = forward(
        &g,
        &signed(
            "PUT",
            "/data/k?partNumber=1&uploadId=u1",
            &js_stream_headers("5"),
        ),
    );
    assert!(matches!(f.body, ForwardBody::Decode(_)));
    assert_plain_upload_of(&f, "5");
    assert_eq!(run_body(f.body, HELLO_FRAMED, 7).unwrap(), b"hello");
}

#[test]
fn a_chunked_put_with_a_content_length_still_reaches_an_s3_backend_framed() {
    let mut extra = js_stream_headers("5");
    extra.retain(|(k, _)| *k != "transfer-encoding");
    let wire = HELLO_FRAMED.len().to_string();
    extra.push(("content-length", &wire));
    let f = forward(&chunked_gateway(), &signed("PUT", "/data/k", &extra));
    assert!(matches!(f.body, ForwardBody::Stream));
    assert_eq!(f.headers["content-length"], wire.as_str());
    assert_eq!(f.headers["x-amz-decoded-content-length"], "5");
}

#[test]
fn a_signed_chunked_put_with_only_a_decoded_length_is_verified_and_decoded() {
    let f = forward(
        &chunked_gateway(),
        &signed(
            "PUT",
            "/data/k",
            &[
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("content-encoding", "aws-chunked"),
                ("transfer-encoding", "chunked"),
                ("x-amz-decoded-content-length", "66560"),
            ],
        ),
    );
    assert!(matches!(f.body, ForwardBody::Decode(_)));
    assert_plain_upload_of(&f, "66560");
}

#[test]
fn a_decoded_body_shorter_or_longer_than_declared_is_incomplete_and_never_released_whole() {
    let g = chunked_gateway();
    let f = forward(&g, &signed("PUT", "/data/k", &js_stream_headers("6")));
    let err = run_body(f.body, HELLO_FRAMED, 4).unwrap_err();
    assert_eq!(err.code, ErrorCode::IncompleteBody, "{err}");
    assert_eq!(err.code.status(), 400);
    let f = forward(&g, &signed("PUT", "/data/k", &js_stream_headers("4")));
    let err = run_body(f.body, HELLO_FRAMED, 4).unwrap_err();
    assert_eq!(err.code, ErrorCode::IncompleteBody, "{err}");
    // Whatever went out before the refusal is short of the declared length: with that
    // Content-Length the backend cannot complete an object from it.
    let f = forward(&g, &signed("PUT", "/data/k", &js_stream_headers("6")));
    let mut check = f.body.into_check().unwrap();
    let released = check
        .push(Bytes::from_static(HELLO_FRAMED))
        .unwrap()
        .map_or(0, |b| b.len());
    assert!(released < 6);
    assert!(check.finish().is_err());
}

#[test]
fn a_body_that_states_no_length_at_all_is_missing_content_length() {
    let g = chunked_gateway();
    // Plain chunked: no aws-chunked payload, no Content-Length.
    for target in [
        "/data/k",
        "/data/k?partNumber=1&uploadId=u1",
        "/az/k",
        "/r2/k",
    ] {
        let h = signed("PUT", target, &[("transfer-encoding", "chunked")]);
        assert_eq!(
            refusal(&g, &h),
            (411, "MissingContentLength".into()),
            "{target}"
        );
    }
    // aws-chunked without its decoded length.
    let mut extra = js_stream_headers("5");
    extra.retain(|(k, _)| *k != "x-amz-decoded-content-length");
    for target in [
        "/data/k",
        "/data/k?partNumber=1&uploadId=u1",
        "/az/k",
        "/r2/k",
    ] {
        let h = signed("PUT", target, &extra);
        assert_eq!(
            refusal(&g, &h),
            (411, "MissingContentLength".into()),
            "{target}"
        );
    }
    // A decoded length on a body that is not aws-chunked says nothing about its length.
    let h = signed(
        "PUT",
        "/data/k",
        &[
            ("transfer-encoding", "chunked"),
            ("x-amz-decoded-content-length", "5"),
        ],
    );
    assert_eq!(refusal(&g, &h), (411, "MissingContentLength".into()));
}

#[test]
fn a_decoded_length_that_is_not_one_decimal_number_is_an_invalid_argument() {
    let g = chunked_gateway();
    for bad in [
        "",
        "+5",
        "-1",
        " 5",
        "5 ",
        "0x10",
        "5,6",
        "1e3",
        "18446744073709551616",
    ] {
        let h = signed("PUT", "/data/k", &js_stream_headers(bad));
        assert_eq!(
            refusal(&g, &h),
            (400, "InvalidArgument".into()),
            "decoded length '{bad}'"
        );
    }
    let mut h = signed("PUT", "/data/k", &js_stream_headers("5")).headers;
    h.append(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("5"),
    );
    let err = UploadLength::from_headers(&h, &PayloadMode::StreamingUnsignedTrailer).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument, "{err}");
}

#[test]
fn a_decoded_length_over_five_gib_is_entity_too_large() {
    let g = chunked_gateway();
    let max = MAX_UPLOAD_LENGTH.to_string();
    let f = forward(&g, &signed("PUT", "/data/k", &js_stream_headers(&max)));
    assert_plain_upload_of(&f, &max);
    let over = (MAX_UPLOAD_LENGTH + 1).to_string();
    for target in ["/data/k", "/az/k", "/r2/k"] {
        let h = signed("PUT", target, &js_stream_headers(&over));
        assert_eq!(refusal(&g, &h), (400, "EntityTooLarge".into()), "{target}");
    }
}

#[test]
fn an_empty_chunked_put_with_only_a_decoded_length_decodes_to_nothing() {
    let f = forward(
        &chunked_gateway(),
        &signed("PUT", "/data/k", &js_stream_headers("0")),
    );
    assert_plain_upload_of(&f, "0");
    let wire = b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    assert_eq!(run_body(f.body, wire, 5).unwrap(), b"");
}

#[test]
fn a_chunked_put_with_only_a_decoded_length_reaches_azure_as_a_plain_body() {
    let f = forward(
        &chunked_gateway(),
        &signed("PUT", "/az/k", &js_stream_headers("5")),
    );
    assert!(matches!(f.body, ForwardBody::Decode(_)));
    assert_eq!(f.headers["content-length"], "5");
    assert_eq!(run_body(f.body, HELLO_FRAMED, 3).unwrap(), b"hello");
}

#[test]
fn a_chunked_put_with_only_a_decoded_length_reaches_r2_wrapped_to_that_length() {
    let Plan::R2(p) =
        chunked_gateway().plan(&signed("PUT", "/r2/k", &js_stream_headers("5")), &ctx())
    else {
        panic!("expected an R2 plan")
    };
    assert_eq!(p.content_length, Some(5));
    assert!(matches!(p.body, ForwardBody::Decode(_)));
}

#[test]
fn the_upload_length_is_the_content_length_or_for_aws_chunked_the_decoded_length() {
    let h = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    };
    let chunked = PayloadMode::StreamingUnsignedTrailer;
    let signed = PayloadMode::StreamingSigned { trailer: false };
    assert_eq!(
        UploadLength::from_headers(&h(&[("content-length", "7")]), &PayloadMode::Unsigned),
        Ok(UploadLength::Plain(7))
    );
    assert_eq!(
        UploadLength::from_headers(
            &h(&[
                ("content-length", "60"),
                ("x-amz-decoded-content-length", "5")
            ]),
            &chunked
        ),
        Ok(UploadLength::Chunked {
            wire: Some(60),
            decoded: 5
        })
    );
    assert_eq!(
        UploadLength::from_headers(&h(&[("x-amz-decoded-content-length", "5")]), &signed),
        Ok(UploadLength::Chunked {
            wire: None,
            decoded: 5
        })
    );
    let code = |headers: &[(&'static str, &'static str)], payload: &PayloadMode| {
        UploadLength::from_headers(&h(headers), payload)
            .unwrap_err()
            .code
    };
    assert_eq!(
        code(&[], &PayloadMode::Unsigned),
        ErrorCode::MissingContentLength
    );
    assert_eq!(
        code(
            &[("x-amz-decoded-content-length", "5")],
            &PayloadMode::Unsigned
        ),
        ErrorCode::MissingContentLength
    );
    assert_eq!(code(&[], &chunked), ErrorCode::MissingContentLength);
    assert_eq!(
        code(&[("content-length", "60")], &signed),
        ErrorCode::MissingContentLength
    );
    assert_eq!(
        code(&[("content-length", "x")], &chunked),
        ErrorCode::InvalidArgument
    );
}
