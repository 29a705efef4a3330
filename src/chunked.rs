//! Signed aws-chunked uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), decoded and
//! verified while streaming.
//!
//! Each chunk is `hex-size;chunk-signature=SIG\r\n DATA \r\n`; each signature chains from the
//! previous one, starting at the request's own. The decoder releases a chunk's bytes only after
//! its signature verified, and holds the last released bytes back until the final (empty) chunk
//! and, for the `-TRAILER` variant, the trailer signature verified: a bad signature or truncated
//! framing therefore never lets the backend complete an object of the declared decoded length.
//! Memory: one chunk at a time (clients send 8-64 KiB; more than [`MAX_CHUNK`] is refused), a
//! chunk header line of at most [`MAX_CHUNK_HEADER`] bytes and trailers of at most
//! [`MAX_TRAILER`] bytes in all: anything longer is refused before it is buffered further.

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::auth::secret::Signature;
use crate::auth::sigv4::{sha256_hex, sign};
use crate::auth::ChunkSigning;
use crate::checksum::{self, Algorithm, Hasher};
use crate::payload::BodyCheck;
use crate::s3::{ErrorCode, S3Error};

/// Largest chunk accepted.
pub(crate) const MAX_CHUNK: usize = 16 << 20;
/// Longest chunk header line (`hex-size;chunk-signature=<64 hex>` is at most 98 bytes).
pub(crate) const MAX_CHUNK_HEADER: usize = 256;
/// Most bytes of trailer (all lines with their CRLFs, the trailer signature included).
pub(crate) const MAX_TRAILER: usize = 4096;
/// Most line-end bytes accepted after the final chunk (and trailer): a closing CRLF, and one more.
const MAX_TAIL: usize = 4;
/// Most hex digits of a chunk size (a `u64`).
const MAX_SIZE_DIGITS: usize = 16;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Debug)]
enum State {
    /// Expecting `hex;chunk-signature=..\r\n`.
    Header,
    /// Expecting `len` bytes of data then `\r\n`, signed by `sig` (unsigned uploads: none).
    Data { len: usize, sig: Option<Signature> },
    /// After the final chunk: trailer lines (trailer variant) or the closing `\r\n`.
    Trailer,
    /// Everything verified.
    Done,
}

/// Sans-IO decoder and verifier of a signed aws-chunked body.
#[derive(Debug)]
pub struct SignedChunkDecoder {
    /// None for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: framing only, no signatures.
    signing: Option<ChunkSigning>,
    prev: Signature,
    trailer: bool,
    decoded_length: u64,
    produced: u64,
    buf: BytesMut,
    state: State,
    trailer_lines: Vec<String>,
    /// Trailer bytes read so far (bounded by [`MAX_TRAILER`]).
    trailer_bytes: usize,
    held: Option<Bytes>,
    /// The checksum the trailer must carry, and its running value over the decoded bytes.
    checksum: Option<(Algorithm, Hasher)>,
    /// Line ends read after the body was complete (at most [`MAX_TAIL`]).
    tail: usize,
}

fn framing(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::IncompleteBody, msg)
}

fn bad_trailer(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::MalformedTrailerError, msg)
}

fn bad_signature(what: &str) -> S3Error {
    S3Error::new(
        ErrorCode::SignatureDoesNotMatch,
        format!(
            "the {what} signature of the aws-chunked upload does not match; the upload was aborted"
        ),
    )
}

impl SignedChunkDecoder {
    /// A decoder for a body that decodes to `decoded_length` bytes (`x-amz-decoded-content-length`).
    pub fn new(signing: ChunkSigning, trailer: bool, decoded_length: u64) -> Self {
        SignedChunkDecoder {
            prev: signing.seed,
            signing: Some(signing),
            trailer,
            decoded_length,
            produced: 0,
            buf: BytesMut::new(),
            state: State::Header,
            trailer_lines: Vec::new(),
            trailer_bytes: 0,
            held: None,
            checksum: None,
            tail: 0,
        }
    }

    /// A decoder for `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (what the AWS SDKs send over https):
    /// `hex-size\r\n DATA \r\n` chunks, a final `0\r\n`, trailer lines (checksums) and an
    /// empty line. Only the framing and the decoded length are checked; the checksum trailer is
    /// dropped, not verified.
    pub fn unsigned(decoded_length: u64) -> Self {
        SignedChunkDecoder {
            signing: None,
            prev: Signature([0; 32]),
            trailer: true,
            decoded_length,
            produced: 0,
            buf: BytesMut::new(),
            state: State::Header,
            trailer_lines: Vec::new(),
            trailer_bytes: 0,
            held: None,
            checksum: None,
            tail: 0,
        }
    }

    /// Verifies the trailer's `x-amz-checksum-*` (named by `x-amz-trailer`) over the decoded
    /// bytes: the trailer is consumed here, so the backend never sees it.
    #[must_use]
    pub fn with_trailer_checksum(mut self, alg: Option<Algorithm>) -> Self {
        self.checksum = alg.map(|a| (a, Hasher::new(a)));
        self
    }

