//! Object and bucket tagging documents, held to S3's limits.

use super::*;

/// Most tags one object may have (S3's limit).
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// Longest tag key, in characters (S3's limit).
pub(super) const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters (S3's limit).
pub(super) const MAX_TAG_VALUE_CHARS: usize = 256;

pub(super) fn invalid_tag(msg: impl Into<String>) -> S3Error {
    S3Error::new(ErrorCode::InvalidTag, msg)
}

/// Parses a PutObjectTagging body into `(key, value)` pairs: `MalformedXML` for anything but a
/// `<Tagging><TagSet>` of `<Tag><Key/><Value/></Tag>` entries, `InvalidTag` for more than 10
/// tags, a key over 128 or a value over 256 characters, or a key given twice (as S3 answers).
/// An empty `<TagSet/>` is an empty set.
pub(crate) fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, S3Error> {
    parse_tag_set(
        body,
        MAX_OBJECT_TAGS,
        "Object tags cannot be greater than 10",
    )
}

/// Most tags one bucket may have (S3's limit).
pub(crate) const MAX_BUCKET_TAGS: usize = 50;

/// [`parse_tagging`] for a PutBucketTagging body: up to 50 tags, none in the `aws:` namespace
/// (S3 keeps those for its own system tags).
pub(crate) fn parse_bucket_tagging(body: &[u8]) -> Result<Vec<(String, String)>, S3Error> {
    let tags = parse_tag_set(
        body,
        MAX_BUCKET_TAGS,
        "Bucket tag count cannot be greater than 50",
    )?;
    if tags.iter().any(|(k, _)| k.starts_with("aws:")) {
        return Err(invalid_tag(
            "System tags cannot be added/updated by requester: tag keys starting with 'aws:' are reserved",
        ));
    }
    Ok(tags)
}

pub(super) fn parse_tag_set(
    body: &[u8],
    max: usize,
    too_many: &'static str,
) -> Result<Vec<(String, String)>, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut tags: Vec<(String, String)> = Vec::new();
    let (mut key, mut value): (Option<String>, Option<String>) = (None, None);
    let (mut tag_set, mut rooted) = (false, false);
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { name, empty } => {
                let root = xml.depth() == 0;
                if root && (empty || name != b"Tagging" || rooted) {
                    return Err(malformed_xml("the document is one <Tagging> element"));
                }
                rooted |= root;
                match (name.as_slice(), xml.parent(), empty) {
                    (b"TagSet", Some(b"Tagging"), _) => tag_set = true,
                    (b"Tag", _, false) => (key, value) = (None, None),
                    (b"Value", Some(b"Tag"), true) => value = Some(String::new()),
                    (b"Key", Some(b"Tag"), true) => key = Some(String::new()),
                    _ => {}
                }
            }
            Node::Close { name, text } => match (name.as_slice(), xml.parent()) {
                (b"Key", Some(b"Tag")) => key = Some(text),
                (b"Value", Some(b"Tag")) => value = Some(text),
                (b"Tag", Some(b"TagSet")) => {
                    let tag = checked_tag(key.take(), value.take(), &tags)?;
                    tags.push(tag);
                    if tags.len() > max {
                        return Err(invalid_tag(too_many));
                    }
                }
                (b"Tag", _) => return Err(malformed_xml("a <Tag> is outside <TagSet>")),
                _ => {}
            },
        }
    }
    if !tag_set {
        return Err(malformed_xml("a <Tagging> holds a <TagSet>"));
    }
    Ok(tags)
}

/// One `<Tag>` as S3 checks it: a key and a value given, the key 1 to 128 characters and not
/// among `seen`, the value at most 256.
pub(super) fn checked_tag(
    key: Option<String>,
    value: Option<String>,
    seen: &[(String, String)],
) -> Result<(String, String), S3Error> {
    let k = key.ok_or_else(|| malformed_xml("a <Tag> has no <Key>"))?;
    let v = value.ok_or_else(|| malformed_xml("a <Tag> has no <Value>"))?;
    if k.is_empty() || k.chars().count() > MAX_TAG_KEY_CHARS {
        return Err(invalid_tag(
            "The TagKey you have provided is invalid: a tag key is 1 to 128 characters",
        ));
    }
    if v.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(invalid_tag(
            "The TagValue you have provided is invalid: a tag value is at most 256 characters",
        ));
    }
    if seen.iter().any(|(s, _)| *s == k) {
        return Err(invalid_tag(
            "Cannot provide multiple Tags with the same key",
        ));
    }
    Ok((k, v))
}

/// The PutObjectTagging body the gateway forwards: the parsed tags, written anew.
pub(crate) fn tagging_xml(tags: &[(String, String)]) -> String {
    let mut out = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        out.push_str("<Tag>");
        push_leaf(&mut out, "Key", k);
        push_leaf(&mut out, "Value", v);
        out.push_str("</Tag>");
    }
    out.push_str("</TagSet></Tagging>");
    out
}
