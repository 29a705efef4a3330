//! The canonical request: URI (encoded once, never normalized), query and headers, as S3
//! builds them.

use super::*;

/// RFC 3986 encoding of a query component (every byte but unreserved ones).
pub(crate) fn uri_encode(s: &[u8]) -> String {
    percent::encode(s, false)
}

/// The canonical URI of a raw path, encoded exactly once, never normalized: an escape of an
/// unreserved character is decoded, other escapes are kept (uppercased, so `%2F` stays `%2F`),
/// unreserved bytes and `/` are kept, and every other byte is escaped.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let b = raw_path.as_bytes();
    let mut out = String::with_capacity(b.len() + 16);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(v) = escape_at(b, i) {
            if unreserved(v) {
                out.push(char::from(v));
            } else {
                push_escape(&mut out, v);
            }
            i += 3;
            continue;
        }
        if unreserved(c) || c == b'/' {
            out.push(char::from(c));
        } else {
            push_escape(&mut out, c);
        }
        i += 1;
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

pub(super) fn percent_decode_lossless(s: &str) -> Vec<u8> {
    percent::decode_lenient(s.as_bytes())
}

/// The canonical query string of a raw query: pairs decoded and re-encoded, sorted by key then
/// value, `=` always kept; `X-Amz-Signature` dropped.
pub(crate) fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode_lossless(k)),
                uri_encode(&percent_decode_lossless(v)),
            )
        })
        .filter(|(k, _)| k != "X-Amz-Signature")
        .collect();
    pairs.sort();
    join_pairs(&pairs)
}

/// Canonical query from decoded pairs (for requests we sign).
pub(crate) fn canonical_query_from_pairs(pairs: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (uri_encode(k.as_bytes()), uri_encode(v.as_bytes())))
        .collect();
    enc.sort();
    join_pairs(&enc)
}

pub(super) fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Header value as SigV4 canonicalizes it: trimmed, inner runs of spaces collapsed.
pub(super) fn canonical_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len());
    for word in s.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The canonical headers block (each `name:value\n`) for the signed header names, which must be
/// lowercase and sorted. Missing headers are an error naming them.
pub(crate) fn canonical_headers(headers: &HeaderMap, signed: &[&str]) -> Result<String, String> {
    let mut out = String::new();
    for name in signed {
        let mut values: Vec<String> = Vec::new();
        for v in headers.get_all(*name) {
            // A lossy conversion would let two different values sign alike: refuse instead.
            if std::str::from_utf8(v.as_bytes()).is_err() {
                return Err(format!("the signed header '{name}' is not valid UTF-8"));
            }
            values.push(canonical_value(v.as_bytes()));
        }
        if values.is_empty() {
            return Err(format!("the signed header '{name}' is not in the request"));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Assembles a canonical request.
pub(crate) fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}
