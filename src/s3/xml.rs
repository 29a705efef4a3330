//! XML documents: ListAllMyBucketsResult, LocationConstraint, backend error documents, and the
//! rewrite of a backend's answers (listings, multipart documents) into the client's namespace:
//! the bucket renamed and `backend_prefix` stripped, every other element passed through.

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::error::push_escaped;
use super::{ErrorCode, S3Error};
use crate::time::Timestamp;

mod reader;
pub(crate) use reader::{BodyReader, Node};

pub(crate) const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

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

/// `(Code, Message)` of an S3 `<Error>` document; None for anything else.
pub(crate) fn parse_error_xml(body: &[u8]) -> Option<(String, String)> {
    let mut reader = Reader::from_reader(body);
    let mut depth = 0usize;
    let mut current: Option<Vec<u8>> = None;
    let (mut code, mut message) = (None::<String>, String::new());
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                if depth == 1 && e.name().as_ref() != b"Error" {
                    return None;
                }
                current = (depth == 2).then(|| e.name().as_ref().to_vec());
            }
            Event::Empty(e) if depth == 0 => {
                let _ = e;
                return None;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                current = None;
                if depth == 0 {
                    break;
                }
            }
            Event::Text(t) => {
                let text = t.decode().ok()?;
                match current.as_deref() {
                    Some(b"Code") => code.get_or_insert_with(String::new).push_str(&text),
                    Some(b"Message") => message.push_str(&text),
                    _ => {}
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r)?;
                match current.as_deref() {
                    Some(b"Code") => code.get_or_insert_with(String::new).push(c),
                    Some(b"Message") => message.push(c),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    code.map(|c| (c, message))
}

pub(crate) fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    if r.is_char_ref() {
        return r.resolve_char_ref().ok().flatten();
    }
    let name: &[u8] = r;
    match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        _ => None,
    }
}

/// Rewrites a backend XML answer into the client's namespace.
#[derive(Clone, Debug)]
pub(crate) struct XmlRewrite {
    /// The bucket name the client used (replaces `<Name>` and `<Bucket>`).
    pub client_bucket: String,
    /// The backend prefix to strip from keys and prefixes.
    pub strip_prefix: String,
    /// What to put in front of them once stripped: the `product/` of a path-mapped bucket
    /// (see [`crate::pathmap`]); empty otherwise.
    pub add_prefix: String,
    /// The listing was requested with `encoding-type=url`.
    pub url_encoded: bool,
    /// A ListObjects (v1) answer: its top-level `<Prefix>` (the request's echo) stays as it is
    /// under `encoding-type=url`, as S3 writes it (botocore, which asks for `url` on every
    /// listing, decodes v1's `Marker` and `Delimiter` but not `Prefix`). V2 encodes it.
    pub list_v1: bool,
}

/// Entries dropped whole when their key lies outside the prefix.
const RECORDS: &[&[u8]] = &[
    b"Contents",
    b"Upload",
    b"CommonPrefixes",
    b"Version",
    b"DeleteMarker",
];
/// Elements whose text names a bucket.
const BUCKET_LEAVES: &[&[u8]] = &[b"Name", b"Bucket"];
/// Elements whose text is a key or key prefix.
const KEY_LEAVES: &[&[u8]] = &[
    b"Key",
    b"Prefix",
    b"StartAfter",
    b"Marker",
    b"NextMarker",
    b"KeyMarker",
    b"NextKeyMarker",
];
/// Elements whose text is a backend URL (CompleteMultipartUploadResult's `Location`: the
/// backend's endpoint, bucket and prefix). Replaced by the client's own resource.
const URL_LEAVES: &[&[u8]] = &[b"Location"];

fn malformed() -> S3Error {
    S3Error::new(
        ErrorCode::BadGateway,
        "the backend returned a malformed XML document",
    )
}

impl XmlRewrite {
    /// Rewrites `body`, event by event; unknown elements pass through untouched. A `Location`
    /// becomes empty: use [`XmlRewrite::rewrite_answer`] to give the client's own.
    pub(crate) fn rewrite(&self, body: &[u8]) -> Result<Vec<u8>, S3Error> {
        self.rewrite_answer(body, "")
    }

