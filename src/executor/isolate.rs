//! What a Worker isolate or a native process holds for all its requests: the settings, the
//! current config snapshot with its refresh by TTL, and the request ids.
//!
//! Sans-IO: the runtime asks [`Isolate::due`] (per request, the Worker) or
//! [`Isolate::until_due`] (a timer, natively) whether the config document(s) must be loaded,
//! loads them its own way (KV, R2 or a var on the Worker; the files natively) and hands them to
//! [`Isolate::load`]. Content already served is not parsed again; content that does not read,
//! parse or validate keeps the last good snapshot serving and is reported once (not at every
//! check); with no snapshot yet, requests are answered 503 with the reason.
//!
//! `CONFIG_TTL_SECONDS` (default 60) is how long a snapshot is served before the document(s)
//! are checked again; a request is never held by a refresh once there is a snapshot. `0`: never
//! by time (natively SIGHUP still reloads; on the Worker the snapshot lives as long as the
//! isolate).
//!
//! All methods take `&self`: natively one `Arc<Isolate>` serves every worker thread, on the
//! Worker one lives per isolate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use sha2::Digest as _;

use crate::config::ConfigFormat;
use crate::executor::caches::Caches;
use crate::executor::options::Options;
use crate::s3::{ErrorCode, S3Error};
use crate::Gateway;

/// One config document as the runtime read it.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from (a path, `KV`...): problems and warnings start with it.
    pub name: String,
    /// TOML or JSON.
    pub format: ConfigFormat,
    /// The document itself.
    pub text: String,
}

/// What the runtime found when it looked at the config document(s).
#[derive(Debug)]
pub enum Documents {
    /// Their contents: the main config first, then any merged into it (natively
    /// `--sts-config`).
    Read(Vec<Document>),
    /// Read, but perhaps still being written (natively: modified under 2 s ago). Content
    /// already served or known broken is recognized; new content is not built yet
    /// ([`Loaded::Held`]): offer it again once it settled.
    Unsettled(Vec<Document>),
    /// Known unchanged without reading them (natively: same size, mtime and inode).
    Unchanged,
    /// They cannot be read: why.
    Unreadable(String),
}

/// What [`Isolate::load`] did.
#[derive(Debug)]
pub enum Loaded {
    /// Nothing new: the document(s) are what the snapshot was built from (or, unread, what was
    /// last found broken).
    Unchanged,
    /// New content, built and now served.
    Installed {
        /// The new snapshot.
        gateway: Arc<Gateway>,
        /// Accepted, but probably not what was meant (each starts with its document's name).
        warnings: Vec<String>,
    },
    /// New content not built yet ([`Documents::Unsettled`]).
    Held,
    /// Content that cannot be read, parsed or validated: the last good snapshot (if any)
    /// stays. `report` is true the first time this failure is seen (a warning per change, not
    /// per check).
    Broken {
        /// Each with its document's name (never a secret value).
        problems: Vec<String>,
        /// What parsing found besides the problems.
        warnings: Vec<String>,
        /// First seen: log it.
        report: bool,
    },
}

/// What a request does about the config, from [`Isolate::due`].
#[derive(Debug)]
pub enum Due {
    /// Serve this snapshot.
    Serve(Arc<Gateway>),
    /// Serve this snapshot, and load the document(s) off the request path (stale while
    /// revalidate): the isolate counts a refresh as running until [`Isolate::load`] is called.
    Refresh(Arc<Gateway>),
    /// No snapshot yet: load the document(s) and serve what [`Isolate::load`] installs, or
    /// answer [`Isolate::gateway`]'s error.
    Load,
    /// The settings are invalid: answer this (503).
    Refuse(S3Error),
}

#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Unreadable(String),
    Broken([u8; 32]),
}

/// The refresh's memory.
#[derive(Default)]
struct Refresh {
    /// When the document(s) were last offered.
    checked_at: Option<Duration>,
    /// A [`Due::Refresh`] is running.
    refreshing: bool,
    /// The digest of the content the current snapshot was built from.
    built: Option<[u8; 32]>,
    /// The failure last reported, with its problems and warnings.
    failure: Option<(Failure, Vec<String>, Vec<String>)>,
}

