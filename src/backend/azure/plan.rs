//! Requests on Azure Blob buckets: one presigned (SAS) backend request each, planned as a
//! [`Forward`] whose [`Finish`] translates the answer (metadata headers, listings, error codes)
//! back into S3's terms. See [`crate::backend::azure`] for the signing and the documents.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::{
    federation, Finish, Forward, ForwardBody, Gateway, Plan, RequestContext, RequestHead,
    XmlRewrite,
};
use crate::auth::Authenticated;
use crate::backend::azure::{
    self, AzureBackend, ListEcho, Resource, SasTerms, Upload, UploadKey, UserDelegationKey,
};
use crate::backend::r2;
use crate::backend::s3::{copy_header, set_header};
use crate::oidc::federation::{BackendSecret, ExchangeError, TemporaryCredentials};
use crate::pathmap::ClientView;
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml;
use crate::s3::{ErrorCode, S3Error};

/// How the answer of an Azure request is read back.
#[derive(Debug)]
pub(crate) struct AzureFinish {
    /// A listing: its parameters, to build the `ListBucketResult`.
    pub listing: Option<ListEcho>,
    /// DeleteObject: a missing blob is a success, as in S3.
    pub delete: bool,
    /// UploadPart: the ETag answered (Put Block answers none).
    pub etag: Option<String>,
    /// CompleteMultipartUpload: `(Location, bucket, key)` of the result document.
    pub complete: Option<(String, String, String)>,
}

/// What [`Gateway::plan_azure`] needs of the request.
pub(super) struct AzureInput<'a> {
    pub head: &'a RequestHead,
    pub req: &'a S3Request,
    pub authed: &'a Authenticated,
    pub backend: &'a AzureBackend,
    pub name: &'a str,
    pub prefix: &'a str,
    pub view: Option<&'a ClientView>,
    pub resource: String,
    pub ctx: &'a RequestContext,
    pub credentials: Option<Result<&'a TemporaryCredentials, &'a ExchangeError>>,
    /// The body read for [`Plan::NeedBody`] (CompleteMultipartUpload).
    pub body: Option<Bytes>,
}

