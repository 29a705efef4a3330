//! Requests on Azure Blob buckets: one presigned (SAS) backend request each, planned as a
//! [`Forward`] whose [`AzureAnswer`] translates the answer (metadata headers, listings, error
//! codes) back into S3's terms. Multipart uploads are the gateway's own: Create and Abort need
//! no backend call, parts are uncommitted blocks, Complete commits them. See
//! [`crate::backend::azure`] for the signing and the documents.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::answer::AzureAnswer;
use super::{AzureBackend, ListEcho, Resource, SasTerms, Upload, UploadKey, UserDelegationKey};
use crate::auth::Authenticated;
use crate::backend::azure;

use crate::backend::federation::{BackendSecret, TemporaryCredentials, Unsigned};
use crate::backend::s3::{copy_header, set_header};
use crate::backend::upload::upload_body;
use crate::backend::{BackendPlan, BucketRequest, Services};
use crate::plan::{respond, Finish, Forward, ForwardBody};
use crate::policy::Identity;
use crate::s3::metadata::{response_overrides, upload_metadata};
use crate::s3::params::int_param;
use crate::s3::request::{Operation, RequestHead, S3Request};
use crate::s3::xml::{self, XmlRewrite};
use crate::s3::{ErrorCode, S3Error};
use crate::sts::token::SessionKeys;
use crate::time::Timestamp;

/// Operations an Azure bucket serves.
fn supported(op: Operation) -> bool {
    matches!(
        op,
        Operation::GetObject
            | Operation::HeadObject
            | Operation::PutObject
            | Operation::DeleteObject
            | Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::CreateMultipartUpload
            | Operation::UploadPart
            | Operation::CompleteMultipartUpload
            | Operation::AbortMultipartUpload
    )
}

/// Refuses what Azure buckets do not serve: other operations, versions, part numbers of reads.
fn check_supported(req: &S3Request) -> Result<(), S3Error> {
    let op = req.operation;
    if !supported(op) {
        return Err(S3Error::not_implemented(format!(
            "{op:?} is not supported on Azure backends (yet)"
        )));
    }
    if req.query_param("versionId").is_some()
        || (req.query_param("partNumber").is_some() && op != Operation::UploadPart)
    {
        return Err(S3Error::not_implemented(
            "versionId and partNumber are not supported on Azure backends",
        ));
    }
    Ok(())
}

/// Plans a request on an Azure bucket (authorized already).
pub(crate) fn plan(
    services: &dyn Services,
    input: &BucketRequest<'_>,
    backend: &AzureBackend,
) -> Result<BackendPlan, S3Error> {
    let resource = input.resource.clone();
    check_supported(input.req).map_err(|e| e.with_resource(resource.clone()))?;
    let key = input.req.key.as_deref().unwrap_or_default();
    let binding = backend.upload_binding(&format!("{}{key}", input.prefix));
    let upload_keys = upload_keys(services.session_keys(), backend);
    // Upload ids are verified first: a forged one is refused before any backend call or
    // credential exchange (and before Complete's body is read).
    let upload = match input.req.operation {
        Operation::UploadPart
        | Operation::CompleteMultipartUpload
        | Operation::AbortMultipartUpload => Some(
            upload_of(input.req, &upload_keys, &binding)
                .map_err(|e| e.with_resource(resource.clone()))?,
        ),
        _ => None,
    };
    if let Some(plan) = answered_by_gateway(input, &upload_keys, &binding)? {
        return Ok(plan);
    }
    // The request's federated credentials, looked at only once the request needs the backend.
    let delegation = match services.credentials(backend.federation(), input.name, input.credentials)
    {
        Ok(creds) => {
            delegation_key(creds, input.name).map_err(|e| e.with_resource(resource.clone()))?
        }
        Err(Unsigned::Ask(needed)) => return Ok(BackendPlan::NeedBackendCredentials(needed)),
        Err(Unsigned::Fail(e)) => return Err(e.with_resource(resource)),
    };
    let planned = plan_request(&Request {
        head: input.head,
        req: input.req,
        authed: input.authed,
        backend,
        prefix: input.prefix,
        now: input.ctx.now,
        delegation,
        body: input.body.as_ref(),
        upload: upload.as_ref(),
    })
    .map_err(|e| e.with_resource(resource.clone()))?;
    Ok(BackendPlan::Forward(Box::new(forward(input, planned))))
}

