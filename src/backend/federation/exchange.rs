//! What the federation providers share (below them: [`super`] dispatches to them): the
//! requests they ask the runtime to send, the credentials and errors they answer, and the option,
//! form and XML helpers they read and build those with.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::auth::presign::SigningCredentials;
use crate::auth::secret::SecretKey;
use crate::backend::azure::key::UserDelegationKey;
use crate::config::BucketConfig;
use crate::time::Timestamp;

/// Bounds of `duration_seconds` (AWS STS's own).
pub(crate) const MIN_DURATION_SECS: u64 = 900;
/// See [`MIN_DURATION_SECS`].
pub(crate) const MAX_DURATION_SECS: u64 = 43_200;

/// What an exchange does after an answer: send the next request, or it is done.
#[derive(Debug)]
pub enum ExchangeStep {
    /// Send this request and pass its answer to
    /// [`CredentialsNeeded::parse_response`](super::CredentialsNeeded::parse_response) with the
    /// next step number.
    Send(ExchangeRequest),
    /// The credentials.
    Done(TemporaryCredentials),
}

/// One HTTP request for the runtime to send.
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// Method.
    pub method: Method,
    /// Full URL (checked fetchable at config time).
    pub url: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (a small form).
    pub body: Bytes,
}

impl fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body", &"*** (carries a token)")
            .finish_non_exhaustive()
    }
}

/// Credentials obtained by federation.
#[derive(Clone, Debug)]
pub struct TemporaryCredentials {
    /// What the backend's requests are signed with.
    pub secret: BackendSecret,
    /// When they stop working.
    pub expiration: Timestamp,
}

/// The secret a federated backend's requests are signed with (never shown by `Debug`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BackendSecret {
    /// AWS-style key id, secret and session token (SigV4 presigning).
    Aws(SigningCredentials),
    /// An OAuth 2.0 access token, sent as `Authorization: Bearer`.
    Bearer(SecretKey),
    /// An Azure user delegation key (user delegation SAS signing).
    AzureDelegation(Box<UserDelegationKey>),
}

impl BackendSecret {
    /// What to call these credentials in logs (never the secret itself).
    pub fn describe(&self) -> String {
        match self {
            BackendSecret::Aws(s) => format!("access key {}", s.access_key_id),
            BackendSecret::Bearer(_) => "an access token".to_string(),
            BackendSecret::AzureDelegation(k) => {
                format!("an Azure user delegation key of {}", k.signed_oid)
            }
        }
    }
}

/// Why no credentials came out of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The gateway has no OIDC provider to mint the token (503).
    NotConfigured(String),
    /// The exchange endpoint could not be reached, or did not answer in time (503).
    Unreachable(String),
    /// The endpoint answered with an error (502; 503 for its own 5xx).
    Refused {
        /// HTTP status.
        status: u16,
        /// Its error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The endpoint answered something that is not credentials (502).
    Malformed(String),
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::NotConfigured(m)
            | ExchangeError::Unreachable(m)
            | ExchangeError::Malformed(m) => f.write_str(m),
            ExchangeError::Refused {
                status,
                code,
                message,
            } => write!(f, "HTTP {status}, {code}: {message}"),
        }
    }
}

/// A bucket's non-empty, trimmed backend option.
pub(crate) fn option<'b>(b: &'b BucketConfig, key: &str) -> Option<&'b str> {
    b.option(key).map(str::trim).filter(|v| !v.is_empty())
}

/// An endpoint option (or its default), without a trailing `/`, checked fetchable.
pub(crate) fn endpoint_option(
    b: &BucketConfig,
    key: &str,
    default: impl FnOnce() -> String,
) -> Result<String, String> {
    let url = option(b, key).map_or_else(default, |e| e.trim_end_matches('/').to_string());
    crate::sts::fetch::check_url(&url).map_err(|e| format!("{key}: {e}"))?;
    Ok(url)
}

/// `duration_seconds` (default 3600), within [`MIN_DURATION_SECS`, `MAX_DURATION_SECS`].
pub(crate) fn duration_option(b: &BucketConfig) -> Result<u64, String> {
    match option(b, "duration_seconds") {
        None => Ok(3600),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|d| (MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(d))
            .ok_or_else(|| {
                format!(
                    "duration_seconds '{v}' is not a number of seconds in [{MIN_DURATION_SECS}, {MAX_DURATION_SECS}]"
                )
            }),
    }
}

/// One component of an `application/x-www-form-urlencoded` body.
pub(crate) fn form_component(s: &str) -> String {
    crate::percent::encode(s.as_bytes(), false)
}

/// A form `POST` (unsigned: the token in it is the credential).
pub(crate) fn form_request(url: String, body: String, accept: &'static str) -> ExchangeRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert(http::header::ACCEPT, HeaderValue::from_static(accept));
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    ExchangeRequest {
        method: Method::POST,
        url,
        headers,
        body: Bytes::from(body),
    }
}

/// A `POST` authorized by an access token from an earlier step (`Authorization: Bearer`,
/// marked sensitive), with `content_type`, `extra` headers and `body`.
pub(crate) fn bearer_post(
    url: String,
    token: &str,
    content_type: &'static str,
    extra: &[(&'static str, &'static str)],
    body: String,
) -> ExchangeRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        v.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, v);
    }
    ExchangeRequest {
        method: Method::POST,
        url,
        headers,
        body: Bytes::from(body),
    }
}

/// The text of elements by name, for the first occurrence of each (namespaces ignored), from
/// a small XML document. None if it is not XML.
pub(crate) fn xml_fields<const N: usize>(
    body: &[u8],
    names: [&str; N],
) -> Option<[Option<String>; N]> {
    let mut reader = Reader::from_reader(body);
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut current: Option<usize> = None;
    let mut saw_element = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                saw_element = true;
                let local = e.local_name();
                current = names
                    .iter()
                    .position(|n| n.as_bytes() == local.as_ref())
                    .filter(|i| out[*i].is_none());
                if let Some(i) = current {
                    out[i] = Some(String::new());
                }
            }
            Event::End(_) => current = None,
            Event::Text(t) => {
                if let Some(i) = current {
                    let text = t.decode().ok()?;
                    if let Some(s) = out[i].as_mut() {
                        s.push_str(&text);
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(i) = current {
                    let c = crate::s3::xml::resolve_ref(&r)?;
                    if let Some(s) = out[i].as_mut() {
                        s.push(c);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    saw_element.then_some(out)
}
