//! Object lock, bucket tags and default encryption on their way to an S3-compatible backend.
//!
//! What reaches the backend is derived from the checked request only (see [`crate::s3::lock`]):
//! the documents are parsed and written anew, the `x-amz-object-lock-*`,
//! `x-amz-bypass-governance-retention` and `x-amz-bucket-object-lock-enabled` headers are checked,
//! authorized as IAM authorizes them, and set by the gateway with the checked values (they are on
//! no forwarding allowlist). Refused before any backend is contacted:
//! - a bucket setting (object lock configuration, tags, encryption) on a bucket that is a folder
//!   of a backend bucket (`backend_prefix`): 501 NotImplemented, for every caller, because it
//!   would read or change the whole backend bucket, other tenants' folders included;
//! - any of this on Azure, GCS or R2 backends: 501 NotImplemented naming the backend (an upload
//!   asking for a lock that would not be kept must not succeed);
//! - object lock headers on a copy the gateway streams between backends: 501.

use bytes::Bytes;
use http::HeaderMap;

use crate::auth::PayloadMode;
use crate::config::BucketConfig;
use crate::policy::{self, Action, Identity};
use crate::s3::lock;
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml;
use crate::s3::S3Error;

/// What object lock adds to a request the gateway forwards.
#[derive(Debug, Default)]
pub(crate) struct LockPlan {
    /// Headers the gateway sets on the backend request, with the checked values.
    pub headers: Vec<(&'static str, String)>,
    /// The request asks for object lock (lock headers, a bucket created with object lock).
    pub asks_lock: bool,
    /// A backend `AccessDenied` to this request is an object lock refusing it (a locked version
    /// deleted, a retention shortened), the client's answer rather than the gateway's 502.
    pub lock_guarded: bool,
    /// Response headers the caller may not see (`x-amz-object-lock-*` on GET and HEAD without
    /// the right to read retention or legal hold, as S3 answers).
    pub hidden: Vec<&'static str>,
}

/// Operations only S3-compatible backends can carry out.
pub(crate) fn s3_only(op: Operation) -> bool {
    op.is_bucket_setting()
        || matches!(
            op,
            Operation::GetObjectRetention
                | Operation::PutObjectRetention
                | Operation::GetObjectLegalHold
                | Operation::PutObjectLegalHold
        )
}

/// The refusal on a backend without object lock or bucket settings (`what` names the backend).
pub(crate) fn unsupported_backend(op: Operation, what: &str) -> S3Error {
    let doing = if s3_only(op) {
        format!("{op:?}")
    } else {
        "object lock (x-amz-object-lock-* or x-amz-bucket-object-lock-enabled)".to_string()
    };
    S3Error::not_implemented(format!("{doing} is not available on {what} backends"))
}

/// The refusal of a bucket setting on a bucket with a `backend_prefix`.
pub(crate) fn prefixed_bucket(op: Operation, name: &str) -> S3Error {
    S3Error::not_implemented(format!(
        "{op:?} is not available on bucket '{name}': it is a folder of a shared backend bucket, \
         and its settings would be the whole backend bucket's"
    ))
}

/// Checks and authorizes the object lock parts of a request the caller may make (the
/// operation's own action is authorized already): lock headers on uploads and copies need
/// `put_object_retention` / `put_object_legal_hold`, a bypass of governance retention
/// `bypass_governance_retention`, a bucket created with object lock
/// `put_bucket_object_lock_configuration`. `InvalidArgument` for a malformed header,
/// `AccessDenied` naming the missing action.
pub(crate) fn check_lock(
    req: &S3Request,
    headers: &HeaderMap,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
) -> Result<LockPlan, S3Error> {
    let key = req.key.as_deref().unwrap_or("");
    let may = |action: Action| policy::authorize_named(identity, bucket, name, action, key);
    let mut plan = LockPlan::default();
    match req.operation {
        Operation::PutObject | Operation::CopyObject | Operation::CreateMultipartUpload => {
            let asked = lock::lock_headers(headers)?;
            plan.asks_lock = asked.any();
            if let Some((mode, date)) = asked.retention {
                may(Action::PutObjectRetention)?;
                plan.headers
                    .push(("x-amz-object-lock-mode", mode.as_str().to_string()));
                plan.headers
                    .push(("x-amz-object-lock-retain-until-date", date));
            }
            if let Some(on) = asked.legal_hold {
                may(Action::PutObjectLegalHold)?;
                let status = if on { "ON" } else { "OFF" };
                plan.headers
                    .push(("x-amz-object-lock-legal-hold", status.to_string()));
            }
        }
        Operation::CreateBucket if lock::bucket_lock_enabled(headers)? => {
            may(Action::PutBucketObjectLockConfiguration)?;
            plan.headers
                .push(("x-amz-bucket-object-lock-enabled", "true".to_string()));
            plan.asks_lock = true;
        }
        // DeleteObjects checks the bypass key by key (`authorized_deletes`).
        Operation::DeleteObject | Operation::PutObjectRetention | Operation::DeleteObjects => {
            if lock::bypass_governance(headers)? {
                if req.operation != Operation::DeleteObjects {
                    may(Action::BypassGovernanceRetention)?;
                }
                plan.headers
                    .push(("x-amz-bypass-governance-retention", "true".to_string()));
            }
            plan.lock_guarded = req.operation == Operation::PutObjectRetention
                || (req.operation == Operation::DeleteObject
                    && req.query_param("versionId").is_some());
        }
        Operation::GetObject | Operation::HeadObject => {
            if may(Action::GetObjectRetention).is_err() {
                plan.hidden.extend([
                    "x-amz-object-lock-mode",
                    "x-amz-object-lock-retain-until-date",
                ]);
            }
            if may(Action::GetObjectLegalHold).is_err() {
                plan.hidden.push("x-amz-object-lock-legal-hold");
            }
        }
        _ => {}
    }
    Ok(plan)
}

/// Whether the caller may bypass governance retention for `key` of a DeleteObjects request
/// that asks to (true when it does not ask).
pub(crate) fn may_bypass(
    headers: &HeaderMap,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
    key: &str,
) -> Result<(), S3Error> {
    if lock::bypass_governance(headers).unwrap_or(true) {
        policy::authorize_named(
            identity,
            bucket,
            name,
            Action::BypassGovernanceRetention,
            key,
        )?;
    }
    Ok(())
}

/// Largest PutBucketTagging body: 50 tags of 128 + 256 characters (up to 4 bytes each, or a
/// character reference each), with room to spare.
const MAX_BUCKET_TAGGING_BODY: usize = 256 << 10;

/// The body limit of an operation whose document the gateway reads, None for the others.
pub(crate) fn body_limit(op: Operation) -> Option<usize> {
    match op {
        Operation::PutBucketTagging => Some(MAX_BUCKET_TAGGING_BODY),
        Operation::PutObjectRetention
        | Operation::PutObjectLegalHold
        | Operation::PutObjectLockConfiguration
        | Operation::PutBucketEncryption => Some(lock::MAX_SETTINGS_BODY),
        _ => None,
    }
}

/// The document the gateway forwards for `op`: the client's body checked against what it
/// signed, parsed, and written anew.
pub(crate) fn settings_body(
    op: Operation,
    headers: &HeaderMap,
    payload: &PayloadMode,
    body: &Bytes,
) -> Result<Bytes, S3Error> {
    crate::plan::check_small_body(headers, payload, body)?;
    let doc = match op {
        Operation::PutObjectRetention => lock::retention_xml(&lock::parse_retention(body)?),
        Operation::PutObjectLegalHold => lock::legal_hold_xml(lock::parse_legal_hold(body)?),
        Operation::PutObjectLockConfiguration => {
            lock::lock_configuration_xml(&lock::parse_lock_configuration(body)?)
        }
        Operation::PutBucketTagging => xml::tagging_xml(&xml::parse_bucket_tagging(body)?),
        Operation::PutBucketEncryption => lock::encryption_xml(&lock::parse_encryption(body)?),
        _ => return Err(S3Error::internal("no settings document for this operation")),
    };
    Ok(Bytes::from(doc))
}
