//! The fuzz targets' bodies. Each takes raw bytes (a libFuzzer input, a corpus seed, or a
//! property test's case), drives one parser the way the gateway does, and panics when an
//! invariant breaks; "no panic" alone is the floor, not the check.
//!
//! Inputs are text where the parser reads text, so the corpus seeds in `fuzz/corpus/<target>/`
//! are readable and were written from the unit tests' and the e2e suite's requests
//! ([`seeds`]). Every request is checked at the fixed time [`NOW`] against one access key.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::auth::secret::{SecretKey, Signature};
use crate::auth::sigv4::{self, SigningKeyCache};
use crate::auth::{
    authenticate, AuthSettings, Authenticated, ChunkSigning, CredentialStore, ResolvedCredential,
};
use crate::checksum::Algorithm;
use crate::chunked::SignedChunkDecoder;
use crate::config::{ConfigFormat, GatewayConfig};
use crate::payload::BodyCheck;
use crate::policy::{Action, Identity, Scope};
use crate::post::{FormReader, PostForm, PostPolicy};
use crate::s3::request::{self as s3req, Operation, RequestHead, S3Request};
use crate::s3::{xml, ErrorCode, S3Error};
use crate::sts::token::{SessionClaims, SessionKeys};
use crate::time::Timestamp;

/// The time every request is checked at (2023-11-14T22:13:20Z).
pub const NOW: Timestamp = Timestamp(1_700_000_000);
/// The one access key the store knows.
pub const AKID: &str = "AKIDEXAMPLE";
/// Its secret (the seeds are signed with it).
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// Another secret: no request may authenticate under both.
pub const OTHER_SECRET: &str = "AnotherSecretKeyThatSignsNothingAtAll0000";
/// The Host of path-style requests.
pub const HOST: &str = "127.0.0.1:8080";
/// The virtual-hosted domain.
pub const DOMAIN: &str = "s3.example.com";
/// Boundary of the POST form seeds (any boundary may be fuzzed: the first line of an input).
pub const BOUNDARY: &str = "XyZzY";

/// A target: raw bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` name.
pub const TARGETS: &[(&str, Target)] = &[
    ("auth_header", auth_header),
    ("presigned_query", presigned_query),
    ("request", request),
    ("chunked", chunked),
    ("xml_complete", xml_complete),
    ("xml_delete", xml_delete),
    ("xml_tagging", xml_tagging),
    ("post_policy", post_policy),
    ("post_form", post_form),
    ("config", config),
    ("sts_token", sts_token),
    ("xml_settings", xml_settings),
];

/// A store of one key, [`AKID`], whose secret is the given one.
struct OneKey(&'static str);

impl CredentialStore for OneKey {
    fn lookup(
        &self,
        id: &str,
        _token: Option<&str>,
        _now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        if id != AKID {
            return Err(S3Error::new(ErrorCode::InvalidAccessKeyId, "unknown key"));
        }
        Ok(ResolvedCredential {
            secret: SecretKey::new(self.0),
            identity: principal(),
        })
    }
}

fn principal() -> Identity {
    Identity::Principal {
        name: "fuzz".into(),
        access_key_id: AKID.into(),
        role: None,
        scopes: vec![],
    }
}

/// `METHOD TARGET` on the first line, then `Name: value` header lines (`\n` or `\r\n`).
/// Header lines that are no valid header are skipped.
pub fn request_head(data: &[u8]) -> Option<RequestHead> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let (method, target) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(n, v);
        }
    }
    Some(RequestHead {
        method,
        target: target.to_string(),
        headers,
    })
}

fn authenticate_with(
    head: &RequestHead,
    req: &S3Request,
    secret: &'static str,
) -> Result<Authenticated, S3Error> {
    authenticate(
        head,
        req,
        &OneKey(secret),
        &AuthSettings::default(),
        &SigningKeyCache::default(),
        NOW,
    )
}

