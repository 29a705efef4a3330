use super::*;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::json;

pub(crate) const ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(crate) const NOW: Timestamp = Timestamp(1_700_000_000);

pub(crate) fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa2048_test_only.pem"))
        .expect("test key")
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// A deterministic RNG for PSS signing in tests.
struct TestRng(u64);
impl rsa::rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        u32::try_from(self.next_u64() >> 32).unwrap_or(0)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64().to_be_bytes()[0];
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rsa::rand_core::CryptoRng for TestRng {}

/// Test signing keys and their JWKS entries.
pub(crate) enum TestKey {
    Rsa(rsa::RsaPrivateKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed(ed25519_dalek::SigningKey),
}

impl TestKey {
    pub(crate) fn p256() -> Self {
        TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap())
    }
    fn p384() -> Self {
        TestKey::P384(p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap())
    }
    fn ed() -> Self {
        TestKey::Ed(ed25519_dalek::SigningKey::from_bytes(&[0x33; 32]))
    }

    pub(crate) fn jwk(&self, kid: &str) -> Value {
        match self {
            TestKey::Rsa(k) => json!({
                "kty": "RSA", "kid": kid, "use": "sig",
                "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()),
            }),
            TestKey::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "kid": kid,
                    "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
            }
            TestKey::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-384", "kid": kid,
                    "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
            }
            TestKey::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": b64(k.verifying_key().as_bytes())}),
        }
    }

    pub(crate) fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        use rsa::{pkcs1v15, pss};
        match (self, alg) {
            (TestKey::Rsa(k), "RS256") => pkcs1v15::SigningKey::<Sha256>::new(k.clone())
                .sign(input)
                .to_vec(),
            (TestKey::Rsa(k), "RS384") => pkcs1v15::SigningKey::<Sha384>::new(k.clone())
                .sign(input)
                .to_vec(),
            (TestKey::Rsa(k), "RS512") => pkcs1v15::SigningKey::<Sha512>::new(k.clone())
                .sign(input)
                .to_vec(),
            (TestKey::Rsa(k), "PS256") => pss::SigningKey::<Sha256>::new(k.clone())
                .sign_with_rng(&mut TestRng(9), input)
                .to_vec(),
            (TestKey::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (TestKey::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (TestKey::Ed(k), _) => {
                use ed25519_dalek::Signer as _;
                k.sign(input).to_bytes().to_vec()
            }
            _ => panic!("no test signer for {alg}"),
        }
    }
}

/// A signed compact JWS.
pub(crate) fn jwt(key: &TestKey, alg: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key.sign(alg, input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

pub(crate) fn jwks(entries: &[Value]) -> Jwks {
    Jwks::parse(json!({ "keys": entries }).to_string().as_bytes()).unwrap()
}

pub(crate) fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": "sts.amazonaws.com",
        "sub": "repo:org/repo:ref:refs/heads/main",
        "repository": "org/repo",
        "ref": "refs/heads/main",
        "exp": NOW.0 + 300,
        "iat": NOW.0 - 10,
        "nbf": NOW.0 - 10,
    })
}

pub(crate) fn role() -> RoleConfig {
    RoleConfig {
        role_id: "ci".into(),
        name: None,
        trusted_oidc_issuers: vec![ISSUER.into()],
        required_audiences: vec!["sts.amazonaws.com".into()],
        subject_conditions: vec!["repo:org/*".into()],
        claim_conditions: Default::default(),
        max_session_duration_secs: Some(7200),
        allowed_scopes: vec![],
    }
}

fn validate(token: &str, jwks: &Jwks, role: &RoleConfig) -> Result<CheckedClaims, JwtError> {
    let claims = verify_signature(peek(token)?, jwks)?;
    check_claims(&claims, role, NOW)
}

#[test]
fn every_accepted_algorithm_verifies() {
    let rsa = TestKey::Rsa(rsa_key());
    let cases = [
        (&rsa, "RS256"),
        (&rsa, "RS384"),
        (&rsa, "RS512"),
        (&rsa, "PS256"),
        (&TestKey::p256(), "ES256"),
        (&TestKey::p384(), "ES384"),
        (&TestKey::ed(), "EdDSA"),
    ];
    for (key, alg) in cases {
        let set = jwks(&[key.jwk("k1")]);
        let t = jwt(key, alg, Some("k1"), &good_claims());
        let checked = validate(&t, &set, &role()).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(checked.subject, "repo:org/repo:ref:refs/heads/main");
        assert_eq!(checked.audience.as_deref(), Some("sts.amazonaws.com"));
    }
}