    /// [`XmlRewrite::rewrite`], with `location` (the client's `/bucket/key`) in place of the
    /// backend URL a `Location` holds: answers never name the backend's host, bucket or prefix.
    pub(crate) fn rewrite_answer(&self, body: &[u8], location: &str) -> Result<Vec<u8>, S3Error> {
        let mut reader = Reader::from_reader(body);
        let mut out = Rewriter {
            rewrite: self,
            location,
            writer: Writer::new(Vec::with_capacity(body.len())),
            stack: Vec::new(),
            text: None,
            record: None,
            dropped: 0,
        };
        loop {
            match reader.read_event().map_err(|_| malformed())? {
                Event::Eof => break,
                Event::Start(e) => out.start(e.into_owned())?,
                Event::Text(t) if out.text.is_some() => {
                    out.add_text(&t.decode().map_err(|_| malformed())?)
                }
                Event::GeneralRef(r) if out.text.is_some() => out.add_text(
                    resolve_ref(&r)
                        .ok_or_else(malformed)?
                        .encode_utf8(&mut [0; 4]),
                ),
                // A leaf's text as CDATA is its text too: never passed through unrewritten.
                Event::CData(t) if out.text.is_some() => {
                    out.add_text(std::str::from_utf8(&t).map_err(|_| malformed())?)
                }
                Event::End(e) => out.end(e.into_owned())?,
                other => out.emit(other.into_owned())?,
            }
        }
        out.finish()
    }

    /// The new text of a leaf, and whether its key lies inside the prefix. Values come from the
    /// backend unencoded (we never forward `encoding-type`: backends differ in what they encode)
    /// and are encoded here (`url`) when the client asked for `encoding-type=url`.
    fn transform(&self, name: &[u8], raw: &str, url: bool) -> (String, bool) {
        if BUCKET_LEAVES.contains(&name) {
            return (self.client_bucket.clone(), true);
        }
        let encode = |s: &str| {
            if url {
                url_encode_key(s)
            } else {
                s.to_string()
            }
        };
        if name == b"Delimiter" {
            return (encode(raw), true);
        }
        match raw.strip_prefix(self.strip_prefix.as_str()) {
            // The prefix's own folder marker (`prefix/` itself) is no key of the client's bucket.
            Some("") if self.is_entry_key(name) && !self.strip_prefix.is_empty() => {
                (String::new(), false)
            }
            Some(rest) if self.add_prefix.is_empty() => (encode(rest), true),
            Some(rest) => (encode(&format!("{}{rest}", self.add_prefix)), true),
            None => (encode(raw), false),
        }
    }

    /// `Key` and `Prefix` are entry names inside records; elsewhere they are request echoes.
    fn is_entry_key(&self, name: &[u8]) -> bool {
        name == b"Key" || name == b"Prefix"
    }
}

/// Lowers `<KeyCount>` by the entries dropped (wherever the backend put it in the document).
fn fix_key_count(out: Vec<u8>, dropped: usize) -> Vec<u8> {
    const OPEN: &[u8] = b"<KeyCount>";
    let Some(start) = out
        .windows(OPEN.len())
        .position(|w| w == OPEN)
        .map(|i| i + OPEN.len())
    else {
        return out;
    };
    let len = out[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let Some(n) = std::str::from_utf8(&out[start..start + len])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return out;
    };
    let mut fixed = Vec::with_capacity(out.len());
    fixed.extend_from_slice(&out[..start]);
    fixed.extend_from_slice(n.saturating_sub(dropped).to_string().as_bytes());
    fixed.extend_from_slice(&out[start + len..]);
    fixed
}

/// An [`XmlRewrite`] under way: the events written so far, and the entry being read.
struct Rewriter<'a> {
    rewrite: &'a XmlRewrite,
    location: &'a str,
    writer: Writer<Vec<u8>>,
    /// The open elements, root first.
    stack: Vec<Vec<u8>>,
    /// The text of the leaf being read, when it is one that is rewritten.
    text: Option<String>,
    /// Events of the entry being read (a `RECORDS` element), its depth, and whether it stays.
    record: Option<(usize, Vec<Event<'static>>, bool)>,
    /// Entries dropped (their key lies outside the prefix).
    dropped: usize,
}

