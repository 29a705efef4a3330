//! The Cloudflare Worker runtime: a `fetch` export over the same core as the native server.
//!
//! - The settings, the config snapshot and the [`Gateway`](crate::Gateway) built from it live
//!   in the core's [`Isolate`](crate::executor::Isolate), one per isolate ([`state`]); nothing
//!   is parsed per request.
//! - Bodies stay `ReadableStream`s: a forwarded upload is piped into a `FixedLengthStream` of the
//!   wire length (S3 refuses chunked uploads), through a verifying `TransformStream` only when the
//!   signature covers the payload; a download is handed to the client's `Response` untouched.
//! - A panic answers every request in flight on this instance with a 500 `InternalError` (the
//!   `worker` crate's shim then resets the instance before the next request), so a bug costs the
//!   requests it hit, never a hung client or a dead isolate.

mod body;
mod js;
mod r2;
mod state;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::executor::{
    content_length, no_answer_within, panicked, Answer, AnswerId, BodyRead, Caches, Call, CallBody,
    Move, Outcome, Read, Session, Step, Transfer, Work, World,
};
use crate::gateway::{
    add_server_timing, error_response, Forward, ForwardBody, ResponseMode, Timing,
};
use crate::s3::S3Error;
use crate::time::Timestamp;
use crate::{RequestContext, RequestHead};

use body::Slot;

/// A request whose answer has not been handed to the runtime yet.
struct Pending {
    resolve: Function,
    method: Method,
    request_id: String,
}

thread_local! {
    static IN_FLIGHT: RefCell<HashMap<u64, Pending>> = RefCell::default();
    static NEXT: RefCell<u64> = const { RefCell::new(0) };
    static HOOKED: RefCell<bool> = const { RefCell::new(false) };
}

/// The clock and random source the core's sessions use.
const WORLD: World = World {
    now,
    random: js::random_bytes,
};

/// The Worker's fetch handler (found by worker-build's shim by name).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> Promise {
    install_once();
    let ctx = worker::Context::new(ctx);
    let id = NEXT.with(|n| {
        let mut n = n.borrow_mut();
        *n += 1;
        *n
    });
    let request_id = state::isolate(&env).request_id();
    let method = Method::from_bytes(req.method().as_bytes()).unwrap_or(Method::GET);
    let pending_id = request_id.clone();
    let pending_method = method.clone();
    let promise = Promise::new(&mut |resolve, _reject| {
        IN_FLIGHT.with(|m| {
            m.borrow_mut().insert(
                id,
                Pending {
                    resolve,
                    method: pending_method.clone(),
                    request_id: pending_id.clone(),
                },
            );
        });
    });
    wasm_bindgen_futures::spawn_local(async move {
        let resp = handle(req, env, ctx, request_id).await;
        let pending = IN_FLIGHT.with(|m| m.borrow_mut().remove(&id));
        if let Some(p) = pending {
            let _ = p.resolve.call1(&JsValue::NULL, &resp);
        }
    });
    promise
}

/// Chains a panic hook (after the `worker` crate's, which marks the instance for reset) that
/// answers every request in flight, and sets up logging.
fn install_once() {
    if HOOKED.with(|h| h.replace(true)) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        answer_in_flight_after_panic();
        previous(info);
    }));
    let _ = log::set_logger(&CONSOLE);
    log::set_max_level(log::LevelFilter::Info);
}

