//! Authorization: identities, scopes, action names, and the check itself.
//!
//! Fail closed: an identity may do only what a scope grants, plus the anonymous rights of public
//! buckets (GET, HEAD, List).
//!
//! Semantics (multistore 0.7 unless noted):
//! - A scope grants its `actions` on keys under its `prefixes` (all keys when empty) in buckets
//!   whose client-facing name matches its `bucket`. 0.7 compared bucket names exactly; we also
//!   accept a glob (`*`, `data-*`), which is a superset.
//! - Prefix matching is boundary-aware, as in 0.7: a prefix ending in `/` matches any key that
//!   starts with it; a prefix without a trailing `/` matches the key equal to it or keys that
//!   continue with `/`, so `data` covers `data/x` but not `data-private/x`.
//! - For List and ListMultipartUploads, the checked "key" is the requested `prefix`, and it
//!   must lie inside a scope prefix's folder: scope `team` or `team/` admits list prefixes that
//!   start with `team/` (`team/`, `team/sub`), never `team` itself or `te`, which would also
//!   list `team-private/...`. An empty list prefix needs a whole-bucket scope. So a listing
//!   returns nothing outside what was authorized.
//! - Actions are exact, as in 0.7: `put_object` does not imply the multipart actions and
//!   `delete_object` does not imply anything else. One extension: `get_object` also grants
//!   `head_object`, as IAM's `s3:GetObject` does, and GetObjectAttributes needs `get_object`
//!   (what it answers, a HEAD shows). Object tags have their own actions, as in IAM,
//!   granted by no other: `get_object_tagging`, and `put_object_tagging` for both
//!   PutObjectTagging and DeleteObjectTagging (deleting the tags is putting an empty set).
//!   Object lock, bucket tags and default encryption likewise, with IAM's names:
//!   `get_object_retention` / `put_object_retention`, `get_object_legal_hold` /
//!   `put_object_legal_hold` (also needed to send the matching `x-amz-object-lock-*` headers on
//!   an upload or copy), `bypass_governance_retention` (to send
//!   `x-amz-bypass-governance-retention: true`), `get_bucket_object_lock_configuration` /
//!   `put_bucket_object_lock_configuration` (also needed to create a bucket with object lock),
//!   `get_bucket_tagging` / `put_bucket_tagging` (also DeleteBucketTagging), and
//!   `get_encryption_configuration` / `put_encryption_configuration` (also
//!   DeleteBucketEncryption). Bucket settings are checked with an empty key, so they need a
//!   scope without prefixes (the whole bucket).
//! - Versions (see [`actions_for`]), as in IAM: `get_object` does not imply `get_object_version`
//!   (reading a version by id, GET or HEAD), nor `delete_object` `delete_object_version`
//!   (deleting a version for good); `list_bucket_versions` lists versions and delete markers
//!   (scope prefixes apply as to `list_bucket`); `get_bucket_versioning` and
//!   `put_bucket_versioning` need a whole-bucket scope (their key is empty). Anonymous callers
//!   of a public bucket get none of them: a public bucket publishes its current objects.
//! - Copy is `put_object` on the destination plus `get_object` on the source (two checks made by
//!   the caller; `get_object_version` when the source names a version); DeleteObjects is
//!   `delete_object` (`delete_object_version` for an entry with a `<VersionId>`) checked per key
//!   in the body
//!   (a key it may not delete is an AccessDenied `<Error>` in a 200 DeleteResult, as in S3;
//!   [`authorize_some_key`] refuses anonymous callers before their body is read).
//! - Sessions minted for a role (`Identity::Principal { role: Some(r), .. }`) may use a bucket only
//!   if its `allowed_roles` contains `r` or `*` (an empty list admits no session), besides what
//!   their scopes grant. This is what 0.7 documented for `allowed_roles`; 0.7 itself checked only
//!   the session's scopes. Public buckets keep their anonymous rights for everyone.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::s3::request::Operation;
use crate::s3::S3Error;

