//! Executes the core's plans: one backend request, bodies streamed both ways.
//!
//! Memory stays flat whatever the object size: request and response bodies are passed frame by
//! frame; only small XML documents (listings, errors) are buffered, with the core's limit.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use multistore::executor::{declares_body, incomplete_body, no_answer_within, panicked};
use multistore::executor::{
    Answer, AnswerId, BodyRead, Caches, Call, CallBody, FetchError, Fetched, Isolate, Move,
    Outcome, Read, Refresh, Session, SmallRequest, Step, Transfer, UploadError, Work, World,
};
use multistore::gateway::{
    add_server_timing, error_response, Forward, ForwardBody, ResponseMode, Timing,
};
use multistore::time::Timestamp;
use multistore::{RequestContext, RequestHead};

use crate::body::{bytes, empty, full, prime, BoxError, ClientUpload, IdleTimeout, SentSignal};
use crate::body::{ProxyBody, Slot};

/// The pooled HTTP client for backends, JWKS and credential exchanges.
pub(crate) type BackendClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// How long a pooled backend connection may sit idle before we close it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The clock and random source the core's sessions use.
const WORLD: World = World {
    now,
    random: random_bytes,
};

/// How long a refused form upload's rest is read off before the answer goes out anyway.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The isolate (settings, current config snapshot, caches, request ids) plus the backend
/// client, built once per process.
pub(crate) struct Proxy {
    /// Each request takes the current snapshot once and keeps it to its end.
    isolate: Arc<Isolate>,
    client: BackendClient,
    /// How long a backend has to start its answer once our request (body included) went out,
    /// and to deliver an answer we buffer: past it, a 504 instead of a hung client.
    backend_timeout: Duration,
}

impl Proxy {
    /// Builds the pooled backend client; the backend timeout is the isolate's
    /// (`BACKEND_TIMEOUT_SECONDS`).
    pub(crate) fn new(isolate: Arc<Isolate>) -> Result<Self, String> {
        let client = backend_client()?;
        Ok(Proxy {
            backend_timeout: isolate.backend_timeout(),
            isolate,
            client,
        })
    }
}

/// The pooled backend client (keep-alive, TCP_NODELAY, TLS for https backends).
fn backend_client() -> Result<BackendClient, String> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    // The idle timeout only takes effect with a pool timer; without one, sockets to a backend
    // that stopped getting traffic would stay open for the life of the process.
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https))
}

