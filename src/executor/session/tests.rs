//! The session driven by a fake transport: a table of answers by URL, a body, a clock.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

use super::*;
use crate::auth::secret::SecretKey;
use crate::auth::sigv4::tests::{header_signed, SECRET};
use crate::config::{ConfigFormat, GatewayConfig};
use crate::executor::Caches;
use crate::gateway::{ForwardBody, GatewayOptions};
use crate::oidc::OidcProvider;
use crate::sts::jwt::tests::{good_claims, jwt, TestKey, ISSUER, NOW};
use crate::sts::token::SessionKeys;

thread_local! {
    /// The fake clock [`WORLD`] reads; each test runs on its own thread.
    static CLOCK: Cell<i64> = const { Cell::new(NOW.0) };
}

fn clock() -> Timestamp {
    Timestamp(CLOCK.with(Cell::get))
}

fn set_clock(t: i64) {
    CLOCK.with(|c| c.set(t));
}

fn zeros(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = u8::try_from(i % 251).unwrap_or(0);
    }
}

const WORLD: World = World {
    now: clock,
    random: zeros,
};

const CONFIG: &str = r#"
[[buckets]]
name = "data"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "backend"
access_key_id = "BACKENDKEY"
secret_access_key = "backend-secret-value"

[[buckets]]
name = "fed"
backend_type = "s3"
anonymous_access = true
[buckets.backend_options]
endpoint = "http://127.0.0.1:9000"
bucket_name = "bk"
auth_type = "oidc"
role_arn = "arn:aws:iam::123456789012:role/gw"
sts_endpoint = "http://127.0.0.1:5000"
oidc_audience = "sts.amazonaws.com"

[[buckets]]
name = "r2"
backend_type = "r2"
anonymous_access = true
[buckets.backend_options]
binding = "DATA"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "put_object", "delete_object", "list_bucket"]

[[roles]]
role_id = "ci"
trusted_oidc_issuers = ["https://token.actions.githubusercontent.com"]
required_audiences = ["sts.amazonaws.com"]
subject_conditions = ["repo:org/*"]
[[roles.allowed_scopes]]
bucket = "data"
actions = ["get_object"]
"#;

fn gateway() -> Gateway {
    let provider = OidcProvider::from_env_values(
        "https://gw.example.com",
        include_str!("../../sts/testdata/provider_pkcs8_test_only.pem"),
        None,
    )
    .unwrap();
    Gateway::new(
        GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap(),
        GatewayOptions {
            session_keys: Some(SessionKeys::new(&[5; 32], None).unwrap()),
            oidc_provider: Some(Arc::new(provider)),
            ..GatewayOptions::default()
        },
    )
    .unwrap()
}

fn ctx() -> RequestContext {
    RequestContext {
        now: NOW,
        request_id: "REQ".into(),
    }
}

/// A runtime that answers every [`Step`] from tables and records what it was asked.
#[derive(Default)]
struct Fake<'f> {
    /// Answers by URL prefix.
    answers: HashMap<String, Fetched>,
    /// The request body: whole for ReadBody, in 7-byte chunks for ReadForm.
    body: Option<BodyRead>,
    form: Vec<u8>,
    /// Form bytes the session took before it said stop.
    form_taken: usize,
    /// URLs fetched, in order.
    fetched: Vec<String>,
    waits: usize,
    /// Run between two steps (another request's doing while this one waits).
    on_wait: Option<Box<dyn FnMut() + 'f>>,
}

