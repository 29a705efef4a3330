use http::{HeaderName, HeaderValue, StatusCode};

use crate::auth::sigv4::tests::{header_signed, SECRET};
use crate::auth::PayloadMode;
use crate::config::ConfigFormat;
use crate::policy::Action;
use crate::s3::ErrorCode;

use super::*;
use crate::backend::upload::{UploadLength, MAX_UPLOAD_LENGTH};
use crate::plan::MAX_TAGGING_BODY;
use crate::time::Timestamp;

const CONFIG: &str = r#"
[[buckets]]
name = "pub"
backend_type = "s3"
anonymous_access = true
backend_prefix = "p/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[credentials]]
access_key_id = "AKID"
secret_access_key = "client-secret-value"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "put_object", "list_bucket", "delete_object"]
"#;

fn gateway() -> Gateway {
    let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

pub(super) fn ctx() -> RequestContext {
    RequestContext {
        now: Timestamp(1_700_000_000),
        request_id: "REQ".into(),
    }
}

pub(super) fn head(method: Method, target: &str) -> RequestHead {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static("gw.test"));
    RequestHead {
        method,
        target: target.into(),
        headers,
    }
}

/// A request header-signed with the test credential `AKIDEXAMPLE` at [`ctx`]'s time.
fn signed(method: &str, target: &str, extra: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        target: target.into(),
        headers: header_signed(method, target, SECRET, ctx().now, "us-east-1", extra),
    }
}

/// The gateway's own refusal: asserts its status and `<Code>`, returns the body.
fn refused(plan: Plan, status: u16, code: &str) -> String {
    let Plan::Respond(r) = plan else {
        panic!("not refused: {plan:?}")
    };
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert_eq!(r.status().as_u16(), status, "{body}");
    assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
    body
}

/// The backend request of a plan that forwards (panics with the answer otherwise).
fn forwarded(plan: Plan) -> Box<Forward> {
    match plan {
        Plan::Forward(f) => f,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    }
}

/// The forwarded query without the backend's own signature parameters, sorted.
fn params(f: &Forward) -> Vec<String> {
    let query = f.url.split_once('?').map_or("", |(_, q)| q);
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("X-Amz-"))
        .map(str::to_string)
        .collect();
    params.sort_unstable();
    params
}

#[test]
fn sigv2_can_be_switched_off_in_config() {
    let text = format!("allow_sigv2 = false\n{CONFIG}");
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    let g = Gateway::new(config, GatewayOptions::default()).unwrap();
    let mut h = head(Method::GET, "/pub/k");
    h.headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("AWS AKID:c2ln"),
    );
    let Plan::Respond(r) = g.plan(&h, &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(r.body()).contains("SigV2 is turned off"));
}

#[test]
fn gateway_debug_output_never_shows_a_secret() {
    let dbg = format!("{:?}", gateway());
    assert!(
        !dbg.contains("backend-secret-value") && !dbg.contains("client-secret-value"),
        "{dbg}"
    );
}

#[test]
fn anonymous_get_is_forwarded_presigned_under_the_backend_prefix() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/a%20b.txt"), &ctx()) else {
        panic!()
    };
    assert!(
        f.url
            .starts_with("http://127.0.0.1:9000/backend/p/a%20b.txt?"),
        "{}",
        f.url
    );
    assert!(f
        .url
        .contains("X-Amz-Credential=BACKENDKEY%2F20231114%2Fus-east-1%2Fs3%2Faws4_request"));
    assert!(matches!(f.body, ForwardBody::Empty));
    assert_eq!(f.response_mode(StatusCode::OK), ResponseMode::Stream);
    assert!(matches!(
        f.response_mode(StatusCode::NOT_FOUND),
        ResponseMode::Buffer { .. }
    ));
}

