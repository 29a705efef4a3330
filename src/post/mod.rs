//! POST Object: browser form uploads signed with a POST policy (SigV4, or SigV2 when allowed).
//!
//! ```text
//! plan ─▶ NeedForm(FormReader) ─ runtime feeds the body's first chunks ─▶ plan_with_form
//!      ─▶ signature over the policy ─▶ policy conditions ─▶ put_object authorization
//!      ─▶ the PutObject plan of the key (Forward or R2) whose body is the rest of the client's
//!         stream through a FormBody check, and whose answer is the POST answer (PostAnswer)
//! ```
//!
//! Only the fields before the file are buffered ([`form::MAX_PREAMBLE`]); the file streams
//! through the same hold-back machinery as every other checked upload ([`crate::payload`]), so
//! both runtimes, S3 backends and R2 bindings get it without code of their own.

pub(crate) mod form;
pub(crate) mod policy;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use subtle::ConstantTimeEq as _;

use crate::auth::secret::Signature;
use crate::auth::sigv4::{self, SigningKeyCache};
use crate::auth::{sigv2, AuthSettings, CredentialStore};
use crate::policy::Identity;
use crate::s3::error::push_escaped;
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

pub(crate) use form::{FormBody, FormReader, PostForm};
pub(crate) use policy::PostPolicy;

/// Who signed a form, and the policy they signed (None for an anonymous form).
#[derive(Debug)]
pub(crate) struct PostAuth {
    pub identity: Identity,
    pub policy: Option<PostPolicy>,
}

fn missing(field: &str) -> S3Error {
    S3Error::invalid_argument(format!(
        "Bucket POST must contain a field named '{field}'.  If it is specified, please check the order of the fields."
    ))
    .with_detail("ArgumentName", field)
}

/// Verifies the form's signature over its `policy` field: SigV4 (`x-amz-signature`), SigV2
/// (`signature` + `AWSAccessKeyId`) when allowed, or none (anonymous, no policy).
pub(crate) fn authenticate(
    form: &PostForm,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
    keys: &SigningKeyCache,
    now: Timestamp,
) -> Result<PostAuth, S3Error> {
    let policy_b64 = form.field("policy");
    let token = form.field("x-amz-security-token");
    if let Some(sig) = form.field("x-amz-signature") {
        let policy_b64 = policy_b64.ok_or_else(|| missing("policy"))?;
        let (akid, date, region) = sigv4_scope(form, settings)?;
        let provided = Signature::from_hex(&sig)
            .ok_or_else(|| S3Error::invalid_argument("x-amz-signature is not 64 hex digits"))?;
        let resolved = store.lookup(&akid, token.as_deref(), now)?;
        let key = keys.get(&akid, &resolved.secret, &date, &region, "s3");
        if !sigv4::sign(&key, &policy_b64).ct_eq(&provided) {
            return Err(signature_mismatch(&akid, &policy_b64));
        }
        return Ok(PostAuth {
            identity: resolved.identity,
            policy: Some(PostPolicy::parse(&policy_b64)?),
        });
    }
    if let Some(sig) = form.field("signature") {
        if !settings.allow_sigv2 {
            return Err(S3Error::invalid_request(
                "SigV2 is turned off on this gateway; sign the POST policy with SigV4",
            ));
        }
        let policy_b64 = policy_b64.ok_or_else(|| missing("policy"))?;
        let akid = form
            .field("awsaccesskeyid")
            .ok_or_else(|| missing("AWSAccessKeyId"))?;
        let resolved = store.lookup(&akid, token.as_deref(), now)?;
        let expected = sigv2::sign(resolved.secret.expose(), &policy_b64);
        if !bool::from(expected.as_bytes().ct_eq(sig.trim().as_bytes())) {
            return Err(signature_mismatch(&akid, &policy_b64));
        }
        return Ok(PostAuth {
            identity: resolved.identity,
            policy: Some(PostPolicy::parse(&policy_b64)?),
        });
    }
    if policy_b64.is_some() {
        return Err(missing("x-amz-signature"));
    }
    Ok(PostAuth {
        identity: Identity::Anonymous,
        policy: None,
    })
}

/// The SigV4 fields of a form: a supported algorithm, and a credential whose date is
/// `x-amz-date`'s and whose scope is this gateway's S3. `(access key id, date, region)`.
fn sigv4_scope(
    form: &PostForm,
    settings: &AuthSettings,
) -> Result<(String, String, String), S3Error> {
    let algorithm = form
        .field("x-amz-algorithm")
        .ok_or_else(|| missing("x-amz-algorithm"))?;
    if algorithm != sigv4::ALGORITHM {
        return Err(S3Error::invalid_argument(format!(
            "x-amz-algorithm '{algorithm}' is not supported; use {}",
            sigv4::ALGORITHM
        )));
    }
    let credential = form
        .field("x-amz-credential")
        .ok_or_else(|| missing("x-amz-credential"))?;
    let amz_date = form
        .field("x-amz-date")
        .ok_or_else(|| missing("x-amz-date"))?;
    let (akid, date, region, service) =
        sigv4::parse_credential(&credential, S3Error::invalid_argument)?;
    if amz_date.get(..8) != Some(date.as_str()) || Timestamp::parse_amz_date(&amz_date).is_none() {
        return Err(S3Error::invalid_argument(format!(
            "x-amz-date '{amz_date}' is not a time on the credential's date '{date}'"
        )));
    }
    if !settings.regions.iter().any(|r| r == &region) || service != "s3" {
        return Err(S3Error::invalid_argument(format!(
            "the credential scope {region}/{service} is wrong; expecting {}/s3",
            settings.regions.first().map_or("us-east-1", String::as_str)
        )));
    }
    Ok((akid, date, region))
}

