use http::{HeaderMap, Method, StatusCode};

use super::*;
use crate::auth::sigv4::tests::{header_signed, SECRET};
use crate::config::{ConfigFormat, GatewayConfig};
use crate::gateway::GatewayOptions;
use crate::s3::request::RequestHead;

/// `conf` is configured; `data-*` and `*` share one backend account (port 9000, key K1),
/// `logs-*` has another (port 9100); `fed-*` is federated and `az-*` on Azure: never asked.
fn gateway_with(scopes: &str) -> Gateway {
    let text = format!(
        r#"
[[buckets]]
name = "conf"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "K1"
secret_access_key = "s1"

[[buckets]]
name = "data-*"
backend_type = "s3"
allowed_roles = ["analyst"]
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
access_key_id = "K1"
secret_access_key = "s1"

[[buckets]]
name = "logs-*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9100"
access_key_id = "K2"
secret_access_key = "s2"

[[buckets]]
name = "fed-*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9200"
auth_type = "oidc"
role_arn = "arn:aws:iam::123456789012:role/r"
sts_endpoint = "http://127.0.0.1:9201"

[[buckets]]
name = "*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
access_key_id = "K1"
secret_access_key = "s1"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
{scopes}
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    let options = GatewayOptions {
        oidc_provider: None,
        ..GatewayOptions::default()
    };
    Gateway::new(config, options).unwrap()
}

const ALL: &str = r#"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "list_bucket"]
"#;

fn ctx() -> RequestContext {
    RequestContext {
        now: Timestamp(1_700_000_000),
        request_id: "REQ".into(),
    }
}

fn list(target: &str) -> RequestHead {
    RequestHead {
        method: Method::GET,
        target: target.into(),
        headers: header_signed("GET", target, SECRET, ctx().now, "us-east-1", &[]),
    }
}

fn gather(g: &Gateway, target: &str) -> Gather {
    match g.plan(&list(target), &ctx()) {
        Plan::Gather(g) => *g,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    }
}

fn answer(body: &str) -> CopyEvent {
    CopyEvent::Answer {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
    }
}

fn listing(names: &[(&str, &str)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>o</ID></Owner><Buckets>");
    for (n, d) in names {
        out.push_str(&format!(
            "<Bucket><Name>{n}</Name><CreationDate>{d}</CreationDate></Bucket>"
        ));
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    out
}

fn names_of(body: &str) -> Vec<String> {
    body.split("<Name>")
        .skip(1)
        .map(|s| s.split("</Name>").next().unwrap().to_string())
        .collect()
}

fn finish(g: &Gateway, mut gather: Gather, answers: Vec<CopyEvent>) -> (StatusCode, String) {
    let _ = gather.take_requests();
    let r = g.finish_gather(gather, answers);
    (r.status(), String::from_utf8_lossy(r.body()).into_owned())
}

const D: &str = "2024-05-06T07:08:09.000Z";

#[test]
fn list_buckets_asks_each_backend_account_of_a_glob_bucket_once() {
    let g = gateway_with(ALL);
    let mut gather = gather(&g, "/");
    let requests = gather.take_requests();
    // `data-*` and `*` share an account; `logs-*` is another; `fed-*` is federated.
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[0].url.starts_with("http://127.0.0.1:9000/?X-Amz-")
            && requests[0].url.contains("X-Amz-Credential=K1%2F"),
        "{}",
        requests[0].url
    );
    assert!(
        requests[1].url.starts_with("http://127.0.0.1:9100/?")
            && requests[1].url.contains("X-Amz-Credential=K2%2F"),
        "{}",
        requests[1].url
    );
    assert!(requests
        .iter()
        .all(|r| r.method == Method::GET && matches!(r.body, ForwardBody::Empty)));
}

#[test]
fn list_buckets_merges_configured_and_backend_buckets_sorted_without_duplicates() {
    let g = gateway_with(ALL);
    let gather = gather(&g, "/");
    let first = listing(&[
        ("zzz", D),
        ("data-b", D),
        ("data-a", "2021-02-03T04:05:06Z"),
        // A configured name: the configured bucket wins, listed once.
        ("conf", D),
        // Reached through `logs-*`, another account: not this backend's to show.
        ("logs-x", D),
        // Names no client could send back.
        ("Bad_Name", D),
        ("ab", D),
        ("192.168.1.1", D),
        ("data-a", D),
    ]);
    let second = listing(&[
        ("logs-y", D),
        // `*` on another account catches it: unreachable through this backend.
        ("other", D),
    ]);
    // AWS lists the buckets of every region: one elsewhere is not reachable here.
    let first = first.replace(
        "<Name>zzz</Name>",
        "<Name>zzz-elsewhere</Name><BucketRegion>eu-west-1</BucketRegion></Bucket><Bucket><Name>zzz</Name><BucketRegion>us-east-1</BucketRegion>",
    );
    let (status, body) = finish(&g, gather, vec![answer(&first), answer(&second)]);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        names_of(&body),
        ["conf", "data-a", "data-b", "logs-y", "zzz"],
        "{body}"
    );
    assert!(
        body.contains("<Name>data-a</Name><CreationDate>2021-02-03T04:05:06.000Z</CreationDate>"),
        "{body}"
    );
    assert!(
        body.contains("<Name>conf</Name><CreationDate>2020-01-01T00:00:00.000Z</CreationDate>"),
        "{body}"
    );
}

#[test]
fn a_session_scoped_to_one_bucket_sees_only_that_bucket() {
    let g = gateway_with(
        r#"
[[credentials.allowed_scopes]]
bucket = "data-a"
actions = ["get_object"]
"#,
    );
    let mut gather = gather(&g, "/");
    // Only the account behind `data-*` can hold `data-a`.
    assert_eq!(gather.take_requests().len(), 1);
    let doc = listing(&[("data-a", D), ("data-b", D), ("zzz", D)]);
    let (_, body) = finish(&g, gather, vec![answer(&doc)]);
    assert_eq!(names_of(&body), ["data-a"], "{body}");
}

#[test]
fn a_role_session_sees_only_the_names_of_glob_buckets_admitting_its_role() {
    let g = gateway_with(ALL);
    let identity = Identity::Principal {
        name: "web-identity".into(),
        access_key_id: "ASIA".into(),
        role: Some("analyst".into()),
        scopes: vec![crate::policy::Scope {
            bucket: "*".into(),
            prefixes: vec![],
            actions: vec![crate::policy::Action::ListBucket],
        }],
    };
    let req = crate::s3::request::parse(&list("/"), None).unwrap();
    let Ok(Plan::Gather(gather)) = g.list_buckets(&identity, &req, &ctx()) else {
        panic!("expected a gather")
    };
    let mut gather = *gather;
    // Only `data-*` admits the role (`*` and `logs-*` admit no session).
    assert_eq!(gather.take_requests().len(), 1);
    let doc = listing(&[("data-a", D), ("zzz", D)]);
    let resp = g.finish_gather(gather, vec![answer(&doc)]);
    let body = String::from_utf8_lossy(resp.body()).into_owned();
    assert_eq!(names_of(&body), ["data-a"], "{body}");
}

#[test]
fn a_caller_whose_scopes_cover_no_glob_name_causes_no_backend_request() {
    let g = gateway_with(
        r#"
[[credentials.allowed_scopes]]
bucket = "conf"
actions = ["get_object"]
"#,
    );
    let Plan::Respond(r) = g.plan(&list("/"), &ctx()) else {
        panic!("expected an answer")
    };
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert_eq!(names_of(&body), ["conf"], "{body}");
}

#[test]
fn a_failing_backend_is_left_out_and_the_rest_is_listed() {
    let g = gateway_with(ALL);
    for failure in [
        CopyEvent::Failed("the backend did not answer within 3 seconds".into()),
        CopyEvent::Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"<Error><Code>SlowDown</Code></Error>"),
        },
        answer("not xml at all <"),
        answer("<ListBucketResult><Name>x</Name></ListBucketResult>"),
        answer("<!DOCTYPE x [<!ENTITY a \"b\">]><ListAllMyBucketsResult/>"),
    ] {
        let gather = gather(&g, "/");
        let ok = listing(&[("logs-y", D)]);
        let (status, body) = finish(&g, gather, vec![failure, answer(&ok)]);
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(names_of(&body), ["conf", "logs-y"], "{body}");
    }
}

