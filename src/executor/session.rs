//! One request from head to the plan a runtime executes, as a state machine that never
//! awaits: the [`Session`] says what it needs ([`Step`]) and takes the result back.
//!
//! ```text
//! let mut s = Session::new(&gateway, &caches, world, &head, &ctx);
//! let outcome = loop {
//!     match s.step() {
//!         Step::ReadBody { limit } => s.body(read_at_most(limit)),   // BodyRead
//!         Step::ReadForm => { /* s.form_chunk(..) until true, or s.form_end() / s.form_broken(..) */ }
//!         Step::Fetch(request) => s.fetched(send(request)),           // Fetched
//!         Step::Wait(pause) => { sleep(pause); s.waited() }
//!         Step::Done(outcome) => break outcome,                      // Outcome
//!     }
//! };
//! ```
//!
//! The session asks for the body (DeleteObjects, STS) and the form (POST Object) at most once,
//! fetches the issuer's JWKS (cached, refetched at most once per request and per rate limit
//! when the token's key is unknown) and exchanges or waits for federated backend credentials
//! (cached; a refresh ahead of expiry comes out as [`Outcome::refresh`] for the runtime to run
//! after answering). The runtime then executes [`Outcome::plan`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};

use super::caches::{lock, Caches, Exchange, FetchError, Fetched, Refresh, SmallRequest, World};
use crate::backend::federation::{CredentialsNeeded, ExchangeError, TemporaryCredentials};
use crate::backend::federation::{Decision, IN_FLIGHT_TIMEOUT_SECS};
use crate::gateway::{body_too_large, error_response, Gateway, Plan, RequestContext};
use crate::post::FormReader;
use crate::s3::request::RequestHead;
use crate::s3::{ErrorCode, S3Error};
use crate::sts::fetch::{self as jwks_fetch};
use crate::sts::jwt::Jwks;
use crate::time::Timestamp;

/// How much of a body refused after its form fields is read off before answering, so a client
/// still sending gets the answer rather than a reset connection.
pub const DRAIN_LIMIT: usize = 8 << 20;

/// How long a request waits before looking again at another request's credential exchange.
pub(super) const WAIT_POLL: Duration = Duration::from_millis(25);

/// What the session needs from the runtime next.
#[derive(Debug)]
pub enum Step {
    /// Read the whole request body, at most `limit` bytes; then [`Session::body`].
    ReadBody {
        /// Cap on the body.
        limit: usize,
    },
    /// Feed the body's chunks to [`Session::form_chunk`] until it returns true, or call
    /// [`Session::form_end`] / [`Session::form_broken`] when the body ends or fails first.
    /// The rest of the body stays unread: the plan may stream it.
    ReadForm,
    /// Send this small request; then [`Session::fetched`].
    Fetch(SmallRequest),
    /// Sleep this long; then [`Session::waited`].
    Wait(Duration),
    /// Execute the outcome. Asking again after this answers a 500.
    Done(Outcome),
}

/// What the runtime executes.
#[derive(Debug)]
pub struct Outcome {
    /// The plan: `Respond`, `Forward`, `Copy`, `Gather` or `R2` (never a `Need*`).
    pub plan: Plan,
    /// Read off and drop at most this many bytes of the rest of the request body before
    /// answering (a POST form refused after its fields).
    pub drain_body: Option<usize>,
    /// A credential refresh to run after answering (spawned, or the Worker's `waitUntil`).
    pub refresh: Option<Refresh>,
}

/// What came of reading the body for [`Step::ReadBody`].
#[derive(Debug)]
pub enum BodyRead {
    /// The whole body.
    Read(Bytes),
    /// Longer than the limit.
    TooLarge,
    /// The stream broke off (why).
    Broken(String),
}

#[derive(Debug)]
enum State {
    Planned(Plan),
    Body { limit: usize },
    Form(Box<FormReader>),
    Jwks(Box<JwksFetch>),
    Exchange(Box<Exchange>),
    Waiting(Box<CredentialsNeeded>, Timestamp),
    Finished(Box<Outcome>),
    Spent,
}

/// A JWKS fetch in progress: the discovery document (`keys: false`), then the keys.
#[derive(Debug)]
struct JwksFetch {
    issuer: String,
    force: bool,
    keys: bool,
    request: SmallRequest,
}

