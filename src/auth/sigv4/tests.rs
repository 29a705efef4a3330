use std::path::{Path, PathBuf};

use http::{HeaderName, HeaderValue, Method};

use super::*;
use crate::auth::presign::{presign_url, PresignRequest, SigningCredentials};
use crate::auth::ResolvedCredential;

// ---------------------------------------------------------------------------------------------
// The AWS SigV4 vector suite (../shared/sigv4-test-suite).

/// Cases that do not apply to S3, with the reason. Every other case must pass.
const NOT_FOR_S3: &[(&str, &str)] = &[
    (
        "double-encode-path",
        "double-encodes the path, as non-S3 services do; S3 encodes once",
    ),
    (
        "double-url-encode",
        "double-encodes the path, as non-S3 services do; S3 encodes once",
    ),
    (
        "get-relative-normalized",
        "normalizes `..`; S3 never normalizes paths",
    ),
    (
        "get-relative-relative-normalized",
        "normalizes `..`; S3 never normalizes paths",
    ),
    (
        "get-slash-dot-slash-normalized",
        "normalizes `/./`; S3 never normalizes paths",
    ),
    (
        "get-slash-normalized",
        "collapses `//`; S3 never normalizes paths",
    ),
    (
        "get-slash-pointless-dot-normalized",
        "normalizes `/./`; S3 never normalizes paths",
    ),
    (
        "get-slashes-normalized",
        "collapses `//`; S3 never normalizes paths",
    ),
];

/// Single forms that do not apply to S3.
const FORM_NOT_FOR_S3: &[(&str, &str, &str)] = &[(
    "post-sts-header-after",
    "query",
    "appends X-Amz-Security-Token after signing (a signer option); S3 requires the token signed",
)];

