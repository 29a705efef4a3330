use super::*;

fn rule(origins: &[&str], methods: &[&str], headers: &[&str], expose: &[&str]) -> CorsRule {
    let v = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect();
    CorsRule {
        id: None,
        allowed_origins: v(origins),
        allowed_methods: v(methods),
        allowed_headers: v(headers),
        expose_headers: v(expose),
        max_age_seconds: Some(600),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn strict() -> BucketCors {
    BucketCors::new(vec![
        rule(
            &["https://app.example.com"],
            &["GET", "PUT"],
            &["x-amz-*", "Content-Type"],
            &["ETag", "x-amz-meta-*"],
        ),
        rule(&["https://*.example.org"], &["GET"], &[], &[]),
    ])
}

#[test]
fn origin_patterns_take_one_wildcard_and_are_case_sensitive() {
    assert!(wildcard_match(
        "https://*.example.org",
        "https://a.b.example.org",
        false
    ));
    assert!(!wildcard_match(
        "https://*.example.org",
        "https://example.org",
        false
    ));
    assert!(!wildcard_match(
        "https://app.example.com",
        "https://APP.example.com",
        false
    ));
    assert!(wildcard_match("*", "null", false));
    assert!(wildcard_match("X-Amz-*", "x-amz-date", true));
    assert!(
        !wildcard_match("ab*ba", "aba", false),
        "prefix and suffix must not overlap"
    );
}

#[test]
fn a_matching_preflight_gets_the_rules_methods_and_the_requested_headers_echoed() {
    let h = headers(&[
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "X-Amz-Date, content-type"),
    ]);
    let resp = strict().preflight(&h, "REQ").unwrap();
    let out = resp.headers();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        out["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(out["access-control-allow-credentials"], "true");
    assert_eq!(out["access-control-allow-methods"], "GET, PUT");
    assert_eq!(
        out["access-control-allow-headers"],
        "X-Amz-Date, content-type"
    );
    assert_eq!(out["access-control-expose-headers"], "ETag");
    assert_eq!(out["access-control-max-age"], "600");
    assert!(out["vary"].to_str().unwrap().starts_with("Origin"));
    assert_eq!(out["x-amz-request-id"], "REQ");
}

#[test]
fn a_preflight_naming_a_header_no_rule_allows_is_forbidden() {
    let h = headers(&[
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization"),
    ]);
    let err = strict().preflight(&h, "REQ").unwrap_err();
    assert_eq!(err.code, ErrorCode::AccessForbidden);
    assert_eq!(err.status(), 403);
    assert!(err.message.contains("This CORS request is not allowed"));
}

#[test]
fn a_preflight_is_matched_against_the_first_rule_that_fits_all_three() {
    // The second rule allows only GET from *.example.org; a PUT from there matches nothing.
    let put = headers(&[
        ("origin", "https://x.example.org"),
        ("access-control-request-method", "PUT"),
    ]);
    assert!(strict().preflight(&put, "R").is_err());
    let get = headers(&[
        ("origin", "https://x.example.org"),
        ("access-control-request-method", "GET"),
    ]);
    let resp = strict().preflight(&get, "R").unwrap();
    assert_eq!(resp.headers()["access-control-allow-methods"], "GET");
}

#[test]
fn a_preflight_without_origin_or_with_an_unknown_method_is_a_bad_request() {
    let no_origin = headers(&[("access-control-request-method", "GET")]);
    assert_eq!(
        strict().preflight(&no_origin, "R").unwrap_err().code,
        ErrorCode::BadRequest
    );
    let patch = headers(&[
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "PATCH"),
    ]);
    assert_eq!(
        strict().preflight(&patch, "R").unwrap_err().code,
        ErrorCode::BadRequest
    );
}

#[test]
fn a_bucket_without_rules_refuses_preflights_and_adds_nothing() {
    let h = headers(&[
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "GET"),
    ]);
    let none = BucketCors::default();
    assert!(none
        .preflight(&h, "R")
        .unwrap_err()
        .message
        .contains("not enabled"));
    assert!(none.for_request(&Method::GET, &h).is_none());
}

#[test]
fn an_actual_response_exposes_literal_and_wildcard_headers_present() {
    let h = headers(&[("origin", "https://app.example.com")]);
    let cors = strict().for_request(&Method::GET, &h).unwrap();
    let mut out = headers(&[
        ("etag", "\"e\""),
        ("x-amz-meta-team", "geo"),
        ("x-amz-meta-owner", "me"),
        ("x-amz-request-id", "R"),
        ("vary", "Accept-Encoding"),
        ("access-control-allow-origin", "*"),
    ]);
    cors.apply(&mut out);
    assert_eq!(
        out["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        out["access-control-expose-headers"],
        "ETag, x-amz-meta-team, x-amz-meta-owner"
    );
    assert_eq!(out["vary"], "Accept-Encoding, Origin");
}

#[test]
fn an_origin_no_rule_allows_gets_only_vary_and_loses_foreign_cors_headers() {
    let h = headers(&[("origin", "https://evil.example.net")]);
    let cors = strict().for_request(&Method::GET, &h).unwrap();
    let mut out = headers(&[("access-control-allow-origin", "*")]);
    cors.apply(&mut out);
    assert!(out.get("access-control-allow-origin").is_none());
    assert_eq!(out["vary"], "Origin");
    // A method outside the rule is not matched either.
    let del = strict()
        .for_request(
            &Method::DELETE,
            &headers(&[("origin", "https://app.example.com")]),
        )
        .unwrap();
    let mut out = HeaderMap::new();
    del.apply(&mut out);
    assert!(out.get("access-control-allow-origin").is_none());
}

#[test]
fn the_public_default_answers_any_origin_with_a_star_and_no_credentials() {
    let cors = BucketCors::new(vec![CorsRule::public_default()]);
    let h = headers(&[("origin", "http://127.0.0.1:1234")]);
    let mut out = headers(&[
        ("content-range", "bytes 0-4/10"),
        ("etag", "\"e\""),
        ("x-amz-version-id", "v1"),
    ]);
    cors.for_request(&Method::GET, &h).unwrap().apply(&mut out);
    assert_eq!(out["access-control-allow-origin"], "*");
    assert!(out.get("access-control-allow-credentials").is_none());
    let expose = out["access-control-expose-headers"].to_str().unwrap();
    for name in ["ETag", "Content-Range", "Accept-Ranges", "x-amz-version-id"] {
        assert!(expose.contains(name), "{expose}");
    }
    assert!(cors
        .for_request(&Method::PUT, &h)
        .unwrap()
        .matched
        .is_none());
}
