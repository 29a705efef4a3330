use super::*;
use crate::config::{BackendType, BucketConfig};
use crate::s3::ErrorCode;

fn bucket(name: &str, public: bool, roles: &[&str]) -> BucketConfig {
    BucketConfig {
        name: name.into(),
        backend_type: BackendType::S3,
        backend_prefix: None,
        anonymous_access: public,
        allowed_roles: roles.iter().map(|r| (*r).to_string()).collect(),
        backend_options: Default::default(),
        cors: None,
    }
}

fn scope(bucket: &str, prefixes: &[&str], actions: &[Action]) -> Scope {
    Scope {
        bucket: bucket.into(),
        prefixes: prefixes.iter().map(|p| (*p).to_string()).collect(),
        actions: actions.to_vec(),
    }
}

fn principal(scopes: Vec<Scope>) -> Identity {
    Identity::Principal {
        name: "alice".into(),
        access_key_id: "AKID".into(),
        role: None,
        scopes,
    }
}

fn session(role: &str, scopes: Vec<Scope>) -> Identity {
    Identity::Principal {
        name: "repo:org/x".into(),
        access_key_id: "ASIA".into(),
        role: Some(role.into()),
        scopes,
    }
}

#[test]
fn anonymous_callers_may_read_and_list_public_buckets() {
    let b = bucket("pub", true, &[]);
    for a in [Action::GetObject, Action::HeadObject, Action::ListBucket] {
        assert!(authorize(&Identity::Anonymous, &b, a, "k").is_ok(), "{a}");
    }
}

#[test]
fn anonymous_callers_cannot_write_to_public_buckets() {
    let b = bucket("pub", true, &[]);
    for a in Action::ALL {
        if matches!(
            a,
            Action::GetObject | Action::HeadObject | Action::ListBucket
        ) {
            continue;
        }
        let e = authorize(&Identity::Anonymous, &b, a, "k").unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        assert_eq!(
            e.message,
            format!("anonymous access is not allowed for {a} on bucket pub")
        );
    }
}

#[test]
fn anonymous_callers_cannot_read_private_buckets() {
    let e = authorize(
        &Identity::Anonymous,
        &bucket("priv", false, &[]),
        Action::GetObject,
        "k",
    )
    .unwrap_err();
    assert!(
        e.message.contains("get_object on bucket priv"),
        "{}",
        e.message
    );
}

#[test]
fn principals_keep_the_anonymous_rights_of_public_buckets() {
    let id = principal(vec![]);
    assert!(authorize(&id, &bucket("pub", true, &[]), Action::GetObject, "k").is_ok());
    assert!(authorize(&id, &bucket("pub", true, &[]), Action::PutObject, "k").is_err());
}

#[test]
fn a_whole_bucket_scope_grants_its_actions_on_every_key() {
    let id = principal(vec![scope(
        "data",
        &[],
        &[Action::PutObject, Action::DeleteObject],
    )]);
    let b = bucket("data", false, &[]);
    assert!(authorize(&id, &b, Action::PutObject, "any/key").is_ok());
    assert!(authorize(&id, &b, Action::DeleteObject, "").is_ok());
    let e = authorize(&id, &b, Action::GetObject, "any/key").unwrap_err();
    assert_eq!(
        e.message,
        "no scope of 'alice' grants get_object on bucket data"
    );
}

#[test]
fn scopes_for_other_buckets_grant_nothing() {
    let id = principal(vec![scope("data", &[], &[Action::GetObject])]);
    assert!(authorize(&id, &bucket("other", false, &[]), Action::GetObject, "k").is_err());
}

#[test]
fn scope_buckets_may_be_globs() {
    let id = principal(vec![scope("data-*", &[], &[Action::GetObject])]);
    assert!(authorize(&id, &bucket("data-eu", false, &[]), Action::GetObject, "k").is_ok());
    assert!(authorize(&id, &bucket("logs", false, &[]), Action::GetObject, "k").is_err());
    let all = principal(vec![scope("*", &[], &[Action::GetObject])]);
    assert!(authorize(&all, &bucket("logs", false, &[]), Action::GetObject, "k").is_ok());
}

#[test]
fn glob_buckets_are_authorized_against_the_name_the_client_sent() {
    let b = bucket("team-*", false, &[]);
    let id = principal(vec![scope("team-a", &[], &[Action::GetObject])]);
    assert!(authorize_named(&id, &b, "team-a", Action::GetObject, "k").is_ok());
    assert!(authorize_named(&id, &b, "team-b", Action::GetObject, "k").is_err());
}

