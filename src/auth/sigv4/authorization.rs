//! The `Authorization` header read: credential, signed headers, signature.

use super::*;

/// The parsed parts of a SigV4 authorization (header or query form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuth {
    /// Access key id.
    pub access_key_id: String,
    /// Scope date `YYYYMMDD`.
    pub date: String,
    /// Scope region.
    pub region: String,
    /// Scope service.
    pub service: String,
    /// Signed header names, lowercase, as sent (`;`-separated).
    pub signed_headers: String,
    /// Provided signature (hex).
    pub signature: String,
}

pub(super) fn malformed(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::AuthorizationHeaderMalformed, msg)
}

pub(crate) fn parse_credential(
    cred: &str,
    err: fn(String) -> S3Error,
) -> Result<(String, String, String, String), S3Error> {
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(err(format!(
            "the Credential '{cred}' is not of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(err(format!(
            "the Credential must end with 'aws4_request', not '{}'",
            parts[4]
        )));
    }
    Ok((
        parts[0].to_string(),
        parts[1].to_string(),
        parts[2].to_string(),
        parts[3].to_string(),
    ))
}

/// Parses an `Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`
/// header: parameters in any order, separated by `,` with or without spaces.
pub(crate) fn parse_authorization(value: &str) -> Result<ParsedAuth, S3Error> {
    let value = value.trim();
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with([' ', '\t']))
        .ok_or_else(|| {
            malformed(format!(
                "the authorization header must start with '{ALGORITHM} '"
            ))
        })?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| malformed(format!("the authorization parameter '{part}' has no '='")))?;
        let slot = match k.trim() {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            other => {
                return Err(malformed(format!(
                    "unknown authorization parameter '{other}'"
                )))
            }
        };
        if slot.replace(v.trim().to_string()).is_some() {
            return Err(malformed(format!(
                "the authorization parameter '{}' appears twice",
                k.trim()
            )));
        }
    }
    let cred = cred.ok_or_else(|| malformed("the authorization header has no Credential"))?;
    let signed_headers =
        signed.ok_or_else(|| malformed("the authorization header has no SignedHeaders"))?;
    let signature = sig.ok_or_else(|| malformed("the authorization header has no Signature"))?;
    let (access_key_id, date, region, service) = parse_credential(&cred, malformed)?;
    Ok(ParsedAuth {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature,
    })
}
