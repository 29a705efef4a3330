//! The POST policy: a base64 JSON document (`expiration` + `conditions`) the form's signature
//! covers, checked against the form as S3 checks it.
//!
//! - `expiration` (ISO 8601 in UTC, `YYYY-MM-DDTHH:MM:SS[.fff]Z`) must be after now: else
//!   `Policy expired.`
//! - Conditions: `{"field": "v"}` (exactly one field per object) and `["eq", "$field", "v"]` (exact), `["starts-with",
//!   "$field", "prefix"]` (empty prefix: anything; for Content-Type every comma-separated value
//!   must match), `["content-length-range", min, max]` (the file's length). `bucket` is the
//!   bucket the form was posted to; `key` is the key after `${filename}` expansion; a field the
//!   form lacks has the value "".
//! - Every form field but `policy`, `x-amz-signature`, `awsaccesskeyid`, `signature`, `file` and
//!   `x-ignore-*` must be named by some condition (`Extra input fields: ...`).
//!
//! Failures are `AccessDenied` "Invalid according to Policy: ...", naming the condition, except
//! the length range (`EntityTooLarge` / `EntityTooSmall`) and a malformed document
//! (`InvalidPolicyDocument`).

use base64::Engine as _;
use serde_json::Value;

use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

use super::form::PostForm;

/// One condition of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "v"}` / `["eq", "$field", "v"]` (field lowercased, without `$`).
    Eq(String, String),
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith(String, String),
    /// `["content-length-range", min, max]`.
    LengthRange(u64, u64),
}

impl Condition {
    /// The condition as S3 quotes it in errors.
    fn describe(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match self {
            Condition::Eq(f, v) => format!("[\"eq\", {}, {}]", q(&format!("${f}")), q(v)),
            Condition::StartsWith(f, v) => {
                format!("[\"starts-with\", {}, {}]", q(&format!("${f}")), q(v))
            }
            Condition::LengthRange(a, b) => format!("[\"content-length-range\", {a}, {b}]"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq(f, _) | Condition::StartsWith(f, _) => Some(f),
            Condition::LengthRange(..) => None,
        }
    }
}

/// A parsed POST policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostPolicy {
    /// When it stops being valid.
    pub expiration: Timestamp,
    /// Its conditions, in order.
    pub conditions: Vec<Condition>,
}

fn invalid(msg: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {msg}"),
    )
}

fn denied(msg: impl std::fmt::Display) -> S3Error {
    S3Error::access_denied(format!("Invalid according to Policy: {msg}"))
}

/// A JSON string, or a number written as text (some clients write `"201"` as `201`).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn length(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn field_name(v: &Value) -> Result<String, S3Error> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid("a condition's field must be a string"))?;
    let name = s
        .strip_prefix('$')
        .ok_or_else(|| invalid(format!("the condition field '{s}' must start with '$'")))?;
    Ok(name.to_ascii_lowercase())
}

/// S3's `expiration`: ISO 8601 in UTC, `YYYY-MM-DDTHH:MM:SS[.fff]Z` (a space for the `T`, an
/// offset such as `+00:00` or a lowercase `z` is refused, as S3 refuses them).
fn parse_expiration(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.get(10) != Some(&b'T') || b.last() != Some(&b'Z') {
        return None;
    }
    Timestamp::parse_rfc3339(s)
}

impl PostPolicy {
    /// Decodes the `policy` field (base64 of UTF-8 JSON).
    pub fn parse(b64: &str) -> Result<Self, S3Error> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| invalid("the policy is not valid base64"))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid("Invalid JSON."))?;
        let exp = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Policy missing expiration."))?;
        let expiration = parse_expiration(exp)
            .ok_or_else(|| invalid(format!("Invalid 'expiration' value: '{exp}'")))?;
        let list = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("Policy missing conditions."))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            match c {
                Value::Object(map) => {
                    if map.len() != 1 {
                        return Err(invalid(
                            "Invalid Simple-Condition: Simple-Conditions must have exactly one \
                             property specified.",
                        ));
                    }
                    for (k, v) in map {
                        let v = text(v).ok_or_else(|| {
                            invalid(format!(
                                "Invalid Simple-Condition: value of '{k}' must be a string"
                            ))
                        })?;
                        conditions.push(Condition::Eq(k.to_ascii_lowercase(), v));
                    }
                }
                Value::Array(items) => {
                    let op = items
                        .first()
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .unwrap_or_default();
                    if items.len() != 3 {
                        return Err(invalid(format!("a condition must have 3 elements: {c}")));
                    }
                    let cond = match op.as_str() {
                        "eq" | "starts-with" => {
                            let f = field_name(&items[1])?;
                            let v = text(&items[2]).ok_or_else(|| {
                                invalid(format!(
                                    "the value of the condition on '${f}' must be a string"
                                ))
                            })?;
                            if op == "eq" {
                                Condition::Eq(f, v)
                            } else {
                                Condition::StartsWith(f, v)
                            }
                        }
                        "content-length-range" => {
                            let (Some(a), Some(b)) = (length(&items[1]), length(&items[2])) else {
                                return Err(invalid(
                                    "content-length-range needs two non-negative integers",
                                ));
                            };
                            Condition::LengthRange(a, b)
                        }
                        other => {
                            return Err(invalid(format!("unknown condition operator '{other}'")))
                        }
                    };
                    conditions.push(cond);
                }
                _ => return Err(invalid("a condition must be an object or an array")),
            }
        }
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// Checks the form against the policy: expiry, every condition, and that every field is
    /// covered. `key` is the expanded key; `file_len` the file's length.
    pub fn check(
        &self,
        form: &PostForm,
        bucket: &str,
        key: &str,
        file_len: u64,
        now: Timestamp,
    ) -> Result<(), S3Error> {
        if now.0 >= self.expiration.0 {
            return Err(denied("Policy expired."));
        }
        let value = |f: &str| -> String {
            match f {
                "bucket" => bucket.to_string(),
                "key" => key.to_string(),
                f => form.field(f).unwrap_or_default(),
            }
        };
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq(f, v) => value(f) == *v,
                Condition::StartsWith(f, p) if f == "content-type" => value(f)
                    .split(',')
                    .all(|t| t.trim_start().starts_with(p.as_str())),
                Condition::StartsWith(f, p) => value(f).starts_with(p.as_str()),
                Condition::LengthRange(min, max) => {
                    if file_len > *max {
                        return Err(S3Error::new(
                            ErrorCode::EntityTooLarge,
                            "Your proposed upload exceeds the maximum allowed size",
                        )
                        .with_detail("ProposedSize", file_len.to_string())
                        .with_detail("MaxSizeAllowed", max.to_string()));
                    }
                    if file_len < *min {
                        return Err(S3Error::new(
                            ErrorCode::EntityTooSmall,
                            "Your proposed upload is smaller than the minimum allowed size",
                        )
                        .with_detail("ProposedSize", file_len.to_string())
                        .with_detail("MinSizeAllowed", min.to_string()));
                    }
                    true
                }
            };
            if !ok {
                return Err(denied(format!("Policy Condition failed: {}", c.describe())));
            }
        }
        let extra: Vec<&str> = form
            .names()
            .into_iter()
            .filter(|n| !exempt(n))
            .filter(|n| !self.conditions.iter().any(|c| c.field() == Some(*n)))
            .collect();
        if !extra.is_empty() {
            return Err(denied(format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(())
    }
}

/// Fields no condition needs to name.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "awsaccesskeyid" | "signature" | "file"
    ) || name.starts_with("x-ignore-")
}
