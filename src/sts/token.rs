//! Sealed session tokens: what an STS session may do, encrypted into the `x-amz-security-token`
//! the client sends with every request, so the gateway keeps no session state.
//!
//! # Wire format (version 2; version 1 still opens)
//!
//! ```text
//! base64url-no-pad( version:u8 = 2 | key_id:[u8; 4] | nonce:[u8; 12] | AES-256-GCM(payload) || tag:[u8; 16] )
//! associated data = version | key_id | access_key_id (UTF-8)
//! ```
//!
//! - `key_id` is the first 4 bytes of SHA-256 of the raw key, so a token sealed with a key the
//!   gateway no longer holds is recognised as such without trial decryption.
//! - The access key id is bound as associated data: a token presented with any other access key
//!   id fails authentication, exactly like a tampered one.
//! - The payload is a compact binary encoding (big-endian, `u16`-length-prefixed UTF-8 strings):
//!   issued-at and expiry (`i64` seconds), role id, subject, issuer, session name, then the scopes
//!   (after template expansion) as bucket, prefixes and an action bitmask over
//!   [`TOKEN_ACTIONS`]: a `u64` in version 2, a `u16` over its first [`V1_ACTION_COUNT`] in
//!   version 1 (tokens sealed before the action list outgrew 16 bits; they open unchanged).
//!
//! # Keys
//!
//! `SESSION_TOKEN_KEY` (32 bytes, base64) seals new tokens; `SESSION_TOKEN_KEY_PREVIOUS`, when
//! set, still opens tokens sealed before a rotation. From each raw key two subkeys are derived by
//! HMAC-SHA256 with fixed labels: the AES-256-GCM key and the secret-derivation key.
//!
//! # The temporary secret access key
//!
//! It is **derived, not stored**: `secret = base64url(HMAC-SHA256(secret_subkey, "v1" |
//! access_key_id))` with the subkey of the key that sealed the token. The token therefore carries
//! no secret at all (it travels on every request); the gateway recomputes the secret when it
//! opens the token, to verify SigV4. Rotating a key out invalidates its sessions' secrets too.
//!
//! # Invariants
//!
//! - Opening never panics on any input; each failure is a distinct [`TokenError`].
//! - Nonces and access key ids come from the caller's random source; the core has none.
//! - Expiry is checked against the `now` passed in, after authentication.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::auth::hmac;
use crate::auth::secret::SecretKey;
use crate::auth::{CredentialStore, ResolvedCredential};
use crate::policy::{Action, Identity, Scope};
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

