//! Following config files, sans-IO: the disk and the clock are passed in. [`Watch`] decides
//! when the files are read (files whose size, mtime and inode did not change are not), and
//! holds a changed file back until it has been quiet for [`SETTLE`] (never half written);
//! [`ConfigFiles`] hands what it read to the [`Isolate`], which does the rest: content whose
//! digest did not change is not parsed, and a broken file keeps the last good snapshot serving
//! (reported once per content, not at every check). The native server runs it on a timer and on
//! SIGHUP with the real disk.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Document, Documents, Isolate, Loaded};
use crate::config::ConfigFormat;

/// A file modified less than this long ago may still be being written: a changed file is built
/// only once it has been quiet this long (a half-written file must never be served, even when
/// its first half is a valid config), and its stamp is not trusted before (a rewrite within the
/// same timestamp tick, 1-2 s on some filesystems, keeps it: git's "racily clean" entries).
pub const SETTLE: Duration = Duration::from_secs(2);

/// What a file looked like, without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Size in bytes.
    pub len: u64,
    /// Last modification, where the file system keeps it.
    pub modified: Option<SystemTime>,
    /// Inode and change time (unix): an editor's rename-over or a same-size rewrite shows here.
    pub node: (u64, i64, i64),
}

/// The file system, as [`Watch`] needs it (a fake in tests).
pub trait Disk {
    /// The file's stamp, without reading it.
    fn stat(&self, path: &Path) -> io::Result<Stamp>;
    /// The file's text.
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// What [`Watch::read`] found.
pub enum Found {
    /// The stamps are what they were when last read, and could be trusted: not read.
    Unchanged,
    /// The contents (in the order watched); `settling`: one was modified under [`SETTLE`] ago.
    Read {
        /// One text per file.
        texts: Vec<String>,
        /// A file was modified under [`SETTLE`] ago.
        settling: bool,
    },
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
pub struct Watch {
    files: Vec<PathBuf>,
    seen: Option<Seen>,
}

impl Watch {
    /// Watches `files` (the config, then the optional STS config); nothing is read yet.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Watch { files, seen: None }
    }

    /// Looks at the files at `now` (wall clock, compared with their mtimes). `force` (SIGHUP,
    /// the first load) reads them even when their stamps did not change.
    pub fn read(&mut self, disk: &dyn Disk, now: SystemTime, force: bool) -> Found {
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
pub fn since_epoch(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A runtime's config files: the watch, the files' formats, and the isolate they load into.
pub struct ConfigFiles {
    /// When the files are read.
    pub watch: Watch,
    /// Each watched file's name and format (checked at start).
    pub sources: Vec<(String, ConfigFormat)>,
    /// Where what was read goes.
    pub isolate: Arc<Isolate>,
}

impl ConfigFiles {
    /// Looks at the files at `now` and hands what it found to the isolate.
    pub fn check(&mut self, disk: &dyn Disk, now: SystemTime, force: bool) -> Loaded {
        let found = self.watch.read(disk, now, force);
        self.offer(found, now, force)
    }

    /// Hands what [`Watch::read`] found at `now` to the isolate. A file still being written is
    /// offered as unsettled (`force`: SIGHUP, the first load, takes it as it is).
    pub fn offer(&self, found: Found, now: SystemTime, force: bool) -> Loaded {
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
}

#[cfg(test)]
mod tests;