/// The bucket and key the client named (path mapping undone).
fn client_names<'a>(input: &'a BucketRequest<'_>) -> (&'a str, String) {
    let key = input.req.key.as_deref().unwrap_or_default();
    let view = input.view;
    (
        view.map_or(input.name, |v| v.bucket.as_str()),
        format!("{}{key}", view.map_or("", |v| v.key_prefix.as_str())),
    )
}

/// What the gateway answers itself: Create and Abort (uploads are its own), and the body a
/// Complete needs before it is planned.
fn answered_by_gateway(
    input: &BucketRequest<'_>,
    upload_keys: &[UploadKey],
    binding: &str,
) -> Result<Option<BackendPlan>, S3Error> {
    let request_id = &input.ctx.request_id;
    match input.req.operation {
        Operation::CreateMultipartUpload => {
            let resource = || input.resource.clone();
            let upload_key = upload_keys.first().ok_or_else(|| {
                S3Error::not_implemented(
                    "multipart uploads to this Azure bucket need a key to authenticate \
                     upload ids: set SESSION_TOKEN_KEY (or give the bucket an account key)",
                )
                .with_resource(resource())
            })?;
            let key = input.req.key.as_deref().unwrap_or_default();
            let upload = Upload::new(request_id, key, blob_headers(&input.head.headers)?)
                .map_err(|e| e.with_resource(resource()))?;
            let (client_bucket, client_key) = client_names(input);
            let doc = xml::initiate_result_xml(
                client_bucket,
                &client_key,
                &upload.id(upload_key, binding),
            );
            Ok(Some(BackendPlan::Respond(respond(
                StatusCode::OK,
                doc.into(),
                Some("application/xml"),
                request_id,
            ))))
        }
        // Uncommitted blocks are dropped by Azure after a week; the id is verified already.
        Operation::AbortMultipartUpload => Ok(Some(BackendPlan::Respond(respond(
            StatusCode::NO_CONTENT,
            Bytes::new(),
            None,
            request_id,
        )))),
        Operation::CompleteMultipartUpload if input.body.is_none() => {
            Ok(Some(BackendPlan::NeedBody {
                limit: crate::plan::MAX_COMPLETE_BODY,
            }))
        }
        _ => Ok(None),
    }
}

/// The user delegation key of a request's federated credentials (None: the bucket's own key,
/// or unsigned).
fn delegation_key<'s>(
    creds: Option<&'s TemporaryCredentials>,
    name: &str,
) -> Result<Option<&'s UserDelegationKey>, S3Error> {
    match creds.map(|c| &c.secret) {
        None => Ok(None),
        Some(BackendSecret::AzureDelegation(key)) => Ok(Some(&**key)),
        Some(other) => Err(S3Error::internal(format!(
            "bucket '{name}': federation gave {}, not an Azure user delegation key",
            other.describe()
        ))),
    }
}

/// The backend request, with the answer translation it needs.
fn forward(input: &BucketRequest<'_>, planned: Planned) -> Forward {
    let op = input.req.operation;
    let view = input.view;
    let complete = (op == Operation::CompleteMultipartUpload).then(|| {
        let (bucket, key) = client_names(input);
        (input.resource.clone(), bucket.to_string(), key)
    });
    let rewrite = planned.listing.as_ref().map(|_| XmlRewrite {
        client_bucket: view.map_or(input.name, |v| v.bucket.as_str()).to_string(),
        strip_prefix: input.prefix.to_string(),
        add_prefix: view.map_or("", |v| v.key_prefix.as_str()).to_string(),
        url_encoded: input.req.query_param("encoding-type") == Some("url"),
        list_v1: op == Operation::ListObjects,
    });
    Forward {
        method: planned.method,
        url: planned.url,
        headers: planned.headers,
        body: planned.body,
        request_id: input.ctx.request_id.clone(),
        finish: Finish {
            rewrite,
            resource: input.resource.clone(),
            delete_errors: Vec::new(),
            passthrough: false,
            cors: None,
            post: None,
            bodyless_success: false,
            lock_guarded: false,
            hidden: Vec::new(),
            answer: Box::new(AzureAnswer {
                listing: planned.listing,
                delete: op == Operation::DeleteObject,
                etag: planned.etag,
                complete,
            }),
        },
    }
}

