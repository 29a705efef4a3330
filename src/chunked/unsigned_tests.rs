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
