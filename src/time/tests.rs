use super::*;

#[test]
fn amz_date_round_trips() {
    let t = Timestamp::parse_amz_date("20150830T123600Z").unwrap();
    assert_eq!(t.0, 1_440_938_160);
    assert_eq!(t.amz_date(), "20150830T123600Z");
    assert_eq!(t.date_stamp(), "20150830");
}

#[test]
fn amz_date_rejects_garbage_and_impossible_dates() {
    for bad in [
        "",
        "20150830T123600",
        "2015083OT123600Z",
        "20150230T000000Z",
        "20151301T000000Z",
        "20150830T250000Z",
    ] {
        assert_eq!(Timestamp::parse_amz_date(bad), None, "{bad}");
    }
}

#[test]
fn rfc3339_accepts_fractions_and_offsets() {
    let z = Timestamp::parse_rfc3339("2024-02-29T12:00:00Z").unwrap();
    assert_eq!(
        Timestamp::parse_rfc3339("2024-02-29T12:00:00.123456Z"),
        Some(z)
    );
    assert_eq!(
        Timestamp::parse_rfc3339("2024-02-29T14:00:00+02:00"),
        Some(z)
    );
    assert_eq!(
        Timestamp::parse_rfc3339("2024-02-29T11:30:00-00:30"),
        Some(z)
    );
    assert_eq!(Timestamp::parse_rfc3339("2023-02-29T12:00:00Z"), None);
    assert_eq!(Timestamp::parse_rfc3339("2024-02-29T12:00:00"), None);
}

#[test]
fn http_date_formats_and_parses() {
    let t = Timestamp(784_111_777);
    assert_eq!(t.http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(t)
    );
    assert_eq!(t.iso8601(), "1994-11-06T08:49:37.000Z");
}

#[test]
fn dates_before_the_epoch_do_not_panic() {
    assert_eq!(Timestamp(-1).amz_date(), "19691231T235959Z");
}
