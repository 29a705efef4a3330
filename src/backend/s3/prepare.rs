//! An S3-compatible bucket's request prepared (S3, GCS): GCS's gaps refused, the bodies and copy
//! sources the gateway reads, checks and writes anew ([`Extra`]), the federated credentials to
//! sign with, then one presigned backend request ([`super::outbound::plan_forward`]).

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::outbound::{plan_forward, Extra, OBJECT_ATTRIBUTES_HEADERS};
use super::settings;
use super::{Dialect, S3Backend};
use crate::backend::copy::{CopyOrder, CopySource, Endpoint, Store};
use crate::backend::delete::{delete_objects, DeletePlan};
use crate::backend::federation::Unsigned;
use crate::backend::{BackendPlan, BucketRequest, Services};
use crate::plan::{
    check_small_body, respond, MAX_COMPLETE_BODY, MAX_DELETE_BODY, MAX_TAGGING_BODY,
    MAX_VERSIONING_BODY,
};
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml;
use crate::s3::S3Error;

/// An S3-compatible bucket (S3, GCS): the operation's body or copy source read and checked,
/// then one presigned backend request ([`plan_forward`]).
pub(crate) fn plan(
    services: &dyn Services,
    request: &BucketRequest<'_>,
    backend: &Arc<S3Backend>,
) -> Result<BackendPlan, S3Error> {
    refuse_gcs_gaps(backend, request.req, &request.resource)?;
    let extra = match s3_extra(services, request, backend)? {
        ControlFlow::Continue(extra) => extra,
        ControlFlow::Break(plan) => return Ok(plan),
    };
    let (name, resource) = (request.name, &request.resource);
    let signing = match services.credentials(backend.federation(), name, request.credentials) {
        Ok(signing) => signing.map(|c| &c.secret),
        Err(Unsigned::Ask(needed)) => return Ok(BackendPlan::NeedBackendCredentials(needed)),
        Err(Unsigned::Fail(e)) => return Err(e.with_resource(resource.clone())),
    };
    let forward = plan_forward(request, backend, extra, signing)?;
    Ok(BackendPlan::Forward(Box::new(forward)))
}

/// CopyObject and UploadPartCopy: the backend's own form of the copy source when the backend
/// copies it itself, or (breaking) the copy the gateway streams.
fn copy_source(
    services: &dyn Services,
    request: &BucketRequest<'_>,
    backend: &Arc<S3Backend>,
) -> Result<ControlFlow<BackendPlan, String>, S3Error> {
    let &BucketRequest {
        head,
        req,
        name,
        bucket,
        prefix,
        ref resource,
        ..
    } = request;
    let backend_bucket = bucket.is_glob().then_some(name);
    match services
        .copy_source(head, request.identity(), backend)
        .map_err(|e| e.with_resource(resource.clone()))?
    {
        CopySource::ServerSide(source) => Ok(ControlFlow::Continue(source)),
        CopySource::Streamed(..) if request.lock.asks_lock => Err(S3Error::not_implemented(
            "object lock headers on a copy between backends are not supported; \
                 copy within the backend, or set the lock after the copy",
        )
        .with_resource(resource.clone())),
        CopySource::Streamed(source, version) => {
            let dest = Endpoint {
                store: Store::S3 {
                    backend: backend.clone(),
                    bucket: backend_bucket.map(str::to_string),
                },
                key: format!("{prefix}{}", req.key.as_deref().unwrap_or_default()),
            };
            Ok(ControlFlow::Break(BackendPlan::Copy(Box::new(CopyOrder {
                source,
                version,
                dest,
            }))))
        }
    }
}

