use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::executor::Options;

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

fn bucket_of(loaded: Loaded) -> String {
    match loaded {
        Loaded::Installed { gateway, .. } => gateway.config().buckets[0].name.clone(),
        Loaded::Unchanged | Loaded::Held => panic!("expected a new snapshot"),
        Loaded::Broken { problems, .. } => panic!("expected a new snapshot, got {problems:?}"),
    }
}

/// Follows `files` (TOML) into a fresh isolate, as the server does.
fn reloader(files: &[&str]) -> ConfigFiles {
    ConfigFiles {
        watch: Watch::new(files.iter().map(PathBuf::from).collect()),
        sources: files
            .iter()
            .map(|f| ((*f).to_string(), ConfigFormat::Toml))
            .collect(),
        isolate: Arc::new(Isolate::new(Options::default(), 1)),
    }
}

fn watch() -> ConfigFiles {
    reloader(&["gw.toml"])
}

#[test]
fn an_unchanged_file_is_neither_read_nor_parsed_again() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 10), true)), "one");
    for i in 1..5 {
        assert!(matches!(
            w.check(&disk, at(T0 + 10 + 60 * i), false),
            Loaded::Unchanged
        ));
    }
    assert_eq!((disk.reads.get(), w.isolate.builds()), (1, 1));
}

#[test]
fn a_changed_file_becomes_the_new_snapshot_and_a_touched_one_is_not_parsed() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    bucket_of(w.check(&disk, at(T0 + 10), true));
    disk.write("gw.toml", &config("two"), at(T0 + 20));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 30), false)), "two");
    // Same content, new mtime (`touch`, a save without changes): read, not parsed.
    disk.write("gw.toml", &config("two"), at(T0 + 40));
    assert!(matches!(
        w.check(&disk, at(T0 + 50), false),
        Loaded::Unchanged
    ));
    assert_eq!((disk.reads.get(), w.isolate.builds()), (3, 2));
}

#[test]
fn a_broken_file_keeps_the_last_good_snapshot_and_is_reported_once() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    bucket_of(w.check(&disk, at(T0 + 10), true));
    disk.write("gw.toml", "this is [ not a config", at(T0 + 20));
    let Loaded::Broken { report: true, .. } = w.check(&disk, at(T0 + 30), false) else {
        panic!("a broken file is reported")
    };
    // Checked again: not parsed again, not reported again; a SIGHUP neither re-parses it
    // (it says what is wrong, with `report` false).
    assert!(matches!(
        w.check(&disk, at(T0 + 90), false),
        Loaded::Unchanged
    ));
    let Loaded::Broken {
        problems,
        report: false,
        ..
    } = w.check(&disk, at(T0 + 95), true)
    else {
        panic!("a SIGHUP on a known broken file says so again")
    };
    let error = problems.join("; ");
    assert!(error.contains("TOML"), "{error}");
    assert_eq!(w.isolate.builds(), 2);
    // Another broken content is a new warning.
    disk.write("gw.toml", "still [ broken", at(T0 + 100));
    assert!(matches!(
        w.check(&disk, at(T0 + 110), false),
        Loaded::Broken { report: true, .. }
    ));
    // Fixed back to what is served: nothing to build; then a change builds again.
    disk.write("gw.toml", &config("one"), at(T0 + 120));
    assert!(matches!(
        w.check(&disk, at(T0 + 130), false),
        Loaded::Unchanged
    ));
    assert_eq!(w.isolate.builds(), 3);
    disk.write("gw.toml", &config("three"), at(T0 + 140));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 150), false)), "three");
}

#[test]
fn a_missing_file_keeps_the_snapshot_and_is_reported_once() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    bucket_of(w.check(&disk, at(T0 + 10), true));
    disk.files.borrow_mut().clear();
    let Loaded::Broken {
        problems,
        report: true,
        ..
    } = w.check(&disk, at(T0 + 70), false)
    else {
        panic!("a missing file is reported")
    };
    let error = problems.join("; ");
    assert!(error.contains("gw.toml"), "{error}");
    assert!(matches!(
        w.check(&disk, at(T0 + 130), false),
        Loaded::Broken { report: false, .. }
    ));
    disk.write("gw.toml", &config("two"), at(T0 + 140));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 190), false)), "two");
}

#[test]
fn a_file_written_just_before_it_was_read_is_built_only_once_it_settled() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    bucket_of(w.check(&disk, at(T0 + 10), true));
    // Still being written (perhaps half): not built yet, even if it parses.
    disk.write("gw.toml", &config("tw"), at(T0 + 20));
    assert!(matches!(w.check(&disk, at(T0 + 21), false), Loaded::Held));
    disk.write("gw.toml", &config("two"), at(T0 + 22));
    assert!(matches!(w.check(&disk, at(T0 + 23), false), Loaded::Held));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 24), false)), "two");
    assert_eq!(w.isolate.builds(), 2);
}

#[test]
fn a_file_read_just_after_it_was_written_is_read_again_until_its_stamp_settles() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    // Read in the same second it was written: a rewrite in that tick keeps the stamp.
    bucket_of(w.check(&disk, at(T0), true));
    disk.overwrite_in_place("gw.toml", &config("two"));
    // The stamp is too fresh to stand for the content: read, found changed, left to settle.
    assert!(matches!(w.check(&disk, at(T0 + 1), false), Loaded::Held));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 2), false)), "two");
    // Read once it settled: from then on the stamp is trusted, the file no longer read.
    let reads = disk.reads.get();
    assert!(matches!(
        w.check(&disk, at(T0 + 65), false),
        Loaded::Unchanged
    ));
    assert_eq!(disk.reads.get(), reads);
}

#[test]
fn sighup_reads_the_file_even_when_its_stamp_did_not_change() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    let mut w = watch();
    bucket_of(w.check(&disk, at(T0 + 10), true));
    disk.overwrite_in_place("gw.toml", &config("two"));
    assert!(matches!(
        w.check(&disk, at(T0 + 70), false),
        Loaded::Unchanged
    ));
    assert_eq!(bucket_of(w.check(&disk, at(T0 + 71), true)), "two");
}

#[test]
fn every_watched_file_counts() {
    let disk = FakeDisk::default();
    disk.write("gw.toml", &config("one"), at(T0));
    disk.write("sts.toml", "", at(T0));
    let mut w = reloader(&["gw.toml", "sts.toml"]);
    bucket_of(w.check(&disk, at(T0 + 10), true));
    disk.write("sts.toml", "# roles", at(T0 + 20));
    bucket_of(w.check(&disk, at(T0 + 30), false));
    assert_eq!(w.isolate.builds(), 2);
}
