//! The config snapshot and its refresh: the native counterpart of the Worker's `state.rs`.
//!
//! Requests are served from [`Live`], the current [`Gateway`], which each request takes once and
//! keeps to its end. One background task re-checks the config file(s) every
//! `CONFIG_TTL_SECONDS` (default 60; `0`: only on SIGHUP) and at once on SIGHUP; no request ever
//! waits for it. [`Watch`] decides, sans-IO (the disk and the clock are passed in): files whose
//! size, mtime and inode did not change are not read, content whose digest did not change is
//! not parsed, a changed file is built once it has been quiet for [`SETTLE`] (never half
//! written), and a broken file keeps the last good snapshot serving (reported once per content,
//! not at every check).
//!
//! What survives a refresh is what the process holds besides the gateway (the JWKS cache,
//! federated backend credentials, the backend connection pool); everything derived from the
//! config (buckets, access keys, their signing-key cache) is rebuilt, so a removed key stops
//! working with the snapshot that no longer has it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use multistore::Gateway;
use sha2::Digest as _;

/// How long a snapshot is served before the files are checked again (the Worker's setting).
pub const TTL_VAR: &str = "CONFIG_TTL_SECONDS";
/// [`TTL_VAR`] unset.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// A file modified less than this long ago may still be being written: a changed file is built
/// only once it has been quiet this long (a half-written file must never be served, even when
/// its first half is a valid config), and its stamp is not trusted before (a rewrite within the
/// same timestamp tick, 1-2 s on some filesystems, keeps it: git's "racily clean" entries).
pub const SETTLE: Duration = Duration::from_secs(2);

/// `CONFIG_TTL_SECONDS`: seconds (fractions allowed), `0` turns timed refresh off (None).
pub fn parse_ttl(value: &str) -> Result<Option<Duration>, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("'{value}' is not a number of seconds"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| format!("'{value}' is too long"))
}

/// The gateway requests are served with, replaced whole by a refresh.
pub struct Live(RwLock<Arc<Gateway>>);

impl Live {
    /// Serves `gateway` until the next refresh.
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Live(RwLock::new(gateway))
    }

    /// The current snapshot (a request takes it once and keeps it to its end).
    pub fn current(&self) -> Arc<Gateway> {
        match self.0.read() {
            Ok(g) => g.clone(),
            // Only an assignment runs under the write lock; a poisoned lock still holds a gateway.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn install(&self, gateway: Arc<Gateway>) {
        let old = match self.0.write() {
            Ok(mut g) => std::mem::replace(&mut *g, gateway),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), gateway),
        };
        // The old snapshot is freed (by its last request) outside the lock.
        drop(old);
    }
}

/// What a file looked like, without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
    /// Inode and change time (unix): an editor's rename-over or a same-size rewrite shows here.
    pub node: (u64, i64, i64),
}

/// The file system, as [`Watch`] needs it (a fake in tests).
pub trait Disk {
    fn stat(&self, path: &Path) -> io::Result<Stamp>;
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// The real file system.
pub struct RealDisk;

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

/// Builds a gateway from the files' contents (in [`Watch`]'s order).
pub type Build = Box<dyn FnMut(&[String]) -> Result<Gateway, String> + Send>;

/// The outcome of a check.
pub enum Check {
    /// Nothing new: the files are what the snapshot was built from (or, unread, what was last
    /// found broken).
    Unchanged,
    /// New content that builds: serve it.
    Changed(Box<Gateway>),
    /// New content, written less than [`SETTLE`] ago: check again once it settled.
    Settling,
    /// New content that cannot be read or built: the current snapshot stays. `report` is true
    /// the first time this failure is seen (a warning per change, not per check).
    Broken { error: String, report: bool },
}

#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Read(String),
    Build([u8; 32]),
}

/// The files as last read (good or broken).
struct Seen {
    stamps: Vec<Stamp>,
    /// Whether the stamps may stand for the content (see [`SETTLE`]).
    trusted: bool,
}

/// Decides when the config files are read and parsed again.
pub struct Watch {
    files: Vec<PathBuf>,
    seen: Option<Seen>,
    /// The digest of the content the current snapshot was built from.
    built: Option<[u8; 32]>,
    /// The failure last reported, and its message.
    failure: Option<(Failure, String)>,
}

