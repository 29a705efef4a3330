//! Azure Blob Storage backends (`backend_type = "az"`): every request is a presigned URL with a
//! shared access signature, so no request carries a header the gateway must sign.
//!
//! - Static credentials (`access_key`, the account's base64 key) sign a *service SAS*; federated
//!   buckets (`auth_type = "oidc"`) sign a *user delegation SAS* with the key the runtime obtained
//!   ([`UserDelegationKey`], see [`crate::backend::federation`]); `skip_signature = true` (public
//!   containers) sends plain URLs.
//! - Each SAS grants the least the request needs: one blob (`sr=b`) or the container listing
//!   (`sr=c`), one permission set, for [`SAS_TTL_SECS`].
//! - Translations S3 clients need: `x-amz-meta-*` <-> `x-ms-meta-*` (Azure metadata names must
//!   be C# identifiers: other names are refused, never dropped), List Blobs into
//!   `ListBucketResult`, Azure error codes into S3 ones.
//!
//! Built once per bucket per config snapshot: the account key is decoded here, so a request
//! costs one HMAC.

use base64::Engine as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::auth::hmac;
use crate::backend::federation::{CredentialsNeeded, Federation};
use crate::config::BucketConfig;
use crate::percent;
use crate::s3::S3Error;
use crate::time::Timestamp;

/// The `Azure` default endpoint of an account.
const DEFAULT_ENDPOINT: &str = "https://{account}.blob.core.windows.net";

/// What a request reaches: one blob, or the container (listing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource<'a> {
    /// A blob, by its name (backend prefix applied).
    Blob(&'a str),
    /// The container.
    Container,
}

/// One signed request's SAS terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SasTerms {
    /// `sp`: permissions in Azure's order (`racwdl`).
    pub permissions: &'static str,
    /// `se`: when it expires.
    pub expiry: Timestamp,
    /// `rscc`, `rscd`, `rsce`, `rscl`, `rsct`: response header overrides (GET).
    pub overrides: ResponseOverrides,
}

/// Response header overrides, signed into the SAS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResponseOverrides {
    /// `rscc` (Cache-Control).
    pub cache_control: Option<String>,
    /// `rscd` (Content-Disposition).
    pub content_disposition: Option<String>,
    /// `rsce` (Content-Encoding).
    pub content_encoding: Option<String>,
    /// `rscl` (Content-Language).
    pub content_language: Option<String>,
    /// `rsct` (Content-Type).
    pub content_type: Option<String>,
}

impl ResponseOverrides {
    fn fields(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("rscc", self.cache_control.as_deref()),
            ("rscd", self.content_disposition.as_deref()),
            ("rsce", self.content_encoding.as_deref()),
            ("rscl", self.content_language.as_deref()),
            ("rsct", self.content_type.as_deref()),
        ]
    }
}

/// How requests are signed.
#[derive(Debug)]
enum Auth {
    /// Service SAS with the account key.
    AccountKey(SigningKey),
    /// Plain URLs (public container).
    Anonymous,
    /// User delegation SAS with the key federation obtains per request.
    Federated(CredentialsNeeded),
}

/// One Azure container.
#[derive(Debug)]
pub(crate) struct AzureBackend {
    scheme: String,
    /// `host[:port]`.
    host: String,
    /// Path of the endpoint without a trailing `/` (`/devstoreaccount1` on Azurite).
    base_path: String,
    account: String,
    container: String,
    auth: Auth,
}

