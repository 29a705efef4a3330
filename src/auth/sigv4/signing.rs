//! The credential scope, string to sign, signing key and signature, and the cache of
//! signing keys (one HMAC chain per key, date, region and service).

use super::*;

/// `date/region/service/aws4_request`.
pub(crate) fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Derives the signing key (uncached).
pub(crate) fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = zeroize::Zeroizing::new(format!("AWS4{}", secret.expose()));
    let k_date = hmac::sha256(k_secret.as_bytes(), &[date.as_bytes()]);
    let k_region = hmac::sha256(&k_date, &[region.as_bytes()]);
    let k_service = hmac::sha256(&k_region, &[service.as_bytes()]);
    hmac::sha256(&k_service, &[b"aws4_request"])
}

/// The signature of a string to sign.
pub(crate) fn sign(key: &[u8; 32], string_to_sign: &str) -> Signature {
    Signature(hmac::sha256(key, &[string_to_sign.as_bytes()]))
}

/// Derived signing keys per (access key, secret fingerprint, date, region, service), computed
/// once per isolate/process.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<KeyId, [u8; 32]>>,
}

/// (access key id, secret fingerprint, date, region, service).
pub(super) type KeyId = (String, [u8; 8], String, String, String);

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeyCache")
    }
}

/// Bound on cached keys; a day's keys for many credentials fit, and a flood of junk cannot grow it.
pub(super) const MAX_CACHED_KEYS: usize = 1024;

impl SigningKeyCache {
    /// The signing key, from the cache when possible.
    pub fn get(
        &self,
        access_key_id: &str,
        secret: &SecretKey,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        let digest = Sha256::digest(secret.expose().as_bytes());
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&digest[..8]);
        let id = (
            access_key_id.to_string(),
            fp,
            date.to_string(),
            region.to_string(),
            service.to_string(),
        );
        if let Ok(map) = self.keys.lock() {
            if let Some(k) = map.get(&id) {
                return *k;
            }
        }
        let key = signing_key(secret, date, region, service);
        if let Ok(mut map) = self.keys.lock() {
            if map.len() >= MAX_CACHED_KEYS {
                map.clear();
            }
            map.insert(id, key);
        }
        key
    }
}
