use super::*;
use crate::s3::ErrorCode;

fn walk(body: &str) -> Result<Vec<(usize, Node)>, S3Error> {
    let mut xml = BodyReader::new(body.as_bytes());
    let mut out = Vec::new();
    while let Some(node) = xml.next()? {
        out.push((xml.depth(), node));
    }
    Ok(out)
}

fn open(name: &str, empty: bool) -> Node {
    Node::Open {
        name: name.into(),
        empty,
    }
}

fn close(name: &str, text: &str) -> Node {
    Node::Close {
        name: name.into(),
        text: text.into(),
    }
}

#[test]
fn a_body_walks_as_opens_and_closes_with_text_and_depth() {
    let nodes =
        walk("<?xml version=\"1.0\"?><a:R xmlns:a=\"n\"><K>x&amp;<![CDATA[y]]></K><E/></a:R>")
            .unwrap();
    assert_eq!(
        nodes,
        vec![
            (0, open("R", false)),
            (1, open("K", false)),
            (1, close("K", "x&y")),
            (1, open("E", true)),
            (0, close("R", "")),
        ]
    );
}

#[test]
fn every_refusal_of_the_reader_is_malformed_xml() {
    for body in [
        "<R><K>",
        "<R></K>",
        "<!DOCTYPE R><R/>",
        "<R>&xxe;</R>",
        "<R>\u{1}</R>",
        &format!("{}{}", "<a>".repeat(9), "</a>".repeat(9)),
    ] {
        let err = walk(body).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedXML, "{body}");
    }
    assert!(walk("").unwrap().is_empty());
}
