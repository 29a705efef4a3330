//! Planning a request on an R2 bucket: the binding call ([`R2Call`]) and what its answer
//! needs ([`Render`]), from the authorized request.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::listing::{delete_result, list_call, listing_response};
use super::records;
use super::{
    is_reserved, reserved_key_error, DeleteEcho, Namespace, R2Call, R2Listing, R2Plan, Render,
};
use crate::auth::Authenticated;
use crate::backend::copy::{CopyOrder, Endpoint, R2CopySource, Store};
use crate::backend::delete::authorized_deletes;
use crate::backend::upload::upload_body;
use crate::backend::{BackendPlan, BucketRequest, Services};
use crate::plan::{check_small_body, respond, ForwardBody, MAX_COMPLETE_BODY, MAX_DELETE_BODY};
use crate::policy::Identity;
use crate::s3::conditions::Conditions;
use crate::s3::metadata::{header_str, response_overrides, upload_metadata};
use crate::s3::ranges::{self, parse_range};
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml::{self, url_encode_key, XmlRewrite};
use crate::s3::{ErrorCode, S3Error};

/// Plans a request on an R2 bucket: R2's answers of its own (GetBucketVersioning), a copy
/// source on the same binding copied by R2 itself and one elsewhere streamed, everything else
/// one binding call ([`plan`]).
pub(crate) fn plan_bucket(
    services: &dyn Services,
    input: &BucketRequest<'_>,
    binding: &str,
) -> Result<BackendPlan, S3Error> {
    let req = input.req;
    let resource = &input.resource;
    let copy_source = match req.operation {
        // R2 has no versions: what S3 answers for a bucket never versioned.
        Operation::GetBucketVersioning => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"{}\"/>",
                xml::S3_NS
            );
            return Ok(BackendPlan::Respond(respond(
                StatusCode::OK,
                body.into(),
                Some("application/xml"),
                &input.ctx.request_id,
            )));
        }
        Operation::CopyObject | Operation::UploadPartCopy => {
            match services
                .r2_copy_source(input.head, input.identity(), binding, req.operation)
                .map_err(|e| e.with_resource(resource.clone()))?
            {
                R2CopySource::SameBinding(key) => Some(key),
                R2CopySource::Streamed(source, version) => {
                    let key = req.key.as_deref().unwrap_or_default();
                    if is_reserved(key) {
                        return Err(reserved_key_error().with_resource(resource.clone()));
                    }
                    let dest = Endpoint {
                        store: Store::R2 {
                            binding: binding.to_string(),
                        },
                        key: format!("{}{key}", input.prefix),
                    };
                    return Ok(BackendPlan::Copy(Box::new(CopyOrder {
                        source,
                        version,
                        dest,
                    })));
                }
            }
        }
        _ => None,
    };
    plan(input, binding, copy_source).map_err(|e| {
        if e.resource.is_none() {
            e.with_resource(resource.clone())
        } else {
            e
        }
    })
}

