//! What both runtimes compute alike around their I/O: whether a request head announces a body,
//! the text of a backend that did not answer in time, the report of a config check.

use std::time::Duration;

use http::HeaderMap;

use crate::gateway::Gateway;

/// Whether a request head announces a body: a `Content-Length` other than 0, or any
/// `Transfer-Encoding`. An answer refusing such a request closes the connection (the rest of the
/// body must never be read as the next request).
pub fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Why a backend call failed when the backend did not start answering within `timeout`.
pub fn no_answer_within(timeout: Duration) -> String {
    format!(
        "the backend did not answer within {} seconds",
        timeout.as_secs_f64()
    )
}

/// What loading a config found, as a config check prints it.
pub struct Findings<'a> {
    /// The config files, in the order they were read.
    pub files: &'a [String],
    /// Built when the config itself is valid (other problems may remain).
    pub gateway: Option<&'a Gateway>,
    /// Why the runtime would refuse to start.
    pub problems: &'a [String],
    /// Accepted, but probably not what was meant.
    pub warnings: &'a [String],
    /// What is on and off.
    pub notes: &'a [String],
}

/// The text of a config check: a line per problem, warning and note, then a verdict (`ok:` with
/// what the config holds, or `invalid:`).
pub fn check_report(found: &Findings<'_>) -> String {
    let mut out = String::new();
    let mut line = |prefix: &str, text: &str| {
        out.push_str(prefix);
        out.push_str(text);
        out.push('\n');
    };
    for p in found.problems {
        line("error: ", p);
    }
    for w in found.warnings {
        line("warning: ", w);
    }
    for n in found.notes {
        line("note: ", n);
    }
    let files = found.files.join(" + ");
    let warnings = plural(found.warnings.len(), "warning");
    match found.gateway {
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
