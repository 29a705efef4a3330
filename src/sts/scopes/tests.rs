use super::*;
use crate::policy::Action;
use serde_json::json;

fn claims(v: Value) -> Claims {
    v.as_object().cloned().unwrap_or_default()
}

fn scope(bucket: &str, prefixes: &[&str]) -> Scope {
    Scope {
        bucket: bucket.into(),
        prefixes: prefixes.iter().map(|p| (*p).to_string()).collect(),
        actions: vec![Action::GetObject],
    }
}

#[test]
fn bucket_and_prefix_templates_are_filled_from_claims() {
    let c = claims(json!({"sub": "alice", "repository": "org/repo"}));
    let out = expand_scopes(&[scope("{sub}", &["{repository}/", "fixed/"])], &c).unwrap();
    assert_eq!(out, vec![scope("alice", &["org/repo/", "fixed/"])]);
}

#[test]
fn a_missing_claim_in_a_template_fails_closed() {
    let c = claims(json!({"sub": "alice"}));
    let err = expand_scopes(&[scope("data", &["{repository}/"])], &c).unwrap_err();
    assert_eq!(
        err,
        TemplateError::MissingClaim {
            claim: "repository".into()
        }
    );
}

#[test]
fn a_null_claim_counts_as_missing() {
    let c = claims(json!({"repository": null}));
    assert!(matches!(
        expand("{repository}/", &c),
        Err(TemplateError::MissingClaim { .. })
    ));
}

#[test]
fn an_empty_claim_never_becomes_an_empty_prefix() {
    let c = claims(json!({"repository": ""}));
    assert!(matches!(
        expand("{repository}", &c),
        Err(TemplateError::UnusableClaim { .. })
    ));
}

#[test]
fn a_glob_in_a_claim_value_cannot_widen_the_bucket() {
    for v in ["*", "data-?", "a*"] {
        let c = claims(json!({ "sub": v }));
        assert!(expand("{sub}", &c).is_err(), "{v}");
    }
}

#[test]
fn claim_values_are_not_expanded_twice() {
    let c = claims(json!({"sub": "{other}", "other": "x"}));
    assert!(expand("{sub}", &c).is_err());
}

#[test]
fn objects_lists_and_booleans_are_not_templated() {
    let c = claims(json!({"a": ["x"], "b": {"c": 1}, "d": true}));
    for t in ["{a}", "{b}", "{d}"] {
        assert!(matches!(
            expand(t, &c),
            Err(TemplateError::UnusableClaim { .. })
        ));
    }
}

#[test]
fn numbers_are_templated_by_their_text() {
    let c = claims(json!({"repository_id": 12345}));
    assert_eq!(expand("repo-{repository_id}/", &c).unwrap(), "repo-12345/");
}

#[test]
fn unbalanced_braces_are_refused() {
    let c = claims(json!({"sub": "a"}));
    for t in ["{sub", "sub}", "{{sub}}", "a{sub}b}"] {
        assert!(
            matches!(expand(t, &c), Err(TemplateError::Unbalanced { .. })),
            "{t}"
        );
    }
}

#[test]
fn text_without_templates_is_copied() {
    assert_eq!(
        expand("plain/prefix/", &Claims::new()).unwrap(),
        "plain/prefix/"
    );
}
