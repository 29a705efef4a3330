//! Following the config file(s): the native side of the core's [`Isolate`] refresh.
//!
//! Requests are served from the isolate's current snapshot, which each request takes once and
//! keeps to its end. One background task re-checks the config file(s) when the isolate says
//! they are due (`CONFIG_TTL_SECONDS`, default 60; `0`: only on SIGHUP) and at once on SIGHUP;
//! no request ever waits for it. What is native lives here: [`Watch`] decides, sans-IO (the
//! disk and the clock are passed in), when the files are read (files whose size, mtime and inode
//! did not change are not), and holds a changed file back until it has been quiet for
//! [`SETTLE`] (never half written). The core does the rest: content whose digest did not change
//! is not parsed, and a broken file keeps the last good snapshot serving (reported once per
//! content, not at every check).
//!
//! What survives a refresh is what the process holds besides the gateway (the JWKS cache,
//! federated backend credentials, the backend connection pool); everything derived from the
//! config (buckets, access keys, their signing-key cache) is rebuilt, so a removed key stops
//! working with the snapshot that no longer has it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use multistore::config::ConfigFormat;
use multistore::executor::{Document, Documents, Isolate, Loaded};

/// A file modified less than this long ago may still be being written: a changed file is built
/// only once it has been quiet this long (a half-written file must never be served, even when
/// its first half is a valid config), and its stamp is not trusted before (a rewrite within the
/// same timestamp tick, 1-2 s on some filesystems, keeps it: git's "racily clean" entries).
pub(crate) const SETTLE: Duration = Duration::from_secs(2);

/// What a file looked like, without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
    /// Inode and change time (unix): an editor's rename-over or a same-size rewrite shows here.
    pub node: (u64, i64, i64),
}

/// The file system, as [`Watch`] needs it (a fake in tests).
pub(crate) trait Disk {
    fn stat(&self, path: &Path) -> io::Result<Stamp>;
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// The real file system.
pub(crate) struct RealDisk;

impl Disk for RealDisk {
    fn stat(&self, path: &Path) -> io::Result<Stamp> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let node = {
            use std::os::unix::fs::MetadataExt as _;
            (meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        #[cfg(not(unix))]
        let node = (0, 0, 0);
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            node,
        })
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// What [`Watch::read`] found.
pub(crate) enum Found {
    /// The stamps are what they were when last read, and could be trusted: not read.
    Unchanged,
    /// The contents (in the order watched); `settling`: one was modified under [`SETTLE`] ago.
    Read { texts: Vec<String>, settling: bool },
    /// Every file that cannot be read, with why.
    Unreadable(Vec<String>),
}

/// The files as last read.
struct Seen {
    stamps: Vec<Stamp>,
    /// Whether the stamps may stand for the content (see [`SETTLE`]).
    trusted: bool,
}

/// Decides when the config files are read again.
pub(crate) struct Watch {
    files: Vec<PathBuf>,
    seen: Option<Seen>,
}

impl Watch {
    /// Watches `files` (the config, then the optional STS config); nothing is read yet.
    pub(crate) fn new(files: Vec<PathBuf>) -> Self {
        Watch { files, seen: None }
    }

    /// Looks at the files at `now` (wall clock, compared with their mtimes). `force` (SIGHUP,
    /// the first load) reads them even when their stamps did not change.
    pub(crate) fn read(&mut self, disk: &dyn Disk, now: SystemTime, force: bool) -> Found {
        let stamps = match self.each(|p| disk.stat(p)) {
            Ok(s) => s,
            Err(e) => return Found::Unreadable(e),
        };
        if !force {
            if let Some(seen) = &self.seen {
                if seen.trusted && seen.stamps == stamps {
                    return Found::Unchanged;
                }
            }
        }
        let texts = match self.each(|p| disk.read(p)) {
            Ok(t) => t,
            Err(e) => return Found::Unreadable(e),
        };
        let age = |s: &Stamp| s.modified.and_then(|m| now.duration_since(m).ok());
        let trusted = stamps.iter().all(|s| age(s).is_some_and(|a| a >= SETTLE));
        let settling = stamps.iter().any(|s| age(s).is_some_and(|a| a < SETTLE));
        self.seen = Some(Seen { stamps, trusted });
        Found::Read { texts, settling }
    }

