use super::*;

fn parse(a: &[&str]) -> Result<Parsed, String> {
    Args::parse(a.iter().map(|s| (*s).to_string()))
}

#[test]
fn listen_defaults_to_all_interfaces_on_8080() {
    let Ok(Parsed::Run(a)) = parse(&["--config", "c.toml"]) else {
        panic!()
    };
    assert_eq!(a.listen, "0.0.0.0:8080");
    assert_eq!(a.domain, None);
}

#[test]
fn flags_take_separate_or_inline_values() {
    let Ok(Parsed::Run(a)) = parse(&[
        "--config=c.toml",
        "--listen",
        "127.0.0.1:1",
        "--domain=s3.x",
        "--sts-config",
        "s.toml",
    ]) else {
        panic!()
    };
    assert_eq!(
        a,
        Args {
            config: "c.toml".into(),
            listen: "127.0.0.1:1".into(),
            domain: Some("s3.x".into()),
            sts_config: Some("s.toml".into())
        }
    );
}

#[test]
fn missing_config_unknown_flags_and_missing_values_are_errors() {
    assert!(parse(&[]).is_err());
    assert!(parse(&["--config"]).is_err());
    assert!(parse(&["--config", "c", "--bogus"]).is_err());
    assert!(parse(&["--config", "c", "positional"]).is_err());
    assert!(parse(&["--config", "--listen", "x"]).is_err());
    assert!(parse(&["--config=", "x"]).is_err());
    assert!(parse(&["--config", "a", "--config=b"]).is_err());
    assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
    assert_eq!(parse(&["-V"]), Ok(Parsed::Version));
}

#[test]
fn check_comes_first_and_takes_the_same_flags_as_the_server() {
    let Ok(Parsed::Check(a)) = parse(&["check", "--config=c.toml", "--sts-config", "s.toml"])
    else {
        panic!()
    };
    assert_eq!(a.config, "c.toml");
    assert_eq!(a.sts_config.as_deref(), Some("s.toml"));
    assert_eq!(a.listen, "0.0.0.0:8080");
    assert_eq!(parse(&["check", "--help"]), Ok(Parsed::Help));
    assert_eq!(parse(&["check", "--version"]), Ok(Parsed::Version));
    assert_eq!(parse(&["check"]), Err("--config FILE is required".into()));
    let late = parse(&["--config", "c.toml", "check"]).unwrap_err();
    assert!(late.contains("must come first"), "{late}");
    assert!(parse(&["check", "check", "--config", "c"]).is_err());
}

#[test]
fn unknown_flags_and_stray_arguments_are_named_on_one_line() {
    assert_eq!(
        parse(&["--config", "c", "--bogus=1"]),
        Err("unknown flag '--bogus'".into())
    );
    assert_eq!(parse(&["-x"]), Err("unknown flag '-x'".into()));
    assert_eq!(
        parse(&["chek", "--config", "c"]),
        Err("unexpected argument 'chek'".into())
    );
    assert!(!HINT.contains('\n') && HINT.contains("--help"));
}

/// The names of the environment variables `source` reads: string literals passed to
/// `var` or `var_os`, and the values of `..._VAR` string constants.
fn env_reads(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for pattern in ["var(\"", "var_os(\"", "_VAR: &str = \""] {
        for (i, _) in source.match_indices(pattern) {
            let rest = &source[i + pattern.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with('"') {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn usage_names_every_flag_and_every_environment_variable_the_server_reads() {
    for flag in [
        "--config",
        "--listen",
        "--domain",
        "--sts-config",
        "--help",
        "--version",
    ] {
        assert!(USAGE.contains(flag), "{flag}");
    }
    let sources = [
        include_str!("../main.rs"),
        include_str!("../proxy.rs"),
        include_str!("../server.rs"),
    ];
    let read: Vec<String> = sources.iter().flat_map(|s| env_reads(s)).collect();
    // The scan finds what main.rs and proxy.rs read today.
    for known in [
        "SESSION_TOKEN_KEY",
        "OIDC_PROVIDER_ISSUER",
        "BACKEND_TIMEOUT_SECONDS",
    ] {
        assert!(
            read.iter().any(|r| r == known),
            "{known} not found by the scan"
        );
    }
    // env_logger reads these two; the core's settings are read by name.
    for name in read
        .iter()
        .map(String::as_str)
        .chain(["RUST_LOG", "RUST_LOG_STYLE"])
        .chain(multistore::executor::VARS)
    {
        assert!(
            USAGE.contains(&format!("  {name} ")) || USAGE.contains(&format!(" {name}:")),
            "--help does not document {name}"
        );
    }
}
