//! STS `AssumeRoleWithWebIdentity`: exchange an OIDC token for temporary S3 credentials; and
//! `GetCallerIdentity`: who signed a request (see [`CallerIdentity`]).
//!
//! Sans-IO, like the rest of the core. The runtime:
//! 1. recognises an STS request with [`is_sts_request`] (`/.sts`, or `POST /` carrying a form)
//!    and reads the body up to [`MAX_BODY_BYTES`];
//! 2. calls [`parse_request`], then [`issuer_to_fetch`] to learn whose JWKS it needs (only ever
//!    an issuer the role trusts, so a token cannot make the gateway fetch arbitrary URLs);
//! 3. fetches (or takes from its cache) that JWKS and calls [`assume_role`] with it, the
//!    [`SessionKeys`], the time and a random source;
//! 4. on an error whose [`StsError::jwks_refresh`] is set, refetches that issuer's JWKS (rate
//!    limited) and calls [`assume_role`] once more;
//! 5. answers with [`AssumedRole::to_xml`] (200) or [`StsError::to_xml`] (its
//!    [`StsError::status`]).
//!
//! `GetCallerIdentity` ([`parse_action`] names it) needs no fetch: the gateway verifies the
//! request's SigV4 signature (service `sts`) with the caller's access key or session token and
//! answers [`CallerIdentity::to_xml`].
//!
//! Requests are then authenticated with [`token::SessionCredentialStore`]: the session token
//! opens to the role, subject and expanded scopes, and the secret access key is derived from it.
//!
//! # Invariants
//!
//! - A token is checked in this order: algorithm, trusted issuer, signature, `exp`/`nbf`/`iat`,
//!   audience, subject globs, claim conditions, then scope templates. Any failure refuses.
//! - Session policies (`Policy`, `PolicyArns`) are refused rather than ignored: a caller that
//!   asks for less must not silently get more.
//! - `DurationSeconds` is clamped to `[900, role max]` (role max defaults to 3600).

pub(crate) mod fetch;
pub(crate) mod jwt;
pub(crate) mod scopes;
pub(crate) mod token;

use std::fmt;

use http::Method;

use crate::auth::secret::SecretKey;
use crate::config::validate::MIN_SESSION_SECS;
use crate::config::{GatewayConfig, RoleConfig};
use crate::s3::error::push_escaped;
use crate::time::Timestamp;
use jwt::{Jwks, JwtError};
use scopes::TemplateError;
use token::{mint_access_key_id, SessionClaims, SessionKeys, TokenError};

pub(crate) use token::SessionCredentialStore;

/// The path the STS endpoint is mounted at (besides `POST /` with a form body).
pub(crate) const STS_PATH: &str = "/.sts";
/// Largest form body read for an STS request.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
/// Session length when the role sets no maximum.
pub(crate) const DEFAULT_MAX_SESSION_SECS: u64 = 3600;
/// The XML namespace of STS documents.
pub(crate) const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The account id shown in ARNs when the request named the role by its bare id.
pub(crate) const DEFAULT_ACCOUNT_ID: &str = "000000000000";
const ACTION: &str = "AssumeRoleWithWebIdentity";
const GET_CALLER_IDENTITY: &str = "GetCallerIdentity";

/// The STS actions the gateway answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StsAction {
    /// Trade an OIDC token for session credentials (unsigned).
    AssumeRoleWithWebIdentity,
    /// Who signed the request (SigV4, service `sts`).
    GetCallerIdentity,
}

/// Whether a request is for the STS endpoint: any request to [`STS_PATH`], a request to `/`
/// whose query names `Action=AssumeRoleWithWebIdentity` or `Action=GetCallerIdentity` (a
/// presigned `GetCallerIdentity` is a `GET`), or a `POST /` with a form body (how aws-cli and
/// boto3 call STS; S3 never posts a form to the service root).
pub(crate) fn is_sts_request(
    method: &Method,
    path: &str,
    query: Option<&str>,
    content_type: Option<&str>,
) -> bool {
    if path == STS_PATH {
        return true;
    }
    if path != "/" {
        return false;
    }
    let query_action = query.is_some_and(|q| {
        form_pairs(q.as_bytes()).is_ok_and(|p| {
            p.iter()
                .any(|(k, v)| k == "Action" && (v == ACTION || v == GET_CALLER_IDENTITY))
        })
    });
    query_action || (*method == Method::POST && content_type.is_some_and(is_form))
}

