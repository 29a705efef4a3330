//! `multistore-server`: the native runtime of the multistore S3 gateway (hyper 1 + tokio).
//!
//! It loads a TOML/JSON config, builds the gateway core (rebuilt when the file changes, see
//! [`reload`]), and executes the core's plans: one backend request per client request, bodies
//! streamed both ways.

mod args;
mod federation;
mod proxy;
mod reload;
mod request_id;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use multistore::config::{ConfigFormat, GatewayConfig};
use multistore::oidc::OidcProvider;
use multistore::sts::token::SessionKeys;
use multistore::{Gateway, GatewayOptions};

fn main() -> ExitCode {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args::Parsed::Run(a)) => a,
        Ok(args::Parsed::Check(a)) => return check(&a),
        Ok(args::Parsed::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Parsed::Version) => {
            println!("{}", version());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("multistore-server: {e}\n{}", args::HINT);
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("multistore=info"))
        .init();

    let loaded = load(&args);
    for w in &loaded.warnings {
        log::warn!("config: {w}");
    }
    for n in &loaded.notes {
        log::info!("{n}");
    }
    if loaded.gateway.is_none() || !loaded.problems.is_empty() {
        let n = loaded.problems.len();
        eprintln!(
            "multistore-server: invalid configuration ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        );
        for p in &loaded.problems {
            eprintln!("  {p}");
        }
        return ExitCode::from(1);
    }
    // The config checked whole above; the reloader reads it again as the snapshot it follows
    // (the files' stamps and contents are its baseline) and serves that.
    let mut reloader = match reloader(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("multistore-server: {e}");
            return ExitCode::from(1);
        }
    };
    let gateway = match reloader.load() {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("multistore-server: {e}");
            return ExitCode::from(1);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("multistore-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(server::serve(&args, gateway, reloader));
    // Drained already; do not wait on a blocking task (a stuck DNS lookup) to exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multistore-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// `multistore-server --version`: the crate version, and the commit when the build set
/// `MULTISTORE_BUILD_COMMIT` (e.g. a container build; nothing is looked up at build time).
fn version() -> String {
    match option_env!("MULTISTORE_BUILD_COMMIT").filter(|c| !c.trim().is_empty()) {
        Some(commit) => format!(
            "multistore-server {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            commit.trim()
        ),
        None => format!("multistore-server {}", env!("CARGO_PKG_VERSION")),
    }
}

/// `multistore-server check`: everything [`load`] found, on stdout; exit 1 when the server
/// would refuse to start.
fn check(args: &args::Args) -> ExitCode {
    let mut loaded = load(args);
    // The resolution `bind` starts with (binding itself is not tried: the port may be in use by
    // the running server being checked).
    if let Err(e) = std::net::ToSocketAddrs::to_socket_addrs(args.listen.as_str()) {
        let listen = &args.listen;
        loaded.problems.push(format!(
            "--listen {listen}: not an address to listen on (HOST:PORT): {e}"
        ));
    }
    let report = check_report(args, &loaded);
    print!("{report}");
    if loaded.gateway.is_some() && loaded.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The text `check` prints: a line per problem, warning and note, then a verdict.
fn check_report(args: &args::Args, loaded: &Loaded) -> String {
    let mut out = String::new();
    let mut line = |prefix: &str, text: &str| {
        out.push_str(prefix);
        out.push_str(text);
        out.push('\n');
    };
    for p in &loaded.problems {
        line("error: ", p);
    }
    for w in &loaded.warnings {
        line("warning: ", w);
    }
    for n in &loaded.notes {
        line("note: ", n);
    }
    let files = match &args.sts_config {
        Some(sts) => format!("{} + {sts}", args.config),
        None => args.config.clone(),
    };
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let warnings = plural(loaded.warnings.len(), "warning");
    match &loaded.gateway {
        Some(g) if loaded.problems.is_empty() => {
            let c = g.config();
            line(
                "ok: ",
                &format!(
                    "{files}: {}, {}, {}; {warnings}",
                    plural(c.buckets.len(), "bucket"),
                    plural(c.roles.len(), "role"),
                    plural(c.credentials.len(), "credential"),
                ),
            );
        }
        _ => line(
            "invalid: ",
            &format!(
                "{files}: {}, {warnings}; the server would refuse to start",
                plural(loaded.problems.len(), "problem")
            ),
        ),
    }
    out
}

/// An environment variable; unset and blank are both None.
fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// `OIDC_PROVIDER_KEY` (+ `OIDC_PROVIDER_KEY_PREVIOUS`) and `OIDC_PROVIDER_ISSUER`: the
/// gateway's own OIDC provider. Unset: off (federated buckets answer 503). Set but invalid, or
/// only half set: refuse to start (never log the key).
fn oidc_provider(notes: &mut Vec<String>) -> Result<Option<Arc<OidcProvider>>, String> {
    let (key, issuer) = (var("OIDC_PROVIDER_KEY")?, var("OIDC_PROVIDER_ISSUER")?);
    let (key, issuer) = match (key, issuer) {
        (None, None) => {
            notes.push(
                "OIDC_PROVIDER_KEY is not set: the OIDC provider and backend federation are off"
                    .into(),
            );
            return Ok(None);
        }
        (Some(k), Some(i)) => (k, i),
        (Some(_), None) => {
            return Err("OIDC_PROVIDER_KEY is set but OIDC_PROVIDER_ISSUER is not (e.g. https://gw.example.com)".into())
        }
        (None, Some(_)) => {
            return Err("OIDC_PROVIDER_ISSUER is set but OIDC_PROVIDER_KEY (an RSA private key in PEM) is not".into())
        }
    };
    let previous = var("OIDC_PROVIDER_KEY_PREVIOUS")?;
    let provider = OidcProvider::from_env_values(&issuer, &key, previous.as_deref())
        .map_err(|e| e.to_string())?;
    notes.push(format!(
        "OIDC provider enabled: issuer {}, signing key {}",
        provider.issuer(),
        provider.current_kid()
    ));
    Ok(Some(Arc::new(provider)))
}

/// `SESSION_TOKEN_KEY` (and `SESSION_TOKEN_KEY_PREVIOUS`): the keys of STS session tokens.
/// Unset: STS is off. Set but invalid: refuse to start (never log the value).
fn session_keys(notes: &mut Vec<String>) -> Result<Option<SessionKeys>, String> {
    let Some(current) = var("SESSION_TOKEN_KEY")? else {
        notes.push("SESSION_TOKEN_KEY is not set: STS and session tokens are off".into());
        return Ok(None);
    };
    let previous = var("SESSION_TOKEN_KEY_PREVIOUS")?;
    let keys =
        SessionKeys::from_env_values(&current, previous.as_deref()).map_err(|e| e.to_string())?;
    notes.push(format!(
        "STS enabled: session tokens sealed with key {}",
        keys.current_key_id()
    ));
    Ok(Some(keys))
}

/// What loading found. The server starts only from a `gateway` with no `problems`; `check`
/// prints all of it. No line holds a secret value: the core's config errors name fields, never
/// values, and the key errors name the variable.
#[derive(Default)]
struct Loaded {
    /// Built when the config itself is valid (environment problems may remain).
    gateway: Option<Gateway>,
    /// Why the server would refuse to start, each with its file and path, or its variable.
    problems: Vec<String>,
    /// Accepted, but probably not what was meant.
    warnings: Vec<String>,
    /// What is on and off (logged at `info` when the server starts).
    notes: Vec<String>,
}

/// Reads, parses and validates the config file(s) and the environment, and builds the gateway:
/// the one path both the server's start and `check` take. Collects every problem rather than
/// stopping at the first.
fn load(args: &args::Args) -> Loaded {
    let mut l = Loaded::default();
    let read = |path: &str, l: &mut Loaded| -> Option<GatewayConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                l.problems.push(format!("cannot read {path}: {e}"));
                return None;
            }
        };
        // Its message names the path already.
        let format = ConfigFormat::from_path(path)
            .map_err(|e| l.problems.extend(e.problems))
            .ok()?;
        // The backends' option checks included, so every problem shows at once.
        let (config, warnings) = Gateway::parse_config_reporting(&text, format);
        l.warnings
            .extend(warnings.iter().map(|w| format!("{path}: {w}")));
        config
            .map_err(|e| {
                l.problems
                    .extend(e.problems.iter().map(|p| format!("{path}: {p}")));
            })
            .ok()
    };
    let main = read(&args.config, &mut l);
    let sts = args.sts_config.as_deref().map(|p| (p, read(p, &mut l)));
    let config = match (main, sts) {
        (Some(c), None) => Some(c),
        (Some(c), Some((path, Some(s)))) => c
            .merge(s)
            .map_err(|e| {
                l.problems
                    .extend(e.problems.iter().map(|p| format!("{path}: {p}")));
            })
            .ok(),
        _ => None,
    };
    fn env<T>(r: Result<T, String>, problems: &mut Vec<String>) -> Option<T> {
        r.map_err(|e| problems.push(e)).ok()
    }
    let session_keys = env(session_keys(&mut l.notes), &mut l.problems);
    let oidc_provider = env(oidc_provider(&mut l.notes), &mut l.problems);
    env(proxy::backend_timeout(), &mut l.problems);
    if let Ok(Some(v)) = var(reload::TTL_VAR) {
        env(
            reload::parse_ttl(&v).map_err(|e| format!("{}: {e}", reload::TTL_VAR)),
            &mut l.problems,
        );
    }
    let Some(config) = config else {
        return l;
    };
    // Unset, not invalid (that is a problem already).
    if !config.roles.is_empty() && matches!(session_keys, Some(None)) {
        l.warnings.push(format!(
            "roles: {} configured but SESSION_TOKEN_KEY is not set: AssumeRoleWithWebIdentity answers 503",
            config.roles.len()
        ));
    }
    if matches!(oidc_provider, Some(None)) {
        for (i, b) in config.buckets.iter().enumerate() {
            if b.option("auth_type").is_some() {
                l.warnings.push(format!(
                    "buckets[{i}] ({}): auth_type is set but OIDC_PROVIDER_KEY is not: its requests answer 503",
                    b.name
                ));
            }
        }
    }
    let options = GatewayOptions {
        virtual_host_domain: args.domain.clone(),
        session_keys: session_keys.flatten(),
        oidc_provider: oidc_provider.flatten(),
    };
    // The backends' option warnings were reported as each file was read.
    match Gateway::build_reporting(config, options).0 {
        Ok(g) => l.gateway = Some(g),
        Err(e) => l
            .problems
            .extend(e.problems.iter().map(|p| format!("{}: {p}", args.config))),
    }
    l
}