/// Which inputs the gateway has had: each is given once.
#[derive(Debug, Default)]
struct Given {
    form: bool,
    jwks: bool,
    credentials: bool,
}

/// One request's orchestration (see the module doc).
#[derive(Debug)]
pub struct Session<'a> {
    gateway: &'a Gateway,
    caches: &'a Caches,
    world: World,
    head: &'a RequestHead,
    ctx: &'a RequestContext,
    state: State,
    /// The body read for [`Step::ReadBody`].
    body: Option<Bytes>,
    given: Given,
    drain: bool,
    refresh: Option<Refresh>,
}

impl<'a> Session<'a> {
    /// Plans `head` with `gateway` (one config snapshot for the whole request).
    pub fn new(
        gateway: &'a Gateway,
        caches: &'a Caches,
        world: World,
        head: &'a RequestHead,
        ctx: &'a RequestContext,
    ) -> Self {
        Session {
            gateway,
            caches,
            world,
            head,
            ctx,
            state: State::Planned(gateway.plan(head, ctx)),
            body: None,
            given: Given::default(),
            drain: false,
            refresh: None,
        }
    }

    /// What the runtime does next. Never blocks, never fails: a refusal is a `Done` whose plan
    /// answers it.
    pub fn step(&mut self) -> Step {
        loop {
            match std::mem::replace(&mut self.state, State::Spent) {
                State::Planned(plan) => self.state = self.advance(plan),
                State::Body { limit } => {
                    self.state = State::Body { limit };
                    return Step::ReadBody { limit };
                }
                State::Form(reader) => {
                    self.state = State::Form(reader);
                    return Step::ReadForm;
                }
                State::Jwks(fetch) => {
                    let request = fetch.request.clone();
                    self.state = State::Jwks(fetch);
                    return Step::Fetch(request);
                }
                State::Exchange(exchange) => {
                    let request = exchange.request();
                    self.state = State::Exchange(exchange);
                    return Step::Fetch(request);
                }
                State::Waiting(needed, give_up) => {
                    self.state = State::Waiting(needed, give_up);
                    return Step::Wait(WAIT_POLL);
                }
                State::Finished(outcome) => return Step::Done(*outcome),
                State::Spent => {
                    let err = S3Error::internal("the request was asked for after its end");
                    return Step::Done(self.outcome(Plan::Respond(self.error(&err))));
                }
            }
        }
    }

    /// The body [`Step::ReadBody`] asked for.
    pub fn body(&mut self, read: BodyRead) {
        let State::Body { limit } = self.state else {
            return;
        };
        let plan = match read {
            BodyRead::Read(bytes) => {
                self.body = Some(bytes.clone());
                self.gateway.plan_with_body(self.head, self.ctx, bytes)
            }
            BodyRead::TooLarge => Plan::Respond(body_too_large(
                &self.head.method,
                &self.ctx.request_id,
                limit,
            )),
            BodyRead::Broken(why) => Plan::Respond(self.error(&incomplete_body(&why))),
        };
        self.state = State::Planned(plan);
    }

    /// The next chunk of the form body for [`Step::ReadForm`]; true when the runtime should
    /// stop reading (the rest of the body is the plan's).
    pub fn form_chunk(&mut self, chunk: &[u8]) -> bool {
        let State::Form(reader) = &mut self.state else {
            return true;
        };
        if reader.push(chunk) {
            self.form_read();
            return true;
        }
        false
    }

    /// The form body ended before the reader had enough.
    pub fn form_end(&mut self) {
        if let State::Form(reader) = &mut self.state {
            reader.end();
            self.form_read();
        }
    }

    /// The form body broke off (why).
    pub fn form_broken(&mut self, why: &str) {
        if let State::Form(reader) = &mut self.state {
            reader.broken(why);
            self.form_read();
        }
    }