/// What an S3-compatible backend request adds to the client's (see [`Extra`]): object lock
/// headers, and the bodies and copy sources the gateway reads, checks and writes anew. Breaks
/// with the plan when the body must be read first or the operation is answered otherwise (a
/// DeleteObjects nothing of which may be deleted, a copy streamed through the gateway).
fn s3_extra(
    services: &dyn Services,
    request: &BucketRequest<'_>,
    backend: &Arc<S3Backend>,
) -> Result<ControlFlow<BackendPlan, Extra>, S3Error> {
    let &BucketRequest {
        head,
        req,
        authed,
        ref resource,
        ref lock,
        ..
    } = request;
    let body = request.body.clone();
    let mut extra = Extra {
        headers: lock.headers.clone(),
        lock_guarded: lock.lock_guarded,
        hidden: lock.hidden.clone(),
        ..Extra::default()
    };
    // Object lock, bucket tags and encryption documents are read, checked and written anew.
    if let Some(limit) = settings::body_limit(req.operation) {
        let Some(body) = body.as_ref() else {
            return Ok(ControlFlow::Break(BackendPlan::NeedBody { limit }));
        };
        extra.body = Some(
            settings::settings_body(req.operation, &head.headers, &authed.payload, body)
                .map_err(|e| e.with_resource(resource.clone()))?,
        );
    }
    let step = match req.operation {
        Operation::DeleteObjects => deleted_keys(request, body, &mut extra)?,
        // The tag set is read, checked and written anew (the client's bytes never reach the
        // backend), with the gateway's own Content-MD5 as S3 requires.
        Operation::PutObjectTagging => {
            rewritten_body(request, body, MAX_TAGGING_BODY, &mut extra, |b| {
                xml::parse_tagging(b).map(|tags| Bytes::from(xml::tagging_xml(&tags)))
            })?
        }
        // Likewise the versioning configuration: read, checked, written anew.
        Operation::PutBucketVersioning => {
            rewritten_body(request, body, MAX_VERSIONING_BODY, &mut extra, |b| {
                xml::parse_versioning(b).map(|v| Bytes::from(xml::versioning_xml(v)))
            })?
        }
        Operation::GetObjectAttributes => {
            check_object_attributes(&head.headers)
                .map_err(|e| e.with_resource(resource.clone()))?;
            ControlFlow::Continue(())
        }
        // The part list is read and checked here: backends differ in how well they validate
        // it (SeaweedFS answers a malformed one with NoSuchUpload or InvalidPart).
        Operation::CompleteMultipartUpload => {
            let Some(body) = body else {
                return Ok(ControlFlow::Break(BackendPlan::NeedBody {
                    limit: MAX_COMPLETE_BODY,
                }));
            };
            check_small_body(&head.headers, &authed.payload, &body)
                .and_then(|()| xml::parse_complete(&body).map(drop))
                .map_err(|e| e.with_resource(resource.clone()))?;
            extra.checked_body = Some(body);
            ControlFlow::Continue(())
        }
        Operation::CopyObject | Operation::UploadPartCopy => {
            match copy_source(services, request, backend)? {
                ControlFlow::Continue(source) => {
                    extra.copy_source = Some(source);
                    ControlFlow::Continue(())
                }
                ControlFlow::Break(plan) => ControlFlow::Break(plan),
            }
        }
        _ => ControlFlow::Continue(()),
    };
    Ok(match step {
        ControlFlow::Continue(()) => ControlFlow::Continue(extra),
        ControlFlow::Break(plan) => ControlFlow::Break(plan),
    })
}

/// DeleteObjects: the keys the caller may delete go to the backend in a body written anew
/// (the refused ones reported beside the backend's answer); when none may, the answer is ours.
fn deleted_keys(
    authorized: &BucketRequest<'_>,
    body: Option<Bytes>,
    extra: &mut Extra,
) -> Result<ControlFlow<BackendPlan>, S3Error> {
    let Some(body) = body else {
        return Ok(ControlFlow::Break(BackendPlan::NeedBody {
            limit: MAX_DELETE_BODY,
        }));
    };
    let a = authorized;
    match delete_objects(
        a.head,
        &a.authed.payload,
        &a.authed.identity,
        a.bucket,
        a.name,
        a.prefix,
        &body,
        a.view,
    )? {
        DeletePlan::Forward(fwd_body, errors) => {
            extra.body = Some(fwd_body);
            extra.delete_errors = errors;
            Ok(ControlFlow::Continue(()))
        }
        DeletePlan::Respond(xml_doc) => Ok(ControlFlow::Break(BackendPlan::Respond(respond(
            StatusCode::OK,
            xml_doc.into(),
            Some("application/xml"),
            &a.ctx.request_id,
        )))),
    }
}

