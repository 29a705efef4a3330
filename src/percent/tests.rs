use super::*;

#[test]
fn encoding_keeps_only_unreserved_bytes_and_optionally_slash() {
    assert_eq!(encode("a b/ሴ+~".as_bytes(), true), "a%20b/%E1%88%B4%2B~");
    assert_eq!(encode(b"a/b", false), "a%2Fb");
}

#[test]
fn strict_decoding_refuses_bad_escapes_and_lenient_decoding_keeps_them() {
    assert_eq!(decode_strict(b"a%20b+c", true), Some(b"a b c".to_vec()));
    assert_eq!(decode_strict(b"a%2", false), None);
    assert_eq!(decode_strict(b"a%zz", false), None);
    assert_eq!(decode_lenient(b"a%zz%41%"), b"a%zzA%".to_vec());
}