fn is_form(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|m| {
        m.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// A parsed `AssumeRoleWithWebIdentity` request.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AssumeRoleRequest {
    /// The role id (the last part of an ARN-shaped `RoleArn`).
    pub role_id: String,
    /// The account of an ARN-shaped `RoleArn`, echoed in the response ARNs.
    pub account_id: Option<String>,
    /// `RoleSessionName` (default `multistore-session`).
    pub session_name: String,
    /// `WebIdentityToken`.
    pub web_identity_token: String,
    /// `DurationSeconds`, unclamped.
    pub duration_secs: Option<u64>,
}

impl fmt::Debug for AssumeRoleRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleRequest")
            .field("role_id", &self.role_id)
            .field("account_id", &self.account_id)
            .field("session_name", &self.session_name)
            .field("web_identity_token", &"***")
            .field("duration_secs", &self.duration_secs)
            .finish()
    }
}

/// STS error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the STS codes
pub(crate) enum StsErrorCode {
    InvalidIdentityToken,
    ExpiredTokenException,
    IDPCommunicationError,
    AccessDenied,
    /// A signed action without a signature.
    MissingAuthenticationToken,
    /// The signature does not verify (or the request time is too far from the gateway's).
    SignatureDoesNotMatch,
    /// An unknown or disabled access key, or a session token that does not open.
    InvalidClientTokenId,
    /// The session (or access key) has expired.
    ExpiredToken,
    /// The signature is malformed or incomplete.
    IncompleteSignature,
    InvalidParameterValue,
    MissingParameter,
    InvalidAction,
    MalformedPolicyDocument,
    InternalFailure,
    /// STS is not set up on this gateway (no `SESSION_TOKEN_KEY`).
    ServiceUnavailable,
}

