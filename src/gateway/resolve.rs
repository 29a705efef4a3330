//! Bucket resolution: the config bucket a request names, and the checks its name and key pass
//! before it is authorized.

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::backend::glued_dot_segment;
use crate::backend::s3::set_header;
use crate::config::BucketConfig;
use crate::pathmap::ClientView;
use crate::policy::{self, Identity};
use crate::s3::request::{self, Operation, S3Request};
use crate::s3::xml;
use crate::s3::{ErrorCode, S3Error};

use super::mapping::no_such_product;
use super::{Gateway, RequestContext};
use crate::plan::respond;

impl Gateway {
    /// Bucket resolution: the config bucket the (mapped) request names, once its key passed the
    /// same checks as a parsed one; bucket creation and deletion answered as S3 would for buckets
    /// the gateway defines; a pass-through name checked as a valid S3 name.
    pub(super) fn resolve_bucket<'a>(
        &'a self,
        req: &'a S3Request,
        identity: &Identity,
        view: Option<&ClientView>,
        resource: &str,
    ) -> Result<Resolved<'a>, S3Error> {
        // Keys that did not come through `request::parse` (path mapping, POST forms) pass the
        // same check.
        if let Some(key) = req.key.as_deref() {
            request::check_key(key).map_err(|e| e.with_resource(resource))?;
        }
        let bucket_admin = matches!(
            req.operation,
            Operation::CreateBucket | Operation::DeleteBucket
        );
        // Only pass-through (glob) buckets map to backend buckets of the same name; every other
        // bucket is a config entry.
        let is_passthrough = req
            .bucket
            .as_deref()
            .and_then(|n| self.find_bucket(n))
            .is_some_and(|(_, b)| {
                b.is_glob() && b.backend_prefix.as_deref().unwrap_or("").is_empty()
            });
        // Tools that "ensure the bucket exists" (rclone, Terraform, s3fs) create it first and
        // accept S3's answer for a bucket that is already there.
        if req.operation == Operation::CreateBucket && !is_passthrough {
            if let Some((_, b)) = req.bucket.as_deref().and_then(|n| self.find_bucket(n)) {
                let (code, msg) = if policy::may_see_bucket(identity, b) {
                    (
                        ErrorCode::BucketAlreadyOwnedByYou,
                        "the bucket exists and you may already use it",
                    )
                } else {
                    (
                        ErrorCode::BucketAlreadyExists,
                        "the bucket name is taken; buckets are defined by the gateway's configuration",
                    )
                };
                return Err(S3Error::new(code, msg).with_resource(resource));
            }
        }
        if bucket_admin && !is_passthrough {
            return Err(S3Error::not_implemented(
                "buckets are defined by the gateway's configuration; create or delete them there",
            )
            .with_resource(resource));
        }
        let Some(name) = req.bucket.as_deref() else {
            return Err(S3Error::invalid_request("this operation needs a bucket"));
        };
        let (index, bucket) = self.find_bucket(name).ok_or_else(|| match view {
            Some(v) => no_such_product(v, resource),
            None => S3Error::new(
                ErrorCode::NoSuchBucket,
                format!("the bucket '{name}' does not exist"),
            )
            .with_resource(resource)
            .with_detail("BucketName", name),
        })?;
        // A pass-through bucket sends the client's name to the backend as it is (in the path,
        // or in the Host of a virtual-hosted backend): it must be a valid S3 name, checked
        // before anything else is done with it.
        if bucket.is_glob() {
            request::check_s3_bucket_name(name).map_err(|e| e.with_resource(resource))?;
        }
        if let Some(key) = req.key.as_deref() {
            check_backend_key(bucket, key).map_err(|e| e.with_resource(resource))?;
        }
        Ok(Resolved {
            index,
            bucket,
            name,
            is_passthrough,
        })
    }

    /// Exact names first, then globs in file order.
    pub(super) fn find_bucket(&self, name: &str) -> Option<(usize, &BucketConfig)> {
        let buckets = &self.config.buckets;
        self.by_name
            .get(name)
            .copied()
            .or_else(|| {
                self.globs
                    .iter()
                    .copied()
                    .find(|&i| buckets[i].matches(name))
            })
            .map(|i| (i, &buckets[i]))
    }

    /// HeadBucket and GetBucketLocation of a resolved bucket, answered by the gateway; None
    /// for other operations, and for a HeadBucket of a pass-through bucket (which exists only
    /// if the backend says so).
    pub(super) fn config_bucket_answer(
        &self,
        op: Operation,
        is_passthrough: bool,
        ctx: &RequestContext,
    ) -> Option<Response<Bytes>> {
        match op {
            Operation::HeadBucket if is_passthrough => None,
            Operation::HeadBucket | Operation::GetBucketLocation => {
                Some(self.bucket_answer(op, ctx))
            }
            _ => None,
        }
    }

    /// HeadBucket and GetBucketLocation, answered by the gateway (buckets are config entries).
    pub(super) fn bucket_answer(&self, op: Operation, ctx: &RequestContext) -> Response<Bytes> {
        if op == Operation::HeadBucket {
            let mut resp = respond(StatusCode::OK, Bytes::new(), None, &ctx.request_id);
            set_header(
                resp.headers_mut(),
                "x-amz-bucket-region",
                self.config.region(),
            );
            return resp;
        }
        respond(
            StatusCode::OK,
            xml::location_xml(self.config.region()).into(),
            Some("application/xml"),
            &ctx.request_id,
        )
    }
}

/// The config bucket a request names.
pub(super) struct Resolved<'a> {
    /// Its index in the config (and in the gateway's bucket entries).
    pub(super) index: usize,
    pub(super) bucket: &'a BucketConfig,
    /// The name the request gives it.
    pub(super) name: &'a str,
    /// A pass-through (glob) bucket without a backend prefix: a backend bucket of the same name.
    pub(super) is_passthrough: bool,
}

/// A key checked alone (`request::check_key`) may still form a dot segment once glued to the
/// bucket's backend prefix (`p/.` + `/k` is `p/./k`), which `fetch()` would send elsewhere: the
/// backend key passes the same check, for every backend kind, before anything is planned.
/// (The validating reader already refuses such prefixes and ends each with `/`; this stays for
/// configs built in code.)
pub(super) fn check_backend_key(bucket: &BucketConfig, key: &str) -> Result<(), S3Error> {
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    if !prefix.is_empty() && request::has_dot_segment(&format!("{prefix}{key}")) {
        return Err(glued_dot_segment());
    }
    Ok(())
}
