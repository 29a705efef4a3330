use super::*;
use crate::policy::Action;

/// A config as a multistore 0.7 deployment writes it (README-style), unchanged.
const V07_TOML: &str = r#"
owner_id = "multistore"
owner_display_name = "Multistore Proxy"

[[buckets]]
name = "public-data"
backend_type = "s3"
backend_prefix = "mirror/"
anonymous_access = true
allowed_roles = []

[buckets.backend_options]
endpoint = "https://s3.us-west-2.amazonaws.com"
bucket_name = "my-real-bucket"
region = "us-west-2"
skip_signature = true

[[buckets]]
name = "private-uploads"
backend_type = "s3"
anonymous_access = false
allowed_roles = ["github-actions-deployer"]

[buckets.backend_options]
endpoint = "http://localhost:9000"
bucket_name = "uploads"
region = "us-east-1"
access_key_id = "minioadmin"
secret_access_key = "minio-secret-value"
virtual_hosted_style_request = false

[[buckets]]
name = "azure-data"
backend_type = "az"
anonymous_access = true

[buckets.backend_options]
account_name = "myaccount"
container_name = "mycontainer"
access_key = "YXp1cmUtc2VjcmV0LXZhbHVl"

[[roles]]
role_id = "github-actions-deployer"
name = "GitHub Actions Deploy Role"
trusted_oidc_issuers = ["https://token.actions.githubusercontent.com"]
required_audience = "sts.amazonaws.com"
subject_conditions = ["repo:myorg/myrepo:ref:refs/heads/main", "repo:myorg/*"]
max_session_duration_secs = 3600

[[roles.allowed_scopes]]
bucket = "private-uploads"
prefixes = ["deploys/{repository}/"]
actions = ["get_object", "head_object", "put_object", "list_bucket", "create_multipart_upload", "upload_part", "complete_multipart_upload", "abort_multipart_upload"]

[[credentials]]
access_key_id = "AKIAEXAMPLE123"
secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
principal_name = "ci-bot"
created_at = "2024-01-01T00:00:00Z"
enabled = true

[[credentials.allowed_scopes]]
bucket = "private-uploads"
prefixes = []
actions = ["get_object", "head_object", "put_object", "list_bucket", "delete_object"]
"#;

const V07_JSON: &str = r#"{
  "owner_id": "multistore",
  "buckets": [
    {
      "name": "public-data",
      "backend_type": "s3",
      "backend_prefix": null,
      "anonymous_access": true,
      "allowed_roles": [],
      "backend_options": {
        "bucket_name": "my-real-bucket",
        "region": "us-west-2",
        "skip_signature": "true"
      }
    },
    {
      "name": "gcs-data",
      "backend_type": "gcs",
      "anonymous_access": false,
      "allowed_roles": ["reader"],
      "backend_options": { "bucket_name": "gcs-bucket", "service_account_key": "{}" }
    }
  ],
  "roles": [
    {
      "role_id": "reader",
      "name": "Reader",
      "trusted_oidc_issuers": ["https://accounts.google.com"],
      "required_audiences": ["a", "b"],
      "subject_conditions": ["*"],
      "allowed_scopes": [
        { "bucket": "gcs-data", "prefixes": ["{sub}/"], "actions": ["get_object", "list_bucket"] }
      ],
      "max_session_duration_secs": 43200
    }
  ],
  "credentials": [
    {
      "access_key_id": "AKIAJSON",
      "secret_access_key": "json-secret-value",
      "principal_name": "json-user",
      "allowed_scopes": [{ "bucket": "public-data", "prefixes": ["a/"], "actions": ["put_object"] }],
      "created_at": "2024-06-01T12:00:00.123456Z",
      "expires_at": "2030-01-01T00:00:00+02:00",
      "enabled": true
    }
  ]
}"#;

fn problems(text: &str, format: ConfigFormat) -> Vec<String> {
    GatewayConfig::parse(text, format).unwrap_err().problems
}

fn toml_problems(text: &str) -> Vec<String> {
    problems(text, ConfigFormat::Toml)
}

fn has(problems: &[String], expected: &str) -> bool {
    problems.iter().any(|p| p == expected)
}

