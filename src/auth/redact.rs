//! Redaction of secrets in anything that is logged: request targets, backend URLs (presigned
//! ones carry signatures and session tokens), and error texts that quote either.
//!
//! [`redact`] keeps everything a reader needs (method, path, which parameters were present,
//! access key ids, credential scopes) and replaces only the values that grant access: signatures
//! (`X-Amz-Signature`, SigV2 `Signature`, Azure SAS `sig`, `X-Goog-Signature`, the `Signature=`
//! of an Authorization header), session tokens (`X-Amz-Security-Token`), `Authorization` header
//! values, bearer tokens and OAuth token fields. Parameter names are compared case-insensitively
//! and percent-decoded, so `X%2DAmz%2DSignature=` is caught as well.

use crate::percent;

/// What a secret value is replaced with.
pub(crate) const REDACTED: &str = "REDACTED";

/// Query or form parameters (lowercase, decoded) whose values are secrets.
const SECRET_PARAMS: &[&str] = &[
    "x-amz-signature",
    "x-amz-security-token",
    "signature",
    "sig",
    "x-goog-signature",
    "authorization",
    "access_token",
    "id_token",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "subject_token",
    "webidentitytoken",
];

/// XML elements (lowercase) whose text is a secret (`<SecretAccessKey>`, `<SessionToken>` of an
/// STS answer).
const SECRET_ELEMENTS: &[&str] = &["secretaccesskey", "sessiontoken"];

/// Header names (lowercase) whose values are secrets when written as `name: value`.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-amz-security-token",
];

/// Bytes that end a `key=value` pair in a URL or in free text.
fn is_sep(b: u8) -> bool {
    matches!(
        b,
        b'?' | b'&'
            | b' '
            | b'\t'
            | b'\r'
            | b'\n'
            | b'"'
            | b'\''
            | b'<'
            | b'>'
            | b'('
            | b')'
            | b','
            | b';'
            | b'#'
            | b'{'
            | b'}'
            | b'['
            | b']'
    )
}

/// Bytes that end a header value (which may contain spaces and commas).
fn ends_header_value(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b'"' | b'\'' | b'&' | b'}')
}

fn decoded_lower(key: &str) -> String {
    String::from_utf8_lossy(&percent::decode_lenient(key.as_bytes())).to_ascii_lowercase()
}

/// Skips the `": "` (or `:`, `=`) between a header name and its value; returns the value's start
/// when the name is followed by one.
fn header_value_start(b: &[u8], mut j: usize) -> Option<usize> {
    if j < b.len() && matches!(b[j], b'"' | b'\'') {
        j += 1;
    }
    if j >= b.len() || !matches!(b[j], b':' | b'=') {
        return None;
    }
    j += 1;
    while j < b.len() && matches!(b[j], b' ' | b'\t' | b'"' | b'\'') {
        j += 1;
    }
    Some(j)
}

/// `text` with every secret value replaced by [`REDACTED`]: use it on every request target, URL,
/// header dump or error text before it is logged.
pub fn redact(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if is_sep(b[i]) {
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_sep(b[i]) {
            i += 1;
        }
        // Separators are ASCII, so `start..i` lies on character boundaries. Each rule writes
        // the segment (its secret redacted) and says where the text goes on, or leaves it.
        let seg = start..i;
        i = secret_param(text, seg.clone(), &mut out)
            .or_else(|| secret_header(text, seg.clone(), &mut out))
            .or_else(|| secret_element(text, seg.clone(), &mut out))
            .unwrap_or_else(|| {
                out.push_str(&text[seg.clone()]);
                bearer_token(text, seg, &mut out)
            });
    }
    out
}

/// `name=value` of a secret query parameter.
fn secret_param(text: &str, seg: std::ops::Range<usize>, out: &mut String) -> Option<usize> {
    let s = &text[seg.clone()];
    let eq = s.find('=')?;
    if !SECRET_PARAMS.contains(&decoded_lower(&s[..eq]).as_str()) {
        return None;
    }
    out.push_str(&s[..=eq]);
    out.push_str(REDACTED);
    Some(seg.end)
}

/// The name a segment gives a header or element (what comes before a `:`), lowercased.
fn segment_name(seg: &str) -> String {
    seg.split(':').next().unwrap_or(seg).to_ascii_lowercase()
}

/// `name: value`, `name:value` or `"name": "value"` of a secret header.
fn secret_header(text: &str, seg: std::ops::Range<usize>, out: &mut String) -> Option<usize> {
    let b = text.as_bytes();
    let s = &text[seg.clone()];
    let after = match s.find(':') {
        Some(c) => Some(seg.start + c),
        None => header_value_start(b, seg.end).map(|_| seg.end),
    };
    let lower = segment_name(s);
    if !SECRET_HEADERS.contains(&lower.as_str()) && !SECRET_PARAMS.contains(&lower.as_str()) {
        return None;
    }
    let value = after.and_then(|at| header_value_start(b, at))?;
    let mut end = value;
    while end < b.len() && !ends_header_value(b[end]) {
        end += 1;
    }
    out.push_str(&text[seg.start..value]);
    if end > value {
        out.push_str(REDACTED);
    }
    Some(end)
}

/// `<SecretAccessKey>value</SecretAccessKey>`.
fn secret_element(text: &str, seg: std::ops::Range<usize>, out: &mut String) -> Option<usize> {
    let b = text.as_bytes();
    let (start, i) = (seg.start, seg.end);
    let s = &text[seg];
    if !(start > 0
        && b[start - 1] == b'<'
        && i < b.len()
        && b[i] == b'>'
        && SECRET_ELEMENTS.contains(&segment_name(s).as_str()))
    {
        return None;
    }
    let mut end = i + 1;
    while end < b.len() && b[end] != b'<' {
        end += 1;
    }
    out.push_str(s);
    out.push('>');
    if end > i + 1 {
        out.push_str(REDACTED);
    }
    Some(end)
}

/// `Bearer <token>`, after the segment `Bearer` was written: where the text goes on.
fn bearer_token(text: &str, seg: std::ops::Range<usize>, out: &mut String) -> usize {
    let b = text.as_bytes();
    let i = seg.end;
    if !text[seg].eq_ignore_ascii_case("bearer") || i >= b.len() || b[i] != b' ' {
        return i;
    }
    let mut j = i;
    while j < b.len() && b[j] == b' ' {
        j += 1;
    }
    let mut end = j;
    while end < b.len() && !is_sep(b[end]) {
        end += 1;
    }
    if end == j {
        return i;
    }
    out.push_str(&text[i..j]);
    out.push_str(REDACTED);
    end
}

/// [`redact`] for a request target or URL (the name says what it is for at the call site).
pub(crate) fn redact_target(target: &str) -> String {
    redact(target)
}

#[cfg(test)]
mod tests;
