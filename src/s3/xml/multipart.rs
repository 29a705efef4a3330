//! Multipart documents: the results the gateway answers, the client's
//! CompleteMultipartUpload body read, and the one sent to the backend.

use super::*;

/// `<InitiateMultipartUploadResult>` of a CreateMultipartUpload the gateway answers.
pub(crate) fn initiate_result_xml(bucket: &str, key: &str, upload_id: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"{S3_NS}\">"
    );
    push_leaf(&mut out, "Bucket", bucket);
    push_leaf(&mut out, "Key", key);
    push_leaf(&mut out, "UploadId", upload_id);
    out.push_str("</InitiateMultipartUploadResult>");
    out
}

/// `<CompleteMultipartUploadResult>` of a Complete the gateway answers (`etag` quoted).
pub(crate) fn complete_result_xml(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"{S3_NS}\">"
    );
    push_leaf(&mut out, "Location", location);
    push_leaf(&mut out, "Bucket", bucket);
    push_leaf(&mut out, "Key", key);
    push_leaf(&mut out, "ETag", etag);
    out.push_str("</CompleteMultipartUploadResult>");
    out
}

/// Parses a CompleteMultipartUpload body into `(part number, ETag without quotes)` pairs:
/// `MalformedXML` for anything but a `<CompleteMultipartUpload>` with 1 to 10000 `<Part>`
/// entries, `InvalidPart` for a part number outside 1..=10000, `InvalidPartOrder` when a
/// number is lower than the one before. A number listed twice in a row is S3's too (the later
/// entry wins): the parts returned ascend strictly, one per number.
pub(crate) fn parse_complete(body: &[u8]) -> Result<Vec<(u16, String)>, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut parts: Vec<(u16, String)> = Vec::new();
    let (mut number, mut etag): (Option<String>, Option<String>) = (None, None);
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { name, .. } if xml.depth() == 0 && name != b"CompleteMultipartUpload" => {
                return Err(malformed_xml(
                    "the root element must be <CompleteMultipartUpload>",
                ));
            }
            Node::Open { name, empty: false } if name == b"Part" => (number, etag) = (None, None),
            Node::Open { .. } => {}
            Node::Close { name, text } => match (name.as_slice(), xml.parent()) {
                (b"PartNumber", Some(b"Part")) => number = Some(text),
                (b"ETag", Some(b"Part")) => etag = Some(text),
                (b"Part", Some(b"CompleteMultipartUpload")) => {
                    add_part(&mut parts, number.take(), etag.take())?
                }
                _ => {}
            },
        }
    }
    if parts.is_empty() {
        return Err(malformed_xml(
            "a CompleteMultipartUpload request must name at least one part",
        ));
    }
    Ok(parts)
}

/// Adds one `<Part>` to `parts`: `InvalidPart` for a number outside 1..=10000,
/// `InvalidPartOrder` for one lower than the last; a number listed again replaces the last.
pub(super) fn add_part(
    parts: &mut Vec<(u16, String)>,
    number: Option<String>,
    etag: Option<String>,
) -> Result<(), S3Error> {
    let n = number.ok_or_else(|| malformed_xml("a <Part> has no <PartNumber>"))?;
    let n = n
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::new(
                ErrorCode::InvalidPart,
                format!("part number '{}' is not between 1 and 10000", n.trim()),
            )
        })?;
    let e = etag.ok_or_else(|| malformed_xml("a <Part> has no <ETag>"))?;
    let e = e.trim();
    let e = e.strip_prefix('"').unwrap_or(e);
    let e = e.strip_suffix('"').unwrap_or(e).to_string();
    match parts.last_mut() {
        Some((prev, _)) if *prev > n => Err(S3Error::new(
            ErrorCode::InvalidPartOrder,
            "the list of parts was not in ascending order; parts must be ordered by part number",
        )),
        // A part listed again (a client that re-sent it and kept both answers): the later
        // entry wins (ceph/s3-tests expects it of S3; RGW and SeaweedFS take it so).
        Some((prev, etag)) if *prev == n => {
            *etag = e;
            Ok(())
        }
        _ => {
            parts.push((n, e));
            Ok(())
        }
    }
}

/// A `<CompleteMultipartUpload>` body naming `etags` as parts 1, 2, ...
pub(crate) fn complete_xml(etags: &[String]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"{S3_NS}\">"
    );
    for (i, etag) in etags.iter().enumerate() {
        out.push_str("<Part><PartNumber>");
        out.push_str(&(i + 1).to_string());
        out.push_str("</PartNumber><ETag>");
        push_escaped(&mut out, etag);
        out.push_str("</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}
