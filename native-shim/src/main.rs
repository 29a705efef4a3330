//! `multistore-server`: the native runtime of the multistore S3 gateway (hyper 1 + tokio).
//!
//! It loads a TOML/JSON config, builds the gateway core (rebuilt when the file changes, see
//! [`reload`]), and executes the core's plans: one backend request per client request, bodies
//! streamed both ways.

mod args;
mod body;
mod proxy;
mod reload;
mod server;

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use multistore::executor::{check_report, load_config_files, Options, Startup};

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
    let reloader = match loaded.reloader {
        Some(r) if loaded.problems.is_empty() => r,
        _ => {
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
    let result = runtime.block_on(server::serve(&args, reloader));
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
    let report = check_report(&loaded);
    print!("{report}");
    if loaded.gateway.is_some() && loaded.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

// The environment variables the server reads besides env_logger's (`RUST_LOG`,
// `RUST_LOG_STYLE`): the core's settings ([`Options::read_env`] asks for them by these names),
// each documented in `--help`.
const SESSION_TOKEN_KEY_VAR: &str = "SESSION_TOKEN_KEY";
const SESSION_TOKEN_KEY_PREVIOUS_VAR: &str = "SESSION_TOKEN_KEY_PREVIOUS";
const OIDC_PROVIDER_KEY_VAR: &str = "OIDC_PROVIDER_KEY";
const OIDC_PROVIDER_KEY_PREVIOUS_VAR: &str = "OIDC_PROVIDER_KEY_PREVIOUS";
const OIDC_PROVIDER_ISSUER_VAR: &str = "OIDC_PROVIDER_ISSUER";
const BACKEND_TIMEOUT_VAR: &str = "BACKEND_TIMEOUT_SECONDS";
const CONFIG_TTL_VAR: &str = "CONFIG_TTL_SECONDS";
const ENV_VARS: [&str; 7] = [
    SESSION_TOKEN_KEY_VAR,
    SESSION_TOKEN_KEY_PREVIOUS_VAR,
    OIDC_PROVIDER_KEY_VAR,
    OIDC_PROVIDER_KEY_PREVIOUS_VAR,
    OIDC_PROVIDER_ISSUER_VAR,
    BACKEND_TIMEOUT_VAR,
    CONFIG_TTL_VAR,
];

/// An environment variable the core asks for; unset (and any name not in [`ENV_VARS`]: the
/// server reads only what `--help` documents) is None.
fn env_var(name: &str) -> Result<Option<String>, String> {
    if !ENV_VARS.contains(&name) {
        return Ok(None);
    }
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// Reads the environment and the config file(s), parses and validates them and builds the
/// gateway, once: the one path both the server's start and `check` take.
fn load(args: &args::Args) -> Startup {
    let mut env = Options::read_env(env_var);
    env.options.gateway.virtual_host_domain = args.domain.clone();
    let mut files = vec![args.config.clone()];
    files.extend(args.sts_config.clone());
    load_config_files(files, env, seed(), &reload::RealDisk, SystemTime::now())
}

/// Randomness taken once for the request ids (without it they are still unique, only
/// predictable).
fn seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests;