#[test]
fn a_multistore_0_7_toml_file_loads_unchanged() {
    let (c, warnings) = GatewayConfig::parse_with_warnings(V07_TOML, ConfigFormat::Toml).unwrap();
    assert_eq!(c.buckets.len(), 3);
    assert_eq!(c.owner_display_name.as_deref(), Some("Multistore Proxy"));
    assert_eq!(c.region(), "us-east-1");
    let b = &c.buckets[0];
    assert_eq!(b.backend_type, BackendType::S3);
    assert_eq!(b.backend_prefix.as_deref(), Some("mirror/"));
    assert_eq!(b.option("skip_signature"), Some("true"));
    assert_eq!(b.option_bool("skip_signature"), Some(true));
    assert_eq!(
        c.buckets[1].option("virtual_hosted_style_request"),
        Some("false")
    );
    assert_eq!(c.buckets[2].backend_type, BackendType::Azure);
    let r = &c.roles[0];
    assert_eq!(r.required_audiences, vec!["sts.amazonaws.com"]);
    assert_eq!(r.max_session_duration_secs, Some(3600));
    assert_eq!(r.allowed_scopes[0].prefixes, vec!["deploys/{repository}/"]);
    let k = &c.credentials[0];
    assert_eq!(k.principal_name.as_deref(), Some("ci-bot"));
    assert!(k.enabled);
    assert_eq!(k.expires(), None);
    assert!(k.allowed_scopes[0].actions.contains(&Action::DeleteObject));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_multistore_0_7_json_file_loads_unchanged() {
    let c = GatewayConfig::parse(V07_JSON, ConfigFormat::Json).unwrap();
    assert_eq!(
        c.buckets[0].s3_endpoint().as_deref(),
        Some("https://s3.us-west-2.amazonaws.com")
    );
    assert_eq!(c.buckets[1].backend_type, BackendType::Gcs);
    assert_eq!(c.roles[0].required_audiences, vec!["a", "b"]);
    assert_eq!(c.roles[0].name.as_deref(), Some("Reader"));
    let k = &c.credentials[0];
    assert_eq!(
        k.expires(),
        Timestamp::parse_rfc3339("2029-12-31T22:00:00Z")
    );
}

#[test]
fn serde_deserialize_agrees_with_the_validating_reader() {
    let direct: GatewayConfig = serde_json::from_str(V07_JSON).unwrap();
    assert_eq!(direct.roles[0].required_audiences, vec!["a", "b"]);
    assert_eq!(direct.buckets[0].option("skip_signature"), Some("true"));
    let toml_direct: GatewayConfig = toml::from_str(V07_TOML).unwrap();
    assert_eq!(
        toml_direct.buckets[0].option("skip_signature"),
        Some("true")
    );
    assert_eq!(
        toml_direct.roles[0].required_audiences,
        vec!["sts.amazonaws.com"]
    );
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let p = toml_problems(
        r#"
        [[buckets]]
        name = "ok-bucket"
        backend_type = "s3"
        backend_options = { bucket_name = "b", endpoint = "https://x" }

        [[buckets]]
        name = "ok-bucket"
        backend_type = "s3"
        backend_options = { bucket_name = "b", endpoint = "https://x" }

        [[buckets]]
        name = "third"
        backend_type = "s3"
        backend_options = { bucket_name = "b", endpoint = "ftp://x" }

        [[buckets]]
        name = "fourth"
        backend_type = "s4"

        [[credentials]]
        access_key_id = "AK1"
        secret_access_key = "s"
        expires_at = "tomorrow"

        [[credentials]]
        access_key_id = "AK2"
        secret_access_key = "s"
        [[credentials.allowed_scopes]]
        bucket = "ok-bucket"
        actions = ["get_object", "get_objects"]
        "#,
    );
    let expected = [
        "buckets[1].name: duplicate of buckets[0]",
        "buckets[2].backend_options.endpoint: not an http(s) URL (expected e.g. https://s3.example.com)",
        "buckets[3].backend_type: unknown backend type 's4' (expected one of s3, az, azure, gcs, gs, r2)",
        "credentials[0].expires_at: not an RFC 3339 time (e.g. 2025-01-31T00:00:00Z)",
    ];
    for e in expected {
        assert!(has(&p, e), "missing {e:?} in {p:#?}");
    }
    assert!(
        p.iter().any(|x| x.starts_with(
            "credentials[1].allowed_scopes[0].actions[1]: unknown action 'get_objects'"
        )),
        "{p:#?}"
    );
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn s3_backends_need_a_bucket_name_and_matching_key_pairs() {
    let p = toml_problems(
        r#"
        [[buckets]]
        name = "a-bucket"
        backend_type = "s3"
        backend_options = { region = "eu-west-1", access_key_id = "AK" }

        [[buckets]]
        name = "b-bucket"
        backend_type = "s3"
        backend_options = { bucket_name = "x", region = "eu-west-1", secret_access_key = "shh" }
        "#,
    );
    assert!(
        has(
            &p,
            "buckets[0].backend_options.bucket_name: missing (required for s3 backends)"
        ),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("buckets[0].backend_options.secret_access_key: missing")),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("buckets[1].backend_options.access_key_id: missing")),
        "{p:#?}"
    );
}