/// Authentication invariants of one parsed request: a request carrying credentials is never
/// let through as anonymous, and no request authenticates under two different secrets (a
/// signature binds the secret); a presigned SigV4 acceptance had a valid expiry.
fn check_auth(head: &RequestHead, req: &S3Request) {
    let a = authenticate_with(head, req, SECRET);
    let b = authenticate_with(head, req, OTHER_SECRET);
    let as_principal = |r: &Result<Authenticated, S3Error>| matches!(r, Ok(x) if x.identity != Identity::Anonymous);
    assert!(
        !(as_principal(&a) && as_principal(&b)),
        "a request authenticated under two different secrets: {head:?}"
    );
    let has = |name: &str| req.query.iter().any(|(k, _)| k == name);
    let carries_credentials = head.headers.contains_key(http::header::AUTHORIZATION)
        || has("X-Amz-Algorithm")
        || has("X-Amz-Credential")
        || has("AWSAccessKeyId");
    for x in [&a, &b].into_iter().flatten() {
        assert!(
            !(carries_credentials && x.identity == Identity::Anonymous),
            "a request with credentials was let through as anonymous: {head:?}"
        );
    }
    if as_principal(&a) && has("X-Amz-Algorithm") {
        let expires = req
            .query_param("X-Amz-Expires")
            .and_then(|e| e.parse::<i64>().ok());
        assert!(
            expires.is_some_and(|e| (1..=604_800).contains(&e)),
            "a presigned URL was accepted with X-Amz-Expires {expires:?}"
        );
    }
}

/// The SigV4 `Authorization` header parser, then the value in a request's context.
/// Invariants: a parsed header has five non-empty scope parts without `/`, and renders back
/// to a header that parses to the same; authentication as in [`check_auth`].
pub fn auth_header(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    if let Ok(p) = sigv4::parse_authorization(&value) {
        for part in [&p.access_key_id, &p.date, &p.region, &p.service] {
            assert!(!part.is_empty() && !part.contains('/'), "{p:?}");
        }
        let again = format!(
            "{} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={}",
            sigv4::ALGORITHM,
            p.access_key_id,
            p.date,
            p.region,
            p.service,
            p.signed_headers,
            p.signature
        );
        assert_eq!(sigv4::parse_authorization(&again).ok(), Some(p));
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&NOW.amz_date()).unwrap(),
    );
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(sigv4::UNSIGNED_PAYLOAD),
    );
    headers.insert(http::header::AUTHORIZATION, value);
    let head = RequestHead {
        method: Method::GET,
        target: "/b/k".into(),
        headers,
    };
    if let Ok(req) = s3req::parse(&head, None) {
        check_auth(&head, &req);
    }
}

/// The presigned query parsers (SigV4 `X-Amz-*`, SigV2 `AWSAccessKeyId`/`Expires`/`Signature`):
/// the input is the query string of `GET /b/k`. Invariants as in [`check_auth`].
pub fn presigned_query(data: &[u8]) {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
    let head = RequestHead {
        method: Method::GET,
        target: format!("/b/k?{}", String::from_utf8_lossy(data)),
        headers,
    };
    if let Ok(req) = s3req::parse(&head, None) {
        check_auth(&head, &req);
    }
}

fn is_object_operation(op: Operation) -> bool {
    use Operation::*;
    matches!(
        op,
        GetObject
            | HeadObject
            | PutObject
            | CopyObject
            | DeleteObject
            | CreateMultipartUpload
            | UploadPart
            | UploadPartCopy
            | CompleteMultipartUpload
            | AbortMultipartUpload
            | ListParts
            | GetObjectTagging
            | PutObjectTagging
            | DeleteObjectTagging
            | GetObjectAttributes
            | GetObjectRetention
            | PutObjectRetention
            | GetObjectLegalHold
            | PutObjectLegalHold
    )
}