fn answer_in_flight_after_panic() {
    let drained: Vec<Pending> = IN_FLIGHT.with(|m| match m.try_borrow_mut() {
        Ok(mut m) => m.drain().map(|(_, p)| p).collect(),
        Err(_) => Vec::new(),
    });
    for p in drained {
        web_sys::console::error_1(&JsValue::from_str(&format!(
            "request {}: the gateway panicked; answering 500",
            p.request_id
        )));
        let resp = to_js_response(panicked(&p.method, &p.request_id), None);
        if let Ok(resp) = resp {
            let _ = p.resolve.call1(&JsValue::NULL, &resp);
        }
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn since(t0: f64) -> Duration {
    Duration::from_secs_f64(((now_ms() - t0) / 1000.0).max(0.0))
}

async fn handle(
    req: web_sys::Request,
    env: Env,
    ctx: worker::Context,
    request_id: String,
) -> JsValue {
    match handle_inner(req, &env, &ctx, &request_id).await {
        Ok(resp) => resp.into(),
        Err(e) => {
            log::error!(
                "request {request_id}: {}",
                crate::auth::redact(&js::describe(&e))
            );
            let err = S3Error::internal("the gateway failed while building its response");
            to_js_response(error_response(&Method::GET, &err, &request_id), None)
                .map_or(JsValue::NULL, Into::into)
        }
    }
}

async fn handle_inner(
    req: web_sys::Request,
    env: &Env,
    ctx: &worker::Context,
    request_id: &str,
) -> Result<web_sys::Response, JsValue> {
    let head = request_head(&req)?;
    // The body is taken before the first await: the stream belongs to this request.
    let mut body = req.body();
    if panic_requested(env, &head) {
        panic!("panic requested by x-multistore-test-panic");
    }
    let gateway = match state::gateway(env, ctx).await {
        Ok(g) => g,
        Err(err) => return to_js_response(error_response(&head.method, &err, request_id), None),
    };
    let rctx = RequestContext {
        now: now(),
        request_id: request_id.to_string(),
    };
    let t0 = now_ms();
    let caches = state::isolate(env).caches().clone();
    let session = Session::new(&gateway, &caches, WORLD, &head, &rctx);
    let outcome = drive(session, &mut body, &caches, ctx).await;
    let plan_time = since(t0);
    let request = (&head.method, request_id);
    match Work::of(outcome.plan, &gateway, (WORLD, true), plan_time, request) {
        Work::Respond(resp) => to_js_response(resp, None),
        Work::Forward(fwd) => forward(*fwd, body, plan_time, backend_timeout(env)).await,
        Work::R2(plan) => r2::execute(*plan, env, body).await,
        Work::Transfer(transfer) => self::transfer(transfer, env, plan_time).await,
    }
}

/// Answers the session's steps until it hands out the plan; runs its credential refresh in
/// `waitUntil` and drains what it says to drain.
async fn drive(
    mut session: Session<'_>,
    body: &mut Option<web_sys::ReadableStream>,
    caches: &Arc<Caches>,
    ctx: &worker::Context,
) -> Outcome {
    let mut outcome = loop {
        match session.step() {
            Step::ReadBody { limit } => session.body(body::read_limited(body.take(), limit).await),
            Step::ReadForm => body::read_form(&mut session, body.as_ref()).await,
            Step::Fetch(request) => session.fetched(body::fetch_small(request).await),
            Step::Wait(pause) => {
                worker::Delay::from(pause).await;
                session.waited();
            }
            Step::Done(outcome) => break outcome,
        }
    };
    if let Some(mut refresh) = outcome.refresh.take() {
        let caches = caches.clone();
        ctx.wait_until(async move {
            while let Some(request) = refresh.next() {
                let fetched = body::fetch_small(request).await;
                refresh.fetched(&caches, fetched);
            }
        });
    }
    if let Some(limit) = outcome.drain_body {
        body::drain(body.take(), limit).await;
    }
    outcome
}

/// `BACKEND_TIMEOUT_SECONDS`: how long a backend has to answer once the request went out.
fn backend_timeout(env: &Env) -> Duration {
    state::isolate(env).backend_timeout()
}

/// The test hook: a request carrying `x-multistore-test-panic` panics, only when the
/// `ALLOW_TEST_PANIC` var is `true` (never in a deployed config).
fn panic_requested(env: &Env, head: &RequestHead) -> bool {
    head.headers.contains_key("x-multistore-test-panic")
        && state::var(env, "ALLOW_TEST_PANIC").as_deref() == Some("true")
}

/// Method, raw target and headers. The target is taken from the URL as the runtime received it.
fn request_head(req: &web_sys::Request) -> Result<RequestHead, JsValue> {
    let method = Method::from_bytes(req.method().as_bytes())
        .map_err(|_| JsValue::from_str("invalid method"))?;
    let url = req.url();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let target = match url[after_scheme..].find('/') {
        Some(i) => url[after_scheme + i..].to_string(),
        None => "/".to_string(),
    };
    let target = match target.find('#') {
        Some(i) => target[..i].to_string(),
        None => target,
    };
    let headers = header_map(&req.headers())?;
    Ok(RequestHead {
        method,
        target,
        headers,
    })
}

/// Executes a backend request: the client's body piped through (verified if signed), the
/// backend's body handed to the client untouched.
async fn forward(
    mut fwd: Forward,
    body: Option<web_sys::ReadableStream>,
    plan: Duration,
    timeout: Duration,
) -> Result<web_sys::Response, JsValue> {
    let slot: Slot = Rc::default();
    let length = content_length(&fwd.headers);
    let kind = std::mem::replace(&mut fwd.body, ForwardBody::Empty);
    let upload = match body::prepare_upload(kind, body, length, &slot).await {
        Ok(u) => u,
        Err(e) => return to_js_response(e.forward_answer(&fwd, plan), None),
    };
    let out_body = upload.body;
    let keep_alive = upload.keep_alive;

    let t0 = now_ms();
    let head = (&fwd.method, fwd.url.as_str(), &fwd.headers);
    let (result, deadline) = fetch_within(head, out_body.as_ref(), upload.sent, timeout).await?;
    let timing = Timing {
        plan,
        backend: since(t0),
    };
    drop(keep_alive);
    if let Some(err) = slot.borrow_mut().take() {
        return to_js_response(fwd.refused(&err), None);
    }
    let resp: web_sys::Response = match result {
        Ok(r) => r.dyn_into()?,
        Err(_) if deadline.fired() => {
            return to_js_response(fwd.backend_timed_out(timeout, timing), None)
        }
        Err(e) => return to_js_response(fwd.backend_failed(&js::describe(&e), timing), None),
    };
    answer(&fwd, &resp, timing, (&deadline, timeout)).await
}

/// The client's answer of a forwarded request's backend answer, as the core says: the body
/// handed on untouched, or read whole (under `deadline`, of `timeout`) to be rewritten.
async fn answer(
    fwd: &Forward,
    resp: &web_sys::Response,
    timing: Timing,
    (deadline, timeout): (&body::Deadline, Duration),
) -> Result<web_sys::Response, JsValue> {
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let backend_headers = header_map(&resp.headers())?;
    let limit = match fwd.response_mode(status) {
        ResponseMode::Stream => {
            let (status, headers) = fwd.response_head(status, &backend_headers, timing);
            let mut head = http::Response::new(Bytes::new());
            *head.status_mut() = status;
            *head.headers_mut() = headers;
            return to_js_response(head, resp.body());
        }
        ResponseMode::Buffer { limit } => limit,
    };
    // Bounded in time as in size: a backend that stops sending a listing or an error document
    // must not hold the request.
    deadline.arm();
    let read = body::read_limited(resp.body(), limit).await;
    deadline.stop();
    let out = match read {
        BodyRead::Read(bytes) => fwd.buffered_response(status, &backend_headers, bytes, timing),
        _ if deadline.fired() => fwd.backend_timed_out(timeout, timing),
        BodyRead::TooLarge => {
            fwd.backend_failed("the backend's answer is too large to rewrite", timing)
        }
        BodyRead::Broken(e) => {
            fwd.backend_failed(&format!("reading the backend response failed: {e}"), timing)
        }
    };
    to_js_response(out, None)
}

/// Sends a backend request under a deadline of `timeout`. The backend's clock starts once the
/// request went out whole (`sent` settled, for a piped body): a slow client's upload is not the
/// backend's time. The fetch's result, and the deadline (stopped; armed again to read an answer).
async fn fetch_within(
    head: (&Method, &str, &HeaderMap),
    body: Option<&JsValue>,
    sent: Option<Promise>,
    timeout: Duration,
) -> Result<(Result<JsValue, JsValue>, body::Deadline), JsValue> {
    let deadline = body::Deadline::new(timeout)?;
    let request = js::request(head, body, deadline.signal())?;
    match sent {
        Some(sent) => deadline.arm_after(sent),
        None => deadline.arm(),
    }
    let result = JsFuture::from(js::global_fetch(&request)).await;
    deadline.stop();
    Ok((result, deadline))
}

/// A streamed copy or a gather: the core's [`Transfer`] names each call, this makes it and
/// keeps open (then pipes, through a `FixedLengthStream` of its length) the answer body it is
/// told to.
async fn transfer(
    mut transfer: Transfer<'_>,
    env: &Env,
    plan: Duration,
) -> Result<web_sys::Response, JsValue> {
    let timeout = backend_timeout(env);
    let t0 = now_ms();
    let mut kept: Option<(AnswerId, web_sys::ReadableStream)> = None;
    loop {
        let held = kept.take();
        match transfer.step() {
            Move::Send(call) => {
                let (answer, open) = send_call(call, held, timeout).await;
                kept = open;
                transfer.answered(answer);
            }
            Move::SendAll(calls) => {
                cancel(held);
                transfer.answered_all(send_all(calls, timeout).await);
            }
            Move::R2(r2) => {
                let source = piped(held, r2.body.map(|(id, _)| id));
                let (answer, open) = r2::transfer_call(env, &r2, source).await;
                kept = r2.keep.zip(open);
                transfer.answered(answer);
            }
            Move::Done(mut resp) => {
                cancel(held);
                let backend = since(t0);
                add_server_timing(resp.headers_mut(), Timing { plan, backend });
                return to_js_response(resp, None);
            }
        }
    }
}

/// Makes `calls` concurrently; their answers in the same order.
async fn send_all(calls: Vec<Call>, timeout: Duration) -> Vec<Answer> {
    let sends = calls.into_iter().map(|call| async move {
        let (answer, _) = send_call(call, None, timeout).await;
        answer
    });
    futures_util::future::join_all(sends).await
}

/// Cancels a kept answer body nothing pipes.
fn cancel(held: Option<(AnswerId, web_sys::ReadableStream)>) {
    if let Some((_, stream)) = held {
        let _ = stream.cancel();
    }
}

/// The kept body if it is answer `id`'s (anything else is cancelled).
fn piped(
    held: Option<(AnswerId, web_sys::ReadableStream)>,
    id: Option<AnswerId>,
) -> Option<web_sys::ReadableStream> {
    match held {
        Some((kept, stream)) if Some(kept) == id => Some(stream),
        other => {
            cancel(other);
            None
        }
    }
}

/// Makes one call of a transfer; `held` is the body it may pipe. The answer, and the body kept
/// open for a [`Read::Head`] call.
async fn send_call(
    call: Call,
    held: Option<(AnswerId, web_sys::ReadableStream)>,
    timeout: Duration,
) -> (Answer, Option<(AnswerId, web_sys::ReadableStream)>) {
    let length = call.content_length();
    let (body, keep_alive, sent) = match &call.body {
        CallBody::Empty => {
            cancel(held);
            (None, None, None)
        }
        CallBody::Bytes(b) => {
            cancel(held);
            (Some(JsValue::from(js::to_uint8(b))), None, None)
        }
        CallBody::AnswerBody(id) => {
            let Some(source) = piped(held, Some(*id)) else {
                return (Answer::Failed("no copy source is open".to_string()), None);
            };
            match body::piped(source, length).await {
                Ok(upload) => (upload.body, upload.keep_alive, upload.sent),
                Err(e) => return (Answer::Failed(e), None),
            }
        }
    };
    let resp = send(&call, body.as_ref(), timeout, sent).await;
    drop(keep_alive);
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return (Answer::Failed(e), None),
    };
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = match header_map(&resp.headers()) {
        Ok(h) => h,
        Err(e) => return (Answer::Failed(js::describe(&e)), None),
    };
    let limit = match call.read {
        Read::Head => {
            let open = resp.body().map(|s| (call.id, s));
            return (Answer::Opened { status, headers }, open);
        }
        Read::Whole { limit } => limit,
    };
    let answer = match body::read_limited(resp.body(), limit).await {
        BodyRead::Read(body) => Answer::Answer {
            status,
            headers,
            body,
        },
        BodyRead::TooLarge => Answer::Failed("the backend's answer is too large".to_string()),
        BodyRead::Broken(e) => Answer::Failed(e),
    };
    (answer, None)
}

/// Sends one call; the backend has `timeout` to answer once the request went out (`sent`
/// settled, for a piped body).
async fn send(
    call: &Call,
    body: Option<&JsValue>,
    timeout: Duration,
    sent: Option<Promise>,
) -> Result<web_sys::Response, String> {
    let head = (&call.method, call.url.as_str(), &call.headers);
    let (result, deadline) = fetch_within(head, body, sent, timeout)
        .await
        .map_err(|e| js::describe(&e))?;
    match result {
        Ok(resp) => resp.dyn_into().map_err(|e| js::describe(&e)),
        Err(_) if deadline.fired() => Err(no_answer_within(timeout)),
        Err(e) => Err(js::describe(&e)),
    }
}

fn now() -> Timestamp {
    Timestamp((now_ms() / 1000.0) as i64)
}

fn header_map(h: &web_sys::Headers) -> Result<HeaderMap, JsValue> {
    let mut out = HeaderMap::new();
    let iter = js_sys::try_iter(h)?.ok_or_else(|| JsValue::from_str("headers"))?;
    for entry in iter {
        let entry: js_sys::Array = entry?.dyn_into()?;
        let (Some(name), Some(value)) = (entry.get(0).as_string(), entry.get(1).as_string()) else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.append(n, v);
        }
    }
    Ok(out)
}

