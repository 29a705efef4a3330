use super::*;

#[test]
fn error_xml_escapes_the_message_and_carries_the_request_id() {
    let e = S3Error::new(ErrorCode::NoSuchKey, "no <key> & such").with_resource("/b/a&b");
    let xml = e.to_xml("REQ1");
    assert!(xml.contains("<Code>NoSuchKey</Code>"));
    assert!(xml.contains("<Message>no &lt;key&gt; &amp; such</Message>"));
    assert!(xml.contains("<Resource>/b/a&amp;b</Resource>"));
    assert!(xml.contains("<RequestId>REQ1</RequestId>"));
    assert_eq!(e.status(), 404);
}

#[test]
fn statuses_follow_s3() {
    assert_eq!(ErrorCode::SignatureDoesNotMatch.status(), 403);
    assert_eq!(ErrorCode::RequestTimeTooSkewed.status(), 403);
    assert_eq!(ErrorCode::ExpiredToken.status(), 400);
    assert_eq!(ErrorCode::NotImplemented.status(), 501);
    assert_eq!(ErrorCode::MissingContentLength.status(), 411);
}