#[test]
fn skip_signature_allows_a_lone_access_key_id_and_must_be_a_boolean() {
    let ok = r#"
        [[buckets]]
        name = "a-bucket"
        backend_type = "s3"
        backend_options = { bucket_name = "x", region = "eu-west-1", access_key_id = "AK", skip_signature = true }
    "#;
    assert!(GatewayConfig::parse(ok, ConfigFormat::Toml).is_ok());
    let p = toml_problems(&ok.replace("skip_signature = true", "skip_signature = \"maybe\""));
    assert!(
        has(
            &p,
            "buckets[0].backend_options.skip_signature: expected true or false"
        ),
        "{p:#?}"
    );
}

#[test]
fn an_s3_backend_with_only_a_region_uses_the_aws_endpoint() {
    let c = GatewayConfig::parse(
        "[[buckets]]\nname = \"a-b\"\nbackend_type = \"s3\"\nbackend_options = { bucket_name = \"x\", region = \"ap-south-1\" }\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(
        c.buckets[0].s3_endpoint().as_deref(),
        Some("https://s3.ap-south-1.amazonaws.com")
    );
}

#[test]
fn an_s3_backend_with_neither_endpoint_nor_region_defaults_to_us_east_1_with_a_warning() {
    let (c, w) = GatewayConfig::parse_with_warnings(
        "[[buckets]]\nname = \"a-b\"\nbackend_type = \"s3\"\nbackend_options = { bucket_name = \"x\" }\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(
        c.buckets[0].s3_endpoint().as_deref(),
        Some("https://s3.us-east-1.amazonaws.com")
    );
    assert!(
        w.iter()
            .any(|x| x.starts_with("buckets[0].backend_options.endpoint: neither")),
        "{w:?}"
    );
}

#[test]
fn other_backends_need_their_own_options() {
    let p = toml_problems(
        r#"
        [[buckets]]
        name = "az-b"
        backend_type = "azure"
        [[buckets]]
        name = "gs-b"
        backend_type = "gs"
        [[buckets]]
        name = "r2-b"
        backend_type = "r2"
        "#,
    );
    for e in [
        "buckets[0].backend_options.account_name: missing (required for az backends)",
        "buckets[0].backend_options.container_name: missing (required for az backends)",
        "buckets[1].backend_options.bucket_name: missing (required for gcs backends)",
        "buckets[2].backend_options.binding: missing (required for r2 backends)",
    ] {
        assert!(has(&p, e), "missing {e:?} in {p:#?}");
    }
}

#[test]
fn bucket_names_that_cannot_be_routed_are_errors_and_unusual_ones_warnings() {
    let p = toml_problems(
        r#"
        [[buckets]]
        name = ""
        backend_type = "gcs"
        backend_options = { bucket_name = "x" }
        [[buckets]]
        name = "a/b"
        backend_type = "gcs"
        backend_options = { bucket_name = "x" }
        "#,
    );
    assert!(has(&p, "buckets[0].name: empty"), "{p:#?}");
    assert!(
        has(&p, "buckets[1].name: invalid bucket name: contains '/'"),
        "{p:#?}"
    );
    // Names a request can never carry (the parser takes A-Z a-z 0-9 . _ - only) still load (0.7
    // files must), with a warning that the bucket is unreachable.
    for (name, why) in [
        ("a+b", "it contains '+'"),
        ("caf\u{e9}", "it contains 'é'"),
        ("..", "it is a dot segment"),
        ("data-[ab]*", "it contains '['"),
    ] {
        let (_, w) = GatewayConfig::parse_with_warnings(
            &format!(
                "[[buckets]]\nname = \"{name}\"\nbackend_type = \"gcs\"\nbackend_options = {{ bucket_name = \"x\" }}\n"
            ),
            ConfigFormat::Toml,
        )
        .unwrap();
        assert!(
            w.iter()
                .any(|x| x.contains("no request can reach it") && x.contains(why)),
            "{name}: {w:#?}"
        );
    }
    let (_, w) = GatewayConfig::parse_with_warnings(
        "[[buckets]]\nname = \"My_Bucket\"\nbackend_type = \"gcs\"\nbackend_options = { bucket_name = \"x\" }\n\
         [[buckets]]\nname = \"data-*\"\nbackend_type = \"gcs\"\nbackend_options = { bucket_name = \"x\" }\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("buckets[0].name: bucket name 'My_Bucket' is not a valid S3 bucket name")
    );
}

