//! Step 2: the token's signature, checked with the issuer's keys that fit its algorithm.

use super::*;

pub(super) fn verify_with(alg: Algorithm, key: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::{pkcs1v15, pss};
    match (alg, key) {
        (Algorithm::RS256, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha256>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::RS384, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha384>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::RS512, PublicKey::Rsa(k)) => rsa_verify::<pkcs1v15::VerifyingKey<Sha512>, _>(
            pkcs1v15::VerifyingKey::new(k.clone()),
            msg,
            sig,
        ),
        (Algorithm::PS256, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha256>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::PS384, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha384>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::PS512, PublicKey::Rsa(k)) => {
            rsa_verify::<pss::VerifyingKey<Sha512>, _>(pss::VerifyingKey::new(k.clone()), msg, sig)
        }
        (Algorithm::ES256, PublicKey::P256(k)) => {
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (Algorithm::ES384, PublicKey::P384(k)) => {
            p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
        }
        (Algorithm::EdDSA, PublicKey::Ed25519(k)) => <[u8; 64]>::try_from(sig).is_ok_and(|s| {
            k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&s))
                .is_ok()
        }),
        _ => false,
    }
}

pub(super) fn rsa_verify<V, S>(key: V, msg: &[u8], sig: &[u8]) -> bool
where
    V: Verifier<S>,
    S: for<'a> TryFrom<&'a [u8]>,
{
    S::try_from(sig).is_ok_and(|s| key.verify(msg, &s).is_ok())
}

/// Checks the signature of a peeked token with the issuer's JWKS and returns its claims (still
/// to be checked with [`check_claims`]).
pub(crate) fn verify_signature(
    token: UnverifiedToken<'_>,
    jwks: &Jwks,
) -> Result<Claims, JwtError> {
    let fits = |k: &&Jwk| {
        token.alg.fits(&k.key)
            && k.alg
                .as_deref()
                .is_none_or(|a| Algorithm::from_name(a) == Some(token.alg))
    };
    let candidates: Vec<&Jwk> = match &token.kid {
        Some(kid) => {
            let with_kid: Vec<&Jwk> = jwks
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                .collect();
            if with_kid.is_empty() {
                return Err(JwtError::UnknownKid {
                    kid: kid.chars().take(128).collect(),
                });
            }
            with_kid.into_iter().filter(fits).collect()
        }
        None => jwks.keys.iter().filter(fits).collect(),
    };
    if candidates.is_empty() {
        return Err(if token.kid.is_some() {
            JwtError::BadSignature
        } else {
            JwtError::NoUsableKey(token.alg)
        });
    }
    let msg = token.signing_input.as_bytes();
    if candidates
        .iter()
        .any(|k| verify_with(token.alg, &k.key, msg, &token.signature))
    {
        Ok(token.claims)
    } else {
        Err(JwtError::BadSignature)
    }
}
