use super::*;

#[test]
fn the_s3_answer_translates_nothing() {
    let a = S3Answer;
    assert!(!a.buffers_success());
    assert!(a.header_name("x-ms-meta-a").is_none());
    assert_eq!(
        a.error(StatusCode::NOT_FOUND, "NoSuchKey"),
        ErrorAnswer::Error(StatusCode::NOT_FOUND, Cow::Borrowed("NoSuchKey"))
    );
    let mut out = HeaderMap::new();
    assert_eq!(
        a.head(StatusCode::CREATED, &HeaderMap::new(), &mut out),
        StatusCode::CREATED
    );
    assert!(out.is_empty());
    assert_eq!(
        a.listing(Bytes::from_static(b"<x/>")).unwrap(),
        Bytes::from_static(b"<x/>")
    );
}
