//! XML documents: ListAllMyBucketsResult, LocationConstraint, backend error documents, and the
//! rewrite of a backend's answers (listings, multipart documents) into the client's namespace:
//! the bucket renamed and `backend_prefix` stripped, every other element passed through.
//!
//! One file per document family (buckets, errors, rewrite, multipart, delete, tagging,
//! versioning), request bodies read through the one bounded [`BodyReader`]; this file holds the
//! helpers they share.

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::error::push_escaped;
use super::{ErrorCode, S3Error};
use crate::time::Timestamp;

mod buckets;
mod delete;
mod errors;
mod multipart;
mod reader;
mod rewrite;
mod tagging;
mod versioning;

pub(crate) use buckets::*;
pub(crate) use delete::*;
pub(crate) use errors::*;
pub(crate) use multipart::*;
pub(crate) use reader::{BodyReader, Node};
pub(crate) use rewrite::*;
pub(crate) use tagging::*;
pub(crate) use versioning::*;

pub(crate) const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

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

pub(crate) fn malformed_xml(msg: &str) -> S3Error {
    S3Error::new(
        ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {msg}"),
    )
}

pub(crate) use super::limits::MAX_PARTS;

#[cfg(test)]
mod request_body_tests;

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

#[cfg(test)]
mod tests;
