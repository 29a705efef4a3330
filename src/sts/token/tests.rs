use super::*;

/// A deterministic "random" source for tests.
pub(crate) fn counter_rng(seed: u8) -> impl FnMut(&mut [u8]) {
    let mut n = seed;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_mul(31).wrapping_add(7);
            *b = n;
        }
    }
}

fn keys(k: u8) -> SessionKeys {
    SessionKeys::new(&[k; 32], None).unwrap()
}

fn claims(akid: &str) -> SessionClaims {
    SessionClaims {
        access_key_id: akid.into(),
        role_id: "ci".into(),
        subject: "repo:org/repo:ref:refs/heads/main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        session_name: "build-42".into(),
        scopes: vec![
            Scope {
                bucket: "data".into(),
                prefixes: vec!["org/repo/".into(), "shared/".into()],
                actions: vec![Action::GetObject, Action::PutObject, Action::DeleteBucket],
            },
            Scope {
                bucket: "logs-*".into(),
                prefixes: vec![],
                actions: vec![Action::ListBucket],
            },
        ],
        issued_at: Timestamp(1_700_000_000),
        expires_at: Timestamp(1_700_003_600),
    }
}

const NOW: Timestamp = Timestamp(1_700_000_100);

#[test]
fn a_sealed_token_opens_to_the_same_claims_and_secret() {
    let k = keys(1);
    let c = claims("ASIAAAAAAAAAAAAAAAAA");
    let t = k.seal(&c, &mut counter_rng(1)).unwrap();
    let opened = k.open(&t, &c.access_key_id, NOW).unwrap();
    assert_eq!(opened.claims, c);
    assert_eq!(
        opened.secret_access_key.expose(),
        k.secret_for(&c.access_key_id).expose()
    );
}

#[test]
fn the_token_is_versioned_base64url_without_padding() {
    let k = keys(1);
    let t = k.seal(&claims("A"), &mut counter_rng(1)).unwrap();
    assert!(t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
    assert_eq!(raw[0], TOKEN_VERSION);
    assert_eq!(hex::encode(&raw[1..5]), k.current_key_id());
}

#[test]
fn two_seals_use_different_nonces() {
    let k = keys(1);
    let mut rng = counter_rng(1);
    let a = k.seal(&claims("A"), &mut rng).unwrap();
    let b = k.seal(&claims("A"), &mut rng).unwrap();
    assert_ne!(a, b);
}

#[test]
fn an_access_key_id_swapped_between_sessions_is_refused() {
    let k = keys(1);
    let t1 = k.seal(&claims("ASIAONE"), &mut counter_rng(1)).unwrap();
    let _t2 = k.seal(&claims("ASIATWO"), &mut counter_rng(2)).unwrap();
    assert_eq!(
        k.open(&t1, "ASIATWO", NOW).unwrap_err(),
        TokenError::Rejected
    );
}

#[test]
fn every_flipped_bit_is_detected_and_never_panics() {
    let k = keys(1);
    let t = k.seal(&claims("A"), &mut counter_rng(1)).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
    for i in 0..raw.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = raw.clone();
            bad[i] ^= bit;
            let err = k.open(&URL_SAFE_NO_PAD.encode(&bad), "A", NOW).unwrap_err();
            let expected = match i {
                0 => TokenError::UnsupportedVersion(bad[0]),
                1..=4 => TokenError::UnknownKey,
                _ => TokenError::Rejected,
            };
            assert_eq!(err, expected, "byte {i}");
        }
    }
}