impl Fake<'_> {
    fn answer(mut self, url: &str, status: u16, body: &str) -> Self {
        self.answers
            .insert(url.to_string(), Ok((status, Bytes::from(body.to_string()))));
        self
    }

    fn fetch(&mut self, request: &SmallRequest) -> Fetched {
        self.fetched.push(request.url.clone());
        self.answers
            .iter()
            .find(|(prefix, _)| request.url.starts_with(prefix.as_str()))
            .map_or_else(
                || Err(FetchError::Unreachable("no route".into())),
                |(_, a)| a.clone(),
            )
    }

    fn drive(&mut self, mut s: Session<'_>) -> Outcome {
        for _ in 0..100 {
            match s.step() {
                Step::ReadBody { .. } => s.body(self.body.take().expect("a body to read")),
                Step::ReadForm => {
                    let form = std::mem::take(&mut self.form);
                    let mut stopped = false;
                    for c in form.chunks(7) {
                        self.form_taken += c.len();
                        if s.form_chunk(c) {
                            stopped = true;
                            break;
                        }
                    }
                    if !stopped {
                        s.form_end();
                    }
                }
                Step::Fetch(request) => {
                    let answer = self.fetch(&request);
                    s.fetched(answer);
                }
                Step::Wait(pause) => {
                    assert_eq!(pause, WAIT_POLL);
                    self.waits += 1;
                    if let Some(f) = self.on_wait.as_mut() {
                        f();
                    }
                    s.waited();
                }
                Step::Done(outcome) => return outcome,
            }
        }
        panic!("the session did not end");
    }
}

fn run(fake: &mut Fake<'_>, g: &Gateway, caches: &Caches, head: &RequestHead) -> Outcome {
    let ctx = ctx();
    fake.drive(Session::new(g, caches, WORLD, head, &ctx))
}