fn signature_mismatch(akid: &str, policy_b64: &str) -> S3Error {
    S3Error::new(
        ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
    .with_detail("AWSAccessKeyId", akid)
    .with_detail("StringToSign", policy_b64)
}

/// The object key: the `key` field with `${filename}` replaced.
pub(crate) fn object_key(form: &PostForm) -> Result<String, S3Error> {
    let key = form.field("key").ok_or_else(|| missing("key"))?;
    let key = key.replace("${filename}", form.base_filename());
    if key.is_empty() {
        return Err(
            S3Error::invalid_argument("the key field is empty").with_detail("ArgumentName", "key")
        );
    }
    if key.len() > 1024 {
        return Err(S3Error::new(
            ErrorCode::KeyTooLongError,
            "Your key is too long",
        ));
    }
    Ok(key)
}

/// The PutObject headers the form's fields stand for (object metadata, checksums and object
/// lock). The PutObject they make is checked and authorized as any other, so an object lock
/// field needs its action and a valid value there, never dropped on the way.
pub(crate) fn put_headers(form: &PostForm, file_len: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    for name in form.names() {
        let keep = matches!(
            name,
            "content-type"
                | "cache-control"
                | "content-disposition"
                | "content-encoding"
                | "content-language"
                | "content-md5"
                | "expires"
                | "x-amz-object-lock-mode"
                | "x-amz-object-lock-retain-until-date"
                | "x-amz-object-lock-legal-hold"
        ) || name.starts_with("x-amz-meta-")
            || (name.starts_with("x-amz-checksum-") && name != "x-amz-checksum-type");
        if !keep {
            continue;
        }
        let value = form
            .field(name)
            .unwrap_or_default()
            .replace("${filename}", form.base_filename());
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.insert(n, v);
        }
    }
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(file_len));
    h
}

/// How a successful POST is answered (`success_action_redirect` / `success_action_status`).
#[derive(Clone, Debug)]
pub(crate) struct PostAnswer {
    status: StatusCode,
    redirect: Option<String>,
    bucket: String,
    key: String,
    location: String,
}

impl PostAnswer {
    /// From the form: a redirect if it names an http(s) URL, else the status (204 by default,
    /// 200 or 201 when asked).
    pub(crate) fn new(form: &PostForm, bucket: &str, key: &str, location: String) -> Self {
        let redirect = form
            .field("success_action_redirect")
            .or_else(|| form.field("redirect"))
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        let status = match form
            .field("success_action_status")
            .as_deref()
            .map(str::trim)
        {
            Some("200") => StatusCode::OK,
            Some("201") => StatusCode::CREATED,
            _ => StatusCode::NO_CONTENT,
        };
        PostAnswer {
            status,
            redirect,
            bucket: bucket.to_string(),
            key: key.to_string(),
            location,
        }
    }

    /// The answer once the object was stored with `etag` (quoted).
    pub(crate) fn respond(&self, etag: &str, request_id: &str) -> Response<Bytes> {
        let enc = |s: &str| crate::percent::encode(s.as_bytes(), false);
        let mut resp = Response::new(Bytes::new());
        if let Some(url) = &self.redirect {
            let sep = if url.contains('?') { '&' } else { '?' };
            let target = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                enc(&self.bucket),
                enc(&self.key),
                enc(etag)
            );
            *resp.status_mut() = StatusCode::SEE_OTHER;
            set(resp.headers_mut(), http::header::LOCATION, &target);
        } else {
            *resp.status_mut() = self.status;
            set(resp.headers_mut(), http::header::LOCATION, &self.location);
            if self.status == StatusCode::CREATED {
                let mut doc = String::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>",
                );
                push_escaped(&mut doc, &self.location);
                doc.push_str("</Location><Bucket>");
                push_escaped(&mut doc, &self.bucket);
                doc.push_str("</Bucket><Key>");
                push_escaped(&mut doc, &self.key);
                doc.push_str("</Key><ETag>");
                push_escaped(&mut doc, etag);
                doc.push_str("</ETag></PostResponse>");
                set(
                    resp.headers_mut(),
                    http::header::CONTENT_TYPE,
                    "application/xml",
                );
                *resp.body_mut() = Bytes::from(doc);
            }
        }
        set(resp.headers_mut(), http::header::ETAG, etag);
        set(
            resp.headers_mut(),
            HeaderName::from_static("x-amz-request-id"),
            request_id,
        );
        resp
    }
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
pub(crate) mod tests;
