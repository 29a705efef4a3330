//! The `multipart/form-data` body of a POST upload, read without buffering the file.
//!
//! ```text
//! --B\r\n headers \r\n\r\n value \r\n--B\r\n ... headers(name="file") \r\n\r\n FILE \r\n--B--\r\n
//! └──────────────── preamble: read by FormReader (≤ 64 KiB) ───────────┘ └ FormBody ┘
//! ```
//!
//! [`FormReader`] takes the body's first chunks until it has every field before the `file` part
//! (the runtime feeds it, the core decides when it has enough). A small body (up to
//! [`WHOLE_BODY_LIMIT`]) is read whole, so fields after the file are found and ignored as S3
//! ignores them. A larger one is streamed: the file's length is `Content-Length` minus the
//! preamble minus the closing delimiter `\r\n--B--\r\n`, so the file must be the last field.
//! [`FormBody`] then passes the file's bytes through and holds the last ones back until the body
//! ended with exactly the expected tail: a truncated body, or one with fields after a large file,
//! never completes an object.

use bytes::Bytes;
use http::HeaderMap;

use crate::payload::BodyCheck;
use crate::s3::{ErrorCode, S3Error};

/// Most bytes of form fields (with their part headers and boundaries) before the file.
pub(crate) const MAX_PREAMBLE: usize = 64 << 10;
/// Bodies up to this size are read whole before planning (fields after the file are then
/// allowed and ignored). Covers an empty file after a full preamble.
pub(crate) const WHOLE_BODY_LIMIT: u64 = (MAX_PREAMBLE as u64) + 1024;
/// Longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;

fn malformed(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::MalformedPOSTRequest, msg)
}

/// The boundary of a `multipart/form-data` Content-Type (quoted or not).
pub(crate) fn boundary(headers: &HeaderMap) -> Result<String, S3Error> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let b = ct
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_string()
        })
        .ok_or_else(|| malformed("the multipart/form-data Content-Type has no boundary"))?;
    if b.is_empty() || b.len() > MAX_BOUNDARY {
        return Err(malformed(
            "the multipart boundary must be 1 to 70 characters long",
        ));
    }
    Ok(b)
}

/// Where the reader is in the preamble.
#[derive(Debug)]
enum Phase {
    /// Before the first delimiter.
    Start,
    /// In a part's headers (from `pos`).
    Headers,
    /// In a field's value (from `pos`).
    Value(String),
    /// The file's headers were read; its content starts at `start`.
    File {
        start: usize,
        filename: Option<String>,
    },
}

/// A sans-IO reader of a POST form's preamble: `push` the body's chunks until it returns true,
/// call `end` if the body ended first (or `broken` if it failed), then hand it to
/// [`crate::Gateway::plan_with_form`].
#[derive(Debug)]
pub struct FormReader {
    /// `--` + boundary.
    delimiter: Vec<u8>,
    content_length: u64,
    buf: Vec<u8>,
    /// Start of what is not parsed yet.
    pos: usize,
    /// Where the pending search resumes (what lies before was searched already).
    search_from: usize,
    phase: Phase,
    fields: Vec<(String, String)>,
    failed: Option<S3Error>,
    ended: bool,
}