impl Rewriter<'_> {
    /// Writes `event`, or keeps it with the entry being read.
    fn emit(&mut self, event: Event<'static>) -> Result<(), S3Error> {
        match &mut self.record {
            Some((_, events, _)) => {
                events.push(event);
                Ok(())
            }
            None => self.writer.write_event(event).map_err(|_| malformed()),
        }
    }

    fn add_text(&mut self, s: &str) {
        if let Some(buf) = self.text.as_mut() {
            buf.push_str(s);
        }
    }

    /// An element opens: an entry starts, or a leaf whose text is rewritten.
    fn start(&mut self, e: BytesStart<'static>) -> Result<(), S3Error> {
        let name = e.name().as_ref().to_vec();
        if self.record.is_none() && RECORDS.contains(&name.as_slice()) {
            self.record = Some((self.stack.len(), Vec::new(), true));
        }
        if BUCKET_LEAVES.contains(&name.as_slice())
            || KEY_LEAVES.contains(&name.as_slice())
            || URL_LEAVES.contains(&name.as_slice())
        {
            self.text = Some(String::new());
        }
        self.stack.push(name);
        self.emit(Event::Start(e))
    }

    /// An element closes: a leaf's text rewritten, `EncodingType` added after the bucket's
    /// name, an entry written or dropped as it ends.
    fn end(&mut self, e: BytesEnd<'static>) -> Result<(), S3Error> {
        let name = self.stack.pop().ok_or_else(malformed)?;
        if let Some(raw) = self.text.take() {
            self.leaf_text(&name, &raw)?;
        }
        self.emit(Event::End(e))?;
        if self.rewrite.url_encoded
            && self.stack.len() == 1
            && BUCKET_LEAVES.contains(&name.as_slice())
        {
            for ev in [
                Event::Start(BytesStart::new("EncodingType")),
                Event::Text(BytesText::new("url")),
                Event::End(BytesEnd::new("EncodingType")),
            ] {
                self.emit(ev)?;
            }
        }
        if self
            .record
            .as_ref()
            .is_some_and(|r| r.0 == self.stack.len())
        {
            if let Some((_, events, keep)) = self.record.take() {
                if keep {
                    for ev in events {
                        self.writer.write_event(ev).map_err(|_| malformed())?;
                    }
                } else {
                    self.dropped += 1;
                }
            }
        }
        Ok(())
    }

    /// Writes the rewritten text of the leaf `name`; a key outside the prefix drops its entry.
    fn leaf_text(&mut self, name: &[u8], raw: &str) -> Result<(), S3Error> {
        let rewrite = self.rewrite;
        let v1_echo = rewrite.list_v1
            && name == b"Prefix"
            && self.stack.len() == 1
            && self.stack[0] == b"ListBucketResult";
        let (value, inside) = if URL_LEAVES.contains(&name) {
            (self.location.to_string(), true)
        } else {
            rewrite.transform(name, raw, rewrite.url_encoded && !v1_echo)
        };
        if !inside {
            if let Some(r) = self.record.as_mut() {
                r.2 = false;
            }
        }
        self.emit(Event::Text(BytesText::new(&value).into_owned()))
    }

    /// The rewritten document, `<KeyCount>` lowered by the entries dropped.
    fn finish(self) -> Result<Vec<u8>, S3Error> {
        if !self.stack.is_empty() {
            return Err(malformed());
        }
        let out = self.writer.into_inner();
        Ok(if self.dropped > 0 {
            fix_key_count(out, self.dropped)
        } else {
            out
        })
    }
}

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

/// Appends `<name>value</name>`, the value XML-escaped.
pub(crate) fn push_leaf(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    crate::s3::error::push_escaped(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `encoding-type=url` form of a key, as S3 writes it: unreserved bytes and `/` kept, space as
/// `+`, everything else `%XX`.
pub(crate) fn url_encode_key(s: &str) -> String {
    // Form style: `+` for space; `/` kept, as S3 writes listings.
    s.split(' ')
        .map(|part| crate::percent::encode(part.as_bytes(), true))
        .collect::<Vec<_>>()
        .join("+")
}

/// Most keys one DeleteObjects request may name (S3's limit).
pub(crate) const MAX_DELETE_KEYS: usize = 1000;

/// A parsed `<Delete>` request body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report only errors.
    pub quiet: bool,
    /// `(key, version id)` per `<Object>`.
    pub objects: Vec<(String, Option<String>)>,
}

pub(crate) fn malformed_xml(msg: &str) -> S3Error {
    S3Error::new(
        ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {msg}"),
    )
}

/// Parses a DeleteObjects body: `MalformedXML` for anything but a `<Delete>` with 1 to 1000
/// `<Object><Key>` entries.
pub(crate) fn parse_delete(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut out = DeleteRequest::default();
    let (mut key, mut version): (Option<String>, Option<String>) = (None, None);
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { name, .. } if xml.depth() == 0 && name != b"Delete" => {
                return Err(malformed_xml("the root element must be <Delete>"));
            }
            Node::Open { name, empty: false } if name == b"Object" => (key, version) = (None, None),
            Node::Open { .. } => {}
            Node::Close { name, text } => match (name.as_slice(), xml.parent()) {
                (b"Key", Some(b"Object")) => key = Some(text),
                (b"VersionId", Some(b"Object")) => version = Some(text),
                (b"Quiet", Some(b"Delete")) => out.quiet = text.trim().eq_ignore_ascii_case("true"),
                (b"Object", Some(b"Delete")) => {
                    let k = key
                        .take()
                        .ok_or_else(|| malformed_xml("an <Object> has no <Key>"))?;
                    out.objects.push((k, version.take()));
                    if out.objects.len() > MAX_DELETE_KEYS {
                        return Err(malformed_xml(
                            "a DeleteObjects request may name at most 1000 keys",
                        ));
                    }
                }
                _ => {}
            },
        }
    }
    if out.objects.is_empty() {
        return Err(malformed_xml(
            "a DeleteObjects request must name at least one key",
        ));
    }
    Ok(out)
}