/// What authorization reads from a bucket's configuration (`config::BucketConfig` implements
/// it): policy sits below config, so it names only what it needs.
pub trait BucketAccess {
    /// The configured name (may be a glob).
    fn name(&self) -> &str;
    /// GET/HEAD/List without credentials.
    fn anonymous_access(&self) -> bool;
    /// Role ids whose sessions may use the bucket (`*`: any role).
    fn allowed_roles(&self) -> &[String];
}

impl<T: BucketAccess + ?Sized> BucketAccess for &T {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn anonymous_access(&self) -> bool {
        (**self).anonymous_access()
    }
    fn allowed_roles(&self) -> &[String] {
        (**self).allowed_roles()
    }
}

/// Actions as written in config (`snake_case`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the config names in CamelCase
pub enum Action {
    GetObject,
    HeadObject,
    PutObject,
    DeleteObject,
    ListBucket,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListMultipartUploadParts,
    ListBucketMultipartUploads,
    CreateBucket,
    DeleteBucket,
    GetObjectTagging,
    PutObjectTagging,
    GetObjectVersion,
    DeleteObjectVersion,
    ListBucketVersions,
    GetBucketVersioning,
    PutBucketVersioning,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketObjectLockConfiguration,
    PutBucketObjectLockConfiguration,
    BypassGovernanceRetention,
    GetBucketTagging,
    PutBucketTagging,
    GetEncryptionConfiguration,
    PutEncryptionConfiguration,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 31] = [
        Action::GetObject,
        Action::HeadObject,
        Action::PutObject,
        Action::DeleteObject,
        Action::ListBucket,
        Action::CreateMultipartUpload,
        Action::UploadPart,
        Action::CompleteMultipartUpload,
        Action::AbortMultipartUpload,
        Action::ListMultipartUploadParts,
        Action::ListBucketMultipartUploads,
        Action::CreateBucket,
        Action::DeleteBucket,
        Action::GetObjectTagging,
        Action::PutObjectTagging,
        Action::GetObjectVersion,
        Action::DeleteObjectVersion,
        Action::ListBucketVersions,
        Action::GetBucketVersioning,
        Action::PutBucketVersioning,
        Action::GetObjectRetention,
        Action::PutObjectRetention,
        Action::GetObjectLegalHold,
        Action::PutObjectLegalHold,
        Action::GetBucketObjectLockConfiguration,
        Action::PutBucketObjectLockConfiguration,
        Action::BypassGovernanceRetention,
        Action::GetBucketTagging,
        Action::PutBucketTagging,
        Action::GetEncryptionConfiguration,
        Action::PutEncryptionConfiguration,
    ];

    /// The canonical config names, in [`Action::ALL`] order.
    pub const NAMES: [&'static str; 31] = [
        "get_object",
        "head_object",
        "put_object",
        "delete_object",
        "list_bucket",
        "create_multipart_upload",
        "upload_part",
        "complete_multipart_upload",
        "abort_multipart_upload",
        "list_multipart_upload_parts",
        "list_bucket_multipart_uploads",
        "create_bucket",
        "delete_bucket",
        "get_object_tagging",
        "put_object_tagging",
        "get_object_version",
        "delete_object_version",
        "list_bucket_versions",
        "get_bucket_versioning",
        "put_bucket_versioning",
        "get_object_retention",
        "put_object_retention",
        "get_object_legal_hold",
        "put_object_legal_hold",
        "get_bucket_object_lock_configuration",
        "put_bucket_object_lock_configuration",
        "bypass_governance_retention",
        "get_bucket_tagging",
        "put_bucket_tagging",
        "get_encryption_configuration",
        "put_encryption_configuration",
    ];

    /// The config name (`get_object`).
    pub fn as_str(self) -> &'static str {
        let i = Self::ALL.iter().position(|a| *a == self).unwrap_or(0);
        Self::NAMES[i]
    }

    /// Parses a config name. Besides the canonical names, accepts the aliases `list_parts`
    /// (`list_multipart_upload_parts`), `list_multipart_uploads`
    /// (`list_bucket_multipart_uploads`), and `list_objects` / `list_objects_v2` (`list_bucket`).
    pub fn from_name(name: &str) -> Option<Self> {
        if let Some(i) = Self::NAMES.iter().position(|n| *n == name) {
            return Some(Self::ALL[i]);
        }
        match name {
            "list_parts" => Some(Self::ListMultipartUploadParts),
            "list_multipart_uploads" => Some(Self::ListBucketMultipartUploads),
            "list_objects" | "list_objects_v2" => Some(Self::ListBucket),
            _ => None,
        }
    }

    /// Whether a scope listing `self` grants `wanted`.
    fn grants(self, wanted: Action) -> bool {
        self == wanted || (self == Action::GetObject && wanted == Action::HeadObject)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown action '{s}' (expected one of {})",
                Action::NAMES.join(", ")
            ))
        })
    }
}

