//! A backend's `<Error>` document, read for its code and message.

use super::*;

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