#[test]
fn prefixes_are_matched_on_path_boundaries_like_multistore_0_7() {
    let id = principal(vec![scope("b", &["data", "logs/"], &[Action::GetObject])]);
    let b = bucket("b", false, &[]);
    assert!(authorize(&id, &b, Action::GetObject, "data").is_ok());
    assert!(authorize(&id, &b, Action::GetObject, "data/x.txt").is_ok());
    assert!(authorize(&id, &b, Action::GetObject, "logs/2024/x").is_ok());
    let e = authorize(&id, &b, Action::GetObject, "data-private/secret.txt").unwrap_err();
    assert_eq!(
        e.message,
        "get_object on bucket b is granted to 'alice' only under the prefixes [data, logs/], \
             not for key 'data-private/secret.txt'"
    );
    assert!(authorize(&id, &b, Action::GetObject, "logsx").is_err());
}

#[test]
fn listing_is_checked_against_the_requested_prefix() {
    let id = principal(vec![scope("b", &["team/"], &[Action::ListBucket])]);
    let b = bucket("b", false, &[]);
    assert!(authorize(&id, &b, Action::ListBucket, "team/").is_ok());
    assert!(authorize(&id, &b, Action::ListBucket, "team/sub").is_ok());
    let e = authorize(&id, &b, Action::ListBucket, "").unwrap_err();
    assert!(e.message.contains("not for prefix ''"), "{}", e.message);
}

#[test]
fn a_listing_prefix_must_lie_inside_the_scope_folder() {
    let id = principal(vec![scope(
        "b",
        &["team", "logs/"],
        &[Action::ListBucket, Action::ListBucketMultipartUploads],
    )]);
    let b = bucket("b", false, &[]);
    for action in [Action::ListBucket, Action::ListBucketMultipartUploads] {
        for ok in ["team/", "team/sub", "logs/", "logs/2024/"] {
            assert!(authorize(&id, &b, action, ok).is_ok(), "{action} {ok}");
        }
        // `team` and `te` would also list `team-private/...`; `logs` lists `logsx`.
        for bad in ["team", "te", "team-private/", "", "logs", "log"] {
            let e = authorize(&id, &b, action, bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::AccessDenied, "{action} {bad}");
            assert!(
                e.message.contains(&format!("not for prefix '{bad}'")),
                "{}",
                e.message
            );
        }
    }
    // Keys keep the 0.7 rule: `team` itself is a key under scope `team`.
    assert!(key_matches_prefix("team", "team"));
    assert!(list_prefix_within("anything", ""));
}

#[test]
fn get_object_also_grants_head_object_but_not_the_reverse() {
    let get = principal(vec![scope("b", &[], &[Action::GetObject])]);
    let head = principal(vec![scope("b", &[], &[Action::HeadObject])]);
    let b = bucket("b", false, &[]);
    assert!(authorize(&get, &b, Action::HeadObject, "k").is_ok());
    assert!(authorize(&head, &b, Action::GetObject, "k").is_err());
}

#[test]
fn put_object_does_not_imply_the_multipart_actions() {
    let id = principal(vec![scope("b", &[], &[Action::PutObject])]);
    let b = bucket("b", false, &[]);
    for a in [
        Action::CreateMultipartUpload,
        Action::UploadPart,
        Action::CompleteMultipartUpload,
    ] {
        assert!(authorize(&id, &b, a, "k").is_err(), "{a}");
    }
}

#[test]
fn role_sessions_need_the_bucket_to_allow_their_role() {
    let scopes = vec![scope("*", &[], &[Action::GetObject])];
    let id = session("ci", scopes);
    assert!(authorize(&id, &bucket("b", false, &["ci"]), Action::GetObject, "k").is_ok());
    assert!(authorize(&id, &bucket("b", false, &["*"]), Action::GetObject, "k").is_ok());
    let e = authorize(&id, &bucket("b", false, &["other"]), Action::GetObject, "k").unwrap_err();
    assert_eq!(
        e.message,
        "role 'ci' is not in the allowed_roles of bucket b"
    );
    assert!(authorize(&id, &bucket("b", false, &[]), Action::GetObject, "k").is_err());
    // Public reads stay open to everyone.
    assert!(authorize(&id, &bucket("b", true, &[]), Action::GetObject, "k").is_ok());
}

#[test]
fn long_lived_keys_ignore_allowed_roles() {
    let id = principal(vec![scope("b", &[], &[Action::GetObject])]);
    assert!(authorize(&id, &bucket("b", false, &["ci"]), Action::GetObject, "k").is_ok());
}

