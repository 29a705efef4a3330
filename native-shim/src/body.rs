//! The bodies the proxy sends and answers with: the client's upload (through the core's check
//! when the signature covers it), a backend answer under an idle timeout, an outgoing body that
//! says when it was sent, a body whose first frame was read ahead.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use multistore::executor::incomplete_body;
use multistore::s3::S3Error;
use multistore::BodyCheck;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every request and response we send.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;
/// Why the outgoing request body failed, when the client's answer is not a 502: the verifier
/// refused the body, or the client's own body broke off.
pub(crate) type Slot = Arc<Mutex<Option<S3Error>>>;

/// One frame result of our bodies.
type Polled = Poll<Option<Result<Frame<Bytes>, BoxError>>>;

pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body of bytes held in memory.
pub(crate) fn bytes(b: Bytes) -> ProxyBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// A response the core built whole.
pub(crate) fn full(resp: Response<Bytes>) -> Response<ProxyBody> {
    resp.map(bytes)
}

/// The client's body on its way to the backend: as is, or through a core [`BodyCheck`] (signed
/// sha256, signed aws-chunked) that releases the last bytes only after everything verified, so a
/// refused body aborts the backend request before it can complete an object. A client that goes
/// away mid-upload, or a refusal, fails the outgoing body (now and on every later poll: a body
/// that ends cleanly after an error could let the backend finish a short request) and is
/// recorded in `refused` for the client's answer.
pub(crate) struct ClientUpload {
    inner: Incoming,
    check: Option<Box<dyn BodyCheck + Send + Sync>>,
    refused: Slot,
    done: bool,
    failed: Option<String>,
}

impl ClientUpload {
    pub(crate) fn new(
        inner: Incoming,
        check: Option<Box<dyn BodyCheck + Send + Sync>>,
        refused: &Slot,
    ) -> Self {
        ClientUpload {
            inner,
            check,
            refused: refused.clone(),
            done: false,
            failed: None,
        }
    }

    /// Records the refusal and fails the outgoing body with it.
    fn refuse(&mut self, err: S3Error) -> Polled {
        let msg = err.to_string();
        record(&self.refused, err);
        self.failed = Some(msg.clone());
        Poll::Ready(Some(Err(msg.into())))
    }

    /// The check's end of the body: its held-back bytes, or its refusal.
    fn finish(&mut self) -> Polled {
        let finished = match self.check.as_mut() {
            Some(check) => check.finish(),
            None => Ok(None),
        };
        match finished {
            Ok(last) => {
                self.done = true;
                Poll::Ready(last.map(|out| Ok(Frame::data(out))))
            }
            Err(e) => self.refuse(e),
        }
    }
}

impl Body for ClientUpload {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        loop {
            if let Some(msg) = &this.failed {
                return Poll::Ready(Some(Err(msg.clone().into())));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return this.finish(),
                Poll::Ready(Some(Err(e))) => {
                    record(&this.refused, incomplete_body(&e.to_string()));
                    this.failed = Some(format!("the client's body failed: {e}"));
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let Some(check) = this.check.as_mut() else {
                return Poll::Ready(Some(Ok(frame)));
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match check.push(data) {
                Ok(Some(out)) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                Ok(None) => {}
                Err(e) => return this.refuse(e),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.check.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Keeps the first failure: a verifier's refusal outranks the broken stream it caused.
pub(crate) fn record(slot: &Slot, err: S3Error) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(err);
    }
}

/// A backend's response body that fails when the backend sends nothing for `idle` while we wait
/// for it. Only time spent waiting on the backend counts: a client that reads slowly does not.
pub(crate) struct IdleTimeout<B> {
    inner: B,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    waiting: bool,
}

impl<B> IdleTimeout<B> {
    pub(crate) fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
        }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let this = &mut *self;
        if !this.waiting {
            let deadline = tokio::time::Instant::now() + this.idle;
            this.timer.as_mut().reset(deadline);
            this.waiting = true;
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match std::future::Future::poll(this.timer.as_mut(), cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "the backend sent nothing for {} s in the middle of its answer",
                    this.idle.as_secs_f64()
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An outgoing body that says when it has been sent whole (or dropped).
pub(crate) struct SentSignal {
    inner: ProxyBody,
    tx: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SentSignal {
    /// `inner`, and what resolves once it was sent whole or dropped.
    pub(crate) fn wrap(inner: ProxyBody) -> (ProxyBody, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Some(tx);
        (SentSignal { inner, tx }.boxed(), rx)
    }
}

impl Body for SentSignal {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            if let Some(tx) = self.tx.take() {
                let _ = tx.send(());
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Polls a body until its first frame, and returns a body that replays it.
pub(crate) async fn prime(mut body: ProxyBody) -> Result<ProxyBody, BoxError> {
    match body.frame().await {
        None => Ok(empty()),
        Some(Ok(frame)) => Ok(Primed {
            first: Some(frame),
            inner: body,
        }
        .boxed()),
        Some(Err(e)) => Err(e),
    }
}

/// A body whose first frame was already read.
struct Primed {
    first: Option<Frame<Bytes>>,
    inner: ProxyBody,
}

impl Body for Primed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled {
        if let Some(frame) = self.first.take() {
            return Poll::Ready(Some(Ok(frame)));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let first = self
            .first
            .as_ref()
            .and_then(|f| f.data_ref())
            .map_or(0, |d| d.len() as u64);
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(first));
        }
        hint.set_lower(inner.lower().saturating_add(first));
        hint
    }
}

#[cfg(test)]
pub(crate) mod tests;
