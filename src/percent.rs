//! Percent-encoding as S3 and SigV4 use it: the RFC 3986 unreserved set, uppercase hex.
//!
//! One place for it, because every layer (request parsing, SigV4 canonicalization, backend URLs,
//! `encoding-type=url` listings) must agree byte for byte.

/// True for the bytes SigV4 and S3 never encode: `A-Z a-z 0-9 - . _ ~`.
pub(crate) fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends `%XX` (uppercase) for one byte.
pub(crate) fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// The value of one hex digit.
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The escape at `i` (`%XX`), if there is a valid one.
pub(crate) fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') {
        return None;
    }
    Some(hex_val(*b.get(i + 1)?)? << 4 | hex_val(*b.get(i + 2)?)?)
}

/// Encodes every byte but unreserved ones (and `/` when `keep_slash`).
pub(crate) fn encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s {
        if unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_escape(&mut out, b);
        }
    }
    out
}

/// Strict decoding: None on a malformed escape. `plus_is_space` for form-style query strings.
pub(crate) fn decode_strict(raw: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                out.push(escape_at(raw, i)?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Lenient decoding for signature checks: a malformed escape stays as it is.
pub(crate) fn decode_lenient(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if let Some(v) = escape_at(raw, i) {
            out.push(v);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