impl FormReader {
    /// A reader for a body of `content_length` bytes delimited by `boundary`.
    pub fn new(boundary: &str, content_length: u64) -> Self {
        let mut delimiter = b"--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        FormReader {
            delimiter,
            content_length,
            buf: Vec::new(),
            pos: 0,
            search_from: 0,
            phase: Phase::Start,
            fields: Vec::new(),
            failed: None,
            ended: false,
        }
    }

    fn whole(&self) -> bool {
        self.content_length <= WHOLE_BODY_LIMIT
    }

    fn file_found(&self) -> bool {
        matches!(self.phase, Phase::File { .. })
    }

    /// Feeds the next chunk of the body; true when the runtime should stop reading.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        if self.failed.is_some() {
            return true;
        }
        if self.buf.len() as u64 + chunk.len() as u64 > self.content_length {
            self.failed = Some(malformed("the body is longer than its Content-Length"));
            return true;
        }
        self.buf.extend_from_slice(chunk);
        if !self.file_found() {
            if let Err(e) = self.parse() {
                self.failed = Some(e);
                return true;
            }
            let preamble = match self.phase {
                Phase::File { start, .. } => start,
                _ => self.buf.len(),
            };
            if preamble > MAX_PREAMBLE {
                self.failed = Some(S3Error::new(
                    ErrorCode::MaxPostPreDataLengthExceededError,
                    format!(
                        "Your POST request fields preceding the upload file were too large (the limit is {MAX_PREAMBLE} bytes)."
                    ),
                ));
                return true;
            }
        }
        self.file_found() && (!self.whole() || self.buf.len() as u64 == self.content_length)
    }

    /// The body ended.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// The body broke off (`reason` from the runtime).
    pub fn broken(&mut self, reason: &str) {
        self.failed.get_or_insert_with(|| {
            S3Error::new(
                ErrorCode::IncompleteBody,
                format!("reading the request body failed: {reason}"),
            )
        });
    }

    fn find(&mut self, needle: &[u8]) -> Option<usize> {
        let from = self.search_from.max(self.pos);
        match find(&self.buf[from..], needle) {
            Some(i) => Some(from + i),
            None => {
                self.search_from = self
                    .buf
                    .len()
                    .saturating_sub(needle.len().saturating_sub(1))
                    .max(self.pos);
                None
            }
        }
    }

    /// Advances through every complete element in the buffer.
    fn parse(&mut self) -> Result<(), S3Error> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Headers) {
                Phase::Start => {
                    let need = self.delimiter.len() + 2;
                    if self.buf.len() < need {
                        self.phase = Phase::Start;
                        return Ok(());
                    }
                    if !self.buf.starts_with(&self.delimiter)
                        || &self.buf[need - 2..need] != b"\r\n"
                    {
                        return Err(malformed(
                            "the body does not start with the boundary of its Content-Type",
                        ));
                    }
                    self.pos = need;
                }
                Phase::Headers => {
                    let Some(end) = self.find(b"\r\n\r\n") else {
                        self.phase = Phase::Headers;
                        return Ok(());
                    };
                    let part = PartHeaders::parse(&self.buf[self.pos..end])?;
                    self.pos = end + 4;
                    self.search_from = self.pos;
                    if part.name.eq_ignore_ascii_case("file") {
                        self.phase = Phase::File {
                            start: self.pos,
                            filename: part.filename,
                        };
                        return Ok(());
                    }
                    self.phase = Phase::Value(part.name);
                }
                Phase::Value(name) => {
                    let mut needle = b"\r\n".to_vec();
                    needle.extend_from_slice(&self.delimiter);
                    let Some(at) = self.find(&needle) else {
                        self.phase = Phase::Value(name);
                        return Ok(());
                    };
                    let after = at + needle.len();
                    if self.buf.len() < after + 2 {
                        // Found, but what follows it has not arrived: search again from here.
                        self.search_from = at;
                        self.phase = Phase::Value(name);
                        return Ok(());
                    }
                    let value = String::from_utf8_lossy(&self.buf[self.pos..at]).into_owned();
                    self.fields.push((name.to_ascii_lowercase(), value));
                    match &self.buf[after..after + 2] {
                        b"\r\n" => {
                            self.pos = after + 2;
                            self.search_from = self.pos;
                        }
                        b"--" => {
                            return Err(S3Error::new(
                                ErrorCode::IncorrectNumberOfFilesInPostRequest,
                                "POST requires exactly one file upload per request.",
                            ))
                        }
                        _ => {
                            return Err(malformed("a multipart delimiter is not followed by CRLF"))
                        }
                    }
                }
                file @ Phase::File { .. } => {
                    self.phase = file;
                    return Ok(());
                }
            }
        }
    }

    /// The form as read, or why it cannot be used.
    pub fn finish(self) -> Result<PostForm, S3Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let complete = (self.buf.len() as u64) == self.content_length;
        let whole = self.whole();
        let Phase::File { start, filename } = self.phase else {
            return Err(if complete {
                malformed("the body ended before a field named 'file'")
            } else {
                S3Error::new(
                    ErrorCode::IncompleteBody,
                    "the body ended before its Content-Length",
                )
            });
        };
        if whole && !complete {
            return Err(S3Error::new(
                ErrorCode::IncompleteBody,
                "the body ended before its Content-Length",
            ));
        }
        Ok(PostForm {
            fields: self.fields,
            filename,
            delimiter: self.delimiter,
            file_start: start,
            content_length: self.content_length,
            buf: Bytes::from(self.buf),
            whole: complete,
        })
    }
}

