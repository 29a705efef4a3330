//! DeleteObjects: the client's `<Delete>` body read, the backend's written, and the
//! `DeleteResult` errors the gateway adds.

use super::*;

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