/// Plans a request on an R2 bucket: one binding call, or (nothing to ask R2) the answer.
/// `copy_source`: CopyObject's source's R2 key (same binding, already authorized).
fn plan(
    input: &BucketRequest<'_>,
    binding: &str,
    copy_source: Option<String>,
) -> Result<BackendPlan, S3Error> {
    let body = input.body.clone();
    let &BucketRequest {
        head, req, authed, ..
    } = input;
    let h = &head.headers;
    let mut render = Render::of(input);
    // The gateway's records are not the client's (a copy's source is checked by the gateway).
    if is_reserved(&render.client_key) {
        return Err(reserved_key_error());
    }
    let key = format!("{}{}", input.prefix, render.client_key);
    let mut upload = None;
    let mut namespace_errors = Vec::new();
    // Err: the answer, with no call to make (a body to read first, nothing to ask R2).
    let step: Result<R2Call, BackendPlan> = match req.operation {
        Operation::GetObject | Operation::HeadObject => {
            Ok(read_call(req, h, authed, key, &mut render)?)
        }
        Operation::PutObject => {
            upload = Some(upload_body(head, authed)?);
            let (http, custom) = upload_metadata(h);
            Ok(R2Call::Put {
                key,
                http,
                custom,
                md5: content_md5(h)?,
                conditions: Conditions::from_headers(h, ""),
            })
        }
        Operation::CopyObject => Ok(copy_call(h, key, copy_source)?),
        Operation::DeleteObject => {
            check_version(req)?;
            Ok(R2Call::Delete { keys: vec![key] })
        }
        Operation::DeleteObjects => delete_call(input, body, &mut render, &mut namespace_errors)?,
        Operation::ListObjects | Operation::ListObjectsV2 => {
            list_objects_call(req, input.prefix, &mut render, &input.ctx.request_id)?
        }
        Operation::CreateMultipartUpload => {
            let (http, custom) = upload_metadata(h);
            Ok(R2Call::CreateMultipart { key, http, custom })
        }
        Operation::UploadPart => {
            let part_number = part_number(req)?;
            upload = Some(upload_body(head, authed)?);
            render.checksum = header_checksum(h);
            Ok(R2Call::UploadPart {
                key,
                upload_id: upload_id(req)?,
                part_number,
            })
        }
        Operation::UploadPartCopy => Ok(part_copy_call(req, h, key, copy_source)?),
        Operation::CompleteMultipartUpload => complete_call(req, h, authed, key, body)?,
        Operation::AbortMultipartUpload => Ok(R2Call::AbortMultipart {
            key,
            upload_id: upload_id(req)?,
        }),
        Operation::ListParts | Operation::ListMultipartUploads => {
            records_call(req, input.prefix, &mut render, &input.ctx.request_id)?
        }
        other => {
            return Err(S3Error::not_implemented(format!(
                "{other:?} is not available on R2 buckets"
            )))
        }
    };
    Ok(match step {
        Ok(call) => r2_plan(input, binding, call, upload, render, namespace_errors),
        Err(answer) => answer,
    })
}

impl Render {
    /// What the answer to this request needs to know of it.
    fn of(input: &BucketRequest<'_>) -> Render {
        Render {
            method: input.head.method.clone(),
            resource: input.resource.clone(),
            client_bucket: input.name.to_string(),
            client_key: input.req.key.clone().unwrap_or_default(),
            prefix: input.prefix.to_string(),
            now: input.ctx.now,
            ..Render::default()
        }
    }
}