/// A core response as a JS `Response`; `stream` replaces the (empty) body when given.
///
/// A backend's body (`stream` from `fetch()`) goes out as the backend sent it: `fetch()` only
/// decodes a `Content-Encoding`'d body if something reads it, and the runtime pumps the
/// still-encoded bytes of an untouched one (a range of a gzip object included).
fn to_js_response(
    resp: http::Response<Bytes>,
    stream: Option<web_sys::ReadableStream>,
) -> Result<web_sys::Response, JsValue> {
    js_response(resp, stream, false)
}

/// A response whose `stream` holds an object's stored bytes (an R2 body): they go out as they
/// are, whatever its `Content-Encoding` says (`encodeBody: "manual"`); by default the runtime
/// would compress them again in that coding.
fn stored_bytes_response(
    resp: http::Response<Bytes>,
    stream: Option<web_sys::ReadableStream>,
) -> Result<web_sys::Response, JsValue> {
    js_response(resp, stream, true)
}

fn js_response(
    resp: http::Response<Bytes>,
    stream: Option<web_sys::ReadableStream>,
    stored_bytes: bool,
) -> Result<web_sys::Response, JsValue> {
    let (parts, bytes) = resp.into_parts();
    let headers = web_sys::Headers::new()?;
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    // Every answer is dated, as the native server's are (SDKs correct clock skew from it);
    // workerd adds none, and the backend's own is not forwarded.
    if !parts.headers.contains_key(http::header::DATE) {
        headers.set("date", &now().http_date())?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(parts.status.as_u16());
    init.set_headers(&headers);
    if stored_bytes {
        js_sys::Reflect::set(&init, &"encodeBody".into(), &"manual".into())?;
    }
    let null_body = matches!(parts.status.as_u16(), 101 | 204 | 205 | 304);
    if null_body {
        return web_sys::Response::new_with_opt_str_and_init(None, &init);
    }
    match stream {
        Some(s) => web_sys::Response::new_with_opt_readable_stream_and_init(Some(&s), &init),
        None if bytes.is_empty() => web_sys::Response::new_with_opt_str_and_init(None, &init),
        None => {
            let mut data = bytes.to_vec();
            web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut data), &init)
        }
    }
}

/// `log` records to the console: warnings and errors always, info only for config events.
struct Console;
static CONSOLE: Console = Console;

impl log::Log for Console {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = JsValue::from_str(&format!("[{}] {}", r.level(), r.args()));
        match r.level() {
            log::Level::Error => web_sys::console::error_1(&line),
            log::Level::Warn => web_sys::console::warn_1(&line),
            _ => web_sys::console::log_1(&line),
        }
    }
    fn flush(&self) {}
}
