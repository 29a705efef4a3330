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
pub(crate) struct PresignRequest<'a> {
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
pub(crate) fn presign_url(
    req: &PresignRequest<'_>,
    creds: &SigningCredentials,
    keys: &SigningKeyCache,
) -> String {
    presign_with_payload(req, creds, keys, sigv4::UNSIGNED_PAYLOAD)
}

/// [`presign_url`] with an explicit payload hash (the AWS vectors sign the body).
pub(crate) fn presign_with_payload(
    req: &PresignRequest<'_>,
    creds: &SigningCredentials,
    keys: &SigningKeyCache,
    payload_hash: &str,
) -> String {
    presign_with(
        req,
        &Credential {
            scheme: &AWS4_HMAC_SHA256,
            id: &creds.access_key_id,
            session_token: creds.session_token.as_ref().map(SecretKey::expose),
        },
        payload_hash,
        |date, string_to_sign| {
            let key = keys.get(
                &creds.access_key_id,
                &creds.secret,
                date,
                req.region,
                req.service,
            );
            sigv4::sign(&key, string_to_sign).to_hex()
        },
    )
}

/// A query-signing scheme: AWS SigV4, or Google's V4 (same canonical request, its own names).
#[derive(Debug)]
pub(crate) struct Scheme {
    /// Prefix of the query parameters (`X-Amz-`, `X-Goog-`).
    pub prefix: &'static str,
    /// `X-*-Algorithm`.
    pub algorithm: &'static str,
    /// Last element of the credential scope.
    pub terminator: &'static str,
}

/// AWS SigV4 with an HMAC key (S3, and GCS's interoperability mode).
pub(crate) const AWS4_HMAC_SHA256: Scheme = Scheme {
    prefix: "X-Amz-",
    algorithm: sigv4::ALGORITHM,
    terminator: "aws4_request",
};

/// Who signs a URL, under which scheme.
#[derive(Debug)]
pub(crate) struct Credential<'a> {
    /// The scheme.
    pub scheme: &'a Scheme,
    /// Access key id or service account email (before the scope in `X-*-Credential`).
    pub id: &'a str,
    /// `X-Amz-Security-Token`, if any.
    pub session_token: Option<&'a str>,
}

/// Presigns `req` for `cred`: `sign(date, string_to_sign)` returns the hex signature.
pub(crate) fn presign_with(
    req: &PresignRequest<'_>,
    cred: &Credential<'_>,
    payload_hash: &str,
    sign: impl FnOnce(&str, &str) -> String,
) -> String {
    let prefix = cred.scheme.prefix;
    let date = req.now.date_stamp();
    let amz_date = req.now.amz_date();
    let scope = format!(
        "{date}/{}/{}/{}",
        req.region, req.service, cred.scheme.terminator
    );

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
    let param = |name: &str| format!("{prefix}{name}");
    query.push((param("Algorithm"), cred.scheme.algorithm.into()));
    query.push((param("Credential"), format!("{}/{scope}", cred.id)));
    query.push((param("Date"), amz_date.clone()));
    query.push((param("Expires"), req.expires_secs.to_string()));
    if let Some(token) = cred.session_token {
        query.push((param("Security-Token"), token.to_string()));
    }
    query.push((param("SignedHeaders"), signed_headers.clone()));
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
    let string_to_sign = format!(
        "{}\n{amz_date}\n{scope}\n{}",
        cred.scheme.algorithm,
        sigv4::sha256_hex(creq.as_bytes())
    );
    let signature = sign(&date, &string_to_sign);
    format!(
        "{}://{}{}?{canonical_query}&{prefix}Signature={signature}",
        req.scheme, req.host, req.encoded_path,
    )
}