/// The format version written by [`SessionKeys::seal`].
pub(crate) const TOKEN_VERSION: u8 = 2;
/// The earlier format version [`SessionKeys::open`] still accepts (a `u16` action mask).
const TOKEN_VERSION_1: u8 = 1;
/// Longest token accepted by [`SessionKeys::open`], in base64 characters. Larger input is refused
/// before decoding.
pub(crate) const MAX_TOKEN_CHARS: usize = 8192;
/// Bytes of a key id.
pub(crate) const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The action bits: bit `i` is `TOKEN_ACTIONS[i]`. Append only; never reorder (sealed tokens
/// would change meaning). At most 64.
pub(crate) const TOKEN_ACTIONS: [Action; 31] = [
    Action::GetObject,
    Action::HeadObject,
    Action::PutObject,
    Action::DeleteObject,
    Action::ListBucket,
    Action::CreateMultipartUpload,
    Action::UploadPart,
    Action::CompleteMultipartUpload,
    Action::AbortMultipartUpload,
    Action::ListMultipartUploadParts,
    Action::ListBucketMultipartUploads,
    Action::CreateBucket,
    Action::DeleteBucket,
    Action::GetObjectTagging,
    Action::PutObjectTagging,
    Action::GetObjectVersion,
    Action::DeleteObjectVersion,
    Action::ListBucketVersions,
    Action::GetBucketVersioning,
    Action::PutBucketVersioning,
    Action::GetObjectRetention,
    Action::PutObjectRetention,
    Action::GetObjectLegalHold,
    Action::PutObjectLegalHold,
    Action::GetBucketObjectLockConfiguration,
    Action::PutBucketObjectLockConfiguration,
    Action::BypassGovernanceRetention,
    Action::GetBucketTagging,
    Action::PutBucketTagging,
    Action::GetEncryptionConfiguration,
    Action::PutEncryptionConfiguration,
];

/// How many of [`TOKEN_ACTIONS`] a version-1 token's `u16` mask can name.
pub(crate) const V1_ACTION_COUNT: usize = 15;

/// What a session token holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClaims {
    /// The temporary access key id (bound to the token, not stored in it).
    pub access_key_id: String,
    /// The role the session was minted for.
    pub role_id: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `iss`.
    pub issuer: String,
    /// `RoleSessionName` of the request.
    pub session_name: String,
    /// What the session may do (templates already expanded).
    pub scopes: Vec<Scope>,
    /// When it was minted.
    pub issued_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl SessionClaims {
    /// The identity authorization sees: a principal named after the subject, with the role (so
    /// buckets' `allowed_roles` apply) and the sealed scopes.
    pub fn identity(&self) -> Identity {
        Identity::Principal {
            name: self.subject.clone(),
            access_key_id: self.access_key_id.clone(),
            role: Some(self.role_id.clone()),
            scopes: self.scopes.clone(),
        }
    }
}

/// An opened token: its claims and the derived secret to verify the request signature with.
#[derive(Clone, Debug)]
pub struct OpenedSession {
    /// What the token holds.
    pub claims: SessionClaims,
    /// The session's secret access key (derived; see the module docs).
    pub secret_access_key: SecretKey,
}

impl OpenedSession {
    /// The credential SigV4 verification needs.
    pub fn into_resolved_credential(self) -> ResolvedCredential {
        ResolvedCredential {
            identity: self.claims.identity(),
            secret: self.secret_access_key,
        }
    }
}

/// Why a token could not be sealed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not base64url, too short, too long, or an undecodable payload.
    #[error("the session token is malformed: {0}")]
    Malformed(&'static str),
    /// A version byte this gateway does not know.
    #[error("the session token has unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// Sealed with a key this gateway does not hold (rotated out, or another gateway's).
    #[error("the session token was sealed with a key this gateway no longer holds")]
    UnknownKey,
    /// Authentication failed: the token was altered, or is presented with an access key id other
    /// than the one it was minted for.
    #[error("the session token is not valid for this access key")]
    Rejected,
    /// Authentic but past its expiry.
    #[error("the session token expired at {expired_at}")]
    Expired {
        /// When it expired.
        expired_at: Timestamp,
    },
    /// Sealing: a field is too large for the format (a string over 65535 bytes, too many scopes).
    #[error("the session is too large to seal: {0}")]
    TooLarge(&'static str),
    /// Sealing: a scope holds an action format version 1 cannot carry.
    #[error("action {0} cannot be sealed in this token format")]
    UnsealableAction(Action),
}

impl From<TokenError> for S3Error {
    fn from(e: TokenError) -> Self {
        let code = match e {
            TokenError::Expired { .. } => ErrorCode::ExpiredToken,
            TokenError::Rejected => ErrorCode::AccessDenied,
            _ => ErrorCode::InvalidToken,
        };
        S3Error::new(code, e.to_string())
    }
}

/// Why the session keys could not be loaded (the message never contains key material).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64.
    #[error("{var} is not base64")]
    NotBase64 {
        /// `SESSION_TOKEN_KEY` or `SESSION_TOKEN_KEY_PREVIOUS`.
        var: &'static str,
    },
    /// Not 32 bytes once decoded.
    #[error("{var} must decode to 32 bytes, got {len}")]
    WrongLength {
        /// `SESSION_TOKEN_KEY` or `SESSION_TOKEN_KEY_PREVIOUS`.
        var: &'static str,
        /// Decoded length.
        len: usize,
    },
    /// The two keys differ but share a key id (astronomically unlikely; pick another key).
    #[error(
        "SESSION_TOKEN_KEY and SESSION_TOKEN_KEY_PREVIOUS have the same key id; generate a new key"
    )]
    KeyIdCollision,
}

