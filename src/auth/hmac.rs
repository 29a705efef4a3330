//! HMAC, the one helper every signature and derived key in the gateway goes through: SigV4
//! (and so aws-chunked chunk signatures and POST policies), SigV2, the session-token subkeys and
//! the keys derived from them.
//!
//! `parts` are fed in order, as one message: callers that bind several fields length-prefix
//! them themselves. The result is a plain array; compare MACs with `subtle` (constant time).

use ::hmac::digest::{KeyInit, Output};
use ::hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// HMAC-SHA256(`key`, concatenation of `parts`).
pub(crate) fn sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac::<Hmac<Sha256>>(key, parts).into()
}

/// HMAC-SHA1(`key`, concatenation of `parts`) (SigV2 only).
pub(crate) fn sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    mac::<Hmac<Sha1>>(key, parts).into()
}

fn mac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Output<M> {
    // HMAC takes keys of any length (longer ones are hashed first): `new_from_slice` never fails
    // for it. Were it ever to, failing loudly beats a constant MAC anyone could forge.
    let mut mac = <M as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes()
}

#[cfg(test)]
mod tests;
