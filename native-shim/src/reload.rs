//! Following the config file(s): the native side of the core's `Isolate` refresh.
//!
//! Requests are served from the isolate's current snapshot, which each request takes once and
//! keeps to its end. One background task re-checks the config file(s) when the isolate says
//! they are due (`CONFIG_TTL_SECONDS`, default 60; `0`: only on SIGHUP) and at once on SIGHUP;
//! no request ever waits for it. The core's `executor::watch` decides (the disk and the clock
//! passed in) when the files are read (files whose size, mtime and inode
//! did not change are not), and holds a changed file back until it has been quiet for
//! `SETTLE` (never half written). What is native lives here: the disk, the timer, SIGHUP. The core does the rest: content whose digest did not change
//! is not parsed, and a broken file keeps the last good snapshot serving (reported once per
//! content, not at every check).
//!
//! What survives a refresh is what the process holds besides the gateway (the JWKS cache,
//! federated backend credentials, the backend connection pool); everything derived from the
//! config (buckets, access keys, their signing-key cache) is rebuilt, so a removed key stops
//! working with the snapshot that no longer has it.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use multistore::executor::Loaded;
use multistore::executor::{since_epoch, ConfigFiles, Disk, Stamp, SETTLE};

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

/// Starts re-checking the files when due and on SIGHUP, off the request path, for the life
/// of the process. SIGHUP is listened for before this returns (before the server accepts:
/// a SIGHUP never finds it unprepared).
pub(crate) fn spawn(files: ConfigFiles) {
    let hangup = Hangup::new();
    tokio::spawn(run(files, hangup));
}

async fn run(files: ConfigFiles, mut hangup: Hangup) {
    let isolate = files.isolate.clone();
    let mut reloader = files;
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