/// The per-isolate (Worker) or per-process (native) state.
pub struct Isolate {
    /// Invalid settings: why (every request is refused).
    options: Result<Options, String>,
    snapshot: RwLock<Option<Arc<Gateway>>>,
    refresh: Mutex<Refresh>,
    seed: u64,
    next_id: AtomicU64,
    builds: AtomicU64,
    /// The OIDC issuers' keys (STS) and federated backends' credentials: they survive a config
    /// refresh.
    caches: Arc<Caches>,
}

impl Isolate {
    /// An isolate with no snapshot yet. `seed`: randomness taken once (request ids are
    /// unpredictable across isolates; without it they are still unique).
    pub fn new(options: Options, seed: u64) -> Self {
        Self::with(Ok(options), seed)
    }

    /// An isolate whose settings are invalid (`problem` says why): every request is answered
    /// 503 with it. The Worker's counterpart of the native server refusing to start.
    pub fn unusable(problem: String, seed: u64) -> Self {
        Self::with(Err(problem), seed)
    }

    fn with(options: Result<Options, String>, seed: u64) -> Self {
        Isolate {
            options,
            snapshot: RwLock::default(),
            refresh: Mutex::default(),
            seed,
            next_id: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            caches: Arc::default(),
        }
    }

    /// The caches every request's [`Session`](crate::executor::Session) shares.
    pub fn caches(&self) -> &Arc<Caches> {
        &self.caches
    }

    /// The settings, or why they are invalid.
    pub fn options(&self) -> Result<&Options, &str> {
        self.options.as_ref().map_err(String::as_str)
    }

    /// How long a backend has to answer (the default when the settings are invalid).
    pub fn backend_timeout(&self) -> Duration {
        self.options()
            .map_or(crate::gateway::DEFAULT_BACKEND_TIMEOUT, |o: &Options| {
                o.backend_timeout
            })
    }