#[test]
fn batch_delete_is_checked_coarsely_then_per_key() {
    let id = principal(vec![scope("b", &["tmp/"], &[Action::DeleteObject])]);
    let b = bucket("b", false, &[]);
    assert!(authorize_some_key(&id, &b, "b", Action::DeleteObject).is_ok());
    assert!(authorize_some_key(&id, &b, "b", Action::PutObject).is_err());
    assert!(authorize(&id, &b, Action::DeleteObject, "tmp/x").is_ok());
    assert!(authorize(&id, &b, Action::DeleteObject, "keep/x").is_err());
    assert!(authorize_some_key(
        &Identity::Anonymous,
        &bucket("p", true, &[]),
        "p",
        Action::DeleteObject
    )
    .is_err());
}

#[test]
fn every_operation_maps_to_the_action_multistore_uses() {
    use Operation as O;
    let cases = [
        (O::ListBuckets, Action::ListBucket),
        (O::HeadBucket, Action::ListBucket),
        (O::GetBucketLocation, Action::ListBucket),
        (O::ListObjects, Action::ListBucket),
        (O::ListObjectsV2, Action::ListBucket),
        (O::CreateBucket, Action::CreateBucket),
        (O::DeleteBucket, Action::DeleteBucket),
        (O::GetObject, Action::GetObject),
        (O::HeadObject, Action::HeadObject),
        (O::PutObject, Action::PutObject),
        (O::CopyObject, Action::PutObject),
        (O::DeleteObject, Action::DeleteObject),
        (O::DeleteObjects, Action::DeleteObject),
        (O::CreateMultipartUpload, Action::CreateMultipartUpload),
        (O::UploadPart, Action::UploadPart),
        (O::UploadPartCopy, Action::UploadPart),
        (O::CompleteMultipartUpload, Action::CompleteMultipartUpload),
        (O::AbortMultipartUpload, Action::AbortMultipartUpload),
        (O::ListParts, Action::ListMultipartUploadParts),
        (O::ListMultipartUploads, Action::ListBucketMultipartUploads),
    ];
    for (op, a) in cases {
        assert_eq!(action_for(op), a, "{op:?}");
    }
}

#[test]
fn action_names_round_trip_and_aliases_parse() {
    for a in Action::ALL {
        assert_eq!(Action::from_name(a.as_str()), Some(a));
    }
    assert_eq!(
        Action::from_name("list_parts"),
        Some(Action::ListMultipartUploadParts)
    );
    assert_eq!(
        Action::from_name("list_multipart_uploads"),
        Some(Action::ListBucketMultipartUploads)
    );
    assert_eq!(Action::from_name("get_objects"), None);
    let a: Action = serde_json::from_str("\"upload_part\"").unwrap();
    assert_eq!(a, Action::UploadPart);
    let e = serde_json::from_str::<Action>("\"get_objects\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown action 'get_objects'"), "{e}");
}

#[test]
fn listing_shows_public_buckets_and_scoped_buckets_but_never_globs() {
    let pub_b = bucket("pub", true, &[]);
    let priv_b = bucket("priv", false, &[]);
    let glob_b = bucket("*", true, &[]);
    assert!(may_see_bucket(&Identity::Anonymous, &pub_b));
    assert!(!may_see_bucket(&Identity::Anonymous, &priv_b));
    assert!(!may_see_bucket(&Identity::Anonymous, &glob_b));
    let id = principal(vec![scope("pr*", &["x/"], &[Action::GetObject])]);
    assert!(may_see_bucket(&id, &pub_b));
    assert!(may_see_bucket(&id, &priv_b));
    assert!(!may_see_bucket(&id, &glob_b));
    assert!(!may_see_bucket(&principal(vec![]), &priv_b));
    // A session whose role the bucket does not allow does not see it.
    let s = session("ci", vec![scope("priv", &[], &[Action::GetObject])]);
    assert!(!may_see_bucket(&s, &priv_b));
    assert!(may_see_bucket(&s, &bucket("priv", false, &["ci"])));
}

#[test]
fn glob_matching_handles_stars_questions_and_literals() {
    assert!(glob_match("*", ""));
    assert!(glob_match("*", "anything"));
    assert!(glob_match("data-*", "data-"));
    assert!(glob_match("data-*", "data-eu"));
    assert!(!glob_match("data-*", "dat"));
    assert!(glob_match("a?c", "abc"));
    assert!(!glob_match("a?c", "ac"));
    assert!(glob_match("a*b*c", "aXXbYYc"));
    assert!(!glob_match("a*b*c", "aXXbYY"));
    assert!(glob_match("*ab*ab", "xababab"));
    assert!(!glob_match("*ab*ab", "xab"));
    assert!(glob_match("abc", "abc"));
    assert!(!glob_match("abc", "abcd"));
    assert!(!glob_match("", "a"));
    assert!(glob_match("", ""));
    assert!(glob_match("**", ""));
}

