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
pub fn encode_signed_trailer(data: &[u8], size: usize, trailer: &[(String, String)]) -> Vec<u8> {
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
    out.extend_from_slice(format!("x-amz-trailer-signature:{}\r\n\r\n", tsig.to_hex()).as_bytes());
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