/// Most tags one object may have (S3's limit).
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// Longest tag key, in characters (S3's limit).
const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters (S3's limit).
const MAX_TAG_VALUE_CHARS: usize = 256;

fn invalid_tag(msg: impl Into<String>) -> S3Error {
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

fn parse_tag_set(
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
fn checked_tag(
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

/// A checked PutBucketVersioning body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Versioning {
    /// `Enabled` or `Suspended`.
    pub status: &'static str,
    /// `<MfaDelete>Disabled</MfaDelete>` was given (tools send it with every change).
    pub mfa_delete_disabled: bool,
}

fn mfa_delete_enabled() -> S3Error {
    S3Error::not_implemented(
        "MfaDelete Enabled needs the bucket owner's MFA device (x-amz-mfa), which this gateway \
         does not forward; set it at the backend",
    )
}

/// Parses a PutBucketVersioning body: a `<VersioningConfiguration>` whose `<Status>` is
/// `Enabled` or `Suspended`, with an optional `<MfaDelete>`. `MalformedXML` for anything else,
/// as S3 answers; `NotImplemented` for `<MfaDelete>Enabled`, which needs the `x-amz-mfa` header of
/// the bucket owner's device (a gateway has none to give). `Disabled` is forwarded: the backend
/// decides (S3 refuses a change of it without `x-amz-mfa`).
pub(crate) fn parse_versioning(body: &[u8]) -> Result<Versioning, S3Error> {
    let mut xml = BodyReader::new(body);
    let mut status: Option<&'static str> = None;
    let mut mfa: Option<bool> = None;
    while let Some(node) = xml.next()? {
        match node {
            Node::Open { empty: true, .. } if xml.depth() == 0 => {
                return Err(malformed_xml(
                    "a <VersioningConfiguration> must give a <Status>",
                ))
            }
            Node::Open { empty: true, .. } => return Err(malformed_xml("an empty element")),
            Node::Open { name, .. } if xml.depth() == 0 && name != b"VersioningConfiguration" => {
                return Err(malformed_xml(
                    "the root element must be <VersioningConfiguration>",
                ));
            }
            Node::Open { .. } => {}
            Node::Close { name, text } => match (name.as_slice(), xml.depth()) {
                (b"Status", 1) => {
                    if status.is_some() {
                        return Err(malformed_xml("<Status> is given more than once"));
                    }
                    status = Some(versioning_status(text.trim())?);
                }
                (b"MfaDelete", 1) => {
                    if mfa.is_some() {
                        return Err(malformed_xml("<MfaDelete> is given more than once"));
                    }
                    mfa = Some(mfa_delete_disabled(text.trim())?);
                }
                (_, 0) => {}
                _ => return Err(malformed_xml("unknown element")),
            },
        }
    }
    let status =
        status.ok_or_else(|| malformed_xml("a <VersioningConfiguration> must give a <Status>"))?;
    Ok(Versioning {
        status,
        mfa_delete_disabled: mfa.is_some(),
    })
}

/// A `<Status>`: S3's two words.
fn versioning_status(text: &str) -> Result<&'static str, S3Error> {
    match text {
        "Enabled" => Ok("Enabled"),
        "Suspended" => Ok("Suspended"),
        _ => Err(malformed_xml("<Status> must be Enabled or Suspended")),
    }
}

/// A `<MfaDelete>`: `Disabled` is forwarded, `Enabled` cannot be (see [`parse_versioning`]).
fn mfa_delete_disabled(text: &str) -> Result<bool, S3Error> {
    match text {
        "Disabled" => Ok(true),
        "Enabled" => Err(mfa_delete_enabled()),
        _ => Err(malformed_xml("<MfaDelete> must be Enabled or Disabled")),
    }
}

/// The PutBucketVersioning body the gateway forwards.
pub(crate) fn versioning_xml(v: Versioning) -> String {
    let mut out = format!("<VersioningConfiguration xmlns=\"{S3_NS}\">");
    push_leaf(&mut out, "Status", v.status);
    if v.mfa_delete_disabled {
        push_leaf(&mut out, "MfaDelete", "Disabled");
    }
    out.push_str("</VersioningConfiguration>");
    out
}

pub(crate) use super::limits::MAX_PARTS;

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
fn add_part(
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

#[cfg(test)]
mod request_body_tests;

/// A `<Delete>` body for the backend.
pub(crate) fn delete_xml(quiet: bool, objects: &[(String, Option<String>)]) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"{S3_NS}\">");
    if quiet {
        out.push_str("<Quiet>true</Quiet>");
    }
    for (key, version) in objects {
        out.push_str("<Object><Key>");
        push_escaped(&mut out, key);
        out.push_str("</Key>");
        if let Some(v) = version {
            out.push_str("<VersionId>");
            push_escaped(&mut out, v);
            out.push_str("</VersionId>");
        }
        out.push_str("</Object>");
    }
    out.push_str("</Delete>");
    out
}

/// A DeleteResult with `<Error>` entries added before its end (keys the gateway refused).
pub(crate) fn insert_delete_errors(mut doc: Vec<u8>, errors: &[(String, &str, String)]) -> Vec<u8> {
    const CLOSE: &[u8] = b"</DeleteResult>";
    if errors.is_empty() {
        return doc;
    }
    if let Some(at) = doc.windows(CLOSE.len()).rposition(|w| w == CLOSE) {
        doc.splice(at..at, delete_errors_xml(errors).into_bytes());
    }
    doc
}

/// A `<CopyObjectResult>` (or, for UploadPartCopy, `<CopyPartResult>`) document.
pub(crate) fn copy_result_xml(part: bool, last_modified: &str, etag: &str) -> String {
    let root = if part {
        "CopyPartResult"
    } else {
        "CopyObjectResult"
    };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NS}\"><LastModified>"
    );
    push_escaped(&mut out, last_modified);
    out.push_str("</LastModified><ETag>");
    push_escaped(&mut out, etag);
    out.push_str("</ETag></");
    out.push_str(root);
    out.push('>');
    out
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