impl Proxy {
    /// Handles one request; a panic anywhere below becomes a 500, never a dead server.
    pub(crate) async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let request_id = self.isolate.request_id();
        let method = req.method().clone();
        let uri = req.uri().clone();
        let carries_body = declares_body(req.headers());
        let started = Instant::now();
        let mut resp = guarded(
            self.run(req, request_id.clone()),
            &method,
            uri.path(),
            &request_id,
        )
        .await;
        if carries_body && resp.status().as_u16() >= 300 {
            // An answer refusing a request may go out before its body was read (and, after
            // `Expect: 100-continue`, before the client sent any of it). Whatever of that body
            // is still to come must never be read as the next request on this connection: the
            // connection ends with this answer, and the client opens a new one.
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        log::debug!(
            "{method} {} -> {} in {:.1} ms [{request_id}]",
            uri.path(),
            resp.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        resp
    }

    async fn run(&self, req: Request<Incoming>, request_id: String) -> Response<ProxyBody> {
        let (parts, body) = req.into_parts();
        let target = parts.uri.path_and_query().map_or_else(
            || parts.uri.path().to_string(),
            |pq| pq.as_str().to_string(),
        );
        let head = RequestHead {
            method: parts.method,
            target,
            headers: parts.headers,
        };
        let ctx = RequestContext {
            now: now(),
            request_id,
        };
        let t0 = Instant::now();
        let gateway = match self.isolate.gateway() {
            Ok(g) => g,
            Err(err) => return full(error_response(&head.method, &err, &ctx.request_id)),
        };
        let mut body = Some(body);
        let session = Session::new(&gateway, self.isolate.caches(), WORLD, &head, &ctx);
        let outcome = self.drive(session, &mut body).await;
        let plan_time = t0.elapsed();
        let request = (&head.method, ctx.request_id.as_str());
        match Work::of(outcome.plan, &gateway, (WORLD, false), plan_time, request) {
            Work::Respond(resp) => full(resp),
            Work::Forward(fwd) => self.forward(*fwd, body, plan_time).await,
            Work::Transfer(transfer) => self.transfer(transfer, plan_time).await,
            // R2 bindings exist only inside a Worker.
            Work::R2(r2) => full(r2.unsupported_runtime()),
        }
    }

    /// Answers the session's steps until it hands out the plan; spawns its credential refresh
    /// and drains what it says to drain.
    async fn drive(&self, mut session: Session<'_>, body: &mut Option<Incoming>) -> Outcome {
        let mut outcome = loop {
            match session.step() {
                Step::ReadBody { limit } => session.body(read_body(body.take(), limit).await),
                Step::ReadForm => read_form(&mut session, body.as_mut()).await,
                Step::Fetch(request) => session.fetched(fetch_small(&self.client, request).await),
                Step::Wait(pause) => {
                    tokio::time::sleep(pause).await;
                    session.waited();
                }
                Step::Done(outcome) => break outcome,
            }
        };
        if let Some(refresh) = outcome.refresh.take() {
            tokio::spawn(run_refresh(
                self.client.clone(),
                self.isolate.caches().clone(),
                refresh,
            ));
        }
        if let Some(limit) = outcome.drain_body {
            drain(body.take(), limit).await;
        }
        outcome
    }

    /// Executes a backend request: the client's body streamed out (verified if signed), the
    /// backend's answer streamed back or, for documents the core rewrites, buffered.
    async fn forward(
        &self,
        mut fwd: Forward,
        body: Option<Incoming>,
        plan: Duration,
    ) -> Response<ProxyBody> {
        let refused: Slot = Arc::default();
        let streamed = !matches!(fwd.body, ForwardBody::Empty | ForwardBody::Bytes(_));
        let kind = std::mem::replace(&mut fwd.body, ForwardBody::Empty);
        let request = match upload_body(kind, body, &refused).await {
            Ok(out) => {
                let headers = std::mem::take(&mut fwd.headers);
                backend_request((fwd.method.clone(), &fwd.url, headers), out)
                    .map_err(UploadError::Runtime)
            }
            Err(e) => Err(e),
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => return full(e.forward_answer(&fwd, plan)),
        };
        let t0 = Instant::now();
        let result = self.send(request, streamed).await;
        let timing = Timing {
            plan,
            backend: t0.elapsed(),
        };
        // A body the verifier refused answers with the verifier's error, whatever the backend did;
        // a client that broke off its upload is the client's failure, not the backend's.
        if let Some(err) = refused.lock().ok().and_then(|mut s| s.take()) {
            log::debug!(
                "request {}: request body failed: {}",
                fwd.request_id,
                multistore::redact(&err.message)
            );
            return full(fwd.refused(&err));
        }
        match result {
            Ok(resp) => self.answer(&fwd, resp, timing).await,
            Err(SendError::TimedOut) => full(fwd.backend_timed_out(self.backend_timeout, timing)),
            Err(SendError::Failed(e)) => full(fwd.backend_failed(&e, timing)),
        }
    }

    /// The client's answer of a forwarded request's backend answer, as the core says: streamed
    /// (under an idle timeout) or read whole, within the backend timeout, to be rewritten.
    async fn answer(
        &self,
        fwd: &Forward,
        resp: Response<Incoming>,
        timing: Timing,
    ) -> Response<ProxyBody> {
        let (parts, body) = resp.into_parts();
        let status = parts.status;
        match fwd.response_mode(status) {
            ResponseMode::Stream => {
                let (status, headers) = fwd.response_head(status, &parts.headers, timing);
                // A backend that stalls mid-body ends the client's response with an error once
                // it has sent nothing for the backend timeout: never a hang, never a short body
                // that looks complete (the connection is reset, not the body ended).
                let body = IdleTimeout::new(body, self.backend_timeout);
                let mut out = Response::new(body.boxed());
                *out.status_mut() = status;
                *out.headers_mut() = headers;
                out
            }
            ResponseMode::Buffer { limit } => {
                // Bounded in size and in time: a backend that trickles (or stops sending) a
                // listing or an error document must not hold the request forever.
                let read = Limited::new(body, limit).collect();
                match tokio::time::timeout(self.backend_timeout, read).await {
                    Ok(Ok(collected)) => full(fwd.buffered_response(
                        status,
                        &parts.headers,
                        collected.to_bytes(),
                        timing,
                    )),
                    Ok(Err(e)) => full(fwd.backend_failed(
                        &format!("reading the backend response failed: {e}"),
                        timing,
                    )),
                    Err(_) => full(fwd.backend_timed_out(self.backend_timeout, timing)),
                }
            }
        }
    }
}

/// What the backend gets as the body of `kind`: bytes, or the client's body (through the core's
/// check when the signature covers it), read up to its first bytes. Nothing reaches the backend
/// before the first bytes that may: a client that disconnects, or a body refused, before that
/// point must not open a backend upload at all (some backends store an empty object for a
/// request whose body ends at byte zero).
async fn upload_body(
    kind: ForwardBody,
    body: Option<Incoming>,
    refused: &Slot,
) -> Result<ProxyBody, UploadError> {
    let out_body: ProxyBody = match (kind, body) {
        (ForwardBody::Empty, _) => return Ok(empty()),
        (ForwardBody::Bytes(b), _) => return Ok(bytes(b)),
        (ForwardBody::Stream, Some(inner)) => ClientUpload::new(inner, None, refused).boxed(),
        (kind, Some(inner)) => match kind.into_check() {
            Some(check) => ClientUpload::new(inner, Some(check), refused).boxed(),
            // A streamed body with no check is the plain Stream arm above; anything else
            // here is a kind this runtime does not know: refuse rather than forward it.
            None => return Err(UploadError::Runtime("unsupported body plan".to_string())),
        },
        // A checked body plan without a client body to read.
        _ => return Err(UploadError::Runtime("unsupported body plan".to_string())),
    };
    prime(out_body).await.map_err(|e| {
        let err = refused.lock().ok().and_then(|mut s| s.take());
        UploadError::Client(err.unwrap_or_else(|| incomplete_body(&e.to_string())))
    })
}

/// Reads a whole body for [`Step::ReadBody`], at most `limit` bytes.
async fn read_body(body: Option<Incoming>, limit: usize) -> BodyRead {
    let Some(body) = body else {
        return BodyRead::Read(Bytes::new());
    };
    match Limited::new(body, limit).collect().await {
        Ok(c) => BodyRead::Read(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => BodyRead::TooLarge,
        Err(e) => BodyRead::Broken(e.to_string()),
    }
}

/// Feeds a POST form's first chunks to the session until it has the fields before the file;
/// the rest of `body` stays unread for the upload.
async fn read_form(session: &mut Session<'_>, body: Option<&mut Incoming>) {
    let Some(body) = body else {
        session.form_end();
        return;
    };
    loop {
        match body.frame().await {
            None => return session.form_end(),
            Some(Err(e)) => return session.form_broken(&e.to_string()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if session.form_chunk(&data) {
                        return;
                    }
                }
            }
        }
    }
}

/// Reads off and drops at most `limit` bytes of a refused body (within [`DRAIN_TIME`]), so a
/// client still sending gets the answer. The connection closes after it either way.
async fn drain(body: Option<Incoming>, limit: usize) {
    let Some(mut body) = body else {
        return;
    };
    let read_off = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen > limit {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read_off).await;
}

/// One small request for the core (JWKS, credential exchange): the whole call within its
/// timeout, at most its limit of the answer read.
async fn fetch_small(client: &BackendClient, small: SmallRequest) -> Fetched {
    let body = if small.body.is_empty() {
        empty()
    } else {
        bytes(small.body)
    };
    let request = backend_request((small.method, &small.url, small.headers), body)
        .map_err(FetchError::Unreachable)?;
    let limit = small.limit;
    let call = async {
        let resp = client
            .request(request)
            .await
            .map_err(|e| FetchError::Unreachable(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| FetchError::Body(e.to_string()))?;
        Ok((status, body.to_bytes()))
    };
    tokio::time::timeout(small.timeout, call)
        .await
        .unwrap_or(Err(FetchError::TimedOut))
}

/// Runs a credential refresh after the request that started it was answered.
async fn run_refresh(client: BackendClient, caches: Arc<Caches>, mut refresh: Refresh) {
    while let Some(request) = refresh.next() {
        let fetched = fetch_small(&client, request).await;
        refresh.fetched(&caches, fetched);
    }
}

impl Proxy {
    /// A streamed copy or a gather: the core's [`Transfer`] names each call, this sends it and
    /// keeps open (then pipes) the answer body it is told to.
    async fn transfer(&self, mut transfer: Transfer<'_>, plan: Duration) -> Response<ProxyBody> {
        let t0 = Instant::now();
        let mut kept: Option<(AnswerId, Incoming)> = None;
        loop {
            // A kept body the next move does not pipe is dropped here.
            let held = kept.take();
            match transfer.step() {
                Move::Send(call) => {
                    let (answer, open) = self.call(call, held).await;
                    kept = open;
                    transfer.answered(answer);
                }
                Move::SendAll(calls) => {
                    let calls = calls
                        .into_iter()
                        .map(|c| async { self.call(c, None).await.0 });
                    transfer.answered_all(futures_util::future::join_all(calls).await);
                }
                // `Transfer::copy` refuses R2 copies here: no binding calls come out.
                Move::R2(_) => transfer.answered(Answer::Failed(
                    "R2 bindings exist only in a Worker".to_string(),
                )),
                Move::Done(mut resp) => {
                    let backend = t0.elapsed();
                    add_server_timing(resp.headers_mut(), Timing { plan, backend });
                    return full(resp);
                }
            }
        }
    }

    /// Sends one call of a transfer; `held` is the body it may pipe. The answer, and the body
    /// kept open for a [`Read::Head`] call.
    async fn call(
        &self,
        call: Call,
        held: Option<(AnswerId, Incoming)>,
    ) -> (Answer, Option<(AnswerId, Incoming)>) {
        let (body, streamed) = match call.body {
            CallBody::Empty => (empty(), false),
            CallBody::Bytes(b) => (bytes(b), false),
            CallBody::AnswerBody(id) => match held {
                Some((kept, body)) if kept == id => (body.map_err(BoxError::from).boxed(), true),
                _ => return (Answer::Failed("no copy source is open".to_string()), None),
            },
        };
        let request = match backend_request((call.method, &call.url, call.headers), body) {
            Ok(r) => r,
            Err(e) => return (Answer::Failed(e), None),
        };
        let resp = match self.send(request, streamed).await {
            Ok(r) => r,
            Err(e) => return (Answer::Failed(e.describe(self.backend_timeout)), None),
        };
        let (parts, body) = resp.into_parts();
        let limit = match call.read {
            Read::Head => {
                let answer = Answer::Opened {
                    status: parts.status,
                    headers: parts.headers,
                };
                return (answer, Some((call.id, body)));
            }
            Read::Whole { limit } => limit,
        };
        let read = Limited::new(body, limit).collect();
        let answer = match tokio::time::timeout(self.backend_timeout, read).await {
            Ok(Ok(c)) => Answer::Answer {
                status: parts.status,
                headers: parts.headers,
                body: c.to_bytes(),
            },
            Ok(Err(e)) => Answer::Failed(format!("reading the backend's answer failed: {e}")),
            Err(_) => Answer::Failed(SendError::TimedOut.describe(self.backend_timeout)),
        };
        (answer, None)
    }

    /// Sends a backend request. The backend's time to answer starts once the request has gone
    /// out: at once for an empty or in-memory body, when the last byte of a `streamed` body
    /// (a client's upload, which may take as long as the client needs) was handed over.
    async fn send(
        &self,
        request: Request<ProxyBody>,
        streamed: bool,
    ) -> Result<Response<Incoming>, SendError> {
        send_timed(&self.client, self.backend_timeout, request, streamed).await
    }
}

/// [`Proxy::send`], with the client and the timeout given.
async fn send_timed(
    client: &BackendClient,
    timeout: Duration,
    request: Request<ProxyBody>,
    streamed: bool,
) -> Result<Response<Incoming>, SendError> {
    let (request, sent) = if streamed {
        let (parts, body) = request.into_parts();
        let (body, sent) = SentSignal::wrap(body);
        (Request::from_parts(parts, body), Some(sent))
    } else {
        (request, None)
    };
    let response = client.request(request);
    tokio::pin!(response);
    if let Some(sent) = sent {
        tokio::select! {
            r = &mut response => {
                return r.map_err(|e| SendError::Failed(error_chain(&e)));
            }
            // Sent, or the body dropped (hyper wrote all of it, or gave up on it: then
            // the request itself ends, whichever comes first).
            _ = sent => {}
        }
    }
    match tokio::time::timeout(timeout, response).await {
        Ok(r) => r.map_err(|e| SendError::Failed(error_chain(&e))),
        Err(_) => Err(SendError::TimedOut),
    }
}

/// Why a backend request has no answer.
#[derive(Debug)]
enum SendError {
    /// The backend did not start answering within the backend timeout.
    TimedOut,
    /// The connection failed (refused, reset, TLS, protocol).
    Failed(String),
}

impl SendError {
    fn describe(&self, timeout: Duration) -> String {
        match self {
            SendError::TimedOut => no_answer_within(timeout),
            SendError::Failed(e) => e.clone(),
        }
    }
}

/// The HTTP request of a backend call, with `body`.
fn backend_request(
    (method, url, headers): (Method, &str, http::HeaderMap),
    body: ProxyBody,
) -> Result<Request<ProxyBody>, String> {
    let mut builder = Request::builder().method(method).uri(url);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    builder
        .body(body)
        .map_err(|e| format!("invalid backend request: {e}"))
}

/// Runs a request's handler; a panic inside becomes a 500 InternalError carrying the request id.
async fn guarded(
    handler: impl std::future::Future<Output = Response<ProxyBody>>,
    method: &Method,
    path: &str,
    request_id: &str,
) -> Response<ProxyBody> {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(resp) => resp,
        Err(_) => {
            log::error!("request {request_id}: panicked while handling {method} {path}");
            full(panicked(method, request_id))
        }
    }
}

pub(crate) fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// The runtime's random source for the core (access key ids, token nonces). The OS generator
/// failing is not something to answer around: the request's guard turns this into a 500.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random generator failed: {e}");
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests;