struct Planned {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: ForwardBody,
    listing: Option<ListEcho>,
    etag: Option<String>,
}

/// What [`plan_request`] reads.
struct Request<'a> {
    head: &'a RequestHead,
    req: &'a S3Request,
    authed: &'a Authenticated,
    backend: &'a AzureBackend,
    prefix: &'a str,
    now: Timestamp,
    delegation: Option<&'a UserDelegationKey>,
    body: Option<&'a Bytes>,
    /// The verified upload (UploadPart, CompleteMultipartUpload).
    upload: Option<&'a Upload>,
}

impl Request<'_> {
    /// The blob's name at the backend (prefix applied).
    fn blob(&self) -> String {
        format!(
            "{}{}",
            self.prefix,
            self.req.key.as_deref().unwrap_or_default()
        )
    }

    /// SAS terms granting `permissions` for [`azure::SAS_TTL_SECS`].
    fn terms(&self, permissions: &'static str) -> SasTerms {
        SasTerms {
            permissions,
            expiry: Timestamp(self.now.0 + azure::SAS_TTL_SECS),
            overrides: azure::ResponseOverrides::default(),
        }
    }

    /// The signed URL of `resource` with `query` under `terms`.
    fn url(&self, resource: Resource<'_>, query: &[(&str, String)], terms: &SasTerms) -> String {
        self.backend.url(resource, query, terms, self.delegation)
    }

    /// A request whose answer needs no more than the common translation.
    fn planned(
        &self,
        method: Method,
        url: String,
        headers: HeaderMap,
        body: ForwardBody,
    ) -> Planned {
        Planned {
            method,
            url,
            headers,
            body,
            listing: None,
            etag: None,
        }
    }
}

/// The blob headers of an upload: content headers as blob properties, `x-amz-meta-*` as
/// `x-ms-meta-*` (names Azure cannot store refused).
fn blob_headers(h: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let (meta, custom) = upload_metadata(h);
    let mut out = Vec::new();
    for (from, to) in CONTENT_HEADERS {
        if let Some(v) = h.get(*from).and_then(|v| v.to_str().ok()) {
            out.push(((*to).to_string(), v.to_string()));
        }
    }
    if let Some(enc) = meta.content_encoding {
        out.push(("x-ms-blob-content-encoding".to_string(), enc));
    }
    for (name, value) in custom {
        if !azure::valid_metadata_name(&name) {
            return Err(azure::invalid_metadata_name(&name));
        }
        out.push((format!("x-ms-meta-{name}"), value));
    }
    Ok(out)
}

/// Sets blob headers on a backend request.
fn set_blob_headers(headers: &mut HeaderMap, blob: &[(String, String)]) -> Result<(), S3Error> {
    for (name, value) in blob {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                headers.insert(n, v);
            }
            _ => {
                return Err(S3Error::invalid_argument(format!(
                    "the header '{name}' cannot be sent to Azure"
                )))
            }
        }
    }
    Ok(())
}

/// The keys Azure upload ids are authenticated with, the one new ids are made with first:
/// derived from `SESSION_TOKEN_KEY` (current, then previous) when it is set, so ids do not
/// depend on a backend secret and survive an account-key rotation; else from the bucket's
/// account key. None (federated or public bucket, no `SESSION_TOKEN_KEY`): multipart uploads
/// are refused (fail closed).
fn upload_keys(session_keys: Option<&SessionKeys>, backend: &AzureBackend) -> Vec<UploadKey> {
    match session_keys {
        Some(keys) => keys
            .derived_keys(azure::UPLOAD_KEY_LABEL)
            .iter()
            .map(|k| UploadKey::derive(&k[..]))
            .collect(),
        None => backend.account_upload_key().into_iter().collect(),
    }
}