fn suite_dir() -> PathBuf {
    let candidates = [
        std::env::var("SIGV4_TEST_SUITE")
            .map(PathBuf::from)
            .unwrap_or_default(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sigv4-test-suite/v4"),
        PathBuf::from("/work/shared/sigv4-test-suite/v4"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .expect("the SigV4 vector suite (../shared/sigv4-test-suite/v4) must be present beside the repository")
}

struct RawRequest {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Parses a request file: request line, `Name:value` headers (continuation lines folded with a
/// space, as obs-fold is defined), blank line, body.
fn parse_raw(text: &str) -> RawRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap();
    let first = first.strip_suffix(" HTTP/1.1").unwrap();
    let (method, target) = first.split_once(' ').unwrap();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = pairs.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (n, v) = line.split_once(':').unwrap();
            pairs.push((n.to_string(), v.to_string()));
        }
    }
    let mut headers = HeaderMap::new();
    for (n, v) in pairs {
        headers.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    RawRequest {
        method: method.into(),
        target: target.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn settings_for(region: &str) -> AuthSettings {
    AuthSettings {
        regions: vec![region.into()],
        max_skew_secs: 900,
        allow_sigv2: false,
    }
}

/// Runs one vector case in one form; returns the stages computed.
fn run_case(dir: &Path, form: &str) {
    let ctx: serde_json::Value = serde_json::from_str(&read(dir, "context.json")).unwrap();
    let secret = SecretKey::new(ctx["credentials"]["secret_access_key"].as_str().unwrap());
    let region = ctx["region"].as_str().unwrap();
    let service = ctx["service"].as_str().unwrap();
    let signed = parse_raw(&read(dir, &format!("{form}-signed-request.txt")));
    let (raw_path, raw_query) = signed
        .target
        .split_once('?')
        .unwrap_or((&signed.target, ""));
    let when = Timestamp::parse_rfc3339(ctx["timestamp"].as_str().unwrap()).unwrap();

    let parsed = if form == "header" {
        let auth = signed
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        parse_authorization(auth).unwrap()
    } else {
        let q: Vec<(String, String)> = raw_query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (
                    k.to_string(),
                    String::from_utf8(percent_decode_lossless(v)).unwrap(),
                )
            })
            .collect();
        let get = |n: &str| q.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let (akid, date, region, service) =
            parse_credential(&get("X-Amz-Credential"), query_err).unwrap();
        ParsedAuth {
            access_key_id: akid,
            date,
            region,
            service,
            signed_headers: get("X-Amz-SignedHeaders"),
            signature: get("X-Amz-Signature"),
        }
    };
    let payload_hash = signed.headers.get("x-amz-content-sha256").map_or_else(
        || sha256_hex(&signed.body),
        |v| v.to_str().unwrap().to_string(),
    );

    let names: Vec<&str> = parsed.signed_headers.split(';').collect();
    let creq = canonical_request(
        &signed.method,
        &canonical_uri(raw_path),
        &canonical_query(raw_query),
        &canonical_headers(&signed.headers, &names).unwrap(),
        &parsed.signed_headers,
        &payload_hash,
    );
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        creq,
        read(dir, &format!("{form}-canonical-request.txt")),
        "{name} {form}: canonical request"
    );
    let sts = string_to_sign(
        &when.amz_date(),
        &scope(&parsed.date, region, service),
        &creq,
    );
    assert_eq!(
        sts,
        read(dir, &format!("{form}-string-to-sign.txt")),
        "{name} {form}: string to sign"
    );
    let sig = sign(&signing_key(&secret, &parsed.date, region, service), &sts);
    assert_eq!(
        sig.to_hex(),
        read(dir, &format!("{form}-signature.txt")).trim(),
        "{name} {form}: signature"
    );

    // And the request verifies through the verifier itself.
    let check = Check {
        amz_date: when.amz_date(),
        payload_hash,
        method: &signed.method,
        raw_path,
        raw_query,
        headers: &signed.headers,
        session_token: None,
        parsed,
    };
    verify_signature(&check, &secret, &SigningKeyCache::default(), service)
        .unwrap_or_else(|e| panic!("{name} {form}: {e}"));
    let mut wrong = check;
    wrong.method = if wrong.method == "GET" { "PUT" } else { "GET" };
    assert!(verify_signature(&wrong, &secret, &SigningKeyCache::default(), service).is_err());
    let _ = settings_for(region);
}

#[test]
fn every_applicable_aws_vector_passes_each_stage_in_header_and_query_form() {
    let dir = suite_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut ran = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if let Some((_, why)) = NOT_FOR_S3.iter().find(|(n, _)| *n == name) {
            eprintln!("not applicable to S3: {name}: {why}");
            continue;
        }
        for form in ["header", "query"] {
            if let Some((_, _, why)) = FORM_NOT_FOR_S3
                .iter()
                .find(|(n, f, _)| *n == name && *f == form)
            {
                eprintln!("not applicable to S3: {name} ({form} form): {why}");
                continue;
            }
            run_case(case, form);
        }
        ran += 1;
    }
    assert_eq!(ran + NOT_FOR_S3.len(), cases.len());
    assert!(ran >= 30, "only {ran} vector cases ran");
}

// ---------------------------------------------------------------------------------------------
// verify_request end to end, with a store of one key.

pub(crate) const AKID: &str = "AKIDEXAMPLE";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const NOW: Timestamp = Timestamp(1_700_000_000);

struct OneKey;

impl CredentialStore for OneKey {
    fn lookup(
        &self,
        id: &str,
        _token: Option<&str>,
        _now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        if id != AKID {
            return Err(S3Error::new(ErrorCode::InvalidAccessKeyId, "unknown"));
        }
        Ok(ResolvedCredential {
            secret: SecretKey::new(SECRET),
            identity: Identity::Principal {
                name: "t".into(),
                access_key_id: AKID.into(),
                role: None,
                scopes: vec![],
            },
        })
    }
}

fn s3req(target: &str) -> S3Request {
    let (p, q) = target.split_once('?').unwrap_or((target, ""));
    let query = q
        .split('&')
        .filter(|x| !x.is_empty())
        .map(|x| {
            let (k, v) = x.split_once('=').unwrap_or((x, ""));
            let d = |s: &str| String::from_utf8(percent_decode_lossless(s)).unwrap();
            (d(k), d(v))
        })
        .collect();
    S3Request {
        operation: crate::s3::Operation::GetObject,
        bucket: Some("b".into()),
        key: Some("k".into()),
        raw_path: p.into(),
        raw_query: q.into(),
        query,
        virtual_hosted: false,
    }
}

fn verify(
    method: Method,
    target: &str,
    headers: HeaderMap,
    now: Timestamp,
) -> Result<Authenticated, S3Error> {
    let head = RequestHead {
        method,
        target: target.into(),
        headers,
    };
    verify_request(
        &head,
        &s3req(target),
        &OneKey,
        &AuthSettings::default(),
        &SigningKeyCache::default(),
        now,
    )
}

/// Signs like a client: canonical URI as botocore builds it (the path already encoded).
pub(crate) fn header_signed(
    method: &str,
    target: &str,
    secret: &str,
    when: Timestamp,
    region: &str,
    extra: &[(&str, &str)],
) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    h.insert(
        "x-amz-date",
        HeaderValue::from_str(&when.amz_date()).unwrap(),
    );
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    for (k, v) in extra {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    let signed = names.join(";");
    let (p, q) = target.split_once('?').unwrap_or((target, ""));
    let hash = h
        .get("x-amz-content-sha256")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let creq = canonical_request(
        method,
        &canonical_uri(p),
        &canonical_query(q),
        &canonical_headers(&h, &names).unwrap(),
        &signed,
        &hash,
    );
    let sc = scope(&when.date_stamp(), region, "s3");
    let sts = string_to_sign(&when.amz_date(), &sc, &creq);
    let sig = sign(
        &signing_key(&SecretKey::new(secret), &when.date_stamp(), region, "s3"),
        &sts,
    );
    let auth = format!(
        "{ALGORITHM} Credential={AKID}/{sc}, SignedHeaders={signed}, Signature={}",
        sig.to_hex()
    );
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    h
}

#[test]
fn header_signed_request_verifies_and_names_its_identity() {
    let h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    let a = verify(Method::GET, "/b/k", h, NOW).unwrap();
    assert!(matches!(a.identity, Identity::Principal { .. }));
    assert_eq!(a.payload, PayloadMode::Unsigned);
}

#[test]
fn requests_without_credentials_are_anonymous() {
    let a = verify(Method::GET, "/b/k", HeaderMap::new(), NOW).unwrap();
    assert_eq!(a.identity, Identity::Anonymous);
}

#[test]
fn wrong_secret_is_signature_does_not_match_with_the_canonical_request() {
    let h = header_signed("GET", "/b/k", "not-the-secret", NOW, "us-east-1", &[]);
    let e = verify(Method::GET, "/b/k", h, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert!(e
        .details
        .iter()
        .any(|(n, v)| *n == "CanonicalRequest" && v.starts_with("GET\n/b/k\n")));
    assert!(!format!("{e:?}").contains(SECRET));
}

#[test]
fn skewed_date_is_request_time_too_skewed() {
    let then = Timestamp(NOW.0 - 20 * 60);
    let h = header_signed("GET", "/b/k", SECRET, then, "us-east-1", &[]);
    assert_eq!(
        verify(Method::GET, "/b/k", h, NOW).unwrap_err().code,
        ErrorCode::RequestTimeTooSkewed
    );
    let soon = Timestamp(NOW.0 + 14 * 60);
    let h = header_signed("GET", "/b/k", SECRET, soon, "us-east-1", &[]);
    assert!(verify(Method::GET, "/b/k", h, NOW).is_ok());
}

#[test]
fn wrong_region_and_unknown_key_are_refused_with_their_own_codes() {
    let h = header_signed("GET", "/b/k", SECRET, NOW, "eu-west-1", &[]);
    let e = verify(Method::GET, "/b/k", h, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthorizationHeaderMalformed);
    assert!(e.message.contains("eu-west-1"));
    let h = header_signed("GET", "/b/k", SECRET, NOW, "auto", &[]);
    assert!(
        verify(Method::GET, "/b/k", h, NOW).is_ok(),
        "'auto' is accepted as R2 clients send it"
    );

    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    let auth = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace(AKID, "AKIDUNKNOWN");
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(
        verify(Method::GET, "/b/k", h, NOW).unwrap_err().code,
        ErrorCode::InvalidAccessKeyId
    );
}

#[test]
fn authorization_parameters_parse_in_any_order_with_or_without_spaces() {
    let want = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab",
    )
    .unwrap();
    for v in [
        "AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=ab",
        "AWS4-HMAC-SHA256 Signature=ab, Credential=A/20240101/us-east-1/s3/aws4_request ,SignedHeaders=host;x-amz-date",
        "  AWS4-HMAC-SHA256   Credential=A/20240101/us-east-1/s3/aws4_request,, SignedHeaders=host;x-amz-date, Signature=ab ",
    ] {
        assert_eq!(parse_authorization(v).unwrap(), want, "{v}");
    }
}

#[test]
fn malformed_authorization_headers_say_what_is_wrong() {
    for (v, needle) in [
        ("AWS4-HMAC-SHA256", "must start"),
        ("AWS4-HMAC-SHA512 Credential=a", "must start"),
        ("AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3/aws4_request, Signature=ab", "SignedHeaders"),
        ("AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3, SignedHeaders=host, Signature=ab", "Credential"),
        ("AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=ab", "aws4_request"),
        ("AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=ab", "no '='"),
        ("AWS4-HMAC-SHA256 Foo=1, Credential=A/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab", "unknown"),
    ] {
        let e = parse_authorization(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthorizationHeaderMalformed);
        assert!(e.message.contains(needle), "{v}: {}", e.message);
    }
}

#[test]
fn host_must_be_signed_and_scope_date_must_match() {
    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    let auth = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("SignedHeaders=host;", "SignedHeaders=");
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let e = verify(Method::GET, "/b/k", h, NOW).unwrap_err();
    assert!(e.message.contains("host"), "{}", e.message);

    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    let auth = h
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace(&NOW.date_stamp(), "20000101");
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert!(verify(Method::GET, "/b/k", h, NOW)
        .unwrap_err()
        .message
        .contains("scope date"));
}

#[test]
fn missing_or_bad_content_sha256_is_refused_and_a_signed_hash_is_reported() {
    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    h.remove("x-amz-content-sha256");
    assert_eq!(
        verify(Method::GET, "/b/k", h, NOW).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
    let hash = sha256_hex(b"hello");
    let h = header_signed(
        "PUT",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("x-amz-content-sha256", &hash)],
    );
    let a = verify(Method::PUT, "/b/k", h, NOW).unwrap();
    assert!(matches!(a.payload, PayloadMode::Sha256(_)));
    let h = header_signed(
        "PUT",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("x-amz-content-sha256", "nonsense")],
    );
    assert_eq!(
        verify(Method::PUT, "/b/k", h, NOW).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}

#[test]
fn special_character_keys_verify_whether_sent_encoded_or_raw() {
    // botocore encodes with quote(path, safe='/~'); others send some characters raw.
    for (signed_as, sent_as) in [
        (
            "/b/a%2Bb%3Dc%21%2A%27%28%29%25%20d",
            "/b/a%2Bb%3Dc%21%2A%27%28%29%25%20d",
        ),
        ("/b/a%2Bb%3Dc%21%2A%27%28%29%25%20d", "/b/a+b=c!*'()%25%20d"),
        ("/b/dir%2Fname", "/b/dir%2Fname"),
        ("/b/%E1%88%B4", "/b/ሴ"),
        ("/b/%7Etilde", "/b/~tilde"),
    ] {
        let h = header_signed("GET", signed_as, SECRET, NOW, "us-east-1", &[]);
        verify(Method::GET, sent_as, h, NOW).unwrap_or_else(|e| panic!("{sent_as}: {e}"));
    }
}

#[test]
fn sigv2_is_refused_clearly() {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_static("AWS AKID:c2lnbmF0dXJl"),
    );
    let e = verify(Method::GET, "/b/k", h, NOW).unwrap_err();
    assert!(e.message.contains("s3v4"));
    assert!(verify(
        Method::GET,
        "/b/k?AWSAccessKeyId=A&Signature=x&Expires=1",
        HeaderMap::new(),
        NOW
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------------
// Presigned URLs, through our own presigner.

fn presigned(
    method: &Method,
    path: &str,
    query: &[(String, String)],
    secret: &str,
    when: Timestamp,
    expires: u32,
) -> String {
    let creds = SigningCredentials {
        access_key_id: AKID.into(),
        secret: SecretKey::new(secret),
        session_token: None,
    };
    let url = presign_url(
        &PresignRequest {
            method,
            scheme: "http",
            host: "127.0.0.1:8080",
            encoded_path: path,
            query,
            signed_headers: &HeaderMap::new(),
            region: "us-east-1",
            service: "s3",
            now: when,
            expires_secs: expires,
        },
        &creds,
        &SigningKeyCache::default(),
    );
    url.strip_prefix("http://127.0.0.1:8080")
        .unwrap()
        .to_string()
}

fn host_only() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    h
}

#[test]
fn presigned_url_round_trips_through_the_verifier() {
    let q = vec![(
        "response-content-type".to_string(),
        "text/plain; a=b".to_string(),
    )];
    let target = presigned(&Method::GET, "/b/a%20b", &q, SECRET, NOW, 300);
    let a = verify(Method::GET, &target, host_only(), Timestamp(NOW.0 + 299)).unwrap();
    assert_eq!(a.payload, PayloadMode::Unsigned);
}

#[test]
fn presigned_url_is_bound_to_method_path_and_query() {
    let target = presigned(&Method::HEAD, "/b/k", &[], SECRET, NOW, 300);
    assert!(verify(Method::HEAD, &target, host_only(), NOW).is_ok());
    assert_eq!(
        verify(Method::GET, &target, host_only(), NOW)
            .unwrap_err()
            .code,
        ErrorCode::SignatureDoesNotMatch
    );
    let other = target.replacen("/b/k", "/b/j", 1);
    assert_eq!(
        verify(Method::HEAD, &other, host_only(), NOW)
            .unwrap_err()
            .code,
        ErrorCode::SignatureDoesNotMatch
    );
    let extra = format!("{target}&versionId=1");
    assert_eq!(
        verify(Method::HEAD, &extra, host_only(), NOW)
            .unwrap_err()
            .code,
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn expired_presigned_url_is_access_denied() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 60);
    let e = verify(Method::GET, &target, host_only(), Timestamp(NOW.0 + 61)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::AccessDenied, "Request has expired")
    );
}

#[test]
fn presigned_url_rejects_expires_over_7_days_with_aws_words() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 604_801);
    let e = verify(Method::GET, &target, host_only(), NOW).unwrap_err();
    assert_eq!(
        (e.code, e.status(), e.message.as_str()),
        (
            ErrorCode::AuthorizationQueryParametersError,
            400,
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )
    );
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 604_800);
    assert!(verify(
        Method::GET,
        &target,
        host_only(),
        Timestamp(NOW.0 + 604_000)
    )
    .is_ok());
}