/// The config file(s), how a gateway is built from them (options from the environment, read
/// once: they only change with a restart) and `CONFIG_TTL_SECONDS`.
fn reloader(args: &args::Args) -> Result<reload::Reloader, String> {
    let ttl = match var(reload::TTL_VAR)? {
        Some(v) => reload::parse_ttl(&v).map_err(|e| format!("{}: {e}", reload::TTL_VAR))?,
        None => Some(reload::DEFAULT_TTL),
    };
    let options = GatewayOptions {
        virtual_host_domain: args.domain.clone(),
        session_keys: session_keys(&mut Vec::new())?,
        oidc_provider: oidc_provider(&mut Vec::new())?,
    };
    let mut files = vec![PathBuf::from(&args.config)];
    files.extend(args.sts_config.as_ref().map(PathBuf::from));
    let (config_path, sts_path) = (args.config.clone(), args.sts_config.clone());
    let build = move |texts: &[String]| build(&config_path, sts_path.as_deref(), texts, &options);
    Ok(reload::Reloader {
        watch: reload::Watch::new(files),
        build: Box::new(build),
        ttl,
    })
}

/// Parses and validates the config file(s) (contents in `texts`, in the order watched) and
/// builds the gateway.
fn build(
    config_path: &str,
    sts_path: Option<&str>,
    texts: &[String],
    options: &GatewayOptions,
) -> Result<Gateway, String> {
    let parse = |path: &str, text: &str| -> Result<GatewayConfig, String> {
        let format = ConfigFormat::from_path(path).map_err(|e| format!("{path}: {e}"))?;
        GatewayConfig::parse(text, format).map_err(|e| format!("{path}: {e}"))
    };
    let text = texts.first().ok_or("no config file was read")?;
    let mut config = parse(config_path, text)?;
    if let (Some(sts), Some(text)) = (sts_path, texts.get(1)) {
        config = config
            .merge(parse(sts, text)?)
            .map_err(|e| format!("{sts}: {e}"))?;
    }
    Gateway::new(config, options.clone()).map_err(|e| format!("{config_path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sts: Option<&str>) -> args::Args {
        args::Args {
            config: "c.toml".into(),
            listen: "0.0.0.0:8080".into(),
            domain: None,
            sts_config: sts.map(String::from),
        }
    }

    #[test]
    fn check_report_prints_every_problem_and_warning_then_a_verdict() {
        let loaded = Loaded {
            gateway: None,
            problems: vec![
                "c.toml: buckets[0].name: missing".into(),
                "SESSION_TOKEN_KEY is not base64".into(),
            ],
            warnings: vec!["c.toml: x: unknown key, ignored".into()],
            notes: vec!["OIDC_PROVIDER_KEY is not set".into()],
        };
        assert_eq!(
            check_report(&args(Some("s.toml")), &loaded),
            "error: c.toml: buckets[0].name: missing\n\
             error: SESSION_TOKEN_KEY is not base64\n\
             warning: c.toml: x: unknown key, ignored\n\
             note: OIDC_PROVIDER_KEY is not set\n\
             invalid: c.toml + s.toml: 2 problems, 1 warning; the server would refuse to start\n"
        );
    }

    #[test]
    fn check_report_counts_what_a_valid_config_loads() {
        let config = GatewayConfig::parse("[[buckets]]\nname = \"r\"\nbackend_type = \"r2\"\n[buckets.backend_options]\nbinding = \"B\"\n", ConfigFormat::Toml).unwrap();
        let loaded = Loaded {
            gateway: Some(Gateway::new(config, GatewayOptions::default()).unwrap()),
            ..Loaded::default()
        };
        assert_eq!(
            check_report(&args(None), &loaded),
            "ok: c.toml: 1 bucket, 0 roles, 0 credentials; 0 warnings\n"
        );
    }

    #[test]
    fn a_missing_file_and_an_unknown_format_are_problems_with_their_paths() {
        let yaml =
            std::env::temp_dir().join(format!("multistore-check-{}.yaml", std::process::id()));
        std::fs::write(&yaml, "buckets: []\n").unwrap();
        let mut a = args(Some("/nonexistent/sts.toml"));
        a.config = yaml.display().to_string();
        let loaded = load(&a);
        std::fs::remove_file(&yaml).unwrap();
        assert!(loaded.gateway.is_none());
        let unknown = format!("{}: unknown config format", a.config);
        assert!(
            loaded.problems.iter().any(|p| p.starts_with(&unknown)),
            "{:?}",
            loaded.problems
        );
        assert!(loaded
            .problems
            .iter()
            .any(|p| p.starts_with("cannot read /nonexistent/sts.toml")));
    }
}