    /// Bytes after the end of the body: line ends only, at most [`MAX_TAIL`] of them in all
    /// (a body sent without `Content-Length` must end where its framing does, not trickle on).
    fn take_tail(&mut self, bytes: &[u8]) -> Result<(), S3Error> {
        self.tail = self.tail.saturating_add(bytes.len());
        if self.tail > MAX_TAIL || bytes.iter().any(|b| !matches!(b, b'\r' | b'\n')) {
            return Err(framing("data after the final aws-chunked chunk"));
        }
        Ok(())
    }

    /// The next CRLF-terminated line of at most `max` bytes (CRLF excluded); None until it is
    /// complete. `too_long` is the error for a line past `max`, found without buffering more.
    fn take_line(
        &mut self,
        max: usize,
        too_long: fn() -> S3Error,
    ) -> Result<Option<String>, S3Error> {
        // Search only where a CRLF may end an acceptable line.
        let window = &self.buf[..self.buf.len().min(max + 2)];
        let Some(pos) = window.windows(2).position(|w| w == b"\r\n") else {
            if self.buf.len() >= max + 2 {
                return Err(too_long());
            }
            return Ok(None);
        };
        let line = self.buf.split_to(pos);
        self.buf.advance(2);
        String::from_utf8(line.to_vec())
            .map(Some)
            .map_err(|_| framing("an aws-chunked header line is not UTF-8"))
    }

    /// The next trailer line, counted against [`MAX_TRAILER`].
    fn take_trailer_line(&mut self) -> Result<Option<String>, S3Error> {
        let left = MAX_TRAILER.saturating_sub(self.trailer_bytes + 2);
        let line = self.take_line(left, || {
            bad_trailer(format!(
                "the trailer of the aws-chunked upload is over {MAX_TRAILER} bytes"
            ))
        })?;
        if let Some(l) = &line {
            self.trailer_bytes += l.len() + 2;
        }
        Ok(line)
    }

    fn chunk_signature(&self, signing: &ChunkSigning, data: &[u8]) -> Signature {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            signing.amz_date,
            signing.scope,
            self.prev.to_hex(),
            hex::encode(Sha256::digest(data))
        );
        sign(&signing.key, &sts)
    }

    /// Parses as much as the buffer allows; returns verified decoded bytes.
    fn advance(&mut self) -> Result<Vec<Bytes>, S3Error> {
        let mut out = Vec::new();
        loop {
            let moved_on = match &self.state {
                State::Header => self.read_header()?,
                State::Data { len, sig } => {
                    let (len, sig) = (*len, *sig);
                    self.read_data(len, sig, &mut out)?
                }
                State::Trailer => self.read_trailer_line()?,
                State::Done => {
                    // As in `push`: only the closing CRLF may follow, in this read or a later one.
                    let rest = self.buf.split();
                    self.take_tail(&rest)?;
                    return Ok(out);
                }
            };
            if !moved_on {
                return Ok(out);
            }
        }
    }

    /// Reads a chunk header (`hex-size[;chunk-signature=...]`): true once read, false while the
    /// line is incomplete.
    fn read_header(&mut self) -> Result<bool, S3Error> {
        let Some(line) = self.take_line(MAX_CHUNK_HEADER, || {
            framing(format!(
                "an aws-chunked chunk header is over {MAX_CHUNK_HEADER} bytes"
            ))
        })?
        else {
            return Ok(false);
        };
        let (size, rest) = match (&self.signing, line.split_once(';')) {
            (_, Some(parts)) => parts,
            (None, None) => (line.as_str(), ""),
            (Some(_), None) => return Err(framing(format!("bad chunk header '{line}'"))),
        };
        let len = chunk_size(size.trim())?;
        let sig = match &self.signing {
            None => None,
            Some(_) => Some(
                rest.trim()
                    .strip_prefix("chunk-signature=")
                    .and_then(Signature::from_hex)
                    .ok_or_else(|| framing("a chunk has no valid chunk-signature"))?,
            ),
        };
        // Unsigned framing: the final `0\r\n` is followed directly by the trailer.
        self.state = if len == 0 && self.signing.is_none() {
            State::Trailer
        } else {
            State::Data { len, sig }
        };
        Ok(true)
    }

    /// Reads a chunk's data and its CRLF, verifies its signature and hands the data to `out`:
    /// true once read, false while it is incomplete.
    fn read_data(
        &mut self,
        len: usize,
        sig: Option<Signature>,
        out: &mut Vec<Bytes>,
    ) -> Result<bool, S3Error> {
        if self.buf.len() < len + 2 {
            return Ok(false);
        }
        let data = self.buf.split_to(len).freeze();
        if &self.buf[..2] != b"\r\n" {
            return Err(framing("a chunk is not followed by CRLF"));
        }
        self.buf.advance(2);
        if let (Some(signing), Some(sig)) = (&self.signing, sig) {
            if !self.chunk_signature(signing, &data).ct_eq(&sig) {
                return Err(bad_signature("chunk"));
            }
            self.prev = sig;
        }
        if len == 0 {
            // Without a trailer the final chunk's CRLF was its data terminator; nothing follows.
            self.state = if self.trailer {
                State::Trailer
            } else {
                State::Done
            };
            return Ok(true);
        }
        self.produced += len as u64;
        if self.produced > self.decoded_length {
            return Err(framing(
                "the chunks decode to more than x-amz-decoded-content-length",
            ));
        }
        if let Some((_, h)) = self.checksum.as_mut() {
            h.update(&data);
        }
        out.push(data);
        self.state = State::Header;
        Ok(true)
    }

    /// Reads one trailer line: a checksum kept for the trailer signature, the empty line that
    /// ends an unsigned trailer, or the signature that ends a signed one. False while the line
    /// is incomplete.
    fn read_trailer_line(&mut self) -> Result<bool, S3Error> {
        let Some(line) = self.take_trailer_line()? else {
            return Ok(false);
        };
        match (&self.signing, line.strip_prefix("x-amz-trailer-signature:")) {
            // Unsigned: trailer lines up to an empty line.
            (None, _) if line.is_empty() => self.state = State::Done,
            (Some(_), _) if line.is_empty() => {
                return Err(bad_trailer("the trailer has no x-amz-trailer-signature"))
            }
            (Some(signing), Some(sig)) => {
                let sig = Signature::from_hex(sig.trim())
                    .ok_or_else(|| bad_trailer("bad trailer signature"))?;
                if !self.trailer_signature(signing).ct_eq(&sig) {
                    return Err(bad_signature("trailer"));
                }
                self.state = State::Done;
            }
            _ => {
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| bad_trailer("bad trailer line"))?;
                self.trailer_lines.push(format!(
                    "{}:{}",
                    name.trim().to_ascii_lowercase(),
                    value.trim()
                ));
            }
        }
        Ok(true)
    }

    /// The signature of the trailer lines read so far, chained from the last chunk's.
    fn trailer_signature(&self, signing: &ChunkSigning) -> Signature {
        let mut canonical = String::new();
        for l in &self.trailer_lines {
            canonical.push_str(l);
            canonical.push('\n');
        }
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            signing.amz_date,
            signing.scope,
            self.prev.to_hex(),
            sha256_hex(canonical.as_bytes())
        );
        sign(&signing.key, &sts)
    }
}