/// The upload a request names (`uploadId`), verified: `NoSuchUpload` for an id that is not this
/// gateway's for this blob (forged, tampered with, or made for another key).
fn upload_of(req: &S3Request, keys: &[UploadKey], binding: &str) -> Result<Upload, S3Error> {
    req.query_param("uploadId")
        .and_then(|id| Upload::parse(id, keys, binding))
        .ok_or_else(|| {
            S3Error::new(
                ErrorCode::NoSuchUpload,
                "The specified upload does not exist: it is not an upload id of this gateway",
            )
        })
}

/// Client headers a read passes on.
const READ_HEADERS: &[&str] = &[
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// Content headers of an upload and the Azure headers that store them.
const CONTENT_HEADERS: &[(&str, &str)] = &[
    ("content-type", "x-ms-blob-content-type"),
    ("content-language", "x-ms-blob-content-language"),
    ("content-disposition", "x-ms-blob-content-disposition"),
    ("cache-control", "x-ms-blob-cache-control"),
];

/// The one backend request of an operation.
fn plan_request(r: &Request<'_>) -> Result<Planned, S3Error> {
    let mut headers = HeaderMap::new();
    set_header(&mut headers, "x-ms-version", azure::SAS_VERSION);
    match r.req.operation {
        Operation::GetObject | Operation::HeadObject => plan_read(r, headers),
        Operation::PutObject => plan_put(r, headers),
        Operation::UploadPart => plan_part(r, headers),
        Operation::CompleteMultipartUpload => plan_complete(r, headers),
        Operation::DeleteObject => {
            let url = r.url(Resource::Blob(&r.blob()), &[], &r.terms("d"));
            Ok(r.planned(Method::DELETE, url, headers, ForwardBody::Empty))
        }
        _ => plan_list(r, headers),
    }
}

/// GetObject, HeadObject: a read SAS, with the client's response overrides signed into it.
fn plan_read(r: &Request<'_>, mut headers: HeaderMap) -> Result<Planned, S3Error> {
    let head = r.head;
    // Azure reads only `bytes=a-b` and `bytes=a-`: a suffix range would come back as the whole
    // object, so it is refused rather than answered wrongly.
    let range = head
        .headers
        .get(http::header::RANGE)
        .map(HeaderValue::as_bytes);
    if range.is_some_and(|r| r.trim_ascii().starts_with(b"bytes=-")) {
        return Err(S3Error::not_implemented(
            "suffix byte ranges (bytes=-N) are not supported on Azure backends; ask for \
             bytes=start-end or bytes=start-",
        ));
    }
    for name in READ_HEADERS {
        copy_header(&head.headers, &mut headers, &HeaderName::from_static(name));
    }
    let mut t = r.terms("r");
    if r.req.operation == Operation::GetObject && !r.backend.is_anonymous() {
        for (header, value) in
            response_overrides(r.req, matches!(r.authed.identity, Identity::Anonymous))?
        {
            let slot = match header.as_str() {
                "cache-control" => &mut t.overrides.cache_control,
                "content-disposition" => &mut t.overrides.content_disposition,
                "content-encoding" => &mut t.overrides.content_encoding,
                "content-language" => &mut t.overrides.content_language,
                "content-type" => &mut t.overrides.content_type,
                // Azure has no Expires override.
                _ => continue,
            };
            *slot = Some(value);
        }
    }
    let url = r.url(Resource::Blob(&r.blob()), &[], &t);
    Ok(r.planned(head.method.clone(), url, headers, ForwardBody::Empty))
}

/// PutObject: Put Blob, blob headers and metadata set with it.
fn plan_put(r: &Request<'_>, mut headers: HeaderMap) -> Result<Planned, S3Error> {
    let head = r.head;
    let blob_props = blob_headers(&head.headers)?;
    let (body, length) = upload_body(head, r.authed)?;
    set_header(&mut headers, "content-length", &length.to_string());
    set_header(&mut headers, "x-ms-blob-type", "BlockBlob");
    set_blob_headers(&mut headers, &blob_props)?;
    for name in ["content-md5", "if-match", "if-none-match"] {
        copy_header(&head.headers, &mut headers, &HeaderName::from_static(name));
    }
    let url = r.url(Resource::Blob(&r.blob()), &[], &r.terms("cw"));
    Ok(r.planned(Method::PUT, url, headers, body))
}

/// UploadPart: Put Block, a block of the upload's; its ETag is the gateway's.
fn plan_part(r: &Request<'_>, mut headers: HeaderMap) -> Result<Planned, S3Error> {
    let upload = r
        .upload
        .ok_or_else(|| S3Error::internal("UploadPart planned without its upload"))?;
    let part = r
        .req
        .query_param("partNumber")
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|n| (1..=xml::MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
            .with_detail("ArgumentName", "partNumber")
        })?;
    let (body, length) = upload_body(r.head, r.authed)?;
    set_header(&mut headers, "content-length", &length.to_string());
    copy_header(
        &r.head.headers,
        &mut headers,
        &HeaderName::from_static("content-md5"),
    );
    let query = [
        ("comp", "block".to_string()),
        ("blockid", upload.block_id(part)),
    ];
    let url = r.url(Resource::Blob(&r.blob()), &query, &r.terms("w"));
    let mut planned = r.planned(Method::PUT, url, headers, body);
    planned.etag = Some(upload.part_etag(part));
    Ok(planned)
}