/// The status and `<Code>` of an answer.
fn answered(plan: &Plan) -> (StatusCode, String) {
    let Plan::Respond(r) = plan else {
        panic!("expected an answer, got {plan:?}")
    };
    let text = String::from_utf8_lossy(r.body()).into_owned();
    let code = text
        .split("<Code>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("")
        .to_string();
    (r.status(), code)
}

fn signed(method: &str, target: &str) -> RequestHead {
    RequestHead {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        target: target.into(),
        headers: header_signed(method, target, SECRET, NOW, "us-east-1", &[]),
    }
}

// --- DeleteObjects: the body ---

const DELETE: &str = "<Delete><Object><Key>a</Key></Object></Delete>";

#[test]
fn delete_objects_reads_its_body_and_forwards_the_gateways_own() {
    let g = gateway();
    let mut fake = Fake {
        body: Some(BodyRead::Read(Bytes::from_static(DELETE.as_bytes()))),
        ..Fake::default()
    };
    let out = run(
        &mut fake,
        &g,
        &Caches::default(),
        &signed("POST", "/data?delete"),
    );
    let Plan::Forward(f) = out.plan else {
        panic!("{:?}", out.plan)
    };
    let ForwardBody::Bytes(sent) = &f.body else {
        panic!("expected the gateway's body")
    };
    assert!(String::from_utf8_lossy(sent).contains("<Key>a</Key>"));
    assert!(out.drain_body.is_none() && out.refresh.is_none());
}

#[test]
fn delete_objects_with_a_body_too_large_is_malformed_xml() {
    let g = gateway();
    let mut fake = Fake {
        body: Some(BodyRead::TooLarge),
        ..Fake::default()
    };
    let out = run(
        &mut fake,
        &g,
        &Caches::default(),
        &signed("POST", "/data?delete"),
    );
    assert_eq!(
        answered(&out.plan),
        (StatusCode::BAD_REQUEST, "MalformedXML".into())
    );
}

#[test]
fn delete_objects_with_a_broken_body_is_an_incomplete_body() {
    let g = gateway();
    let mut fake = Fake {
        body: Some(BodyRead::Broken("connection reset".into())),
        ..Fake::default()
    };
    let out = run(
        &mut fake,
        &g,
        &Caches::default(),
        &signed("POST", "/data?delete"),
    );
    assert_eq!(answered(&out.plan).1, "IncompleteBody");
}

#[test]
fn asking_past_the_end_is_a_500_not_a_panic() {
    let g = gateway();
    let caches = Caches::default();
    let (head, ctx) = (signed("GET", "/r2/k"), ctx());
    let mut s = Session::new(&g, &caches, WORLD, &head, &ctx);
    assert!(matches!(s.step(), Step::Done(_)));
    let Step::Done(again) = s.step() else {
        panic!("expected the end")
    };
    assert_eq!(answered(&again.plan).0, StatusCode::INTERNAL_SERVER_ERROR);
}

// --- POST Object: the form ---

const B: &str = "bNdRy";

/// Form fields signed with the test credential for `key`.
fn signed_fields(key: &str) -> Vec<(String, String)> {
    let cred = "AKIDEXAMPLE/20231114/us-east-1/s3/aws4_request";
    let doc = format!(
        r#"{{"expiration": "2023-11-15T00:00:00Z", "conditions": [{{"bucket": "data"}}, ["starts-with", "$key", ""], {{"x-amz-algorithm": "AWS4-HMAC-SHA256"}}, {{"x-amz-credential": "{cred}"}}, {{"x-amz-date": "20231114T220000Z"}}]}}"#
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
    let signing =
        crate::auth::sigv4::signing_key(&SecretKey::new(SECRET), "20231114", "us-east-1", "s3");
    let sig = crate::auth::sigv4::sign(&signing, &b64).to_hex();
    [
        ("key", key),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", cred),
        ("x-amz-date", "20231114T220000Z"),
        ("policy", &b64),
        ("x-amz-signature", &sig),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn form_upload(fields: &[(String, String)], file: &[u8]) -> (RequestHead, Vec<u8>) {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = crate::post::tests::body(&refs, "cat.txt", file);
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static("gw.test"));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={B}")).unwrap(),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let head = RequestHead {
        method: Method::POST,
        target: "/data".into(),
        headers,
    };
    (head, body)
}

#[test]
fn an_accepted_form_is_forwarded_and_nothing_is_drained() {
    let g = gateway();
    let file = vec![b'x'; 4096];
    let (head, body) = form_upload(&signed_fields("up/cat.txt"), &file);
    let mut fake = Fake {
        form: body.clone(),
        ..Fake::default()
    };
    let out = run(&mut fake, &g, &Caches::default(), &head);
    let Plan::Forward(f) = &out.plan else {
        panic!("{:?}", out.plan)
    };
    assert!(
        f.url.contains("/bk/") || f.url.contains("up/cat.txt"),
        "{}",
        f.url
    );
    // A small body is read whole; a larger one would stop at the file.
    assert!(fake.form_taken <= body.len());
    assert_eq!(out.drain_body, None);
}

#[test]
fn a_refused_form_asks_the_runtime_to_drain_the_rest() {
    let g = gateway();
    // Unsigned: anonymous, and the bucket takes no anonymous writes.
    let fields = vec![("key".to_string(), "up/cat.txt".to_string())];
    let (head, body) = form_upload(&fields, b"abc");
    let mut fake = Fake {
        form: body,
        ..Fake::default()
    };
    let out = run(&mut fake, &g, &Caches::default(), &head);
    assert_eq!(answered(&out.plan).1, "AccessDenied");
    assert_eq!(out.drain_body, Some(DRAIN_LIMIT));
}

// --- STS: the issuer's JWKS ---

const DISCOVERY: &str =
    "https://token.actions.githubusercontent.com/.well-known/openid-configuration";
const KEYS: &str = "https://token.actions.githubusercontent.com/keys";

fn sts_request(token: &str) -> (RequestHead, BodyRead) {
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=ci&RoleSessionName=build-1&WebIdentityToken={token}"
    );
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static("gw.test"));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let head = RequestHead {
        method: Method::POST,
        target: "/".into(),
        headers,
    };
    (head, BodyRead::Read(Bytes::from(body)))
}

fn issuer(keys: &[(&TestKey, &str)]) -> Fake<'static> {
    let jwks = json!({ "keys": keys.iter().map(|(k, kid)| k.jwk(kid)).collect::<Vec<_>>() });
    Fake::default()
        .answer(
            DISCOVERY,
            200,
            &json!({ "issuer": ISSUER, "jwks_uri": KEYS }).to_string(),
        )
        .answer(KEYS, 200, &jwks.to_string())
}

