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
