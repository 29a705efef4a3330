//! The sans-IO executor both runtimes drive (floor 9): state machines that say what to do next
//! and take the results back, so the runtimes only move bytes (read bodies, feed forms, send
//! small requests, sleep, execute the final plan).
//!
//! - [`isolate`]: what an isolate (Worker) or a process (native) holds for all its requests:
//!   the settings ([`options`]), the config snapshot with its refresh by TTL, the [`Caches`],
//!   request ids.
//! - [`session`]: one request, from its head to the plan the runtime executes.
//! - [`transfer`]: the plans made of several backend calls (a streamed copy, a gather), call
//!   by call; the runtime only sends each and pipes the bodies it is told to.
//! - `uploads`: what both runtimes decide alike about an upload's body and a silent backend.
//! - `bindings`: what the Worker decides between the R2 binding calls of one request.
//! - [`watch`]: when config files are read again, and what of them the isolate gets (the
//!   native server's config refresh; the disk and the clock are passed in).
//! - `common`: what both runtimes compute alike around their I/O (a head announcing a body,
//!   a backend's missed deadline).
//! - [`startup`]: the first load of config files, and the report of a config check.

mod bindings;
mod caches;
mod common;
pub(crate) mod isolate;
pub(crate) mod options;
pub(crate) mod session;
pub(crate) mod startup;
pub(crate) mod transfer;
mod uploads;
pub(crate) mod watch;

pub use bindings::{completion_blocked, copy_metadata, part_copy_length};
pub use caches::{Caches, FetchError, Fetched, Refresh, SmallRequest, World};
pub use common::{declares_body, no_answer_within, panicked};
pub use isolate::{Document, Documents, Due, Isolate, Loaded};
pub use options::{FromEnv, Options, VARS};
pub use session::{incomplete_body, BodyRead, Outcome, Session, Step, DRAIN_LIMIT};
pub use startup::{check_report, load_config_files, Startup};
pub use transfer::{Answer, AnswerId, Call, CallBody, Move, R2Move, Read, Transfer, Work};
pub use uploads::{check_empty_upload, content_length, UploadError, EMPTY_FRAMING_LIMIT};
pub use watch::{since_epoch, ConfigFiles, Disk, Found, Stamp, Watch, SETTLE};
