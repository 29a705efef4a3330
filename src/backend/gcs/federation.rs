//! Google Cloud workload identity federation: the gateway's token is exchanged at Google's
//! Security Token Service (RFC 8693) for a federated access token, which then (with a
//! `service_account`) impersonates that service account through the IAM Service Account
//! Credentials API's `generateAccessToken`. The result is an OAuth 2.0 access token that
//! requests to GCS carry as `Authorization: Bearer`.
//!
//! Why a bearer token and not signed URLs: a V4 signed URL needs the service account's key, and
//! without one (the point of federation) each URL would need an IAM `signBlob` round trip; the
//! access token gives the same scoped access with no call per request.
//!
//! Errors: Google answers `{"error": "...", "error_description": "..."}` (STS) or
//! `{"error": {"code": .., "message": "...", "status": "..."}}` (IAM); both become
//! [`ExchangeError::Refused`] with that code and message.

use serde_json::Value;

use crate::auth::secret::SecretKey;
use crate::backend::federation::exchange::{
    bearer_post, duration_option, endpoint_option, form_component, form_request, option,
    BackendSecret, ExchangeError, ExchangeRequest, ExchangeStep, TemporaryCredentials,
};
use crate::config::BucketConfig;
use crate::time::Timestamp;

/// Google's STS token endpoint.
pub(crate) const DEFAULT_STS_ENDPOINT: &str = "https://sts.googleapis.com/v1/token";
/// The IAM Service Account Credentials API.
pub(crate) const DEFAULT_IAM_CREDENTIALS_ENDPOINT: &str = "https://iamcredentials.googleapis.com";
/// The scope asked for (GCS's own scopes are narrower, but IAM decides what the token may do).
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The prefix of a workload identity provider's resource name.
const PROVIDER_PREFIX: &str = "//iam.googleapis.com/";

