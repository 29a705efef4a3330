use super::*;

#[test]
fn only_https_and_loopback_http_may_be_fetched() {
    assert!(check_url("https://token.actions.githubusercontent.com").is_ok());
    assert!(check_url("http://127.0.0.1:8000").is_ok());
    assert!(check_url("http://localhost/jwks.json").is_ok());
    assert!(check_url("http://[::1]:9/x").is_ok());
    assert!(check_url("http://example.com").is_err());
    assert!(check_url("http://127.0.0.1.evil.com/").is_err());
    assert!(check_url("http://localhost@evil.com/").is_err());
    assert!(check_url("file:///etc/passwd").is_err());
    assert!(check_url("https://").is_err());
}

#[test]
fn the_discovery_document_must_name_the_issuer_and_a_fetchable_jwks_uri() {
    let iss = "https://idp.example";
    let ok = br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys"}"#;
    assert_eq!(jwks_uri(ok, iss).unwrap(), "https://idp.example/keys");
    let other = br#"{"issuer":"https://evil.example","jwks_uri":"https://idp.example/k"}"#;
    assert!(jwks_uri(other, iss).is_err());
    let plain = br#"{"issuer":"https://idp.example","jwks_uri":"http://idp.example/k"}"#;
    assert!(jwks_uri(plain, iss).is_err());
    assert!(jwks_uri(b"nope", iss).is_err());
    assert_eq!(
        discovery_url("https://idp.example/"),
        "https://idp.example/.well-known/openid-configuration"
    );
}

#[test]
fn a_cached_jwks_expires_and_refetches_are_rate_limited() {
    let mut c = JwksCache::default();
    let iss = "https://idp.example";
    assert!(c.fresh(iss, Timestamp(0)).is_none());
    assert!(c.begin_fetch(iss, Timestamp(0)));
    // Nothing cached yet: a failed fetch does not block the next request's.
    assert!(c.begin_fetch(iss, Timestamp(1)));
    c.store(iss, Arc::new(Jwks::default()), Timestamp(1));
    assert!(c.fresh(iss, Timestamp(2)).is_some());
    assert!(!c.begin_fetch(iss, Timestamp(2)), "refetch within 30 s");
    assert!(c.begin_fetch(iss, Timestamp(31)));
    assert!(c.fresh(iss, Timestamp(1 + JWKS_TTL_SECS)).is_none());
    assert!(c.stale(iss).is_some());
}
