use super::*;
use crate::config::GatewayConfig;
use crate::gateway::GatewayOptions;

#[test]
fn check_report_prints_every_problem_and_warning_then_a_verdict() {
    let found = Startup {
        files: vec!["c.toml".into(), "s.toml".into()],
        problems: vec![
            "c.toml: buckets[0].name: missing".into(),
            "SESSION_TOKEN_KEY is not base64".into(),
        ],
        warnings: vec!["c.toml: x: unknown key, ignored".into()],
        notes: vec!["OIDC_PROVIDER_KEY is not set".into()],
        ..Startup::default()
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
    let found = Startup {
        files: vec!["c.toml".into()],
        gateway: Some(Arc::new(gateway)),
        ..Startup::default()
    };
    assert_eq!(
        check_report(&found),
        "ok: c.toml: 1 bucket, 0 roles, 0 credentials; 0 warnings\n"
    );
}
