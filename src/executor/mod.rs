//! The sans-IO executor both runtimes drive (floor 9): a [`Session`] per request, the
//! [`Caches`] that outlive it. A runtime only moves bytes: it reads bodies, feeds forms, sends
//! small requests, sleeps, and executes the final plan.

mod caches;
pub mod session;

pub use caches::{Caches, FetchError, Fetched, Refresh, SmallRequest, World};
pub use session::{BodyRead, Outcome, Session, Step, DRAIN_LIMIT};
