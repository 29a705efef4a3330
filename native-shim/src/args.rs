//! Command-line arguments (hand-written: five flags do not earn a parser crate).

/// Usage text.
pub const USAGE: &str = "\
usage: multistore-server --config FILE [--listen ADDR] [--domain DOMAIN] [--sts-config FILE]

  --config FILE       gateway config, TOML or JSON by extension (required)
  --listen ADDR       address to listen on (default 0.0.0.0:8080)
  --domain DOMAIN     serve virtual-hosted buckets as BUCKET.DOMAIN
  --sts-config FILE   extra roles and credentials, kept apart from the bucket config
  -h, --help          this text
  -V, --version       the version

Flags also take their value inline: --listen=127.0.0.1:9000.
SIGTERM or SIGINT: stop accepting, let in-flight requests finish (at most 30 s), exit 0;
a second signal stops at once. SIGHUP: re-read the config file(s) now.

environment: RUST_LOG (default multistore=info); CONFIG_TTL_SECONDS (default 60; 0: only on
SIGHUP): how often the config file(s) are checked, a changed file served, a broken one only
logged while the last good config keeps serving; SESSION_TOKEN_KEY (base64, 32 bytes: turns
on STS AssumeRoleWithWebIdentity and session tokens) and SESSION_TOKEN_KEY_PREVIOUS (still opens
tokens sealed before a rotation); OIDC_PROVIDER_KEY (RSA private key, PEM) with
OIDC_PROVIDER_ISSUER (https URL): the gateway's own OIDC provider, for buckets with
auth_type = \"oidc\" (OIDC_PROVIDER_KEY_PREVIOUS stays in the JWKS during a rotation)
";

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
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
pub enum Parsed {
    /// Start the server with these arguments.
    Run(Args),
    /// Print the usage text and exit.
    Help,
    /// Print the version and exit.
    Version,
}

impl Args {
    /// Parses `--flag value` and `--flag=value`.
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Parsed, String> {
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
                other => return Err(format!("unknown argument '{other}'")),
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
        Ok(Parsed::Run(Args {
            config: config.ok_or("--config FILE is required")?,
            listen: listen.unwrap_or_else(|| "0.0.0.0:8080".to_string()),
            domain,
            sts_config: sts,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Parsed, String> {
        Args::parse(a.iter().map(|s| (*s).to_string()))
    }

    #[test]
    fn listen_defaults_to_all_interfaces_on_8080() {
        let Ok(Parsed::Run(a)) = parse(&["--config", "c.toml"]) else {
            panic!()
        };
        assert_eq!(a.listen, "0.0.0.0:8080");
        assert_eq!(a.domain, None);
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let Ok(Parsed::Run(a)) = parse(&[
            "--config=c.toml",
            "--listen",
            "127.0.0.1:1",
            "--domain=s3.x",
            "--sts-config",
            "s.toml",
        ]) else {
            panic!()
        };
        assert_eq!(
            a,
            Args {
                config: "c.toml".into(),
                listen: "127.0.0.1:1".into(),
                domain: Some("s3.x".into()),
                sts_config: Some("s.toml".into())
            }
        );
    }

    #[test]
    fn missing_config_unknown_flags_and_missing_values_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--config"]).is_err());
        assert!(parse(&["--config", "c", "--bogus"]).is_err());
        assert!(parse(&["--config", "c", "positional"]).is_err());
        assert!(parse(&["--config", "--listen", "x"]).is_err());
        assert!(parse(&["--config=", "x"]).is_err());
        assert!(parse(&["--config", "a", "--config=b"]).is_err());
        assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
        assert_eq!(parse(&["-V"]), Ok(Parsed::Version));
    }
}
