//! `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`: the flexible checksums the AWS SDKs
//! send as a header or as an aws-chunked trailer. The gateway verifies them itself whenever the
//! body passes through it, so a mismatching upload never becomes an object, whatever the backend
//! does with checksums.

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use sha1::Digest as _;

use crate::payload::{BodyCheck, PayloadVerifier};
use crate::s3::{ErrorCode, S3Error};

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
const CRC64NVME: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_NVME);

/// A checksum algorithm S3 accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// CRC-32 (ISO HDLC), 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
    /// CRC-64/NVME, 8 bytes.
    Crc64Nvme,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl Algorithm {
    /// From the header name (`x-amz-checksum-crc32`) or its suffix (`crc32`), any case.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase();
        match n.strip_prefix("x-amz-checksum-").unwrap_or(&n) {
            "crc32" => Some(Self::Crc32),
            "crc32c" => Some(Self::Crc32c),
            "crc64nvme" => Some(Self::Crc64Nvme),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The header carrying it.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

/// A running checksum.
pub(crate) enum Hasher {
    /// CRC-32.
    Crc32(crc::Digest<'static, u32>),
    /// CRC-32C.
    Crc32c(crc::Digest<'static, u32>),
    /// CRC-64/NVME.
    Crc64(crc::Digest<'static, u64>),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// A fresh hasher for `alg`.
    pub(crate) fn new(alg: Algorithm) -> Self {
        match alg {
            Algorithm::Crc32 => Self::Crc32(CRC32.digest()),
            Algorithm::Crc32c => Self::Crc32c(CRC32C.digest()),
            Algorithm::Crc64Nvme => Self::Crc64(CRC64NVME.digest()),
            Algorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    /// Feeds bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(d) | Self::Crc32c(d) => d.update(data),
            Self::Crc64(d) => d.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    /// The checksum as S3 writes it: base64 of the big-endian value or digest.
    pub(crate) fn finish_base64(self) -> String {
        let raw: Vec<u8> = match self {
            Self::Crc32(d) | Self::Crc32c(d) => d.finalize().to_be_bytes().to_vec(),
            Self::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

/// The checksum header of a request, if any: at most one `x-amz-checksum-*` value.
pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<(Algorithm, String)>, S3Error> {
    let mut found = None;
    for (name, value) in headers {
        let Some(suffix) = name.as_str().strip_prefix("x-amz-checksum-") else {
            continue;
        };
        if suffix == "type" || suffix == "algorithm" {
            continue;
        }
        let alg = Algorithm::from_name(suffix).ok_or_else(|| {
            S3Error::invalid_request(format!("unknown checksum header {}", name.as_str()))
        })?;
        let value = value
            .to_str()
            .map_err(|_| S3Error::invalid_request(format!("{} is not text", name.as_str())))?;
        if found.is_some() {
            return Err(S3Error::invalid_request(
                "expecting a single x-amz-checksum- header; multiple checksum types are not allowed",
            ));
        }
        found = Some((alg, value.trim().to_string()));
    }
    Ok(found)
}

/// The checksum a trailer will carry (`x-amz-trailer: x-amz-checksum-crc32`), if any.
pub(crate) fn trailer_algorithm(headers: &HeaderMap) -> Result<Option<Algorithm>, S3Error> {
    let Some(v) = headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    let name = v
        .to_str()
        .map_err(|_| S3Error::invalid_request("x-amz-trailer is not text"))?;
    if !name
        .trim()
        .to_ascii_lowercase()
        .starts_with("x-amz-checksum-")
    {
        return Ok(None);
    }
    Algorithm::from_name(name).map(Some).ok_or_else(|| {
        S3Error::invalid_request(format!("unknown checksum trailer {}", name.trim()))
    })
}

/// The error S3 gives for a checksum that does not match the body.
pub(crate) fn mismatch(alg: Algorithm) -> S3Error {
    S3Error::new(
        ErrorCode::BadDigest,
        format!(
            "the {} you specified did not match the calculated checksum; the upload was aborted",
            alg.header()
        ),
    )
}

/// What the body passes through before the checksum.
#[derive(Debug)]
pub enum Inner {
    /// Nothing: the body as sent.
    Plain,
    /// A signed sha256.
    Verify(PayloadVerifier),
    /// aws-chunked framing, a `chunked::SignedChunkDecoder` (the checksum is over the decoded
    /// bytes). Boxed as a [`BodyCheck`]: the decoder verifies trailer checksums with this module,
    /// so this module does not name it back.
    Decode(Box<dyn BodyCheck + Send + Sync>),
    /// A POST form body, a `post::FormBody` (the checksum is over the file's bytes).
    Form(Box<dyn BodyCheck + Send + Sync>),
}

/// A [`BodyCheck`] that verifies a header checksum over the (decoded) body: the last bytes are
/// held back until the checksum matched, like every other check here.
#[derive(Debug)]
pub struct ChecksumCheck {
    inner: Inner,
    alg: Algorithm,
    expected: String,
    hasher: Option<Hasher>,
    held: Option<Bytes>,
}

impl ChecksumCheck {
    /// Checks `expected` (base64) with `alg` over what `inner` releases.
    pub fn new(inner: Inner, alg: Algorithm, expected: String) -> Self {
        ChecksumCheck {
            inner,
            alg,
            expected,
            hasher: Some(Hasher::new(alg)),
            held: None,
        }
    }

    fn take(&mut self, out: Option<Bytes>) -> Option<Bytes> {
        let out = out.filter(|b| !b.is_empty())?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&out);
        }
        self.held.replace(out)
    }
}

impl BodyCheck for ChecksumCheck {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, S3Error> {
        let out = match &mut self.inner {
            Inner::Plain => Some(chunk),
            Inner::Verify(v) => v.push(chunk)?,
            Inner::Decode(c) | Inner::Form(c) => c.push(chunk)?,
        };
        Ok(self.take(out))
    }

    fn finish(&mut self) -> Result<Option<Bytes>, S3Error> {
        let last = match &mut self.inner {
            Inner::Plain => None,
            Inner::Verify(v) => v.finish()?,
            Inner::Decode(c) | Inner::Form(c) => c.finish()?,
        };
        let before = self.take(last);
        let actual = self
            .hasher
            .take()
            .map(Hasher::finish_base64)
            .unwrap_or_default();
        if actual != self.expected {
            return Err(mismatch(self.alg));
        }
        let rest = self.held.take();
        Ok(match (before, rest) {
            (Some(a), Some(b)) => {
                let mut joined = Vec::with_capacity(a.len() + b.len());
                joined.extend_from_slice(&a);
                joined.extend_from_slice(&b);
                Some(Bytes::from(joined))
            }
            (a, b) => a.or(b),
        })
    }
}

#[cfg(test)]
mod tests;