#[test]
fn presigned_url_with_expires_zero_has_already_expired() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 0);
    let e = verify(Method::GET, &target, host_only(), NOW).unwrap_err();
    assert_eq!(
        (e.code, e.status(), e.message.as_str()),
        (ErrorCode::AccessDenied, 403, "Request has expired")
    );
}

#[test]
fn presigned_url_with_negative_or_non_numeric_expires_is_refused_with_aws_words() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 60);
    for (bad, msg) in [
        ("-1", "X-Amz-Expires must be non-negative"),
        ("soon", "X-Amz-Expires should be a number"),
        ("", "X-Amz-Expires should be a number"),
    ] {
        let t = target.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"));
        let e = verify(Method::GET, &t, host_only(), NOW).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::AuthorizationQueryParametersError, msg),
            "{bad}"
        );
    }
}

#[test]
fn presigned_url_with_wrong_secret_or_from_the_future_is_refused() {
    let target = presigned(&Method::GET, "/b/k", &[], "nope", NOW, 60);
    assert_eq!(
        verify(Method::GET, &target, host_only(), NOW)
            .unwrap_err()
            .code,
        ErrorCode::SignatureDoesNotMatch
    );
    let target = presigned(
        &Method::GET,
        "/b/k",
        &[],
        SECRET,
        Timestamp(NOW.0 + 3600),
        60,
    );
    assert_eq!(
        verify(Method::GET, &target, host_only(), NOW)
            .unwrap_err()
            .code,
        ErrorCode::RequestTimeTooSkewed
    );
}

