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
