//! The one reader of request-body XML: a pull walk over a small document that yields each
//! element as it opens ([`Node::Open`]) and as it closes with its text ([`Node::Close`]), with the
//! checks every request body gets in one place: well-formedness, no DOCTYPE (so no entity is
//! ever declared or expanded), a bounded nesting depth, balanced elements, no early end, and text
//! that the gateway could forward as it was parsed (no control characters, no unknown entities).
//! Every refusal is `MalformedXML`. The body's size is bounded before parsing (the limit of the
//! body read).
//!
//! Names are local names (a namespace prefix is dropped) as bytes: the parsers compare them with
//! the element names S3 defines.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{malformed_xml, resolve_ref};
use crate::s3::S3Error;

/// Deepest element nesting a request body may have (S3's documents nest 3 deep).
const MAX_REQUEST_XML_DEPTH: usize = 8;

/// One step of a [`BodyReader`] walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// An element opens (`empty` for `<name/>`, which has no [`Node::Close`]).
    /// [`BodyReader::parents`] are its ancestors, root first.
    Open { name: Vec<u8>, empty: bool },
    /// An element closes, with the character data read since the last element opened or closed.
    /// [`BodyReader::parents`] are its ancestors, root first.
    Close { name: Vec<u8>, text: String },
}

/// A pull walk over a request body: `while let Some(node) = xml.next()? { .. }`.
pub(crate) struct BodyReader<'b> {
    reader: Reader<&'b [u8]>,
    /// The open elements, root first.
    stack: Vec<Vec<u8>>,
    /// The element opened by the last [`Node::Open`], pushed when the walk goes on (so that its
    /// parents are the stack while the caller looks at it).
    opened: Option<Vec<u8>>,
    text: String,
}

impl<'b> BodyReader<'b> {
    pub(crate) fn new(body: &'b [u8]) -> Self {
        Self {
            reader: Reader::from_reader(body),
            stack: Vec::new(),
            opened: None,
            text: String::new(),
        }
    }

    /// The ancestors of the node last returned, root first.
    pub(crate) fn parents(&self) -> &[Vec<u8>] {
        &self.stack
    }

    /// The parent of the node last returned; None for the root.
    pub(crate) fn parent(&self) -> Option<&[u8]> {
        self.stack.last().map(Vec::as_slice)
    }

    /// How many ancestors the node last returned has (0: it is the root).
    pub(crate) fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Forgets the text read so far (what an element's [`Node::Close`] would carry).
    pub(crate) fn clear_text(&mut self) {
        self.text.clear();
    }

    /// The next element opening or closing; None at the end of a complete document.
    pub(crate) fn next(&mut self) -> Result<Option<Node>, S3Error> {
        if let Some(name) = self.opened.take() {
            self.stack.push(name);
            self.text.clear();
        }
        loop {
            let event = self
                .reader
                .read_event()
                .map_err(|_| malformed_xml("the document is not well-formed"))?;
            check_request_event(&event, self.stack.len())?;
            match event {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_vec();
                    self.opened = Some(name.clone());
                    return Ok(Some(Node::Open { name, empty: false }));
                }
                Event::Empty(e) => {
                    let name = e.local_name().as_ref().to_vec();
                    return Ok(Some(Node::Open { name, empty: true }));
                }
                Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) => {
                    push_text(&mut self.text, &event)?
                }
                Event::End(_) => return self.close().map(Some),
                Event::Eof if self.stack.is_empty() => return Ok(None),
                Event::Eof => return Err(malformed_xml("the document ends early")),
                _ => {}
            }
        }
    }

    fn close(&mut self) -> Result<Node, S3Error> {
        let name = self
            .stack
            .pop()
            .ok_or_else(|| malformed_xml("unbalanced elements"))?;
        let text = std::mem::take(&mut self.text);
        Ok(Node::Close { name, text })
    }
}

/// The checks every request body gets, event by event: no DOCTYPE (so no entity declarations:
/// entities are never expanded, a billion-laughs body is refused at its DTD) and a bounded
/// nesting depth. The body's size is bounded before parsing (`Plan::NeedBody`'s limit).
fn check_request_event(event: &Event<'_>, depth: usize) -> Result<(), S3Error> {
    match event {
        Event::DocType(_) => Err(malformed_xml(
            "a DOCTYPE (DTD or entity declaration) is not allowed",
        )),
        Event::Start(_) if depth >= MAX_REQUEST_XML_DEPTH => {
            Err(malformed_xml("the elements are nested too deeply"))
        }
        _ => Ok(()),
    }
}

/// Appends the character data of a Text, entity reference or CDATA event of a request body to
/// `text`, refusing what the gateway could not forward as it was parsed (control characters,
/// unknown entities). Other events add nothing.
fn push_text(text: &mut String, event: &Event<'_>) -> Result<(), S3Error> {
    match event {
        Event::Text(t) => text.push_str(xml_chars(
            &t.decode().map_err(|_| malformed_xml("bad text"))?,
        )?),
        Event::GeneralRef(r) => {
            text.push(resolve_ref(r).ok_or_else(|| malformed_xml("unknown entity"))?);
        }
        Event::CData(c) => text.push_str(xml_chars(&String::from_utf8_lossy(c))?),
        _ => {}
    }
    Ok(())
}

/// Raw text as XML 1.0 allows it: no NUL or other control character but tab, LF and CR (S3
/// answers MalformedXML). A control character other than NUL may still come as a character
/// reference (`&#x1;`), which is how the gateway writes one: what it forwards parses back to
/// exactly what it parsed (found by the xml_delete and xml_complete fuzz targets).
fn xml_chars(s: &str) -> Result<&str, S3Error> {
    if s.chars()
        .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(malformed_xml(
            "the text holds a control character XML cannot carry",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
