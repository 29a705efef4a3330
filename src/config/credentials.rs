//! The long-lived access keys of a config, indexed by access key id, as a [`CredentialStore`].

use std::collections::HashMap;

use super::{CredentialConfig, GatewayConfig};
use crate::auth::{CredentialStore, ResolvedCredential};
use crate::policy::Identity;
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

/// Config credentials by access key id. Build once per config snapshot.
#[derive(Clone, Debug, Default)]
pub struct CredentialIndex {
    keys: HashMap<String, Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    credential: CredentialConfig,
    expires: Option<Timestamp>,
}

impl CredentialIndex {
    /// Indexes the credentials of `config` (validated, so ids are unique; a later duplicate
    /// would replace an earlier one).
    pub fn new(config: &GatewayConfig) -> Self {
        let keys = config
            .credentials
            .iter()
            .map(|c| {
                (
                    c.access_key_id.clone(),
                    Entry {
                        expires: c.expires(),
                        credential: c.clone(),
                    },
                )
            })
            .collect();
        CredentialIndex { keys }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys (the gateway is then anonymous-only).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CredentialStore for CredentialIndex {
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: Timestamp,
    ) -> Result<ResolvedCredential, S3Error> {
        let Some(entry) = self.keys.get(access_key_id) else {
            return Err(S3Error::new(
                ErrorCode::InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records.",
            ));
        };
        let c = &entry.credential;
        if session_token.is_some() {
            return Err(S3Error::new(
                ErrorCode::InvalidToken,
                "a security token was sent with a long-lived access key; remove x-amz-security-token",
            ));
        }
        if !c.enabled {
            return Err(S3Error::access_denied("the access key is disabled"));
        }
        if let Some(exp) = entry.expires {
            if exp <= now {
                return Err(S3Error::new(
                    ErrorCode::ExpiredToken,
                    format!("the access key expired at {}", exp.iso8601()),
                ));
            }
        }
        Ok(ResolvedCredential {
            secret: c.secret_access_key.clone(),
            identity: Identity::Principal {
                name: c
                    .principal_name
                    .clone()
                    .unwrap_or_else(|| c.access_key_id.clone()),
                access_key_id: c.access_key_id.clone(),
                role: None,
                scopes: c.allowed_scopes.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
