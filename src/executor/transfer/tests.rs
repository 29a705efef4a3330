//! The transfer driven by a fake transport: answers by URL, a record of what was sent and which
//! bodies were piped.

use std::collections::HashMap;

use http::{HeaderValue, StatusCode};

use super::*;
use crate::auth::sigv4::tests::{header_signed, SECRET};
use crate::config::{ConfigFormat, GatewayConfig};
use crate::gateway::{GatewayOptions, Plan, RequestContext};
use crate::s3::request::RequestHead;
use crate::time::Timestamp;

const NOW: Timestamp = Timestamp(1_700_000_000);

fn clock() -> Timestamp {
    NOW
}

fn no_random(_: &mut [u8]) {}

const WORLD: World = World {
    now: clock,
    random: no_random,
};

/// `src` and `dst` on two endpoints (a copy between them is streamed); `*` a pass-through bucket
/// on each of two accounts (a ListBuckets asks both).
fn gateway() -> Gateway {
    let text = format!(
        r#"
[[buckets]]
name = "src"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://src.test:9000"
bucket_name = "srcb"
access_key_id = "K1"
secret_access_key = "s1"

[[buckets]]
name = "dst"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://dst.test:9100"
bucket_name = "dstb"
access_key_id = "K2"
secret_access_key = "s2"

[[buckets]]
name = "data-*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://src.test:9000"
access_key_id = "K1"
secret_access_key = "s1"

[[buckets]]
name = "logs-*"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://dst.test:9100"
access_key_id = "K2"
secret_access_key = "s2"

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_object", "put_object", "list_bucket"]
"#
    );
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    Gateway::new(config, GatewayOptions::default()).unwrap()
}

fn ctx() -> RequestContext {
    RequestContext {
        now: NOW,
        request_id: "REQ".into(),
    }
}

fn plan(g: &Gateway, method: &str, target: &str, extra: &[(&str, &str)]) -> Plan {
    let head = RequestHead {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        target: target.into(),
        headers: header_signed(method, target, SECRET, NOW, "us-east-1", extra),
    };
    g.plan(&head, &ctx())
}

fn copy_plan(g: &Gateway) -> StreamedCopy {
    match plan(g, "PUT", "/dst/new", &[("x-amz-copy-source", "/src/old")]) {
        Plan::Copy(c) => *c,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    }
}

fn gather_plan(g: &Gateway) -> Gather {
    match plan(g, "GET", "/", &[]) {
        Plan::Gather(g) => *g,
        Plan::Respond(r) => panic!("{}", String::from_utf8_lossy(r.body())),
        other => panic!("{other:?}"),
    }
}

fn head(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn whole(status: u16, body: &str) -> Answer {
    Answer::Answer {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_string()),
    }
}

/// A transport: answers by host, and what it saw.
#[derive(Default)]
struct Fake {
    /// (host fragment, method) -> answer; an unlisted call fails as unreachable.
    answers: HashMap<(&'static str, Method), Answer>,
    /// Every call made: method, url, body.
    sent: Vec<(Method, String, String)>,
    /// The body the runtime keeps open (the id of the answer it came with).
    kept: Option<AnswerId>,
}

impl Fake {
    fn answer(mut self, host: &'static str, method: Method, answer: Answer) -> Self {
        self.answers.insert((host, method), answer);
        self
    }

    fn send(&mut self, call: Call, held: Option<AnswerId>) -> Answer {
        let body = match &call.body {
            CallBody::Empty => String::new(),
            CallBody::Bytes(b) => format!("bytes:{}", b.len()),
            CallBody::AnswerBody(id) if held == Some(*id) => format!("piped:{id:?}"),
            CallBody::AnswerBody(_) => return Answer::Failed("no copy source is open".into()),
        };
        self.sent
            .push((call.method.clone(), call.url.clone(), body));
        let found = self
            .answers
            .iter()
            .find(|((host, m), _)| call.url.contains(host) && *m == call.method)
            .map(|(_, a)| a);
        let answer = match found {
            None => Answer::Failed("connection refused".into()),
            Some(Answer::Opened { status, headers }) => Answer::Opened {
                status: *status,
                headers: headers.clone(),
            },
            Some(Answer::Answer {
                status,
                headers,
                body,
            }) => Answer::Answer {
                status: *status,
                headers: headers.clone(),
                body: body.clone(),
            },
            Some(Answer::Failed(why)) => Answer::Failed(why.clone()),
            Some(Answer::R2(_)) => Answer::Failed("no R2 here".into()),
        };
        if call.read == Read::Head && matches!(answer, Answer::Opened { .. }) {
            self.kept = Some(call.id);
        }
        answer
    }

