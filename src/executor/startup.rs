//! A runtime's first load of its config files, and the report of a config check: one path for
//! the server's start and `check` (the disk and the clock are passed in).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::{ConfigFiles, Disk, Found, FromEnv, Isolate, Loaded, Watch};
use crate::config::ConfigFormat;
use crate::gateway::Gateway;

/// What loading found. A runtime starts only from a `gateway` with no `problems`; a check prints
/// all of it. No line holds a secret value: config errors name fields, never values, and the
/// settings' errors name the variable.
#[derive(Default)]
pub struct Startup {
    /// The config files, in the order they were read.
    pub files: Vec<String>,
    /// Built when the config itself is valid (problems with the settings may remain).
    pub gateway: Option<Arc<Gateway>>,
    /// Why the runtime would refuse to start, each with its file and path, or its variable.
    pub problems: Vec<String>,
    /// Accepted, but probably not what was meant.
    pub warnings: Vec<String>,
    /// What is on and off.
    pub notes: Vec<String>,
    /// What the runtime follows the files with, its isolate already holding `gateway`.
    pub reloader: Option<ConfigFiles>,
}

/// Loads `files` (their format by extension) into a new isolate with the settings `env` read,
/// once, at `now`. Collects every problem rather than stopping at the first.
pub fn load_config_files(
    files: Vec<String>,
    env: FromEnv,
    seed: u64,
    disk: &dyn Disk,
    now: SystemTime,
) -> Startup {
    let mut out = Startup {
        notes: env.notes,
        ..Startup::default()
    };
    let mut sources = Vec::new();
    for path in &files {
        // Its message names the path already.
        match ConfigFormat::from_path(path) {
            Ok(format) => sources.push((path.clone(), format)),
            Err(e) => out.problems.extend(e.problems),
        }
    }
    let mut reloader = ConfigFiles {
        watch: Watch::new(files.iter().map(PathBuf::from).collect()),
        sources,
        isolate: Arc::new(Isolate::new(env.options, seed)),
    };
    match reloader.watch.read(disk, now, true) {
        Found::Unreadable(e) => out.problems.extend(e),
        // A file of an unknown format: its problem is reported already.
        _ if reloader.sources.len() < files.len() => {}
        found => match reloader.offer(found, now, true) {
            Loaded::Installed { gateway, warnings } => {
                out.gateway = Some(gateway);
                out.warnings = warnings;
                out.reloader = Some(reloader);
            }
            Loaded::Broken {
                problems, warnings, ..
            } => {
                out.problems.extend(problems);
                out.warnings = warnings;
            }
            Loaded::Unchanged | Loaded::Held => {
                out.problems.push("the config was loaded already".into());
            }
        },
    }
    out.problems.extend(env.problems);
    out.files = files;
    out
}

/// The text of a config check: a line per problem, warning and note, then a verdict (`ok:` with
/// what the config holds, or `invalid:`).
pub fn check_report(found: &Startup) -> String {
    let mut out = String::new();
    let mut line = |prefix: &str, text: &str| {
        out.push_str(prefix);
        out.push_str(text);
        out.push('\n');
    };
    for p in &found.problems {
        line("error: ", p);
    }
    for w in &found.warnings {
        line("warning: ", w);
    }
    for n in &found.notes {
        line("note: ", n);
    }
    let files = found.files.join(" + ");
    let warnings = plural(found.warnings.len(), "warning");
    match &found.gateway {
        Some(g) if found.problems.is_empty() => {
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
                plural(found.problems.len(), "problem")
            ),
        ),
    }
    out
}

/// `1 bucket`, `2 buckets`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests;