    /// A new request id: 16 uppercase hex digits, unique in this isolate.
    pub fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}", mix(self.seed.wrapping_add(n)))
    }

    /// The snapshot being served, if there is one.
    pub fn current(&self) -> Option<Arc<Gateway>> {
        match self.snapshot.read() {
            Ok(g) => g.clone(),
            // Only an assignment runs under the write lock: a poisoned lock still holds a value.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The snapshot to serve, or the 503 a request gets without one (with the reason: the
    /// invalid settings, or why the document(s) did not load).
    pub fn gateway(&self) -> Result<Arc<Gateway>, S3Error> {
        if let Some(g) = self.current() {
            return Ok(g);
        }
        let why = match &self.options {
            Err(e) => e.clone(),
            Ok(_) => match &self.lock().failure {
                Some((_, problems, _)) => problems.join("; "),
                None => "the config was not loaded yet".to_string(),
            },
        };
        Err(S3Error::new(
            ErrorCode::ServiceUnavailable,
            format!("the gateway has no usable configuration: {why}"),
        ))
    }

    /// What a request at `now` (any fixed origin, e.g. the Unix epoch) does about the config.
    pub fn due(&self, now: Duration) -> Due {
        let ttl = match &self.options {
            Ok(o) => o.config_ttl,
            Err(_) => return Due::Refuse(self.gateway().err().unwrap_or_else(unusable)),
        };
        let Some(gateway) = self.current() else {
            return Due::Load;
        };
        let mut r = self.lock();
        let stale = match (ttl, r.checked_at) {
            (Some(ttl), Some(at)) => now.saturating_sub(at) >= ttl,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if stale && !r.refreshing {
            r.refreshing = true;
            Due::Refresh(gateway)
        } else {
            Due::Serve(gateway)
        }
    }

    /// How long until the document(s) are due to be checked again (natively: the refresh
    /// task's timer), at once if never checked; None: never by time (TTL 0).
    pub fn until_due(&self, now: Duration) -> Option<Duration> {
        let ttl = self.options.as_ref().ok()?.config_ttl?;
        match self.lock().checked_at {
            Some(at) => Some(ttl.saturating_sub(now.saturating_sub(at))),
            None => Some(Duration::ZERO),
        }
    }

    /// How many times documents were parsed and built (content already served is not).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Takes what the runtime found at `now`: new content that builds becomes the snapshot;
    /// anything else leaves the current one serving. The check time moves on whatever the
    /// outcome, so broken content is retried once per TTL, not per request.
    pub fn load(&self, now: Duration, docs: Documents) -> Loaded {
        {
            let mut r = self.lock();
            r.checked_at = Some(now);
            r.refreshing = false;
        }
        let (docs, settled) = match docs {
            Documents::Unchanged => return Loaded::Unchanged,
            Documents::Unreadable(e) => {
                return self.fail(Failure::Unreadable(e.clone()), vec![e], Vec::new())
            }
            Documents::Read(d) => (d, true),
            Documents::Unsettled(d) => (d, false),
        };
        let digest = digest(&docs);
        {
            let mut r = self.lock();
            if r.built == Some(digest) {
                r.failure = None;
                return Loaded::Unchanged;
            }
            if let Some((Failure::Broken(d), problems, warnings)) = &r.failure {
                if *d == digest {
                    // Tried and reported already.
                    return Loaded::Broken {
                        problems: problems.clone(),
                        warnings: warnings.clone(),
                        report: false,
                    };
                }
            }
        }
        if !settled {
            return Loaded::Held;
        }
        let options = match &self.options {
            Ok(o) => o,
            Err(e) => return self.fail(Failure::Broken(digest), vec![e.clone()], Vec::new()),
        };
        self.builds.fetch_add(1, Ordering::Relaxed);
        match build(options, &docs) {
            (Ok(gateway), warnings) => {
                let gateway = Arc::new(gateway);
                {
                    let mut r = self.lock();
                    r.built = Some(digest);
                    r.failure = None;
                }
                self.install(gateway.clone());
                Loaded::Installed { gateway, warnings }
            }
            (Err(problems), warnings) => self.fail(Failure::Broken(digest), problems, warnings),
        }
    }

    fn fail(&self, failure: Failure, problems: Vec<String>, warnings: Vec<String>) -> Loaded {
        let mut r = self.lock();
        let report = r.failure.as_ref().map(|f| &f.0) != Some(&failure);
        r.failure = Some((failure, problems.clone(), warnings.clone()));
        Loaded::Broken {
            problems,
            warnings,
            report,
        }
    }

    fn install(&self, gateway: Arc<Gateway>) {
        let old = match self.snapshot.write() {
            Ok(mut g) => g.replace(gateway),
            Err(poisoned) => poisoned.into_inner().replace(gateway),
        };
        // The old snapshot is freed (by its last request) outside the lock.
        drop(old);
    }

    fn lock(&self) -> MutexGuard<'_, Refresh> {
        // Nothing under this lock can panic half way: a poisoned lock still holds a state.
        self.refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn unusable() -> S3Error {
    S3Error::new(
        ErrorCode::ServiceUnavailable,
        "the gateway has no usable configuration",
    )
}

/// Parses and validates the document(s), merges the rest into the first and builds the
/// gateway: every problem (not just the first) and every warning, each starting with its
/// document's name.
fn build(options: &Options, docs: &[Document]) -> (Result<Gateway, Vec<String>>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut configs = Vec::new();
    for doc in docs {
        // The backends' option checks included, so every problem shows at once, in order.
        let (config, w) = Gateway::parse_config_reporting(&doc.text, doc.format);
        let name = &doc.name;
        warnings.extend(w.iter().map(|w| format!("{name}: {w}")));
        match config {
            Ok(c) => configs.push((name, c)),
            Err(e) => problems.extend(e.problems.iter().map(|p| format!("{name}: {p}"))),
        }
    }
    let mut configs = configs.into_iter();
    let (Some((main, mut config)), true) = (configs.next(), problems.is_empty()) else {
        if docs.is_empty() {
            problems.push("no config document was read".to_string());
        }
        return (Err(problems), warnings);
    };
    for (name, other) in configs {
        config = match config.merge(other) {
            Ok(c) => c,
            Err(e) => {
                let problems = e.problems.iter().map(|p| format!("{name}: {p}")).collect();
                return (Err(problems), warnings);
            }
        };
    }
    warnings.extend(options.config_warnings(&config));
    // The backends' option warnings were reported as each document was read.
    let gateway = Gateway::build_reporting(config, options.gateway.clone())
        .0
        .map_err(|e| e.problems.iter().map(|p| format!("{main}: {p}")).collect());
    (gateway, warnings)
}

/// One digest over every document, each prefixed by its length (two never read as one).
fn digest(docs: &[Document]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for d in docs {
        h.update((d.text.len() as u64).to_be_bytes());
        h.update(d.text.as_bytes());
    }
    h.finalize().into()
}

/// SplitMix64: a bijection, so distinct counters give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
