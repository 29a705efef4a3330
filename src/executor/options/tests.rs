use std::collections::HashMap;

use super::*;
use crate::config::ConfigFormat;

const PEM: &str = include_str!("../../sts/testdata/provider_pkcs8_test_only.pem");
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn read(vars: &[(&str, &str)]) -> FromEnv {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    Options::read_env(|name| {
        assert!(VARS.contains(&name), "{name} is not in VARS");
        Ok(vars.get(name).cloned())
    })
}

#[test]
fn nothing_set_gives_the_defaults_and_says_what_is_off() {
    let r = read(&[]);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.options.backend_timeout, Duration::from_secs(30));
    assert_eq!(r.options.config_ttl, Some(Duration::from_secs(60)));
    assert!(r.options.gateway.session_keys.is_none());
    assert!(r.options.gateway.oidc_provider.is_none());
    assert_eq!(
        r.notes,
        [
            "SESSION_TOKEN_KEY is not set: STS and session tokens are off",
            "OIDC_PROVIDER_KEY is not set: the OIDC provider and backend federation are off"
        ]
    );
}

#[test]
fn blank_values_count_as_unset() {
    let r = read(&[
        ("SESSION_TOKEN_KEY", " "),
        ("OIDC_PROVIDER_ISSUER", ""),
        ("BACKEND_TIMEOUT_SECONDS", "  "),
        ("CONFIG_TTL_SECONDS", ""),
    ]);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.options.config_ttl, Some(DEFAULT_CONFIG_TTL));
}

#[test]
fn every_setting_is_parsed() {
    let r = read(&[
        ("SESSION_TOKEN_KEY", KEY),
        ("SESSION_TOKEN_KEY_PREVIOUS", KEY),
        ("OIDC_PROVIDER_KEY", PEM),
        ("OIDC_PROVIDER_ISSUER", "https://gw.example.com/"),
        ("BACKEND_TIMEOUT_SECONDS", "2.5"),
        ("CONFIG_TTL_SECONDS", "0.5"),
    ]);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let o = &r.options;
    assert!(o.gateway.session_keys.is_some());
    let provider = o.gateway.oidc_provider.as_ref().unwrap();
    assert_eq!(provider.issuer(), "https://gw.example.com");
    assert_eq!(o.backend_timeout, Duration::from_millis(2500));
    assert_eq!(o.config_ttl, Some(Duration::from_millis(500)));
    assert!(r.notes[0].starts_with("STS enabled: session tokens sealed with key "));
    assert!(r.notes[1].starts_with("OIDC provider enabled: issuer https://gw.example.com"));
}

#[test]
fn every_invalid_setting_is_a_problem_naming_its_variable_never_its_value() {
    let r = read(&[
        ("SESSION_TOKEN_KEY", "sekrit-not-a-key"),
        ("OIDC_PROVIDER_KEY", "sekrit-not-pem"),
        ("OIDC_PROVIDER_ISSUER", "https://gw.example.com"),
        ("BACKEND_TIMEOUT_SECONDS", "0"),
        ("CONFIG_TTL_SECONDS", "soon"),
    ]);
    assert_eq!(r.problems.len(), 4, "{:?}", r.problems);
    for (problem, var) in r.problems.iter().zip([
        "SESSION_TOKEN_KEY",
        "OIDC_PROVIDER_KEY",
        "BACKEND_TIMEOUT_SECONDS",
        "CONFIG_TTL_SECONDS",
    ]) {
        assert!(problem.contains(var), "{problem}");
        assert!(!problem.contains("sekrit"), "{problem}");
    }
    // Invalid settings are left at their defaults, and are not "not set".
    assert!(r.options.gateway.session_keys.is_none());
    assert_eq!(r.options.backend_timeout, Duration::from_secs(30));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    let all = Options::from_env(|name| {
        Ok(match name {
            "SESSION_TOKEN_KEY_PREVIOUS" => Some("nope".to_string()),
            "SESSION_TOKEN_KEY" => Some(KEY.to_string()),
            _ => None,
        })
    })
    .unwrap_err();
    assert!(all.contains("SESSION_TOKEN_KEY_PREVIOUS"), "{all}");
}

#[test]
fn a_half_set_oidc_provider_is_refused_either_way() {
    let r = read(&[("OIDC_PROVIDER_KEY", PEM)]);
    assert_eq!(
        r.problems,
        ["OIDC_PROVIDER_KEY is set but OIDC_PROVIDER_ISSUER is not (e.g. https://gw.example.com)"]
    );
    let r = read(&[("OIDC_PROVIDER_ISSUER", "https://gw.example.com")]);
    assert_eq!(
        r.problems,
        ["OIDC_PROVIDER_ISSUER is set but OIDC_PROVIDER_KEY (an RSA private key in PEM) is not"]
    );
}

#[test]
fn a_variable_that_cannot_be_read_is_a_problem() {
    let r = Options::read_env(|name| match name {
        "CONFIG_TTL_SECONDS" => Err(format!("{name} is not valid UTF-8")),
        _ => Ok(None),
    });
    assert_eq!(r.problems, ["CONFIG_TTL_SECONDS is not valid UTF-8"]);
    assert_eq!(r.options.config_ttl, Some(DEFAULT_CONFIG_TTL));
}

#[test]
fn the_ttl_is_seconds_with_fractions_and_zero_turns_timed_refresh_off() {
    assert_eq!(parse_ttl("60"), Ok(Some(Duration::from_secs(60))));
    assert_eq!(parse_ttl(" 0.5 "), Ok(Some(Duration::from_millis(500))));
    assert_eq!(parse_ttl("0"), Ok(None));
    for bad in ["-1", "soon", "NaN", "inf", "1e30"] {
        assert!(parse_ttl(bad).is_err(), "{bad}");
    }
}

#[test]
fn roles_and_federated_buckets_without_their_keys_are_warnings_only_when_unset() {
    let config = GatewayConfig::parse(
        "[[roles]]\nrole_id = \"r\"\ntrusted_oidc_issuers = [\"https://t.example.com\"]\n\
         required_audiences = [\"sts.amazonaws.com\"]\nsubject_conditions = [\"repo:o/r:*\"]\n\
         [[buckets]]\nname = \"fed\"\nbackend_type = \"s3\"\n[buckets.backend_options]\n\
         endpoint = \"https://s3.amazonaws.com\"\nbucket_name = \"bk\"\nauth_type = \"oidc\"\n\
         role_arn = \"arn:aws:iam::123456789012:role/x\"\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    let unset = read(&[]).options.config_warnings(&config);
    assert_eq!(unset.len(), 2, "{unset:?}");
    assert!(unset[0].starts_with("roles: 1 configured but SESSION_TOKEN_KEY is not set"));
    assert!(unset[1].starts_with("buckets[0] (fed): auth_type is set but OIDC_PROVIDER_KEY"));
    let invalid = read(&[("SESSION_TOKEN_KEY", "x"), ("OIDC_PROVIDER_KEY", "y")]);
    assert!(invalid.options.config_warnings(&config).is_empty());
}
