//! DeleteObjects' key list, read, checked and authorized key by key: what every backend
//! deletes (or reports refused) from one request body.

use bytes::Bytes;

use crate::auth::PayloadMode;
use crate::backend::s3::settings;
use crate::config::BucketConfig;
use crate::pathmap::ClientView;
use crate::plan::check_small_body;
use crate::policy::{self, Action, Identity};
use crate::s3::request::{self, RequestHead};
use crate::s3::xml;
use crate::s3::S3Error;

/// The keys of a DeleteObjects body, each authorized on its own (allowed keys in the config
/// bucket's namespace, refused ones as the client sent them).
pub(crate) struct DeleteSet {
    /// `<Quiet>true</Quiet>`.
    pub quiet: bool,
    /// `(key, version id)` the identity may delete.
    pub allowed: Vec<(String, Option<String>)>,
    /// `(key, code, message)` of refused keys (keys as the client named them).
    pub errors: Vec<(String, &'static str, String)>,
}

/// DeleteObjects: the body checked and parsed, each key authorized on its own.
pub(crate) fn authorized_deletes(
    head: &RequestHead,
    payload: &PayloadMode,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
    body: &Bytes,
    client_prefix: &str,
) -> Result<DeleteSet, S3Error> {
    check_small_body(&head.headers, payload, body)?;
    let request = xml::parse_delete(body)?;
    let mut allowed = Vec::with_capacity(request.objects.len());
    let mut errors = Vec::new();
    for (key, version) in request.objects {
        if let Err(e) = request::check_key(&key) {
            errors.push((key, "InvalidArgument", e.message));
            continue;
        }
        let Some(inner) = key.strip_prefix(client_prefix) else {
            let message = format!(
                "one DeleteObjects request deletes from one path-mapped bucket: this key is not under '{client_prefix}'"
            );
            errors.push((key, "InvalidRequest", message));
            continue;
        };
        if let Some(Err(e)) = version
            .as_deref()
            .map(|v| request::check_version_id(v, "VersionId"))
        {
            errors.push((key, "InvalidArgument", e.message));
            continue;
        }
        let action = match version {
            Some(_) => Action::DeleteObjectVersion,
            None => Action::DeleteObject,
        };
        let may = policy::authorize_named(identity, bucket, name, action, inner)
            .and_then(|()| settings::may_bypass(&head.headers, identity, bucket, name, inner));
        match may {
            Ok(()) => allowed.push((inner.to_string(), version)),
            Err(e) => errors.push((key, "AccessDenied", e.message)),
        }
    }
    Ok(DeleteSet {
        quiet: request.quiet,
        allowed,
        errors,
    })
}

/// DeleteObjects: the body parsed, each key authorized on its own, allowed keys mapped under
/// the backend prefix, refused keys reported per key as S3 does.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
pub(crate) fn delete_objects(
    head: &RequestHead,
    payload: &PayloadMode,
    identity: &Identity,
    bucket: &BucketConfig,
    name: &str,
    prefix: &str,
    body: &Bytes,
    view: Option<&ClientView>,
) -> Result<DeletePlan, S3Error> {
    let client_prefix = view.map_or("", |v| v.key_prefix.as_str());
    let set = authorized_deletes(head, payload, identity, bucket, name, body, client_prefix)?;
    if set.allowed.is_empty() {
        return Ok(DeletePlan::Respond(xml::delete_result_xml(&set.errors)));
    }
    let allowed: Vec<(String, Option<String>)> = set
        .allowed
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .collect();
    Ok(DeletePlan::Forward(
        Bytes::from(xml::delete_xml(set.quiet, &allowed)),
        set.errors,
    ))
}

/// What becomes of a DeleteObjects: a body for the backend with the keys refused here, or
/// (no key may be deleted) the answer itself.
pub(crate) enum DeletePlan {
    Forward(Bytes, Vec<(String, &'static str, String)>),
    Respond(String),
}