/// The text of the first `<child>` directly under the root element `<root>`; None when the
/// document is not a `<root>` or has no such child.
pub(crate) fn child_text(body: &[u8], root: &str, child: &str) -> Option<String> {
    let mut reader = Reader::from_reader(body);
    let mut depth = 0usize;
    let mut inside = false;
    let mut text: Option<String> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                if depth == 1 && e.name().as_ref() != root.as_bytes() {
                    return None;
                }
                inside = depth == 2 && e.name().as_ref() == child.as_bytes();
                if inside {
                    text.get_or_insert_with(String::new);
                }
            }
            Event::End(_) => {
                if inside {
                    return text;
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return None;
                }
            }
            Event::Text(t) if inside => {
                text.get_or_insert_with(String::new)
                    .push_str(&t.decode().ok()?);
            }
            Event::GeneralRef(r) if inside => {
                text.get_or_insert_with(String::new).push(resolve_ref(&r)?);
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// `<Error>` entries of a DeleteResult, one per `(key, code, message)`.
pub(crate) fn delete_errors_xml(errors: &[(String, &str, String)]) -> String {
    let mut out = String::new();
    for (key, code, message) in errors {
        out.push_str("<Error><Key>");
        push_escaped(&mut out, key);
        out.push_str("</Key><Code>");
        push_escaped(&mut out, code);
        out.push_str("</Code><Message>");
        push_escaped(&mut out, message);
        out.push_str("</Message></Error>");
    }
    out
}

/// A whole DeleteResult holding only errors (when no key was allowed).
pub(crate) fn delete_result_xml(errors: &[(String, &str, String)]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{S3_NS}\">{}</DeleteResult>",
        delete_errors_xml(errors)
    )
}

#[cfg(test)]
mod tests;
