//! `{claim}` templates in role scopes: `bucket = "{sub}"`, `prefixes = ["{repository}/"]`.
//!
//! # Invariants (fail closed)
//!
//! - A template naming a claim the token does not carry is an error, never an empty string: an
//!   empty prefix would grant the whole bucket.
//! - A claim value that is empty, is not a string or number, or contains a glob metacharacter
//!   (`*`, `?`), a brace or a control character is refused: `sub = "*"` must not turn
//!   `bucket = "{sub}"` into "every bucket".
//! - Expansion is one pass: a `{` inside a claim value is never expanded again.
//! - Text outside braces is copied as it is.

use serde_json::{Map, Value};

use crate::policy::Scope;

/// The verified claims of a token, as JSON.
pub(crate) type Claims = Map<String, Value>;

/// Why a template could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TemplateError {
    /// The template names a claim the token does not have.
    #[error("the scope template names the claim '{claim}', which the token does not carry")]
    MissingClaim {
        /// The claim name.
        claim: String,
    },
    /// The claim exists but its value cannot be put in a scope.
    #[error("the claim '{claim}' cannot be used in a scope template: {reason}")]
    UnusableClaim {
        /// The claim name.
        claim: String,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// A `{` without its `}` (validation rejects these at config load).
    #[error("unbalanced {{claim}} template in '{template}'")]
    Unbalanced {
        /// The template text.
        template: String,
    },
}

/// Expands every `{claim}` in each scope's bucket and prefixes.
pub(crate) fn expand_scopes(
    scopes: &[Scope],
    claims: &Claims,
) -> Result<Vec<Scope>, TemplateError> {
    scopes
        .iter()
        .map(|s| {
            Ok(Scope {
                bucket: expand(&s.bucket, claims)?,
                prefixes: s
                    .prefixes
                    .iter()
                    .map(|p| expand(p, claims))
                    .collect::<Result<_, _>>()?,
                actions: s.actions.clone(),
            })
        })
        .collect()
}

/// Expands the `{claim}` references of one template.
pub(crate) fn expand(template: &str, claims: &Claims) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(TemplateError::Unbalanced {
                template: template.to_string(),
            });
        }
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(TemplateError::Unbalanced {
                template: template.to_string(),
            });
        };
        let name = &after[..close];
        if name.contains('{') {
            return Err(TemplateError::Unbalanced {
                template: template.to_string(),
            });
        }
        out.push_str(&claim_value(name, claims)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn claim_value(name: &str, claims: &Claims) -> Result<String, TemplateError> {
    let unusable = |reason| TemplateError::UnusableClaim {
        claim: name.to_string(),
        reason,
    };
    let value = match claims.get(name) {
        None | Some(Value::Null) => {
            return Err(TemplateError::MissingClaim {
                claim: name.to_string(),
            })
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(unusable("only string and number claims can be templated")),
    };
    if value.is_empty() {
        return Err(unusable("the value is empty"));
    }
    if value.contains(['*', '?']) {
        return Err(unusable("the value contains a glob character ('*' or '?')"));
    }
    if value.contains(['{', '}']) {
        return Err(unusable("the value contains a brace"));
    }
    if value.chars().any(char::is_control) {
        return Err(unusable("the value contains a control character"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
