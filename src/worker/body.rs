//! Request and response bodies on the Worker: streams pass through untouched unless a signature
//! covers the payload, in which case each chunk crosses into WASM once to be verified.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::executor::session::incomplete_body;
use crate::executor::{
    check_empty_upload, BodyRead, FetchError, Fetched, Session, SmallRequest, UploadError,
    EMPTY_FRAMING_LIMIT,
};
use crate::payload::BodyCheck;
use crate::s3::S3Error;

use super::js;

/// Where a body failure is recorded for the client's answer: the verifier's refusal (a bad
/// signature or digest) outranks the broken upload it causes at the backend.
pub(super) type Slot = Rc<RefCell<Option<S3Error>>>;

type TransformFn = Closure<dyn FnMut(JsValue, web_sys::TransformStreamDefaultController)>;
type FlushFn = Closure<dyn FnMut(web_sys::TransformStreamDefaultController)>;

/// A `TransformStream` the client's body is piped through: every chunk runs through a core
/// [`BodyCheck`] when the signature covers the payload, or passes as is (without being copied
/// into WASM) when it does not. Either way [`Verifying::first`] settles when the first bytes may
/// go out (or the body ended verified), so the backend request is not opened before then: some
/// backends store an empty object for an upload that breaks off at byte zero. The closures live
/// as long as this value: keep it until the backend answered.
pub(super) struct Verifying {
    /// The stream to pipe the client's body through.
    pub stream: web_sys::TransformStream,
    /// Resolves at the first output (or a verified end), rejects on a refusal or a broken body.
    pub first: Promise,
    /// Rejects [`Verifying::first`]; hand it to the pipe's failure.
    pub fail_first: Function,
    _transform: TransformFn,
    _flush: FlushFn,
}

type Settle = Rc<RefCell<Option<(Function, Function)>>>;

impl Verifying {
    /// Wraps `check` (None: pass chunks through untouched); a refusal errors the stream (which
    /// aborts the backend request) and is recorded in `slot`.
    pub(super) fn new(check: Option<Box<dyn BodyCheck>>, slot: Slot) -> Result<Self, JsValue> {
        let settle: Settle = Rc::default();
        let s = settle.clone();
        let first = Promise::new(&mut |resolve, reject| {
            *s.borrow_mut() = Some((resolve, reject));
        });
        let fail_first = settle
            .borrow()
            .as_ref()
            .map(|(_, reject)| reject.clone())
            .ok_or_else(|| JsValue::from_str("promise executor did not run"))?;
        let check = Rc::new(RefCell::new(check));
        let (c1, s1, st1) = (check.clone(), slot.clone(), settle.clone());
        let transform: TransformFn = Closure::new(
            move |chunk: JsValue, ctl: web_sys::TransformStreamDefaultController| {
                let mut check = c1.borrow_mut();
                let Some(check) = check.as_mut() else {
                    let _ = ctl.enqueue_with_chunk(&chunk);
                    settle_first(&st1, None);
                    return;
                };
                let bytes = Bytes::from(js::chunk_bytes(&chunk));
                emit(check.push(bytes), &ctl, &s1, &st1);
            },
        );
        let flush: FlushFn = Closure::new(move |ctl: web_sys::TransformStreamDefaultController| {
            let result = match check.borrow_mut().as_mut() {
                Some(check) => check.finish(),
                None => Ok(None),
            };
            emit(result, &ctl, &slot, &settle);
            settle_first(&settle, None);
        });
        let transformer = Object::new();
        Reflect::set(&transformer, &"transform".into(), transform.as_ref())?;
        Reflect::set(&transformer, &"flush".into(), flush.as_ref())?;
        let stream = web_sys::TransformStream::new_with_transformer(&transformer)?;
        Ok(Verifying {
            stream,
            first,
            fail_first,
            _transform: transform,
            _flush: flush,
        })
    }
}

/// Resolves (no reason) or rejects the first-output promise, once.
fn settle_first(settle: &Settle, reason: Option<&JsValue>) {
    if let Some((resolve, reject)) = settle.borrow_mut().take() {
        let _ = match reason {
            None => resolve.call0(&JsValue::NULL),
            Some(r) => reject.call1(&JsValue::NULL, r),
        };
    }
}

