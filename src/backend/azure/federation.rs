//! Azure: workload identity federation with Microsoft Entra ID, then a user delegation key.
//!
//! 1. `POST {token_endpoint}` (client credentials with a client assertion: the token the gateway
//!    minted, `aud` = `oidc_audience`, `sub` = `oidc_subject`, which the app registration's
//!    federated credential trusts) -> an access token for `https://storage.azure.com/.default`.
//! 2. `POST {blob endpoint}/?restype=service&comp=userdelegationkey` with that token ->
//!    a [`UserDelegationKey`], which signs every request of the bucket as a user delegation SAS
//!    (see [`crate::backend::azure`]).
//!
//! The key is asked for [`KEY_TTL_SECS`]; the credentials "expire" [`SAS_TTL_SECS`] before the
//! key does, so no SAS signed with them outlives the key.

use crate::backend::azure::key::{
    sas_time, SigningKey, UserDelegationKey, SAS_TTL_SECS, SAS_VERSION,
};
use crate::backend::federation::exchange::{
    bearer_post, endpoint_option, form_component, form_request, option, xml_fields, BackendSecret,
    ExchangeError, ExchangeRequest, ExchangeStep, TemporaryCredentials,
};
use crate::config::BucketConfig;
use crate::time::Timestamp;

/// How long a user delegation key is asked for (Azure allows up to 7 days).
pub(crate) const KEY_TTL_SECS: i64 = 2 * 3600;
/// The key's start is set this far back, for clock drift between the gateway and Azure.
const KEY_START_SKEW_SECS: i64 = 300;
/// The default audience of the client assertion (Entra's for workload identity federation).
pub(crate) const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// Entra ID workload identity federation settings of one Azure bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureWorkloadIdentity {
    /// `tenant_id`.
    pub tenant_id: String,
    /// `client_id`: the app registration (or managed identity) trusting the gateway's tokens.
    pub client_id: String,
    /// `token_endpoint` (default `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`).
    pub token_endpoint: String,
    /// The blob service endpoint (`endpoint`, default `https://{account}.blob.core.windows.net`).
    pub blob_endpoint: String,
    /// `oidc_audience` (default [`DEFAULT_AUDIENCE`]): the minted token's `aud`.
    pub audience: String,
    /// `oidc_subject` (default the bucket name): the minted token's `sub`.
    pub subject: String,
}

impl AzureWorkloadIdentity {
    /// The settings of a federated Azure bucket.
    pub(crate) fn from_bucket(b: &BucketConfig) -> Result<Self, String> {
        let opt = |k: &str| option(b, k);
        let need = |k: &str| {
            opt(k)
                .map(str::to_string)
                .ok_or_else(|| format!("auth_type = \"oidc\" needs backend_options.{k}"))
        };
        let tenant_id = need("tenant_id")?;
        let client_id = need("client_id")?;
        let account = need("account_name")?;
        let token_endpoint = endpoint_option(b, "token_endpoint", || {
            format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
        })?;
        let blob_endpoint = endpoint_option(b, "endpoint", || {
            format!("https://{account}.blob.core.windows.net")
        })?;
        Ok(AzureWorkloadIdentity {
            tenant_id,
            client_id,
            token_endpoint,
            blob_endpoint,
            audience: opt("oidc_audience").unwrap_or(DEFAULT_AUDIENCE).to_string(),
            subject: opt("oidc_subject").unwrap_or(&b.name).to_string(),
        })
    }

