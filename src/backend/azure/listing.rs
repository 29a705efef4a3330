//! Listings on Azure: an S3 listing's parameters as List Blobs', and List Blobs' answer as an
//! S3 `ListBucketResult` (Azure's opaque `NextMarker` wrapped in a token of ours).

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::percent;
use crate::s3::{ErrorCode, S3Error};
use crate::time::Timestamp;

/// Starts a listing token the gateway made from Azure's opaque `NextMarker`.
const MARKER_TOKEN: &str = "azm1.";

/// Query parameters of a backend request (names are ours, values decoded).
pub(crate) type Query = Vec<(&'static str, String)>;

/// A listing's request parameters, echoed in the S3 answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListEcho {
    /// V2 (`list-type=2`).
    pub v2: bool,
    /// Backend prefix plus the client's prefix.
    pub prefix: String,
    /// `delimiter`.
    pub delimiter: Option<String>,
    /// `max-keys`.
    pub max_keys: u32,
    /// V2 `continuation-token` as the client sent it.
    pub continuation_token: Option<String>,
    /// V2 `start-after` / V1 `marker` when it is a key (backend namespace): entries up to it
    /// are left out.
    pub start_after: Option<String>,
    /// V1 `marker` as the client sent it (echoed).
    pub marker: Option<String>,
}

/// The Azure List Blobs parameters of a listing: `(query, echo)`. `prefix` is the backend
/// prefix.
pub(crate) fn list_params(
    v2: bool,
    param: impl Fn(&str) -> Option<String>,
    max_keys: u32,
    prefix: &str,
) -> Result<(Query, ListEcho), S3Error> {
    let full_prefix = format!("{prefix}{}", param("prefix").unwrap_or_default());
    let delimiter = param("delimiter").filter(|d| !d.is_empty());
    let mut echo = ListEcho {
        v2,
        prefix: full_prefix.clone(),
        delimiter: delimiter.clone(),
        max_keys,
        ..ListEcho::default()
    };
    let mut query = vec![
        ("restype", "container".to_string()),
        ("comp", "list".to_string()),
    ];
    if !full_prefix.is_empty() {
        query.push(("prefix", full_prefix));
    }
    if let Some(d) = delimiter {
        query.push(("delimiter", d));
    }
    query.push(("maxresults", max_keys.max(1).to_string()));
    let (token, key_marker) = if v2 {
        echo.continuation_token = param("continuation-token");
        let token = match &echo.continuation_token {
            Some(t) => Some(unwrap_marker(t).ok_or_else(|| {
                S3Error::invalid_argument("The continuation token provided is incorrect")
                    .with_detail("ArgumentName", "continuation-token")
            })?),
            None => None,
        };
        (token, param("start-after").filter(|s| !s.is_empty()))
    } else {
        echo.marker = param("marker").filter(|s| !s.is_empty());
        match echo.marker.as_deref().map(|m| (m, unwrap_marker(m))) {
            Some((_, Some(t))) => (Some(t), None),
            Some((m, None)) => {
                let m = m.to_string();
                echo.marker = Some(format!("{prefix}{m}"));
                (None, Some(m))
            }
            None => (None, None),
        }
    };
    if let Some(t) = token {
        query.push(("marker", t));
    } else if let Some(k) = key_marker {
        // Azure has no "start after": list from the start and leave those keys out.
        echo.start_after = Some(format!("{prefix}{k}"));
    }
    Ok((query, echo))
}

/// A listing token wrapping Azure's opaque marker.
pub(super) fn wrap_marker(marker: &str) -> String {
    format!(
        "{MARKER_TOKEN}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(marker.as_bytes())
    )
}

fn unwrap_marker(token: &str) -> Option<String> {
    let b64 = token.trim().strip_prefix(MARKER_TOKEN)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('=').as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|m| !m.is_empty())
}

/// One blob of a List Blobs answer.
#[derive(Debug, Default)]
struct Blob {
    name: String,
    last_modified: String,
    etag: String,
    size: String,
}

/// What a List Blobs answer holds.
#[derive(Debug, Default)]
struct BlobListing {
    blobs: Vec<Blob>,
    prefixes: Vec<String>,
    next_marker: String,
}

fn malformed_listing() -> S3Error {
    S3Error::new(
        ErrorCode::BadGateway,
        "the Azure backend returned a malformed List Blobs document",
    )
}