/// A small XML body read (at most `limit` bytes), checked against what the request signed,
/// parsed and written anew by `rewrite`: only the gateway's own bytes reach the backend.
fn rewritten_body(
    authorized: &BucketRequest<'_>,
    body: Option<Bytes>,
    limit: usize,
    extra: &mut Extra,
    rewrite: impl FnOnce(&Bytes) -> Result<Bytes, S3Error>,
) -> Result<ControlFlow<BackendPlan>, S3Error> {
    let Some(body) = body else {
        return Ok(ControlFlow::Break(BackendPlan::NeedBody { limit }));
    };
    let body = check_small_body(&authorized.head.headers, &authorized.authed.payload, &body)
        .and_then(|()| rewrite(&body))
        .map_err(|e| e.with_resource(authorized.resource.clone()))?;
    extra.body = Some(body);
    Ok(ControlFlow::Continue(()))
}

/// GCS's XML API has neither sub-resource and ignores query parameters it does not know:
/// forwarded, `?tagging` would read, overwrite or delete the object itself, and a `versionId`
/// would read or delete the live object (GCS names versions `generation`).
fn refuse_gcs_gaps(backend: &S3Backend, req: &S3Request, resource: &str) -> Result<(), S3Error> {
    if backend.dialect() == Dialect::Gcs
        && (matches!(
            req.operation,
            Operation::GetObjectTagging
                | Operation::PutObjectTagging
                | Operation::DeleteObjectTagging
                | Operation::GetObjectAttributes
                | Operation::ListObjectVersions
                | Operation::GetBucketVersioning
                | Operation::PutBucketVersioning
        ) || req.query_param("versionId").is_some())
    {
        return Err(S3Error::not_implemented(format!(
            "{:?} is not available on GCS backends",
            req.operation
        ))
        .with_resource(resource));
    }
    Ok(())
}

/// What `x-amz-object-attributes` may name (S3's list).
const OBJECT_ATTRIBUTES: &[&str] = &[
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// GetObjectAttributes' headers, checked before they are forwarded: each at most once,
/// `x-amz-object-attributes` present and a comma-separated list of S3's attribute names, the
/// part counters decimal numbers. `InvalidArgument` otherwise, as S3 answers.
pub(crate) fn check_object_attributes(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in OBJECT_ATTRIBUTES_HEADERS {
        if headers.get_all(*name).iter().count() > 1 {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} is given more than once"
            ))
            .with_detail("ArgumentName", *name));
        }
    }
    let names = headers
        .get("x-amz-object-attributes")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            )
            .with_detail("ArgumentName", "x-amz-object-attributes")
        })?;
    if let Some(bad) = names
        .split(',')
        .map(str::trim)
        .find(|n| !OBJECT_ATTRIBUTES.contains(n))
    {
        return Err(S3Error::invalid_argument(format!(
            "Invalid attribute name specified: '{bad}' (expected some of {})",
            OBJECT_ATTRIBUTES.join(", ")
        ))
        .with_detail("ArgumentName", "x-amz-object-attributes"));
    }
    for name in ["x-amz-max-parts", "x-amz-part-number-marker"] {
        let Some(v) = headers.get(name) else { continue };
        let number = v
            .to_str()
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()));
        if number.is_none() {
            return Err(S3Error::invalid_argument(format!(
                "the header {name} must be a non-negative integer"
            ))
            .with_detail("ArgumentName", name));
        }
    }
    Ok(())
}
