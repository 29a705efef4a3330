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
pub(crate) trait BucketAccess {
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
pub(crate) fn list_prefix_within(list_prefix: &str, scope: &str) -> bool {
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
pub(crate) fn key_matches_prefix(key: &str, prefix: &str) -> bool {
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
pub(crate) fn action_for(op: Operation) -> Action {
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
pub(crate) fn actions_for(op: Operation, version: Option<&str>) -> Vec<Action> {
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
#[cfg(test)]
pub(crate) fn authorize(
    identity: &Identity,
    bucket: &impl BucketAccess,
    action: Action,
    key: &str,
) -> Result<(), S3Error> {
    authorize_named(identity, bucket, bucket.name(), action, key)
}

/// [`authorize`] with the client-facing bucket `name` (which differs from `bucket.name` when the
/// config entry is a glob).
pub(crate) fn authorize_named(
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
pub(crate) fn authorize_some_key(
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
pub(crate) fn may_see_bucket(identity: &Identity, bucket: &impl BucketAccess) -> bool {
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
pub(crate) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Glob match with `*` (any run of characters) and `?` (one character). Linear-ish (the classic
/// two-pointer algorithm with one backtrack point: O(len(pattern) * len(s)) worst case, no
/// exponential backtracking); works on characters, so unicode never splits.
pub(crate) fn glob_match(pattern: &str, s: &str) -> bool {
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
mod tests;