#[test]
fn missing_and_mistyped_fields_are_reported_with_their_paths() {
    let p = problems(
        r#"{"buckets": [{"backend_type": "s3", "anonymous_access": "yes please"}],
            "credentials": [{"access_key_id": 5}],
            "roles": "nope"}"#,
        ConfigFormat::Json,
    );
    for e in [
        "buckets[0].name: missing",
        "buckets[0].anonymous_access: expected true or false, found a string",
        "credentials[0].access_key_id: expected a string, found a number",
        "credentials[0].secret_access_key: missing",
        "roles: expected a list of tables, found a string",
    ] {
        assert!(has(&p, e), "missing {e:?} in {p:#?}");
    }
}

#[test]
fn duplicate_access_keys_and_empty_secrets_are_errors() {
    let p = toml_problems(
        r#"
        [[credentials]]
        access_key_id = "AK"
        secret_access_key = ""
        [[credentials]]
        access_key_id = "AK"
        secret_access_key = "x"
        created_at = "2024-13-01T00:00:00Z"
        "#,
    );
    assert!(has(&p, "credentials[0].secret_access_key: empty"), "{p:#?}");
    assert!(
        has(
            &p,
            "credentials[1].access_key_id: duplicate of credentials[0]"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "credentials[1].created_at: not an RFC 3339 time (e.g. 2025-01-31T00:00:00Z)"
        ),
        "{p:#?}"
    );
}

#[test]
fn roles_are_checked_for_issuers_audiences_and_session_length() {
    let p = toml_problems(
        r#"
        [[roles]]
        role_id = "short"
        trusted_oidc_issuers = ["https://issuer"]
        subject_conditions = ["*"]
        max_session_duration_secs = 600
        [[roles]]
        role_id = "lonely"
        required_audience = "a"
        required_audiences = ["b"]
        subject_conditions = ["*"]
        [[roles]]
        role_id = "short"
        trusted_oidc_issuers = ["https://issuer"]
        subject_conditions = ["*"]
        "#,
    );
    for e in [
        "roles[0].max_session_duration_secs: 600 is below the minimum session of 900 seconds",
        "roles[1].trusted_oidc_issuers: empty (the role would never accept a token)",
        "roles[1].required_audience: both required_audience and required_audiences are set; keep one",
        "roles[2].role_id: duplicate of roles[0]",
    ] {
        assert!(has(&p, e), "missing {e:?} in {p:#?}");
    }
}

