//! Presigning backend requests (SigV4 query form, `UNSIGNED-PAYLOAD`).

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::secret::SecretKey;
use super::sigv4::{self, SigningKeyCache};
use crate::time::Timestamp;

/// Credentials for signing a backend request.
#[derive(Clone, Debug)]
pub struct SigningCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: SecretKey,
    /// Session token (`X-Amz-Security-Token`), if temporary.
    pub session_token: Option<SecretKey>,
}

/// One request to presign.
#[derive(Clone, Debug)]
pub struct PresignRequest<'a> {
    /// Method the URL is bound to (HEAD is presigned separately from GET).
    pub method: &'a Method,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host with non-default port, exactly as it will be sent.
    pub host: &'a str,
    /// Path already URI-encoded once (S3 style: every byte but unreserved and `/`).
    pub encoded_path: &'a str,
    /// Decoded query parameters to include (and sign).
    pub query: &'a [(String, String)],
    /// Headers that will be sent and must be signed besides `host` (e.g. `x-amz-*`).
    pub signed_headers: &'a HeaderMap,
    /// Region and service of the credential scope.
    pub region: &'a str,
    /// Usually `s3`.
    pub service: &'a str,
    /// Signing time.
    pub now: Timestamp,
    /// `X-Amz-Expires`.
    pub expires_secs: u32,
}

/// Returns the full presigned URL (`UNSIGNED-PAYLOAD`).
pub fn presign_url(
    req: &PresignRequest<'_>,
    creds: &SigningCredentials,
    keys: &SigningKeyCache,
) -> String {
    presign_with_payload(req, creds, keys, sigv4::UNSIGNED_PAYLOAD)
}

/// [`presign_url`] with an explicit payload hash (the AWS vectors sign the body).
pub fn presign_with_payload(
    req: &PresignRequest<'_>,
    creds: &SigningCredentials,
    keys: &SigningKeyCache,
    payload_hash: &str,
) -> String {
    let date = req.now.date_stamp();
    let amz_date = req.now.amz_date();
    let scope = sigv4::scope(&date, req.region, req.service);

    let mut headers = HeaderMap::with_capacity(req.signed_headers.len() + 1);
    if let Ok(host) = HeaderValue::from_str(req.host) {
        headers.insert(http::header::HOST, host);
    }
    for (name, value) in req.signed_headers {
        headers.append(name.clone(), value.clone());
    }
    let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");

    let mut query: Vec<(String, String)> = req.query.to_vec();
    query.push(("X-Amz-Algorithm".into(), sigv4::ALGORITHM.into()));
    query.push((
        "X-Amz-Credential".into(),
        format!("{}/{scope}", creds.access_key_id),
    ));
    query.push(("X-Amz-Date".into(), amz_date.clone()));
    query.push(("X-Amz-Expires".into(), req.expires_secs.to_string()));
    if let Some(token) = &creds.session_token {
        query.push(("X-Amz-Security-Token".into(), token.expose().to_string()));
    }
    query.push(("X-Amz-SignedHeaders".into(), signed_headers.clone()));
    let canonical_query = sigv4::canonical_query_from_pairs(&query);

    // Every header we put in `headers` exists, so this cannot fail; fall back to host only.
    let canonical_headers = sigv4::canonical_headers(&headers, &names)
        .unwrap_or_else(|_| format!("host:{}\n", req.host));
    let creq = sigv4::canonical_request(
        req.method.as_str(),
        req.encoded_path,
        &canonical_query,
        &canonical_headers,
        &signed_headers,
        payload_hash,
    );
    let sts = sigv4::string_to_sign(&amz_date, &scope, &creq);
    let key = keys.get(
        &creds.access_key_id,
        &creds.secret,
        &date,
        req.region,
        req.service,
    );
    let signature = sigv4::sign(&key, &sts);
    format!(
        "{}://{}{}?{canonical_query}&X-Amz-Signature={}",
        req.scheme,
        req.host,
        req.encoded_path,
        signature.to_hex()
    )
}