#[test]
fn header_and_query_auth_together_are_refused() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 60);
    let h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    assert_eq!(
        verify(Method::GET, &target, h, NOW).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}

#[test]
fn hostile_authorization_values_never_panic() {
    for v in [
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 ,,,,",
        "AWS4-HMAC-SHA256 Credential=ሴ/ሴ/ሴ/ሴ/aws4_request, SignedHeaders=ሴ, Signature=ሴ",
        "AWS4-HMAC-SHA256 Credential==, SignedHeaders==, Signature==",
    ] {
        let mut h = host_only();
        h.insert(
            "x-amz-date",
            HeaderValue::from_str(&NOW.amz_date()).unwrap(),
        );
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static(UNSIGNED_PAYLOAD),
        );
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert("authorization", v);
        }
        assert!(verify(Method::GET, "/b/k", h, NOW).is_err());
    }
    for q in ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=%E1%88%B4", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/d/aws4_request&X-Amz-Date=ሴሴሴሴሴሴሴሴሴሴሴሴሴሴሴሴ&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=00"] {
        assert!(verify(Method::GET, &format!("/b/k?{q}"), host_only(), NOW).is_err());
    }
}

#[test]
fn a_signed_accept_encoding_that_an_edge_rewrote_still_verifies_and_nothing_else_may_change() {
    let mut h = header_signed(
        "GET",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("accept-encoding", "gzip")],
    );
    // What Cloudflare hands a Worker whatever the client sent.
    h.insert("accept-encoding", HeaderValue::from_static("br, gzip"));
    assert!(verify(Method::GET, "/b/k", h.clone(), NOW).is_ok());
    // The fallback covers Accept-Encoding only: another path still fails.
    let err = verify(Method::GET, "/b/other", h, NOW).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
    // A value outside the known rewrites is not guessed at.
    let mut h = header_signed(
        "GET",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("accept-encoding", "x-odd")],
    );
    h.insert("accept-encoding", HeaderValue::from_static("br, gzip"));
    assert!(verify(Method::GET, "/b/k", h, NOW).is_err());
}

