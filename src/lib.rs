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

pub mod auth;
pub mod backend;
pub mod checksum;
pub mod chunked;
pub mod config;
pub mod cors;
pub mod executor;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod oidc;
mod pathmap;
pub mod payload;
pub mod percent;
pub mod plan;
pub mod policy;
pub mod post;
pub mod s3;
pub mod sts;
pub mod time;

pub use gateway::{Gateway, GatewayOptions, Plan, RequestContext, RequestHead};

#[cfg(target_arch = "wasm32")]
pub mod worker;