#[test]
fn allowed_roles_naming_undefined_roles_is_only_a_warning() {
    let (c, w) = GatewayConfig::parse_with_warnings(
        "[[buckets]]\nname = \"a-b\"\nbackend_type = \"gcs\"\nallowed_roles = [\"elsewhere\", \"*\"]\n\
         backend_options = { bucket_name = \"x\" }\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(c.buckets[0].allowed_roles, vec!["elsewhere", "*"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("buckets[0].allowed_roles[0]: role 'elsewhere' is not defined here"));
}

#[test]
fn unknown_keys_are_ignored_with_a_warning() {
    let (_, w) = GatewayConfig::parse_with_warnings(
        "colour = 1\n[[buckets]]\nname = \"a-b\"\nbackend_type = \"gcs\"\nanonymous = true\n\
         backend_options = { bucket_name = \"x\" }\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    assert!(
        w.contains(&"colour: unknown key, ignored".to_string()),
        "{w:?}"
    );
    assert!(
        w.contains(&"buckets[0].anonymous: unknown key, ignored".to_string()),
        "{w:?}"
    );
}

#[test]
fn secrets_never_appear_in_errors_or_debug_output() {
    let text = r#"
        [[buckets]]
        name = "x"
        backend_type = "s3"
        backend_options = { secret_access_key = "BUCKET-SECRET-1", token = "BUCKET-TOKEN-2", region = "r" }
        [[credentials]]
        access_key_id = "AK"
        secret_access_key = ["CRED-SECRET-3"]
    "#;
    let err = GatewayConfig::parse(text, ConfigFormat::Toml)
        .unwrap_err()
        .to_string();
    for s in ["BUCKET-SECRET-1", "BUCKET-TOKEN-2", "CRED-SECRET-3"] {
        assert!(!err.contains(s), "{err}");
    }
    assert!(
        err.contains("credentials[0].secret_access_key: expected a string, found a list"),
        "{err}"
    );
    let c = GatewayConfig::parse(V07_TOML, ConfigFormat::Toml).unwrap();
    let dbg = format!("{c:?}");
    for s in [
        "minio-secret-value",
        "YXp1cmUtc2VjcmV0LXZhbHVl",
        "wJalrXUtnFEMI",
    ] {
        assert!(!dbg.contains(s), "{s} leaked");
    }
    assert!(dbg.contains("minioadmin"), "access_key_id stays visible");
    // A TOML syntax error on a secret line names the position, not the text.
    let err = GatewayConfig::parse(
        "[[credentials]]\nsecret_access_key = \"TOPSECRET\n",
        ConfigFormat::Toml,
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("TOPSECRET"), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn syntax_errors_give_a_position() {
    let p = problems("{\"buckets\": [}", ConfigFormat::Json);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("syntax: invalid JSON at line 1 column"),
        "{p:?}"
    );
}

#[test]
fn toml_datetimes_and_booleans_are_read_as_strings() {
    let c = GatewayConfig::parse(
        r#"
        [[credentials]]
        access_key_id = "AK"
        secret_access_key = "s"
        created_at = 2024-01-01T00:00:00Z
        expires_at = 2031-05-06T07:08:09Z
        [[buckets]]
        name = "a-b"
        backend_type = "s3"
        backend_options = { bucket_name = "x", endpoint = "http://127.0.0.1:9000", port = 9000 }
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(
        c.credentials[0].expires(),
        Timestamp::parse_rfc3339("2031-05-06T07:08:09Z")
    );
    assert_eq!(c.buckets[0].option("port"), Some("9000"));
}

#[test]
fn formats_are_chosen_by_file_extension() {
    assert_eq!(
        ConfigFormat::from_path("/etc/multistore/config.toml"),
        Ok(ConfigFormat::Toml)
    );
    assert_eq!(ConfigFormat::from_path("sts.JSON"), Ok(ConfigFormat::Json));
    let e = ConfigFormat::from_path("config.yaml").unwrap_err();
    assert!(e.problems[0].contains("config.yaml"));
    assert!(ConfigFormat::from_path("config").is_err());
}

#[test]
fn exact_bucket_names_win_over_globs_and_globs_go_in_file_order() {
    let c = GatewayConfig::parse(
        r#"
        [[buckets]]
        name = "*"
        backend_type = "gcs"
        backend_options = { bucket_name = "catch-all" }
        [[buckets]]
        name = "data-*"
        backend_type = "gcs"
        backend_options = { bucket_name = "data" }
        [[buckets]]
        name = "data-eu"
        backend_type = "gcs"
        backend_options = { bucket_name = "eu" }
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    assert_eq!(
        c.find_bucket("data-eu").unwrap().option("bucket_name"),
        Some("eu")
    );
    assert_eq!(
        c.find_bucket("data-us").unwrap().option("bucket_name"),
        Some("catch-all")
    );
    assert_eq!(c.find_bucket("other").unwrap().name, "*");
    let empty = GatewayConfig::default();
    assert!(empty.find_bucket("x").is_none());
}

#[test]
fn a_role_without_required_audiences_is_a_config_error_naming_the_role() {
    let starts = |p: &[String], e: &str| p.iter().any(|x| x.starts_with(e));
    for (audiences, named) in [
        ("", true),
        ("required_audiences = []", true),
        ("required_audience = \"\"", false),
    ] {
        let text = format!(
            "[[roles]]\nrole_id = \"open-door\"\ntrusted_oidc_issuers = [\"https://issuer\"]\n\
             {audiences}\nsubject_conditions = [\"*\"]\n"
        );
        let e = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap_err();
        let all = e.problems.join("\n");
        if named {
            assert!(
                starts(
                    &e.problems,
                    "roles[0].required_audiences: role 'open-door' has no required_audiences"
                ),
                "{all}"
            );
        } else {
            assert!(
                starts(
                    &e.problems,
                    "roles[0].required_audiences: an audience is empty"
                ),
                "{all}"
            );
        }
    }
    // The JSON form too, and a role with an audience loads.
    let e = GatewayConfig::parse(
        r#"{"roles": [{"role_id": "j", "trusted_oidc_issuers": ["https://issuer"],
            "subject_conditions": ["*"]}]}"#,
        ConfigFormat::Json,
    )
    .unwrap_err();
    assert!(
        starts(&e.problems, "roles[0].required_audiences: role 'j'"),
        "{e}"
    );
    GatewayConfig::parse(
        "[[roles]]\nrole_id = \"ok\"\ntrusted_oidc_issuers = [\"https://issuer\"]\n\
         required_audience = \"sts.amazonaws.com\"\nsubject_conditions = [\"*\"]\n",
        ConfigFormat::Toml,
    )
    .unwrap();
}

#[test]
fn merging_an_sts_config_adds_roles_and_rejects_duplicates() {
    let main = GatewayConfig::parse(V07_TOML, ConfigFormat::Toml).unwrap();
    let sts = GatewayConfig::parse(
        r#"
        [[roles]]
        role_id = "extra"
        trusted_oidc_issuers = ["https://issuer"]
        required_audiences = ["sts.amazonaws.com"]
        subject_conditions = ["*"]
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    let merged = main.clone().merge(sts).unwrap();
    assert_eq!(merged.roles.len(), 2);
    assert!(merged.find_role("extra").is_some());
    assert_eq!(merged.owner_id.as_deref(), Some("multistore"));

    let clash = GatewayConfig::parse(
        r#"
        [[roles]]
        role_id = "github-actions-deployer"
        trusted_oidc_issuers = ["https://issuer"]
        required_audiences = ["sts.amazonaws.com"]
        subject_conditions = ["*"]
        [[credentials]]
        access_key_id = "AKIAEXAMPLE123"
        secret_access_key = "other"
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    let e = main.merge(clash).unwrap_err();
    assert_eq!(
        e.problems,
        vec![
            "(merged file) roles[0].role_id: duplicate of roles[0] in the main config",
            "(merged file) credentials[0].access_key_id: duplicate of credentials[0] in the main config",
        ]
    );
}

#[test]
fn the_region_defaults_to_us_east_1_and_can_be_set() {
    assert_eq!(GatewayConfig::default().region(), "us-east-1");
    let c = GatewayConfig::parse("region = \"auto\"\n", ConfigFormat::Toml).unwrap();
    assert_eq!(c.region(), "auto");
    assert!(GatewayConfig::parse("region = \"us east\"\n", ConfigFormat::Toml).is_err());
}

#[test]
fn error_display_lists_each_problem_on_its_own_line() {
    let e = ConfigError {
        problems: vec!["a: x".into(), "b: y".into()],
    };
    assert_eq!(
        e.to_string(),
        "invalid configuration (2 problems):\n  a: x\n  b: y"
    );
}

#[test]
fn role_claim_conditions_take_a_glob_or_a_list_and_refuse_empty_lists() {
    let c = GatewayConfig::parse(
        r#"
        [[roles]]
        role_id = "ci"
        trusted_oidc_issuers = ["https://token.actions.githubusercontent.com"]
        required_audiences = "sts.amazonaws.com"
        subject_conditions = ["repo:org/*"]
        [roles.claim_conditions]
        repository = "org/*"
        ref = ["refs/heads/main", "refs/tags/v*"]
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    let r = &c.roles[0].claim_conditions;
    assert_eq!(r["repository"], vec!["org/*".to_string()]);
    assert_eq!(r["ref"].len(), 2);

    let p = toml_problems(
        r#"
        [[roles]]
        role_id = "ci"
        trusted_oidc_issuers = ["https://issuer"]
        subject_conditions = ["*"]
        claim_conditions = { ref = [], n = 3 }
        [[roles]]
        role_id = "other"
        trusted_oidc_issuers = ["https://issuer"]
        subject_conditions = ["*"]
        claim_conditions = "ref"
        "#,
    );
    for e in [
        "roles[0].claim_conditions.ref: no glob given (the condition could never be met)",
        "roles[0].claim_conditions.n: expected a list of strings, found a number",
        "roles[1].claim_conditions: expected a table of claim = glob(s), found a string",
    ] {
        assert!(has(&p, e), "missing {e:?} in {p:#?}");
    }
}

#[test]
fn cors_rules_are_read_from_buckets_cors_tables_or_s3_style_json() {
    let c = GatewayConfig::parse(
        r#"
        [[buckets]]
        name = "site"
        backend_type = "s3"
        [buckets.backend_options]
        bucket_name = "b"
        region = "us-east-1"
        [[buckets.cors]]
        id = "app"
        allowed_origins = ["https://app.example.com", "https://*.example.org"]
        allowed_methods = ["get", "PUT"]
        allowed_headers = ["*"]
        expose_headers = ["ETag", "x-amz-meta-*"]
        max_age_seconds = 600
        "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    let rule = &c.buckets[0].cors.as_ref().unwrap()[0];
    assert_eq!(rule.id.as_deref(), Some("app"));
    assert_eq!(rule.allowed_methods, vec!["GET", "PUT"]);
    assert_eq!(rule.max_age_seconds, Some(600));
    assert_eq!(c.buckets[0].cors_rules().len(), 1);

    let json = r#"{"buckets": [{"name": "site", "backend_type": "s3", "anonymous_access": true,
        "backend_options": {"bucket_name": "b", "region": "us-east-1"},
        "cors_rules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"],
                        "ExposeHeaders": ["Content-Range"], "MaxAgeSeconds": 60}]}]}"#;
    let c = GatewayConfig::parse(json, ConfigFormat::Json).unwrap();
    let rules = c.buckets[0].cors_rules();
    assert_eq!(rules[0].allowed_origins, vec!["*"]);
    assert_eq!(rules[0].expose_headers, vec!["Content-Range"]);
    assert_eq!(rules[0].max_age_seconds, Some(60));
}