/// Google workload identity federation settings of one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcpWorkloadIdentity {
    /// `workload_identity_provider`:
    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/PR`,
    /// the STS `audience`.
    pub provider: String,
    /// `service_account` to impersonate (email); None: the federated token is used directly.
    pub service_account: Option<String>,
    /// `sts_endpoint` (default [`DEFAULT_STS_ENDPOINT`]).
    pub sts_endpoint: String,
    /// `iam_credentials_endpoint` (default [`DEFAULT_IAM_CREDENTIALS_ENDPOINT`]).
    pub iam_endpoint: String,
    /// `oidc_audience`: the minted token's `aud` (default: the provider's name as an https URL,
    /// the audience a provider allows by default).
    pub audience: String,
    /// `oidc_subject` (default the bucket name): the minted token's `sub`.
    pub subject: String,
    /// `duration_seconds` (default 3600): the impersonated token's lifetime.
    pub duration_secs: u64,
}

impl GcpWorkloadIdentity {
    /// The settings of a federated GCS bucket.
    pub(crate) fn from_bucket(b: &BucketConfig) -> Result<Self, String> {
        let opt = |k: &str| option(b, k);
        let raw = opt("workload_identity_provider")
            .ok_or("auth_type = \"oidc\" on a gcs bucket needs backend_options.workload_identity_provider (//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER)")?;
        let provider = if raw.starts_with("projects/") {
            format!("{PROVIDER_PREFIX}{raw}")
        } else {
            raw.to_string()
        };
        let path = provider.strip_prefix(PROVIDER_PREFIX).unwrap_or("");
        let parts: Vec<&str> = path.split('/').collect();
        let shaped = parts.len() == 8
            && parts[0] == "projects"
            && parts[2] == "locations"
            && parts[4] == "workloadIdentityPools"
            && parts[6] == "providers"
            && parts
                .iter()
                .all(|p| !p.is_empty() && !p.contains(char::is_whitespace));
        if !shaped {
            return Err(format!(
                "workload_identity_provider '{raw}' is not //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER"
            ));
        }
        let service_account = opt("service_account").map(str::to_string);
        if service_account
            .as_deref()
            .is_some_and(|s| !s.contains('@') || s.contains(['/', ' ', '?', '#']))
        {
            return Err(format!(
                "service_account '{}' is not a service account email",
                service_account.unwrap_or_default()
            ));
        }
        Ok(GcpWorkloadIdentity {
            sts_endpoint: endpoint_option(b, "sts_endpoint", || DEFAULT_STS_ENDPOINT.to_string())?,
            iam_endpoint: endpoint_option(b, "iam_credentials_endpoint", || {
                DEFAULT_IAM_CREDENTIALS_ENDPOINT.to_string()
            })?,
            audience: opt("oidc_audience")
                .map_or_else(|| format!("https:{provider}"), str::to_string),
            subject: opt("oidc_subject").unwrap_or(&b.name).to_string(),
            duration_secs: duration_option(b)?,
            provider,
            service_account,
        })
    }

    pub(crate) fn cache_key(&self) -> String {
        format!(
            "gcp-wif\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.sts_endpoint,
            self.iam_endpoint,
            self.provider,
            self.service_account.as_deref().unwrap_or(""),
            self.audience,
            self.subject,
            self.duration_secs
        )
    }

    pub(crate) fn describe(&self) -> String {
        match &self.service_account {
            Some(sa) => format!(
                "Google STS at {} for {}, impersonating {sa} at {}",
                self.sts_endpoint, self.provider, self.iam_endpoint
            ),
            None => format!("Google STS at {} for {}", self.sts_endpoint, self.provider),
        }
    }

    /// Step 0: the RFC 8693 token exchange, a form `POST` carrying the token.
    pub fn exchange_request(&self, token: &str) -> ExchangeRequest {
        let body = format!(
            "grant_type={}&audience={}&scope={}&requested_token_type={}&subject_token_type={}&subject_token={}",
            form_component("urn:ietf:params:oauth:grant-type:token-exchange"),
            form_component(&self.provider),
            form_component(SCOPE),
            form_component("urn:ietf:params:oauth:token-type:access_token"),
            form_component("urn:ietf:params:oauth:token-type:jwt"),
            form_component(token),
        );
        form_request(self.sts_endpoint.clone(), body, "application/json")
    }

    /// Step 1: `generateAccessToken` for the service account, authorized by the federated
    /// token.
    fn impersonation_request(&self, service_account: &str, federated: &str) -> ExchangeRequest {
        let body = serde_json::json!({
            "scope": [SCOPE],
            "lifetime": format!("{}s", self.duration_secs),
        })
        .to_string();
        bearer_post(
            format!(
                "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
                self.iam_endpoint,
                crate::percent::encode(service_account.as_bytes(), false)
            ),
            federated,
            "application/json; charset=utf-8",
            &[("accept", "application/json")],
            body,
        )
    }

    /// Reads the answer to step 0 (STS) or 1 (IAM).
    pub fn parse_response(
        &self,
        step: usize,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<ExchangeStep, ExchangeError> {
        if !(200..300).contains(&status) {
            return Err(google_error(status, body));
        }
        match (step, &self.service_account) {
            (0, service_account) => {
                let answer = json_answer(body)?;
                let token = text_field(&answer, "access_token")?;
                match service_account {
                    Some(sa) => Ok(ExchangeStep::Send(self.impersonation_request(sa, token))),
                    None => {
                        let secs = answer
                            .get("expires_in")
                            .and_then(Value::as_i64)
                            .ok_or_else(|| missing("expires_in"))?;
                        Ok(ExchangeStep::Done(bearer(
                            token,
                            Timestamp(now.0.saturating_add(secs)),
                        )))
                    }
                }
            }
            (1, Some(_)) => {
                let answer = json_answer(body)?;
                let token = text_field(&answer, "accessToken")?;
                let expire = text_field(&answer, "expireTime")?;
                let expiration = Timestamp::parse_rfc3339(expire.trim()).ok_or_else(|| {
                    ExchangeError::Malformed(format!(
                        "expireTime '{expire}' is not an RFC 3339 time"
                    ))
                })?;
                Ok(ExchangeStep::Done(bearer(token, expiration)))
            }
            (step, _) => Err(ExchangeError::Malformed(format!(
                "no exchange step {step} for Google federation"
            ))),
        }
    }
}

fn json_answer(body: &[u8]) -> Result<Value, ExchangeError> {
    serde_json::from_slice(body)
        .map_err(|e| ExchangeError::Malformed(format!("the answer is not JSON ({e})")))
}

/// A non-empty string member of an answer, trimmed.
fn text_field<'a>(answer: &'a Value, name: &str) -> Result<&'a str, ExchangeError> {
    answer
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(name))
}

fn missing(what: &str) -> ExchangeError {
    ExchangeError::Malformed(format!("the answer has no {what}"))
}

fn bearer(token: &str, expiration: Timestamp) -> TemporaryCredentials {
    TemporaryCredentials {
        secret: BackendSecret::Bearer(SecretKey::new(token.to_string())),
        expiration,
    }
}

/// A Google error answer: OAuth's `error`/`error_description`, or the APIs'
/// `error.{status, message}`.
fn google_error(status: u16, body: &[u8]) -> ExchangeError {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let (code, message) = match doc.as_ref().and_then(|d| d.get("error")) {
        Some(Value::String(code)) => (
            code.clone(),
            text(doc.as_ref().and_then(|d| d.get("error_description"))).unwrap_or_default(),
        ),
        Some(e @ Value::Object(_)) => (
            text(e.get("status"))
                .or_else(|| e.get("code").map(Value::to_string))
                .unwrap_or_else(|| format!("HTTP{status}")),
            text(e.get("message")).unwrap_or_default(),
        ),
        _ => (
            format!("HTTP{status}"),
            "the answer is not a Google error document".to_string(),
        ),
    };
    ExchangeError::Refused {
        status,
        code: code.trim().to_string(),
        message: message.trim().chars().take(512).collect(),
    }
}

#[cfg(test)]
mod tests;
