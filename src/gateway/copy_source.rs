//! Copy sources (`x-amz-copy-source`): parsed, authorized as a read of the source, and either
//! copied by the backend itself or streamed through the gateway (see [`super::copy`]).

use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use crate::backend::copy::{CopyOrder, CopySource, R2CopySource};
use crate::backend::federation::{
    CredentialsNeeded, ExchangeError, TemporaryCredentials, Unsigned,
};
use crate::backend::s3::S3Backend;
use crate::backend::{r2, Backend, Services};
use crate::config::BucketConfig;
use crate::policy::{self, Action, Identity};
use crate::s3::request::{self, Operation, RequestHead, S3Request};
use crate::s3::{ErrorCode, S3Error};
use crate::sts::token::SessionKeys;

use super::copy::{self, StreamedCopy};
use super::resolve::check_backend_key;
use super::{Gateway, Plan, RequestContext};

impl Gateway {
    /// A copy between backends, streamed through the gateway (see [`copy`]).
    pub(super) fn plan_streamed_copy(
        &self,
        head: &RequestHead,
        req: &S3Request,
        order: CopyOrder,
        resource: String,
        ctx: &RequestContext,
    ) -> Result<Plan, S3Error> {
        let CopyOrder {
            source,
            version,
            dest,
        } = order;
        let copy = streamed_copy(
            head,
            req,
            source,
            version,
            dest,
            self.config.copy_limits(),
            resource,
            ctx,
        )?;
        Ok(Plan::Copy(Box::new(copy)))
    }

