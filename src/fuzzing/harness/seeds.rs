use super::*;
use crate::auth::presign::{presign_url, PresignRequest, SigningCredentials};
use crate::auth::sigv2;
use base64::Engine as _;

/// `(target, name, bytes)` for every seed.
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |t: &'static str, n: &str, b: Vec<u8>| out.push((t, n.to_string(), b));
    for (n, v) in auth_headers() {
        add("auth_header", &n, v.into_bytes());
    }
    for (n, v) in presigned_queries() {
        add("presigned_query", &n, v.into_bytes());
    }
    for (n, v) in requests() {
        add("request", &n, v.into_bytes());
    }
    for (n, v) in chunked_bodies() {
        add("chunked", &n, v);
    }
    for (n, v) in complete_docs() {
        add("xml_complete", &n, v.into_bytes());
    }
    for (n, v) in delete_docs() {
        add("xml_delete", &n, v.into_bytes());
    }
    for (n, v) in tagging_docs() {
        add("xml_tagging", &n, v.into_bytes());
    }
    for (n, v) in policies() {
        add("post_policy", &n, v.into_bytes());
    }
    for (n, v) in forms() {
        add("post_form", &n, v);
    }
    for (n, v) in configs() {
        add("config", &n, v.into_bytes());
    }
    for (n, v) in tokens() {
        add("sts_token", &n, v.into_bytes());
    }
    for (n, kind, v) in settings_docs() {
        add("xml_settings", &n, [&[kind][..], v.as_bytes()].concat());
    }
    out
}

/// `(name, document kind, body)` for [`super::xml_settings`].
fn settings_docs() -> Vec<(String, u8, String)> {
    vec![
            (
                "retention".into(),
                0,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.123456Z</RetainUntilDate></Retention>".into(),
            ),
            ("retention_empty".into(), 0, "<Retention/>".into()),
            (
                "legal_hold".into(),
                1,
                "<LegalHold><Status>ON</Status></LegalHold>".into(),
            ),
            (
                "lock_configuration".into(),
                2,
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>".into(),
            ),
            (
                "encryption".into(),
                3,
                "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID><![CDATA[arn:a&b]]></KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>".into(),
            ),
        ]
}

/// A header-signed request as botocore signs it, as `(headers, authorization)`.
fn header_signed(method: &str, target: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static(HOST));
    h.insert(
        "x-amz-date",
        HeaderValue::from_str(&NOW.amz_date()).unwrap(),
    );
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(sigv4::UNSIGNED_PAYLOAD),
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
    let hash = h["x-amz-content-sha256"].to_str().unwrap().to_string();
    let creq = sigv4::canonical_request(
        method,
        &sigv4::canonical_uri(p),
        &sigv4::canonical_query(q),
        &sigv4::canonical_headers(&h, &names).unwrap(),
        &signed,
        &hash,
    );
    let sc = sigv4::scope(&NOW.date_stamp(), "us-east-1", "s3");
    let sts = sigv4::string_to_sign(&NOW.amz_date(), &sc, &creq);
    let key = sigv4::signing_key(
        &SecretKey::new(SECRET),
        &NOW.date_stamp(),
        "us-east-1",
        "s3",
    );
    let auth = format!(
        "{} Credential={AKID}/{sc}, SignedHeaders={signed}, Signature={}",
        sigv4::ALGORITHM,
        sigv4::sign(&key, &sts).to_hex()
    );
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    h
}

fn render(method: &str, target: &str, h: &HeaderMap) -> String {
    let mut out = format!("{method} {target}\n");
    for (k, v) in h {
        out.push_str(&format!("{k}: {}\n", v.to_str().unwrap()));
    }
    out
}

fn auth_headers() -> Vec<(String, String)> {
    let signed = header_signed("GET", "/b/k", &[]);
    vec![
            ("signed_get".into(), signed["authorization"].to_str().unwrap().into()),
            (
                "no_spaces".into(),
                format!("{} Credential={AKID}/20231114/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature={}", sigv4::ALGORITHM, "0".repeat(64)),
            ),
            (
                "reordered".into(),
                format!("{}  Signature={}, Credential={AKID}/20231114/auto/s3/aws4_request, SignedHeaders=host", sigv4::ALGORITHM, "a".repeat(64)),
            ),
            ("sigv2".into(), format!("AWS {AKID}:frJIUN8DYpKDtOLCwo//yllqDzg=")),
            ("malformed".into(), format!("{} Credential=AKID/2023/us-east-1/s3", sigv4::ALGORITHM)),
        ]
}

