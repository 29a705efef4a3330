//! The plans made of several backend calls — a streamed copy ([`Plan::Copy`]) and a gather
//! ([`Plan::Gather`], ListBuckets through pass-through buckets) — as a state machine that never
//! awaits: the [`Transfer`] says which call to make next ([`Move`]) and takes its answer back.
//!
//! ```text
//! let mut t = Transfer::copy(copy, world, has_r2_bindings);   // or Transfer::gather(&gateway, gather)
//! let mut kept = None;                                        // at most one open answer body
//! let resp = loop {
//!     let held = kept.take();              // a kept body the move does not pipe is dropped
//!     match t.step() {
//!         Move::Send(call) => { let (answer, open) = send(call, held); kept = open; t.answered(answer) }
//!         Move::SendAll(calls) => t.answered_all(calls.map(send).join()),
//!         Move::R2(call) => ...,           // Worker only: a binding's get or put, by handle
//!         Move::Done(resp) => break resp,
//!     }
//! };
//! ```
//!
//! Bodies stream through the runtime, never through here: a [`Read::Head`] call's answer body
//! stays with the runtime under the call's [`AnswerId`], and a later call whose body is
//! [`CallBody::AnswerBody`] of that id pipes it into its request.
//!
//! [`Work::of`] is where a runtime starts with a session's plan: an answer to send, a request
//! to forward, an R2 binding call, or a transfer.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};

use super::caches::World;
use crate::gateway::copy::ANSWER_LIMIT;
use crate::gateway::GATHER_LIMIT;
use crate::gateway::{add_server_timing, error_response, Plan, R2Call, R2Plan, Timing};
use crate::gateway::{CopyEvent, CopyStep, Forward, ForwardBody, Gateway, Gather, StreamedCopy};
use crate::s3::S3Error;

/// What came of a call: the answer's head ([`Read::Head`]), the whole answer ([`Read::Whole`]),
/// a failure (no answer, a timeout, a body that broke off, an answer over the limit), or an R2
/// binding's outcome.
pub type Answer = CopyEvent;

/// Names the answer of one call, so a later call can pipe its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerId(u32);

/// The body of a [`Call`].
#[derive(Debug)]
pub enum CallBody {
    /// No body.
    Empty,
    /// These bytes.
    Bytes(Bytes),
    /// The body of this earlier answer (kept open by the runtime), piped as it arrives; the
    /// request's `content-length` header is its length.
    AnswerBody(AnswerId),
}

/// How much of a call's answer the runtime reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The head only: answer [`Answer::Opened`] and keep the body open under the call's id.
    Head,
    /// The whole answer, at most `limit` bytes: [`Answer::Answer`] ([`Answer::Failed`] past it).
    Whole {
        /// Cap on the body.
        limit: usize,
    },
}

/// One backend request.
#[derive(Debug)]
pub struct Call {
    /// Names this call's answer.
    pub id: AnswerId,
    /// Method to send.
    pub method: Method,
    /// Full (presigned) URL.
    pub url: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// Body to send.
    pub body: CallBody,
    /// What to read of the answer.
    pub read: Read,
}

impl Call {
    /// The request's `content-length`, when it has a valid one.
    pub fn content_length(&self) -> Option<u64> {
        super::uploads::content_length(&self.headers)
    }
}

/// What the runtime does next.
#[derive(Debug)]
pub enum Move {
    /// Make this call; then [`Transfer::answered`].
    Send(Call),
    /// Make these calls, concurrently where the runtime can (none has a piped body, none keeps
    /// its body); then [`Transfer::answered_all`] with their answers in the same order.
    SendAll(Vec<Call>),
    /// Worker only: make this call on the R2 binding `env[binding]` and answer [`Answer::R2`]
    /// with its outcome (or [`Answer::Failed`]). A `get` keeps the object's body open under
    /// `keep`; a `put` sends the body of answer `body`, wrapped to `length` bytes.
    R2(Box<R2Move>),
    /// The client's answer (the runtime adds `Server-Timing`). Asking again answers a 500.
    Done(Response<Bytes>),
}

/// A call of an R2 binding in a transfer ([`Move::R2`]).
#[derive(Debug)]
pub struct R2Move {
    /// `env[binding]`.
    pub binding: String,
    /// The call (a `Get` or a `Put`).
    pub call: R2Call,
    /// For a `Put`: whose body to send, and its length.
    pub body: Option<(AnswerId, u64)>,
    /// For a `Get`: the id to keep the object's body under.
    pub keep: Option<AnswerId>,
}