// ---------------------------------------------------------------------------------------------
// Every x-amz-* header must be signed (DESIGN rule 13), header auth and presigned alike.

fn expect_headers_not_signed(r: Result<Authenticated, S3Error>, names: &str) {
    let e = r.unwrap_err();
    assert_eq!(
        (e.code, e.status(), e.message.as_str()),
        (
            ErrorCode::AccessDenied,
            403,
            "There were headers present in the request which were not signed"
        )
    );
    assert_eq!(
        e.details,
        vec![("HeadersNotSigned", names.to_string())],
        "{e:?}"
    );
}

#[test]
fn header_signed_request_with_an_unsigned_amz_header_is_access_denied_naming_it() {
    let mut h = header_signed("PUT", "/b/k", SECRET, NOW, "us-east-1", &[]);
    h.insert("x-amz-copy-source", HeaderValue::from_static("b/secret"));
    expect_headers_not_signed(verify(Method::PUT, "/b/k", h, NOW), "x-amz-copy-source");
    // Signed, the same header is fine.
    let h = header_signed(
        "PUT",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("x-amz-copy-source", "b/secret")],
    );
    assert!(verify(Method::PUT, "/b/k", h, NOW).is_ok());
}

#[test]
fn presigned_put_with_added_copy_source_or_tagging_is_refused_as_headers_not_signed() {
    for (path, q) in [
        ("/b/k", vec![]),
        (
            "/b/k",
            vec![
                ("partNumber".to_string(), "1".to_string()),
                ("uploadId".to_string(), "u".to_string()),
            ],
        ),
    ] {
        let target = presigned(&Method::PUT, path, &q, SECRET, NOW, 300);
        assert!(verify(Method::PUT, &target, host_only(), NOW).is_ok());
        let mut h = host_only();
        h.insert("x-amz-copy-source", HeaderValue::from_static("b/secret"));
        h.insert("x-amz-tagging", HeaderValue::from_static("a=b"));
        h.append("x-amz-tagging", HeaderValue::from_static("c=d"));
        expect_headers_not_signed(
            verify(Method::PUT, &target, h, NOW),
            "x-amz-copy-source, x-amz-tagging",
        );
    }
}

