//! DeleteObjects: the key list read, checked and authorized key by key, then rewritten for the
//! backend (or answered whole when no key may be deleted).

use bytes::Bytes;

use crate::auth::PayloadMode;
use crate::config::BucketConfig;
use crate::pathmap::ClientView;
use crate::policy::Identity;
use crate::s3::request::RequestHead;
use crate::s3::xml;
use crate::s3::S3Error;

use super::Gateway;
use crate::backend::delete::authorized_deletes;

impl Gateway {
    /// DeleteObjects: the body parsed, each key authorized on its own, allowed keys mapped under
    /// the backend prefix, refused keys reported per key as S3 does.
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    pub(crate) fn delete_objects(
        &self,
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
}

pub(crate) enum DeletePlan {
    Forward(Bytes, Vec<(String, &'static str, String)>),
    Respond(String),
}