/// One sealing key and its derived subkeys.
#[derive(Clone)]
struct SealingKey {
    id: [u8; KEY_ID_LEN],
    aead: Aes256Gcm,
    secret_key: Zeroizing<[u8; 32]>,
    /// Root of the keys of other state the gateway hands out ([`SessionKeys::derived_keys`]).
    state_key: Zeroizing<[u8; 32]>,
}

impl SealingKey {
    fn new(raw: &[u8; 32]) -> Self {
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&Sha256::digest(raw)[..KEY_ID_LEN]);
        let enc = Zeroizing::new(hmac::sha256(
            raw,
            &[b"multistore session token aes-256-gcm v1"],
        ));
        let secret_key = Zeroizing::new(hmac::sha256(
            raw,
            &[b"multistore session secret access key v1"],
        ));
        let state_key = Zeroizing::new(hmac::sha256(raw, &[b"multistore gateway state key v1"]));
        SealingKey {
            id,
            aead: Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&enc[..])),
            secret_key,
            state_key,
        }
    }

    fn secret_for(&self, access_key_id: &str) -> SecretKey {
        let mac = hmac::sha256(self.secret_key.as_ref(), &[b"v1", access_key_id.as_bytes()]);
        SecretKey::new(URL_SAFE_NO_PAD.encode(mac))
    }
}

/// The keys that seal and open session tokens: the current one, and optionally the previous one
/// during a rotation. Build once per isolate/process.
#[derive(Clone)]
pub struct SessionKeys {
    current: SealingKey,
    previous: Option<SealingKey>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("current", &hex::encode(self.current.id))
            .field(
                "previous",
                &self.previous.as_ref().map(|k| hex::encode(k.id)),
            )
            .finish()
    }
}