#[test]
fn presigned_url_with_an_unsigned_security_token_header_is_refused() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 300);
    let mut h = host_only();
    h.insert("x-amz-security-token", HeaderValue::from_static("tok"));
    expect_headers_not_signed(verify(Method::GET, &target, h, NOW), "x-amz-security-token");
}

#[test]
fn lookalike_headers_such_as_x_amzn_trace_id_need_no_signature() {
    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    h.insert("x-amzn-trace-id", HeaderValue::from_static("Root=1-abc"));
    assert!(verify(Method::GET, "/b/k", h, NOW).is_ok());
}

#[test]
fn unsigned_content_sha256_is_exempt_only_where_it_cannot_change_the_request() {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("h"));
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    );
    // Header auth: the value is the payload hash of the canonical request, as AWS exempts it.
    assert!(unsigned_amz_headers(&h, "host", None).is_empty());
    // Presigned: only a repeat of the payload hash the URL signed.
    assert_eq!(
        unsigned_amz_headers(&h, "host", Some(UNSIGNED_PAYLOAD)),
        vec!["x-amz-content-sha256".to_string()]
    );
    let target = presigned(&Method::PUT, "/b/k", &[], SECRET, NOW, 300);
    let mut h = host_only();
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    assert!(verify(Method::PUT, &target, h, NOW).is_ok());
    for mode in [
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ] {
        let mut h = host_only();
        h.insert("x-amz-content-sha256", HeaderValue::from_static(mode));
        expect_headers_not_signed(verify(Method::PUT, &target, h, NOW), "x-amz-content-sha256");
    }
}