#[test]
fn listing_without_a_prefix_is_confined_to_the_backend_prefix_and_rewritten() {
    let Plan::Forward(f) = gateway().plan(
        &head(Method::GET, "/pub?list-type=2&encoding-type=url"),
        &ctx(),
    ) else {
        panic!()
    };
    assert!(f.url.contains("prefix=p%2F"), "{}", f.url);
    assert!(!f.url.contains("encoding-type"), "{}", f.url);
    assert!(matches!(
        f.response_mode(StatusCode::OK),
        ResponseMode::Buffer { .. }
    ));
    let body = Bytes::from_static(b"<ListBucketResult><Name>backend</Name><Contents><Key>p/k</Key></Contents></ListBucketResult>");
    let resp = f.buffered_response(StatusCode::OK, &HeaderMap::new(), body, Timing::default());
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(
        text.contains("<Name>pub</Name><EncodingType>url</EncodingType>")
            && text.contains("<Key>k</Key>"),
        "{text}"
    );
    assert_eq!(resp.headers()["x-amz-request-id"], "REQ");
}

#[test]
fn a_backend_prefix_without_a_slash_is_a_folder_for_keys_and_listings() {
    // multistore 0.7: `backend_prefix = "x"` means the folder `x/`, never `x` glued to keys.
    let config = CONFIG.replace(r#"backend_prefix = "p/""#, r#"backend_prefix = "x""#);
    let config = GatewayConfig::parse(&config, ConfigFormat::Toml).unwrap();
    let g = Gateway::new(config, GatewayOptions::default()).unwrap();
    let Plan::Forward(f) = g.plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    assert!(
        f.url.starts_with("http://127.0.0.1:9000/backend/x/k?"),
        "{}",
        f.url
    );
    let Plan::Forward(f) = g.plan(&head(Method::GET, "/pub?list-type=2&prefix=d"), &ctx()) else {
        panic!()
    };
    assert!(f.url.contains("prefix=x%2Fd"), "{}", f.url);
    let body = Bytes::from_static(
            b"<ListBucketResult><Name>backend</Name><Prefix>x/d</Prefix><Contents><Key>x/d/k</Key></Contents></ListBucketResult>",
        );
    let resp = f.buffered_response(StatusCode::OK, &HeaderMap::new(), body, Timing::default());
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(
        text.contains("<Prefix>d</Prefix>") && text.contains("<Key>d/k</Key>"),
        "{text}"
    );
}

#[test]
fn backend_auth_errors_become_bad_gateway_and_other_errors_keep_their_code() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    let denied = Bytes::from_static(
        b"<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>",
    );
    let resp = f.buffered_response(
        StatusCode::FORBIDDEN,
        &HeaderMap::new(),
        denied,
        Timing::default(),
    );
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    let missing =
        Bytes::from_static(b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
    let resp = f.buffered_response(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        missing,
        Timing::default(),
    );
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(
        text.contains("<Code>NoSuchKey</Code>") && text.contains("<Resource>/pub/k</Resource>"),
        "{text}"
    );
    assert!(text.contains("<RequestId>REQ</RequestId>"));
}

#[test]
fn backend_error_messages_that_name_the_backend_are_withheld() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    let answer = |message: &str| {
        let doc = format!("<Error><Code>NoSuchKey</Code><Message>{message}</Message></Error>");
        let resp = f.buffered_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            Bytes::from(doc),
            Timing::default(),
        );
        String::from_utf8(resp.body().to_vec()).unwrap()
    };
    for leaky in [
        "key p/k not found in bucket backend",
        "see http://127.0.0.1:9000/backend/p/k",
        "127.0.0.1 says no",
    ] {
        let text = answer(leaky);
        assert!(
            text.contains("<Code>NoSuchKey</Code>")
                && !text.contains("backend</")
                && !text.contains("127.0.0.1")
                && text.contains("The storage backend refused the request."),
            "{text}"
        );
    }
    assert!(answer("The specified key does not exist.")
        .contains("<Message>The specified key does not exist.</Message>"));
    let failed = f.backend_failed(
        "error sending request for url (http://127.0.0.1:9000/backend/p/k?X-Amz-Signature=abc)",
        Timing::default(),
    );
    let text = String::from_utf8(failed.body().to_vec()).unwrap();
    assert!(
        text.contains("<Code>BadGateway</Code>") && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[test]
fn a_bare_backend_503_stays_a_503_and_other_bare_5xx_become_502() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    for (status, expected, code) in [
        (503, 503, "ServiceUnavailable"),
        (500, 502, "BadGateway"),
        (502, 502, "BadGateway"),
    ] {
        let resp = f.buffered_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            Bytes::new(),
            Timing::default(),
        );
        assert_eq!(resp.status().as_u16(), expected, "{status}");
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
        assert!(text.contains("<RequestId>REQ</RequestId>"), "{text}");
    }
    let slow_down = Bytes::from_static(
        b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    );
    let resp = f.buffered_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        slow_down,
        Timing::default(),
    );
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(resp.body()).contains("<Code>SlowDown</Code>"));
}