#[test]
fn public_buckets_get_the_default_cors_rule_unless_they_name_rules_or_an_empty_list() {
    let text = |extra: &str| {
        format!(
            "[[buckets]]\nname = \"pub\"\nbackend_type = \"s3\"\nanonymous_access = true\n{extra}\n\
             [buckets.backend_options]\nbucket_name = \"b\"\nregion = \"us-east-1\"\n"
        )
    };
    let c = GatewayConfig::parse(&text(""), ConfigFormat::Toml).unwrap();
    assert_eq!(c.buckets[0].cors_rules(), vec![CorsRule::public_default()]);
    let c = GatewayConfig::parse(&text("cors = []"), ConfigFormat::Toml).unwrap();
    assert!(c.buckets[0].cors_rules().is_empty());
    let private = text("").replace("anonymous_access = true", "anonymous_access = false");
    let c = GatewayConfig::parse(&private, ConfigFormat::Toml).unwrap();
    assert!(c.buckets[0].cors_rules().is_empty());
}

#[test]
fn invalid_cors_rules_are_reported_with_their_paths() {
    let p = toml_problems(
        r#"
        [[buckets]]
        name = "site"
        backend_type = "s3"
        [buckets.backend_options]
        bucket_name = "b"
        region = "us-east-1"
        [[buckets.cors]]
        allowed_origins = ["https://*.*.example.com"]
        allowed_methods = ["PATCH"]
        allowed_headers = ["x-*-*", "bad header"]
        expose_headers = ["ETag", ""]
        max_age_seconds = "soon"
        [[buckets.cors]]
        allowed_headers = ["*"]
        "#,
    );
    for expected in [
        "buckets[0].cors[0].allowed_origins[0]: an origin may hold at most one '*'",
        "buckets[0].cors[0].allowed_methods[0]: unknown method 'PATCH' (expected GET, PUT, POST, DELETE or HEAD)",
        "buckets[0].cors[0].allowed_headers[0]: a header may hold at most one '*'",
        "buckets[0].cors[0].allowed_headers[1]: not a header name",
        "buckets[0].cors[0].expose_headers[1]: not a header name",
        "buckets[0].cors[0].max_age_seconds: expected a whole number of seconds",
        "buckets[0].cors[1].allowed_origins: missing (at least one origin, or \"*\")",
        "buckets[0].cors[1].allowed_methods: missing (at least one of GET, PUT, POST, DELETE, HEAD)",
    ] {
        assert!(has(&p, expected), "{expected} not in {p:#?}");
    }
}