    /// Drives `t` to its answer, as a runtime does.
    fn run(&mut self, mut t: Transfer<'_>) -> Response<Bytes> {
        for _ in 0..20 {
            let held = self.kept.take();
            match t.step() {
                Move::Send(call) => {
                    let answer = self.send(call, held);
                    t.answered(answer);
                }
                Move::SendAll(calls) => {
                    let answers = calls.into_iter().map(|c| self.send(c, None)).collect();
                    t.answered_all(answers);
                }
                Move::R2(_) => {
                    t.answered(Answer::Failed("R2 bindings exist only in a Worker".into()));
                }
                Move::Done(resp) => return resp,
            }
        }
        panic!("the transfer never finished: {:?}", self.sent);
    }
}

fn text(resp: &Response<Bytes>) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

#[test]
fn a_copy_gets_the_source_and_pipes_its_body_into_the_destination_put() {
    let g = gateway();
    let mut fake = Fake::default()
        .answer(
            "src.test",
            Method::GET,
            Answer::Opened {
                status: StatusCode::OK,
                headers: head(&[("content-length", "5"), ("etag", "\"e1\"")]),
            },
        )
        .answer("dst.test", Method::PUT, {
            let mut a = whole(200, "");
            if let Answer::Answer { headers, .. } = &mut a {
                headers.insert("etag", HeaderValue::from_static("\"e1\""));
            }
            a
        });
    let resp = fake.run(Transfer::copy(copy_plan(&g), WORLD, false));
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    assert!(text(&resp).contains("<CopyObjectResult"), "{}", text(&resp));
    assert_eq!(fake.sent.len(), 2, "{:?}", fake.sent);
    assert_eq!(fake.sent[0].0, Method::GET);
    assert!(fake.sent[0].1.contains("src.test"));
    assert_eq!(fake.sent[1].0, Method::PUT);
    assert!(fake.sent[1].1.contains("dst.test"));
    // The PUT's body is the GET's answer body, by handle.
    assert_eq!(fake.sent[1].2, "piped:AnswerId(1)");
}

#[test]
fn a_copy_whose_source_fails_answers_bad_gateway_without_writing() {
    let g = gateway();
    let mut fake = Fake::default();
    let resp = fake.run(Transfer::copy(copy_plan(&g), WORLD, false));
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{}", text(&resp));
    assert!(
        text(&resp).contains("<Code>BadGateway</Code>"),
        "{}",
        text(&resp)
    );
    // The transport's words (which may name the backend) stay in the log.
    assert!(
        !text(&resp).contains("connection refused"),
        "{}",
        text(&resp)
    );
    assert_eq!(fake.sent.len(), 1, "{:?}", fake.sent);
}

#[test]
fn a_copy_whose_source_is_missing_answers_no_such_key() {
    let g = gateway();
    let mut fake = Fake::default().answer(
        "src.test",
        Method::GET,
        Answer::Opened {
            status: StatusCode::NOT_FOUND,
            headers: HeaderMap::new(),
        },
    );
    let resp = fake.run(Transfer::copy(copy_plan(&g), WORLD, false));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{}", text(&resp));
    assert!(
        text(&resp).contains("<Code>NoSuchKey</Code>"),
        "{}",
        text(&resp)
    );
    assert_eq!(fake.sent.len(), 1, "{:?}", fake.sent);
}

#[test]
fn a_copy_the_destination_refuses_answers_the_destinations_error() {
    let g = gateway();
    let mut fake = Fake::default()
        .answer(
            "src.test",
            Method::GET,
            Answer::Opened {
                status: StatusCode::OK,
                headers: head(&[("content-length", "5")]),
            },
        )
        .answer(
            "dst.test",
            Method::PUT,
            whole(
                412,
                "<Error><Code>PreconditionFailed</Code><Message>no</Message></Error>",
            ),
        );
    let resp = fake.run(Transfer::copy(copy_plan(&g), WORLD, false));
    assert_eq!(
        resp.status(),
        StatusCode::PRECONDITION_FAILED,
        "{}",
        text(&resp)
    );
    assert!(
        text(&resp).contains("PreconditionFailed"),
        "{}",
        text(&resp)
    );
    assert_eq!(fake.sent.len(), 2, "{:?}", fake.sent);
}

#[test]
fn a_copy_through_an_r2_binding_is_refused_where_there_are_none() {
    let mut copy = copy_plan(&gateway());
    copy.dest.store = crate::gateway::copy::Store::R2 {
        binding: "DATA".into(),
    };
    let mut fake = Fake::default();
    let resp = fake.run(Transfer::copy(copy, WORLD, false));
    assert_eq!(
        resp.status(),
        StatusCode::NOT_IMPLEMENTED,
        "{}",
        text(&resp)
    );
    assert!(fake.sent.is_empty(), "{:?}", fake.sent);
}

#[test]
fn a_copy_into_an_r2_binding_puts_the_opened_source_by_handle() {
    let mut copy = copy_plan(&gateway());
    copy.dest.store = crate::gateway::copy::Store::R2 {
        binding: "DATA".into(),
    };
    let mut t = Transfer::copy(copy, WORLD, true);
    let Move::Send(get) = t.step() else {
        panic!("the source is opened first")
    };
    assert_eq!(get.read, Read::Head);
    t.answered(Answer::Opened {
        status: StatusCode::OK,
        headers: head(&[("content-length", "5")]),
    });
    match t.step() {
        Move::R2(r2) => {
            assert_eq!(r2.binding, "DATA");
            assert!(matches!(r2.call, R2Call::Put { .. }), "{r2:?}");
            assert_eq!(r2.body, Some((get.id, 5)));
            assert_eq!(r2.keep, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_gather_sends_every_call_at_once_and_lists_what_answered() {
    let g = gateway();
    let listing = "<ListAllMyBucketsResult><Buckets><Bucket><Name>data-one</Name>\
                   <CreationDate>2024-05-06T07:08:09.000Z</CreationDate></Bucket></Buckets>\
                   </ListAllMyBucketsResult>";
    let mut t = Transfer::gather(&g, gather_plan(&g), WORLD);
    let Move::SendAll(calls) = t.step() else {
        panic!("a gather sends all its calls at once")
    };
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|c| c.read
        == Read::Whole {
            limit: GATHER_LIMIT
        }));
    assert!(calls.iter().all(|c| matches!(c.body, CallBody::Empty)));
    // One backend answers; the other fails and is left out.
    let answers = calls
        .iter()
        .map(|c| {
            if c.url.contains("src.test") {
                whole(200, listing)
            } else {
                Answer::Failed("connection refused".into())
            }
        })
        .collect();
    t.answered_all(answers);
    let Move::Done(resp) = t.step() else {
        panic!("the gather is done")
    };
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    let body = text(&resp);
    assert!(body.contains("<Name>data-one</Name>"), "{body}");
    assert!(body.contains("<Name>src</Name>"), "{body}");
}

#[test]
fn a_transfer_asked_past_its_end_answers_an_internal_error() {
    let g = gateway();
    let mut t = Transfer::gather(&g, gather_plan(&g), WORLD);
    let _ = t.step();
    let Move::Done(resp) = t.step() else {
        panic!("asking before the answers is refused")
    };
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn work_of_an_answer_carries_server_timing_and_of_an_input_request_is_an_internal_error() {
    let g = gateway();
    let ok = Plan::Respond(Response::new(Bytes::new()));
    let request = (&Method::GET, "REQ");
    let ms = std::time::Duration::from_millis(3);
    match Work::of(ok, &g, (WORLD, false), ms, request) {
        Work::Respond(resp) => assert!(resp.headers().contains_key("server-timing")),
        other => panic!("{other:?}"),
    }
    let need = Plan::NeedBody { limit: 1 };
    match Work::of(need, &g, (WORLD, false), ms, request) {
        Work::Respond(resp) => assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR),
        other => panic!("{other:?}"),
    }
    match Work::of(
        Plan::Copy(Box::new(copy_plan(&g))),
        &g,
        (WORLD, false),
        ms,
        request,
    ) {
        Work::Transfer(mut t) => assert!(matches!(t.step(), Move::Send(_))),
        other => panic!("{other:?}"),
    }
}
