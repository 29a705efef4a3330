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
pub fn sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac::<Hmac<Sha256>>(key, parts).into()
}

/// HMAC-SHA1(`key`, concatenation of `parts`) (SigV2 only).
pub fn sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
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
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_and_rfc_2202_vectors() {
        // RFC 4231 test case 2 and RFC 2202 test case 2 (key "Jefe").
        let data: &[u8] = b"what do ya want for nothing?";
        assert_eq!(
            hex::encode(sha256(b"Jefe", &[data])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(sha1(b"Jefe", &[data])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn parts_are_one_message_and_long_keys_are_accepted() {
        let whole = sha256(b"k", &[b"what do ya want for nothing?"]);
        assert_eq!(sha256(b"k", &[b"what do ya ", b"want for nothing?"]), whole);
        assert_eq!(sha256(b"k", &[b"what do ya want for nothing?", b""]), whole);
        // RFC 4231 test case 6: a 131-byte key (longer than the block).
        let key = [0xaa_u8; 131];
        assert_eq!(
            hex::encode(sha256(
                &key,
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