#[test]
fn alg_none_is_refused() {
    let input = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(good_claims().to_string().as_bytes())
    );
    assert_eq!(
        peek(&input).unwrap_err(),
        JwtError::UnsupportedAlgorithm("none".into())
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let key = TestKey::Rsa(rsa_key());
    let jwk = key.jwk("k1");
    // The classic confusion attack: the issuer's public key used as an HMAC secret.
    let secret = jwk.to_string();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"k1"}"#),
        b64(good_claims().to_string().as_bytes())
    );
    let mac = crate::auth::hmac::sha256(secret.as_bytes(), &[input.as_bytes()]);
    let t = format!("{input}.{}", b64(&mac));
    assert_eq!(
        validate(&t, &jwks(&[jwk]), &role()).unwrap_err(),
        JwtError::UnsupportedAlgorithm("HS256".into())
    );
}

#[test]
fn an_unknown_kid_is_reported_distinctly_for_a_refetch() {
    let key = TestKey::p256();
    let t = jwt(&key, "ES256", Some("new-key"), &good_claims());
    assert_eq!(
        validate(&t, &jwks(&[key.jwk("old-key")]), &role()).unwrap_err(),
        JwtError::UnknownKid {
            kid: "new-key".into()
        }
    );
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let signer = TestKey::p256();
    let other = TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap());
    let t = jwt(&signer, "ES256", Some("k1"), &good_claims());
    assert_eq!(
        validate(&t, &jwks(&[other.jwk("k1")]), &role()).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn a_tampered_claim_breaks_the_signature() {
    let key = TestKey::Rsa(rsa_key());
    let t = jwt(&key, "RS256", Some("k1"), &good_claims());
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    let mut c = good_claims();
    c["sub"] = json!("repo:org/evil:ref:refs/heads/main");
    parts[1] = b64(c.to_string().as_bytes());
    assert_eq!(
        validate(&parts.join("."), &jwks(&[key.jwk("k1")]), &role()).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn a_key_of_the_wrong_type_for_the_algorithm_is_not_used() {
    // An EC key in the JWKS under the kid of an RS256 token.
    let rsa = TestKey::Rsa(rsa_key());
    let t = jwt(&rsa, "RS256", Some("k1"), &good_claims());
    assert_eq!(
        validate(&t, &jwks(&[TestKey::p256().jwk("k1")]), &role()).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn a_jwk_pinned_to_another_alg_is_not_used() {
    let rsa = TestKey::Rsa(rsa_key());
    let mut jwk = rsa.jwk("k1");
    jwk["alg"] = json!("PS256");
    let t = jwt(&rsa, "RS256", Some("k1"), &good_claims());
    assert_eq!(
        validate(&t, &jwks(&[jwk]), &role()).unwrap_err(),
        JwtError::BadSignature
    );
}

#[test]
fn without_kid_every_fitting_key_is_tried() {
    let a = TestKey::p256();
    let b = TestKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x55; 32]).unwrap());
    let t = jwt(&b, "ES256", None, &good_claims());
    let set = jwks(&[a.jwk("a"), b.jwk("b")]);
    assert!(validate(&t, &set, &role()).is_ok());
    assert_eq!(
        validate(&t, &jwks(&[TestKey::ed().jwk("e")]), &role()).unwrap_err(),
        JwtError::NoUsableKey(Algorithm::ES256)
    );
}

#[test]
fn jwks_skips_encryption_and_unknown_keys() {
    let mut enc = TestKey::p256().jwk("enc");
    enc["use"] = json!("enc");
    let set = jwks(&[
        enc,
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        TestKey::ed().jwk("ok"),
    ]);
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped(), 4);
    assert!(set.contains_kid("ok"));
    assert!(Jwks::parse(b"[]").is_err());
    assert!(Jwks::parse(b"not json").is_err());
}

#[test]
fn crit_headers_are_refused() {
    let input = format!(
        "{}.{}.AA",
        b64(br#"{"alg":"RS256","crit":["exp"]}"#),
        b64(b"{}")
    );
    assert_eq!(peek(&input).unwrap_err(), JwtError::CriticalHeader);
}

#[test]
fn malformed_tokens_are_errors_not_panics() {
    for t in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9..",
        "eyJhbGciOjF9.e30.AA",
        "W10.e30.AA",
    ] {
        assert!(peek(t).is_err(), "{t:?}");
    }
    assert_eq!(
        peek(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
        JwtError::TooLarge
    );
}

fn check(claims: Value, role: &RoleConfig) -> Result<CheckedClaims, JwtError> {
    check_claims(claims.as_object().unwrap(), role, NOW)
}

#[test]
fn an_untrusted_issuer_is_refused() {
    let mut c = good_claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        check(c, &role()).unwrap_err(),
        JwtError::UntrustedIssuer("https://evil.example".into())
    );
}

#[test]
fn the_audience_may_be_a_string_or_a_list() {
    let mut c = good_claims();
    c["aud"] = json!(["other", "sts.amazonaws.com"]);
    assert_eq!(
        check(c.clone(), &role()).unwrap().audience.as_deref(),
        Some("sts.amazonaws.com")
    );
    c["aud"] = json!(["other"]);
    assert_eq!(
        check(c.clone(), &role()).unwrap_err(),
        JwtError::AudienceMismatch
    );
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        check(c.clone(), &role()).unwrap_err(),
        JwtError::AudienceMismatch
    );
}

