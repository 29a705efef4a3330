//! The gateway as an OIDC identity provider, and backend federation built on it.
//!
//! - [`provider`]: with `OIDC_PROVIDER_KEY` (RSA PEM) and `OIDC_PROVIDER_ISSUER`, the gateway
//!   publishes `{issuer}/.well-known/openid-configuration` and `{issuer}/.well-known/jwks.json`
//!   and mints short-lived RS256 tokens.
//! - [`crate::backend::federation`]: a bucket with `backend_options.auth_type = "oidc"` trades such a token for
//!   temporary backend credentials (AWS STS `AssumeRoleWithWebIdentity`), cached per process or
//!   isolate and refreshed ahead of expiry.
//!
//! Both are sans-IO: time, random bytes and the exchange's HTTP round trip come from the runtime.

pub(crate) mod provider;

pub(crate) use provider::OidcProvider;
