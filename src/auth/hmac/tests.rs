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