#[test]
fn truncated_and_garbage_tokens_are_malformed() {
    let k = keys(1);
    let t = k.seal(&claims("A"), &mut counter_rng(1)).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
    for n in [0, 1, 5, HEADER_LEN, HEADER_LEN + TAG_LEN - 1] {
        let cut = URL_SAFE_NO_PAD.encode(&raw[..n]);
        assert!(
            matches!(k.open(&cut, "A", NOW), Err(TokenError::Malformed(_))),
            "{n}"
        );
    }
    // A full header and tag but no payload authenticates nothing.
    let cut = URL_SAFE_NO_PAD.encode(&raw[..HEADER_LEN + TAG_LEN]);
    assert_eq!(k.open(&cut, "A", NOW).unwrap_err(), TokenError::Rejected);
    assert!(matches!(
        k.open("not base64!", "A", NOW),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        k.open(&"A".repeat(MAX_TOKEN_CHARS + 1), "A", NOW),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn an_expired_token_is_reported_as_expired() {
    let k = keys(1);
    let c = claims("A");
    let t = k.seal(&c, &mut counter_rng(1)).unwrap();
    assert_eq!(
        k.open(&t, "A", c.expires_at).unwrap_err(),
        TokenError::Expired {
            expired_at: c.expires_at
        }
    );
    assert!(k.open(&t, "A", Timestamp(c.expires_at.0 - 1)).is_ok());
}

#[test]
fn a_token_sealed_with_the_previous_key_still_opens_during_rotation() {
    let old = keys(1);
    let t = old.seal(&claims("A"), &mut counter_rng(1)).unwrap();
    let rotated = SessionKeys::new(&[2; 32], Some(&[1; 32])).unwrap();
    let opened = rotated.open(&t, "A", NOW).unwrap();
    assert_eq!(
        opened.secret_access_key.expose(),
        old.secret_for("A").expose(),
        "the secret is derived with the key that sealed the token"
    );
    // New tokens are sealed with the new key.
    let t2 = rotated.seal(&claims("A"), &mut counter_rng(1)).unwrap();
    assert_eq!(old.open(&t2, "A", NOW).unwrap_err(), TokenError::UnknownKey);
}

#[test]
fn a_token_sealed_with_a_rotated_out_key_is_refused() {
    let t = keys(1).seal(&claims("A"), &mut counter_rng(1)).unwrap();
    let later = SessionKeys::new(&[3; 32], Some(&[2; 32])).unwrap();
    assert_eq!(
        later.open(&t, "A", NOW).unwrap_err(),
        TokenError::UnknownKey
    );
}

#[test]
fn token_errors_map_to_s3_codes() {
    let code = |e: TokenError| S3Error::from(e).code;
    assert_eq!(code(TokenError::Rejected), ErrorCode::AccessDenied);
    assert_eq!(
        code(TokenError::Expired {
            expired_at: Timestamp(0)
        }),
        ErrorCode::ExpiredToken
    );
    assert_eq!(code(TokenError::UnknownKey), ErrorCode::InvalidToken);
    assert_eq!(code(TokenError::Malformed("x")), ErrorCode::InvalidToken);
    assert_eq!(
        code(TokenError::UnsupportedVersion(9)),
        ErrorCode::InvalidToken
    );
}

#[test]
fn env_values_accept_base64_variants_and_reject_bad_lengths() {
    let std64 = STANDARD.encode([7u8; 32]);
    let url = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let a = SessionKeys::from_env_values(&std64, None).unwrap();
    let b = SessionKeys::from_env_values(&format!(" {url}\n"), Some("")).unwrap();
    assert_eq!(a.current_key_id(), b.current_key_id());
    assert_eq!(
        SessionKeys::from_env_values(&STANDARD.encode([7u8; 16]), None).unwrap_err(),
        KeyError::WrongLength {
            var: "SESSION_TOKEN_KEY",
            len: 16
        }
    );
    assert_eq!(
        SessionKeys::from_env_values(&std64, Some("***")).unwrap_err(),
        KeyError::NotBase64 {
            var: "SESSION_TOKEN_KEY_PREVIOUS"
        }
    );
}

#[test]
fn debug_shows_key_ids_only() {
    let k = SessionKeys::new(&[9; 32], Some(&[8; 32])).unwrap();
    let d = format!("{k:?}");
    assert!(d.contains(&k.current_key_id()));
    assert!(!d.contains("0909"));
}

#[test]
fn minted_access_key_ids_look_like_aws_temporary_keys() {
    let mut rng = counter_rng(5);
    let a = mint_access_key_id(&mut rng);
    let b = mint_access_key_id(&mut rng);
    assert_eq!(a.len(), 20);
    assert!(a.starts_with("ASIA"));
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
    assert_ne!(a, b);
}

#[test]
fn every_action_can_be_sealed() {
    for a in Action::ALL {
        assert!(
            TOKEN_ACTIONS.contains(&a),
            "{a} is missing from TOKEN_ACTIONS"
        );
    }
    assert!(TOKEN_ACTIONS.len() < 64);
}

#[test]
fn a_version_1_token_sealed_before_the_action_list_grew_still_opens() {
    let k = keys(1);
    let c = claims("ASIAAAAAAAAAAAAAAAAA");
    let t = k.seal_as(TOKEN_VERSION_1, &c, &mut counter_rng(1)).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap()[0], 1);
    assert_eq!(k.open(&t, &c.access_key_id, NOW).unwrap().claims, c);
}

#[test]
fn the_session_identity_carries_role_and_scopes() {
    let c = claims("ASIAX");
    let Identity::Principal {
        name,
        access_key_id,
        role,
        scopes,
    } = c.identity()
    else {
        panic!("not a principal");
    };
    assert_eq!(name, c.subject);
    assert_eq!(access_key_id, "ASIAX");
    assert_eq!(role.as_deref(), Some("ci"));
    assert_eq!(scopes, c.scopes);
}

#[test]
fn the_session_store_opens_tokens_and_falls_back_for_plain_keys() {
    struct Plain;
    impl CredentialStore for Plain {
        fn lookup(
            &self,
            id: &str,
            _: Option<&str>,
            _: Timestamp,
        ) -> Result<ResolvedCredential, S3Error> {
            Err(S3Error::new(ErrorCode::InvalidAccessKeyId, id.to_string()))
        }
    }
    let k = keys(1);
    let store = SessionCredentialStore {
        keys: &k,
        fallback: &Plain,
    };
    let t = k.seal(&claims("ASIAX"), &mut counter_rng(1)).unwrap();
    let r = store.lookup("ASIAX", Some(&t), NOW).unwrap();
    assert_eq!(r.secret.expose(), k.secret_for("ASIAX").expose());
    assert_eq!(
        store.lookup("AKIA", None, NOW).unwrap_err().code,
        ErrorCode::InvalidAccessKeyId
    );
    assert_eq!(
        store.lookup("ASIAY", Some(&t), NOW).unwrap_err().code,
        ErrorCode::AccessDenied
    );
}