/// One AssumeRoleWithWebIdentity with a token signed by `key` as `kid`; returns the status and
/// the URLs fetched.
fn assume_role(
    fake: &mut Fake<'_>,
    g: &Gateway,
    caches: &Caches,
    key: &TestKey,
    kid: &str,
) -> (StatusCode, Vec<String>) {
    let mut claims = good_claims();
    claims["aud"] = json!("sts.amazonaws.com");
    let (head, body) = sts_request(&jwt(key, "ES256", Some(kid), &claims));
    fake.body = Some(body);
    fake.fetched.clear();
    let out = run(fake, g, caches, &head);
    let Plan::Respond(r) = out.plan else {
        panic!("{:?}", out.plan)
    };
    let status = r.status();
    if status == StatusCode::OK {
        assert!(String::from_utf8_lossy(r.body()).contains("<AccessKeyId>"));
    }
    (status, std::mem::take(&mut fake.fetched))
}

#[test]
fn sts_fetches_the_jwks_once_then_serves_from_the_cache() {
    let (g, caches, key) = (gateway(), Caches::default(), TestKey::p256());
    let mut fake = issuer(&[(&key, "k1")]);
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k1");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, [DISCOVERY, KEYS]);
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k1");
    assert_eq!(status, StatusCode::OK);
    assert!(fetched.is_empty(), "{fetched:?}");
}

#[test]
fn an_unknown_key_refetches_the_jwks_once_and_the_refetch_is_rate_limited() {
    let (g, caches, key) = (gateway(), Caches::default(), TestKey::p256());
    let mut fake = issuer(&[(&key, "k1")]);
    assert_eq!(
        assume_role(&mut fake, &g, &caches, &key, "k1").0,
        StatusCode::OK
    );
    // The issuer rotated its keys; past the rate limit the session refetches them once.
    set_clock(NOW.0 + crate::sts::fetch::REFRESH_INTERVAL_SECS + 1);
    let mut fake = issuer(&[(&key, "k1"), (&key, "k2")]);
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k2");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, [DISCOVERY, KEYS]);
    // Right after a fetch another unknown key fetches nothing and is refused.
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k3");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(fetched.is_empty(), "{fetched:?}");
}

#[test]
fn an_issuer_that_cannot_be_reached_is_tried_twice_then_an_sts_error() {
    let (g, caches, key) = (gateway(), Caches::default(), TestKey::p256());
    let mut fake = Fake::default();
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k1");
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{status}"
    );
    // No JWKS cached yet: the retry for the token's key is not rate-limited.
    assert_eq!(fetched, [DISCOVERY, DISCOVERY]);
}

// --- Federated backend credentials ---

const STS_ENDPOINT: &str = "http://127.0.0.1:5000";

fn aws_answer(key_id: &str, expires: Timestamp) -> String {
    format!(
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
         <AccessKeyId>{key_id}</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>\
         <SessionToken>temp-token</SessionToken><Expiration>{}</Expiration>\
         </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        expires.iso8601()
    )
}

/// A GET through the federated bucket: the key id it was signed with, and the outcome.
fn federated_get(fake: &mut Fake<'_>, g: &Gateway, caches: &Caches) -> (String, Outcome) {
    fake.fetched.clear();
    let mut out = run(fake, g, caches, &signed("GET", "/fed/k"));
    let plan = std::mem::replace(&mut out.plan, Plan::Respond(Default::default()));
    let Plan::Forward(f) = plan else {
        panic!("{plan:?}")
    };
    let id = ["ASIAOLD", "ASIANEW"]
        .into_iter()
        .find(|id| f.url.contains(id))
        .unwrap_or_else(|| panic!("{}", f.url));
    (id.to_string(), out)
}