enum State<'a> {
    /// A copy's next step, not handed out yet.
    Copy(Box<StreamedCopy>, Box<CopyStep>),
    /// A copy's step is out; its answer advances the copy.
    CopyWaiting(Box<StreamedCopy>),
    /// A gather's calls, not handed out yet.
    Gather(&'a Gateway, Box<Gather>),
    /// A gather's calls are out.
    GatherWaiting(&'a Gateway, Box<Gather>),
    Finished(Response<Bytes>),
    Spent,
}

impl std::fmt::Debug for State<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            State::Copy(..) => "Copy",
            State::CopyWaiting(_) => "CopyWaiting",
            State::Gather(..) => "Gather",
            State::GatherWaiting(..) => "GatherWaiting",
            State::Finished(_) => "Finished",
            State::Spent => "Spent",
        };
        f.write_str(name)
    }
}

/// A copy or a gather in progress (see the module doc).
#[derive(Debug)]
pub struct Transfer<'a> {
    state: State<'a>,
    world: World,
    next_id: u32,
    /// The answer whose body the runtime keeps open (the copy's source).
    open: Option<AnswerId>,
    request_id: String,
}

impl<'a> Transfer<'a> {
    /// Drives `copy`. A runtime without R2 bindings (`r2_bindings` false) answers a copy that
    /// reads or writes one with 501 `NotImplemented` before any call.
    pub fn copy(mut copy: StreamedCopy, world: World, r2_bindings: bool) -> Self {
        let request_id = copy.request_id.clone();
        let state = if copy.uses_r2() && !r2_bindings {
            State::Finished(copy.unsupported_runtime())
        } else {
            let step = copy.start((world.now)());
            State::Copy(Box::new(copy), Box::new(step))
        };
        Transfer {
            state,
            world,
            next_id: 0,
            open: None,
            request_id,
        }
    }

    /// Drives `gather`; `gateway` makes the client's answer of its answers.
    pub fn gather(gateway: &'a Gateway, gather: Gather, world: World) -> Self {
        Transfer {
            request_id: gather.request_id().to_string(),
            state: State::Gather(gateway, Box::new(gather)),
            world,
            next_id: 0,
            open: None,
        }
    }

    /// What the runtime does next. Never fails: a refusal is a `Done` carrying it.
    pub fn step(&mut self) -> Move {
        loop {
            match std::mem::replace(&mut self.state, State::Spent) {
                State::Copy(copy, step) => match self.copy_move(*step) {
                    Some(Move::Done(resp)) => return Move::Done(resp),
                    Some(next) => {
                        self.state = State::CopyWaiting(copy);
                        return next;
                    }
                    // A pipe with no open source: its failure advances the copy.
                    None => self.advance(copy, no_source()),
                },
                State::Finished(resp) => return Move::Done(resp),
                State::Gather(gateway, mut gather) => {
                    let calls = gather
                        .take_requests()
                        .into_iter()
                        .map(|fwd| {
                            self.call(
                                fwd,
                                Read::Whole {
                                    limit: GATHER_LIMIT,
                                },
                            )
                        })
                        .collect();
                    self.state = State::GatherWaiting(gateway, gather);
                    return Move::SendAll(calls);
                }
                waiting @ (State::CopyWaiting(_) | State::GatherWaiting(..)) => {
                    self.state = waiting;
                    return Move::Done(
                        self.error("the transfer was asked for its next call before its answer"),
                    );
                }
                State::Spent => {
                    return Move::Done(self.error("the transfer was asked for after its end"))
                }
            }
        }
    }