#[test]
fn a_backend_that_does_not_answer_in_time_is_a_504_gateway_timeout() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    let resp = f.backend_timed_out(Duration::from_secs(30), Timing::default());
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(
        text.contains("<Code>GatewayTimeout</Code>") && text.contains("30 seconds"),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1"), "the backend is named: {text}");
    assert_eq!(resp.headers()["x-amz-request-id"], "REQ");
}

#[test]
fn backend_timeouts_are_positive_seconds_up_to_an_hour() {
    assert_eq!(parse_backend_timeout("30"), Ok(Duration::from_secs(30)));
    assert_eq!(
        parse_backend_timeout(" 2.5 "),
        Ok(Duration::from_millis(2500))
    );
    assert_eq!(parse_backend_timeout("3600"), Ok(Duration::from_secs(3600)));
    for bad in ["0", "-1", "3601", "soon", "", "NaN", "inf"] {
        assert!(parse_backend_timeout(bad).is_err(), "{bad}");
    }
}

#[test]
fn backend_identifying_and_hop_by_hop_headers_are_filtered() {
    let Plan::Forward(f) = gateway().plan(&head(Method::GET, "/pub/k"), &ctx()) else {
        panic!()
    };
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("server", "SeaweedFS"),
        ("x-amz-request-id", "BACKEND"),
        ("x-amz-id-2", "x"),
        ("connection", "keep-alive"),
        ("etag", "\"e\""),
        ("x-amz-meta-a", "1"),
        ("content-encoding", "aws-chunked"),
    ] {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    let (_, out) = f.response_head(StatusCode::OK, &h, Timing::default());
    assert_eq!(out["x-amz-request-id"], "REQ");
    assert!(
        out.get("server").is_none()
            && out.get("x-amz-id-2").is_none()
            && out.get("connection").is_none()
    );
    assert!(out.get("content-encoding").is_none());
    assert_eq!(out["etag"], "\"e\"");
    assert_eq!(out["x-amz-meta-a"], "1");
    assert!(out.get("server-timing").is_some());
}

