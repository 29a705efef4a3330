use http::HeaderValue;

use super::*;

#[test]
fn a_request_declares_a_body_by_a_nonzero_length_or_a_transfer_encoding() {
    let with = |k: &'static str, v: &'static str| {
        let mut h = http::HeaderMap::new();
        h.insert(k, HeaderValue::from_static(v));
        declares_body(&h)
    };
    assert!(with("content-length", "1"));
    assert!(with("transfer-encoding", "chunked"));
    assert!(!with("content-length", "0"));
    assert!(!declares_body(&http::HeaderMap::new()));
}

#[test]
fn a_backend_without_an_answer_is_named_with_its_timeout() {
    assert_eq!(
        no_answer_within(Duration::from_millis(1500)),
        "the backend did not answer within 1.5 seconds"
    );
}

#[test]
fn a_panicked_request_answers_500_with_its_request_id_and_nothing_of_the_panic() {
    let resp = panicked(&Method::GET, "req-1");
    assert_eq!(resp.status(), 500);
    let body = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(body.contains("<Code>InternalError</Code>"), "{body}");
    assert!(body.contains("req-1"), "{body}");
}
