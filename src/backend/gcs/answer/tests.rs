use super::*;

#[test]
fn gcs_metadata_headers_reach_the_client_as_amz_metadata() {
    let a = for_dialect(Dialect::Gcs);
    assert_eq!(
        a.header_name("x-goog-meta-colour").unwrap(),
        "x-amz-meta-colour"
    );
    assert!(a.header_name("x-goog-generation").is_none());
    assert!(for_dialect(Dialect::S3)
        .header_name("x-goog-meta-colour")
        .is_none());
}
