//! The keys an Azure SAS is signed with (an account key, or a user delegation key federation
//! obtained), and the SAS terms the signers and [`super::federation`] share. Below both, so the
//! federation exchange can build a [`UserDelegationKey`] without importing the backend.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::auth::hmac;
use crate::time::Timestamp;

/// The storage service version every SAS is signed for (`sv`) and every request names.
pub(crate) const SAS_VERSION: &str = "2021-08-06";
/// How long a SAS stays valid: it is used at once; the margin covers slow uploads and drift.
pub(crate) const SAS_TTL_SECS: i64 = 3600;

/// A decoded account key (or user delegation key value). Zeroed on drop, never printed.
#[derive(Clone)]
pub struct SigningKey(pub(super) Zeroizing<Vec<u8>>);

impl SigningKey {
    /// Decodes a base64 key.
    pub fn from_base64(b64: &str) -> Option<Self> {
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim().as_bytes())
            .ok()
            .filter(|k| !k.is_empty())
            .map(|k| SigningKey(Zeroizing::new(k)))
    }

    /// base64(HMAC-SHA256(key, text)).
    pub(super) fn sign(&self, text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(hmac::sha256(&self.0, &[text.as_bytes()]))
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A user delegation key (Get User Delegation Key's answer): what a federated Azure bucket's
/// requests are signed with.
#[derive(Clone, Debug)]
pub struct UserDelegationKey {
    /// `SignedOid` (`skoid`).
    pub signed_oid: String,
    /// `SignedTid` (`sktid`).
    pub signed_tid: String,
    /// `SignedStart` (`skt`).
    pub signed_start: String,
    /// `SignedExpiry` (`ske`).
    pub signed_expiry: String,
    /// `SignedService` (`sks`).
    pub signed_service: String,
    /// `SignedVersion` (`skv`).
    pub signed_version: String,
    /// `Value`, decoded.
    pub value: SigningKey,
}

/// `2023-11-14T23:13:20Z`, as SAS times are written.
pub(crate) fn sas_time(t: Timestamp) -> String {
    t.iso8601().replace(".000Z", "Z")
}