fn presign(method: &Method, path: &str, query: &[(String, String)], expires: u32) -> String {
    let req = PresignRequest {
        method,
        scheme: "http",
        host: HOST,
        encoded_path: path,
        query,
        signed_headers: &HeaderMap::new(),
        region: "us-east-1",
        service: "s3",
        now: NOW,
        expires_secs: expires,
    };
    let creds = SigningCredentials {
        access_key_id: AKID.into(),
        secret: SecretKey::new(SECRET),
        session_token: None,
    };
    let url = presign_url(&req, &creds, &SigningKeyCache::default());
    url.split_once('?').unwrap().1.to_string()
}

fn presigned_queries() -> Vec<(String, String)> {
    let v2 = |expires: i64| {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
        let q = format!("AWSAccessKeyId={AKID}&Expires={expires}");
        let head = RequestHead {
            method: Method::GET,
            target: format!("/b/k?{q}"),
            headers,
        };
        let req = s3req::parse(&head, None).unwrap();
        let sig = sigv2::sign(
            SECRET,
            &sigv2::string_to_sign(&head, &req, &expires.to_string()),
        );
        let sig: String = url_encode(&sig);
        format!("{q}&Signature={sig}")
    };
    vec![
        ("sigv4_get".into(), presign(&Method::GET, "/b/k", &[], 3600)),
        (
            "sigv4_get_response_type".into(),
            presign(
                &Method::GET,
                "/b/k",
                &[("response-content-type".into(), "text/plain".into())],
                604_800,
            ),
        ),
        ("sigv2_get".into(), v2(NOW.0 + 3600)),
        ("sigv2_expired".into(), v2(NOW.0 - 1)),
    ]
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn requests() -> Vec<(String, String)> {
    let plain = |m: &str, t: &str, extra: &str| format!("{m} {t}\nhost: {HOST}\n{extra}");
    let mut out = vec![
        ("list_buckets".into(), plain("GET", "/", "")),
        (
            "list_v2".into(),
            plain("GET", "/b?list-type=2&prefix=team/&delimiter=/", ""),
        ),
        ("get_object".into(), plain("GET", "/b/dir/a%20b.txt", "")),
        (
            "put_copy".into(),
            plain("PUT", "/b/k", "x-amz-copy-source: /src/key\n"),
        ),
        (
            "upload_part".into(),
            plain("PUT", "/b/k?partNumber=1&uploadId=abc", ""),
        ),
        ("complete".into(), plain("POST", "/b/k?uploadId=abc", "")),
        ("delete_objects".into(), plain("POST", "/b?delete", "")),
        (
            "post_object".into(),
            plain(
                "POST",
                "/b",
                "content-type: multipart/form-data; boundary=XyZzY\n",
            ),
        ),
        (
            "virtual_hosted".into(),
            format!("GET /k/with/slashes?versionId=1\nhost: bkt.{DOMAIN}:8080\n"),
        ),
        (
            "absolute_form".into(),
            plain("GET", "http://127.0.0.1:8080/b/k", ""),
        ),
        ("dot_segments".into(), plain("GET", "/b/a/%2E%2E/b", "")),
    ];
    let signed = header_signed("PUT", "/b/k?x=1", &[("x-amz-meta-a", "1")]);
    out.push(("signed_put".into(), render("PUT", "/b/k?x=1", &signed)));
    let q = presign(&Method::GET, "/b/k", &[], 60);
    out.push((
        "presigned_get".into(),
        plain("GET", &format!("/b/k?{q}"), ""),
    ));
    out
}

fn chunked_bodies() -> Vec<(String, Vec<u8>)> {
    let signing = chunk_signing();
    let data = b"hello, aws-chunked world: 33 bytes";
    let signed = |trailer: Option<&str>| {
        let mut prev = signing.seed;
        let mut out = Vec::new();
        for chunk in data.chunks(16).chain(std::iter::once(&[][..])) {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
                signing.amz_date,
                signing.scope,
                prev.to_hex(),
                sigv4::sha256_hex(b""),
                sigv4::sha256_hex(chunk)
            );
            let sig = sigv4::sign(&signing.key, &sts);
            out.extend_from_slice(
                format!("{:x};chunk-signature={}\r\n", chunk.len(), sig.to_hex()).as_bytes(),
            );
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            prev = sig;
        }
        if let Some(line) = trailer {
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                signing.amz_date,
                signing.scope,
                prev.to_hex(),
                sigv4::sha256_hex(format!("{line}\n").as_bytes())
            );
            let sig = sigv4::sign(&signing.key, &sts);
            out.extend_from_slice(
                format!("{line}\r\nx-amz-trailer-signature:{}\r\n\r\n", sig.to_hex()).as_bytes(),
            );
        }
        out
    };
    let crc = {
        let mut h = crate::checksum::Hasher::new(Algorithm::Crc32);
        h.update(data);
        h.finish_base64()
    };
    let unsigned = |trailer: &str| {
        let mut out = Vec::new();
        for c in data.chunks(10) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
        out
    };
    let n = data.len();
    let with = |head: String, body: Vec<u8>| {
        let mut v = head.into_bytes();
        v.extend_from_slice(&body);
        v
    };
    let crc_line = format!("x-amz-checksum-crc32:{crc}");
    vec![
        (
            "signed".into(),
            with(format!("signed {n} 5\n"), signed(None)),
        ),
        (
            "signed_trailer_crc32".into(),
            with(
                format!("signed-trailer-crc32 {n} 7\n"),
                signed(Some(&crc_line)),
            ),
        ),
        (
            "unsigned".into(),
            with(format!("unsigned {n} 3\n"), unsigned(&crc_line)),
        ),
        (
            "unsigned_crc32".into(),
            with(format!("unsigned-crc32 {n} 11\n"), unsigned(&crc_line)),
        ),
        (
            "unsigned_short".into(),
            with(format!("unsigned {} 2\n", n + 1), unsigned(&crc_line)),
        ),
    ]
}