impl Gateway {
    /// Plans a request on an Azure bucket (authorized already).
    pub(super) fn plan_azure(&self, input: AzureInput<'_>) -> Result<Plan, S3Error> {
        let AzureInput {
            head,
            req,
            authed,
            backend,
            name,
            prefix,
            view,
            resource,
            ctx,
            credentials,
            body,
        } = input;
        let op = req.operation;
        let supported = matches!(
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
        );
        if !supported {
            return Err(S3Error::not_implemented(format!(
                "{op:?} is not supported on Azure backends (yet)"
            ))
            .with_resource(resource));
        }
        let part_op = matches!(op, Operation::UploadPart);
        if req.query_param("versionId").is_some()
            || (req.query_param("partNumber").is_some() && !part_op)
        {
            return Err(S3Error::not_implemented(
                "versionId and partNumber are not supported on Azure backends",
            )
            .with_resource(resource));
        }
        // Uploads are the gateway's own: Create and Abort need no backend call.
        let key = req.key.as_deref().unwrap_or_default();
        let client_bucket = view.map_or(name, |v| v.bucket.as_str());
        let client_key = format!("{}{key}", view.map_or("", |v| v.key_prefix.as_str()));
        // Upload ids are verified first: a forged one is refused before any backend call or
        // credential exchange (and before Complete's body is read).
        let binding = backend.upload_binding(&format!("{prefix}{key}"));
        let upload_keys = self.azure_upload_keys(backend);
        let upload = match op {
            Operation::UploadPart
            | Operation::CompleteMultipartUpload
            | Operation::AbortMultipartUpload => Some(
                upload_of(req, &upload_keys, &binding)
                    .map_err(|e| e.with_resource(resource.clone()))?,
            ),
            _ => None,
        };
        match op {
            Operation::CreateMultipartUpload => {
                let upload_key = upload_keys.first().ok_or_else(|| {
                    S3Error::not_implemented(
                        "multipart uploads to this Azure bucket need a key to authenticate \
                         upload ids: set SESSION_TOKEN_KEY (or give the bucket an account key)",
                    )
                    .with_resource(resource.clone())
                })?;
                let upload = Upload::new(&ctx.request_id, key, blob_headers(&head.headers)?)
                    .map_err(|e| e.with_resource(resource.clone()))?;
                let doc = xml::initiate_result_xml(
                    client_bucket,
                    &client_key,
                    &upload.id(upload_key, &binding),
                );
                return Ok(Plan::Respond(super::response::respond(
                    StatusCode::OK,
                    doc.into(),
                    Some("application/xml"),
                    &ctx.request_id,
                )));
            }
            Operation::AbortMultipartUpload => {
                // Uncommitted blocks are dropped by Azure after a week; the id verified above.
                return Ok(Plan::Respond(super::response::respond(
                    StatusCode::NO_CONTENT,
                    Bytes::new(),
                    None,
                    &ctx.request_id,
                )));
            }
            Operation::CompleteMultipartUpload if body.is_none() => {
                return Ok(Plan::NeedBody {
                    limit: super::bodies::MAX_COMPLETE_BODY,
                });
            }
            _ => {}
        }
        let delegation = match self.federated_credentials(backend.federation(), name, credentials) {
            Ok(None) => None,
            Ok(Some(TemporaryCredentials {
                secret: BackendSecret::AzureDelegation(key),
                ..
            })) => Some(&**key),
            Ok(Some(other)) => {
                return Err(S3Error::internal(format!(
                    "bucket '{name}': federation gave {}, not an Azure user delegation key",
                    other.secret.describe()
                ))
                .with_resource(resource))
            }
            Err(federation::Unsigned::Ask(needed)) => {
                return Ok(Plan::NeedBackendCredentials(needed))
            }
            Err(federation::Unsigned::Fail(e)) => return Err(e.with_resource(resource)),
        };
        let planned = plan_request(&Request {
            head,
            req,
            authed,
            backend,
            prefix,
            ctx,
            delegation,
            body: body.as_ref(),
            upload: upload.as_ref(),
        })
        .map_err(|e| e.with_resource(resource.clone()))?;
        let complete = (op == Operation::CompleteMultipartUpload).then(|| {
            (
                resource.clone(),
                client_bucket.to_string(),
                client_key.clone(),
            )
        });
        let rewrite = planned.listing.as_ref().map(|_| XmlRewrite {
            client_bucket: view.map_or(name, |v| v.bucket.as_str()).to_string(),
            strip_prefix: prefix.to_string(),
            add_prefix: view.map_or("", |v| v.key_prefix.as_str()).to_string(),
            url_encoded: req.query_param("encoding-type") == Some("url"),
            list_v1: op == Operation::ListObjects,
        });
        Ok(Plan::Forward(Box::new(Forward {
            method: planned.method,
            url: planned.url,
            headers: planned.headers,
            body: planned.body,
            request_id: ctx.request_id.clone(),
            finish: Finish {
                rewrite,
                resource,
                delete_errors: Vec::new(),
                passthrough: false,
                cors: None,
                post: None,
                bodyless_success: false,
                lock_guarded: false,
                hidden: Vec::new(),
                azure: Some(AzureFinish {
                    listing: planned.listing,
                    delete: op == Operation::DeleteObject,
                    etag: planned.etag,
                    complete,
                }),
            },
        })))
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
    ctx: &'a RequestContext,
    delegation: Option<&'a UserDelegationKey>,
    body: Option<&'a Bytes>,
    /// The verified upload (UploadPart, CompleteMultipartUpload).
    upload: Option<&'a Upload>,
}

/// The blob headers of an upload: content headers as blob properties, `x-amz-meta-*` as
/// `x-ms-meta-*` (names Azure cannot store refused).
fn blob_headers(h: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let (meta, custom) = r2::metadata(h);
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

impl Gateway {
    /// The keys Azure upload ids are authenticated with, the one new ids are made with first:
    /// derived from `SESSION_TOKEN_KEY` (current, then previous) when it is set, so ids do not
    /// depend on a backend secret and survive an account-key rotation; else from the bucket's
    /// account key. None (federated or public bucket, no `SESSION_TOKEN_KEY`): multipart uploads
    /// are refused (fail closed).
    fn azure_upload_keys(&self, backend: &AzureBackend) -> Vec<UploadKey> {
        match &self.options.session_keys {
            Some(keys) => keys
                .derived_keys(azure::UPLOAD_KEY_LABEL)
                .iter()
                .map(|k| UploadKey::derive(&k[..]))
                .collect(),
            None => backend.account_upload_key().into_iter().collect(),
        }
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

fn plan_request(r: &Request<'_>) -> Result<Planned, S3Error> {
    let Request {
        head,
        req,
        authed,
        backend,
        prefix,
        ctx,
        delegation,
        body: given,
        upload,
    } = *r;
    let expiry = crate::time::Timestamp(ctx.now.0 + azure::SAS_TTL_SECS);
    let blob = format!("{prefix}{}", req.key.as_deref().unwrap_or_default());
    let mut headers = HeaderMap::new();
    set_header(&mut headers, "x-ms-version", azure::SAS_VERSION);
    let terms = |permissions| SasTerms {
        permissions,
        expiry,
        overrides: azure::ResponseOverrides::default(),
    };
    let mut etag = None;
    let (method, url, body, listing) = match req.operation {
        Operation::GetObject | Operation::HeadObject => {
            // Azure reads only `bytes=a-b` and `bytes=a-`: a suffix range would come back as
            // the whole object, so it is refused rather than answered wrongly.
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
            let mut t = terms("r");
            if req.operation == Operation::GetObject && !backend.is_anonymous() {
                for (header, value) in r2::overrides(req, &authed.identity)? {
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
            let url = backend.url(Resource::Blob(&blob), &[], &t, delegation);
            (head.method.clone(), url, ForwardBody::Empty, None)
        }
        Operation::PutObject => {
            let blob_props = blob_headers(&head.headers)?;
            let (body, length) = r2::upload_body(head, authed)?;
            set_header(&mut headers, "content-length", &length.to_string());
            set_header(&mut headers, "x-ms-blob-type", "BlockBlob");
            set_blob_headers(&mut headers, &blob_props)?;
            for name in ["content-md5", "if-match", "if-none-match"] {
                copy_header(&head.headers, &mut headers, &HeaderName::from_static(name));
            }
            let url = backend.url(Resource::Blob(&blob), &[], &terms("cw"), delegation);
            (Method::PUT, url, body, None)
        }
        Operation::UploadPart => {
            let upload =
                upload.ok_or_else(|| S3Error::internal("UploadPart planned without its upload"))?;
            let part = req
                .query_param("partNumber")
                .and_then(|n| n.parse::<u16>().ok())
                .filter(|n| (1..=xml::MAX_PARTS).contains(n))
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                    )
                    .with_detail("ArgumentName", "partNumber")
                })?;
            let (body, length) = r2::upload_body(head, authed)?;
            set_header(&mut headers, "content-length", &length.to_string());
            copy_header(
                &head.headers,
                &mut headers,
                &HeaderName::from_static("content-md5"),
            );
            let query = [
                ("comp", "block".to_string()),
                ("blockid", upload.block_id(part)),
            ];
            let url = backend.url(Resource::Blob(&blob), &query, &terms("w"), delegation);
            etag = Some(upload.part_etag(part));
            (Method::PUT, url, body, None)
        }
        Operation::CompleteMultipartUpload => {
            let upload =
                upload.ok_or_else(|| S3Error::internal("Complete planned without its upload"))?;
            let given =
                given.ok_or_else(|| S3Error::internal("Complete planned without its body"))?;
            super::bodies::check_small_body(&head.headers, &authed.payload, given)?;
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
                copy_header(&head.headers, &mut headers, &HeaderName::from_static(name));
            }
            let query = [("comp", "blocklist".to_string())];
            let url = backend.url(Resource::Blob(&blob), &query, &terms("w"), delegation);
            (Method::PUT, url, ForwardBody::Bytes(list), None)
        }
        Operation::DeleteObject => {
            let url = backend.url(Resource::Blob(&blob), &[], &terms("d"), delegation);
            (Method::DELETE, url, ForwardBody::Empty, None)
        }
        _ => {
            let v2 = req.operation == Operation::ListObjectsV2;
            if let Some(e) = req.query_param("encoding-type") {
                if !e.eq_ignore_ascii_case("url") {
                    return Err(S3Error::invalid_argument(
                        "Invalid Encoding Method specified in Request",
                    )
                    .with_detail("ArgumentName", "encoding-type"));
                }
            }
            let max_keys = r2::int_param(req, "max-keys", 1000, 1000)?;
            let (query, echo) = azure::list_params(
                v2,
                |k| req.query_param(k).map(str::to_string),
                max_keys,
                prefix,
            )?;
            let url = backend.url(Resource::Container, &query, &terms("l"), delegation);
            (Method::GET, url, ForwardBody::Empty, Some(echo))
        }
    };
    Ok(Planned {
        method,
        url,
        headers,
        body,
        listing,
        etag,
    })
}

impl AzureFinish {
    /// Response headers in S3's terms: `x-ms-meta-*` as `x-amz-meta-*` (the other `x-ms-*`
    /// headers are dropped with the backend-identifying ones).
    pub(super) fn translate_headers(headers: &HeaderMap, out: &mut HeaderMap) {
        for (name, value) in headers {
            if let Some(meta) = name.as_str().strip_prefix("x-ms-meta-") {
                if let Ok(h) = HeaderName::from_bytes(format!("x-amz-meta-{meta}").as_bytes()) {
                    out.append(h, value.clone());
                }
            }
        }
    }

    /// The ETag answered for an uploaded part.
    pub(super) fn part_etag(&self, status: StatusCode, out: &mut HeaderMap) {
        if let (Some(etag), true) = (&self.etag, status.is_success()) {
            if let Ok(v) = HeaderValue::from_str(etag) {
                out.insert(http::header::ETAG, v);
            }
        }
    }

    /// The CompleteMultipartUploadResult of a committed block list, from its ETag.
    pub(super) fn complete_result(&self, headers: &HeaderMap) -> Option<String> {
        let (location, bucket, key) = self.complete.as_ref()?;
        let etag = headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Some(xml::complete_result_xml(location, bucket, key, etag))
    }

    /// The status S3 answers for Azure's successful one (Put Blob's 201, Delete Blob's 202).
    pub(super) fn status(&self, status: StatusCode) -> StatusCode {
        match status {
            StatusCode::CREATED => StatusCode::OK,
            StatusCode::ACCEPTED if self.delete => StatusCode::NO_CONTENT,
            s => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method, StatusCode};

    use super::super::tests::{ctx, head};
    use super::super::{Gateway, GatewayOptions, Plan, Timing};
    use crate::backend::azure::{SigningKey, UserDelegationKey};
    use crate::config::{ConfigFormat, GatewayConfig};
    use crate::oidc::federation::{BackendSecret, TemporaryCredentials};
    use crate::time::Timestamp;

    const CONFIG: &str = r#"
[[buckets]]
name = "az"
backend_type = "az"
anonymous_access = true
backend_prefix = "p/"
[buckets.backend_options]
account_name = "devstoreaccount1"
container_name = "cont"
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
access_key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

[[buckets]]
name = "azfed"
backend_type = "az"
anonymous_access = true
[buckets.backend_options]
account_name = "acct"
container_name = "cont"
auth_type = "oidc"
tenant_id = "t"
client_id = "c"
"#;

    fn gateway() -> Gateway {
        let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
        Gateway::new(config, GatewayOptions::default()).unwrap()
    }

    fn forward(plan: Plan) -> Box<super::super::Forward> {
        match plan {
            Plan::Forward(f) => f,
            other => panic!("not a forward: {other:?}"),
        }
    }

    #[test]
    fn a_read_is_a_read_only_blob_sas_under_the_prefix() {
        let f = forward(gateway().plan(&head(Method::GET, "/az/a%20b"), &ctx()));
        assert!(
            f.url
                .starts_with("http://127.0.0.1:10000/devstoreaccount1/cont/p/a%20b?sv=2021-08-06&sr=b&sp=r&se=2023-11-14T23%3A13%3A20Z&sig="),
            "{}",
            f.url
        );
        assert_eq!(f.headers["x-ms-version"], "2021-08-06");
    }

    #[test]
    fn azure_answers_are_translated_into_s3_terms() {
        let g = gateway();
        let f = forward(g.plan(&head(Method::GET, "/az/k"), &ctx()));
        let mut h = HeaderMap::new();
        h.insert("x-ms-meta-colour", HeaderValue::from_static("blue"));
        h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
        let (status, out) = f.response_head(StatusCode::OK, &h, Timing::default());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(out["x-amz-meta-colour"], "blue");
        assert!(out.get("x-ms-blob-type").is_none() && out.get("x-ms-meta-colour").is_none());
        let missing = Bytes::from_static(
            b"<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code><Message>gone</Message></Error>",
        );
        let resp = f.buffered_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            missing.clone(),
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(resp.body()).contains("<Code>NoSuchKey</Code>"));
        let auth = Bytes::from_static(
            b"<Error><Code>AuthenticationFailed</Code><Message>x</Message></Error>",
        );
        let resp = f.buffered_response(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            auth,
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        // A delete of a missing blob is S3's 204 (deletes need credentials: the same forward,
        // marked as a delete).
        let mut d = f;
        if let Some(az) = d.finish.azure.as_mut() {
            az.delete = true;
        }
        let resp = d.buffered_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            missing,
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let (status, _) =
            d.response_head(StatusCode::ACCEPTED, &HeaderMap::new(), Timing::default());
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn a_federated_bucket_asks_for_its_key_then_signs_a_user_delegation_sas() {
        let g = gateway();
        let h = head(Method::GET, "/azfed/k");
        // Without an OIDC provider the bucket says so.
        let Plan::Respond(r) = g.plan(&h, &ctx()) else {
            panic!()
        };
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let creds = TemporaryCredentials {
            secret: BackendSecret::AzureDelegation(Box::new(UserDelegationKey {
                signed_oid: "oid".into(),
                signed_tid: "tid".into(),
                signed_start: "2023-11-14T22:00:00Z".into(),
                signed_expiry: "2023-11-15T00:00:00Z".into(),
                signed_service: "b".into(),
                signed_version: "2021-08-06".into(),
                value: SigningKey::from_base64("a2V5").unwrap(),
            })),
            expiration: Timestamp(1_700_003_600),
        };
        let f = forward(g.plan_with_credentials(&h, &ctx(), None, Ok(&creds)));
        assert!(
            f.url
                .starts_with("https://acct.blob.core.windows.net/cont/k?")
                && f.url.contains("&skoid=oid&sktid=tid&"),
            "{}",
            f.url
        );
    }
}

#[cfg(test)]
mod upload_id_tests {
    use base64::Engine as _;

    use super::super::tests::ctx;
    use super::*;
    use crate::auth::sigv4::tests::{header_signed, SECRET};
    use crate::config::{ConfigFormat, GatewayConfig};
    use crate::gateway::GatewayOptions;
    use crate::sts::token::SessionKeys;

    fn gateway(account_key: bool, session_keys: Option<SessionKeys>) -> Gateway {
        let auth = if account_key {
            "access_key = \"YXp1cmUtc2VjcmV0LXZhbHVl\""
        } else {
            "skip_signature = \"true\""
        };
        let text = format!(
            r#"
[[buckets]]
name = "az"
backend_type = "azure"
[buckets.backend_options]
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
account_name = "devstoreaccount1"
container_name = "c"
{auth}

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["put_object", "create_multipart_upload", "upload_part",
           "complete_multipart_upload", "abort_multipart_upload"]
"#
        );
        let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
        let options = GatewayOptions {
            session_keys,
            ..GatewayOptions::default()
        };
        Gateway::new(config, options).unwrap()
    }

    fn head(method: &str, target: &str, extra: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            target: target.into(),
            headers: header_signed(method, target, SECRET, ctx().now, "us-east-1", extra),
        }
    }

    fn create(g: &Gateway, key: &str) -> String {
        let Plan::Respond(r) = g.plan(&head("POST", &format!("/az/{key}?uploads"), &[]), &ctx())
        else {
            panic!("Create is answered by the gateway")
        };
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        xml::child_text(body.as_bytes(), "InitiateMultipartUploadResult", "UploadId").unwrap()
    }

    fn part(g: &Gateway, key: &str, id: &str) -> Plan {
        let id = crate::percent::encode(id.as_bytes(), false);
        g.plan(
            &head(
                "PUT",
                &format!("/az/{key}?partNumber=1&uploadId={id}"),
                &[("content-length", "5")],
            ),
            &ctx(),
        )
    }

    fn no_such_upload(plan: Plan) {
        match plan {
            Plan::Respond(r) => {
                let body = String::from_utf8_lossy(r.body()).into_owned();
                assert_eq!(r.status(), StatusCode::NOT_FOUND, "{body}");
                assert!(body.contains("<Code>NoSuchUpload</Code>"), "{body}");
            }
            other => panic!("expected 404 NoSuchUpload, got {other:?}"),
        }
    }

    #[test]
    fn a_forged_or_tampered_azure_upload_id_is_no_such_upload_before_any_backend_call() {
        let g = gateway(true, None);
        let id = create(&g, "dir/k");
        assert!(matches!(part(&g, "dir/k", &id), Plan::Forward(_)));
        // A v1 id (unauthenticated state) carrying a header of the client's choosing.
        let text = "0123456789abcdef\nx-ms-copy-source:http://elsewhere/x";
        let forged = format!(
            "azmp1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        );
        no_such_upload(part(&g, "dir/k", &forged));
        // The same text with this gateway's prefix and a made-up MAC.
        let (body, tag) = id.rsplit_once('.').unwrap();
        let forged2 = format!(
            "azmp2.{}.{tag}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        );
        no_such_upload(part(&g, "dir/k", &forged2));
        // One flipped character of the MAC; a MAC cut short.
        let flipped: String = tag
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 3 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        no_such_upload(part(&g, "dir/k", &format!("{body}.{flipped}")));
        no_such_upload(part(&g, "dir/k", &format!("{body}.{}", &tag[..20])));
        no_such_upload(part(&g, "dir/k", body));
        // Complete and Abort refuse it too, Complete before reading its body.
        for (method, target) in [
            ("POST", format!("/az/dir/k?uploadId={forged2}")),
            ("DELETE", format!("/az/dir/k?uploadId={forged2}")),
        ] {
            no_such_upload(g.plan(&head(method, &target, &[]), &ctx()));
        }
        let Plan::NeedBody { .. } = g.plan(
            &head(
                "POST",
                &format!(
                    "/az/dir/k?uploadId={}",
                    crate::percent::encode(id.as_bytes(), false)
                ),
                &[],
            ),
            &ctx(),
        ) else {
            panic!("a genuine id's Complete reads its body")
        };
    }

    #[test]
    fn an_azure_upload_id_cannot_be_replayed_on_another_key_or_gateway() {
        let g = gateway(true, None);
        let id = create(&g, "a/one");
        no_such_upload(part(&g, "a/two", &id));
        // Another gateway key (SESSION_TOKEN_KEY set): not ours.
        let other = gateway(true, Some(SessionKeys::new(&[9; 32], None).unwrap()));
        no_such_upload(part(&other, "a/one", &id));
    }

    #[test]
    fn upload_ids_use_the_session_token_key_and_survive_its_rotation() {
        let old = SessionKeys::new(&[1; 32], None).unwrap();
        let id = create(&gateway(true, Some(old)), "k");
        let rotated = SessionKeys::new(&[2; 32], Some(&[1; 32])).unwrap();
        assert!(matches!(
            part(&gateway(true, Some(rotated)), "k", &id),
            Plan::Forward(_)
        ));
        // Without an account key, SESSION_TOKEN_KEY alone is enough.
        let keys = SessionKeys::new(&[3; 32], None).unwrap();
        let g = gateway(false, Some(keys));
        let id = create(&g, "k");
        assert!(matches!(part(&g, "k", &id), Plan::Forward(_)));
    }

    #[test]
    fn without_any_key_to_authenticate_ids_multipart_uploads_are_refused() {
        let g = gateway(false, None);
        let Plan::Respond(r) = g.plan(&head("POST", "/az/k?uploads", &[]), &ctx()) else {
            panic!("refused by the gateway")
        };
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED, "{body}");
        assert!(body.contains("SESSION_TOKEN_KEY"), "{body}");
    }
}
