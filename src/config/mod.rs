//! Configuration: the schema (a multistore 0.7 file loads unchanged), parsing from TOML or JSON,
//! and validation that reports every problem at once with its path.
//!
//! # Invariants
//!
//! - [`GatewayConfig::parse`] either returns a config that passed every check in [`validate`], or
//!   a [`ConfigError`] listing *all* problems found, each prefixed by its path
//!   (`buckets[2].backend_options.endpoint: not an http(s) URL`).
//! - No secret value (a credential's `secret_access_key`, or a backend option whose name looks
//!   secret) is ever echoed in an error, a warning, or a `Debug` rendering. Parse errors name the
//!   field and what was expected, never the value found.
//! - Compatibility with multistore 0.7: unknown keys are ignored (reported as warnings), the
//!   fields 0.7 required but that have an obvious default (`anonymous_access`, `prefixes`,
//!   `created_at`, a role's `name`) may be omitted, and `backend_options` values written as TOML
//!   booleans or numbers are stored as strings.
//! - `allowed_roles` naming a role that is not defined is only a warning: roles may come from a
//!   separate `--sts-config` file merged with [`GatewayConfig::merge`] (0.7 did the same).

mod credentials;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::auth::secret::SecretKey;
pub use crate::cors::CorsRule;
use crate::policy::{glob_match, is_glob, BucketAccess, Scope};
use crate::s3::limits::CopyLimits;
use crate::time::Timestamp;

pub use credentials::CredentialIndex;

/// The whole gateway configuration.
#[derive(Clone, Debug, Deserialize)]
pub struct GatewayConfig {
    /// Virtual buckets.
    #[serde(default)]
    pub buckets: Vec<BucketConfig>,
    /// STS roles (used by AssumeRoleWithWebIdentity).
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// Long-lived access keys.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// Owner id shown in listings.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Owner display name shown in listings.
    #[serde(default)]
    pub owner_display_name: Option<String>,
    /// Extension: the region clients sign for (default `us-east-1`; `auto` is always accepted).
    #[serde(default)]
    pub region: Option<String>,
    /// Extension: accept SigV2 (header and presigned query). On by default: boto3 and aws-cli v1
    /// presign with SigV2 against custom endpoints unless told `s3v4`.
    #[serde(default = "default_true")]
    pub allow_sigv2: bool,
    /// Extension: copies between backends (streamed through the gateway) of objects larger
    /// than this many bytes are written as multipart uploads (default and maximum 5 GiB).
    #[serde(default)]
    pub copy_multipart_threshold: Option<u64>,
    /// Extension: the part size of those copies (default 512 MiB; raised for objects that
    /// would need more than 10,000 parts).
    #[serde(default)]
    pub copy_part_size: Option<u64>,
    /// Extension: `[path_mapping]`, URLs `/{account}/{product}/{key}` served from the bucket
    /// named `account:product` (see [`PathMapping`]). None: every bucket is addressed by its name.
    #[serde(default)]
    pub path_mapping: Option<PathMapping>,
}

/// `[path_mapping]`: the first `segments` path segments of a URL name one config bucket, its
/// name being those segments joined by `separator` (`acme:data` for `/acme/data/key` with the
/// defaults). Clients see a bucket `acme` holding keys `data/key`. Config buckets whose names do
/// not contain the separator stay plain buckets.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PathMapping {
    /// How many leading path segments form the bucket name (at least 2; default 2).
    #[serde(default = "default_segments")]
    pub segments: usize,
    /// What joins them in config bucket names (default `:`).
    #[serde(default = "default_separator")]
    pub separator: String,
}

impl Default for PathMapping {
    fn default() -> Self {
        PathMapping {
            segments: default_segments(),
            separator: default_separator(),
        }
    }
}

fn default_segments() -> usize {
    2
}

fn default_separator() -> String {
    ":".to_string()
}

/// Kinds of backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum BackendType {
    /// S3-compatible.
    #[serde(rename = "s3")]
    S3,
    /// Azure Blob (`az` or `azure`).
    #[serde(rename = "az", alias = "azure")]
    Azure,
    /// Google Cloud Storage (`gcs` or `gs`).
    #[serde(rename = "gcs", alias = "gs")]
    Gcs,
    /// Cloudflare R2 binding (Workers only).
    #[serde(rename = "r2")]
    R2,
}

