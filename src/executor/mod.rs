//! The sans-IO executor both runtimes drive (floor 9): state machines that say what to do next
//! and take the results back, so the runtimes only move bytes (read bodies, feed forms, send
//! small requests, sleep, execute the final plan).
//!
//! - [`isolate`]: what an isolate (Worker) or a process (native) holds for all its requests:
//!   the settings ([`options`]), the config snapshot with its refresh by TTL, the [`Caches`],
//!   request ids.
//! - [`session`]: one request, from its head to the plan the runtime executes.

mod caches;
pub(crate) mod isolate;
pub(crate) mod options;
pub(crate) mod session;

pub use caches::{Caches, FetchError, Fetched, Refresh, SmallRequest, World};
pub use isolate::{Document, Documents, Due, Isolate, Loaded};
pub use options::{FromEnv, Options, VARS};
pub use session::{BodyRead, Outcome, Session, Step, DRAIN_LIMIT};