fn emit(
    result: Result<Option<Bytes>, S3Error>,
    ctl: &web_sys::TransformStreamDefaultController,
    slot: &Slot,
    settle: &Settle,
) {
    match result {
        Ok(Some(out)) => {
            let _ = ctl.enqueue_with_chunk(&js::to_uint8(&out));
            settle_first(settle, None);
        }
        Ok(None) => {}
        Err(err) => {
            let reason = JsValue::from_str(&err.message);
            slot.borrow_mut().get_or_insert(err);
            settle_first(settle, Some(&reason));
            ctl.error_with_reason(&reason);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout(handler, ms)`; returns the timer's id.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    /// The global `clearTimeout(id)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// The backend timeout of one backend request: an `AbortController` whose signal goes on the
/// request, and a timer that aborts it. The clock runs only while the gateway waits on the
/// backend (armed once the request's body is out, stopped when the answer's head arrived,
/// armed again while a buffered answer is read), never while a client uploads or downloads.
pub(super) struct Deadline {
    ms: f64,
    signal: web_sys::AbortSignal,
    state: Rc<RefCell<DeadlineState>>,
    on_timeout: Function,
    _on_timeout: Closure<dyn FnMut()>,
}

#[derive(Default)]
struct DeadlineState {
    /// The running timer.
    timer: Option<JsValue>,
    /// The timer fired and aborted the request.
    fired: bool,
    /// The answer's head arrived (or the request is over): a late `arm_after` does nothing.
    answered: bool,
}

impl Deadline {
    /// A deadline of `timeout`, not armed yet.
    pub(super) fn new(timeout: std::time::Duration) -> Result<Self, JsValue> {
        let controller = web_sys::AbortController::new()?;
        let signal = controller.signal();
        let state: Rc<RefCell<DeadlineState>> = Rc::default();
        let st = state.clone();
        let on_timeout: Closure<dyn FnMut()> = Closure::new(move || {
            {
                let mut st = st.borrow_mut();
                st.timer = None;
                st.fired = true;
            }
            controller.abort();
        });
        let handler: Function = on_timeout.as_ref().clone().dyn_into()?;
        Ok(Deadline {
            ms: timeout.as_secs_f64() * 1000.0,
            signal,
            state,
            on_timeout: handler,
            _on_timeout: on_timeout,
        })
    }

    /// The signal to put on the request.
    pub(super) fn signal(&self) -> &web_sys::AbortSignal {
        &self.signal
    }

    /// Starts the clock now.
    pub(super) fn arm(&self) {
        arm(&self.state, &self.on_timeout, self.ms);
    }

    /// Starts the clock once `sent` settles (the request's body is out, or failed), unless the
    /// answer came first. `sent` must settle (a pipe's promise does): the task waits on it.
    pub(super) fn arm_after(&self, sent: Promise) {
        let state = self.state.clone();
        let handler = self.on_timeout.clone();
        let ms = self.ms;
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(sent).await;
            if !state.borrow().answered {
                arm(&state, &handler, ms);
            }
        });
    }

    /// Stops the clock (the answer's head arrived); `arm` may start it again.
    pub(super) fn stop(&self) {
        let mut st = self.state.borrow_mut();
        st.answered = true;
        if let Some(id) = st.timer.take() {
            clear_timeout(&id);
        }
    }

    /// Whether the timer fired (the request's failure is the timeout's).
    pub(super) fn fired(&self) -> bool {
        self.state.borrow().fired
    }
}

fn arm(state: &Rc<RefCell<DeadlineState>>, handler: &Function, ms: f64) {
    let mut st = state.borrow_mut();
    if st.timer.is_none() && !st.fired {
        st.timer = Some(set_timeout(handler, ms));
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        // The handler's closure goes with this value: no timer may call it afterwards.
        self.stop();
    }
}

/// A stream's reader, and the chunks it hands out one by one.
struct Chunks(web_sys::ReadableStreamDefaultReader);

impl Chunks {
    fn of(stream: &web_sys::ReadableStream) -> Result<Self, JsValue> {
        Ok(Chunks(stream.get_reader().dyn_into()?))
    }

    /// The next chunk, `None` at the end.
    async fn next(&self) -> Result<Option<JsValue>, JsValue> {
        let step: web_sys::ReadableStreamReadResult =
            JsFuture::from(self.0.read()).await?.unchecked_into();
        if step.get_done().unwrap_or(true) {
            return Ok(None);
        }
        Ok(Some(step.get_value()))
    }
}

/// Reads a whole stream into WASM memory, at most `limit` bytes.
pub(super) async fn read_limited(
    stream: Option<web_sys::ReadableStream>,
    limit: usize,
) -> BodyRead {
    let Some(stream) = stream else {
        return BodyRead::Read(Bytes::new());
    };
    let chunks = match Chunks::of(&stream) {
        Ok(c) => c,
        Err(e) => return BodyRead::Broken(js::describe(&e)),
    };
    let mut out = Vec::new();
    loop {
        let chunk = match chunks.next().await {
            Ok(Some(value)) => Uint8Array::new(&value),
            Ok(None) => return BodyRead::Read(Bytes::from(out)),
            Err(e) => return BodyRead::Broken(js::describe(&e)),
        };
        let len = chunk.length() as usize;
        if out.len().saturating_add(len) > limit {
            let _ = chunks.0.cancel();
            return BodyRead::TooLarge;
        }
        let start = out.len();
        out.resize(start + len, 0);
        chunk.copy_to(&mut out[start..]);
    }
}

/// One small request for the core (an issuer's JWKS, a credential exchange) over the Fetch
/// API: redirects are not followed, its timeout bounds the whole call (body included), and the
/// answer's body is read up to its limit.
pub(super) async fn fetch_small(small: SmallRequest) -> Fetched {
    let fail = |e: JsValue| FetchError::Unreachable(js::describe(&e));
    let millis = u32::try_from(small.timeout.as_millis()).unwrap_or(u32::MAX);
    let signal = web_sys::AbortSignal::timeout_with_u32(millis);
    let body = (!small.body.is_empty()).then(|| JsValue::from(js::to_uint8(&small.body)));
    let head = (&small.method, small.url.as_str(), &small.headers);
    let request = js::request(head, body.as_ref(), &signal).map_err(fail)?;
    let timed_out = |e: JsValue| {
        if signal.aborted() {
            FetchError::TimedOut
        } else {
            fail(e)
        }
    };
    let resp: web_sys::Response = JsFuture::from(js::global_fetch(&request))
        .await
        .map_err(timed_out)?
        .dyn_into()
        .map_err(fail)?;
    let status = resp.status();
    let limit = small.limit;
    match read_limited(resp.body(), limit).await {
        BodyRead::Read(body) => Ok((status, body)),
        BodyRead::TooLarge => Err(FetchError::Body(format!(
            "the answer is larger than {limit} bytes"
        ))),
        BodyRead::Broken(_) if signal.aborted() => Err(FetchError::TimedOut),
        BodyRead::Broken(e) => Err(FetchError::Body(e)),
    }
}

/// Feeds a POST form's first chunks to the session until it has the fields before the file,
/// then releases the stream: the rest stays in it for the upload's pipe.
pub(super) async fn read_form(session: &mut Session<'_>, stream: Option<&web_sys::ReadableStream>) {
    let Some(stream) = stream else {
        return session.form_end();
    };
    let chunks = match Chunks::of(stream) {
        Ok(c) => c,
        Err(e) => return session.form_broken(&js::describe(&e)),
    };
    loop {
        match chunks.next().await {
            Ok(Some(value)) if session.form_chunk(&js::chunk_bytes(&value)) => break,
            Ok(Some(_)) => {}
            Ok(None) => break session.form_end(),
            Err(e) => break session.form_broken(&js::describe(&e)),
        }
    }
    chunks.0.release_lock();
}

/// Reads and drops a body, at most `limit` bytes (then cancels the rest): a client that is still
/// sending when it is refused gets the answer instead of a connection reset.
pub(super) async fn drain(stream: Option<web_sys::ReadableStream>, limit: usize) {
    let Some(Ok(chunks)) = stream.as_ref().map(Chunks::of) else {
        return;
    };
    let mut seen = 0usize;
    while let Ok(Some(value)) = chunks.next().await {
        seen = seen.saturating_add(Uint8Array::new(&value).length() as usize);
        if seen > limit {
            let _ = chunks.0.cancel();
            return;
        }
    }
}

/// What goes out as the upload's body.
pub(super) struct Upload {
    /// The body to send (`None`: no body).
    pub body: Option<JsValue>,
    /// The verifying stream's closures: keep until the backend answered.
    pub keep_alive: Option<Verifying>,
    /// Settles when the body has been handed over whole (or failed); `None`: no streamed body.
    pub sent: Option<Promise>,
}

impl Upload {
    /// No body at all.
    pub(super) fn none() -> Self {
        Upload {
            body: None,
            keep_alive: None,
            sent: None,
        }
    }
}

/// A stream piped into a `FixedLengthStream` of its `length`, unchecked (a copy's source into
/// its destination); why it could not be, as text.
pub(super) async fn piped(
    stream: web_sys::ReadableStream,
    length: Option<u64>,
) -> Result<Upload, String> {
    let slot: Slot = Rc::default();
    let kind = crate::gateway::ForwardBody::Stream;
    prepare_upload(kind, Some(stream), length, &slot)
        .await
        .map_err(UploadError::into_message)
}

/// Turns the plan's body into what the backend gets: a `FixedLengthStream` of `length` fed from
/// the client's stream (verified when the plan says so), awaited until its first bytes may go
/// out, so a refused or broken body never opens a backend request.
pub(super) async fn prepare_upload(
    kind: crate::gateway::ForwardBody,
    stream: Option<web_sys::ReadableStream>,
    length: Option<u64>,
    slot: &Slot,
) -> Result<Upload, UploadError> {
    use crate::gateway::ForwardBody;
    let check: Option<Box<dyn BodyCheck>> = match kind {
        ForwardBody::Empty => return Ok(Upload::none()),
        ForwardBody::Bytes(bytes) => {
            return Ok(Upload {
                body: Some(js::to_uint8(&bytes).into()),
                keep_alive: None,
                sent: None,
            })
        }
        ForwardBody::Stream => None,
        other => match other.into_check() {
            Some(check) => Some(check),
            None => return Err(UploadError::Runtime("unsupported body plan".into())),
        },
    };
    let stream = match (stream, length) {
        // An empty upload that is still framed (aws-chunked: the final chunk, the trailer) is
        // read, within a bound, and must verify to nothing before the backend gets its empty body.
        (Some(stream), Some(0)) if check.is_some() => {
            if let Some(check) = check {
                let read = read_limited(Some(stream), EMPTY_FRAMING_LIMIT).await;
                check_empty_upload(check, read).map_err(UploadError::Client)?;
            }
            return Ok(Upload::none());
        }
        (None, _) | (_, Some(0)) => {
            if let Some(mut check) = check {
                // An empty body still has to match what was signed.
                check.finish().map_err(UploadError::Client)?;
            }
            return Ok(Upload::none());
        }
        (Some(_), None) => {
            return Err(UploadError::Runtime(
                "the upload has no known length".into(),
            ))
        }
        (Some(stream), Some(len)) => (stream, len),
    };
    let v =
        Verifying::new(check, slot.clone()).map_err(|e| UploadError::Runtime(js::describe(&e)))?;
    let (piped, sent) = js::fixed_length(&stream.0, stream.1, &v.stream, &v.fail_first)
        .map_err(|e| UploadError::Runtime(js::describe(&e)))?;
    if let Err(e) = JsFuture::from(v.first.clone()).await {
        let err = slot
            .borrow_mut()
            .take()
            .unwrap_or_else(|| incomplete_body(&js::describe(&e)));
        return Err(UploadError::Client(err));
    }
    Ok(Upload {
        body: Some(piped.into()),
        keep_alive: Some(v),
        sent: Some(sent),
    })
}