/// A grant: actions on keys under `prefixes` (all keys if empty) in buckets matching `bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Scope {
    /// Bucket name or glob (`*`, `data-*`).
    pub bucket: String,
    /// Key prefixes; empty means the whole bucket.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Allowed actions.
    pub actions: Vec<Action>,
}

impl Scope {
    /// Whether this scope covers the client-facing bucket name `bucket`.
    pub fn matches_bucket(&self, bucket: &str) -> bool {
        self.bucket == bucket || glob_match(&self.bucket, bucket)
    }

    /// Whether this scope grants `action` (regardless of bucket and key).
    pub fn grants(&self, action: Action) -> bool {
        self.actions.iter().any(|a| a.grants(action))
    }

    /// Whether `key` falls under one of the prefixes (always, when there are none).
    pub fn covers_key(&self, key: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| key_matches_prefix(key, p))
    }

    /// Whether a listing of `prefix` lists only keys under one of the prefixes (always, when
    /// there are none): see [`list_prefix_within`].
    pub fn covers_list_prefix(&self, prefix: &str) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| list_prefix_within(prefix, p))
    }
}

/// Whether every key a listing of `list_prefix` can return lies under the scope prefix
/// `scope`: the list prefix starts with the scope's folder (`scope` with a `/` added unless it
/// ends in one). `team` admits `team/` and `team/x` but not `team` (it lists `team-private/`);
/// an empty scope prefix admits every listing.
pub fn list_prefix_within(list_prefix: &str, scope: &str) -> bool {
    if scope.is_empty() {
        return true;
    }
    match scope.strip_suffix('/') {
        Some(_) => list_prefix.starts_with(scope),
        None => {
            list_prefix.len() > scope.len()
                && list_prefix.starts_with(scope)
                && list_prefix.as_bytes()[scope.len()] == b'/'
        }
    }
}

/// Boundary-aware prefix match (multistore 0.7): `data/` matches keys starting with it; `data`
/// matches `data` and `data/...` but not `data-private/...`; an empty prefix matches every key.
pub fn key_matches_prefix(key: &str, prefix: &str) -> bool {
    if prefix.is_empty() || prefix.ends_with('/') {
        return key.starts_with(prefix);
    }
    key == prefix
        || (key.len() > prefix.len()
            && key.starts_with(prefix)
            && key.as_bytes()[prefix.len()] == b'/')
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// No credentials.
    Anonymous,
    /// A long-lived access key from config, or (later) an STS session.
    Principal {
        /// `principal_name` (or the session subject).
        name: String,
        /// The access key id used.
        access_key_id: String,
        /// The role a session was minted for (`allowed_roles` applies to it).
        role: Option<String>,
        /// What it may do.
        scopes: Vec<Scope>,
    },
}

