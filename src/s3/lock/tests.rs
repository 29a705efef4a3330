use super::*;
use http::HeaderValue;

fn code<T: std::fmt::Debug>(r: Result<T, S3Error>) -> ErrorCode {
    r.expect_err("refused").code
}

#[test]
fn a_retention_is_parsed_and_written_anew_with_a_normalized_date() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode>
<RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>"#;
    let r = parse_retention(body).unwrap();
    assert_eq!(
        r.lock,
        Some((LockMode::Governance, "2030-01-01T00:00:00.000Z".into()))
    );
    assert_eq!(
            retention_xml(&r),
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate></Retention>"
        );
    assert_eq!(parse_retention(retention_xml(&r).as_bytes()).unwrap(), r);
    assert_eq!(parse_retention(b"<Retention/>").unwrap().lock, None);
    // A fraction of a second rounds up, never shortening the retention.
    let r = parse_retention(
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.25+01:00</RetainUntilDate></Retention>",
        )
        .unwrap();
    assert_eq!(
        r.lock,
        Some((LockMode::Compliance, "2029-12-31T23:00:01.000Z".into()))
    );
}

#[test]
fn a_retention_with_a_mode_outside_s3s_words_or_a_bad_date_is_malformed_xml() {
    for body in [
            "<Retention><Mode>governance</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            "<Retention><Mode>abc</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate><Extra/></Retention>",
            "<LegalHold><Status>ON</Status></LegalHold>",
            "<Retention><Mode>GOVERNANCE</Mode>",
            "<!DOCTYPE x [<!ENTITY a 'b'>]><Retention/>",
            "",
        ] {
            assert_eq!(code(parse_retention(body.as_bytes())), ErrorCode::MalformedXML, "{body}");
        }
}

