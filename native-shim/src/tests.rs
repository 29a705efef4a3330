use multistore::config::GatewayConfig;
use multistore::GatewayOptions;

use super::*;

#[test]
fn the_server_passes_every_setting_the_core_reads() {
    let mut core = multistore::executor::VARS.to_vec();
    let mut read = ENV_VARS.to_vec();
    core.sort_unstable();
    read.sort_unstable();
    assert_eq!(read, core);
}

fn args(sts: Option<&str>) -> args::Args {
    args::Args {
        config: "c.toml".into(),
        listen: "0.0.0.0:8080".into(),
        domain: None,
        sts_config: sts.map(String::from),
    }
}

#[test]
fn check_report_prints_every_problem_and_warning_then_a_verdict() {
    let loaded = Loaded {
        gateway: None,
        problems: vec![
            "c.toml: buckets[0].name: missing".into(),
            "SESSION_TOKEN_KEY is not base64".into(),
        ],
        warnings: vec!["c.toml: x: unknown key, ignored".into()],
        notes: vec!["OIDC_PROVIDER_KEY is not set".into()],
        reloader: None,
    };
    assert_eq!(
        check_report(&args(Some("s.toml")), &loaded),
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
    let loaded = Loaded {
        gateway: Some(Arc::new(
            Gateway::new(config, GatewayOptions::default()).unwrap(),
        )),
        ..Loaded::default()
    };
    assert_eq!(
        check_report(&args(None), &loaded),
        "ok: c.toml: 1 bucket, 0 roles, 0 credentials; 0 warnings\n"
    );
}

#[test]
fn a_missing_file_and_an_unknown_format_are_problems_with_their_paths() {
    let yaml = std::env::temp_dir().join(format!("multistore-check-{}.yaml", std::process::id()));
    std::fs::write(&yaml, "buckets: []\n").unwrap();
    let mut a = args(Some("/nonexistent/sts.toml"));
    a.config = yaml.display().to_string();
    let loaded = load(&a);
    std::fs::remove_file(&yaml).unwrap();
    assert!(loaded.gateway.is_none());
    let unknown = format!("{}: unknown config format", a.config);
    assert!(
        loaded.problems.iter().any(|p| p.starts_with(&unknown)),
        "{:?}",
        loaded.problems
    );
    assert!(loaded
        .problems
        .iter()
        .any(|p| p.starts_with("cannot read /nonexistent/sts.toml")));
}