    /// One result per file, or every error (each naming its file).
    fn each<T>(&self, f: impl Fn(&Path) -> io::Result<T>) -> Result<Vec<T>, Vec<String>> {
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for p in &self.files {
            match f(p) {
                Ok(v) => out.push(v),
                Err(e) => errors.push(format!("cannot read {}: {e}", p.display())),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// `now` as the isolate's clock (time since the Unix epoch).
pub(crate) fn since_epoch(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// The refresh task's state: the watch, the files' formats, and the isolate it loads into.
pub(crate) struct Reloader {
    pub watch: Watch,
    /// Each watched file's name and format (checked at start).
    pub sources: Vec<(String, ConfigFormat)>,
    pub isolate: Arc<Isolate>,
}

impl Reloader {
    /// Looks at the files at `now` and hands what it found to the isolate.
    pub(crate) fn check(&mut self, disk: &dyn Disk, now: SystemTime, force: bool) -> Loaded {
        let found = self.watch.read(disk, now, force);
        self.offer(found, now, force)
    }

    /// Hands what [`Watch::read`] found at `now` to the isolate. A file still being written is
    /// offered as unsettled (`force`: SIGHUP, the first load, takes it as it is).
    pub(crate) fn offer(&self, found: Found, now: SystemTime, force: bool) -> Loaded {
        let docs = match found {
            Found::Unchanged => Documents::Unchanged,
            Found::Unreadable(e) => Documents::Unreadable(e.join("; ")),
            Found::Read { texts, settling } => {
                let docs = self
                    .sources
                    .iter()
                    .zip(texts)
                    .map(|((name, format), text)| Document {
                        name: name.clone(),
                        format: *format,
                        text,
                    })
                    .collect();
                if settling && !force {
                    Documents::Unsettled(docs)
                } else {
                    Documents::Read(docs)
                }
            }
        };
        self.isolate.load(since_epoch(now), docs)
    }

    /// Starts re-checking the files when due and on SIGHUP, off the request path, for the life
    /// of the process. SIGHUP is listened for before this returns (before the server accepts:
    /// a SIGHUP never finds it unprepared).
    pub(crate) fn spawn(self) {
        let hangup = Hangup::new();
        tokio::spawn(self.run(hangup));
    }

    async fn run(self, mut hangup: Hangup) {
        let isolate = self.isolate.clone();
        let mut reloader = self;
        let mut wait = isolate.until_due(since_epoch(SystemTime::now()));
        loop {
            let force = tokio::select! {
                () = tick(wait) => false,
                () = hangup.recv() => true,
            };
            // File reads and a parse of a large config stay off the request workers.
            let checked = tokio::task::spawn_blocking(move || {
                let loaded = reloader.check(&RealDisk, SystemTime::now(), force);
                (reloader, loaded)
            })
            .await;
            let loaded;
            (reloader, loaded) = match checked {
                Ok(c) => c,
                Err(e) => {
                    log::error!("config refresh stopped, still serving the last good config: {e}");
                    return;
                }
            };
            wait = isolate.until_due(since_epoch(SystemTime::now()));
            match loaded {
                Loaded::Unchanged if force => log::info!("SIGHUP: the config is unchanged"),
                Loaded::Unchanged => {}
                Loaded::Held => wait = Some(wait.map_or(SETTLE, |t| t.min(SETTLE))),
                Loaded::Installed { gateway, warnings } => {
                    for w in warnings {
                        log::warn!("config: {w}");
                    }
                    log::info!(
                        "config reloaded{}: {} bucket(s)",
                        if force { " on SIGHUP" } else { "" },
                        gateway.config().buckets.len()
                    );
                }
                Loaded::Broken {
                    problems, report, ..
                } => {
                    if report || force {
                        log::warn!(
                            "config refresh failed, still serving the last good config: {}",
                            problems.join("; ")
                        );
                    }
                }
            }
        }
    }
}

/// Waits `wait`; forever when None (timed refresh is off).
async fn tick(wait: Option<Duration>) {
    match wait {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// SIGHUP (unix): reload now. Listening replaces the default action (terminate).
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            let signal =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            if signal.is_none() {
                log::warn!("cannot listen for SIGHUP: the config reloads by TTL only");
            }
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.signal.as_mut() {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests;