/// The headers of one part that matter: its field name and file name.
struct PartHeaders {
    name: String,
    filename: Option<String>,
}

impl PartHeaders {
    fn parse(raw: &[u8]) -> Result<Self, S3Error> {
        let text = String::from_utf8_lossy(raw);
        for line in text.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if !name.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            let params = disposition_params(value);
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            };
            let name =
                get("name").ok_or_else(|| malformed("a part's Content-Disposition has no name"))?;
            return Ok(PartHeaders {
                name,
                filename: get("filename"),
            });
        }
        Err(malformed("a part has no Content-Disposition header"))
    }
}

/// `form-data; name="a"; filename="b"` as `(name, value)` pairs, quotes and `\"` escapes removed.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(semi) = rest.find(';') {
        rest = rest[semi + 1..].trim_start();
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let mut v = String::new();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    // Only `\"` is an escape: a Windows path keeps its backslashes.
                    '\\' if quoted[i + 1..].starts_with('"') => {
                        chars.next();
                        v.push('"');
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            v = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((name, v));
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A POST form whose preamble was read.
pub struct PostForm {
    /// Fields before the file, names lowercased, in order.
    pub fields: Vec<(String, String)>,
    /// The file part's `filename`, if it had one.
    pub filename: Option<String>,
    delimiter: Vec<u8>,
    file_start: usize,
    content_length: u64,
    buf: Bytes,
    whole: bool,
}

impl std::fmt::Debug for PostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostForm")
            .field("fields", &self.fields.len())
            .field("file_start", &self.file_start)
            .field("whole", &self.whole)
            .finish_non_exhaustive()
    }
}

impl PostForm {
    /// A field's value (repeated fields joined by `,` as S3 joins them); None if absent.
    pub fn field(&self, name: &str) -> Option<String> {
        let mut values = self
            .fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .peekable();
        values.peek()?;
        Some(values.collect::<Vec<_>>().join(","))
    }

    /// The names of the fields, each once.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in &self.fields {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        names
    }

    /// `${filename}`'s value: the file name after its last `/` or `\`, or empty.
    pub fn base_filename(&self) -> &str {
        let f = self.filename.as_deref().unwrap_or("");
        f.rsplit(['/', '\\']).next().unwrap_or(f)
    }

    /// The file's length and the check its bytes stream through.
    pub fn file_body(&self) -> Result<(u64, FormBody), S3Error> {
        let initial = self.buf.slice(self.file_start..);
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&self.delimiter);
        if self.whole {
            // Everything is here: the file ends at the first delimiter; later fields are ignored.
            let at = find(&initial, &end_marker)
                .ok_or_else(|| malformed("the file part is not closed by the boundary"))?;
            let rest = &initial[at + end_marker.len()..];
            let closed = rest.starts_with(b"--") || {
                let mut close = end_marker.clone();
                close.extend_from_slice(b"--");
                find(rest, &close).is_some()
            };
            if !closed {
                return Err(malformed("the body does not end with the closing boundary"));
            }
            let tail = initial[at..].to_vec();
            let body = FormBody::new(at as u64, tail, end_marker, initial)?;
            return Ok((at as u64, body));
        }
        let mut close = end_marker.clone();
        close.extend_from_slice(b"--\r\n");
        let overhead = self.file_start as u64 + close.len() as u64;
        let len = self.content_length.checked_sub(overhead).ok_or_else(|| {
            malformed("the Content-Length is too small for the form it announces")
        })?;
        Ok((len, FormBody::new(len, close, end_marker, initial)?))
    }
}