#[test]
fn list_buckets_pages_by_max_buckets_and_continuation_token_and_filters_by_prefix() {
    let g = gateway_with(ALL);
    let doc = listing(&[("data-a", D), ("data-b", D), ("zzz", D)]);
    let empty = listing(&[]);
    let run = |target: &str| {
        let gather = gather(&g, target);
        finish(&g, gather, vec![answer(&doc), answer(&empty)]).1
    };
    let body = run("/?max-buckets=2");
    assert_eq!(names_of(&body), ["conf", "data-a"], "{body}");
    assert!(
        body.contains("<ContinuationToken>data-a</ContinuationToken>"),
        "{body}"
    );
    let body = run("/?continuation-token=data-a&max-buckets=2");
    assert_eq!(names_of(&body), ["data-b", "zzz"], "{body}");
    assert!(!body.contains("ContinuationToken"), "{body}");
    let body = run("/?prefix=data-");
    assert_eq!(names_of(&body), ["data-a", "data-b"], "{body}");
    assert!(body.contains("<Prefix>data-</Prefix>"), "{body}");
    assert!(names_of(&run("/?bucket-region=eu-west-1")).is_empty());
    assert_eq!(names_of(&run("/?bucket-region=us-east-1")).len(), 4);
}

#[test]
fn a_bad_max_buckets_is_an_invalid_argument() {
    let g = gateway_with(ALL);
    for target in ["/?max-buckets=0", "/?max-buckets=10001", "/?max-buckets=x"] {
        let Plan::Respond(r) = g.plan(&list(target), &ctx()) else {
            panic!("{target}: expected a refusal")
        };
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("<Code>InvalidArgument</Code>"), "{body}");
    }
}