fn mapped_bucket(name: &str) -> String {
    format!(
        "[[buckets]]\nname = \"{name}\"\nbackend_type = \"s3\"\n[buckets.backend_options]\nendpoint = \"http://127.0.0.1:9000\"\nbucket_name = \"b\"\n"
    )
}

#[test]
fn path_mapping_defaults_to_two_segments_joined_by_a_colon_and_mapped_names_do_not_warn() {
    let text = format!(
        "[path_mapping]\n{}{}",
        mapped_bucket("acme:data"),
        mapped_bucket("plain")
    );
    let (c, warnings) = GatewayConfig::parse_with_warnings(&text, ConfigFormat::Toml).unwrap();
    assert_eq!(c.path_mapping, Some(PathMapping::default()));
    assert!(warnings.is_empty(), "{warnings:?}");
    // Without [path_mapping] the same name is a plain (if odd) bucket name.
    let (c, warnings) =
        GatewayConfig::parse_with_warnings(&mapped_bucket("acme:data"), ConfigFormat::Toml)
            .unwrap();
    assert!(c.path_mapping.is_none());
    assert!(warnings
        .iter()
        .any(|w| w.contains("not a valid S3 bucket name")));
}

#[test]
fn path_mapping_settings_and_mapped_names_are_validated() {
    let p = toml_problems("[path_mapping]\nsegments = 1\n");
    assert!(
        starts(
            &p,
            "path_mapping.segments: expected a whole number from 2 to 16"
        ),
        "{p:?}"
    );
    let p = toml_problems("[path_mapping]\nseparator = \"/\"\n");
    assert!(
        starts(&p, "path_mapping.separator: expected a non-empty string"),
        "{p:?}"
    );
    let p = toml_problems("[path_mapping]\nseparator = \"\"\n");
    assert!(starts(&p, "path_mapping.separator"), "{p:?}");
    let p = toml_problems("path_mapping = 3\n");
    assert!(starts(&p, "path_mapping: expected a table"), "{p:?}");
    let text = format!(
        "[path_mapping]\nsegments = 3\nseparator = \"--\"\n{}{}{}{}",
        mapped_bucket("org--team"),
        mapped_bucket("org--team--set"),
        mapped_bucket("org"),
        mapped_bucket("Bad_Account--x--y"),
    );
    let p = toml_problems(&text);
    assert!(
        starts(
            &p,
            "buckets[0].name: a mapped bucket name must be 3 non-empty parts joined by '--'"
        ),
        "{p:?}"
    );
    assert!(
        starts(&p, "buckets[2].name: 'org' is also the account"),
        "{p:?}"
    );
    assert!(!starts(&p, "buckets[1]"), "{p:?}");
}