    /// CopyObject / UploadPartCopy: the source is authorized as a read. On the same backend
    /// account the backend copies server-side (the backend's copy source is returned);
    /// otherwise the gateway streams the copy.
    fn authorized_copy(
        &self,
        head: &RequestHead,
        identity: &Identity,
        dest: &S3Backend,
    ) -> Result<CopySource, S3Error> {
        let (src_index, src_bucket, src_name, src_key, version) =
            self.authorized_copy_source(head, identity)?;
        let src_prefix = src_bucket.backend_prefix.as_deref().unwrap_or("");
        let src_backend = match self.buckets[src_index].backend.as_ref() {
            Ok(Backend::S3(b)) if b.same_account(dest) => b,
            // A streamed copy signs each step with one backend's own keys; federated
            // credentials are obtained per request for one bucket only.
            Ok(Backend::S3(b)) if b.federation().is_some() || dest.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying between a bucket with auth_type = \"oidc\" and a bucket on another \
                     backend or role is not supported yet; copy within the bucket, or download \
                     and upload",
                ))
            }
            Ok(Backend::S3(b)) => {
                let source = s3_source(b, src_bucket, src_name, &src_key);
                return Ok(CopySource::Streamed(source, version));
            }
            Ok(Backend::R2 { .. }) if dest.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying from an R2-binding bucket into a bucket with auth_type = \"oidc\" is \
                     not supported yet; download and upload",
                ))
            }
            Ok(Backend::Azure(_)) => return Err(azure_copy_unsupported()),
            Ok(Backend::R2 { binding }) => {
                return Ok(CopySource::Streamed(
                    r2_source(binding, src_bucket, &src_key, version.as_deref())?,
                    None,
                ));
            }
            Err(e) => return Err(S3Error::internal(e.clone())),
        };
        let backend_bucket = if src_bucket.is_glob() {
            src_name.as_str()
        } else {
            src_backend.bucket_name()
        };
        let mut source = format!(
            "/{}/{}",
            crate::percent::encode(backend_bucket.as_bytes(), false),
            crate::percent::encode(format!("{src_prefix}{src_key}").as_bytes(), true)
        );
        if let Some(v) = version {
            source.push_str("?versionId=");
            source.push_str(&v);
        }
        Ok(CopySource::ServerSide(source))
    }

    /// CopyObject / UploadPartCopy into an R2 bucket. From the same binding the runtime reads
    /// the source and writes its body in one call (the source's R2 key); from another backend
    /// or binding the gateway streams the copy (CopyObject only).
    fn authorized_r2_copy(
        &self,
        head: &RequestHead,
        identity: &Identity,
        binding: &str,
        operation: Operation,
    ) -> Result<R2CopySource, S3Error> {
        let (src_index, src_bucket, src_name, src_key, version) =
            self.authorized_copy_source(head, identity)?;
        let streamed = match self.buckets[src_index].backend.as_ref() {
            Ok(Backend::R2 { binding: b }) if b == binding => {
                let source = r2_source(b, src_bucket, &src_key, version.as_deref())?;
                return Ok(R2CopySource::SameBinding(source.key));
            }
            _ if operation == Operation::UploadPartCopy => return Err(S3Error::not_implemented(
                "UploadPartCopy into an R2 bucket works only from a bucket on the same R2 binding",
            )),
            Ok(Backend::R2 { binding: b }) => (
                r2_source(b, src_bucket, &src_key, version.as_deref())?,
                None,
            ),
            Ok(Backend::S3(b)) if b.federation().is_some() => {
                return Err(S3Error::not_implemented(
                    "copying from a bucket with auth_type = \"oidc\" into an R2 bucket is not \
                     supported yet; download and upload",
                ))
            }
            Ok(Backend::S3(b)) => (s3_source(b, src_bucket, src_name, &src_key), version),
            Ok(Backend::Azure(_)) => return Err(azure_copy_unsupported()),
            Err(e) => return Err(S3Error::internal(e.clone())),
        };
        Ok(R2CopySource::Streamed(streamed.0, streamed.1))
    }

    /// `x-amz-copy-source` parsed and authorized as a read: the source bucket's index and
    /// config, its client name, key and version.
    #[allow(clippy::type_complexity)]
    fn authorized_copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
    ) -> Result<(usize, &BucketConfig, String, String, Option<String>), S3Error> {
        let raw = head
            .headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source is not valid ASCII"))?;
        let (path, version) = match raw.split_once("?versionId=") {
            Some((p, v)) => (p, Some(v)),
            None => (raw, None),
        };
        // The version goes into the backend's own x-amz-copy-source as given: it may only be
        // a version id, never something that adds parameters or changes the path.
        if let Some(v) = version {
            request::check_version_id(v, "x-amz-copy-source")?;
        }
        let decoded = crate::percent::decode_strict(path.as_bytes(), false)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::invalid_argument("x-amz-copy-source is not a valid URL-encoded bucket/key")
            })?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (src_name, src_key) = decoded
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source must be bucket/key"))?;
        request::check_bucket_name(src_name)?;
        request::check_key(src_key)?;
        // A path-mapped source: `account/product/key` names `account:product`, key `key`.
        let mapped;
        let (src_name, src_key) = match self.account(src_name) {
            Some(map) => {
                mapped = map
                    .split(src_name, src_key, false)
                    .filter(|(_, _, rest)| !rest.is_empty())
                    .ok_or_else(|| {
                        S3Error::new(
                            ErrorCode::NoSuchKey,
                            format!("the copy source '{decoded}' names no key of a product"),
                        )
                    })?;
                (mapped.0.as_str(), mapped.2)
            }
            None => (src_name, src_key),
        };
        let (src_index, src_bucket) = self.find_bucket(src_name).ok_or_else(|| {
            S3Error::new(
                ErrorCode::NoSuchBucket,
                format!("the copy source bucket of '{decoded}' does not exist"),
            )
        })?;
        if src_bucket.is_glob() {
            request::check_s3_bucket_name(src_name)?;
        }
        check_backend_key(src_bucket, src_key)?;
        let read = match version {
            Some(_) => Action::GetObjectVersion,
            None => Action::GetObject,
        };
        policy::authorize_named(identity, src_bucket, src_name, read, src_key)?;
        Ok((
            src_index,
            src_bucket,
            src_name.to_string(),
            src_key.to_string(),
            version.map(str::to_string),
        ))
    }
}

/// An S3 copy source streamed by the gateway (pass-through buckets name their backend bucket).
fn s3_source(
    backend: &Arc<S3Backend>,
    bucket: &BucketConfig,
    name: String,
    key: &str,
) -> copy::Endpoint {
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    copy::Endpoint {
        store: copy::Store::S3 {
            backend: backend.clone(),
            bucket: bucket.is_glob().then_some(name),
        },
        key: format!("{prefix}{key}"),
    }
}

/// Copies from an Azure bucket are not implemented.
fn azure_copy_unsupported() -> S3Error {
    S3Error::not_implemented(
        "CopyObject and UploadPartCopy from a bucket are not supported on Azure backends yet; \
         download and upload",
    )
}