/// The action an operation needs. `ListBuckets` maps to `ListBucket` but is never checked per
/// bucket (see [`may_see_bucket`]); `CopyObject` / `UploadPartCopy` need the returned action on
/// the destination plus `GetObject` on the source.
pub fn action_for(op: Operation) -> Action {
    match op {
        Operation::ListBuckets
        | Operation::HeadBucket
        | Operation::GetBucketLocation
        | Operation::ListObjects
        | Operation::ListObjectsV2 => Action::ListBucket,
        Operation::CreateBucket => Action::CreateBucket,
        Operation::DeleteBucket => Action::DeleteBucket,
        // As IAM's s3:GetObject: the attributes are what a HEAD of the object shows.
        Operation::GetObject | Operation::GetObjectAttributes => Action::GetObject,
        Operation::HeadObject => Action::HeadObject,
        Operation::PutObject | Operation::CopyObject | Operation::PostObject => Action::PutObject,
        Operation::DeleteObject | Operation::DeleteObjects => Action::DeleteObject,
        Operation::CreateMultipartUpload => Action::CreateMultipartUpload,
        Operation::UploadPart | Operation::UploadPartCopy => Action::UploadPart,
        Operation::CompleteMultipartUpload => Action::CompleteMultipartUpload,
        Operation::AbortMultipartUpload => Action::AbortMultipartUpload,
        Operation::ListParts => Action::ListMultipartUploadParts,
        Operation::ListMultipartUploads => Action::ListBucketMultipartUploads,
        Operation::GetObjectTagging => Action::GetObjectTagging,
        // Deleting the tags is writing an empty tag set: one action for both.
        Operation::PutObjectTagging | Operation::DeleteObjectTagging => Action::PutObjectTagging,
        Operation::GetObjectRetention => Action::GetObjectRetention,
        Operation::PutObjectRetention => Action::PutObjectRetention,
        Operation::GetObjectLegalHold => Action::GetObjectLegalHold,
        Operation::PutObjectLegalHold => Action::PutObjectLegalHold,
        Operation::GetObjectLockConfiguration => Action::GetBucketObjectLockConfiguration,
        Operation::PutObjectLockConfiguration => Action::PutBucketObjectLockConfiguration,
        Operation::GetBucketTagging => Action::GetBucketTagging,
        // As IAM: deleting a bucket's tags is s3:PutBucketTagging.
        Operation::PutBucketTagging | Operation::DeleteBucketTagging => Action::PutBucketTagging,
        Operation::GetBucketEncryption => Action::GetEncryptionConfiguration,
        // As IAM: DeleteBucketEncryption is s3:PutEncryptionConfiguration.
        Operation::PutBucketEncryption | Operation::DeleteBucketEncryption => {
            Action::PutEncryptionConfiguration
        }
        Operation::ListObjectVersions => Action::ListBucketVersions,
        Operation::GetBucketVersioning => Action::GetBucketVersioning,
        Operation::PutBucketVersioning => Action::PutBucketVersioning,
    }
}

/// The actions a request needs on its key (for listings: its prefix): [`action_for`] its
/// operation, and for one that names a version (`versionId`) the version action as well, as in
/// IAM (`s3:GetObjectVersion`, `s3:DeleteObjectVersion`): a scope with `get_object` reads the
/// current object only. GET, HEAD and GetObjectAttributes of a version need `get_object_version`
/// alone; DeleteObject of a version `delete_object_version` alone; object tagging of a version
/// needs its tagging action plus `get_object_version` (the version vocabulary stays small: naming
/// an old version is what `get_object_version` grants).
pub fn actions_for(op: Operation, version: Option<&str>) -> Vec<Action> {
    let Some(_) = version else {
        return vec![action_for(op)];
    };
    match op {
        Operation::GetObject | Operation::HeadObject | Operation::GetObjectAttributes => {
            vec![Action::GetObjectVersion]
        }
        Operation::DeleteObject => vec![Action::DeleteObjectVersion],
        // As IAM: a version's retention and legal hold need their own action only.
        Operation::GetObjectRetention
        | Operation::PutObjectRetention
        | Operation::GetObjectLegalHold
        | Operation::PutObjectLegalHold => vec![action_for(op)],
        other => vec![action_for(other), Action::GetObjectVersion],
    }
}

/// What anonymous callers may do on a public bucket.
fn anonymous_may(bucket: &impl BucketAccess, action: Action) -> bool {
    bucket.anonymous_access()
        && matches!(
            action,
            Action::GetObject | Action::HeadObject | Action::ListBucket
        )
}

pub(crate) fn role_allowed(bucket: &impl BucketAccess, role: Option<&str>) -> bool {
    role.is_none_or(|r| bucket.allowed_roles().iter().any(|a| a == r || a == "*"))
}

