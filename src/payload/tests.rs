use super::*;

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

#[test]
fn matching_body_is_released_in_full_and_in_order() {
    let mut v = PayloadVerifier::new(sha(b"hello world"), 11);
    let mut out = Vec::new();
    for part in [&b"hello"[..], b" ", b"world"] {
        if let Some(b) = v.push(Bytes::copy_from_slice(part)).unwrap() {
            out.extend_from_slice(&b);
        }
    }
    assert_eq!(out, b"hello ");
    out.extend_from_slice(&v.finish().unwrap().unwrap());
    assert_eq!(out, b"hello world");
}

#[test]
fn mismatching_body_never_releases_its_last_chunk() {
    let mut v = PayloadVerifier::new(sha(b"hello world"), 11);
    assert!(v
        .push(Bytes::from_static(b"hello worlD"))
        .unwrap()
        .is_none());
    let err = v.finish().unwrap_err();
    assert_eq!(err.code, ErrorCode::XAmzContentSHA256Mismatch);
}

#[test]
fn short_and_long_bodies_are_refused() {
    let mut v = PayloadVerifier::new(sha(b"abc"), 3);
    v.push(Bytes::from_static(b"ab")).unwrap();
    assert_eq!(v.finish().unwrap_err().code, ErrorCode::IncompleteBody);
    let mut v = PayloadVerifier::new(sha(b"abc"), 3);
    assert!(v.push(Bytes::from_static(b"abcd")).is_err());
}

#[test]
fn empty_body_verifies_against_the_empty_hash() {
    let mut v = PayloadVerifier::new(sha(b""), 0);
    assert!(v.finish().unwrap().is_none());
}