fn decode_key(var: &'static str, value: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let value = value.trim();
    let bytes = Zeroizing::new(
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(value).ok())
            .ok_or(KeyError::NotBase64 { var })?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(KeyError::WrongLength {
            var,
            len: bytes.len(),
        });
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

impl SessionKeys {
    /// Builds the keys from raw 32-byte values.
    pub fn new(current: &[u8; 32], previous: Option<&[u8; 32]>) -> Result<Self, KeyError> {
        let current = SealingKey::new(current);
        let previous = match previous.map(SealingKey::new) {
            Some(p) if p.id == current.id => {
                if p.secret_key != current.secret_key {
                    return Err(KeyError::KeyIdCollision);
                }
                None
            }
            p => p,
        };
        Ok(SessionKeys { current, previous })
    }

    /// Builds the keys from the values of `SESSION_TOKEN_KEY` and `SESSION_TOKEN_KEY_PREVIOUS`
    /// (base64, standard or url-safe, padding optional; each 32 bytes). An empty previous value
    /// counts as unset.
    pub fn from_env_values(current: &str, previous: Option<&str>) -> Result<Self, KeyError> {
        let cur = decode_key("SESSION_TOKEN_KEY", current)?;
        let prev = match previous.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(decode_key("SESSION_TOKEN_KEY_PREVIOUS", p)?),
            None => None,
        };
        Self::new(&cur, prev.as_deref())
    }

    /// The id of the key new tokens are sealed with (hex), for logs.
    pub fn current_key_id(&self) -> String {
        hex::encode(self.current.id)
    }

    fn key(&self, id: &[u8]) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == id)
    }

    /// Keys for other state the gateway hands out and must get back unchanged (e.g. Azure
    /// upload ids), derived from `SESSION_TOKEN_KEY` with `label`: the current key's first, then
    /// the previous key's (still accepted during a rotation). Independent of the token keys.
    pub fn derived_keys(&self, label: &[u8]) -> Vec<Zeroizing<[u8; 32]>> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|k| Zeroizing::new(hmac::sha256(k.state_key.as_ref(), &[label])))
            .collect()
    }

    /// The secret access key of a session minted now for `access_key_id` (current key).
    pub fn secret_for(&self, access_key_id: &str) -> SecretKey {
        self.current.secret_for(access_key_id)
    }

    /// Seals `claims` with the current key. `rng` fills the nonce.
    pub fn seal(
        &self,
        claims: &SessionClaims,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<String, TokenError> {
        self.seal_as(TOKEN_VERSION, claims, rng)
    }

    fn seal_as(
        &self,
        version: u8,
        claims: &SessionClaims,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<String, TokenError> {
        let payload = encode_payload(version, claims)?;
        let mut header = [0u8; HEADER_LEN];
        header[0] = version;
        header[1..1 + KEY_ID_LEN].copy_from_slice(&self.current.id);
        rng(&mut header[1 + KEY_ID_LEN..]);
        let aad = associated_data(&header, &claims.access_key_id);
        let sealed = self
            .current
            .aead
            .encrypt(
                Nonce::from_slice(&header[1 + KEY_ID_LEN..]),
                Payload {
                    msg: &payload,
                    aad: &aad,
                },
            )
            .map_err(|_| TokenError::TooLarge("payload"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&sealed);
        let token = URL_SAFE_NO_PAD.encode(out);
        if token.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::TooLarge("token over MAX_TOKEN_CHARS"));
        }
        Ok(token)
    }

    /// Opens a token presented with `access_key_id` at time `now`.
    pub fn open(
        &self,
        token: &str,
        access_key_id: &str,
        now: Timestamp,
    ) -> Result<OpenedSession, TokenError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::Malformed("too long"));
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| TokenError::Malformed("not base64url"))?;
        let Some(&version) = raw.first() else {
            return Err(TokenError::Malformed("empty"));
        };
        if version != TOKEN_VERSION && version != TOKEN_VERSION_1 {
            return Err(TokenError::UnsupportedVersion(version));
        }
        if raw.len() < HEADER_LEN + TAG_LEN {
            return Err(TokenError::Malformed("too short"));
        }
        let (header, sealed) = raw.split_at(HEADER_LEN);
        let key = self
            .key(&header[1..1 + KEY_ID_LEN])
            .ok_or(TokenError::UnknownKey)?;
        let aad = associated_data(header, access_key_id);
        let payload = Zeroizing::new(
            key.aead
                .decrypt(
                    Nonce::from_slice(&header[1 + KEY_ID_LEN..]),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| TokenError::Rejected)?,
        );
        let claims = decode_payload(version, &payload, access_key_id)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired {
                expired_at: claims.expires_at,
            });
        }
        Ok(OpenedSession {
            secret_access_key: key.secret_for(access_key_id),
            claims,
        })
    }
}

