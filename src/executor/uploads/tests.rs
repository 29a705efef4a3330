use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::payload::PayloadVerifier;
use crate::s3::ErrorCode;

/// A check that passes every byte through at once.
#[derive(Debug)]
struct PassThrough;

impl BodyCheck for PassThrough {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        Ok(Some(chunk))
    }
    fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        Ok(None)
    }
}

fn sha256_of_nothing() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b"").into()
}

#[test]
fn an_empty_upload_that_verifies_to_nothing_passes() {
    let check = Box::new(PayloadVerifier::new(sha256_of_nothing(), 0));
    assert!(check_empty_upload(check, BodyRead::Read(Bytes::new())).is_ok());
}

#[test]
fn an_empty_upload_whose_check_fails_is_refused_with_the_checks_error() {
    let check = Box::new(PayloadVerifier::new([7; 32], 0));
    let err = check_empty_upload(check, BodyRead::Read(Bytes::new())).unwrap_err();
    assert_ne!(err.code, ErrorCode::InternalError);
}

#[test]
fn an_empty_upload_that_releases_bytes_is_incomplete() {
    let read = BodyRead::Read(Bytes::from_static(b"extra"));
    let err = check_empty_upload(Box::new(PassThrough), read).unwrap_err();
    assert_eq!(err.code, ErrorCode::IncompleteBody);
    assert!(err.message.contains("declared length of 0"));
}

#[test]
fn an_empty_upload_over_the_framing_limit_is_incomplete() {
    let err = check_empty_upload(Box::new(PassThrough), BodyRead::TooLarge).unwrap_err();
    assert_eq!(err.code, ErrorCode::IncompleteBody);
    assert!(err.message.contains("over 65536 bytes"));
}

#[test]
fn an_empty_upload_that_broke_off_is_incomplete() {
    let err = check_empty_upload(Box::new(PassThrough), BodyRead::Broken("reset".into()));
    let err = err.unwrap_err();
    assert_eq!(err.code, ErrorCode::IncompleteBody);
    assert!(err.message.contains("reset"));
}

#[test]
fn a_silent_backend_is_described_with_its_timeout_in_seconds() {
    assert_eq!(
        crate::executor::no_answer_within(Duration::from_secs(30)),
        "the backend did not answer within 30 seconds"
    );
    assert_eq!(
        crate::executor::no_answer_within(Duration::from_millis(1500)),
        "the backend did not answer within 1.5 seconds"
    );
}

#[test]
fn a_declared_length_is_read_from_content_length_and_nothing_else() {
    let mut headers = http::HeaderMap::new();
    assert_eq!(content_length(&headers), None);
    headers.insert("content-length", http::HeaderValue::from_static("42"));
    assert_eq!(content_length(&headers), Some(42));
    headers.insert("content-length", http::HeaderValue::from_static("-1"));
    assert_eq!(content_length(&headers), None);
    headers.insert("content-length", http::HeaderValue::from_static("12abc"));
    assert_eq!(content_length(&headers), None);
}

#[test]
fn an_upload_error_as_text_is_the_clients_error_message_or_the_runtimes_reason() {
    let client = UploadError::Client(S3Error::new(ErrorCode::BadDigest, "digest mismatch"));
    assert_eq!(client.into_message(), "digest mismatch");
    let runtime = UploadError::Runtime("no stream".to_string());
    assert_eq!(runtime.into_message(), "no stream");
}
