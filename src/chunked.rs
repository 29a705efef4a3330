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
pub const MAX_CHUNK: usize = 16 << 20;
/// Longest chunk header line (`hex-size;chunk-signature=<64 hex>` is at most 98 bytes).
pub const MAX_CHUNK_HEADER: usize = 256;
/// Most bytes of trailer (all lines with their CRLFs, the trailer signature included).
pub const MAX_TRAILER: usize = 4096;
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
mod tests {
    use super::*;
    use crate::auth::secret::SecretKey;
    use crate::auth::sigv4::signing_key;

    fn signing() -> ChunkSigning {
        let key = signing_key(
            &SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "20130524",
            "us-east-1",
            "s3",
        );
        ChunkSigning {
            key,
            // AWS's documented example: seed signature of the PUT with a 64 KiB + 1 KiB body.
            seed: Signature::from_hex(
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            )
            .unwrap(),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
        }
    }

    /// Encodes `data` as a client would, in chunks of `size`.
    fn encode(data: &[u8], size: usize) -> Vec<u8> {
        let mut dec = SignedChunkDecoder::new(signing(), false, 0);
        let mut out = Vec::new();
        for chunk in data.chunks(size).chain(std::iter::once(&[][..])) {
            let sig = dec.chunk_signature(&signing(), chunk);
            dec.prev = sig;
            out.extend_from_slice(
                format!("{:x};chunk-signature={}\r\n", chunk.len(), sig.to_hex()).as_bytes(),
            );
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn decode(body: &[u8], len: u64, split: usize) -> Result<Vec<u8>, S3Error> {
        let mut dec = SignedChunkDecoder::new(signing(), false, len);
        let mut out = Vec::new();
        for piece in body.chunks(split) {
            if let Some(b) = dec.push(Bytes::copy_from_slice(piece))? {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = dec.finish()? {
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    #[test]
    fn aws_documented_first_chunk_signature_is_reproduced() {
        // From the AWS "signature calculation: transfer payload in multiple chunks" example.
        let dec = SignedChunkDecoder::new(signing(), false, 66_560);
        let sig = dec.chunk_signature(&signing(), &[b'a'; 65_536]);
        assert_eq!(
            sig.to_hex(),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
    }

    #[test]
    fn a_signed_chunked_body_decodes_whatever_the_network_split() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let body = encode(&data, 8192);
        for split in [1, 7, 100, 8192, 65_536, body.len()] {
            assert_eq!(
                decode(&body, data.len() as u64, split).unwrap(),
                data,
                "split {split}"
            );
        }
    }

    #[test]
    fn a_tampered_chunk_is_refused_and_never_released_in_full() {
        let data = vec![b'x'; 20_000];
        let mut body = encode(&data, 8192);
        let at = body.len() - 200;
        body[at] ^= 1;
        let err = decode(&body, data.len() as u64, 1000).unwrap_err();
        assert!(
            matches!(
                err.code,
                ErrorCode::SignatureDoesNotMatch | ErrorCode::IncompleteBody
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_bodies_and_wrong_lengths_are_incomplete() {
        let data = vec![b'y'; 10_000];
        let body = encode(&data, 4096);
        let cut = &body[..body.len() - 10];
        assert_eq!(
            decode(cut, 10_000, 512).unwrap_err().code,
            ErrorCode::IncompleteBody
        );
        assert_eq!(
            decode(&body, 9_999, 512).unwrap_err().code,
            ErrorCode::IncompleteBody
        );
        assert_eq!(
            decode(&body, 10_001, 512).unwrap_err().code,
            ErrorCode::IncompleteBody
        );
        assert!(decode(b"zz;chunk-signature=00\r\n", 1, 5).is_err());
    }

    #[test]
    fn the_last_verified_chunk_is_held_until_the_final_chunk() {
        let data = vec![b'z'; 3000];
        let body = encode(&data, 1000);
        let mut dec = SignedChunkDecoder::new(signing(), false, 3000);
        let released = dec
            .push(Bytes::copy_from_slice(&body[..body.len() - 5]))
            .unwrap()
            .unwrap_or_default();
        assert_eq!(released.len(), 2000, "the third chunk is held back");
    }
}

#[cfg(test)]
mod bound_tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn a_chunk_header_line_over_the_cap_is_refused_before_its_end_arrives() {
        for mut dec in [
            SignedChunkDecoder::new(signing(), false, 10),
            SignedChunkDecoder::new(signing(), true, 10),
            SignedChunkDecoder::unsigned(10),
        ] {
            let mut line = b"a;chunk-signature=".to_vec();
            line.resize(MAX_CHUNK_HEADER + 2, b'0');
            let err = dec.push(Bytes::from(line)).unwrap_err();
            assert_eq!(err.code, ErrorCode::IncompleteBody, "{err}");
        }
    }

    #[test]
    fn a_padded_chunk_signature_extension_is_refused_a_byte_at_a_time() {
        let mut dec = SignedChunkDecoder::new(signing(), false, 10);
        let mut err = None;
        for (i, b) in b"a;chunk-signature="
            .iter()
            .copied()
            .chain(std::iter::repeat(b' '))
            .take(100_000)
            .enumerate()
        {
            if let Err(e) = dec.push(Bytes::copy_from_slice(&[b])) {
                err = Some((i, e));
                break;
            }
        }
        let (at, err) = err.expect("an endless header line must be refused");
        assert!(at <= MAX_CHUNK_HEADER + 2, "refused only after {at} bytes");
        assert_eq!(err.code, ErrorCode::IncompleteBody);
        assert!(dec.buf.len() <= MAX_CHUNK_HEADER + 2);
    }

    #[test]
    fn a_chunk_size_with_a_sign_or_too_many_digits_is_refused() {
        for bad in ["+a", "-0", "0x10", "00000000000000001", ""] {
            let mut dec = SignedChunkDecoder::unsigned(10);
            let wire = format!("{bad}\r\n");
            assert!(
                dec.push(Bytes::from(wire.into_bytes())).is_err(),
                "size '{bad}' accepted"
            );
        }
    }

    #[test]
    fn a_signed_trailer_over_the_cap_is_a_malformed_trailer() {
        let data = b"hello".to_vec();
        // Many small lines, and one long line.
        let many: Vec<(String, String)> = (0..400)
            .map(|i| (format!("x-amz-meta-{i}"), "v".to_string()))
            .collect();
        let long = vec![("x-amz-checksum-crc32".to_string(), "A".repeat(MAX_TRAILER))];
        for trailer in [many, long] {
            let wire = encode_signed_trailer(&data, 2, &trailer);
            let err = run(SignedChunkDecoder::new(signing(), true, 5), &wire, 64).unwrap_err();
            assert_eq!(err.code, ErrorCode::MalformedTrailerError, "{err}");
        }
    }

    #[test]
    fn an_unsigned_trailer_over_the_cap_is_a_malformed_trailer() {
        let mut wire = b"5\r\nhello\r\n0\r\n".to_vec();
        for i in 0..400 {
            wire.extend_from_slice(format!("x-amz-meta-{i}:v\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        let err = run(SignedChunkDecoder::unsigned(5), &wire, 64).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedTrailerError, "{err}");
        let mut wire = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:".to_vec();
        wire.resize(wire.len() + MAX_TRAILER, b'A');
        let err = run(SignedChunkDecoder::unsigned(5), &wire, 1000).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedTrailerError, "{err}");
    }

    #[test]
    fn a_trailer_within_the_cap_is_accepted_in_both_variants() {
        let trailer = vec![("x-amz-meta-a".to_string(), "b".repeat(3000))];
        let wire = encode_signed_trailer(b"hello", 2, &trailer);
        assert_eq!(
            run(SignedChunkDecoder::new(signing(), true, 5), &wire, 7).unwrap(),
            b"hello"
        );
        let mut wire = b"5\r\nhello\r\n0\r\nx-amz-meta-a:".to_vec();
        wire.extend_from_slice("b".repeat(3000).as_bytes());
        wire.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            run(SignedChunkDecoder::unsigned(5), &wire, 7).unwrap(),
            b"hello"
        );
    }

    /// Every strict prefix of a valid body (cut mid-chunk, after the data but before the final
    /// chunk, inside the trailer) fails, and never releases all of the data.
    fn assert_every_cut_fails(make: impl Fn() -> SignedChunkDecoder, wire: &[u8], len: usize) {
        let last_crlf = wire.len() - 2;
        for cut in 0..wire.len() {
            let mut dec = make();
            let mut released = 0;
            let mut failed = false;
            match dec.push(Bytes::copy_from_slice(&wire[..cut])) {
                Ok(b) => released += b.map_or(0, |b| b.len()),
                Err(_) => failed = true,
            }
            if !failed {
                match dec.finish() {
                    Ok(b) => {
                        released += b.map_or(0, |b| b.len());
                        // Only the very last CRLF (after the trailer or final chunk) is optional
                        // framing noise; before it, every cut must fail.
                        assert!(cut >= last_crlf, "a body cut at {cut} completed");
                    }
                    Err(e) => assert!(
                        matches!(
                            e.code,
                            ErrorCode::IncompleteBody | ErrorCode::MalformedTrailerError
                        ),
                        "cut {cut}: {e}"
                    ),
                }
                if cut < last_crlf {
                    assert!(released < len, "a body cut at {cut} released all its data");
                }
            }
        }
    }

    #[test]
    fn a_cut_body_is_an_error_in_every_variant() {
        let data: Vec<u8> = (0..50u8).collect();
        let signed = {
            let mut out = Vec::new();
            let mut dec = SignedChunkDecoder::new(signing(), false, 0);
            for chunk in data.chunks(16).chain(std::iter::once(&[][..])) {
                let sig = dec.chunk_signature(&signing(), chunk);
                dec.prev = sig;
                out.extend_from_slice(
                    format!("{:x};chunk-signature={}\r\n", chunk.len(), sig.to_hex()).as_bytes(),
                );
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out
        };
        assert_every_cut_fails(
            || SignedChunkDecoder::new(signing(), false, 50),
            &signed,
            50,
        );
        let trailer = vec![("x-amz-checksum-crc32".to_string(), "AAAAAA==".to_string())];
        let signed_trailer = encode_signed_trailer(&data, 16, &trailer);
        assert_every_cut_fails(
            || SignedChunkDecoder::new(signing(), true, 50),
            &signed_trailer,
            50,
        );
        let mut unsigned = Vec::new();
        for c in data.chunks(16) {
            unsigned.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            unsigned.extend_from_slice(c);
            unsigned.extend_from_slice(b"\r\n");
        }
        unsigned.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        assert_every_cut_fails(|| SignedChunkDecoder::unsigned(50), &unsigned, 50);
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::auth::secret::SecretKey;
    use crate::auth::sigv4::signing_key;

    pub fn signing() -> ChunkSigning {
        let key = signing_key(
            &SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "20130524",
            "us-east-1",
            "s3",
        );
        ChunkSigning {
            key,
            seed: Signature::from_hex(
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            )
            .unwrap(),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
        }
    }

    /// The `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` body of `data` with `trailer` lines, as
    /// the e2e suite's signer (tests/e2e/sigv4.py) frames it.
    pub fn encode_signed_trailer(
        data: &[u8],
        size: usize,
        trailer: &[(String, String)],
    ) -> Vec<u8> {
        let s = signing();
        let mut dec = SignedChunkDecoder::new(signing(), true, 0);
        let mut out = Vec::new();
        for chunk in data.chunks(size).chain(std::iter::once(&[][..])) {
            let sig = dec.chunk_signature(&s, chunk);
            dec.prev = sig;
            out.extend_from_slice(
                format!("{:x};chunk-signature={}\r\n", chunk.len(), sig.to_hex()).as_bytes(),
            );
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        let mut canonical = String::new();
        for (k, v) in trailer {
            out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
            canonical.push_str(&format!("{k}:{v}\n"));
        }
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            s.amz_date,
            s.scope,
            dec.prev.to_hex(),
            sha256_hex(canonical.as_bytes())
        );
        let tsig = sign(&s.key, &sts);
        out.extend_from_slice(
            format!("x-amz-trailer-signature:{}\r\n\r\n", tsig.to_hex()).as_bytes(),
        );
        out
    }

    pub fn run(mut dec: SignedChunkDecoder, wire: &[u8], step: usize) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            if let Some(b) = dec.push(Bytes::copy_from_slice(piece))? {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = dec.finish()? {
            out.extend_from_slice(&b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod unsigned_tests {
    use super::*;

    fn framed(data: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for c in data.chunks(chunk) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        out
    }

    fn run(dec: &mut SignedChunkDecoder, wire: &[u8], step: usize) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            if let Some(b) = dec.push(Bytes::copy_from_slice(piece))? {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = dec.finish()? {
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    #[test]
    fn an_unsigned_trailer_upload_decodes_to_its_data_whatever_the_network_split() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let wire = framed(&data, 65536);
        for step in [1, 7, 1000, 65536, wire.len()] {
            let mut dec = SignedChunkDecoder::unsigned(data.len() as u64);
            assert_eq!(run(&mut dec, &wire, step).unwrap(), data, "step {step}");
        }
    }

    #[test]
    fn an_unsigned_upload_cut_short_or_of_the_wrong_length_is_refused() {
        let data = vec![7u8; 1000];
        let wire = framed(&data, 300);
        let mut dec = SignedChunkDecoder::unsigned(1000);
        assert!(run(&mut dec, &wire[..wire.len() - 10], 64).is_err());
        let mut dec = SignedChunkDecoder::unsigned(999);
        assert!(run(&mut dec, &wire, 64).is_err());
        let mut dec = SignedChunkDecoder::unsigned(1000);
        assert!(run(&mut dec, b"zz\r\nabc\r\n", 64).is_err());
    }

    /// Found by the `chunked` fuzz target: bytes after the trailer's closing empty line were
    /// ignored when they arrived in the same read, and refused when they arrived in a later one.
    #[test]
    fn data_after_the_final_chunk_is_refused_however_the_network_splits_it() {
        let wire = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\nGARBAGE";
        for step in [1, 5, wire.len()] {
            let mut dec = SignedChunkDecoder::unsigned(3);
            let err = run(&mut dec, wire, step).unwrap_err();
            assert_eq!(err.code, ErrorCode::IncompleteBody, "step {step}");
        }
        let mut dec = SignedChunkDecoder::unsigned(3);
        let ok = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n\r\n";
        assert_eq!(run(&mut dec, ok, ok.len()).unwrap(), b"abc");
    }

    /// Without a `Content-Length` (Transfer-Encoding: chunked), nothing but the framing bounds the
    /// body: line ends after the final chunk may not go on and on.
    #[test]
    fn endless_line_ends_after_the_final_chunk_are_refused_however_the_network_splits_them() {
        let mut wire = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec();
        wire.extend_from_slice(&b"\r\n".repeat(1000));
        for step in [1, 3, 64, wire.len()] {
            let mut dec = SignedChunkDecoder::unsigned(3);
            let err = run(&mut dec, &wire, step).unwrap_err();
            assert_eq!(err.code, ErrorCode::IncompleteBody, "step {step}");
        }
    }
}
