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
        Ok(args::Parsed::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Parsed::Version) => {
            println!("multistore-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("multistore-server: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("multistore=info"))
        .init();

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
fn oidc_provider() -> Result<Option<Arc<OidcProvider>>, String> {
    let (key, issuer) = (var("OIDC_PROVIDER_KEY")?, var("OIDC_PROVIDER_ISSUER")?);
    let (key, issuer) = match (key, issuer) {
        (None, None) => {
            log::info!("OIDC_PROVIDER_KEY is not set: the OIDC provider and backend federation are off");
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
    log::info!(
        "OIDC provider enabled: issuer {}, signing key {}",
        provider.issuer(),
        provider.current_kid()
    );
    Ok(Some(Arc::new(provider)))
}

/// `SESSION_TOKEN_KEY` (and `SESSION_TOKEN_KEY_PREVIOUS`): the keys of STS session tokens.
/// Unset: STS is off. Set but invalid: refuse to start (never log the value).
fn session_keys() -> Result<Option<SessionKeys>, String> {
    let Some(current) = var("SESSION_TOKEN_KEY")? else {
        log::info!("SESSION_TOKEN_KEY is not set: STS and session tokens are off");
        return Ok(None);
    };
    let previous = var("SESSION_TOKEN_KEY_PREVIOUS")?;
    let keys =
        SessionKeys::from_env_values(&current, previous.as_deref()).map_err(|e| e.to_string())?;
    log::info!(
        "STS enabled: session tokens sealed with key {}",
        keys.current_key_id()
    );
    Ok(Some(keys))
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
        session_keys: session_keys()?,
        oidc_provider: oidc_provider()?,
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
