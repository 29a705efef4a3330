use super::*;
use crate::config::ConfigFormat;

fn index() -> CredentialIndex {
    let config = GatewayConfig::parse(
        r#"
            [[credentials]]
            access_key_id = "AKIDLIVE"
            secret_access_key = "live-secret"
            principal_name = "alice"
            [[credentials.allowed_scopes]]
            bucket = "data"
            actions = ["get_object"]

            [[credentials]]
            access_key_id = "AKIDOFF"
            secret_access_key = "off-secret"
            enabled = false

            [[credentials]]
            access_key_id = "AKIDOLD"
            secret_access_key = "old-secret"
            expires_at = "2024-01-01T00:00:00Z"
            "#,
        ConfigFormat::Toml,
    )
    .unwrap();
    CredentialIndex::new(&config)
}

const NOW: Timestamp = Timestamp(1_750_000_000);

#[test]
fn a_known_enabled_key_resolves_to_its_principal_and_scopes() {
    let got = index().lookup("AKIDLIVE", None, NOW).unwrap();
    assert_eq!(got.secret.expose(), "live-secret");
    match got.identity {
        Identity::Principal {
            name,
            access_key_id,
            role,
            scopes,
        } => {
            assert_eq!(name, "alice");
            assert_eq!(access_key_id, "AKIDLIVE");
            assert_eq!(role, None);
            assert_eq!(scopes.len(), 1);
        }
        Identity::Anonymous => panic!("expected a principal"),
    }
}

#[test]
fn an_unknown_key_is_invalid_access_key_id() {
    let e = index().lookup("NOPE", None, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidAccessKeyId);
}

#[test]
fn a_disabled_key_is_access_denied() {
    let e = index().lookup("AKIDOFF", None, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::AccessDenied);
    assert!(e.message.contains("disabled"));
}

#[test]
fn an_expired_key_is_expired_token_with_the_time() {
    let e = index().lookup("AKIDOLD", None, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::ExpiredToken);
    assert!(e.message.contains("2024-01-01T00:00:00"), "{}", e.message);
    // Not yet expired the second before.
    let before = Timestamp::parse_rfc3339("2023-12-31T23:59:59Z").unwrap();
    assert!(index().lookup("AKIDOLD", None, before).is_ok());
}

#[test]
fn a_session_token_with_a_long_lived_key_is_invalid_token() {
    let e = index().lookup("AKIDLIVE", Some("tok"), NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidToken);
}

#[test]
fn a_key_without_principal_name_is_named_by_its_id() {
    let got = index().lookup("AKIDOFF", None, NOW);
    assert!(got.is_err());
    let config = GatewayConfig::parse(
        "[[credentials]]\naccess_key_id = \"AK\"\nsecret_access_key = \"s\"\n",
        ConfigFormat::Toml,
    )
    .unwrap();
    let got = CredentialIndex::new(&config)
        .lookup("AK", None, NOW)
        .unwrap();
    assert!(matches!(got.identity, Identity::Principal { ref name, .. } if name == "AK"));
}