impl AzureBackend {
    /// Builds the backend from a validated bucket entry.
    pub(crate) fn from_config(bucket: &BucketConfig) -> Result<Self, String> {
        let opt = |k: &str| bucket.option(k).map(str::trim).filter(|v| !v.is_empty());
        let account = opt("account_name").ok_or("backend_options.account_name is missing")?;
        let container = opt("container_name").ok_or("backend_options.container_name is missing")?;
        let endpoint = opt("endpoint").map_or_else(
            || DEFAULT_ENDPOINT.replace("{account}", account),
            str::to_string,
        );
        let (scheme, rest) = endpoint
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or_else(|| format!("endpoint '{endpoint}' is not an http(s) URL"))?;
        let (host, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if scheme == "http" { ":80" } else { ":443" };
        let host = host.strip_suffix(default_port).unwrap_or(host);
        let federation = Federation::from_bucket(bucket)?;
        let skip = opt("skip_signature").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let auth = match (federation, skip) {
            (Some(f), _) => Auth::Federated(CredentialsNeeded {
                key: f.cache_key(),
                federation: std::sync::Arc::new(f),
            }),
            (None, true) => Auth::Anonymous,
            (None, false) => {
                let key = opt("access_key").or_else(|| opt("account_key")).ok_or(
                    "backend_options.access_key is missing (the account key; or set \
                     skip_signature = true for a public container, or auth_type = \"oidc\")",
                )?;
                Auth::AccountKey(
                    SigningKey::from_base64(key)
                        .ok_or("backend_options.access_key is not a base64 account key")?,
                )
            }
        };
        Ok(AzureBackend {
            scheme: scheme.to_string(),
            host: host.to_string(),
            base_path: base_path.to_string(),
            account: account.to_string(),
            container: container.to_string(),
            auth,
        })
    }

    /// The upload-id key derived from the account key (None: federated or anonymous).
    pub(crate) fn account_upload_key(&self) -> Option<UploadKey> {
        match &self.auth {
            Auth::AccountKey(k) => Some(UploadKey::derive(&k.0)),
            _ => None,
        }
    }

    /// What an upload id is bound to: the blob, account and container included
    /// (`/blob/{account}/{container}/{blob}`).
    pub(crate) fn upload_binding(&self, blob: &str) -> String {
        self.canonical_resource(Resource::Blob(blob))
    }

    /// How a federated backend gets its user delegation key (None: static or anonymous).
    pub(crate) fn federation(&self) -> Option<&CredentialsNeeded> {
        match &self.auth {
            Auth::Federated(f) => Some(f),
            _ => None,
        }
    }

    /// True when requests are sent unsigned (public container).
    pub(crate) fn is_anonymous(&self) -> bool {
        matches!(self.auth, Auth::Anonymous)
    }

    /// The URL of a request: `{endpoint}/{container}[/{blob}]?{query}&{sas}`. `query` is the
    /// operation's own (decoded) parameters; `delegation` the request's federated key.
    pub(crate) fn url(
        &self,
        resource: Resource<'_>,
        query: &[(&str, String)],
        terms: &SasTerms,
        delegation: Option<&UserDelegationKey>,
    ) -> String {
        let mut url = format!(
            "{}://{}{}/{}",
            self.scheme,
            self.host,
            self.base_path,
            percent::encode(self.container.as_bytes(), false)
        );
        if let Resource::Blob(name) = resource {
            url.push('/');
            url.push_str(&percent::encode(name.as_bytes(), true));
        }
        let mut params: Vec<(&str, String)> = query.to_vec();
        let sas = match (&self.auth, delegation) {
            (Auth::Anonymous, _) => None,
            (_, Some(key)) => Some(self.user_delegation_sas(resource, terms, key)),
            (Auth::AccountKey(key), None) => Some(self.service_sas(resource, terms, key)),
            // A federated request reaches here only with its key; unsigned, Azure refuses it.
            (Auth::Federated(_), None) => None,
        };
        if let Some(sas) = sas {
            params.extend(sas);
        }
        let mut sep = '?';
        for (k, v) in params {
            url.push(sep);
            sep = '&';
            url.push_str(k);
            url.push('=');
            url.push_str(&percent::encode(v.as_bytes(), false));
        }
        url
    }

    /// `/blob/{account}/{container}[/{blob}]`.
    fn canonical_resource(&self, resource: Resource<'_>) -> String {
        match resource {
            Resource::Blob(name) => format!("/blob/{}/{}/{name}", self.account, self.container),
            Resource::Container => format!("/blob/{}/{}", self.account, self.container),
        }
    }

    /// The service SAS parameters (version 2020-12-06 and later string-to-sign).
    fn service_sas(
        &self,
        resource: Resource<'_>,
        terms: &SasTerms,
        key: &SigningKey,
    ) -> Vec<(&'static str, String)> {
        let expiry = sas_time(terms.expiry);
        let sr = sr(resource);
        let mut lines: Vec<&str> = vec![
            terms.permissions,
            "", // st
            &expiry,
        ];
        let canonical = self.canonical_resource(resource);
        lines.push(&canonical);
        lines.extend(["", "", "", SAS_VERSION, sr, "", ""]); // si sip spr sv sr snapshot ses
        let fields = terms.overrides.fields();
        lines.extend(fields.iter().map(|(_, v)| v.unwrap_or("")));
        let sig = key.sign(&lines.join("\n"));
        sas_params(terms, expiry, sr, &[], sig)
    }

    /// The user delegation SAS parameters (version 2020-12-06 and later string-to-sign).
    fn user_delegation_sas(
        &self,
        resource: Resource<'_>,
        terms: &SasTerms,
        key: &UserDelegationKey,
    ) -> Vec<(&'static str, String)> {
        let expiry = sas_time(terms.expiry);
        let sr = sr(resource);
        let canonical = self.canonical_resource(resource);
        let mut lines: Vec<&str> = vec![
            terms.permissions,
            "",
            &expiry,
            &canonical,
            &key.signed_oid,
            &key.signed_tid,
            &key.signed_start,
            &key.signed_expiry,
            &key.signed_service,
            &key.signed_version,
            "", // saoid
            "", // suoid
            "", // scid
            "", // sip
            "", // spr
            SAS_VERSION,
            sr,
            "", // snapshot
            "", // ses
        ];
        let fields = terms.overrides.fields();
        lines.extend(fields.iter().map(|(_, v)| v.unwrap_or("")));
        let sig = key.value.sign(&lines.join("\n"));
        let skey = [
            ("skoid", key.signed_oid.clone()),
            ("sktid", key.signed_tid.clone()),
            ("skt", key.signed_start.clone()),
            ("ske", key.signed_expiry.clone()),
            ("sks", key.signed_service.clone()),
            ("skv", key.signed_version.clone()),
        ];
        sas_params(terms, expiry, sr, &skey, sig)
    }
}

fn sr(resource: Resource<'_>) -> &'static str {
    match resource {
        Resource::Blob(_) => "b",
        Resource::Container => "c",
    }
}

fn sas_params(
    terms: &SasTerms,
    expiry: String,
    sr: &'static str,
    skey: &[(&'static str, String)],
    sig: String,
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("sv", SAS_VERSION.to_string()),
        ("sr", sr.to_string()),
        ("sp", terms.permissions.to_string()),
        ("se", expiry),
    ];
    out.extend(skey.iter().cloned());
    for (name, value) in terms.overrides.fields() {
        if let Some(v) = value {
            out.push((name, v.to_string()));
        }
    }
    out.push(("sig", sig));
    out
}

/// Whether an `x-amz-meta-*` name (without the prefix) is a valid Azure metadata name: a C#
/// identifier (a letter or `_`, then letters, digits or `_`).
pub(crate) fn valid_metadata_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The refusal of a metadata name Azure cannot store.
pub(crate) fn invalid_metadata_name(name: &str) -> S3Error {
    S3Error::invalid_argument(format!(
        "the metadata name '{name}' cannot be stored on an Azure backend: names must be C# \
         identifiers (a letter or '_', then letters, digits or '_'; no '-')"
    ))
    .with_detail("ArgumentName", format!("x-amz-meta-{name}"))
}

/// The S3 code for an Azure error code, and whether it is the gateway's own configuration's
/// fault (answered 502).
pub(crate) fn s3_code(azure: &str) -> (&str, bool) {
    match azure {
        "BlobNotFound" => ("NoSuchKey", false),
        // `If-None-Match: *` on an existing blob is Azure's 409 BlobAlreadyExists.
        "ConditionNotMet"
        | "TargetConditionNotMet"
        | "SourceConditionNotMet"
        | "BlobAlreadyExists" => ("PreconditionFailed", false),
        "InvalidRange" => ("InvalidRange", false),
        "Md5Mismatch" => ("BadDigest", false),
        "InvalidMetadata" => ("InvalidArgument", false),
        "RequestBodyTooLarge" => ("EntityTooLarge", false),
        "InvalidBlockList" | "InvalidBlockId" => ("InvalidPart", false),
        "ContainerNotFound"
        | "AuthenticationFailed"
        | "AuthorizationFailure"
        | "AuthorizationPermissionMismatch"
        | "AuthorizationResourceTypeMismatch"
        | "AuthorizationProtocolMismatch"
        | "AuthorizationSourceIPMismatch"
        | "AuthorizationServiceMismatch"
        | "InvalidAuthenticationInfo"
        | "AccountIsDisabled"
        | "InsufficientAccountPermissions"
        | "NoAuthenticationInformation"
        | "ResourceNotFound"
        | "PublicAccessNotPermitted" => (azure, true),
        other => (other, false),
    }
}

/// Starts an upload id the gateway made (Azure has no multipart uploads of its own). Version 2:
/// authenticated (`azmp2.{base64url text}.{base64url HMAC}`).
const UPLOAD_TOKEN: &str = "azmp2.";
/// The label an upload-id key is derived with from a gateway secret.
pub(crate) const UPLOAD_KEY_LABEL: &[u8] = b"multistore azure upload id v1";

/// The key that authenticates upload ids: HMAC-SHA256 under a key derived (with
/// [`UPLOAD_KEY_LABEL`]) from a gateway secret, over the blob the upload is for and the id's
/// text. An id is state the client hands back (the blob headers Complete sets, the blocks it
/// commits): without the MAC a client could forge `x-ms-*` headers or replay an id on another
/// key.
#[derive(Clone)]
pub(crate) struct UploadKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for UploadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadKey(***)")
    }
}

impl UploadKey {
    /// Derives the key from a secret (an account key, or a key derived from
    /// `SESSION_TOKEN_KEY`): HMAC-SHA256(secret, [`UPLOAD_KEY_LABEL`]).
    pub(crate) fn derive(secret: &[u8]) -> Self {
        UploadKey(Zeroizing::new(hmac::sha256(secret, &[UPLOAD_KEY_LABEL])))
    }

