use super::*;
use crate::config::{ConfigFormat, GatewayConfig};

/// One bucket of each kind, built as the gateway builds them.
fn backends() -> Vec<(String, Result<Backend, String>)> {
    let text = r#"
[[buckets]]
name = "s3"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "b"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "gcs"
backend_type = "gcs"
[buckets.backend_options]
bucket_name = "gbk"
access_key_id = "GOOG1KEY"
secret_access_key = "hmac-secret"

[[buckets]]
name = "az"
backend_type = "azure"
[buckets.backend_options]
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
account_name = "devstoreaccount1"
container_name = "c"
skip_signature = "true"

[[buckets]]
name = "r2"
backend_type = "r2"
[buckets.backend_options]
binding = "BUCKET"
"#;
    let config = GatewayConfig::parse(text, ConfigFormat::Toml).unwrap();
    config
        .buckets
        .iter()
        .map(|b| (b.name.clone(), Backend::from_config(b)))
        .collect()
}

#[test]
fn every_backend_kind_is_built_from_its_config_bucket() {
    for (name, backend) in backends() {
        let backend = backend.unwrap_or_else(|e| panic!("bucket {name}: {e}"));
        let kind = match backend {
            Backend::S3(b) if b.dialect() == Dialect::Gcs => "gcs",
            Backend::S3(_) => "s3",
            Backend::Azure(_) => "az",
            Backend::R2 { binding } => {
                assert_eq!(binding, "BUCKET");
                "r2"
            }
        };
        assert_eq!(kind, name);
    }
}

#[test]
fn only_s3_proper_has_object_lock_and_bucket_settings() {
    let named: Vec<(String, Option<&str>)> = backends()
        .iter()
        .map(|(name, b)| (name.clone(), b.as_ref().unwrap().without_settings()))
        .collect();
    assert_eq!(
        named,
        vec![
            ("s3".to_string(), None),
            ("gcs".to_string(), Some("GCS")),
            ("az".to_string(), Some("Azure")),
            ("r2".to_string(), Some("R2")),
        ]
    );
}
