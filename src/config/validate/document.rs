//! Config text (JSON or TOML) to one generic JSON value, with positions but never the
//! offending text in errors.

use super::*;

/// Parses `text` into a generic value. Syntax errors give a position, never the offending text
/// (it may be a secret).
pub(crate) fn to_value(text: &str, format: ConfigFormat) -> Result<Value, ConfigError> {
    match format {
        ConfigFormat::Json => serde_json::from_str(text).map_err(|e| {
            ConfigError::one(format!(
                "syntax: invalid JSON at line {} column {} ({})",
                e.line(),
                e.column(),
                json_error_kind(&e)
            ))
        }),
        ConfigFormat::Toml => match toml::from_str::<toml::Table>(text) {
            Ok(t) => Ok(toml_to_json(toml::Value::Table(t))),
            Err(e) => {
                let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
                let msg = e
                    .message()
                    .lines()
                    .next()
                    .unwrap_or("invalid TOML")
                    .to_string();
                Err(ConfigError::one(format!(
                    "syntax: invalid TOML at line {line} column {col} ({msg})"
                )))
            }
        },
    }
}

pub(super) fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of file",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "invalid data",
    }
}

pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

pub(super) fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}