impl Watch {
    /// Watches `files` (the config, then the optional STS config); nothing is loaded yet.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Watch {
            files,
            seen: None,
            built: None,
            failure: None,
        }
    }

    /// Checks the files at `now` (wall clock, compared with their mtimes). `force` (SIGHUP, the
    /// first load) reads them even when their stamps did not change and builds them even when
    /// just written; content already served is still not parsed again.
    pub fn check(
        &mut self,
        disk: &dyn Disk,
        now: SystemTime,
        force: bool,
        build: &mut dyn FnMut(&[String]) -> Result<Gateway, String>,
    ) -> Check {
        let stamps = match self.each(|p| disk.stat(p)) {
            Ok(s) => s,
            Err(e) => return self.fail(Failure::Read(e.clone()), e),
        };
        if !force {
            if let Some(seen) = &self.seen {
                if seen.trusted && seen.stamps == stamps {
                    return Check::Unchanged;
                }
            }
        }
        let texts = match self.each(|p| disk.read(p)) {
            Ok(t) => t,
            Err(e) => return self.fail(Failure::Read(e.clone()), e),
        };
        let age = |s: &Stamp| s.modified.and_then(|m| now.duration_since(m).ok());
        let trusted = stamps.iter().all(|s| age(s).is_some_and(|a| a >= SETTLE));
        let settling = stamps.iter().any(|s| age(s).is_some_and(|a| a < SETTLE));
        self.seen = Some(Seen { stamps, trusted });
        let digest = digest(&texts);
        if self.built == Some(digest) {
            self.failure = None;
            return Check::Unchanged;
        }
        if let Some((Failure::Build(d), error)) = &self.failure {
            if *d == digest {
                // Tried and reported already (a SIGHUP, or stamps too fresh to trust).
                let error = error.clone();
                return Check::Broken {
                    error,
                    report: false,
                };
            }
        }
        if settling && !force {
            return Check::Settling;
        }
        match build(&texts) {
            Ok(gateway) => {
                self.built = Some(digest);
                self.failure = None;
                Check::Changed(Box::new(gateway))
            }
            Err(e) => self.fail(Failure::Build(digest), e),
        }
    }

    /// One result per file, or the first error (naming the file).
    fn each<T>(&self, f: impl Fn(&Path) -> io::Result<T>) -> Result<Vec<T>, String> {
        self.files
            .iter()
            .map(|p| f(p).map_err(|e| format!("cannot read {}: {e}", p.display())))
            .collect()
    }

    fn fail(&mut self, failure: Failure, error: String) -> Check {
        let report = self.failure.as_ref().map(|f| &f.0) != Some(&failure);
        self.failure = Some((failure, error.clone()));
        Check::Broken { error, report }
    }
}

