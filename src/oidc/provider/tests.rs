use super::*;
use crate::config::RoleConfig;
use crate::sts::jwt::{check_claims, peek, verify_signature, Jwks};

const PKCS8: &str = include_str!("../../sts/testdata/provider_pkcs8_test_only.pem");
const PKCS1: &str = include_str!("../../sts/testdata/provider_pkcs1_test_only.pem");
const SMALL: &str = include_str!("../../sts/testdata/rsa1024_test_only.pem");
const ISSUER: &str = "https://gw.example.com";
const NOW: Timestamp = Timestamp(1_700_000_000);

fn provider() -> OidcProvider {
    OidcProvider::from_env_values(ISSUER, PKCS8, None).unwrap()
}

/// A counter-based byte source: `seed` varies every call after the first (the `jti`).
fn rng(seed: u8) -> impl FnMut(&mut [u8]) {
    let mut calls = 0u32;
    move |buf: &mut [u8]| {
        calls += 1;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = if calls == 1 {
                0xAB
            } else {
                seed.wrapping_mul(31).wrapping_add(i as u8)
            };
        }
    }
}

fn role(audience: &str) -> RoleConfig {
    RoleConfig {
        role_id: "r".into(),
        name: None,
        trusted_oidc_issuers: vec![ISSUER.into()],
        required_audiences: vec![audience.into()],
        subject_conditions: vec!["*".into()],
        claim_conditions: Default::default(),
        max_session_duration_secs: None,
        allowed_scopes: vec![],
    }
}

fn mint(p: &OidcProvider, seed: u8) -> String {
    p.mint(
        &MintRequest {
            subject: "my-bucket",
            audience: "sts.amazonaws.com",
            ttl_secs: 300,
        },
        NOW,
        &mut rng(seed),
    )
    .unwrap()
}