/// An R2 copy source: its R2 key (the binding's `binding`), checked like any R2 key.
fn r2_source(
    binding: &str,
    bucket: &BucketConfig,
    key: &str,
    version: Option<&str>,
) -> Result<copy::Endpoint, S3Error> {
    if version.is_some_and(|v| v != "null") {
        return Err(S3Error::not_implemented(
            "R2 buckets are not versioned: a copy source can only name versionId=null",
        ));
    }
    if r2::is_reserved(key) {
        return Err(r2::reserved_key_error());
    }
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    Ok(copy::Endpoint {
        store: copy::Store::R2 {
            binding: binding.to_string(),
        },
        key: format!("{prefix}{key}"),
    })
}

/// A copy between backends, streamed through the gateway (see [`copy`]).
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn streamed_copy(
    head: &RequestHead,
    req: &S3Request,
    source: copy::Endpoint,
    source_version: Option<String>,
    dest: copy::Endpoint,
    limits: copy::CopyLimits,
    resource: String,
    ctx: &RequestContext,
) -> Result<StreamedCopy, S3Error> {
    let target = match req.operation {
        Operation::UploadPartCopy => copy::Target::Part {
            part_number: req
                .query_param("partNumber")
                .unwrap_or_default()
                .to_string(),
            upload_id: req.query_param("uploadId").unwrap_or_default().to_string(),
            range: head
                .headers
                .get("x-amz-copy-source-range")
                .map(|v| {
                    v.to_str()
                        .map_err(|_| {
                            S3Error::invalid_argument("x-amz-copy-source-range is not ASCII")
                        })
                        .and_then(copy::parse_copy_range)
                })
                .transpose()?,
        },
        _ => object_target(head)?,
    };
    Ok(StreamedCopy {
        request_id: ctx.request_id.clone(),
        resource,
        cors: None,
        source,
        source_version,
        source_conditions: copy::source_conditions(&head.headers),
        dest,
        target,
        limits,
        state: copy::State::Opening,
        r2_range: None,
    })
}

/// The target of a streamed CopyObject: the request's metadata under `REPLACE`, the headers it
/// keeps (storage class, encryption, conditions, tagging under `REPLACE`).
fn object_target(head: &RequestHead) -> Result<copy::Target, S3Error> {
    let directive = |name: &str| -> Result<bool, S3Error> {
        match head.headers.get(name).map(|v| v.to_str().unwrap_or("")) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(true),
            Some(_) => Err(S3Error::invalid_argument(format!(
                "{name} must be COPY or REPLACE"
            ))),
        }
    };
    let metadata = directive("x-amz-metadata-directive")?.then(|| {
        let mut m = HeaderMap::new();
        for (name, value) in &head.headers {
            if copy::is_metadata_header(name.as_str()) {
                m.append(name.clone(), value.clone());
            }
        }
        m
    });
    let mut headers = HeaderMap::new();
    let mut keep = vec![
        "x-amz-storage-class",
        "x-amz-server-side-encryption",
        "if-match",
        "if-none-match",
    ];
    if directive("x-amz-tagging-directive")? {
        keep.push("x-amz-tagging");
    }
    for name in keep {
        if let Some(v) = head.headers.get(name) {
            headers.insert(HeaderName::from_static(name), v.clone());
        }
    }
    Ok(copy::Target::Object { metadata, headers })
}

/// What a backend's planning asks of the gateway: copy sources (other buckets), federated
/// credentials (the gateway's OIDC provider), the keys of upload ids.
impl Services for Gateway {
    fn copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        dest: &S3Backend,
    ) -> Result<CopySource, S3Error> {
        self.authorized_copy(head, identity, dest)
    }

    fn r2_copy_source(
        &self,
        head: &RequestHead,
        identity: &Identity,
        binding: &str,
        operation: Operation,
    ) -> Result<R2CopySource, S3Error> {
        self.authorized_r2_copy(head, identity, binding, operation)
    }

    fn credentials<'c>(
        &self,
        needed: Option<&CredentialsNeeded>,
        bucket: &str,
        given: Option<Result<&'c TemporaryCredentials, &ExchangeError>>,
    ) -> Result<Option<&'c TemporaryCredentials>, Unsigned> {
        self.federated_credentials(needed, bucket, given)
    }

    fn session_keys(&self) -> Option<&SessionKeys> {
        self.options.session_keys.as_ref()
    }
}