#[test]
fn aws_chunked_uploads_must_sign_their_amz_headers_too() {
    for mode in [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    ] {
        let signed = [
            ("x-amz-content-sha256", mode),
            ("x-amz-decoded-content-length", "5"),
        ];
        let h = header_signed("PUT", "/b/k", SECRET, NOW, "us-east-1", &signed);
        assert!(
            verify(Method::PUT, "/b/k", h.clone(), NOW).is_ok(),
            "{mode}"
        );
        let mut added = h.clone();
        added.insert(
            "x-amz-trailer",
            HeaderValue::from_static("x-amz-checksum-crc32"),
        );
        expect_headers_not_signed(verify(Method::PUT, "/b/k", added, NOW), "x-amz-trailer");
        let mut added = h;
        added.insert("x-amz-copy-source", HeaderValue::from_static("b/secret"));
        expect_headers_not_signed(verify(Method::PUT, "/b/k", added, NOW), "x-amz-copy-source");
        // Unsigned decoded length: the signer did not say how long the upload is.
        let h = header_signed(
            "PUT",
            "/b/k",
            SECRET,
            NOW,
            "us-east-1",
            &[("x-amz-content-sha256", mode)],
        );
        let mut added = h;
        added.insert(
            "x-amz-decoded-content-length",
            HeaderValue::from_static("5"),
        );
        expect_headers_not_signed(
            verify(Method::PUT, "/b/k", added, NOW),
            "x-amz-decoded-content-length",
        );
    }
}

#[test]
fn a_signed_header_value_that_is_not_utf8_cannot_stand_in_for_another() {
    // Both 0xFF and 0xFE read as U+FFFD when converted lossily.
    let h = header_signed(
        "PUT",
        "/b/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("x-amz-meta-a", "\u{fffd}")],
    );
    let mut swapped = h;
    swapped.insert("x-amz-meta-a", HeaderValue::from_bytes(&[0xff]).unwrap());
    let e = verify(Method::PUT, "/b/k", swapped, NOW).unwrap_err();
    assert_eq!(e.code, ErrorCode::AccessDenied);
}

// ---------------------------------------------------------------------------------------------
// Time, method and host bindings (DESIGN rules 5 and 7).

#[test]
fn header_auth_allows_fifteen_minutes_of_skew_either_way_and_no_more() {
    for (offset, ok) in [(-900, true), (900, true), (-901, false), (901, false)] {
        let h = header_signed(
            "GET",
            "/b/k",
            SECRET,
            Timestamp(NOW.0 + offset),
            "us-east-1",
            &[],
        );
        match verify(Method::GET, "/b/k", h, NOW) {
            Ok(_) => assert!(ok, "{offset}"),
            Err(e) => {
                assert!(!ok, "{offset}: {e:?}");
                assert_eq!((e.code, e.status()), (ErrorCode::RequestTimeTooSkewed, 403));
            }
        }
    }
}