    /// The answer to [`Step::Fetch`].
    pub fn fetched(&mut self, fetched: Fetched) {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Jwks(fetch) => self.state = self.jwks_fetched(*fetch, fetched),
            State::Exchange(mut exchange) => {
                let now = (self.world.now)();
                self.state = match exchange.answered(fetched, now) {
                    None => State::Exchange(exchange),
                    Some(result) => {
                        let result = self.caches.finish(&exchange.needed, result, now);
                        self.with_credentials(result.as_deref())
                    }
                };
            }
            other => self.state = other,
        }
    }

    /// The pause [`Step::Wait`] asked for is over.
    pub fn waited(&mut self) {
        if let State::Waiting(..) = self.state {
            if let State::Waiting(needed, give_up) =
                std::mem::replace(&mut self.state, State::Spent)
            {
                self.state = self.credentials(needed, Some(give_up));
            }
        }
    }

    fn form_read(&mut self) {
        let State::Form(reader) = std::mem::replace(&mut self.state, State::Spent) else {
            return;
        };
        self.given.form = true;
        let plan = self.gateway.plan_with_form(self.head, self.ctx, *reader);
        // Refused before the file: the rest of the body is read off before the answer.
        self.drain = matches!(plan, Plan::Respond(_));
        self.state = State::Planned(plan);
    }

    /// The state a plan leads to: the input it asks for, or the end.
    fn advance(&mut self, plan: Plan) -> State {
        match plan {
            Plan::NeedBody { limit } if self.body.is_none() => State::Body { limit },
            Plan::NeedForm(reader) if !self.given.form => State::Form(reader),
            Plan::NeedJwks { issuer, .. } if !self.given.jwks => self.jwks(issuer, false),
            Plan::NeedBackendCredentials(needed) if !self.given.credentials => {
                self.credentials(needed, None)
            }
            Plan::NeedBody { .. }
            | Plan::NeedJwks { .. }
            | Plan::NeedForm(_)
            | Plan::NeedBackendCredentials(_) => {
                let err = S3Error::internal("the gateway asked for the same input twice");
                State::Finished(Box::new(self.outcome(Plan::Respond(self.error(&err)))))
            }
            plan => State::Finished(Box::new(self.outcome(plan))),
        }
    }

    fn outcome(&mut self, plan: Plan) -> Outcome {
        Outcome {
            plan,
            drain_body: self.drain.then_some(DRAIN_LIMIT),
            refresh: self.refresh.take(),
        }
    }

    fn error(&self, err: &S3Error) -> http::Response<Bytes> {
        error_response(&self.head.method, err, &self.ctx.request_id)
    }

    /// The JWKS of `issuer`: the cached one while fresh (unless `force`), else fetched if the
    /// rate limit allows, else the last one fetched.
    fn jwks(&mut self, issuer: String, force: bool) -> State {
        let now = (self.world.now)();
        let may_fetch = {
            let mut cache = lock(&self.caches.jwks);
            match cache.fresh(&issuer, now) {
                Some(fresh) if !force => {
                    drop(cache);
                    return self.with_jwks(issuer, force, Some(fresh));
                }
                _ => cache.begin_fetch(&issuer, now),
            }
        };
        if may_fetch {
            match document_request(&jwks_fetch::discovery_url(&issuer)) {
                Ok(request) => {
                    return State::Jwks(Box::new(JwksFetch {
                        issuer,
                        force,
                        keys: false,
                        request,
                    }))
                }
                Err(e) => return self.jwks_failed(issuer, force, &e),
            }
        }
        let stale = lock(&self.caches.jwks).stale(&issuer);
        self.with_jwks(issuer, force, stale)
    }

    fn jwks_fetched(&mut self, mut fetch: JwksFetch, fetched: Fetched) -> State {
        let url = fetch.request.url.clone();
        let doc = match document(&url, fetched) {
            Ok(doc) => doc,
            Err(e) => return self.jwks_failed(fetch.issuer, fetch.force, &e),
        };
        if !fetch.keys {
            let next = jwks_fetch::jwks_uri(&doc, &fetch.issuer).and_then(|u| document_request(&u));
            return match next {
                Ok(request) => {
                    fetch.keys = true;
                    fetch.request = request;
                    State::Jwks(Box::new(fetch))
                }
                Err(e) => self.jwks_failed(fetch.issuer, fetch.force, &e),
            };
        }
        match Jwks::parse(&doc) {
            Ok(jwks) => {
                log::info!(
                    "fetched the JWKS of {}: {} usable keys, {} skipped",
                    fetch.issuer,
                    jwks.len(),
                    jwks.skipped()
                );
                let jwks = Arc::new(jwks);
                lock(&self.caches.jwks).store(&fetch.issuer, jwks.clone(), (self.world.now)());
                self.with_jwks(fetch.issuer, fetch.force, Some(jwks))
            }
            Err(e) => self.jwks_failed(fetch.issuer, fetch.force, &format!("{url}: {e}")),
        }
    }

    fn jwks_failed(&mut self, issuer: String, force: bool, why: &str) -> State {
        log::warn!(
            "fetching the JWKS of {issuer} failed: {}",
            crate::auth::redact(why)
        );
        let stale = lock(&self.caches.jwks).stale(&issuer);
        self.with_jwks(issuer, force, stale)
    }

    /// Verifies the token with `jwks` and mints the credentials; an unknown key refetches once.
    fn with_jwks(&mut self, issuer: String, force: bool, jwks: Option<Arc<Jwks>>) -> State {
        self.given.jwks = true;
        let body = self.body.clone().unwrap_or_default();
        let mut random = self.world.random;
        let plan = self.gateway.plan_with_jwks(
            self.head,
            self.ctx,
            &body,
            jwks.as_deref(),
            !force,
            &mut random,
        );
        match plan {
            Plan::NeedJwks { refresh: true, .. } if !force => self.jwks(issuer, true),
            plan => State::Planned(plan),
        }
    }

    /// Federated credentials: cached, exchanged now (one exchange per key at a time; others
    /// wait for it until `give_up`), or used while a refresh runs after the answer.
    fn credentials(&mut self, needed: Box<CredentialsNeeded>, give_up: Option<Timestamp>) -> State {
        let now = (self.world.now)();
        // Waiting longer than a dead refresh is presumed alive would be pointless.
        let give_up = give_up.unwrap_or(Timestamp(now.0 + IN_FLIGHT_TIMEOUT_SECS + 5));
        match self.caches.decide(&needed.key, now) {
            Decision::Use(c) => self.with_credentials(Ok(&c)),
            Decision::UseAndRefresh(c) => {
                self.refresh = Refresh::start(self.gateway, self.caches, needed, self.world);
                self.with_credentials(Ok(&c))
            }
            Decision::Fetch => match Exchange::start(self.gateway, needed, self.world) {
                Ok(exchange) => State::Exchange(Box::new(exchange)),
                Err((needed, e)) => {
                    let result = self.caches.finish(&needed, Err(e), now);
                    self.with_credentials(result.as_deref())
                }
            },
            Decision::Fail(e) => self.with_credentials(Err(&e)),
            Decision::Wait if now.0 > give_up.0 => {
                let e = ExchangeError::Unreachable(
                    "timed out waiting for another request's credential exchange".to_string(),
                );
                self.with_credentials(Err(&e))
            }
            Decision::Wait => State::Waiting(needed, give_up),
        }
    }

    fn with_credentials(
        &mut self,
        credentials: Result<&TemporaryCredentials, &ExchangeError>,
    ) -> State {
        self.given.credentials = true;
        State::Planned(self.gateway.plan_with_credentials(
            self.head,
            self.ctx,
            self.body.clone(),
            credentials,
        ))
    }
}

/// A GET of a small JSON document (discovery, JWKS), for fetchable URLs only.
fn document_request(url: &str) -> Result<SmallRequest, String> {
    jwks_fetch::check_url(url)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    Ok(SmallRequest {
        method: Method::GET,
        url: url.to_string(),
        headers,
        body: Bytes::new(),
        limit: jwks_fetch::MAX_DOCUMENT_BYTES,
        timeout: Duration::from_secs(jwks_fetch::FETCH_TIMEOUT_SECS),
    })
}

/// A document's body, or why there is none.
fn document(url: &str, fetched: Fetched) -> Result<Bytes, String> {
    match fetched {
        Ok((status, doc)) if (200..300).contains(&status) => Ok(doc),
        Ok((status, _)) => Err(format!("{url} answered {status}")),
        Err(FetchError::TimedOut) => Err(format!("{url}: timed out")),
        Err(FetchError::Unreachable(e) | FetchError::Body(e)) => Err(format!("{url}: {e}")),
    }
}

/// The client broke off its body.
pub fn incomplete_body(why: &str) -> S3Error {
    S3Error::new(
        ErrorCode::IncompleteBody,
        format!("reading the request body failed: {why}"),
    )
}

// The JWT test keys are native-only (as in `sts::jwt`).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