/// The request classifier (`s3::request::parse`), path style and virtual-hosted. Invariants:
/// the path starts with `/`; a key implies a non-empty bucket and is at most 1024 bytes; object
/// operations have a key and bucket operations none, ListBuckets no bucket; routing alone
/// (what CORS uses) names the same bucket; parsing is deterministic. Then [`check_auth`].
pub fn request(data: &[u8]) {
    let Some(head) = request_head(data) else {
        return;
    };
    for domain in [None, Some(DOMAIN)] {
        let Ok(req) = s3req::parse(&head, domain) else {
            continue;
        };
        assert!(req.raw_path.starts_with('/'), "{req:?}");
        assert!(req.bucket.as_ref().is_none_or(|b| !b.is_empty()), "{req:?}");
        assert!(req.key.is_none() || req.bucket.is_some(), "{req:?}");
        assert!(req.key.as_ref().is_none_or(|k| k.len() <= 1024), "{req:?}");
        assert!(!req.virtual_hosted || domain.is_some(), "{req:?}");
        // What reaches a URL is unambiguous: no dot segment in a key, no name that could leave
        // the path segment or the host label it is put in, no parameter given twice.
        assert!(
            req.key
                .as_deref()
                .is_none_or(|k| !s3req::has_dot_segment(k)),
            "{req:?}"
        );
        assert!(
            req.bucket.as_deref().is_none_or(|b| b
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
                && b != "."
                && b != ".."),
            "{req:?}"
        );
        let mut names: Vec<&str> = req.query.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        assert!(names.windows(2).all(|w| w[0] != w[1]), "{req:?}");
        match req.operation {
            Operation::ListBuckets => assert!(req.bucket.is_none(), "{req:?}"),
            op if is_object_operation(op) => assert!(req.key.is_some(), "{req:?}"),
            _ => assert!(req.bucket.is_some() && req.key.is_none(), "{req:?}"),
        }
        assert_eq!(
            s3req::bucket_name(&head, domain),
            req.bucket,
            "routing and parsing disagree on the bucket of {head:?}"
        );
        let again = s3req::parse(&head, domain).expect("parse is deterministic");
        assert_eq!(format!("{again:?}"), format!("{req:?}"));
        check_auth(&head, &req);
    }
}

/// The signing context of the signed chunked seeds.
pub fn chunk_signing() -> ChunkSigning {
    let date = NOW.date_stamp();
    ChunkSigning {
        key: sigv4::signing_key(&SecretKey::new(SECRET), &date, "us-east-1", "s3"),
        seed: Signature([7; 32]),
        amz_date: NOW.amz_date(),
        scope: sigv4::scope(&date, "us-east-1", "s3"),
    }
}

/// One decoder run: bytes released, or the refusal. Panics when more bytes than declared are
/// ever released, or a completed body does not decode to exactly the declared length.
fn decode_chunked(
    mode: &str,
    declared: u64,
    body: &[u8],
    step: usize,
) -> Option<Result<Vec<u8>, ErrorCode>> {
    let dec = match mode {
        "signed" => SignedChunkDecoder::new(chunk_signing(), false, declared),
        "signed-trailer" => SignedChunkDecoder::new(chunk_signing(), true, declared),
        "signed-trailer-crc32" => SignedChunkDecoder::new(chunk_signing(), true, declared)
            .with_trailer_checksum(Some(Algorithm::Crc32)),
        "unsigned" => SignedChunkDecoder::unsigned(declared),
        "unsigned-crc32" => {
            SignedChunkDecoder::unsigned(declared).with_trailer_checksum(Some(Algorithm::Crc32))
        }
        _ => return None,
    };
    let mut dec = dec;
    let mut out = Vec::new();
    let mut run = || -> Result<(), S3Error> {
        for piece in body.chunks(step.max(1)) {
            if let Some(b) = dec.push(Bytes::copy_from_slice(piece))? {
                out.extend_from_slice(&b);
            }
            assert!(out.len() as u64 <= declared, "released more than declared");
        }
        if let Some(b) = dec.finish()? {
            out.extend_from_slice(&b);
        }
        Ok(())
    };
    let result = run();
    assert!(out.len() as u64 <= declared, "released more than declared");
    Some(match result {
        Ok(()) => {
            assert_eq!(
                out.len() as u64,
                declared,
                "a completed body of the wrong length"
            );
            Ok(out)
        }
        Err(e) => Err(e.code),
    })
}

/// The aws-chunked decoder: a first line `MODE DECLARED STEP` (`signed`, `signed-trailer`,
/// `signed-trailer-crc32`, `unsigned`, `unsigned-crc32`; declared decoded length; network
/// split), then the body. Invariants: never more bytes released than declared, a completed
/// body is exactly the declared length, and the outcome does not depend on the network split.
pub fn chunked(data: &[u8]) {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (first, body) = (String::from_utf8_lossy(&data[..nl]), &data[nl + 1..]);
    let mut words = first.split_whitespace();
    let (Some(mode), Some(declared), Some(step)) = (
        words.next(),
        words.next().and_then(|w| w.parse::<u64>().ok()),
        words.next().and_then(|w| w.parse::<usize>().ok()),
    ) else {
        return;
    };
    let whole = decode_chunked(mode, declared, body, body.len());
    let split = decode_chunked(mode, declared, body, step.clamp(1, 64));
    let byte = decode_chunked(mode, declared, body, 1);
    assert_eq!(
        whole, split,
        "the outcome depends on the network split ({step})"
    );
    assert_eq!(whole, byte, "the outcome depends on the network split (1)");
}