/// The rest of a POST body after the file part's headers, as a [`BodyCheck`]: releases the
/// file's `file_len` bytes, holding the newest back until the body ended with exactly `tail`
/// (the closing delimiter), so a truncated or mis-framed body never completes an object. The
/// file's bytes are searched for the delimiter too: a body whose file part ends early (more
/// fields after a large file) can end with a valid closing delimiter, yet it is refused.
#[derive(Debug)]
pub struct FormBody {
    file_left: u64,
    tail: Vec<u8>,
    tail_seen: usize,
    /// `\r\n--boundary`, which the file's bytes must not contain.
    delimiter: Vec<u8>,
    /// The file's last bytes seen (fewer than the delimiter), for a match across chunks.
    carry: Vec<u8>,
    held: Option<Bytes>,
}

/// The refusal of a body whose framing does not match its Content-Length.
fn misframed() -> S3Error {
    malformed(
        "the form does not end where its Content-Length puts the end of the file: in a form over 64 KiB the file must be the last field, followed only by the closing boundary",
    )
}

impl FormBody {
    /// A check for `file_len` file bytes followed by `tail`, where the file must not contain
    /// `delimiter`, seeded with the bytes the preamble reader already took past the file's
    /// headers.
    pub fn new(
        file_len: u64,
        tail: Vec<u8>,
        delimiter: Vec<u8>,
        initial: Bytes,
    ) -> Result<Self, S3Error> {
        let mut body = FormBody {
            file_left: file_len,
            tail,
            tail_seen: 0,
            delimiter,
            carry: Vec::new(),
            held: None,
        };
        body.take(initial)?;
        Ok(body)
    }

    /// Looks for the delimiter in the next file bytes (and across the previous chunk's end).
    fn scan(&mut self, file: &[u8]) -> Result<(), S3Error> {
        let keep = self.delimiter.len() - 1;
        let mut joint = std::mem::take(&mut self.carry);
        joint.extend_from_slice(&file[..file.len().min(keep)]);
        if find(&joint, &self.delimiter).is_some() || find(file, &self.delimiter).is_some() {
            return Err(misframed());
        }
        // The new carry: the last `keep` bytes of everything seen.
        if file.len() >= keep {
            joint.clear();
            joint.extend_from_slice(&file[file.len() - keep..]);
        } else {
            let cut = joint.len().saturating_sub(keep);
            joint.drain(..cut);
        }
        self.carry = joint;
        Ok(())
    }

    fn take(&mut self, mut chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        let n = usize::try_from(self.file_left)
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        let rest = chunk.split_off(n);
        self.file_left -= n as u64;
        self.scan(&chunk)?;
        if !rest.is_empty() {
            let expected = self.tail.get(self.tail_seen..).unwrap_or(&[]);
            if rest.len() > expected.len() || expected[..rest.len()] != rest[..] {
                return Err(misframed());
            }
            self.tail_seen += rest.len();
        }
        if chunk.is_empty() {
            return Ok(None);
        }
        Ok(self.held.replace(chunk))
    }
}

impl BodyCheck for FormBody {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        self.take(chunk)
    }

    fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        if self.file_left > 0 || self.tail_seen < self.tail.len() {
            return Err(S3Error::new(
                ErrorCode::IncompleteBody,
                "the body ended before its Content-Length: the upload was aborted",
            ));
        }
        Ok(self.held.take())
    }
}

#[cfg(test)]
mod tests;