/// A chunk header's size: 1 to [`MAX_SIZE_DIGITS`] hex digits, at most [`MAX_CHUNK`] bytes.
fn chunk_size(size: &str) -> Result<usize, S3Error> {
    let len = Some(size)
        .filter(|s| {
            (1..=MAX_SIZE_DIGITS).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .ok_or_else(|| framing(format!("bad chunk size '{size}'")))?;
    if len > MAX_CHUNK {
        return Err(S3Error::new(
            ErrorCode::EntityTooLarge,
            format!("an aws-chunked chunk of {len} bytes is over {MAX_CHUNK}"),
        ));
    }
    Ok(len)
}

impl BodyCheck for SignedChunkDecoder {
    fn push(&mut self, input: Bytes) -> Result<Option<Bytes>, S3Error> {
        if matches!(self.state, State::Done) {
            // Only the closing CRLF of the trailer variant may follow.
            self.take_tail(&input)?;
            return Ok(None);
        }
        self.buf.extend_from_slice(&input);
        let verified = self.advance()?;
        let mut release: Option<Bytes> = None;
        for chunk in verified {
            if let Some(prev) = self.held.replace(chunk) {
                release = Some(match release {
                    None => prev,
                    Some(r) => {
                        let mut joined = BytesMut::from(&r[..]);
                        joined.extend_from_slice(&prev);
                        joined.freeze()
                    }
                });
            }
        }
        Ok(release)
    }

    fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        if !matches!(self.state, State::Done) {
            return Err(framing("the aws-chunked body ended before its final chunk"));
        }
        if self.produced != self.decoded_length {
            return Err(framing(format!(
                "the chunks decode to {} bytes, not the {} of x-amz-decoded-content-length",
                self.produced, self.decoded_length
            )));
        }
        if let Some((alg, hasher)) = self.checksum.take() {
            let prefix = format!("{}:", alg.header());
            let sent = self
                .trailer_lines
                .iter()
                .find_map(|l| l.strip_prefix(&prefix))
                .ok_or_else(|| {
                    S3Error::invalid_request(format!(
                        "the upload announced a {} trailer but did not send it",
                        alg.header()
                    ))
                })?;
            if hasher.finish_base64() != sent {
                return Err(checksum::mismatch(alg));
            }
        }
        Ok(self.held.take())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod bound_tests;

#[cfg(test)]
mod tests_support;

#[cfg(test)]
mod unsigned_tests;