#[test]
fn the_rfc_7638_example_key_has_the_rfc_thumbprint() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    assert_eq!(
        rsa_thumbprint(n, "AQAB"),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn pkcs8_and_pkcs1_keys_load_and_publish_their_thumbprint_as_kid() {
    for pem in [PKCS8, PKCS1] {
        let p = OidcProvider::from_env_values(ISSUER, pem, None).unwrap();
        let jwks: Value = serde_json::from_str(p.jwks_document()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["e"], "AQAB");
        let kid = rsa_thumbprint(key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
        assert_eq!(key["kid"], kid.as_str());
        assert_eq!(p.current_kid(), kid);
        assert_eq!(kid.len(), 43, "base64url of a sha256");
    }
}

#[test]
fn a_pem_with_literal_backslash_n_line_breaks_loads() {
    let escaped = PKCS8.trim().replace('\n', "\\n");
    let p = OidcProvider::from_env_values(ISSUER, &escaped, None).unwrap();
    assert_eq!(p.current_kid(), provider().current_kid());
}

#[test]
fn unusable_keys_are_refused_with_the_variable_named_and_no_key_material() {
    let err = |issuer: &str, pem: &str, prev: Option<&str>| {
        OidcProvider::from_env_values(issuer, pem, prev).unwrap_err()
    };
    let e = err(ISSUER, "not a key", None);
    assert_eq!(e.name, "OIDC_PROVIDER_KEY");
    assert!(e.reason.contains("PEM"), "{e}");
    let e = err(ISSUER, SMALL, None);
    assert!(e.reason.contains("1024 bits"), "{e}");
    let e = err(
        ISSUER,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
        None,
    );
    assert!(e.reason.contains("encrypted"), "{e}");
    let broken = PKCS8.replacen("MII", "MIX", 1);
    let e = err(ISSUER, &broken, None);
    assert!(e.reason.contains("PKCS#8"), "{e}");
    assert!(!e.to_string().contains("MIX"), "{e}");
    let e = err(ISSUER, PKCS8, Some("garbage"));
    assert_eq!(e.name, "OIDC_PROVIDER_KEY_PREVIOUS");
    for bad in [
        "http://gw.example.com",
        "gw.example.com",
        "https://",
        "https://x/?a=b",
    ] {
        assert_eq!(err(bad, PKCS8, None).name, "OIDC_PROVIDER_ISSUER", "{bad}");
    }
}

#[test]
fn the_discovery_document_names_the_issuer_jwks_and_rs256() {
    let p = OidcProvider::from_env_values("https://gw.example.com/oidc/", PKCS8, None).unwrap();
    let d: Value = serde_json::from_str(p.discovery_document()).unwrap();
    assert_eq!(d["issuer"], "https://gw.example.com/oidc");
    assert_eq!(
        d["jwks_uri"],
        "https://gw.example.com/oidc/.well-known/jwks.json"
    );
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(d["response_types_supported"], json!(["id_token"]));
    assert_eq!(d["subject_types_supported"], json!(["public"]));
    assert!(d["claims_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("jti")));
    // The discovery document passes our own STS's check of a fetched one.
    assert_eq!(
        crate::sts::fetch::jwks_uri(p.discovery_document().as_bytes(), p.issuer()).unwrap(),
        "https://gw.example.com/oidc/.well-known/jwks.json"
    );
    assert_eq!(p.issuer_path(), "/oidc");
    assert!(p
        .document_for("/oidc/.well-known/openid-configuration")
        .is_some());
    assert!(p.document_for("/oidc/.well-known/jwks.json").is_some());
    assert!(p.document_for("/.well-known/jwks.json").is_none());
    assert!(p.document_for("/oidc/.well-known/other").is_none());
    let root = provider();
    assert_eq!(root.issuer_path(), "");
    assert_eq!(
        root.document_for("/.well-known/jwks.json"),
        Some(root.jwks_document())
    );
}

#[test]
fn a_minted_token_verifies_against_the_published_jwks_with_every_claim() {
    let p = provider();
    let token = mint(&p, 1);
    let jwks = Jwks::parse(p.jwks_document().as_bytes()).unwrap();
    let peeked = peek(&token).unwrap();
    assert_eq!(peeked.issuer(), Some(ISSUER));
    let claims = verify_signature(peeked, &jwks).unwrap();
    let checked = check_claims(&claims, &role("sts.amazonaws.com"), NOW).unwrap();
    assert_eq!(checked.subject, "my-bucket");
    assert_eq!(checked.expires_at, Timestamp(NOW.0 + 300));
    assert_eq!(claims.get("iat"), Some(&json!(NOW.0)));
    assert_eq!(claims.get("nbf"), Some(&json!(NOW.0)));
    assert_eq!(claims.get("jti"), Some(&json!("ab".repeat(16))));
    // Audience is checked like any issuer's.
    assert!(check_claims(&claims, &role("other"), NOW).is_err());
    // Header: RS256 with the thumbprint kid.
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": p.current_kid()})
    );
}

#[test]
fn signing_is_deterministic_whatever_the_blinding_bytes() {
    let p = provider();
    assert_eq!(mint(&p, 1), mint(&p, 2));
}

#[test]
fn a_tampered_minted_token_does_not_verify() {
    let p = provider();
    let token = mint(&p, 1);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let claims = json!({"iss": ISSUER, "sub": "other-bucket", "aud": "sts.amazonaws.com",
        "iat": NOW.0, "nbf": NOW.0, "exp": NOW.0 + 300});
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let jwks = Jwks::parse(p.jwks_document().as_bytes()).unwrap();
    assert!(verify_signature(peek(&parts.join(".")).unwrap(), &jwks).is_err());
}

#[test]
fn during_a_rotation_both_keys_are_published_and_old_tokens_still_verify() {
    let old = OidcProvider::from_env_values(ISSUER, PKCS1, None).unwrap();
    let old_token = mint(&old, 1);
    let rotated = OidcProvider::from_env_values(ISSUER, PKCS8, Some(PKCS1)).unwrap();
    let jwks: Value = serde_json::from_str(rotated.jwks_document()).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [rotated.current_kid(), old.current_kid()]);
    let parsed = Jwks::parse(rotated.jwks_document().as_bytes()).unwrap();
    assert!(verify_signature(peek(&old_token).unwrap(), &parsed).is_ok());
    assert!(verify_signature(peek(&mint(&rotated, 1)).unwrap(), &parsed).is_ok());
    // The same key given twice is published once.
    let same = OidcProvider::from_env_values(ISSUER, PKCS8, Some(PKCS8)).unwrap();
    let jwks: Value = serde_json::from_str(same.jwks_document()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn the_private_key_never_shows_in_debug_output() {
    let dbg = format!("{:?}", provider());
    assert!(dbg.contains("kid"), "{dbg}");
    assert!(
        !dbg.contains("BigUint") && !dbg.contains("primes") && dbg.len() < 200,
        "{dbg}"
    );
}