#[test]
fn glob_matching_is_unicode_safe() {
    assert!(glob_match("d?t?", "dätä"));
    assert!(glob_match("?", "é"));
    assert!(glob_match("日本*", "日本語"));
    assert!(glob_match("*語", "日本語"));
    assert!(!glob_match("??", "日本語"));
    assert!(glob_match("???", "日本語"));
}

#[test]
fn glob_matching_does_not_backtrack_exponentially() {
    let text = "a".repeat(10_000);
    let pattern = format!("{}b", "*a".repeat(50));
    // An exponential matcher would not finish this in any test run; no clock needed.
    assert!(!glob_match(&pattern, &text));
}

#[test]
fn tagging_has_its_own_actions_and_attributes_need_get_object() {
    assert_eq!(
        action_for(Operation::GetObjectTagging),
        Action::GetObjectTagging
    );
    assert_eq!(
        action_for(Operation::PutObjectTagging),
        Action::PutObjectTagging
    );
    assert_eq!(
        action_for(Operation::DeleteObjectTagging),
        Action::PutObjectTagging
    );
    assert_eq!(
        action_for(Operation::GetObjectAttributes),
        Action::GetObject
    );
    for a in [Action::GetObjectTagging, Action::PutObjectTagging] {
        assert_eq!(Action::from_name(a.as_str()), Some(a));
        for other in Action::ALL {
            assert_eq!(other.grants(a), other == a, "{other} grants {a}?");
        }
    }
    assert_eq!(Action::from_name("delete_object_tagging"), None);
}

#[test]
fn get_object_reads_current_objects_only_and_versions_need_their_own_actions() {
    let b = bucket("data", false, &[]);
    let reader = principal(vec![scope(
        "data",
        &["team/"],
        &[Action::GetObject, Action::DeleteObject, Action::ListBucket],
    )]);
    let versions = principal(vec![scope(
        "data",
        &["team/"],
        &[
            Action::GetObjectVersion,
            Action::DeleteObjectVersion,
            Action::ListBucketVersions,
        ],
    )]);
    let allowed = |who: &Identity, op: Operation, version: Option<&str>, key: &str| {
        actions_for(op, version)
            .into_iter()
            .all(|a| authorize(who, &b, a, key).is_ok())
    };
    for op in [
        Operation::GetObject,
        Operation::HeadObject,
        Operation::DeleteObject,
    ] {
        assert!(allowed(&reader, op, None, "team/k"), "{op:?}");
        assert!(!allowed(&reader, op, Some("v1"), "team/k"), "{op:?}");
        assert!(allowed(&versions, op, Some("v1"), "team/k"), "{op:?}");
        assert!(!allowed(&versions, op, Some("v1"), "other/k"), "{op:?}");
    }
    // Listing versions follows the folder boundaries of listing keys.
    assert!(allowed(
        &versions,
        Operation::ListObjectVersions,
        None,
        "team/"
    ));
    assert!(!allowed(
        &versions,
        Operation::ListObjectVersions,
        None,
        "team"
    ));
    assert!(!allowed(
        &reader,
        Operation::ListObjectVersions,
        None,
        "team/"
    ));
    // Tagging a version needs the tagging action and the version action.
    assert_eq!(
        actions_for(Operation::PutObjectTagging, Some("v")),
        [Action::PutObjectTagging, Action::GetObjectVersion]
    );
    // Public buckets publish current objects, not versions.
    let public = bucket("pub", true, &[]);
    for a in [
        Action::GetObjectVersion,
        Action::ListBucketVersions,
        Action::GetBucketVersioning,
    ] {
        assert!(
            authorize(&Identity::Anonymous, &public, a, "k").is_err(),
            "{a}"
        );
    }
    // Bucket versioning needs a whole-bucket scope.
    let admin = principal(vec![scope(
        "data",
        &["team/"],
        &[Action::PutBucketVersioning],
    )]);
    assert!(authorize(&admin, &b, Action::PutBucketVersioning, "").is_err());
    for name in [
        "get_object_version",
        "delete_object_version",
        "list_bucket_versions",
        "get_bucket_versioning",
        "put_bucket_versioning",
    ] {
        assert_eq!(Action::from_name(name).map(Action::as_str), Some(name));
    }
}