impl StsErrorCode {
    /// The code as STS writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::IDPCommunicationError => "IDPCommunicationError",
            Self::AccessDenied => "AccessDenied",
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::IncompleteSignature => "IncompleteSignature",
            Self::InvalidParameterValue => "InvalidParameterValue",
            Self::MissingParameter => "MissingParameter",
            Self::InvalidAction => "InvalidAction",
            Self::MalformedPolicyDocument => "MalformedPolicyDocument",
            Self::InternalFailure => "InternalFailure",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The HTTP status STS answers with.
    pub(crate) fn status(self) -> u16 {
        match self {
            Self::AccessDenied
            | Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch
            | Self::InvalidClientTokenId
            | Self::ExpiredToken => 403,
            Self::InternalFailure => 500,
            Self::ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

/// An STS error: the code and a message that says which check failed (never a token or key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StsError {
    /// The STS code.
    pub code: StsErrorCode,
    /// What failed.
    pub message: String,
    /// Set when the issuer's JWKS should be (re)fetched and the call retried: the runtime had
    /// none for it, or the token's `kid` is not in it.
    pub jwks_refresh: Option<String>,
}

impl StsError {
    /// An error without a JWKS refresh hint.
    pub(crate) fn new(code: StsErrorCode, message: impl Into<String>) -> Self {
        StsError {
            code,
            message: message.into(),
            jwks_refresh: None,
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.code.status()
    }

    /// The `<ErrorResponse>` document.
    pub(crate) fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(256 + self.message.len());
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str(r#"<ErrorResponse xmlns=""#);
        out.push_str(STS_NAMESPACE);
        out.push_str(r#""><Error><Type>"#);
        out.push_str(if self.status() >= 500 {
            "Receiver"
        } else {
            "Sender"
        });
        out.push_str("</Type><Code>");
        out.push_str(self.code.as_str());
        out.push_str("</Code><Message>");
        push_escaped(&mut out, &self.message);
        out.push_str("</Message></Error><RequestId>");
        push_escaped(&mut out, request_id);
        out.push_str("</RequestId></ErrorResponse>");
        out
    }
}

impl fmt::Display for StsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for StsError {}

impl From<JwtError> for StsError {
    fn from(e: JwtError) -> Self {
        let code = match &e {
            JwtError::Expired(_) => StsErrorCode::ExpiredTokenException,
            JwtError::SubjectRejected(_) | JwtError::ClaimRejected(_) => StsErrorCode::AccessDenied,
            _ => StsErrorCode::InvalidIdentityToken,
        };
        StsError::new(code, e.to_string())
    }
}

impl From<TemplateError> for StsError {
    fn from(e: TemplateError) -> Self {
        StsError::new(StsErrorCode::AccessDenied, e.to_string())
    }
}

impl From<TokenError> for StsError {
    fn from(e: TokenError) -> Self {
        StsError::new(StsErrorCode::InternalFailure, e.to_string())
    }
}

fn missing(name: &str) -> StsError {
    StsError::new(
        StsErrorCode::MissingParameter,
        format!("the request must contain the parameter {name}"),
    )
}

fn invalid(message: impl Into<String>) -> StsError {
    StsError::new(StsErrorCode::InvalidParameterValue, message)
}

/// Splits `a=b&c=d` with form decoding (`+` is a space).
fn form_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, StsError> {
    let mut out = Vec::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let dec = |s: &[u8]| {
            crate::percent::decode_strict(s, true)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    invalid("the request parameters are not valid percent-encoded UTF-8")
                })
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

/// The parameters of an STS request: its query string and, for `POST`, its form body (at most
/// [`MAX_BODY_BYTES`]; a body of another content type is ignored).
fn request_params(
    method: &Method,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, StsError> {
    if *method != Method::GET && *method != Method::POST {
        return Err(invalid(format!("STS accepts GET and POST, not {method}")));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "the request body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let mut params = form_pairs(query.unwrap_or("").as_bytes())?;
    if *method == Method::POST && content_type.is_some_and(is_form) {
        params.extend(form_pairs(body)?);
    }
    Ok(params)
}

/// The value of parameter `name`; given twice, both values must be the same.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, StsError> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = values.next();
    if let Some(f) = first {
        if values.any(|v| v != f) {
            return Err(invalid(format!(
                "the parameter {name} is given twice with different values"
            )));
        }
    }
    Ok(first.map(String::as_str))
}

/// The action the parameters name, and their `Version` checked.
fn action_of(params: &[(String, String)]) -> Result<StsAction, StsError> {
    let action = match param(params, "Action")? {
        Some(ACTION) => StsAction::AssumeRoleWithWebIdentity,
        Some(GET_CALLER_IDENTITY) => StsAction::GetCallerIdentity,
        Some(other) => {
            return Err(StsError::new(
                StsErrorCode::InvalidAction,
                format!(
                    "the action {} is not supported; only {ACTION} and {GET_CALLER_IDENTITY} are",
                    other.chars().take(64).collect::<String>()
                ),
            ))
        }
        None => return Err(missing("Action")),
    };
    if let Some(v) = param(params, "Version")? {
        if v != "2011-06-15" {
            return Err(invalid("Version must be 2011-06-15"));
        }
    }
    Ok(action)
}

/// The action an STS request names (see [`request_params`] for where parameters are read), its
/// `Version` checked.
pub(crate) fn parse_action(
    method: &Method,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<StsAction, StsError> {
    action_of(&request_params(method, query, content_type, body)?)
}

/// Checks a `GetCallerIdentity` request: it takes no parameters besides `Action`, `Version` and
/// those of a presigned URL (`X-Amz-*`); anything else is refused rather than ignored.
pub(crate) fn parse_caller_identity_request(
    method: &Method,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), StsError> {
    let params = request_params(method, query, content_type, body)?;
    if action_of(&params)? != StsAction::GetCallerIdentity {
        return Err(StsError::new(
            StsErrorCode::InvalidAction,
            format!("the request is not {GET_CALLER_IDENTITY}"),
        ));
    }
    if let Some((k, _)) = params
        .iter()
        .find(|(k, _)| k != "Action" && k != "Version" && !k.starts_with("X-Amz-"))
    {
        return Err(invalid(format!(
            "{GET_CALLER_IDENTITY} takes no parameter {}",
            k.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// The decoded parameters of a query string, as STS reads them (form decoding: `+` is a space).
pub(crate) fn query_params(query: &str) -> Result<Vec<(String, String)>, StsError> {
    form_pairs(query.as_bytes())
}

/// Parses an `AssumeRoleWithWebIdentity` request from its query string and, for `POST`, its
/// form body (at most [`MAX_BODY_BYTES`]; a body of another content type is ignored). A
/// parameter given in both places must have the same value.
pub(crate) fn parse_request(
    method: &Method,
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<AssumeRoleRequest, StsError> {
    let params = request_params(method, query, content_type, body)?;
    let get = |name: &str| param(&params, name);
    if action_of(&params)? != StsAction::AssumeRoleWithWebIdentity {
        return Err(StsError::new(
            StsErrorCode::InvalidAction,
            format!("the request is not {ACTION}"),
        ));
    }
    if get("Policy")?.is_some() || params.iter().any(|(k, _)| k.starts_with("PolicyArns.")) {
        return Err(StsError::new(
            StsErrorCode::MalformedPolicyDocument,
            "session policies (Policy, PolicyArns) are not supported; the role's scopes apply as configured",
        ));
    }

    let role_arn = get("RoleArn")?.ok_or_else(|| missing("RoleArn"))?;
    let (account_id, role_id) = parse_role_arn(role_arn)?;
    let web_identity_token = get("WebIdentityToken")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("WebIdentityToken"))?
        .to_string();
    let session_name = match get("RoleSessionName")? {
        None => "multistore-session".to_string(),
        Some(n) if valid_session_name(n) => n.to_string(),
        Some(_) => {
            return Err(invalid(
                "RoleSessionName must be 2 to 64 characters of letters, digits and +=,.@_-",
            ))
        }
    };
    let duration_secs = match get("DurationSeconds")? {
        None => None,
        Some(d) => Some(
            d.parse::<u64>()
                .map_err(|_| invalid("DurationSeconds must be a whole number of seconds"))?,
        ),
    };
    Ok(AssumeRoleRequest {
        role_id,
        account_id,
        session_name,
        web_identity_token,
        duration_secs,
    })
}

/// `RoleArn`: a bare role id, or `arn:<partition>:iam::<account>:role/<role_id>`.
fn parse_role_arn(arn: &str) -> Result<(Option<String>, String), StsError> {
    let bad = || invalid("RoleArn must be a role id or arn:aws:iam::<account>:role/<role id>");
    if arn.is_empty() {
        return Err(bad());
    }
    let Some(rest) = arn.strip_prefix("arn:") else {
        return Ok((None, arn.to_string()));
    };
    let mut parts = rest.splitn(5, ':');
    let (Some(_partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    if !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let role_id = resource
        .strip_prefix("role/")
        .filter(|r| !r.is_empty())
        .ok_or_else(bad)?;
    Ok((
        (!account.is_empty()).then(|| account.to_string()),
        role_id.to_string(),
    ))
}

fn valid_session_name(n: &str) -> bool {
    (2..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn find_role<'a>(
    config: &'a GatewayConfig,
    req: &AssumeRoleRequest,
) -> Result<&'a RoleConfig, StsError> {
    // An IAM path in the ARN (`role/ci/deploy`) names the role by its last segment unless a role
    // is configured under the whole path.
    let by_name = || {
        req.role_id
            .rsplit_once('/')
            .and_then(|(_, name)| config.find_role(name))
    };
    config
        .find_role(&req.role_id)
        .or_else(by_name)
        .ok_or_else(|| {
            StsError::new(
                StsErrorCode::AccessDenied,
                format!(
                    "not authorized to perform sts:AssumeRoleWithWebIdentity: no role '{}'",
                    req.role_id
                ),
            )
        })
}

fn trusted_issuer(role: &RoleConfig, token: &jwt::UnverifiedToken<'_>) -> Result<String, StsError> {
    let iss = token.issuer().ok_or(JwtError::MissingClaim("iss"))?;
    if !role.trusted_oidc_issuers.iter().any(|i| i == iss) {
        return Err(JwtError::UntrustedIssuer(iss.to_string()).into());
    }
    Ok(iss.to_string())
}

/// The issuer whose JWKS [`assume_role`] will need: the token's (unverified) `iss`, checked
/// against the role's trusted issuers, so the runtime only ever fetches from configured issuers.
pub(crate) fn issuer_to_fetch(
    config: &GatewayConfig,
    req: &AssumeRoleRequest,
) -> Result<String, StsError> {
    let role = find_role(config, req)?;
    let token = jwt::peek(&req.web_identity_token)?;
    trusted_issuer(role, &token)
}

/// Temporary credentials.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The derived secret (see [`token`]).
    pub secret_access_key: SecretKey,
    /// The sealed session token (`x-amz-security-token`).
    pub session_token: String,
    /// When they stop working.
    pub expiration: Timestamp,
}

/// A successful `AssumeRoleWithWebIdentity`.
#[derive(Clone, Debug)]
pub(crate) struct AssumedRole {
    /// The credentials.
    pub credentials: Credentials,
    /// `sub` of the token.
    pub subject: String,
    /// `iss` of the token.
    pub provider: String,
    /// The matching audience.
    pub audience: Option<String>,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub assumed_role_arn: String,
    /// `<access key id>:<session>`.
    pub assumed_role_id: String,
}

impl AssumedRole {
    /// The `AssumeRoleWithWebIdentityResponse` document boto3 and aws-cli parse.
    pub(crate) fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(1024 + self.credentials.session_token.len());
        let el = crate::s3::xml::push_leaf;
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str(r#"<AssumeRoleWithWebIdentityResponse xmlns=""#);
        out.push_str(STS_NAMESPACE);
        out.push_str(r#""><AssumeRoleWithWebIdentityResult>"#);
        el(&mut out, "SubjectFromWebIdentityToken", &self.subject);
        if let Some(a) = &self.audience {
            el(&mut out, "Audience", a);
        }
        out.push_str("<AssumedRoleUser>");
        el(&mut out, "Arn", &self.assumed_role_arn);
        el(&mut out, "AssumedRoleId", &self.assumed_role_id);
        out.push_str("</AssumedRoleUser><Credentials>");
        let c = &self.credentials;
        el(&mut out, "AccessKeyId", &c.access_key_id);
        el(&mut out, "SecretAccessKey", c.secret_access_key.expose());
        el(&mut out, "SessionToken", &c.session_token);
        el(&mut out, "Expiration", &rfc3339(c.expiration));
        out.push_str("</Credentials>");
        el(&mut out, "Provider", &self.provider);
        out.push_str("</AssumeRoleWithWebIdentityResult><ResponseMetadata>");
        el(&mut out, "RequestId", request_id);
        out.push_str("</ResponseMetadata></AssumeRoleWithWebIdentityResponse>");
        out
    }
}

/// Who signed a request, as `GetCallerIdentity` answers it. The account is always
/// [`DEFAULT_ACCOUNT_ID`]: a session token does not record the account its `RoleArn` named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>` for a session,
    /// `arn:aws:iam::<account>:user/<principal name>` for an access key of the config.
    pub arn: String,
    /// `<access key id>:<session>` for a session (the `AssumedRoleId` the session was minted
    /// with), the access key id for an access key.
    pub user_id: String,
    /// The account id.
    pub account: String,
}

impl CallerIdentity {
    /// The identity of a session.
    pub(crate) fn of_session(claims: &SessionClaims) -> Self {
        CallerIdentity {
            arn: format!(
                "arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{}/{}",
                claims.role_id, claims.session_name
            ),
            user_id: format!("{}:{}", claims.access_key_id, claims.session_name),
            account: DEFAULT_ACCOUNT_ID.to_string(),
        }
    }

    /// The identity of a long-lived access key (`principal_name`, else the key id, names it).
    pub(crate) fn of_access_key(principal_name: &str, access_key_id: &str) -> Self {
        CallerIdentity {
            arn: format!("arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/{principal_name}"),
            user_id: access_key_id.to_string(),
            account: DEFAULT_ACCOUNT_ID.to_string(),
        }
    }

    /// The `GetCallerIdentityResponse` document.
    pub(crate) fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str(r#"<GetCallerIdentityResponse xmlns=""#);
        out.push_str(STS_NAMESPACE);
        out.push_str(r#""><GetCallerIdentityResult><Arn>"#);
        push_escaped(&mut out, &self.arn);
        out.push_str("</Arn><UserId>");
        push_escaped(&mut out, &self.user_id);
        out.push_str("</UserId><Account>");
        push_escaped(&mut out, &self.account);
        out.push_str("</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>");
        push_escaped(&mut out, request_id);
        out.push_str("</RequestId></ResponseMetadata></GetCallerIdentityResponse>");
        out
    }
}

/// `2024-01-31T12:00:00Z`, as STS writes `Expiration`.
fn rfc3339(t: Timestamp) -> String {
    let s = t.iso8601();
    s.strip_suffix(".000Z")
        .map_or(s.clone(), |b| format!("{b}Z"))
}

/// Validates the web identity token for the requested role and mints sealed credentials.
///
/// `jwks_for_issuer` returns the runtime's parsed JWKS for an issuer, if it has one. `rng`
/// fills the access key id and the token nonce. See the module docs for the refetch protocol.
pub(crate) fn assume_role<'j>(
    config: &GatewayConfig,
    req: &AssumeRoleRequest,
    jwks_for_issuer: impl Fn(&str) -> Option<&'j Jwks>,
    keys: &SessionKeys,
    now: Timestamp,
    rng: &mut dyn FnMut(&mut [u8]),
) -> Result<AssumedRole, StsError> {
    let role = find_role(config, req)?;
    let token = jwt::peek(&req.web_identity_token)?;
    let issuer = trusted_issuer(role, &token)?;
    let Some(jwks) = jwks_for_issuer(&issuer) else {
        return Err(StsError {
            jwks_refresh: Some(issuer.clone()),
            ..StsError::new(
                StsErrorCode::IDPCommunicationError,
                format!("the signing keys of {issuer} are not available"),
            )
        });
    };
    let claims = match jwt::verify_signature(token, jwks) {
        Ok(c) => c,
        Err(e @ JwtError::UnknownKid { .. }) => {
            return Err(StsError {
                jwks_refresh: Some(issuer),
                ..e.into()
            })
        }
        Err(e) => return Err(e.into()),
    };
    let checked = jwt::check_claims(&claims, role, now)?;
    let scopes = scopes::expand_scopes(&role.allowed_scopes, &claims)?;

    let max = role
        .max_session_duration_secs
        .unwrap_or(DEFAULT_MAX_SESSION_SECS)
        .max(MIN_SESSION_SECS);
    let duration = req
        .duration_secs
        .unwrap_or(max)
        .clamp(MIN_SESSION_SECS, max);
    let expires_at = Timestamp(
        now.0
            .saturating_add(i64::try_from(duration).unwrap_or(i64::MAX)),
    );

    let access_key_id = mint_access_key_id(rng);
    let session = SessionClaims {
        access_key_id: access_key_id.clone(),
        role_id: role.role_id.clone(),
        subject: checked.subject.clone(),
        issuer: checked.issuer.clone(),
        session_name: req.session_name.clone(),
        scopes,
        issued_at: now,
        expires_at,
    };
    let session_token = keys.seal(&session, rng)?;
    let account = req.account_id.as_deref().unwrap_or(DEFAULT_ACCOUNT_ID);
    Ok(AssumedRole {
        credentials: Credentials {
            secret_access_key: keys.secret_for(&access_key_id),
            session_token,
            expiration: expires_at,
            access_key_id: access_key_id.clone(),
        },
        assumed_role_arn: format!(
            "arn:aws:sts::{account}:assumed-role/{}/{}",
            role.role_id, req.session_name
        ),
        assumed_role_id: format!("{access_key_id}:{}", req.session_name),
        subject: checked.subject,
        provider: checked.issuer,
        audience: checked.audience,
    })
}

// The test keys load through rsa's `pem` feature, a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