impl BackendType {
    /// Parses the names a config may use (`s3`, `az`/`azure`, `gcs`/`gs`, `r2`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "s3" => Some(Self::S3),
            "az" | "azure" => Some(Self::Azure),
            "gcs" | "gs" => Some(Self::Gcs),
            "r2" => Some(Self::R2),
            _ => None,
        }
    }

    /// The canonical name (`s3`, `az`, `gcs`, `r2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Azure => "az",
            Self::Gcs => "gcs",
            Self::R2 => "r2",
        }
    }
}

/// One virtual bucket.
///
/// `Debug` redacts backend options whose names look secret (see [`is_secret_option`]).
#[derive(Clone, Deserialize)]
pub struct BucketConfig {
    /// Name clients use; may be a glob (`*`, `data-*`).
    pub name: String,
    /// Backend kind.
    pub backend_type: BackendType,
    /// The folder in the backend bucket that holds this bucket's keys, as in multistore 0.7:
    /// `pfx` and `pfx/` both mean `pfx/` + key. The validating reader normalizes it (see
    /// [`normalize_backend_prefix`]), so everything that prepends it to keys or strips it from
    /// listings sees either an empty prefix or one ending in `/`.
    #[serde(default)]
    pub backend_prefix: Option<String>,
    /// GET/HEAD/List without credentials.
    #[serde(default)]
    pub anonymous_access: bool,
    /// Role ids whose sessions may use the bucket (`*`: any role). Empty: no STS session may use
    /// it (anonymous access, if enabled, and long-lived keys are unaffected).
    #[serde(default)]
    pub allowed_roles: Vec<String>,
    /// Backend options (S3: endpoint, bucket_name, region, access_key_id, secret_access_key,
    /// token, skip_signature, virtual_hosted_style_request). Booleans and numbers in the file are
    /// stored as their string form (`true`, `9000`).
    #[serde(default, deserialize_with = "deserialize_options")]
    pub backend_options: BTreeMap<String, String>,
    /// CORS rules (`[[buckets.cors]]`, alias `cors_rules`). `None`: a public bucket gets
    /// [`CorsRule::public_default`], any other none; `Some(vec![])` (`cors = []`): no CORS at all.
    #[serde(default, alias = "cors_rules")]
    pub cors: Option<Vec<CorsRule>>,
}

/// Whether a backend option holds a secret and must never be printed: names containing
/// `secret`, `token`, `password` or `key`, except `access_key_id`.
pub fn is_secret_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n != "access_key_id"
        && ["secret", "token", "password", "key", "credential", "sas"]
            .iter()
            .any(|w| n.contains(w))
}

impl fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        (
                            k.as_str(),
                            if is_secret_option(k) {
                                "***"
                            } else {
                                v.as_str()
                            },
                        )
                    }))
                    .finish()
            }
        }
        f.debug_struct("BucketConfig")
            .field("name", &self.name)
            .field("backend_type", &self.backend_type)
            .field("backend_prefix", &self.backend_prefix)
            .field("anonymous_access", &self.anonymous_access)
            .field("allowed_roles", &self.allowed_roles)
            .field("backend_options", &Redacted(&self.backend_options))
            .field("cors", &self.cors)
            .finish()
    }
}

/// The backend prefix as a folder (multistore 0.7's meaning): empty stays empty, `pfx` becomes
/// `pfx/`, `pfx/` stays. A prefix starting with `/` or with a `.`/`..` segment is refused: the
/// backend would be asked, after `fetch()` normalizes the path, for keys outside the folder.
pub fn normalize_backend_prefix(prefix: &str) -> Result<String, String> {
    if prefix.is_empty() {
        return Ok(String::new());
    }
    if prefix.starts_with('/') {
        return Err(format!(
            "'{prefix}' starts with '/'; give the folder inside the backend bucket, e.g. 'data'"
        ));
    }
    if crate::s3::request::has_dot_segment(prefix) {
        return Err(format!(
            "'{prefix}' has a '.' or '..' path segment, which fetch() and HTTP proxies normalize \
             into another folder"
        ));
    }
    if prefix.ends_with('/') {
        Ok(prefix.to_string())
    } else {
        Ok(format!("{prefix}/"))
    }
}

impl BucketAccess for BucketConfig {
    fn name(&self) -> &str {
        &self.name
    }
    fn anonymous_access(&self) -> bool {
        self.anonymous_access
    }
    fn allowed_roles(&self) -> &[String] {
        &self.allowed_roles
    }
}

