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

use crate::executor::{BodyRead, Caches, Outcome, Session, Step, World};
use crate::gateway::copy::ANSWER_LIMIT;
use crate::gateway::{
    add_server_timing, error_response, CopyEvent, CopyStep, Forward, ForwardBody, Gather,
    ResponseMode, StreamedCopy, Timing, GATHER_LIMIT,
};
use crate::s3::S3Error;
use crate::time::Timestamp;
use crate::{Plan, RequestContext, RequestHead};

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
        let err = S3Error::internal("the gateway failed while handling this request");
        let resp = to_js_response(error_response(&p.method, &err, &p.request_id), None);
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
    match outcome.plan {
        Plan::Respond(mut resp) => {
            add_server_timing(
                resp.headers_mut(),
                Timing {
                    plan: plan_time,
                    backend: Duration::ZERO,
                },
            );
            to_js_response(resp, None)
        }
        Plan::Forward(fwd) => forward(*fwd, body, plan_time, backend_timeout(env)).await,
        Plan::R2(plan) => r2::execute(*plan, env, body).await,
        Plan::Copy(copy) => copy_between(*copy, env, plan_time).await,
        Plan::Gather(g) => gather(&gateway, *g, env, plan_time).await,
        // The session never hands these out.
        Plan::NeedBody { .. }
        | Plan::NeedJwks { .. }
        | Plan::NeedForm(_)
        | Plan::NeedBackendCredentials(_) => {
            let err = S3Error::internal("the gateway asked for the same input twice");
            to_js_response(error_response(&head.method, &err, request_id), None)
        }
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
            Step::ReadBody { limit } => {
                let read = match body::read_limited(body.take(), limit).await {
                    Ok(bytes) => BodyRead::Read(bytes),
                    Err(body::ReadError::TooLarge) => BodyRead::TooLarge,
                    Err(body::ReadError::Broken(e)) => BodyRead::Broken(e),
                };
                session.body(read);
            }
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
    let mut headers = HeaderMap::new();
    let iter = js_sys::try_iter(&req.headers())?
        .ok_or_else(|| JsValue::from_str("headers are not iterable"))?;
    for entry in iter {
        let entry: js_sys::Array = entry?.dyn_into()?;
        let (Some(name), Some(value)) = (entry.get(0).as_string(), entry.get(1).as_string()) else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
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
    let length = fwd
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let no_time = Timing {
        plan,
        backend: Duration::ZERO,
    };
    let kind = std::mem::replace(&mut fwd.body, ForwardBody::Empty);
    let upload = match body::prepare_upload(kind, body, length, &slot).await {
        Ok(u) => u,
        Err(body::UploadError::Client(err)) => return to_js_response(fwd.refused(&err), None),
        Err(body::UploadError::Runtime(e)) => {
            return to_js_response(fwd.backend_failed(&e, no_time), None)
        }
    };
    let out_body = upload.body;
    let keep_alive = upload.keep_alive;

    // The backend's clock starts once the request went out whole: a slow client's upload is
    // not the backend's time.
    let deadline = body::Deadline::new(timeout)?;
    let request = backend_request(&fwd, out_body.as_ref(), Some(deadline.signal()))?;
    match upload.sent {
        Some(sent) => deadline.arm_after(sent),
        None => deadline.arm(),
    }
    let t0 = now_ms();
    let result = JsFuture::from(js::global_fetch(&request)).await;
    deadline.stop();
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
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let backend_headers = header_map(&resp.headers())?;
    match fwd.response_mode(status) {
        ResponseMode::Stream => {
            let (status, headers) = fwd.response_head(status, &backend_headers, timing);
            let head = http::Response::builder()
                .status(status)
                .body(Bytes::new())
                .map_err(|e| JsValue::from_str(&e.to_string()))?;
            let (mut parts, _) = head.into_parts();
            parts.headers = headers;
            to_js_response(http::Response::from_parts(parts, Bytes::new()), resp.body())
        }
        ResponseMode::Buffer { limit } => {
            // Bounded in time as in size: a backend that stops sending a listing or an error
            // document must not hold the request.
            deadline.arm();
            let read = body::read_limited(resp.body(), limit).await;
            deadline.stop();
            match read {
                Ok(bytes) => to_js_response(
                    fwd.buffered_response(status, &backend_headers, bytes, timing),
                    None,
                ),
                Err(_) if deadline.fired() => {
                    to_js_response(fwd.backend_timed_out(timeout, timing), None)
                }
                Err(body::ReadError::TooLarge) => to_js_response(
                    fwd.backend_failed("the backend's answer is too large to rewrite", timing),
                    None,
                ),
                Err(body::ReadError::Broken(e)) => to_js_response(
                    fwd.backend_failed(
                        &format!("reading the backend response failed: {e}"),
                        timing,
                    ),
                    None,
                ),
            }
        }
    }
}

/// The JS request of a planned backend call, with `body`.
fn backend_request(
    fwd: &Forward,
    body: Option<&JsValue>,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<web_sys::Request, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &fwd.headers {
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let init = web_sys::RequestInit::new();
    init.set_method(fwd.method.as_str());
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(b) = body {
        init.set_body(b);
    }
    if signal.is_some() {
        init.set_signal(signal);
    }
    web_sys::Request::new_with_str_and_init(&fwd.url, &init)
}

/// A copy between backends: the core's steps run one after the other, the source's body piped
/// into the destination's request through a `FixedLengthStream` of the source's length.
async fn copy_between(
    mut copy: StreamedCopy,
    env: &Env,
    plan: Duration,
) -> Result<web_sys::Response, JsValue> {
    let mut backend = Duration::ZERO;
    let mut source: Option<web_sys::ReadableStream> = None;
    let timeout = backend_timeout(env);
    let mut step = copy.start(now());
    loop {
        let t0 = now_ms();
        let event = match step {
            CopyStep::Done(mut resp) => {
                if let Some(s) = source.take() {
                    let _ = s.cancel();
                }
                add_server_timing(resp.headers_mut(), Timing { plan, backend });
                return to_js_response(resp, None);
            }
            CopyStep::Open(fwd) => match send(&fwd, None, timeout, None).await {
                Ok(resp) => {
                    source = resp.body();
                    CopyEvent::Opened {
                        status: StatusCode::from_u16(resp.status())
                            .unwrap_or(StatusCode::BAD_GATEWAY),
                        headers: header_map(&resp.headers())?,
                    }
                }
                Err(e) => CopyEvent::Failed(e),
            },
            CopyStep::Pipe(fwd) => {
                let length = fwd
                    .headers
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let slot: Slot = Rc::default();
                match body::prepare_upload(ForwardBody::Stream, source.take(), length, &slot).await
                {
                    Ok(upload) => {
                        let event =
                            copy_answer(&fwd, upload.body.as_ref(), timeout, upload.sent).await;
                        drop(upload.keep_alive);
                        event
                    }
                    Err(body::UploadError::Client(e)) => CopyEvent::Failed(e.message),
                    Err(body::UploadError::Runtime(e)) => CopyEvent::Failed(e),
                }
            }
            CopyStep::Send(mut fwd) => {
                if let Some(s) = source.take() {
                    let _ = s.cancel();
                }
                let body = match std::mem::replace(&mut fwd.body, ForwardBody::Empty) {
                    ForwardBody::Bytes(b) => Some(JsValue::from(js::to_uint8(&b))),
                    _ => None,
                };
                copy_answer(&fwd, body.as_ref(), timeout, None).await
            }
            CopyStep::OpenR2(get) => {
                let (event, stream) = r2::copy_open(env, &get).await;
                source = stream;
                event
            }
            CopyStep::PipeR2(put) => r2::copy_put(env, &put, source.take()).await,
        };
        backend += since(t0);
        step = copy.advance(event, now());
    }
}

/// Several backend requests at once (ListBuckets through pass-through buckets): each answer
/// read whole (capped), then the core makes the client's answer of them.
async fn gather(
    gateway: &crate::Gateway,
    mut gather: Gather,
    env: &Env,
    plan: Duration,
) -> Result<web_sys::Response, JsValue> {
    let timeout = backend_timeout(env);
    let t0 = now_ms();
    let requests = gather.take_requests();
    let slots: Rc<RefCell<Vec<Option<CopyEvent>>>> =
        Rc::new(RefCell::new(requests.iter().map(|_| None).collect()));
    let calls = js_sys::Array::new();
    for (i, fwd) in requests.into_iter().enumerate() {
        let slots = slots.clone();
        calls.push(&wasm_bindgen_futures::future_to_promise(async move {
            let event = read_answer(&fwd, None, timeout, None, GATHER_LIMIT).await;
            if let Some(slot) = slots.borrow_mut().get_mut(i) {
                *slot = Some(event);
            }
            Ok(JsValue::UNDEFINED)
        }));
    }
    JsFuture::from(Promise::all(&calls)).await?;
    let answers = slots
        .take()
        .into_iter()
        .map(|a| a.unwrap_or_else(|| CopyEvent::Failed("the request was not sent".to_string())))
        .collect();
    let backend = since(t0);
    let mut resp = gateway.finish_gather(gather, answers);
    add_server_timing(resp.headers_mut(), Timing { plan, backend });
    to_js_response(resp, None)
}

/// Sends one backend request of a copy; the backend has `timeout` to answer once the request
/// went out (`sent` settled, for a piped body).
async fn send(
    fwd: &Forward,
    body: Option<&JsValue>,
    timeout: Duration,
    sent: Option<Promise>,
) -> Result<web_sys::Response, String> {
    let deadline = body::Deadline::new(timeout).map_err(|e| js::describe(&e))?;
    let request =
        backend_request(fwd, body, Some(deadline.signal())).map_err(|e| js::describe(&e))?;
    match sent {
        Some(sent) => deadline.arm_after(sent),
        None => deadline.arm(),
    }
    let result = JsFuture::from(js::global_fetch(&request)).await;
    deadline.stop();
    match result {
        Ok(resp) => resp.dyn_into().map_err(|e| js::describe(&e)),
        Err(_) if deadline.fired() => Err(format!(
            "the backend did not answer within {} seconds",
            timeout.as_secs_f64()
        )),
        Err(e) => Err(js::describe(&e)),
    }
}

/// Sends one request of a copy and reads its (small) answer.
async fn copy_answer(
    fwd: &Forward,
    body: Option<&JsValue>,
    timeout: Duration,
    sent: Option<Promise>,
) -> CopyEvent {
    read_answer(fwd, body, timeout, sent, ANSWER_LIMIT).await
}

/// Sends one request and reads its answer whole, at most `limit` bytes of it.
async fn read_answer(
    fwd: &Forward,
    body: Option<&JsValue>,
    timeout: Duration,
    sent: Option<Promise>,
    limit: usize,
) -> CopyEvent {
    let resp = match send(fwd, body, timeout, sent).await {
        Ok(r) => r,
        Err(e) => return CopyEvent::Failed(e),
    };
    let status = StatusCode::from_u16(resp.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = match header_map(&resp.headers()) {
        Ok(h) => h,
        Err(e) => return CopyEvent::Failed(js::describe(&e)),
    };
    match body::read_limited(resp.body(), limit).await {
        Ok(body) => CopyEvent::Answer {
            status,
            headers,
            body,
        },
        Err(body::ReadError::TooLarge) => {
            CopyEvent::Failed("the backend's answer is too large".to_string())
        }
        Err(body::ReadError::Broken(e)) => CopyEvent::Failed(e),
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