/// A CompleteMultipartUpload body as the gateway writes it.
fn complete_body(parts: &[(u16, String)]) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        out.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>\""));
        crate::s3::error::push_escaped(&mut out, etag);
        out.push_str("\"</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// CompleteMultipartUpload bodies. Invariants: 1 to 10000 parts numbered 1..=10000 in strictly
/// ascending order, and the parts re-rendered parse back to the same parts.
pub fn xml_complete(data: &[u8]) {
    let Ok(parts) = xml::parse_complete(data) else {
        return;
    };
    assert!((1..=10_000).contains(&parts.len()));
    assert!(parts.iter().all(|(n, _)| (1..=10_000).contains(n)));
    assert!(parts.windows(2).all(|w| w[0].0 < w[1].0), "{parts:?}");
    let again = xml::parse_complete(complete_body(&parts).as_bytes());
    assert_eq!(again.ok().as_ref(), Some(&parts), "round trip");
}

/// DeleteObjects bodies. Invariants: 1 to 1000 objects, and the body the gateway forwards
/// (`delete_xml` of what it parsed, and so authorized) parses back to exactly those objects.
pub fn xml_delete(data: &[u8]) {
    let Ok(parsed) = xml::parse_delete(data) else {
        return;
    };
    assert!((1..=xml::MAX_DELETE_KEYS).contains(&parsed.objects.len()));
    let forwarded = xml::delete_xml(parsed.quiet, &parsed.objects);
    assert_eq!(
        xml::parse_delete(forwarded.as_bytes()).ok().as_ref(),
        Some(&parsed),
        "the forwarded DeleteObjects body names other objects than the parsed one: {forwarded}"
    );
}

/// PutObjectTagging bodies. Invariants: at most 10 tags, keys unique and 1 to 128 characters,
/// values at most 256, and the body the gateway forwards (`tagging_xml` of what it parsed)
/// parses back to exactly those tags.
pub fn xml_tagging(data: &[u8]) {
    let Ok(tags) = xml::parse_tagging(data) else {
        return;
    };
    assert!(tags.len() <= xml::MAX_OBJECT_TAGS, "{tags:?}");
    for (i, (k, v)) in tags.iter().enumerate() {
        assert!((1..=128).contains(&k.chars().count()), "{k:?}");
        assert!(v.chars().count() <= 256, "{v:?}");
        assert!(tags[..i].iter().all(|(seen, _)| seen != k), "{tags:?}");
    }
    let forwarded = xml::tagging_xml(&tags);
    assert_eq!(
        xml::parse_tagging(forwarded.as_bytes()).ok().as_ref(),
        Some(&tags),
        "the forwarded tag set differs from the parsed one: {forwarded}"
    );
}

/// The object lock and bucket encryption documents (`crate::s3::lock`): the first byte chooses
/// the document (retention, legal hold, lock configuration, encryption), the rest is the body.
/// Invariant: what the gateway forwards (the document written anew from what it parsed) parses
/// back to exactly what was parsed.
pub fn xml_settings(data: &[u8]) {
    use crate::s3::lock;
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => {
            let Ok(r) = lock::parse_retention(body) else {
                return;
            };
            let out = lock::retention_xml(&r);
            assert_eq!(lock::parse_retention(out.as_bytes()).ok(), Some(r), "{out}");
        }
        1 => {
            let Ok(on) = lock::parse_legal_hold(body) else {
                return;
            };
            let out = lock::legal_hold_xml(on);
            assert_eq!(
                lock::parse_legal_hold(out.as_bytes()).ok(),
                Some(on),
                "{out}"
            );
        }
        2 => {
            let Ok(c) = lock::parse_lock_configuration(body) else {
                return;
            };
            let out = lock::lock_configuration_xml(&c);
            assert_eq!(
                lock::parse_lock_configuration(out.as_bytes()).ok(),
                Some(c),
                "{out}"
            );
        }
        _ => {
            let Ok(c) = lock::parse_encryption(body) else {
                return;
            };
            let out = lock::encryption_xml(&c);
            assert_eq!(
                lock::parse_encryption(out.as_bytes()).ok(),
                Some(c),
                "{out}"
            );
        }
    }
}

