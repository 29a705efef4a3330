//! `ListAllMyBucketsResult` (written, and read back from a backend for pass-through
//! buckets) and `LocationConstraint`.

use super::*;

/// `ListAllMyBucketsResult`.
#[cfg(test)]
pub(crate) fn list_buckets_xml(
    owner_id: &str,
    owner_display_name: &str,
    buckets: &[(String, Timestamp)],
) -> String {
    list_buckets_page_xml(owner_id, owner_display_name, buckets, None, None)
}

/// `ListAllMyBucketsResult` of a paginated or filtered ListBuckets: `prefix` echoes the
/// request's, `continuation` is the token of the next page.
pub(crate) fn list_buckets_page_xml(
    owner_id: &str,
    owner_display_name: &str,
    buckets: &[(String, Timestamp)],
    prefix: Option<&str>,
    continuation: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256 + buckets.len() * 96);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"");
    out.push_str(S3_NS);
    out.push_str("\"><Owner><ID>");
    push_escaped(&mut out, owner_id);
    out.push_str("</ID><DisplayName>");
    push_escaped(&mut out, owner_display_name);
    out.push_str("</DisplayName></Owner><Buckets>");
    for (name, created) in buckets {
        out.push_str("<Bucket><Name>");
        push_escaped(&mut out, name);
        out.push_str("</Name><CreationDate>");
        out.push_str(&created.iso8601());
        out.push_str("</CreationDate></Bucket>");
    }
    out.push_str("</Buckets>");
    if let Some(token) = continuation {
        push_leaf(&mut out, "ContinuationToken", token);
    }
    if let Some(prefix) = prefix {
        push_leaf(&mut out, "Prefix", prefix);
    }
    out.push_str("</ListAllMyBucketsResult>");
    out
}

/// One `<Bucket>` of a backend's `ListAllMyBucketsResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListedBucket {
    /// `<Name>`.
    pub name: String,
    /// `<CreationDate>`; None when missing or not RFC 3339.
    pub created: Option<Timestamp>,
    /// `<BucketRegion>` (AWS lists the buckets of every region), if given.
    pub region: Option<String>,
}

/// Parses a backend's `ListAllMyBucketsResult` into its `<Buckets><Bucket>` entries, walked by
/// the request-body [`BodyReader`] (its checks: no DOCTYPE, bounded depth; the size is bounded
/// by the reader).
/// Err (why) for anything but a well-formed `ListAllMyBucketsResult`.
pub(crate) fn parse_list_buckets(body: &[u8]) -> Result<Vec<ListedBucket>, String> {
    let mut xml = BodyReader::new(body);
    let mut out = Vec::new();
    let (mut name, mut date): (Option<String>, Option<Timestamp>) = (None, None);
    let mut region: Option<String> = None;
    let mut seen_root = false;
    while let Some(node) = xml.next().map_err(|e| e.message)? {
        match node {
            Node::Open { name: tag, .. } if xml.depth() == 0 => {
                if seen_root || tag != b"ListAllMyBucketsResult" {
                    return Err("the root element is not <ListAllMyBucketsResult>".into());
                }
                seen_root = true;
            }
            Node::Open { name: tag, empty } => {
                if tag == b"Bucket" && !empty {
                    (name, date, region) = (None, None, None);
                }
            }
            Node::Close { name: tag, text } => {
                let in_bucket = xml.depth() == 3 && xml.parent() == Some(b"Bucket");
                let in_buckets = xml.depth() == 2
                    && xml.parents()[0] == b"ListAllMyBucketsResult"
                    && xml.parent() == Some(b"Buckets");
                match tag.as_slice() {
                    b"Name" if in_bucket => name = Some(text),
                    b"CreationDate" if in_bucket => date = Timestamp::parse_rfc3339(text.trim()),
                    b"BucketRegion" if in_bucket => region = Some(text.trim().to_string()),
                    b"Bucket" if in_buckets => out.push(ListedBucket {
                        name: name.take().ok_or("a <Bucket> has no <Name>")?,
                        created: date.take(),
                        region: region.take(),
                    }),
                    _ => {}
                }
            }
        }
    }
    if !seen_root {
        return Err("the document is empty".into());
    }
    Ok(out)
}

/// `LocationConstraint` (empty for us-east-1, as S3 answers).
pub(crate) fn location_xml(region: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{S3_NS}\">"
    );
    if region != "us-east-1" {
        push_escaped(&mut out, region);
    }
    out.push_str("</LocationConstraint>");
    out
}
