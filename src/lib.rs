//! # multistore
//!
//! The core of an S3 gateway that runs on Cloudflare Workers (wasm32) and natively under hyper.
//!
//! The core is **sans-IO**: it turns a request head into a [`gateway::Plan`] and never owns a
//! socket, a clock or a random source. The runtime adapters (the Worker fetch handler and the
//! `multistore-server` binary in `native-shim/`) execute the plan: one backend fetch with the body
//! streamed through untouched, or a response built here.
//!
//! ```text
//! RequestHead ─▶ s3::request::parse ─▶ auth::authenticate ─▶ policy::authorize
//!             ─▶ backend::plan ─▶ Plan::{Forward, Respond}
//! ```
//!
//! Invariants:
//! - No panics on request data: every bad input becomes an [`s3::error::S3Error`].
//! - Time and randomness come in as arguments ([`gateway::RequestContext`]).
//! - Secrets are [`auth::secret::SecretKey`]s: zeroed on drop, `***` in Debug, never serialized.

mod auth;
mod backend;
mod checksum;
mod chunked;
pub mod config;
mod cors;
pub mod executor;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
mod oidc;
mod pathmap;
mod payload;
mod percent;
pub mod plan;
mod policy;
mod post;
pub mod s3;
mod sts;
pub mod time;

pub use auth::redact::redact;
pub use gateway::{Gateway, GatewayOptions, Plan, RequestContext, RequestHead};
pub use payload::BodyCheck;

#[cfg(target_arch = "wasm32")]
pub mod worker;
