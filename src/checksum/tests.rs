use super::*;

fn b64(alg: Algorithm, data: &[u8]) -> String {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish_base64()
}

#[test]
fn checksums_match_the_values_aws_documents() {
    // "hello world", as the AWS SDKs compute them.
    let data = b"hello world";
    assert_eq!(b64(Algorithm::Crc32, data), "DUoRhQ==");
    assert_eq!(b64(Algorithm::Crc32c, data), "yZRlqg==");
    assert_eq!(b64(Algorithm::Crc64Nvme, data), "jSnVw/bqjr4=");
    assert_eq!(b64(Algorithm::Sha1, data), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    assert_eq!(
        b64(Algorithm::Sha256, data),
        "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
    );
}

fn run(check: &mut ChecksumCheck, data: &[u8], step: usize) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    for piece in data.chunks(step) {
        if let Some(b) = check.push(Bytes::copy_from_slice(piece))? {
            out.extend_from_slice(&b);
        }
    }
    if let Some(b) = check.finish()? {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

#[test]
fn a_matching_checksum_releases_the_whole_body_and_a_wrong_one_holds_the_end_back() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let good = b64(Algorithm::Crc32c, &data);
    let mut check = ChecksumCheck::new(Inner::Plain, Algorithm::Crc32c, good);
    assert_eq!(run(&mut check, &data, 4096).unwrap(), data);

    let mut check = ChecksumCheck::new(Inner::Plain, Algorithm::Crc32c, "AAAAAA==".into());
    let mut released = 0;
    for piece in data.chunks(4096) {
        released += check
            .push(Bytes::copy_from_slice(piece))
            .unwrap()
            .map_or(0, |b| b.len());
    }
    assert!(released < data.len(), "the last chunk must be held back");
    let err = check.finish().unwrap_err();
    assert_eq!(err.code, ErrorCode::BadDigest);
}

#[test]
fn two_checksum_headers_or_an_unknown_one_are_refused() {
    let mut h = HeaderMap::new();
    h.insert("x-amz-checksum-crc32", "DUoRhQ==".parse().unwrap());
    assert_eq!(
        from_headers(&h).unwrap(),
        Some((Algorithm::Crc32, "DUoRhQ==".into()))
    );
    h.insert("x-amz-checksum-sha1", "x".parse().unwrap());
    assert!(from_headers(&h).is_err());
    let mut h = HeaderMap::new();
    h.insert("x-amz-checksum-md7", "x".parse().unwrap());
    assert!(from_headers(&h).is_err());
    let mut h = HeaderMap::new();
    h.insert("x-amz-trailer", "x-amz-checksum-crc64nvme".parse().unwrap());
    assert_eq!(trailer_algorithm(&h).unwrap(), Some(Algorithm::Crc64Nvme));
}