#[test]
fn unknown_buckets_and_unauthorized_writes_are_answered_directly() {
    let Plan::Respond(r) = gateway().plan(&head(Method::GET, "/nope/k"), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let Plan::Respond(r) = gateway().plan(&head(Method::PUT, "/pub/k"), &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let Plan::Respond(r) = gateway().plan(&head(Method::HEAD, "/nope/k"), &ctx()) else {
        panic!()
    };
    assert!(r.body().is_empty(), "HEAD errors carry no body");
}

const MAPPED: &str = r#"
[path_mapping]
segments = 2
separator = ":"

[[buckets]]
name = "acme:data"
backend_type = "s3"
backend_prefix = "bp/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "acme:open"
backend_type = "s3"
anonymous_access = true
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "other"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "acme:secret"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "other"
"#;

fn mapped_gateway() -> Gateway {
    let text = format!("{CONFIG}\n{MAPPED}");
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

/// A request presigned for the gateway with the client key of `CONFIG` (scope `*`).
fn presigned(method: Method, path: &str, query: &[(&str, &str)], secret: &str) -> RequestHead {
    presigned_with_headers(method, path, query, secret, &HeaderMap::new())
}

/// [`presigned`] that also signs (and sends) `signed_headers`, as every `x-amz-*` must be.
fn presigned_with_headers(
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    secret: &str,
    signed_headers: &HeaderMap,
) -> RequestHead {
    use crate::auth::presign::{presign_url, PresignRequest, SigningCredentials};
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let url = presign_url(
        &PresignRequest {
            method: &method,
            scheme: "http",
            host: "gw.test",
            encoded_path: path,
            query: &query,
            signed_headers,
            region: "us-east-1",
            service: "s3",
            now: ctx().now,
            expires_secs: 300,
        },
        &SigningCredentials {
            access_key_id: "AKID".into(),
            secret: crate::auth::secret::SecretKey::new(secret.to_string()),
            session_token: None,
        },
        &SigningKeyCache::default(),
    );
    let mut h = head(method, url.strip_prefix("http://gw.test").unwrap());
    for (name, value) in signed_headers {
        h.headers.append(name.clone(), value.clone());
    }
    h
}

fn forward(g: &Gateway, h: &RequestHead) -> Box<Forward> {
    match g.plan(h, &ctx()) {
        Plan::Forward(f) => f,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    }
}

fn answer(g: &Gateway, h: &RequestHead) -> (StatusCode, String) {
    let Plan::Respond(r) = g.plan(h, &ctx()) else {
        panic!("expected an answer from the gateway")
    };
    (r.status(), String::from_utf8_lossy(r.body()).into_owned())
}

#[test]
fn a_mapped_path_is_signed_as_sent_and_forwarded_to_its_config_bucket() {
    let g = mapped_gateway();
    let h = presigned(
        Method::GET,
        "/acme/data/dir/a%20b.txt",
        &[],
        "client-secret-value",
    );
    let f = forward(&g, &h);
    assert!(
        f.url
            .starts_with("http://127.0.0.1:9000/backend/bp/dir/a%20b.txt?"),
        "{}",
        f.url
    );
    // The same request signed with another secret is refused, naming the client's path.
    let h = presigned(Method::GET, "/acme/data/dir/a%20b.txt", &[], "wrong-secret");
    let (status, body) = answer(&g, &h);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
}

#[test]
fn plain_buckets_stay_plain_when_mapping_is_on() {
    let g = mapped_gateway();
    let f = forward(&g, &head(Method::GET, "/pub/k"));
    assert!(
        f.url.starts_with("http://127.0.0.1:9000/backend/p/k?"),
        "{}",
        f.url
    );
}

#[test]
fn a_product_listing_is_mapped_both_ways() {
    let g = mapped_gateway();
    let h = presigned(
        Method::GET,
        "/acme",
        &[
            ("list-type", "2"),
            ("prefix", "data/dir/"),
            ("delimiter", "/"),
            ("start-after", "data/dir/a"),
            ("encoding-type", "url"),
        ],
        "client-secret-value",
    );
    let f = forward(&g, &h);
    assert!(f.url.contains("prefix=bp%2Fdir%2F"), "{}", f.url);
    assert!(f.url.contains("start-after=bp%2Fdir%2Fa"), "{}", f.url);
    let body = Bytes::from_static(b"<ListBucketResult><Name>backend</Name><Prefix>bp/dir/</Prefix><StartAfter>bp/dir/a</StartAfter><Contents><Key>bp/dir/b c</Key></Contents><CommonPrefixes><Prefix>bp/dir/sub/</Prefix></CommonPrefixes></ListBucketResult>");
    let resp = f.buffered_response(StatusCode::OK, &HeaderMap::new(), body, Timing::default());
    let text = String::from_utf8(resp.body().to_vec()).unwrap();
    for want in [
        "<Name>acme</Name>",
        "<Prefix>data/dir/</Prefix>",
        "<StartAfter>data/dir/a</StartAfter>",
        "<Key>data/dir/b+c</Key>",
        "<Prefix>data/dir/sub/</Prefix>",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}

#[test]
fn a_marker_outside_the_product_is_dropped_or_ends_the_listing() {
    let g = mapped_gateway();
    let f = forward(
        &g,
        &presigned(
            Method::GET,
            "/acme",
            &[("prefix", "data/"), ("marker", "a")],
            "client-secret-value",
        ),
    );
    assert!(!f.url.contains("marker"), "{}", f.url);
    let h = presigned(
        Method::GET,
        "/acme",
        &[
            ("list-type", "2"),
            ("prefix", "data/"),
            ("start-after", "zzz"),
        ],
        "client-secret-value",
    );
    let (status, body) = answer(&g, &h);
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<KeyCount>0</KeyCount>"), "{body}");
}

#[test]
fn an_account_listing_shows_the_products_the_caller_may_see() {
    let g = mapped_gateway();
    let h = presigned(
        Method::GET,
        "/acme",
        &[("list-type", "2"), ("delimiter", "/"), ("prefix", "")],
        "client-secret-value",
    );
    let (status, body) = answer(&g, &h);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<Name>acme</Name>"), "{body}");
    // The key's scope is `*`; `acme:secret` has no credentials but is visible to it too.
    for p in ["data/", "open/", "secret/"] {
        assert!(
            body.contains(&format!("<Prefix>{p}</Prefix>")),
            "{p}: {body}"
        );
    }
    // Anonymous callers see the public product only.
    let (status, body) = answer(&g, &head(Method::GET, "/acme?delimiter=/"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("<CommonPrefixes><Prefix>open/</Prefix></CommonPrefixes>")
            && !body.contains("data/"),
        "{body}"
    );
    // A page of one, then the next.
    let h = presigned(
        Method::GET,
        "/acme",
        &[("list-type", "2"), ("delimiter", "/"), ("max-keys", "1")],
        "client-secret-value",
    );
    let (_, body) = answer(&g, &h);
    assert!(body.contains("<IsTruncated>true</IsTruncated>"), "{body}");
    let token = body
        .split("<NextContinuationToken>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    let h = presigned(
        Method::GET,
        "/acme",
        &[
            ("list-type", "2"),
            ("delimiter", "/"),
            ("max-keys", "1"),
            ("continuation-token", &token),
        ],
        "client-secret-value",
    );
    let (_, body) = answer(&g, &h);
    assert!(body.contains("<Prefix>open/</Prefix>"), "{body}");
}

#[test]
fn a_prefix_inside_one_product_lists_it_and_one_across_products_is_refused() {
    let g = mapped_gateway();
    let f = forward(
        &g,
        &presigned(
            Method::GET,
            "/acme",
            &[("list-type", "2"), ("prefix", "da")],
            "client-secret-value",
        ),
    );
    assert!(f.url.contains("prefix=bp%2F"), "{}", f.url);
    let h = presigned(
        Method::GET,
        "/acme",
        &[("list-type", "2")],
        "client-secret-value",
    );
    let (status, body) = answer(&g, &h);
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
}

#[test]
fn an_unknown_product_is_no_such_bucket_in_the_clients_words() {
    let g = mapped_gateway();
    let h = presigned(Method::GET, "/acme/nope/k", &[], "client-secret-value");
    let (status, body) = answer(&g, &h);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("<Code>NoSuchBucket</Code>")
            && body.contains("acme/nope")
            && body.contains("<Resource>/acme/nope/k</Resource>")
            && !body.contains("acme:nope"),
        "{body}"
    );
}

#[test]
fn bucket_level_paths_and_the_account_itself_answer_as_buckets() {
    let g = mapped_gateway();
    let f = forward(
        &g,
        &presigned(Method::GET, "/acme/data/", &[], "client-secret-value"),
    );
    assert!(f.url.contains("prefix=bp%2F"), "{}", f.url);
    let (status, _) = answer(
        &g,
        &presigned(Method::HEAD, "/acme/data", &[], "client-secret-value"),
    );
    assert_eq!(status, StatusCode::OK);
    let (status, _) = answer(&g, &head(Method::HEAD, "/acme"));
    assert_eq!(status, StatusCode::OK, "the account has a public product");
    let (status, _) = answer(&g, &head(Method::HEAD, "/acme/data"));
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn list_buckets_shows_accounts_once_beside_plain_buckets() {
    let g = mapped_gateway();
    let (_, body) = answer(&g, &presigned(Method::GET, "/", &[], "client-secret-value"));
    assert_eq!(body.matches("<Name>acme</Name>").count(), 1, "{body}");
    assert!(
        body.contains("<Name>pub</Name>") && !body.contains("acme:"),
        "{body}"
    );
}

#[test]
fn a_copy_source_path_is_mapped_like_a_request_path() {
    let g = mapped_gateway();
    let copy = |source: &'static str| {
        let mut signed = HeaderMap::new();
        signed.insert("x-amz-copy-source", HeaderValue::from_static(source));
        presigned_with_headers(
            Method::PUT,
            "/acme/open/dst",
            &[],
            "client-secret-value",
            &signed,
        )
    };
    // The key may put objects in `acme:open`, whose backend is another bucket of the same
    // account: a server-side copy from `other`'s neighbour `backend`.
    let f = forward(&g, &copy("/acme/data/dir/src%20x"));
    assert_eq!(f.headers["x-amz-copy-source"], "/backend/bp/dir/src%20x");
    let (status, body) = answer(&g, &copy("/acme/nope/x"));
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[test]
fn a_mapped_buckets_cors_rules_apply_to_its_paths_and_its_listings() {
    let g = mapped_gateway();
    for target in ["/acme/open/k", "/acme?list-type=2&prefix=open%2Fdir%2F"] {
        let h = with_origin(head(Method::GET, target), "http://page.test");
        let f = forward(&g, &h);
        let (_, out) = f.response_head(StatusCode::OK, &HeaderMap::new(), Timing::default());
        assert_eq!(out["access-control-allow-origin"], "*", "{target}");
    }
    let h = with_origin(head(Method::GET, "/acme/data/k"), "http://page.test");
    let Plan::Respond(r) = g.plan(&h, &ctx()) else {
        panic!()
    };
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn delete_objects_on_the_account_maps_keys_of_the_first_product() {
    let g = mapped_gateway();
    let h = presigned(
        Method::POST,
        "/acme",
        &[("delete", "")],
        "client-secret-value",
    );
    assert!(matches!(g.plan(&h, &ctx()), Plan::NeedBody { .. }));
    let body = Bytes::from_static(
        b"<Delete><Object><Key>data/a</Key></Object><Object><Key>open/b</Key></Object></Delete>",
    );
    let f = match g.plan_with_body(&h, &ctx(), body) {
        Plan::Forward(f) => f,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    };
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!()
    };
    let sent = String::from_utf8_lossy(sent);
    assert!(
        sent.contains("<Key>bp/a</Key>") && !sent.contains("open"),
        "{sent}"
    );
    let result =
        Bytes::from_static(b"<DeleteResult><Deleted><Key>bp/a</Key></Deleted></DeleteResult>");
    let resp = f.buffered_response(StatusCode::OK, &HeaderMap::new(), result, Timing::default());
    let text = String::from_utf8_lossy(resp.body());
    assert!(
        text.contains("<Deleted><Key>data/a</Key></Deleted>"),
        "{text}"
    );
    assert!(
        text.contains("<Error><Key>open/b</Key><Code>InvalidRequest</Code>"),
        "{text}"
    );
}

const CORS_CONFIG: &str = r#"
[[buckets]]
name = "site"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"
[[buckets.cors]]
allowed_origins = ["https://app.example.com"]
allowed_methods = ["GET", "PUT"]
allowed_headers = ["x-amz-*", "content-type", "authorization"]
expose_headers = ["ETag"]

[[buckets]]
name = "plain"
backend_type = "s3"
anonymous_access = true
cors = []
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
"#;

fn with_origin(mut h: RequestHead, origin: &'static str) -> RequestHead {
    h.headers
        .insert(http::header::ORIGIN, HeaderValue::from_static(origin));
    h
}

fn preflight(target: &str, origin: &'static str, method: &'static str) -> RequestHead {
    let mut h = with_origin(head(Method::OPTIONS, target), origin);
    h.headers.insert(
        http::header::ACCESS_CONTROL_REQUEST_METHOD,
        HeaderValue::from_static(method),
    );
    h
}

fn cors_gateway() -> Gateway {
    let text = format!("{CONFIG}\n{CORS_CONFIG}");
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

#[test]
fn a_preflight_is_answered_by_the_gateway_without_authentication() {
    let mut h = preflight("/site/k", "https://app.example.com", "PUT");
    h.headers.insert(
        http::header::ACCESS_CONTROL_REQUEST_HEADERS,
        HeaderValue::from_static("authorization,x-amz-date,x-amz-content-sha256"),
    );
    let Plan::Respond(r) = cors_gateway().plan(&h, &ctx()) else {
        panic!("a preflight must never be forwarded")
    };
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.headers()["access-control-allow-methods"], "GET, PUT");
}

#[test]
fn a_preflight_from_another_origin_or_to_a_bucket_without_rules_is_forbidden() {
    let g = cors_gateway();
    for h in [
        preflight("/site/k", "https://evil.example", "GET"),
        preflight("/site/k", "https://app.example.com", "DELETE"),
        preflight("/plain/k", "https://app.example.com", "GET"),
        preflight("/nope/k", "https://app.example.com", "GET"),
    ] {
        let Plan::Respond(r) = g.plan(&h, &ctx()) else {
            panic!()
        };
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", h.target);
        assert!(String::from_utf8_lossy(r.body()).contains("<Code>AccessForbidden</Code>"));
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
}

#[test]
fn a_public_buckets_forwarded_answers_carry_the_default_cors_headers() {
    let h = with_origin(head(Method::GET, "/pub/k"), "http://page.test");
    let Plan::Forward(f) = gateway().plan(&h, &ctx()) else {
        panic!()
    };
    let mut backend = HeaderMap::new();
    backend.insert("etag", HeaderValue::from_static("\"e\""));
    backend.insert("content-range", HeaderValue::from_static("bytes 0-4/9"));
    backend.insert("x-amz-meta-team", HeaderValue::from_static("geo"));
    backend.insert(
        "access-control-allow-origin",
        HeaderValue::from_static("https://backend.example"),
    );
    let (_, out) = f.response_head(StatusCode::PARTIAL_CONTENT, &backend, Timing::default());
    assert_eq!(out["access-control-allow-origin"], "*");
    assert_eq!(out["vary"], "Origin");
    let expose = out["access-control-expose-headers"].to_str().unwrap();
    for name in [
        "ETag",
        "Content-Range",
        "x-amz-meta-team",
        "x-amz-request-id",
    ] {
        assert!(expose.contains(name), "{expose}");
    }
    // Errors translated from the backend carry them too.
    let missing =
        Bytes::from_static(b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
    let resp = f.buffered_response(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        missing,
        Timing::default(),
    );
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let refused = f.refused(&S3Error::internal("x"));
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
}

#[test]
fn errors_answered_by_the_gateway_carry_cors_headers_for_a_matching_origin() {
    let g = cors_gateway();
    // Anonymous on a private bucket: AccessDenied, still readable by the allowed page.
    let h = with_origin(head(Method::GET, "/site/k"), "https://app.example.com");
    let Plan::Respond(r) = g.plan(&h, &ctx()) else {
        panic!()
    };
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.headers()["access-control-expose-headers"], "ETag");
    // Another origin gets Vary but no grant.
    let h = with_origin(head(Method::GET, "/site/k"), "https://evil.example");
    let Plan::Respond(r) = g.plan(&h, &ctx()) else {
        panic!()
    };
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(r.headers()["vary"], "Origin");
}

#[test]
fn a_public_bucket_with_an_empty_rule_list_gets_no_cors_headers_and_backend_ones_are_dropped() {
    let h = with_origin(head(Method::GET, "/plain/k"), "https://app.example.com");
    let Plan::Forward(f) = cors_gateway().plan(&h, &ctx()) else {
        panic!()
    };
    let mut backend = HeaderMap::new();
    backend.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    backend.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("ETag"),
    );
    let (_, out) = f.response_head(StatusCode::OK, &backend, Timing::default());
    assert!(out
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-")));
    assert!(out.get("vary").is_none());
}

mod azure;
mod chunked;
mod gcs;
mod lock;
mod security;
mod tagging;
mod versioning;