fn complete_docs() -> Vec<(String, String)> {
    vec![
            (
                "two_parts".into(),
                "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>".into(),
            ),
            ("gateway_written".into(), xml::complete_xml(&["e1".into(), "e&2".into()])),
            (
                "out_of_order".into(),
                "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>x</ETag></Part><Part><PartNumber>1</PartNumber><ETag>y</ETag></Part></CompleteMultipartUpload>".into(),
            ),
        ]
}

fn tagging_docs() -> Vec<(String, String)> {
    vec![
            (
                "boto3".into(),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag><Tag><Key>owner</Key><Value>a b+c=d:e/f@g_\u{fc}</Value></Tag></TagSet></Tagging>".into(),
            ),
            (
                "gateway_written".into(),
                xml::tagging_xml(&[("k<1>".into(), String::new()), ("\u{1}ctl".into(), "&v".into())]),
            ),
            ("empty_set".into(), "<Tagging><TagSet/></Tagging>".into()),
            (
                "cdata_and_empty_value".into(),
                "<Tagging><TagSet><Tag><Key><![CDATA[a&b]]></Key><Value/></Tag></TagSet></Tagging>".into(),
            ),
        ]
}

fn delete_docs() -> Vec<(String, String)> {
    vec![
            (
                "quiet_versions".into(),
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key>a/b.txt</Key></Object><Object><Key>c &amp; d</Key><VersionId>v1</VersionId></Object></Delete>".into(),
            ),
            (
                "gateway_written".into(),
                xml::delete_xml(false, &[("k<1>".into(), None), ("\u{1}ctl".into(), Some("v".into()))]),
            ),
            (
                "cdata_and_entities".into(),
                "<Delete><Object><Key><![CDATA[x]]>&#x41;&lt;</Key></Object></Delete>".into(),
            ),
        ]
}