#[test]
fn anonymous_list_buckets_is_refused_before_any_backend_request() {
    let g = gateway_with(ALL);
    let h = RequestHead {
        method: Method::GET,
        target: "/".into(),
        headers: HeaderMap::new(),
    };
    let Plan::Respond(r) = g.plan(&h, &ctx()) else {
        panic!("expected a refusal")
    };
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[test]
fn missing_answers_are_an_internal_error_not_a_short_listing() {
    let g = gateway_with(ALL);
    let gather = gather(&g, "/");
    let (status, _) = finish(&g, gather, vec![answer(&listing(&[]))]);
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn merge_lets_configured_names_win_and_sorts_by_name() {
    let q = ListQuery::default();
    let (page, next) = merge(
        vec![("b".into(), Timestamp(1)), ("a".into(), Timestamp(1))],
        vec![("c".into(), Timestamp(2)), ("b".into(), Timestamp(2))],
        &q,
        "us-east-1",
    );
    assert_eq!(
        page,
        [
            ("a".to_string(), Timestamp(1)),
            ("b".to_string(), Timestamp(1)),
            ("c".to_string(), Timestamp(2))
        ]
    );
    assert_eq!(next, None);
}

#[test]
fn glob_patterns_intersect_when_some_name_matches_both() {
    for (a, b) in [
        ("*", "data-*"),
        ("data-a", "data-*"),
        ("data-*", "*-a"),
        ("d?ta-*", "da*"),
        ("*", "*"),
        ("a*b", "*b"),
    ] {
        assert!(globs_intersect(a, b), "{a} / {b}");
        assert!(globs_intersect(b, a), "{b} / {a}");
    }
    for (a, b) in [
        ("logs-*", "data-*"),
        ("data-a", "data-b*"),
        ("a?", "abc*x"),
        ("conf", "*x"),
    ] {
        assert!(!globs_intersect(a, b), "{a} / {b}");
        assert!(!globs_intersect(b, a), "{b} / {a}");
    }
}
