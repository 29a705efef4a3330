use super::*;

fn object(etag: &str) -> R2Object {
    R2Object {
        key: "k".to_string(),
        size: 10,
        etag: etag.to_string(),
        uploaded_ms: 1_000_000,
        ..R2Object::default()
    }
}

fn if_match(etag: &str) -> Conditions {
    Conditions {
        if_match: vec![etag.to_string()],
        ..Conditions::default()
    }
}

#[test]
fn a_completion_without_conditions_goes_ahead_whether_or_not_an_object_exists() {
    let none = Conditions::default();
    assert_eq!(completion_blocked(&none, None), None);
    assert_eq!(completion_blocked(&none, Some(&object("a"))), None);
}

#[test]
fn a_completion_if_match_on_a_missing_key_answers_missing() {
    assert_eq!(
        completion_blocked(&if_match("a"), None),
        Some(R2Outcome::Missing)
    );
}

#[test]
fn a_completion_whose_condition_fails_on_the_existing_object_is_a_failed_precondition() {
    assert_eq!(
        completion_blocked(&if_match("b"), Some(&object("a"))),
        Some(R2Outcome::PreconditionFailed)
    );
    assert_eq!(completion_blocked(&if_match("a"), Some(&object("a"))), None);
}

#[test]
fn a_copied_part_is_its_range_or_the_whole_source() {
    assert_eq!(part_copy_length(None, 10), Some(10));
    assert_eq!(part_copy_length(Some((2, 8)), 10), Some(8));
    assert_eq!(part_copy_length(Some((0, 0)), 10), Some(0));
}

#[test]
fn a_copied_part_past_the_sources_end_has_no_length() {
    assert_eq!(part_copy_length(Some((2, 9)), 10), None);
    assert_eq!(part_copy_length(Some((u64::MAX, 1)), 10), None);
}

#[test]
fn a_copy_writes_the_replacement_metadata_or_the_sources() {
    let mut source = object("a");
    source.custom = vec![("from".to_string(), "source".to_string())];
    let replacement = (
        HttpMetadata {
            content_type: Some("text/plain".to_string()),
            ..HttpMetadata::default()
        },
        vec![("from".to_string(), "request".to_string())],
    );
    assert_eq!(copy_metadata(Some(&replacement), &source), replacement);
    assert_eq!(
        copy_metadata(None, &source),
        (HttpMetadata::default(), source.custom.clone())
    );
}