impl BucketConfig {
    /// The CORS rules in force: the configured ones, else the public default for a bucket with
    /// `anonymous_access`, else none.
    pub fn cors_rules(&self) -> Vec<CorsRule> {
        match &self.cors {
            Some(rules) => rules.clone(),
            None if self.anonymous_access => vec![CorsRule::public_default()],
            None => Vec::new(),
        }
    }

    /// A backend option.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.backend_options.get(key).map(String::as_str)
    }

    /// A boolean backend option (`true`/`false`, `1`/`0`, `yes`/`no`, any case); `None` if absent
    /// or unparseable (validation rejects unparseable values).
    pub fn option_bool(&self, key: &str) -> Option<bool> {
        self.option(key).and_then(parse_bool)
    }

    /// True when the name is a glob (`*` or `?`): such buckets are routed but never listed.
    pub fn is_glob(&self) -> bool {
        is_glob(&self.name)
    }

    /// Whether a client-facing bucket name maps to this bucket.
    pub fn matches(&self, name: &str) -> bool {
        self.name == name || (self.is_glob() && glob_match(&self.name, name))
    }

    /// S3 backends: the endpoint, or `https://s3.{region}.amazonaws.com` when only a region is
    /// given (`us-east-1` when neither is, as multistore 0.7 / object_store did). Without a
    /// trailing slash. `None` for other backend types.
    pub fn s3_endpoint(&self) -> Option<String> {
        if self.backend_type != BackendType::S3 {
            return None;
        }
        if let Some(e) = self.option("endpoint") {
            return Some(e.trim_end_matches('/').to_string());
        }
        Some(format!("https://s3.{}.amazonaws.com", self.s3_region()))
    }

    /// S3 backends: the signing region (`region`, default `us-east-1`).
    pub fn s3_region(&self) -> &str {
        self.option("region").unwrap_or("us-east-1")
    }
}

/// Parses the boolean spellings backend options accept.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn deserialize_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        B(bool),
        I(i64),
        U(u64),
        F(f64),
    }
    let m = Option::<BTreeMap<String, Option<Scalar>>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .filter_map(|(k, v)| {
            let v = match v? {
                Scalar::S(s) => s,
                Scalar::B(b) => b.to_string(),
                Scalar::I(i) => i.to_string(),
                Scalar::U(u) => u.to_string(),
                Scalar::F(f) => f.to_string(),
            };
            Some((k, v))
        })
        .collect())
}

/// An STS role.
#[derive(Clone, Debug, Deserialize)]
pub struct RoleConfig {
    /// Id used in RoleArn.
    pub role_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Issuers whose tokens are trusted.
    #[serde(default)]
    pub trusted_oidc_issuers: Vec<String>,
    /// Audiences (string or list; alias `required_audience`). Empty: no audience restriction.
    #[serde(
        default,
        alias = "required_audience",
        deserialize_with = "deserialize_one_or_many"
    )]
    pub required_audiences: Vec<String>,
    /// Globs the `sub` claim must match (one of). Empty matches no subject (fail closed; write
    /// `"*"` for any subject).
    #[serde(default)]
    pub subject_conditions: Vec<String>,
    /// Extension: other claims the token must carry, each matching one of its globs
    /// (`repository = "my-org/*"`, `ref = ["refs/heads/main", "refs/tags/v*"]`). A listed claim
    /// missing from the token fails the check. String claims are matched as they are, numbers and
    /// booleans by their JSON text, lists when any element matches.
    #[serde(default)]
    pub claim_conditions: BTreeMap<String, Vec<String>>,
    /// Longest session (at least 900).
    #[serde(default)]
    pub max_session_duration_secs: Option<u64>,
    /// Scopes granted, with `{claim}` templates.
    #[serde(default)]
    pub allowed_scopes: Vec<Scope>,
}

fn deserialize_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// A long-lived access key.
#[derive(Clone, Debug, Deserialize)]
pub struct CredentialConfig {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never logged).
    pub secret_access_key: SecretKey,
    /// Who this key belongs to.
    #[serde(default)]
    pub principal_name: Option<String>,
    /// When it was created (RFC 3339), informational.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When it expires (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Disabled keys get AccessDenied.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// What it may do.
    #[serde(default)]
    pub allowed_scopes: Vec<Scope>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            buckets: Vec::new(),
            roles: Vec::new(),
            credentials: Vec::new(),
            owner_id: None,
            owner_display_name: None,
            region: None,
            allow_sigv2: true,
            path_mapping: None,
            copy_multipart_threshold: None,
            copy_part_size: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// File formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl ConfigFormat {
    /// The format a file's extension names: `.toml` or `.json` (any case); anything else is an
    /// error naming the path.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("toml") => Ok(Self::Toml),
            Some("json") => Ok(Self::Json),
            _ => Err(ConfigError::one(format!(
                "{}: unknown config format (expected a .toml or .json file)",
                path.display()
            ))),
        }
    }
}