#[test]
fn federated_credentials_are_exchanged_cached_and_refreshed_after_the_answer() {
    let (g, caches) = (gateway(), Caches::default());
    let expires = Timestamp(NOW.0 + 3600);
    let mut fake = Fake::default().answer(STS_ENDPOINT, 200, &aws_answer("ASIAOLD", expires));
    let (id, out) = federated_get(&mut fake, &g, &caches);
    assert_eq!((id.as_str(), fake.fetched.len()), ("ASIAOLD", 1));
    assert!(out.refresh.is_none());
    // Cached: no exchange.
    let (id, _) = federated_get(&mut fake, &g, &caches);
    assert_eq!((id.as_str(), fake.fetched.len()), ("ASIAOLD", 0));
    // Near expiry: signed with the current ones, refreshed after the answer.
    set_clock(expires.0 - 200);
    let (id, out) = federated_get(&mut fake, &g, &caches);
    assert_eq!((id.as_str(), fake.fetched.len()), ("ASIAOLD", 0));
    let mut refresh = out.refresh.expect("a refresh to run after the answer");
    let fresh = aws_answer("ASIANEW", Timestamp(NOW.0 + 7200));
    let request = refresh.next().expect("the exchange's call");
    assert!(request.url.starts_with(STS_ENDPOINT), "{}", request.url);
    refresh.fetched(&caches, Ok((200, Bytes::from(fresh))));
    assert!(refresh.next().is_none());
    let (id, out) = federated_get(&mut fake, &g, &caches);
    assert_eq!((id.as_str(), fake.fetched.len()), ("ASIANEW", 0));
    assert!(out.refresh.is_none());
}

#[test]
fn a_request_waits_for_the_exchange_another_one_runs() {
    let (g, caches) = (gateway(), Caches::default());
    let (head, ctx) = (signed("GET", "/fed/k"), ctx());
    // The first request starts the exchange and has not finished it.
    let mut first = Session::new(&g, &caches, WORLD, &head, &ctx);
    let Step::Fetch(_) = first.step() else {
        panic!("expected the exchange")
    };
    // The second waits; once the first is answered it signs with what it got.
    let first = std::cell::RefCell::new(Some(first));
    let mut fake = Fake {
        on_wait: Some(Box::new(move || {
            if let Some(mut s) = first.borrow_mut().take() {
                let answer = aws_answer("ASIAOLD", Timestamp(NOW.0 + 3600));
                s.fetched(Ok((200, Bytes::from(answer))));
            }
        })),
        ..Fake::default()
    };
    let (id, _) = federated_get(&mut fake, &g, &caches);
    assert_eq!((id.as_str(), fake.waits), ("ASIAOLD", 1));
    assert!(fake.fetched.is_empty());
}

#[test]
fn a_failed_exchange_is_unavailable_and_not_retried_within_the_backoff() {
    let (g, caches) = (gateway(), Caches::default());
    let mut fake = Fake::default();
    fake.answers
        .insert(STS_ENDPOINT.to_string(), Err(FetchError::TimedOut));
    let out = run(&mut fake, &g, &caches, &signed("GET", "/fed/k"));
    assert_eq!(answered(&out.plan).0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(fake.fetched.len(), 1);
    fake.fetched.clear();
    let out = run(&mut fake, &g, &caches, &signed("GET", "/fed/k"));
    assert_eq!(answered(&out.plan).0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(fake.fetched.is_empty(), "{:?}", fake.fetched);
}

#[test]
fn a_jwks_fetch_that_fails_later_keeps_serving_the_last_keys() {
    let (g, caches, key) = (gateway(), Caches::default(), TestKey::p256());
    let mut fake = issuer(&[(&key, "k1")]);
    assert_eq!(
        assume_role(&mut fake, &g, &caches, &key, "k1").0,
        StatusCode::OK
    );
    // Past the TTL the issuer answers 503: the last keys still verify.
    set_clock(NOW.0 + crate::sts::fetch::JWKS_TTL_SECS + 1);
    let mut fake = Fake::default().answer(DISCOVERY, 503, "down");
    let (status, fetched) = assume_role(&mut fake, &g, &caches, &key, "k1");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, [DISCOVERY]);
}

// --- Plans that need nothing ---

#[test]
fn an_r2_plan_passes_through_untouched() {
    let g = gateway();
    let mut fake = Fake::default();
    let out = run(&mut fake, &g, &Caches::default(), &signed("GET", "/r2/k"));
    assert!(matches!(out.plan, Plan::R2(_)), "{:?}", out.plan);
    assert!(fake.fetched.is_empty());
}