    pub(crate) fn cache_key(&self) -> String {
        format!(
            "azure-entra\n{}\n{}\n{}\n{}\n{}\n{}",
            self.token_endpoint,
            self.tenant_id,
            self.client_id,
            self.blob_endpoint,
            self.audience,
            self.subject
        )
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "Entra ID at {} for client {}",
            self.token_endpoint, self.client_id
        )
    }

    /// Step 0: the client-credentials request carrying the minted token as client assertion.
    pub fn exchange_request(&self, token: &str) -> ExchangeRequest {
        let body = format!(
            "client_id={}&grant_type=client_credentials&scope={}&client_assertion_type={}&client_assertion={}",
            form_component(&self.client_id),
            form_component(STORAGE_SCOPE),
            form_component(ASSERTION_TYPE),
            form_component(token),
        );
        form_request(self.token_endpoint.clone(), body, "application/json")
    }

    /// Reads the answer to request `step`: Entra's token (then asks for the key), or the key.
    pub(crate) fn parse_response(
        &self,
        step: usize,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<ExchangeStep, ExchangeError> {
        match step {
            0 => {
                let token = parse_token_response(status, body)?;
                Ok(ExchangeStep::Send(self.delegation_key_request(&token, now)))
            }
            _ => parse_delegation_key(status, body).map(ExchangeStep::Done),
        }
    }

    /// Step 1: Get User Delegation Key, authorized by the access token.
    fn delegation_key_request(&self, access_token: &str, now: Timestamp) -> ExchangeRequest {
        let start = sas_time(Timestamp(now.0 - KEY_START_SKEW_SECS));
        let expiry = sas_time(Timestamp(now.0 + KEY_TTL_SECS));
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<KeyInfo><Start>{start}</Start><Expiry>{expiry}</Expiry></KeyInfo>"
        );
        bearer_post(
            format!(
                "{}/?restype=service&comp=userdelegationkey",
                self.blob_endpoint
            ),
            access_token,
            "application/xml",
            &[("x-ms-version", SAS_VERSION)],
            body,
        )
    }
}

/// Entra's token answer: the access token, or its JSON error (`error`, `error_description`)
/// as [`ExchangeError::Refused`].
pub(crate) fn parse_token_response(status: u16, body: &[u8]) -> Result<String, ExchangeError> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    if !(200..300).contains(&status) {
        let (code, message) = match field("error") {
            Some(code) => (code, field("error_description").unwrap_or_default()),
            None => (
                format!("HTTP{status}"),
                "the answer is not an Entra error document".to_string(),
            ),
        };
        return Err(ExchangeError::Refused {
            status,
            code,
            message: message.trim().chars().take(512).collect(),
        });
    }
    match field("access_token").filter(|t| !t.trim().is_empty()) {
        Some(t) => Ok(t.trim().to_string()),
        None if json.is_none() => Err(ExchangeError::Malformed(
            "the token answer is not JSON".to_string(),
        )),
        None => Err(ExchangeError::Malformed(
            "the token answer has no access_token".to_string(),
        )),
    }
}

/// Get User Delegation Key's answer (or the storage service's XML error).
pub(crate) fn parse_delegation_key(
    status: u16,
    body: &[u8],
) -> Result<TemporaryCredentials, ExchangeError> {
    if !(200..300).contains(&status) {
        let (code, message) = match xml_fields(body, ["Code", "Message"]) {
            Some([Some(code), message]) => (code, message.unwrap_or_default()),
            _ => (
                format!("HTTP{status}"),
                "the answer is not a storage error document".to_string(),
            ),
        };
        return Err(ExchangeError::Refused {
            status,
            code: code.trim().to_string(),
            message: message.trim().chars().take(512).collect(),
        });
    }
    let fields = xml_fields(
        body,
        [
            "SignedOid",
            "SignedTid",
            "SignedStart",
            "SignedExpiry",
            "SignedService",
            "SignedVersion",
            "Value",
        ],
    )
    .ok_or_else(|| ExchangeError::Malformed("the key answer is not XML".to_string()))?;
    let [oid, tid, start, expiry, service, version, value] =
        fields.map(|f| f.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
    let missing = |what: &str| ExchangeError::Malformed(format!("the key answer has no {what}"));
    let expiry = expiry.ok_or_else(|| missing("SignedExpiry"))?;
    let expires = Timestamp::parse_rfc3339(&expiry).ok_or_else(|| {
        ExchangeError::Malformed(format!("SignedExpiry '{expiry}' is not an RFC 3339 time"))
    })?;
    let value = value.ok_or_else(|| missing("Value"))?;
    let key = UserDelegationKey {
        signed_oid: oid.ok_or_else(|| missing("SignedOid"))?,
        signed_tid: tid.ok_or_else(|| missing("SignedTid"))?,
        signed_start: start.ok_or_else(|| missing("SignedStart"))?,
        signed_expiry: expiry,
        signed_service: service.ok_or_else(|| missing("SignedService"))?,
        signed_version: version.ok_or_else(|| missing("SignedVersion"))?,
        value: SigningKey::from_base64(&value)
            .ok_or_else(|| ExchangeError::Malformed("the key's Value is not base64".to_string()))?,
    };
    Ok(TemporaryCredentials {
        secret: BackendSecret::AzureDelegation(Box::new(key)),
        // No SAS signed with the key may outlive it.
        expiration: Timestamp(expires.0 - SAS_TTL_SECS),
    })
}

#[cfg(test)]
mod tests;
