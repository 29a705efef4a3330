//! DeleteObjects' key list, read, checked and authorized key by key: what every backend
//! deletes (or reports refused) from one request body.

use bytes::Bytes;

use crate::auth::PayloadMode;
use crate::backend::s3::settings;
use crate::config::BucketConfig;
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
