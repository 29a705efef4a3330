use super::*;

#[test]
fn secret_key_debug_never_prints_the_secret() {
    let k = SecretKey::new("wJalrXUtnFEMI");
    assert_eq!(format!("{k:?}"), "***");
    assert_eq!(k.expose(), "wJalrXUtnFEMI");
}

#[test]
fn signatures_compare_in_constant_time_and_parse_hex() {
    let a = Signature::from_hex(&"ab".repeat(32)).unwrap();
    let b = Signature::from_hex(&"AB".repeat(32)).unwrap();
    assert!(a.ct_eq(&b));
    assert!(Signature::from_hex("abc").is_none());
    assert_eq!(format!("{a:?}"), "Signature(***)");
}