fn starts(problems: &[String], expected: &str) -> bool {
    problems.iter().any(|p| p.starts_with(expected))
}

#[test]
fn streamed_copy_sizes_are_read_and_held_to_s3s_part_limits() {
    let ok = GatewayConfig::parse(
        "copy_multipart_threshold = 104857600\ncopy_part_size = \"8388608\"\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    let limits = ok.copy_limits();
    assert_eq!(limits.multipart_threshold, 100 << 20);
    assert_eq!(limits.part_size, 8 << 20);
    let defaults = GatewayConfig::default().copy_limits();
    assert_eq!(defaults.multipart_threshold, 5 << 30);
    let p = toml_problems("copy_multipart_threshold = 1024\ncopy_part_size = \"big\"\n");
    assert!(has(
        &p,
        "copy_multipart_threshold: expected a number of bytes from 5 MiB (5242880) to 5 GiB (5368709120)"
    ));
    assert!(
        has(&p, "copy_part_size: expected a whole number of bytes"),
        "{p:#?}"
    );
}

#[test]
fn a_backend_prefix_is_a_folder_with_or_without_its_trailing_slash() {
    let bucket = |prefix: &str| {
        let text = format!(
            "[[buckets]]\nname = \"b\"\nbackend_type = \"s3\"\nbackend_prefix = \"{prefix}\"\n\
             backend_options = {{ bucket_name = \"b\", endpoint = \"https://x\" }}\n"
        );
        let c = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
        c.buckets[0].backend_prefix.clone().unwrap()
    };
    assert_eq!(bucket("x"), "x/");
    assert_eq!(bucket("x/"), "x/");
    assert_eq!(bucket("a/b"), "a/b/");
    assert_eq!(bucket(""), "");
}

#[test]
fn a_backend_prefix_with_a_dot_segment_or_a_leading_slash_is_refused_naming_the_bucket() {
    for prefix in ["/x", "x/..", "../x", "x/./y", ".", "q/."] {
        let p = toml_problems(&format!(
            "[[buckets]]\nname = \"legacy\"\nbackend_type = \"s3\"\nbackend_prefix = \"{prefix}\"\n\
             backend_options = {{ bucket_name = \"b\", endpoint = \"https://x\" }}\n"
        ));
        assert_eq!(p.len(), 1, "{prefix}: {p:?}");
        assert!(
            p[0].starts_with("buckets[0].backend_prefix: bucket 'legacy': "),
            "{prefix}: {p:?}"
        );
    }
}

#[test]
fn parse_reporting_returns_the_warnings_of_an_invalid_config_too() {
    let text = "bogus_key = 1\n[[credentials]]\naccess_key_id = \"K\"\nsecret_access_key = \"never-echoed-secret\"\nexpires_at = \"yesterday\"\n";
    let (result, warnings) = GatewayConfig::parse_reporting(text, ConfigFormat::Toml);
    let problems = result.unwrap_err().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("credentials[0].expires_at:"));
    assert_eq!(
        warnings,
        vec!["bogus_key: unknown key, ignored".to_string()]
    );
    assert!(!format!("{problems:?}{warnings:?}").contains("never-echoed-secret"));
    // The same validator as parse_with_warnings: a valid config gives the same result.
    let ok = "bogus_key = 1\n";
    let (c, w) = GatewayConfig::parse_reporting(ok, ConfigFormat::Toml);
    assert_eq!(
        (c.is_ok(), w),
        (
            true,
            GatewayConfig::parse_with_warnings(ok, ConfigFormat::Toml)
                .unwrap()
                .1
        )
    );
    let (c, w) = GatewayConfig::parse_reporting("[[", ConfigFormat::Toml);
    assert!(c.is_err() && w.is_empty());
}
