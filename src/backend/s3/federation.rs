//! AWS STS `AssumeRoleWithWebIdentity`: one unsigned form POST carrying the token, answered
//! with an access key, a secret and a session token (also what S3-compatible stores with an STS
//! of their own speak).

use crate::auth::presign::SigningCredentials;
use crate::auth::secret::SecretKey;
use crate::backend::federation::exchange::{
    duration_option, endpoint_option, form_component, form_request, option, xml_fields,
    BackendSecret, ExchangeError, ExchangeRequest, TemporaryCredentials,
};
use crate::config::BucketConfig;
use crate::time::Timestamp;

/// AWS STS `AssumeRoleWithWebIdentity` settings of one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsWebIdentity {
    /// `sts_endpoint` (default `https://sts.{region}.amazonaws.com`).
    pub sts_endpoint: String,
    /// `role_arn`.
    pub role_arn: String,
    /// `oidc_audience` (default `sts.amazonaws.com`): the minted token's `aud`.
    pub audience: String,
    /// `oidc_subject` (default the bucket name): the minted token's `sub`.
    pub subject: String,
    /// `role_session_name` (default `multistore`).
    pub session_name: String,
    /// `duration_seconds` (default 3600).
    pub duration_secs: u64,
}

impl AwsWebIdentity {
    /// The settings of a federated S3 bucket.
    pub(crate) fn from_bucket(b: &BucketConfig) -> Result<Self, String> {
        let opt = |k: &str| option(b, k);
        let role_arn = opt("role_arn")
            .ok_or("auth_type = \"oidc\" needs backend_options.role_arn")?
            .to_string();
        let region = opt("region").unwrap_or("us-east-1");
        let sts_endpoint = endpoint_option(b, "sts_endpoint", || {
            format!("https://sts.{region}.amazonaws.com")
        })?;
        Ok(AwsWebIdentity {
            sts_endpoint,
            role_arn,
            audience: opt("oidc_audience")
                .unwrap_or("sts.amazonaws.com")
                .to_string(),
            subject: opt("oidc_subject").unwrap_or(&b.name).to_string(),
            session_name: opt("role_session_name").unwrap_or("multistore").to_string(),
            duration_secs: duration_option(b)?,
        })
    }

    pub(crate) fn cache_key(&self) -> String {
        format!(
            "aws-sts\n{}\n{}\n{}\n{}\n{}\n{}",
            self.sts_endpoint,
            self.role_arn,
            self.audience,
            self.subject,
            self.session_name,
            self.duration_secs
        )
    }

    pub(crate) fn describe(&self) -> String {
        format!("STS at {} for role {}", self.sts_endpoint, self.role_arn)
    }

    /// `POST {sts_endpoint}/` with the `AssumeRoleWithWebIdentity` form (the call is unsigned:
    /// the token is the credential).
    pub fn exchange_request(&self, token: &str) -> ExchangeRequest {
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&DurationSeconds={}&WebIdentityToken={}",
            form_component(&self.role_arn),
            form_component(&self.session_name),
            self.duration_secs,
            form_component(token),
        );
        form_request(
            format!("{}/", self.sts_endpoint),
            body,
            "text/xml, application/xml",
        )
    }
}

/// Reads an `AssumeRoleWithWebIdentityResponse` (2xx) or an STS `<ErrorResponse>`.
pub(crate) fn parse_assume_role_response(
    status: u16,
    body: &[u8],
) -> Result<TemporaryCredentials, ExchangeError> {
    if !(200..300).contains(&status) {
        let fields = xml_fields(body, ["Code", "Message"]);
        let (code, message) = match fields {
            Some([Some(code), message]) => (code, message.unwrap_or_default()),
            _ => (
                format!("HTTP{status}"),
                "the answer is not an STS error document".to_string(),
            ),
        };
        return Err(ExchangeError::Refused {
            status,
            code: code.trim().to_string(),
            message: message.trim().chars().take(512).collect(),
        });
    }
    let Some([id, secret, token, expiration]) = xml_fields(
        body,
        [
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration",
        ],
    ) else {
        return Err(ExchangeError::Malformed(
            "the answer is not XML".to_string(),
        ));
    };
    let missing = |what: &str| ExchangeError::Malformed(format!("the answer has no {what}"));
    let id = id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("AccessKeyId"))?;
    let secret = secret
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("SecretAccessKey"))?;
    let token = token
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("SessionToken"))?;
    let expiration = expiration.ok_or_else(|| missing("Expiration"))?;
    let expiration = Timestamp::parse_rfc3339(expiration.trim()).ok_or_else(|| {
        ExchangeError::Malformed(format!("Expiration '{expiration}' is not an RFC 3339 time"))
    })?;
    Ok(TemporaryCredentials {
        secret: BackendSecret::Aws(SigningCredentials {
            access_key_id: id.trim().to_string(),
            secret: SecretKey::new(secret.trim().to_string()),
            session_token: Some(SecretKey::new(token.trim().to_string())),
        }),
        expiration,
    })
}