/// Checks `identity` may do `action` on `key` (for List: the requested prefix) in `bucket`,
/// using the bucket's configured name as the client-facing name. For glob buckets use
/// [`authorize_named`] with the name the client sent. The error says what was missing.
pub fn authorize(
    identity: &Identity,
    bucket: &impl BucketAccess,
    action: Action,
    key: &str,
) -> Result<(), S3Error> {
    authorize_named(identity, bucket, bucket.name(), action, key)
}

/// [`authorize`] with the client-facing bucket `name` (which differs from `bucket.name` when the
/// config entry is a glob).
pub fn authorize_named(
    identity: &Identity,
    bucket: &impl BucketAccess,
    name: &str,
    action: Action,
    key: &str,
) -> Result<(), S3Error> {
    check(identity, bucket, name, action, Some(key))
}

/// The coarse check for an anonymous DeleteObjects before its body is read: the bucket lets
/// anyone delete (for a principal: some scope grants `action` on the bucket, under whatever
/// prefix). Each key must then pass [`authorize_named`].
pub fn authorize_some_key(
    identity: &Identity,
    bucket: &impl BucketAccess,
    name: &str,
    action: Action,
) -> Result<(), S3Error> {
    check(identity, bucket, name, action, None)
}

fn check(
    identity: &Identity,
    bucket: &impl BucketAccess,
    name: &str,
    action: Action,
    key: Option<&str>,
) -> Result<(), S3Error> {
    if anonymous_may(bucket, action) {
        return Ok(());
    }
    let Identity::Principal {
        name: who,
        role,
        scopes,
        ..
    } = identity
    else {
        return Err(S3Error::access_denied(format!(
            "anonymous access is not allowed for {action} on bucket {name}"
        )));
    };
    if !role_allowed(bucket, role.as_deref()) {
        return Err(S3Error::access_denied(format!(
            "role '{}' is not in the allowed_roles of bucket {name}",
            role.as_deref().unwrap_or_default()
        )));
    }
    let mut granting = scopes
        .iter()
        .filter(|s| s.matches_bucket(name) && s.grants(action))
        .peekable();
    if granting.peek().is_none() {
        return Err(S3Error::access_denied(format!(
            "no scope of '{who}' grants {action} on bucket {name}"
        )));
    }
    let Some(key) = key else { return Ok(()) };
    let listing = matches!(
        action,
        Action::ListBucket | Action::ListBucketMultipartUploads | Action::ListBucketVersions
    );
    let mut prefixes = Vec::new();
    for s in granting {
        let covered = if listing {
            s.covers_list_prefix(key)
        } else {
            s.covers_key(key)
        };
        if covered {
            return Ok(());
        }
        prefixes.extend(s.prefixes.iter().map(String::as_str));
    }
    let what = if listing { "prefix" } else { "key" };
    Err(S3Error::access_denied(format!(
        "{action} on bucket {name} is granted to '{who}' only under the prefixes [{}], not for {what} '{key}'",
        prefixes.join(", ")
    )))
}

/// Whether ListBuckets shows `bucket` to `identity`. Glob-named buckets are never listed.
/// Anonymous callers see public buckets; principals see public buckets plus those one of their
/// scopes matches (and, for role sessions, whose `allowed_roles` admit the role).
pub fn may_see_bucket(identity: &Identity, bucket: &impl BucketAccess) -> bool {
    if is_glob(bucket.name()) {
        return false;
    }
    if bucket.anonymous_access() {
        return true;
    }
    match identity {
        Identity::Anonymous => false,
        Identity::Principal { role, scopes, .. } => {
            role_allowed(bucket, role.as_deref())
                && scopes
                    .iter()
                    .any(|s| s.matches_bucket(bucket.name()) && !s.actions.is_empty())
        }
    }
}

/// True when `s` contains a glob metacharacter (`*` or `?`).
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Glob match with `*` (any run of characters) and `?` (one character). Linear-ish (the classic
/// two-pointer algorithm with one backtrack point: O(len(pattern) * len(s)) worst case, no
/// exponential backtracking); works on characters, so unicode never splits.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` seen in the pattern, and the text position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
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
        let e =
            authorize(&id, &bucket("b", false, &["other"]), Action::GetObject, "k").unwrap_err();
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
}