/// A whole multipart/form-data body with `fields` then a file part.
pub fn form_body(boundary: &str, fields: &[(&str, &str)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

fn read_form(boundary: &str, body: &[u8], step: usize) -> (Result<PostForm, S3Error>, usize) {
    let mut r = FormReader::new(boundary, body.len() as u64);
    let mut at = 0;
    loop {
        if at >= body.len() {
            r.end();
            break;
        }
        let end = (at + step.max(1)).min(body.len());
        let stop = r.push(&body[at..end]);
        at = end;
        if stop {
            break;
        }
    }
    (r.finish(), at)
}

/// The POST policy (JSON, as the client base64-encodes it). Invariants: parsing the same
/// document with whitespace in its base64 gives the same answer; checking a fixed form against
/// a parsed policy answers (allowed or refused) without panicking. The input is also tried as
/// the raw `policy` field.
pub fn post_policy(data: &[u8]) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let spaced: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let parsed = PostPolicy::parse(&b64);
    assert_eq!(
        format!("{parsed:?}"),
        format!("{:?}", PostPolicy::parse(&spaced)),
        "whitespace in the policy's base64 changed its meaning"
    );
    let _ = PostPolicy::parse(&String::from_utf8_lossy(data));
    if let Ok(policy) = parsed {
        let fields = [
            ("key", "user/alice/${filename}"),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-tag", "holiday"),
            ("success_action_status", "201"),
        ];
        let body = form_body(BOUNDARY, &fields, "photo.jpg", b"JPEGDATA");
        let (form, _) = read_form(BOUNDARY, &body, body.len());
        let form = form.expect("the fixed form reads");
        let _ = policy.check(&form, "bkt", "user/alice/photo.jpg", 8, NOW);
    }
}

/// One form upload: the form, then the file streamed. Returns (key, file bytes) or the
/// refusal's code. Panics when more file bytes are released than the form declares, or a
/// completed file is not of the declared length.
fn upload_form(boundary: &str, body: &[u8], step: usize) -> Result<(String, Vec<u8>), ErrorCode> {
    let (form, at) = read_form(boundary, body, step);
    let form = form.map_err(|e| e.code)?;
    let key = super::post_object_key(&form).map_err(|e| e.code)?;
    assert!(!key.is_empty() && key.len() <= 1024, "{key:?}");
    if let Ok((_, Some(policy))) = super::post_authenticate(
        &form,
        &OneKey(SECRET),
        &AuthSettings::default(),
        &SigningKeyCache::default(),
        NOW,
    ) {
        let _ = policy.check(&form, "b", &key, 0, NOW);
    }
    let (len, mut check) = form.file_body().map_err(|e| e.code)?;
    let mut out = Vec::new();
    for piece in body[at..].chunks(step.max(1)) {
        if let Some(b) = check
            .push(Bytes::copy_from_slice(piece))
            .map_err(|e| e.code)?
        {
            out.extend_from_slice(&b);
        }
        assert!(
            out.len() as u64 <= len,
            "released more file bytes than declared"
        );
    }
    if let Some(b) = check.finish().map_err(|e| e.code)? {
        out.extend_from_slice(&b);
    }
    assert_eq!(
        out.len() as u64,
        len,
        "a completed file of the wrong length"
    );
    Ok((key, out))
}

/// POST form bodies: the boundary on the first line, then the body. Invariants as in
/// [`upload_form`], and the outcome does not depend on the network split.
pub fn post_form(data: &[u8]) {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let boundary = String::from_utf8_lossy(&data[..nl]).trim().to_string();
    let body = &data[nl + 1..];
    let whole = upload_form(&boundary, body, body.len());
    let split = upload_form(&boundary, body, 1 + body.len() % 13);
    assert_eq!(whole, split, "the outcome depends on the network split");
}

/// The config parser: JSON when the input starts with `{`, else TOML. Invariants: parsing is
/// deterministic; every bucket a valid config names is found by that name.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let format = if text.trim_start().starts_with('{') {
        ConfigFormat::Json
    } else {
        ConfigFormat::Toml
    };
    let Ok((cfg, warnings)) = GatewayConfig::parse_with_warnings(&text, format) else {
        return;
    };
    let (again, warnings_again) =
        GatewayConfig::parse_with_warnings(&text, format).expect("parse is deterministic");
    assert_eq!(format!("{cfg:?}"), format!("{again:?}"));
    assert_eq!(warnings, warnings_again);
    for b in &cfg.buckets {
        if !b.is_glob() {
            assert!(
                cfg.find_bucket(&b.name).is_some(),
                "bucket {} not found",
                b.name
            );
        }
    }
}