/// CompleteMultipartUpload: Put Block List of the parts named, each checked to be this
/// upload's, with the blob headers Create was given.
fn plan_complete(r: &Request<'_>, mut headers: HeaderMap) -> Result<Planned, S3Error> {
    let upload = r
        .upload
        .ok_or_else(|| S3Error::internal("Complete planned without its upload"))?;
    let given = r
        .body
        .ok_or_else(|| S3Error::internal("Complete planned without its body"))?;
    crate::plan::check_small_body(&r.head.headers, &r.authed.payload, given)?;
    let parts = xml::parse_complete(given)?;
    let mut ids = Vec::with_capacity(parts.len());
    for (n, part_etag) in &parts {
        if upload.part_etag(*n).trim_matches('"') != part_etag.trim_matches('"') {
            return Err(S3Error::new(
                ErrorCode::InvalidPart,
                format!("part {n} was not uploaded to this upload, or its ETag differs"),
            ));
        }
        ids.push(upload.block_id(*n));
    }
    let list = Bytes::from(azure::block_list_xml(&ids));
    set_header(&mut headers, "content-length", &list.len().to_string());
    set_header(&mut headers, "content-type", "application/xml");
    set_blob_headers(&mut headers, &upload.headers)?;
    for name in ["if-match", "if-none-match"] {
        copy_header(
            &r.head.headers,
            &mut headers,
            &HeaderName::from_static(name),
        );
    }
    let query = [("comp", "blocklist".to_string())];
    let url = r.url(Resource::Blob(&r.blob()), &query, &r.terms("w"));
    Ok(r.planned(Method::PUT, url, headers, ForwardBody::Bytes(list)))
}

/// ListObjects (V1, V2): List Blobs, translated back by [`azure::listing_to_s3`].
fn plan_list(r: &Request<'_>, headers: HeaderMap) -> Result<Planned, S3Error> {
    let req = r.req;
    let v2 = req.operation == Operation::ListObjectsV2;
    if let Some(e) = req.query_param("encoding-type") {
        if !e.eq_ignore_ascii_case("url") {
            return Err(
                S3Error::invalid_argument("Invalid Encoding Method specified in Request")
                    .with_detail("ArgumentName", "encoding-type"),
            );
        }
    }
    let max_keys = int_param(req, "max-keys", 1000, 1000)?;
    let (query, echo) = azure::list_params(
        v2,
        |k| req.query_param(k).map(str::to_string),
        max_keys,
        r.prefix,
    )?;
    let url = r.url(Resource::Container, &query, &r.terms("l"));
    let mut planned = r.planned(Method::GET, url, headers, ForwardBody::Empty);
    planned.listing = Some(echo);
    Ok(planned)
}