/// Every problem found, each with its path (`buckets[2].backend_options.endpoint: missing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl ConfigError {
    /// An error with one problem.
    pub fn one(problem: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![problem.into()],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid configuration ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl GatewayConfig {
    /// Parses and validates. Warnings (unknown keys, `allowed_roles` naming undefined roles,
    /// bucket names S3 would reject) are logged at `warn`; use
    /// [`GatewayConfig::parse_with_warnings`] to get them.
    pub fn parse(text: &str, format: ConfigFormat) -> Result<Self, ConfigError> {
        let (config, warnings) = Self::parse_with_warnings(text, format)?;
        for w in &warnings {
            log::warn!("config: {w}");
        }
        Ok(config)
    }

    /// Parses and validates, returning the non-fatal warnings too.
    pub fn parse_with_warnings(
        text: &str,
        format: ConfigFormat,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let value = validate::to_value(text, format)?;
        validate::from_value(&value)
    }

    /// [`GatewayConfig::parse_with_warnings`], with the warnings returned whether or not
    /// there are problems (`multistore-server check` prints both).
    pub fn parse_reporting(
        text: &str,
        format: ConfigFormat,
    ) -> (Result<Self, ConfigError>, Vec<String>) {
        match validate::to_value(text, format) {
            Ok(value) => validate::from_value_reporting(&value),
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// [`GatewayConfig::parse_reporting`], with a backend's own checks of each bucket's
    /// options run as the bucket is read (see [`validate::from_value_checked`]).
    pub fn parse_reporting_checked(
        text: &str,
        format: ConfigFormat,
        check: validate::OptionCheck<'_>,
    ) -> (Result<Self, ConfigError>, Vec<String>) {
        match validate::to_value(text, format) {
            Ok(value) => validate::from_value_checked(&value, Some(check)),
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// Adds the roles, credentials (and any buckets) of `other`, typically the `--sts-config`
    /// file, and re-runs the duplicate checks across both. `owner_id`, `owner_display_name` and
    /// `region` are taken from `self`, falling back to `other`'s.
    pub fn merge(mut self, other: GatewayConfig) -> Result<Self, ConfigError> {
        let problems = validate::merge_conflicts(&self, &other);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        self.buckets.extend(other.buckets);
        self.roles.extend(other.roles);
        self.credentials.extend(other.credentials);
        self.owner_id = self.owner_id.or(other.owner_id);
        self.owner_display_name = self.owner_display_name.or(other.owner_display_name);
        self.region = self.region.or(other.region);
        self.path_mapping = self.path_mapping.or(other.path_mapping);
        Ok(self)
    }

    /// The bucket a client name maps to: an exact name first, then globs in file order.
    pub fn find_bucket(&self, name: &str) -> Option<&BucketConfig> {
        self.buckets.iter().find(|b| b.name == name).or_else(|| {
            self.buckets
                .iter()
                .find(|b| b.is_glob() && glob_match(&b.name, name))
        })
    }

    /// A role by id.
    pub fn find_role(&self, role_id: &str) -> Option<&RoleConfig> {
        self.roles.iter().find(|r| r.role_id == role_id)
    }

    /// The region clients sign for.
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or("us-east-1")
    }

    /// Sizes of copies streamed between backends.
    pub fn copy_limits(&self) -> CopyLimits {
        let d = CopyLimits::default();
        CopyLimits {
            multipart_threshold: self
                .copy_multipart_threshold
                .unwrap_or(d.multipart_threshold),
            part_size: self.copy_part_size.unwrap_or(d.part_size),
        }
    }
}

impl CredentialConfig {
    /// Parsed `expires_at` (validated at load).
    pub fn expires(&self) -> Option<Timestamp> {
        self.expires_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
    }
}

impl BucketConfig {
    /// An S3 bucket named `data` with these backend options (unit tests elsewhere in the crate).
    #[cfg(test)]
    pub(crate) fn s3_for_test(opts: &[(&str, &str)]) -> Self {
        BucketConfig {
            name: "data".into(),
            backend_type: BackendType::S3,
            backend_prefix: None,
            anonymous_access: false,
            allowed_roles: vec![],
            backend_options: opts
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            cors: None,
        }
    }
}

#[cfg(test)]
mod tests;