    /// The answer to [`Move::Send`] or [`Move::R2`].
    pub fn answered(&mut self, answer: Answer) {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::CopyWaiting(copy) => self.advance(copy, answer),
            other => self.state = other,
        }
    }

    /// The answers to [`Move::SendAll`], in the order of its calls.
    pub fn answered_all(&mut self, answers: Vec<Answer>) {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::GatherWaiting(gateway, gather) => {
                self.state = State::Finished(gateway.finish_gather(*gather, answers));
            }
            other => self.state = other,
        }
    }

    fn advance(&mut self, mut copy: Box<StreamedCopy>, event: Answer) {
        let step = copy.advance(event, (self.world.now)());
        self.state = State::Copy(copy, Box::new(step));
    }

    /// The move for a copy's step; None for a pipe with no source open.
    fn copy_move(&mut self, step: CopyStep) -> Option<Move> {
        let open = self.open.take();
        Some(match step {
            CopyStep::Open(fwd) => {
                let call = self.call(fwd, Read::Head);
                self.open = Some(call.id);
                Move::Send(call)
            }
            CopyStep::Pipe(fwd) => {
                let source = open?;
                let mut call = self.call(
                    fwd,
                    Read::Whole {
                        limit: ANSWER_LIMIT,
                    },
                );
                call.body = CallBody::AnswerBody(source);
                Move::Send(call)
            }
            CopyStep::Send(fwd) => Move::Send(self.call(
                fwd,
                Read::Whole {
                    limit: ANSWER_LIMIT,
                },
            )),
            CopyStep::OpenR2(get) => {
                let id = self.new_id();
                self.open = Some(id);
                Move::R2(Box::new(R2Move {
                    binding: get.binding,
                    call: R2Call::Get {
                        key: get.key,
                        range: get.range,
                        conditions: get.conditions,
                    },
                    body: None,
                    keep: Some(id),
                }))
            }
            CopyStep::PipeR2(put) => Move::R2(Box::new(R2Move {
                binding: put.binding,
                call: R2Call::Put {
                    key: put.key,
                    http: put.http,
                    custom: put.custom,
                    md5: None,
                    conditions: put.conditions,
                },
                body: Some((open?, put.length)),
                keep: None,
            })),
            CopyStep::Done(resp) => Move::Done(resp),
        })
    }

    /// A call of `fwd` (its own body: none or bytes; a stream is the copy's to pipe).
    fn call(&mut self, fwd: Forward, read: Read) -> Call {
        let body = match fwd.body {
            ForwardBody::Bytes(bytes) => CallBody::Bytes(bytes),
            _ => CallBody::Empty,
        };
        Call {
            id: self.new_id(),
            method: fwd.method,
            url: fwd.url,
            headers: fwd.headers,
            body,
            read,
        }
    }

    fn new_id(&mut self) -> AnswerId {
        self.next_id += 1;
        AnswerId(self.next_id)
    }

    fn error(&self, why: &str) -> Response<Bytes> {
        error_response(&Method::GET, &S3Error::internal(why), &self.request_id)
    }
}

/// What a runtime executes of a session's plan: an answer ready to go, one backend request
/// (bodies streamed), one R2 binding call, or a [`Transfer`] of several calls.
#[derive(Debug)]
pub enum Work<'a> {
    /// Send this answer (`Server-Timing` added).
    Respond(Response<Bytes>),
    /// Forward the request (the runtime streams the bodies).
    Forward(Box<Forward>),
    /// Call the R2 binding (Worker only; elsewhere [`R2Plan::unsupported_runtime`]).
    R2(Box<R2Plan>),
    /// Drive this transfer.
    Transfer(Transfer<'a>),
}

impl<'a> Work<'a> {
    /// The work of `plan` (planned in `plan_time`) for request `(method, request_id)`, with
    /// `gateway`'s snapshot, on a runtime with (or without) R2 bindings.
    pub fn of(
        plan: Plan,
        gateway: &'a Gateway,
        (world, r2_bindings): (World, bool),
        plan_time: Duration,
        (method, request_id): (&Method, &str),
    ) -> Self {
        match plan {
            Plan::Respond(mut resp) => {
                let timing = Timing {
                    plan: plan_time,
                    backend: Duration::ZERO,
                };
                add_server_timing(resp.headers_mut(), timing);
                Work::Respond(resp)
            }
            Plan::Forward(fwd) => Work::Forward(fwd),
            Plan::R2(r2) => Work::R2(r2),
            Plan::Copy(copy) => Work::Transfer(Transfer::copy(*copy, world, r2_bindings)),
            Plan::Gather(gather) => Work::Transfer(Transfer::gather(gateway, *gather, world)),
            // A session never hands these out.
            Plan::NeedBody { .. }
            | Plan::NeedJwks { .. }
            | Plan::NeedForm(_)
            | Plan::NeedBackendCredentials(_) => {
                let err = S3Error::internal("the gateway asked for the same input twice");
                Work::Respond(error_response(method, &err, request_id))
            }
        }
    }
}

fn no_source() -> Answer {
    Answer::Failed("no copy source is open".to_string())
}

#[cfg(test)]
mod tests;
