//! The backends' option checks, as the config reports them (moved from `config/tests.rs` with
//! the checks; the assertions are unchanged).

use crate::config::{ConfigError, ConfigFormat, GatewayConfig};
use crate::gateway::{Gateway, GatewayOptions};

/// What reading the document finds, the backends' option checks included.
fn problems(text: &str, format: ConfigFormat) -> Vec<String> {
    Gateway::parse_config_reporting(text, format)
        .0
        .unwrap_err()
        .problems
}

fn toml_problems(text: &str) -> Vec<String> {
    problems(text, ConfigFormat::Toml)
}

fn has(problems: &[String], expected: &str) -> bool {
    problems.iter().any(|p| p == expected)
}

/// [`GatewayConfig::parse_with_warnings`], the backends' option checks included.
fn parse_with_warnings(
    text: &str,
    format: ConfigFormat,
) -> Result<(GatewayConfig, Vec<String>), ConfigError> {
    let (config, warnings) = Gateway::parse_config_reporting(text, format);
    config.map(|c| (c, warnings))
}

#[test]
fn the_backends_problems_come_in_the_documents_order_among_the_others() {
    let text = r#"
        [[buckets]]
        name = "az-a"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        access_key = "not base64!"
        [[credentials]]
        access_key_id = "K"
        secret_access_key = "s"
        expires_at = "yesterday"
        "#;
    let p = toml_problems(text);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(
        p[0],
        "buckets[0].backend_options.access_key: not a base64 account key"
    );
    assert!(p[1].starts_with("credentials[0].expires_at:"), "{p:#?}");
    // The config alone does not know the backends.
    let p = GatewayConfig::parse(text, ConfigFormat::Toml)
        .unwrap_err()
        .problems;
    assert_eq!(p.len(), 1, "{p:#?}");
}

#[test]
fn a_gateway_is_not_built_from_options_its_backend_refuses_and_reports_its_warnings() {
    let text = r#"
        [[buckets]]
        name = "az-a"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        access_key = "not base64!"
        colour = "blue"
        "#;
    let config = GatewayConfig::parse(text, ConfigFormat::Toml).unwrap();
    let (built, warnings) = Gateway::build_reporting(config, GatewayOptions::default());
    assert_eq!(
        built.unwrap_err().problems,
        vec!["buckets[0].backend_options.access_key: not a base64 account key".to_string()]
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .starts_with("buckets[0].backend_options.colour: unknown option for az backends"),
        "{warnings:?}"
    );
    let fixed = text.replace("not base64!", "YWJj");
    let config = GatewayConfig::parse(&fixed, ConfigFormat::Toml).unwrap();
    assert!(Gateway::new(config, GatewayOptions::default()).is_ok());
}

#[test]
fn oidc_federated_buckets_need_a_role_and_no_static_credentials() {
    let ok = r#"
        [[buckets]]
        name = "fed"
        backend_type = "s3"
        backend_options = { bucket_name = "x", region = "eu-west-1", auth_type = "oidc", role_arn = "arn:aws:iam::1:role/r", duration_seconds = 900 }
    "#;
    assert!(GatewayConfig::parse(ok, ConfigFormat::Toml).is_ok());
    let p = toml_problems(&ok.replace("role_arn = \"arn:aws:iam::1:role/r\", ", ""));
    assert!(
        has(
            &p,
            "buckets[0].backend_options: auth_type = \"oidc\" needs backend_options.role_arn"
        ),
        "{p:#?}"
    );
    let p = toml_problems(&ok.replace(
        "auth_type",
        "access_key_id = \"AK\", secret_access_key = \"S\", auth_type",
    ));
    assert!(
        p.iter()
            .any(|x| x.starts_with("buckets[0].backend_options.access_key_id: not allowed")),
        "{p:#?}"
    );
    let p = toml_problems(&ok.replace("duration_seconds = 900", "duration_seconds = 60"));
    assert!(
        p.iter().any(|x| x.contains("duration_seconds '60'")),
        "{p:#?}"
    );
    let p = toml_problems(&ok.replace("auth_type = \"oidc\"", "auth_type = \"magic\""));
    assert!(p.iter().any(|x| x.contains("auth_type 'magic'")), "{p:#?}");
}

#[test]
fn gcs_buckets_check_their_endpoint_keys_and_federation_settings() {
    let ok = r#"
        [[buckets]]
        name = "g"
        backend_type = "gcs"
        backend_options = { bucket_name = "x", auth_type = "oidc", workload_identity_provider = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gw" }
    "#;
    assert!(GatewayConfig::parse(ok, ConfigFormat::Toml).is_ok());
    let p = toml_problems(&ok.replace("auth_type", "service_account_key = \"{}\", auth_type"));
    assert!(
        p.iter()
            .any(|x| x.starts_with("buckets[0].backend_options.service_account_key: not allowed")),
        "{p:#?}"
    );
    let p = toml_problems(&ok.replace("providers/gw", "gw"));
    assert!(
        p.iter().any(|x| x.contains("workload_identity_provider '")),
        "{p:#?}"
    );
    let hmac = r#"
        [[buckets]]
        name = "g"
        backend_type = "gcs"
        backend_options = { bucket_name = "x", access_key_id = "GOOG1", endpoint = "storage" }
    "#;
    let p = toml_problems(hmac);
    assert!(
        has(&p, "buckets[0].backend_options.endpoint: not an http(s) URL (expected e.g. https://storage.googleapis.com)")
            && p.iter().any(|x| x.starts_with("buckets[0].backend_options.secret_access_key: missing")),
        "{p:#?}"
    );
}

#[test]
fn azure_buckets_need_a_base64_key_or_skip_signature_and_unknown_options_are_warned_about() {
    let text = r#"
        [[buckets]]
        name = "az-a"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        access_key = "not base64!"
        [[buckets]]
        name = "az-b"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        endpoint = "ftp://x"
        [[buckets]]
        name = "az-c"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        skip_signature = true
        colour = "blue"
        "#;
    let p = toml_problems(text);
    for e in [
        "buckets[0].backend_options.access_key: not a base64 account key",
        "buckets[1].backend_options.endpoint: not an http(s) URL",
        "buckets[1].backend_options.access_key: missing (the storage account key",
    ] {
        assert!(
            p.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert!(!p.iter().any(|x| x.starts_with("buckets[2]")), "{p:#?}");
}

#[test]
fn unknown_azure_options_are_warned_about_and_known_ones_are_not() {
    let (_, w) = parse_with_warnings(
        r#"
        [[buckets]]
        name = "az-w"
        backend_type = "az"
        [buckets.backend_options]
        account_name = "acct"
        container_name = "c"
        account_key = "YWJj"
        endpoint = "http://127.0.0.1:10000/acct"
        colour = "blue"
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("buckets[0].backend_options.colour: unknown option for az backends"),
        "{w:?}"
    );
}