/// One digest over every file, each prefixed by its length (two files never read as one).
fn digest(texts: &[String]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for t in texts {
        h.update((t.len() as u64).to_be_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().into()
}

/// The refresh task's state: the watch, how to build, and how often.
pub struct Reloader {
    pub watch: Watch,
    pub build: Build,
    /// None: only SIGHUP refreshes.
    pub ttl: Option<Duration>,
}

impl Reloader {
    /// The first load (at startup, where a broken file is fatal).
    pub fn load(&mut self) -> Result<Gateway, String> {
        match self
            .watch
            .check(&RealDisk, SystemTime::now(), true, &mut self.build)
        {
            Check::Changed(g) => Ok(*g),
            Check::Broken { error, .. } => Err(error),
            Check::Unchanged | Check::Settling => Err("the config was loaded already".to_string()),
        }
    }

    /// Starts re-checking the files every TTL and on SIGHUP, off the request path, installing
    /// each new good snapshot in `live`, for the life of the process. SIGHUP is listened for
    /// before this returns (before the server accepts: a SIGHUP never finds it unprepared).
    pub fn spawn(self, live: Arc<Live>) {
        let hangup = Hangup::new();
        tokio::spawn(self.run(live, hangup));
    }

    async fn run(self, live: Arc<Live>, mut hangup: Hangup) {
        let Reloader {
            mut watch,
            mut build,
            ttl,
        } = self;
        let mut wait = ttl;
        loop {
            let force = tokio::select! {
                () = tick(wait) => false,
                () = hangup.recv() => true,
            };
            // File reads and a parse of a large config stay off the request workers.
            let checked = tokio::task::spawn_blocking(move || {
                let check = watch.check(&RealDisk, SystemTime::now(), force, &mut build);
                (watch, build, check)
            })
            .await;
            let check;
            (watch, build, check) = match checked {
                Ok(c) => c,
                Err(e) => {
                    log::error!("config refresh stopped, still serving the last good config: {e}");
                    return;
                }
            };
            wait = ttl;
            match check {
                Check::Unchanged if force => log::info!("SIGHUP: the config is unchanged"),
                Check::Unchanged => {}
                Check::Settling => wait = Some(ttl.map_or(SETTLE, |t| t.min(SETTLE))),
                Check::Changed(gateway) => {
                    log::info!(
                        "config reloaded{}: {} bucket(s)",
                        if force { " on SIGHUP" } else { "" },
                        gateway.config().buckets.len()
                    );
                    live.install(Arc::from(gateway));
                }
                Check::Broken { error, report } => {
                    if report || force {
                        log::warn!(
                            "config refresh failed, still serving the last good config: {error}"
                        );
                    }
                }
            }
        }
    }
}

/// Waits one TTL; forever when timed refresh is off.
async fn tick(ttl: Option<Duration>) {
    match ttl {
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
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use multistore::config::{ConfigFormat, GatewayConfig};
    use multistore::GatewayOptions;

    use super::*;

    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// Files in memory; each write gets a new stamp (mtime `modified`), reads are counted.
    #[derive(Default)]
    struct FakeDisk {
        files: RefCell<HashMap<PathBuf, (String, Stamp)>>,
        reads: Cell<usize>,
        writes: Cell<i64>,
    }

    impl FakeDisk {
        fn write(&self, path: &str, text: &str, modified: SystemTime) {
            self.writes.set(self.writes.get() + 1);
            let stamp = Stamp {
                len: text.len() as u64,
                modified: Some(modified),
                node: (1, self.writes.get(), 0),
            };
            self.files
                .borrow_mut()
                .insert(PathBuf::from(path), (text.to_string(), stamp));
        }

        /// Rewrites the content keeping the old stamp (a same-size write within one mtime tick).
        fn overwrite_in_place(&self, path: &str, text: &str) {
            let mut files = self.files.borrow_mut();
            let entry = files.get_mut(Path::new(path)).unwrap();
            entry.0 = text.to_string();
        }
    }

    impl Disk for FakeDisk {
        fn stat(&self, path: &Path) -> io::Result<Stamp> {
            self.files
                .borrow()
                .get(path)
                .map(|f| f.1)
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }

        fn read(&self, path: &Path) -> io::Result<String> {
            self.reads.set(self.reads.get() + 1);
            self.files
                .borrow()
                .get(path)
                .map(|f| f.0.clone())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    }

    fn config(bucket: &str) -> String {
        format!(
            "[[buckets]]\nname = \"{bucket}\"\nbackend_type = \"s3\"\n\
             [buckets.backend_options]\nendpoint = \"http://127.0.0.1:9\"\n\
             bucket_name = \"b\"\nregion = \"us-east-1\"\n"
        )
    }

    /// Builds like the server does (TOML), counting the parses.
    fn builder(parses: &Cell<usize>) -> impl FnMut(&[String]) -> Result<Gateway, String> + '_ {
        move |texts: &[String]| {
            parses.set(parses.get() + 1);
            let cfg =
                GatewayConfig::parse(&texts[0], ConfigFormat::Toml).map_err(|e| e.to_string())?;
            Gateway::new(cfg, GatewayOptions::default()).map_err(|e| e.to_string())
        }
    }

    fn bucket_of(check: Check) -> String {
        match check {
            Check::Changed(g) => g.config().buckets[0].name.clone(),
            Check::Unchanged | Check::Settling => panic!("expected a new snapshot"),
            Check::Broken { error, .. } => panic!("expected a new snapshot, got {error}"),
        }
    }

    fn watch() -> Watch {
        Watch::new(vec![PathBuf::from("gw.toml")])
    }

    #[test]
    fn an_unchanged_file_is_neither_read_nor_parsed_again() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 10), true, &mut build)),
            "one"
        );
        for i in 1..5 {
            assert!(matches!(
                w.check(&disk, at(T0 + 10 + 60 * i), false, &mut build),
                Check::Unchanged
            ));
        }
        assert_eq!((disk.reads.get(), parses.get()), (1, 1));
    }

    #[test]
    fn a_changed_file_becomes_the_new_snapshot_and_a_touched_one_is_not_parsed() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        disk.write("gw.toml", &config("two"), at(T0 + 20));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 30), false, &mut build)),
            "two"
        );
        // Same content, new mtime (`touch`, a save without changes): read, not parsed.
        disk.write("gw.toml", &config("two"), at(T0 + 40));
        assert!(matches!(
            w.check(&disk, at(T0 + 50), false, &mut build),
            Check::Unchanged
        ));
        assert_eq!((disk.reads.get(), parses.get()), (3, 2));
    }

    #[test]
    fn a_broken_file_keeps_the_last_good_snapshot_and_is_reported_once() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        disk.write("gw.toml", "this is [ not a config", at(T0 + 20));
        let Check::Broken { report: true, .. } = w.check(&disk, at(T0 + 30), false, &mut build)
        else {
            panic!("a broken file is reported")
        };
        // Checked again: not parsed again, not reported again; a SIGHUP neither re-parses it
        // (it says what is wrong, with `report` false).
        assert!(matches!(
            w.check(&disk, at(T0 + 90), false, &mut build),
            Check::Unchanged
        ));
        let Check::Broken {
            error,
            report: false,
        } = w.check(&disk, at(T0 + 95), true, &mut build)
        else {
            panic!("a SIGHUP on a known broken file says so again")
        };
        assert!(error.contains("TOML"), "{error}");
        assert_eq!(parses.get(), 2);
        // Another broken content is a new warning.
        disk.write("gw.toml", "still [ broken", at(T0 + 100));
        assert!(matches!(
            w.check(&disk, at(T0 + 110), false, &mut build),
            Check::Broken { report: true, .. }
        ));
        // Fixed back to what is served: nothing to build; then a change builds again.
        disk.write("gw.toml", &config("one"), at(T0 + 120));
        assert!(matches!(
            w.check(&disk, at(T0 + 130), false, &mut build),
            Check::Unchanged
        ));
        assert_eq!(parses.get(), 3);
        disk.write("gw.toml", &config("three"), at(T0 + 140));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 150), false, &mut build)),
            "three"
        );
    }

    #[test]
    fn a_missing_file_keeps_the_snapshot_and_is_reported_once() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        disk.files.borrow_mut().clear();
        let Check::Broken {
            error,
            report: true,
        } = w.check(&disk, at(T0 + 70), false, &mut build)
        else {
            panic!("a missing file is reported")
        };
        assert!(error.contains("gw.toml"), "{error}");
        assert!(matches!(
            w.check(&disk, at(T0 + 130), false, &mut build),
            Check::Broken { report: false, .. }
        ));
        disk.write("gw.toml", &config("two"), at(T0 + 140));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 190), false, &mut build)),
            "two"
        );
    }

    #[test]
    fn a_file_written_just_before_it_was_read_is_built_only_once_it_settled() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        // Still being written (perhaps half): not built yet, even if it parses.
        disk.write("gw.toml", &config("tw"), at(T0 + 20));
        assert!(matches!(
            w.check(&disk, at(T0 + 21), false, &mut build),
            Check::Settling
        ));
        disk.write("gw.toml", &config("two"), at(T0 + 22));
        assert!(matches!(
            w.check(&disk, at(T0 + 23), false, &mut build),
            Check::Settling
        ));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 24), false, &mut build)),
            "two"
        );
        assert_eq!(parses.get(), 2);
    }

    #[test]
    fn a_file_read_just_after_it_was_written_is_read_again_until_its_stamp_settles() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        // Read in the same second it was written: a rewrite in that tick keeps the stamp.
        bucket_of(w.check(&disk, at(T0), true, &mut build));
        disk.overwrite_in_place("gw.toml", &config("two"));
        // The stamp is too fresh to stand for the content: read, found changed, left to settle.
        assert!(matches!(
            w.check(&disk, at(T0 + 1), false, &mut build),
            Check::Settling
        ));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 2), false, &mut build)),
            "two"
        );
        // Read once it settled: from then on the stamp is trusted, the file no longer read.
        let reads = disk.reads.get();
        assert!(matches!(
            w.check(&disk, at(T0 + 65), false, &mut build),
            Check::Unchanged
        ));
        assert_eq!(disk.reads.get(), reads);
    }

    #[test]
    fn sighup_reads_the_file_even_when_its_stamp_did_not_change() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        let mut w = watch();
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        disk.overwrite_in_place("gw.toml", &config("two"));
        assert!(matches!(
            w.check(&disk, at(T0 + 70), false, &mut build),
            Check::Unchanged
        ));
        assert_eq!(
            bucket_of(w.check(&disk, at(T0 + 71), true, &mut build)),
            "two"
        );
    }

    #[test]
    fn every_watched_file_counts() {
        let (disk, parses) = (FakeDisk::default(), Cell::new(0));
        let mut build = builder(&parses);
        disk.write("gw.toml", &config("one"), at(T0));
        disk.write("sts.toml", "", at(T0));
        let mut w = Watch::new(vec![PathBuf::from("gw.toml"), PathBuf::from("sts.toml")]);
        bucket_of(w.check(&disk, at(T0 + 10), true, &mut build));
        disk.write("sts.toml", "# roles", at(T0 + 20));
        bucket_of(w.check(&disk, at(T0 + 30), false, &mut build));
        assert_eq!(parses.get(), 2);
    }

    #[test]
    fn the_ttl_is_seconds_with_fractions_and_zero_turns_timed_refresh_off() {
        assert_eq!(parse_ttl("60"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(parse_ttl(" 0.5 "), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_ttl("0"), Ok(None));
        for bad in ["-1", "soon", "NaN", "inf", "1e30"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