fn counter_rng(seed: u8) -> impl FnMut(&mut [u8]) {
    let mut n = seed;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_mul(31).wrapping_add(7);
            *b = n;
        }
    }
}

/// The session keys of the token seeds: current key 1, previous key 2.
pub fn session_keys() -> SessionKeys {
    SessionKeys::new(&[1; 32], Some(&[2; 32])).unwrap()
}

/// Claims built from up to seven `\n`-separated strings of the input.
fn claims_from(text: &str) -> SessionClaims {
    let mut f = text.split('\n');
    let mut next = |d: &str| f.next().unwrap_or(d).to_string();
    SessionClaims {
        access_key_id: next("ASIAFUZZ"),
        role_id: next("ci"),
        subject: next("repo:org/repo:ref:refs/heads/main"),
        issuer: next("https://token.actions.githubusercontent.com"),
        session_name: next("build-42"),
        scopes: vec![Scope {
            bucket: next("data"),
            prefixes: vec![next("org/repo/")],
            actions: vec![Action::GetObject, Action::PutObject],
        }],
        issued_at: NOW,
        expires_at: Timestamp(NOW.0 + 3600),
    }
}

/// The sealed-token opener: the input is `ACCESS_KEY_ID\nTOKEN` (or a token for the default
/// id). Invariants: an opened token names the access key id it was presented with, is
/// unexpired, yields that id's derived secret, and re-seals to a token that opens to the same
/// claims; and claims built from the input, sealed, open to exactly those claims, under their
/// own id only.
pub fn sts_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let keys = session_keys();
    let (akid, token) = text.split_once('\n').unwrap_or(("ASIAFUZZ", &text));
    if let Ok(opened) = keys.open(token, akid, NOW) {
        assert_eq!(opened.claims.access_key_id, akid);
        assert!(NOW < opened.claims.expires_at);
        // The secret derives from the key that sealed the token (current or previous).
        let previous = SessionKeys::new(&[2; 32], None).unwrap();
        let secret = opened.secret_access_key.expose();
        assert!(
            secret == keys.secret_for(akid).expose()
                || secret == previous.secret_for(akid).expose()
        );
        let resealed = keys.seal(&opened.claims, &mut counter_rng(3)).unwrap();
        let reopened = keys.open(&resealed, akid, NOW).unwrap();
        assert_eq!(reopened.claims, opened.claims);
    }
    let claims = claims_from(&text);
    if let Ok(sealed) = keys.seal(&claims, &mut counter_rng(data.len() as u8)) {
        let opened = keys
            .open(&sealed, &claims.access_key_id, NOW)
            .expect("a sealed token opens");
        assert_eq!(
            opened.claims, claims,
            "a sealed token opened to other claims"
        );
        let other = format!("{}X", claims.access_key_id);
        assert!(
            keys.open(&sealed, &other, NOW).is_err(),
            "opened under another id"
        );
        let stranger = SessionKeys::new(&[9; 32], None).unwrap();
        assert!(stranger.open(&sealed, &claims.access_key_id, NOW).is_err());
    }
}

/// The corpus seeds, per target: written by the test `fuzz_corpus_seeds_are_current` (see
/// `props.rs`) into `fuzz/corpus/<target>/`. Requests, signatures, bodies and documents as the
/// unit tests and the e2e suite send them, signed with [`SECRET`] at [`NOW`].
#[cfg(test)]
pub mod seeds;