impl BlobListing {
    /// Reads an `EnumerationResults` document.
    fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let malformed = malformed_listing;
        let mut reader = Reader::from_reader(body);
        let mut stack: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut encoded = false;
        let mut out = BlobListing::default();
        let mut current = Blob::default();
        let mut root_seen = false;
        loop {
            match reader.read_event().map_err(|_| malformed())? {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if stack.is_empty() {
                        if name != "EnumerationResults" {
                            return Err(malformed());
                        }
                        root_seen = true;
                    }
                    encoded = e
                        .try_get_attribute("Encoded")
                        .ok()
                        .flatten()
                        .is_some_and(|a| a.value.as_ref() == b"true");
                    if name == "Blob" {
                        current = Blob::default();
                    }
                    stack.push(name);
                    text.clear();
                }
                Event::Empty(_) => {}
                Event::Text(t) => text.push_str(&t.decode().map_err(|_| malformed())?),
                Event::GeneralRef(r) => {
                    text.push(crate::s3::xml::resolve_ref(&r).ok_or_else(malformed)?);
                }
                Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c)),
                Event::End(_) => {
                    let name = stack.pop().ok_or_else(malformed)?;
                    let parent = stack.last().map(String::as_str).unwrap_or("");
                    let value = if encoded && name == "Name" {
                        percent::decode_strict(text.as_bytes(), false)
                            .and_then(|b| String::from_utf8(b).ok())
                            .ok_or_else(malformed)?
                    } else {
                        std::mem::take(&mut text)
                    };
                    out.take(parent, &name, value, &mut current);
                    text.clear();
                    encoded = false;
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !root_seen || !stack.is_empty() {
            return Err(malformed());
        }
        Ok(out)
    }

    /// Keeps the value of the element `name` (in `parent`) that a listing needs.
    fn take(&mut self, parent: &str, name: &str, value: String, current: &mut Blob) {
        match (parent, name) {
            ("Blob", "Name") => current.name = value,
            ("Properties", "Last-Modified") => current.last_modified = value,
            ("Properties", "Etag") => current.etag = value,
            ("Properties", "Content-Length") => current.size = value,
            ("BlobPrefix", "Name") => self.prefixes.push(value),
            ("Blobs", "Blob") => self.blobs.push(std::mem::take(current)),
            ("EnumerationResults", "NextMarker") => self.next_marker = value,
            _ => {}
        }
    }
}

/// Translates an Azure `EnumerationResults` into an S3 `ListBucketResult` in the backend's
/// namespace (full blob names, container name): [`crate::s3::xml::XmlRewrite`] then maps it into
/// the client's, as it does S3 listings.
pub(crate) fn listing_to_s3(body: &[u8], echo: &ListEcho) -> Result<String, S3Error> {
    let BlobListing {
        mut blobs,
        mut prefixes,
        next_marker,
    } = BlobListing::parse(body)?;
    let after = echo.start_after.as_deref();
    let keep = |name: &str| after.is_none_or(|a| name > a) && echo.max_keys > 0;
    blobs.retain(|b| keep(&b.name));
    prefixes.retain(|p| keep(p));
    let truncated = !next_marker.is_empty() && echo.max_keys > 0;

    let mut out = String::with_capacity(512 + blobs.len() * 256);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    push_listing_head(&mut out, echo, blobs.len() + prefixes.len());
    let leaf = crate::s3::xml::push_leaf;
    leaf(
        &mut out,
        "IsTruncated",
        if truncated { "true" } else { "false" },
    );
    if truncated {
        let name = if echo.v2 {
            "NextContinuationToken"
        } else {
            "NextMarker"
        };
        leaf(&mut out, name, &wrap_marker(&next_marker));
    }
    for b in &blobs {
        out.push_str("<Contents>");
        leaf(&mut out, "Key", &b.name);
        let modified = Timestamp::parse_http_date(b.last_modified.trim())
            .map(Timestamp::iso8601)
            .unwrap_or_default();
        leaf(&mut out, "LastModified", &modified);
        leaf(
            &mut out,
            "ETag",
            &format!("\"{}\"", b.etag.trim_matches('"')),
        );
        leaf(&mut out, "Size", b.size.trim());
        out.push_str("<StorageClass>STANDARD</StorageClass></Contents>");
    }
    for p in &prefixes {
        out.push_str("<CommonPrefixes>");
        leaf(&mut out, "Prefix", p);
        out.push_str("</CommonPrefixes>");
    }
    out.push_str("</ListBucketResult>");
    Ok(out)
}

/// The listing's echo of its request, up to `Delimiter` (`count`: the V2 `KeyCount`).
fn push_listing_head(out: &mut String, echo: &ListEcho, count: usize) {
    let leaf = crate::s3::xml::push_leaf;
    leaf(out, "Name", "backend");
    leaf(out, "Prefix", &echo.prefix);
    if echo.v2 {
        if let Some(t) = &echo.continuation_token {
            leaf(out, "ContinuationToken", t);
        }
        if let Some(s) = &echo.start_after {
            leaf(out, "StartAfter", s);
        }
        leaf(out, "KeyCount", &count.to_string());
    } else {
        leaf(out, "Marker", echo.marker.as_deref().unwrap_or(""));
    }
    leaf(out, "MaxKeys", &echo.max_keys.to_string());
    if let Some(d) = &echo.delimiter {
        leaf(out, "Delimiter", d);
    }
}
