use http::HeaderValue;

use super::*;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::gateway::GatewayOptions;

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
fn check_report_prints_every_problem_and_warning_then_a_verdict() {
    let found = Findings {
        files: &["c.toml".into(), "s.toml".into()],
        gateway: None,
        problems: &[
            "c.toml: buckets[0].name: missing".into(),
            "SESSION_TOKEN_KEY is not base64".into(),
        ],
        warnings: &["c.toml: x: unknown key, ignored".into()],
        notes: &["OIDC_PROVIDER_KEY is not set".into()],
    };
    assert_eq!(
        check_report(&found),
        "error: c.toml: buckets[0].name: missing\n\
             error: SESSION_TOKEN_KEY is not base64\n\
             warning: c.toml: x: unknown key, ignored\n\
             note: OIDC_PROVIDER_KEY is not set\n\
             invalid: c.toml + s.toml: 2 problems, 1 warning; the server would refuse to start\n"
    );
}

#[test]
fn check_report_counts_what_a_valid_config_loads() {
    let config = GatewayConfig::parse("[[buckets]]\nname = \"r\"\nbackend_type = \"r2\"\n[buckets.backend_options]\nbinding = \"B\"\n", ConfigFormat::Toml).unwrap();
    let gateway = Gateway::new(config, GatewayOptions::default()).unwrap();
    let found = Findings {
        files: &["c.toml".into()],
        gateway: Some(&gateway),
        problems: &[],
        warnings: &[],
        notes: &[],
    };
    assert_eq!(
        check_report(&found),
        "ok: c.toml: 1 bucket, 0 roles, 0 credentials; 0 warnings\n"
    );
}