#[test]
fn a_role_without_audiences_accepts_no_token_at_all() {
    let mut open = role();
    open.required_audiences.clear();
    let mut c = good_claims();
    assert_eq!(
        check(c.clone(), &open).unwrap_err(),
        JwtError::AudienceMismatch
    );
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(check(c, &open).unwrap_err(), JwtError::AudienceMismatch);
}

#[test]
fn exp_is_required_and_strict() {
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(c.clone(), &role()).unwrap_err(),
        JwtError::MissingClaim("exp")
    );
    c["exp"] = json!(NOW.0);
    assert_eq!(
        check(c.clone(), &role()).unwrap_err(),
        JwtError::Expired(NOW)
    );
    c["exp"] = json!(NOW.0 as f64 + 0.5);
    assert!(check(c.clone(), &role()).is_err(), "floored to now");
    c["exp"] = json!("tomorrow");
    assert!(matches!(check(c, &role()), Err(JwtError::Malformed(_))));
}

#[test]
fn nbf_and_iat_get_sixty_seconds_of_leeway() {
    let mut c = good_claims();
    c["nbf"] = json!(NOW.0 + 60);
    c["iat"] = json!(NOW.0 + 60);
    assert!(check(c.clone(), &role()).is_ok());
    c["nbf"] = json!(NOW.0 + 61);
    assert_eq!(
        check(c.clone(), &role()).unwrap_err(),
        JwtError::NotYetValid(Timestamp(NOW.0 + 61))
    );
    c["nbf"] = json!(NOW.0);
    c["iat"] = json!(NOW.0 + 61);
    assert_eq!(
        check(c, &role()).unwrap_err(),
        JwtError::IssuedInFuture(Timestamp(NOW.0 + 61))
    );
}

#[test]
fn the_subject_must_match_a_condition_glob() {
    let mut c = good_claims();
    c["sub"] = json!("repo:other/repo:ref:refs/heads/main");
    assert!(matches!(
        check(c.clone(), &role()),
        Err(JwtError::SubjectRejected(_))
    ));
    let mut none = role();
    none.subject_conditions.clear();
    assert!(matches!(
        check(good_claims(), &none),
        Err(JwtError::SubjectRejected(_))
    ));
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        check(c, &role()).unwrap_err(),
        JwtError::MissingClaim("sub")
    );
}

#[test]
fn claim_conditions_match_by_glob_and_fail_closed() {
    let mut r = role();
    r.claim_conditions.insert(
        "ref".into(),
        vec!["refs/heads/main".into(), "refs/tags/v*".into()],
    );
    r.claim_conditions
        .insert("repository".into(), vec!["org/*".into()]);
    assert!(check(good_claims(), &r).is_ok());
    let mut c = good_claims();
    c["ref"] = json!("refs/heads/feature");
    assert_eq!(
        check(c.clone(), &r).unwrap_err(),
        JwtError::ClaimRejected("ref".into())
    );
    c["ref"] = json!("refs/tags/v1.2");
    assert!(check(c.clone(), &r).is_ok());
    c.as_object_mut().unwrap().remove("repository");
    assert_eq!(
        check(c, &r).unwrap_err(),
        JwtError::ClaimRejected("repository".into())
    );
}

#[test]
fn claim_conditions_match_numbers_booleans_and_lists() {
    let globs = vec!["12*".to_string(), "true".into(), "admins".into()];
    assert!(claim_matches(Some(&json!(1234)), &globs));
    assert!(claim_matches(Some(&json!(true)), &globs));
    assert!(claim_matches(Some(&json!(["users", "admins"])), &globs));
    assert!(!claim_matches(Some(&json!(["users"])), &globs));
    assert!(!claim_matches(Some(&json!({"admins": 1})), &globs));
    assert!(!claim_matches(Some(&Value::Null), &globs));
    assert!(!claim_matches(None, &globs));
}