fn associated_data(header: &[u8], access_key_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + access_key_id.len());
    aad.extend_from_slice(&header[..1 + KEY_ID_LEN]);
    aad.extend_from_slice(access_key_id.as_bytes());
    aad
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), TokenError> {
    let len = u16::try_from(s.len()).map_err(|_| TokenError::TooLarge("a string over 64 KiB"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), TokenError> {
    let n = u16::try_from(n).map_err(|_| TokenError::TooLarge("too many items"))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn encode_payload(version: u8, c: &SessionClaims) -> Result<Vec<u8>, TokenError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&c.issued_at.0.to_be_bytes());
    out.extend_from_slice(&c.expires_at.0.to_be_bytes());
    for s in [&c.role_id, &c.subject, &c.issuer, &c.session_name] {
        put_str(&mut out, s)?;
    }
    put_count(&mut out, c.scopes.len())?;
    for scope in &c.scopes {
        put_str(&mut out, &scope.bucket)?;
        put_count(&mut out, scope.prefixes.len())?;
        for p in &scope.prefixes {
            put_str(&mut out, p)?;
        }
        let mut bits = 0u64;
        for a in &scope.actions {
            let i = TOKEN_ACTIONS
                .iter()
                .position(|x| x == a)
                .filter(|&i| version != TOKEN_VERSION_1 || i < V1_ACTION_COUNT)
                .ok_or(TokenError::UnsealableAction(*a))?;
            bits |= 1 << i;
        }
        if version == TOKEN_VERSION_1 {
            // Only the first V1_ACTION_COUNT (< 16) bits can be set here.
            out.extend_from_slice(&(bits as u16).to_be_bytes());
        } else {
            out.extend_from_slice(&bits.to_be_bytes());
        }
    }
    Ok(out)
}

/// Reads the payload. Authenticated data only reaches here, so a failure means a bug or a
/// compromised key; it is still an error, never a panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Malformed("truncated payload"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn i64(&mut self) -> Result<i64, TokenError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, TokenError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn u16(&mut self) -> Result<u16, TokenError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn str(&mut self) -> Result<String, TokenError> {
        let n = usize::from(self.u16()?);
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| TokenError::Malformed("a string is not UTF-8"))
    }
}

fn decode_payload(
    version: u8,
    payload: &[u8],
    access_key_id: &str,
) -> Result<SessionClaims, TokenError> {
    let mut r = Reader(payload);
    let issued_at = Timestamp(r.i64()?);
    let expires_at = Timestamp(r.i64()?);
    let role_id = r.str()?;
    let subject = r.str()?;
    let issuer = r.str()?;
    let session_name = r.str()?;
    let n = r.u16()?;
    let mut scopes = Vec::with_capacity(usize::from(n).min(64));
    for _ in 0..n {
        let bucket = r.str()?;
        let np = r.u16()?;
        let mut prefixes = Vec::with_capacity(usize::from(np).min(64));
        for _ in 0..np {
            prefixes.push(r.str()?);
        }
        let (bits, known) = if version == TOKEN_VERSION_1 {
            (u64::from(r.u16()?), V1_ACTION_COUNT)
        } else {
            (r.u64()?, TOKEN_ACTIONS.len())
        };
        // `known` < 64: the shift cannot overflow.
        if bits >> known != 0 {
            return Err(TokenError::Malformed("unknown action bits"));
        }
        let actions = TOKEN_ACTIONS[..known]
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, a)| *a)
            .collect();
        scopes.push(Scope {
            bucket,
            prefixes,
            actions,
        });
    }
    if !r.0.is_empty() {
        return Err(TokenError::Malformed("trailing bytes"));
    }
    Ok(SessionClaims {
        access_key_id: access_key_id.to_string(),
        role_id,
        subject,
        issuer,
        session_name,
        scopes,
        issued_at,
        expires_at,
    })
}

/// Mints a temporary access key id: `ASIA` and 16 base32 characters (80 random bits), the shape
/// AWS uses for temporary credentials.
pub(crate) fn mint_access_key_id(rng: &mut dyn FnMut(&mut [u8])) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 10];
    rng(&mut bytes);
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let mut id = String::with_capacity(20);
    id.push_str("ASIA");
    for i in (0..16).rev() {
        id.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
    }
    id
}

/// A [`CredentialStore`] that answers requests carrying a session token from the token, and all
/// others from `fallback` (the config's long-lived keys).
#[derive(Debug)]
pub(crate) struct SessionCredentialStore<'a, S: ?Sized> {
    /// The keys that open session tokens.
    pub keys: &'a SessionKeys,
    /// Where access keys without a token are looked up.
    pub fallback: &'a S,
}

impl<S: CredentialStore + ?Sized> CredentialStore for SessionCredentialStore<'_, S> {
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        match session_token {
            Some(token) => Ok(self
                .keys
                .open(token, access_key_id, now)?
                .into_resolved_credential()),
            None => self.fallback.lookup(access_key_id, None, now),
        }
    }
}

#[cfg(test)]
mod tests;