#[test]
fn presigned_get_used_as_put_or_head_is_signature_does_not_match() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 300);
    assert!(verify(Method::GET, &target, host_only(), NOW).is_ok());
    for m in [Method::PUT, Method::HEAD, Method::DELETE, Method::POST] {
        assert_eq!(
            verify(m.clone(), &target, host_only(), NOW)
                .unwrap_err()
                .code,
            ErrorCode::SignatureDoesNotMatch,
            "{m}"
        );
    }
}

#[test]
fn a_signature_made_for_another_host_is_signature_does_not_match() {
    // Path style.
    let mut h = header_signed("GET", "/b/k", SECRET, NOW, "us-east-1", &[]);
    h.insert("host", HeaderValue::from_static("127.0.0.1:8081"));
    assert_eq!(
        verify(Method::GET, "/b/k", h, NOW).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
    // Virtual-hosted style: the bucket lives in the Host, which is signed.
    let h = header_signed(
        "GET",
        "/k",
        SECRET,
        NOW,
        "us-east-1",
        &[("host", "b.s3.example.com")],
    );
    assert!(verify(Method::GET, "/k", h.clone(), NOW).is_ok());
    let mut other = h;
    other.insert("host", HeaderValue::from_static("other.s3.example.com"));
    assert_eq!(
        verify(Method::GET, "/k", other, NOW).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
    // Presigned.
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 300);
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("evil.example"));
    assert_eq!(
        verify(Method::GET, &target, h, NOW).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn presigned_url_with_a_repeated_auth_parameter_is_refused() {
    let target = presigned(&Method::GET, "/b/k", &[], SECRET, NOW, 300);
    for extra in [
        "X-Amz-Expires=604800",
        "X-Amz-Date=20991231T000000Z",
        "X-Amz-Security-Token=t",
        "X-Amz-Signature=00",
    ] {
        let t = if extra.starts_with("X-Amz-Security-Token") {
            format!("{target}&{extra}&{extra}")
        } else {
            format!("{target}&{extra}")
        };
        assert_eq!(
            verify(Method::GET, &t, host_only(), NOW).unwrap_err().code,
            ErrorCode::AuthorizationQueryParametersError,
            "{extra}"
        );
    }
}

/// A store whose one key is a session key: it needs its token.
struct SessionKey;

impl CredentialStore for SessionKey {
    fn lookup(
        &self,
        id: &str,
        token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        if token != Some("tok") {
            return Err(S3Error::new(ErrorCode::InvalidToken, "bad token"));
        }
        OneKey.lookup(id, None, now)
    }
}

#[test]
fn presigned_session_token_may_be_a_signed_header_but_never_two_different_ones() {
    let mut signed = HeaderMap::new();
    signed.insert("x-amz-security-token", HeaderValue::from_static("tok"));
    let url = presign_url(
        &PresignRequest {
            method: &Method::GET,
            scheme: "http",
            host: "127.0.0.1:8080",
            encoded_path: "/b/k",
            query: &[],
            signed_headers: &signed,
            region: "us-east-1",
            service: "s3",
            now: NOW,
            expires_secs: 300,
        },
        &SigningCredentials {
            access_key_id: AKID.into(),
            secret: SecretKey::new(SECRET),
            session_token: None,
        },
        &SigningKeyCache::default(),
    );
    let target = url.strip_prefix("http://127.0.0.1:8080").unwrap();
    let run = |target: &str, token: Option<&'static str>| {
        let mut h = host_only();
        if let Some(t) = token {
            h.insert("x-amz-security-token", HeaderValue::from_static(t));
        }
        let head = RequestHead {
            method: Method::GET,
            target: target.into(),
            headers: h,
        };
        verify_request(
            &head,
            &s3req(target),
            &SessionKey,
            &AuthSettings::default(),
            &SigningKeyCache::default(),
            NOW,
        )
    };
    assert!(run(target, Some("tok")).is_ok());
    assert_eq!(
        run(&format!("{target}&X-Amz-Security-Token=other"), Some("tok"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidArgument
    );
}
