//! The executor both runtimes drive (floor 9): sans-IO state machines that say what to do next
//! and take the results back, so the runtimes only move bytes.
//!
//! - [`isolate`]: what an isolate (Worker) or a process (native) holds for all its requests:
//!   the settings ([`options`]), the config snapshot with its refresh by TTL, request ids.

pub mod isolate;
pub mod options;

pub use isolate::{Document, Documents, Due, Isolate, Loaded};
pub use options::{FromEnv, Options};