/// The plan of one binding call, with what its answer needs.
fn r2_plan(
    input: &BucketRequest<'_>,
    binding: &str,
    call: R2Call,
    upload: Option<(ForwardBody, u64)>,
    render: Render,
    namespace_errors: Vec<(String, &'static str, String)>,
) -> BackendPlan {
    let (body, content_length) = match upload {
        Some((body, len)) => (body, Some(len)),
        None => (ForwardBody::Empty, None),
    };
    BackendPlan::R2(Box::new(R2Plan {
        binding: binding.to_string(),
        call,
        body,
        content_length,
        request_id: input.ctx.request_id.clone(),
        namespace: input.view.map(|v| Namespace {
            rewrite: XmlRewrite {
                client_bucket: v.bucket.clone(),
                strip_prefix: String::new(),
                // Keys are rendered already encoded when the client asked for it.
                add_prefix: match render.list.as_ref().is_some_and(|l| l.url) {
                    true => url_encode_key(&v.key_prefix),
                    false => v.key_prefix.clone(),
                },
                url_encoded: false,
                // R2 listings are rendered already encoded (their v1 `Prefix` echo too).
                list_v1: false,
            },
            delete_errors: namespace_errors,
        }),
        render,
        cors: None,
        post: None,
    }))
}

/// GetObject and HeadObject: the range and conditions asked for (a GET's `response-*`
/// overrides too); R2 reads no single part but the first.
fn read_call(
    req: &S3Request,
    h: &HeaderMap,
    authed: &Authenticated,
    key: String,
    render: &mut Render,
) -> Result<R2Call, S3Error> {
    check_version(req)?;
    if req
        .query_param("partNumber")
        .is_some_and(|n| n.trim() != "1")
    {
        return Err(S3Error::not_implemented(
            "R2 buckets cannot read a single part of an object (partNumber other than 1)",
        ));
    }
    let range = match header_str(h, "range") {
        Some(r) => parse_range(&r)?,
        None => None,
    };
    render.range = range;
    let conditions = Conditions::from_headers(h, "");
    if req.operation == Operation::GetObject {
        render.overrides = response_overrides(req, matches!(authed.identity, Identity::Anonymous))?;
        Ok(R2Call::Get {
            key,
            range,
            conditions,
        })
    } else {
        Ok(R2Call::Head { key, conditions })
    }
}

/// CopyObject within the binding: the source's metadata kept, or replaced (`REPLACE`); a copy
/// onto itself must replace it, as S3 requires.
fn copy_call(h: &HeaderMap, key: String, source: Option<String>) -> Result<R2Call, S3Error> {
    let source_key = source.ok_or_else(|| {
        S3Error::internal("a copy to an R2 bucket was planned without its source")
    })?;
    let replace = header_str(h, "x-amz-metadata-directive")
        .is_some_and(|d| d.trim().eq_ignore_ascii_case("REPLACE"));
    if !replace && source_key == key {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    Ok(R2Call::Copy {
        source_key,
        key,
        replace: replace.then(|| upload_metadata(h)),
        source_conditions: Conditions::from_headers(h, "x-amz-copy-source-"),
    })
}

/// UploadPartCopy within the binding: the source's key, range and conditions.
fn part_copy_call(
    req: &S3Request,
    h: &HeaderMap,
    key: String,
    source: Option<String>,
) -> Result<R2Call, S3Error> {
    let source_key = source.ok_or_else(|| {
        S3Error::internal("a part copy on an R2 bucket was planned without its source")
    })?;
    Ok(R2Call::UploadPartCopy {
        source_key,
        key,
        upload_id: upload_id(req)?,
        part_number: part_number(req)?,
        range: match header_str(h, "x-amz-copy-source-range") {
            Some(r) => Some(parse_copy_range(&r)?),
            None => None,
        },
        source_conditions: Conditions::from_headers(h, "x-amz-copy-source-"),
    })
}

/// DeleteObjects: the keys authorized one by one (the gateway's records and versions refused,
/// R2 has none), as one `delete` call; the answer is ours when no key is left.
fn delete_call(
    input: &BucketRequest<'_>,
    body: Option<Bytes>,
    render: &mut Render,
    namespace_errors: &mut Vec<(String, &'static str, String)>,
) -> Result<Result<R2Call, BackendPlan>, S3Error> {
    let Some(body) = body else {
        return Ok(Err(BackendPlan::NeedBody {
            limit: MAX_DELETE_BODY,
        }));
    };
    let BucketRequest {
        head,
        authed,
        bucket,
        name: client_bucket,
        prefix,
        view,
        ..
    } = *input;
    let client_prefix = view.map_or("", |v| v.key_prefix.as_str());
    let mut set = authorized_deletes(
        head,
        &authed.payload,
        &authed.identity,
        bucket,
        client_bucket,
        &body,
        client_prefix,
    )?;
    let (refused, allowed): (Vec<_>, Vec<_>) =
        set.allowed.into_iter().partition(|(k, _)| is_reserved(k));
    set.allowed = allowed;
    for (k, _) in refused {
        let err = reserved_key_error();
        set.errors.push((k, "InvalidArgument", err.message));
    }
    // R2 has no versions: deleting one by id would delete the live object.
    let (versioned, allowed): (Vec<_>, Vec<_>) = set
        .allowed
        .into_iter()
        .partition(|(_, v)| v.as_deref().is_some_and(|v| v != "null"));
    set.allowed = allowed;
    for (k, _) in versioned {
        let message = "R2 buckets are not versioned: only versionId=null can be deleted";
        let k = format!("{client_prefix}{k}");
        set.errors.push((k, "NotImplemented", message.to_string()));
    }
    let keys: Vec<String> = set
        .allowed
        .iter()
        .map(|(k, _)| format!("{prefix}{k}"))
        .collect();
    let mut echo = DeleteEcho {
        quiet: set.quiet,
        keys: set.allowed.into_iter().map(|(k, _)| k).collect(),
        errors: set.errors,
    };
    if view.is_some() && !keys.is_empty() {
        // In the client's namespace already: added after the rewrite.
        *namespace_errors = std::mem::take(&mut echo.errors);
    }
    render.delete = Some(echo);
    if keys.is_empty() {
        return Ok(Err(BackendPlan::Respond(delete_result(
            render,
            &input.ctx.request_id,
        ))));
    }
    Ok(Ok(R2Call::Delete { keys }))
}

/// ListObjects(V2): the `list` call, or (`max-keys=0`, nothing to ask R2) the empty listing.
fn list_objects_call(
    req: &S3Request,
    prefix: &str,
    render: &mut Render,
    request_id: &str,
) -> Result<Result<R2Call, BackendPlan>, S3Error> {
    let v2 = req.operation == Operation::ListObjectsV2;
    let (call, echo) = list_call(req, prefix, v2)?;
    render.list = Some(echo);
    Ok(match call {
        Some(call) => Ok(call),
        None => Err(BackendPlan::Respond(listing_response(
            render,
            &R2Listing::default(),
            v2,
            request_id,
        ))),
    })
}

/// CompleteMultipartUpload: its part list read and checked; of the conditions only the ETag
/// ones apply (R2's `complete` takes none: the runtime checks them).
fn complete_call(
    req: &S3Request,
    h: &HeaderMap,
    authed: &Authenticated,
    key: String,
    body: Option<Bytes>,
) -> Result<Result<R2Call, BackendPlan>, S3Error> {
    let upload_id = upload_id(req)?;
    let Some(body) = body else {
        return Ok(Err(BackendPlan::NeedBody {
            limit: MAX_COMPLETE_BODY,
        }));
    };
    check_small_body(h, &authed.payload, &body)?;
    let all = Conditions::from_headers(h, "");
    Ok(Ok(R2Call::CompleteMultipart {
        key,
        upload_id,
        parts: xml::parse_complete(&body)?,
        conditions: Conditions {
            if_match: all.if_match,
            if_none_match: all.if_none_match,
            ..Conditions::default()
        },
    }))
}

/// ListParts and ListMultipartUploads, from the gateway's records; an empty uploads listing
/// (`max-uploads=0`) is answered without a call.
fn records_call(
    req: &S3Request,
    prefix: &str,
    render: &mut Render,
    request_id: &str,
) -> Result<Result<R2Call, BackendPlan>, S3Error> {
    if req.operation == Operation::ListParts {
        let upload_id = upload_id(req)?;
        let (start_after, limit, echo) = records::list_parts_params(req, prefix, &upload_id)?;
        render.parts = Some(echo);
        return Ok(Ok(R2Call::ListParts {
            upload_record: records::upload_record(prefix, &render.client_key, &upload_id),
            parts_prefix: records::parts_prefix(prefix, &upload_id),
            start_after,
            limit,
        }));
    }
    let (call, echo) = records::list_uploads_params(req, prefix)?;
    let Some((list_prefix, start_after, limit)) = call else {
        return Ok(Err(BackendPlan::Respond(records::list_uploads_response(
            &render.client_bucket,
            prefix,
            &echo,
            &R2Listing::default(),
            request_id,
        ))));
    };
    render.uploads = Some(echo);
    Ok(Ok(R2Call::ListUploads {
        prefix: list_prefix,
        start_after,
        limit,
    }))
}

/// R2 has no versions: only the `null` version exists.
fn check_version(req: &S3Request) -> Result<(), S3Error> {
    match req.query_param("versionId") {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::not_implemented(
            "R2 buckets are not versioned: only versionId=null can be read or deleted",
        )),
    }
}

fn part_number(req: &S3Request) -> Result<u16, S3Error> {
    req.query_param("partNumber")
        .and_then(|n| n.trim().parse::<u16>().ok())
        .filter(|n| (1..=xml::MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_detail("ArgumentName", "partNumber")
        })
}

/// `x-amz-copy-source-range` as R2 reads a part's source: `(offset, length)` of the range
/// [`ranges::parse_copy_range`] parsed.
pub(super) fn parse_copy_range(value: &str) -> Result<(u64, u64), S3Error> {
    let (first, last) = ranges::parse_copy_range(value)?;
    Ok((first, last - first + 1))
}

fn upload_id(req: &S3Request) -> Result<String, S3Error> {
    match req.query_param("uploadId") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(S3Error::invalid_argument("the uploadId parameter is empty")),
    }
}

/// The `x-amz-checksum-*` header of an upload as `(algorithm, value)`, if any.
fn header_checksum(h: &HeaderMap) -> Option<(String, String)> {
    ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]
        .into_iter()
        .find_map(|alg| {
            header_str(h, &format!("x-amz-checksum-{alg}")).map(|v| (alg.to_string(), v))
        })
}

/// `Content-MD5` (base64) as hex; `InvalidDigest` when it is not 16 bytes of base64.
fn content_md5(h: &HeaderMap) -> Result<Option<String>, S3Error> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(v.as_bytes())
        .ok()
        .filter(|d| d.len() == 16)
        .map(|d| Some(hex::encode(d)))
        .ok_or_else(|| {
            S3Error::new(
                ErrorCode::InvalidDigest,
                "The Content-MD5 you specified is not valid",
            )
        })
}