#[test]
fn a_legal_hold_is_on_or_off_and_nothing_else() {
    assert!(parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>").unwrap());
    assert!(!parse_legal_hold(b"<LegalHold> <Status>OFF</Status> </LegalHold>").unwrap());
    assert_eq!(
        legal_hold_xml(true),
        "<LegalHold><Status>ON</Status></LegalHold>"
    );
    for body in [
        "<LegalHold><Status>abc</Status></LegalHold>",
        "<LegalHold><Status>on</Status></LegalHold>",
        "<LegalHold/>",
        "<LegalHold><Status>ON</Status><Status>OFF</Status></LegalHold>",
        "<LegalHold>ON</LegalHold>",
    ] {
        assert_eq!(
            code(parse_legal_hold(body.as_bytes())),
            ErrorCode::MalformedXML,
            "{body}"
        );
    }
}

#[test]
fn a_lock_configuration_needs_enabled_a_mode_and_one_positive_period() {
    let c = parse_lock_configuration(
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
        )
        .unwrap();
    assert_eq!(
        c,
        LockConfiguration {
            enabled: true,
            default_retention: Some((LockMode::Governance, Period::Days(1)))
        }
    );
    assert_eq!(
        parse_lock_configuration(lock_configuration_xml(&c).as_bytes()).unwrap(),
        c
    );
    let bare = parse_lock_configuration(
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
        )
        .unwrap();
    assert_eq!(bare.default_retention, None);
    let rule = |inner: &str| {
        format!("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>{inner}</DefaultRetention></Rule></ObjectLockConfiguration>")
    };
    for (inner, want) in [
        (
            "<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>",
            ErrorCode::MalformedXML,
        ),
        (
            "<Mode>GOVERNANCE</Mode><Days>0</Days>",
            ErrorCode::InvalidRetentionPeriod,
        ),
        (
            "<Mode>GOVERNANCE</Mode><Years>-1</Years>",
            ErrorCode::InvalidRetentionPeriod,
        ),
        (
            "<Mode>GOVERNANCE</Mode><Years>99999999999</Years>",
            ErrorCode::InvalidRetentionPeriod,
        ),
        (
            "<Mode>GOVERNANCE</Mode><Days>one</Days>",
            ErrorCode::MalformedXML,
        ),
        ("<Mode>abc</Mode><Years>1</Years>", ErrorCode::MalformedXML),
        (
            "<Mode>governance</Mode><Years>1</Years>",
            ErrorCode::MalformedXML,
        ),
        ("<Mode>GOVERNANCE</Mode>", ErrorCode::MalformedXML),
        ("<Days>1</Days>", ErrorCode::MalformedXML),
    ] {
        assert_eq!(
            code(parse_lock_configuration(rule(inner).as_bytes())),
            want,
            "{inner}"
        );
    }
    assert_eq!(
            code(parse_lock_configuration(
                b"<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>"
            )),
            ErrorCode::MalformedXML
        );
}

#[test]
fn an_encryption_configuration_is_one_rule_of_an_algorithm_s3_knows() {
    let c = parse_encryption(
            b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>fool-me-again</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>",
        )
        .unwrap();
    assert_eq!(c.algorithm, "aws:kms");
    assert_eq!(c.kms_key_id.as_deref(), Some("fool-me-again"));
    assert_eq!(c.bucket_key_enabled, Some(true));
    assert_eq!(parse_encryption(encryption_xml(&c).as_bytes()).unwrap(), c);
    let with = |inner: &str| {
        format!("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>{inner}</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>")
    };
    assert!(parse_encryption(with("<SSEAlgorithm>AES256</SSEAlgorithm>").as_bytes()).is_ok());
    for (inner, want) in [
        ("<SSEAlgorithm>DES</SSEAlgorithm>", ErrorCode::MalformedXML),
        ("", ErrorCode::MalformedXML),
        (
            "<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>",
            ErrorCode::InvalidArgument,
        ),
        (
            "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID></KMSMasterKeyID>",
            ErrorCode::InvalidArgument,
        ),
        (
            "<SSEAlgorithm>AES256</SSEAlgorithm><Unknown>x</Unknown>",
            ErrorCode::MalformedXML,
        ),
    ] {
        assert_eq!(
            code(parse_encryption(with(inner).as_bytes())),
            want,
            "{inner}"
        );
    }
    // A second rule repeats the first one's leaves: one rule is what the gateway forwards.
    let two = "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
    assert_eq!(
        code(parse_encryption(two.as_bytes())),
        ErrorCode::MalformedXML
    );
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(*n, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn lock_headers_are_checked_as_s3_checks_them() {
    let ok = lock_headers(&headers(&[
        ("x-amz-object-lock-mode", "COMPLIANCE"),
        (
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00Z",
        ),
        ("x-amz-object-lock-legal-hold", "OFF"),
    ]))
    .unwrap();
    assert_eq!(
        ok.retention,
        Some((LockMode::Compliance, "2030-01-01T00:00:00.000Z".into()))
    );
    assert_eq!(ok.legal_hold, Some(false));
    assert!(!lock_headers(&HeaderMap::new()).unwrap().any());
    for bad in [
        vec![
            ("x-amz-object-lock-mode", "governance"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
        ],
        vec![("x-amz-object-lock-mode", "GOVERNANCE")],
        vec![(
            "x-amz-object-lock-retain-until-date",
            "2030-01-01T00:00:00Z",
        )],
        vec![
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            ("x-amz-object-lock-retain-until-date", "2030-01-01"),
        ],
        vec![("x-amz-object-lock-legal-hold", "on")],
        vec![
            ("x-amz-object-lock-legal-hold", "ON"),
            ("x-amz-object-lock-legal-hold", "ON"),
        ],
    ] {
        assert_eq!(
            code(lock_headers(&headers(&bad))),
            ErrorCode::InvalidArgument,
            "{bad:?}"
        );
    }
}

#[test]
fn bypass_and_bucket_lock_headers_are_true_or_false_once() {
    assert!(bypass_governance(&headers(&[("x-amz-bypass-governance-retention", "True")])).unwrap());
    assert!(
        !bypass_governance(&headers(&[("x-amz-bypass-governance-retention", "false")])).unwrap()
    );
    assert!(!bypass_governance(&HeaderMap::new()).unwrap());
    assert!(
        bucket_lock_enabled(&headers(&[("x-amz-bucket-object-lock-enabled", "true")])).unwrap()
    );
    assert_eq!(
        code(bypass_governance(&headers(&[(
            "x-amz-bypass-governance-retention",
            "yes"
        )]))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(bucket_lock_enabled(&headers(&[
            ("x-amz-bucket-object-lock-enabled", "true"),
            ("x-amz-bucket-object-lock-enabled", "true")
        ]))),
        ErrorCode::InvalidArgument
    );
}