    fn mac(&self, binding: &str, text: &[u8]) -> [u8; 32] {
        // Length-prefixed, so no (binding, text) pair reads as another.
        let len = (binding.len() as u64).to_be_bytes();
        hmac::sha256(&self.0[..], &[&len, binding.as_bytes(), text])
    }
}
/// Most bytes of blob headers and metadata an upload id carries from Create to Complete.
pub(crate) const MAX_UPLOAD_HEADERS: usize = 4096;

/// A multipart upload on Azure: parts are uncommitted blocks of the blob, committed by Complete
/// (Put Block List). The upload id is stateless: a nonce naming the upload's blocks, and the blob
/// headers (content headers, `x-ms-meta-*`) Create was given, for Complete to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Upload {
    /// 16 hex digits, unique per upload (from the Create request's id and key).
    pub nonce: String,
    /// `(x-ms-* header name, value)` for Put Block List.
    pub headers: Vec<(String, String)>,
}

impl Upload {
    /// A new upload for `key`, created by request `request_id`.
    pub(crate) fn new(
        request_id: &str,
        key: &str,
        headers: Vec<(String, String)>,
    ) -> Result<Self, S3Error> {
        use sha2::Digest as _;
        let digest = Sha256::digest(format!("{request_id}\n{key}").as_bytes());
        let size: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        if size > MAX_UPLOAD_HEADERS {
            return Err(S3Error::invalid_argument(format!(
                "a multipart upload to an Azure backend carries at most {MAX_UPLOAD_HEADERS} bytes \
                 of content headers and metadata"
            )));
        }
        Ok(Upload {
            nonce: hex::encode(&digest[..8]),
            headers,
        })
    }

