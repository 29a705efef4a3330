//! Command-line arguments (hand-written: five flags do not earn a parser crate).

/// Usage text: every flag and every environment variable the server reads.
pub(crate) const USAGE: &str = "\
usage: multistore-server --config FILE [--listen ADDR] [--domain DOMAIN] [--sts-config FILE]
       multistore-server check --config FILE [the same flags]
       multistore-server --help | --version

Without a command: load the config, then serve S3 on --listen.
check: load the config exactly as the server does at start (the files, the environment
  variables below, every bucket's backend options) without listening or contacting anything;
  print every problem with its path and every warning (never a secret value). Exit status 0:
  the server would start (warnings allowed); 1: it would refuse; 2: bad command line.

  --config FILE       gateway config, TOML or JSON by extension (required)
  --listen ADDR       address to listen on (default 0.0.0.0:8080)
  --domain DOMAIN     serve virtual-hosted buckets as BUCKET.DOMAIN
  --sts-config FILE   extra roles and credentials, kept apart from the bucket config
  -h, --help          this text
  -V, --version       the version

Flags also take their value inline: --listen=127.0.0.1:9000.
SIGTERM or SIGINT: stop accepting, let in-flight requests finish (at most 30 s), exit 0;
a second signal stops at once. SIGHUP: re-read the config file(s) now.

environment (unset and blank are the same; a value set but invalid refuses to start):
  RUST_LOG                    log filter (default multistore=info; multistore=debug logs
                              every request); RUST_LOG_STYLE: auto, always or never colour
  CONFIG_TTL_SECONDS          how often the config file(s) are checked (default 60; 0: only
                              on SIGHUP): a changed file is served, a broken one logged while
                              the last good config keeps serving
  SESSION_TOKEN_KEY           base64 of 32 bytes: turns on STS AssumeRoleWithWebIdentity
                              and session tokens
  SESSION_TOKEN_KEY_PREVIOUS  during a rotation: still opens tokens sealed with it
  OIDC_PROVIDER_KEY           RSA private key (PEM): the gateway's own OIDC provider, for
                              buckets with auth_type = \"oidc\" (needs OIDC_PROVIDER_ISSUER)
  OIDC_PROVIDER_ISSUER        its issuer, an https URL (e.g. https://gw.example.com)
  OIDC_PROVIDER_KEY_PREVIOUS  during a rotation: still published in the JWKS
  BACKEND_TIMEOUT_SECONDS     how long a backend may take to start answering, or stay silent
                              mid-download (default 30, at most 3600): then 504
";

/// The second line of a command-line error.
pub(crate) const HINT: &str =
    "Try 'multistore-server --help' for the flags and environment variables.";

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    /// `--config`: the gateway config file (TOML or JSON, by extension).
    pub config: String,
    /// `--listen`: the address to bind, `0.0.0.0:8080` unless given.
    pub listen: String,
    /// `--domain`: serve `BUCKET.DOMAIN` virtual-hosted requests.
    pub domain: Option<String>,
    /// `--sts-config`: roles and credentials merged into the config.
    pub sts_config: Option<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Start the server with these arguments.
    Run(Args),
    /// `check`: load the config as `Run` would, report, and exit.
    Check(Args),
    /// Print the usage text and exit.
    Help,
    /// Print the version and exit.
    Version,
}

impl Args {
    /// Parses `[check] --flag value` and `--flag=value`.
    pub(crate) fn parse(it: impl Iterator<Item = String>) -> Result<Parsed, String> {
        let mut it = it.peekable();
        let check = it.next_if(|a| a == "check").is_some();
        let (mut config, mut listen, mut domain, mut sts) = (None, None, None, None);
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let slot = match flag.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "-V" | "--version" => return Ok(Parsed::Version),
                "--config" => &mut config,
                "--listen" => &mut listen,
                "--domain" => &mut domain,
                "--sts-config" => &mut sts,
                "check" => {
                    return Err(
                        "'check' must come first: multistore-server check --config FILE".into(),
                    )
                }
                other if other.starts_with('-') => return Err(format!("unknown flag '{other}'")),
                other => return Err(format!("unexpected argument '{other}'")),
            };
            let value = match inline {
                Some(v) => v,
                // `--config --listen x` is a forgotten value, not a file named `--listen`.
                None => it
                    .next()
                    .filter(|v| !v.starts_with("--"))
                    .ok_or_else(|| format!("{flag} needs a value"))?,
            };
            if value.is_empty() {
                return Err(format!("{flag} needs a non-empty value"));
            }
            if slot.is_some() {
                return Err(format!("{flag} is given twice"));
            }
            *slot = Some(value);
        }
        let args = Args {
            config: config.ok_or("--config FILE is required")?,
            listen: listen.unwrap_or_else(|| "0.0.0.0:8080".to_string()),
            domain,
            sts_config: sts,
        };
        Ok(if check {
            Parsed::Check(args)
        } else {
            Parsed::Run(args)
        })
    }
}

#[cfg(test)]
mod tests;