fn policies() -> Vec<(String, String)> {
    vec![
            (
                "every_condition".into(),
                r#"{"expiration": "2023-11-15T00:00:00.000Z", "conditions": [
  {"bucket": "bkt"}, ["starts-with", "$key", "user/alice/"], {"acl": "public-read"},
  ["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 10485760],
  {"success_action_status": "201"}, ["eq", "$x-amz-meta-tag", "holiday"],
  {"x-amz-credential": "AKIDEXAMPLE/20231114/us-east-1/s3/aws4_request"},
  {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-date": "20231114T221320Z"}]}"#
                    .into(),
            ),
            (
                "expired".into(),
                r#"{"expiration": "2020-01-01T00:00:00Z", "conditions": [{"bucket": "bkt"}]}"#.into(),
            ),
            (
                "covers_all".into(),
                r#"{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [["starts-with", "$key", ""], ["starts-with", "$Content-Type", ""], ["starts-with", "$x-amz-meta-tag", ""], ["starts-with", "$success_action_status", ""]]}"#.into(),
            ),
        ]
}

fn forms() -> Vec<(String, Vec<u8>)> {
    let with = |body: Vec<u8>| {
        let mut v = format!("{BOUNDARY}\n").into_bytes();
        v.extend_from_slice(&body);
        v
    };
    let policy = base64::engine::general_purpose::STANDARD.encode(
            r#"{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [{"bucket": "b"}, ["starts-with", "$key", "up/"]]}"#,
        );
    let date = NOW.date_stamp();
    let key = sigv4::signing_key(&SecretKey::new(SECRET), &date, "us-east-1", "s3");
    let sig = sigv4::sign(&key, &policy).to_hex();
    let credential = format!("{AKID}/{date}/us-east-1/s3/aws4_request");
    let amz_date = NOW.amz_date();
    vec![
        (
            "anonymous".into(),
            with(form_body(
                BOUNDARY,
                &[("key", "up/${filename}")],
                "a.txt",
                b"file data",
            )),
        ),
        (
            "signed_v4".into(),
            with(form_body(
                BOUNDARY,
                &[
                    ("key", "up/${filename}"),
                    ("policy", &policy),
                    ("x-amz-algorithm", sigv4::ALGORITHM),
                    ("x-amz-credential", &credential),
                    ("x-amz-date", &amz_date),
                    ("x-amz-signature", &sig),
                ],
                "photo.jpg",
                b"\xff\xd8JPEG\r\n--XyZ",
            )),
        ),
        (
            "empty_file".into(),
            with(form_body(
                BOUNDARY,
                &[("key", "k"), ("Content-Type", "text/plain")],
                "e",
                b"",
            )),
        ),
    ]
}

fn configs() -> Vec<(String, String)> {
    vec![
            ("worker_demo".into(), include_str!("../../worker/demo.toml").into()),
            (
                "toml".into(),
                r#"region = "us-east-1"

[[buckets]]
name = "public-data"
backend_type = "s3"
anonymous_access = true
[buckets.backend_options]
endpoint = "http://127.0.0.1:8333"
bucket_name = "backing"
region = "us-east-1"
access_key_id = "seaweed"
secret_access_key = "seaweedsecret"

[[buckets]]
name = "team-*"
backend_type = "s3"
backend_prefix = "teams/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:8333"
bucket_name = "backing"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
principal_name = "alice"
[[credentials.allowed_scopes]]
bucket = "public-data"
prefixes = ["alice/"]
actions = ["get_object", "put_object", "list_bucket"]

[[roles]]
role_id = "ci"
trusted_oidc_issuers = ["https://token.actions.githubusercontent.com"]
required_audiences = ["sts.example.com"]
subject_conditions = ["repo:org/*"]
max_session_duration_secs = 3600
[[roles.allowed_scopes]]
bucket = "public-data"
prefixes = ["{sub}/"]
actions = ["get_object"]
"#
                .into(),
            ),
            (
                "json".into(),
                r#"{"buckets": [{"name": "data", "backend_type": "s3", "anonymous_access": false,
  "backend_options": {"endpoint": "https://s3.example.com", "bucket_name": "real", "region": "eu-west-1"},
  "cors": [{"allowed_origins": ["https://app.example.com"], "allowed_methods": ["GET", "PUT"]}]}],
 "credentials": [{"access_key_id": "AK", "secret_access_key": "SK", "enabled": false}],
 "allow_sigv2": false, "path_mapping": {"segments": 2, "separator": ":"}}"#
                    .into(),
            ),
        ]
}

fn tokens() -> Vec<(String, String)> {
    let keys = session_keys();
    let c = claims_from("");
    let t = keys.seal(&c, &mut counter_rng(1)).unwrap();
    let previous = SessionKeys::new(&[2; 32], None)
        .unwrap()
        .seal(&c, &mut counter_rng(2))
        .unwrap();
    vec![
        ("current_key".into(), format!("{}\n{t}", c.access_key_id)),
        (
            "previous_key".into(),
            format!("{}\n{previous}", c.access_key_id),
        ),
        ("wrong_id".into(), format!("ASIAOTHER\n{t}")),
        (
            "claims".into(),
            "ASIAAAAAAAAAAAAAAAAA\nci\nsub\nhttps://issuer\nsession\nlogs-*\nteam/".into(),
        ),
    ]
}