    /// The upload id given to the client, authenticated with `key` and bound to `binding` (the
    /// blob, [`AzureBackend::upload_binding`]).
    pub(crate) fn id(&self, key: &UploadKey, binding: &str) -> String {
        let mut text = self.nonce.clone();
        for (k, v) in &self.headers {
            text.push('\n');
            text.push_str(k);
            text.push(':');
            text.push_str(v);
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let tag = key.mac(binding, text.as_bytes());
        format!(
            "{UPLOAD_TOKEN}{}.{}",
            b64.encode(text.as_bytes()),
            b64.encode(tag)
        )
    }

    /// Reads an upload id; None when it is not one of ours: not well-formed, or its MAC does
    /// not verify (constant time) under any of `keys` for `binding`, i.e. forged, tampered with,
    /// or made for another blob.
    pub(crate) fn parse(id: &str, keys: &[UploadKey], binding: &str) -> Option<Self> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (text_b64, tag_b64) = id.trim().strip_prefix(UPLOAD_TOKEN)?.split_once('.')?;
        let tag = b64.decode(tag_b64.as_bytes()).ok()?;
        let bytes = b64.decode(text_b64.as_bytes()).ok()?;
        if !keys
            .iter()
            .any(|k| bool::from(k.mac(binding, &bytes)[..].ct_eq(&tag[..])))
        {
            return None;
        }
        let text = String::from_utf8(bytes).ok()?;
        let mut lines = text.split('\n');
        let nonce = lines.next()?.to_string();
        if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut headers = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(':')?;
            if !k.starts_with("x-ms-") {
                return None;
            }
            headers.push((k.to_string(), v.to_string()));
        }
        Some(Upload { nonce, headers })
    }

    /// The block id of part `part` (all of one upload's ids have the same length, as Azure
    /// requires).
    pub(crate) fn block_id(&self, part: u16) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}-{part:05}", self.nonce))
    }

    /// The ETag the gateway answers for part `part` (Put Block answers none), quoted.
    pub(crate) fn part_etag(&self, part: u16) -> String {
        use md5::Digest as _;
        format!(
            "\"{}\"",
            hex::encode(md5::Md5::digest(self.block_id(part).as_bytes()))
        )
    }
}

/// The Put Block List body committing these blocks in order.
pub(crate) fn block_list_xml(block_ids: &[String]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>");
    for id in block_ids {
        crate::s3::xml::push_leaf(&mut out, "Latest", id);
    }
    out.push_str("</BlockList>");
    out
}

pub(crate) mod answer;
pub(crate) mod federation;
pub(crate) mod key;
mod listing;
pub(crate) mod options;
pub(crate) mod plan;

pub(crate) use key::{sas_time, SigningKey, UserDelegationKey, SAS_TTL_SECS, SAS_VERSION};
#[cfg(test)]
use listing::wrap_marker;
pub(crate) use listing::{list_params, listing_to_s3, ListEcho};

#[cfg(test)]
mod tests;
