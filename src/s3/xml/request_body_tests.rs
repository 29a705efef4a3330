use super::*;

/// The classic billion-laughs document with `root` as its element.
pub(super) fn entity_bomb(root: &str) -> String {
    let mut dtd = String::from("<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    format!("<?xml version=\"1.0\"?><!DOCTYPE {root} [{dtd}]><{root}>&lol9;</{root}>")
}

#[test]
fn an_entity_bomb_is_malformed_xml_for_every_request_body_parser() {
    let delete = entity_bomb("Delete").replace("&lol9;", "<Object><Key>&lol9;</Key></Object>");
    assert_eq!(
        parse_delete(delete.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
    let complete = entity_bomb("CompleteMultipartUpload").replace(
        "&lol9;",
        "<Part><PartNumber>1</PartNumber><ETag>&lol9;</ETag></Part>",
    );
    assert_eq!(
        parse_complete(complete.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
}

#[test]
fn a_doctype_is_refused_even_when_no_entity_is_used() {
    let delete = "<!DOCTYPE Delete [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                      <Delete><Object><Key>k</Key></Object></Delete>";
    assert_eq!(
        parse_delete(delete.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
    let complete = "<!DOCTYPE CompleteMultipartUpload>\
                        <CompleteMultipartUpload><Part><PartNumber>1</PartNumber>\
                        <ETag>\"e\"</ETag></Part></CompleteMultipartUpload>";
    assert_eq!(
        parse_complete(complete.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
}

#[test]
fn an_undeclared_entity_reference_is_malformed_xml() {
    let delete = "<Delete><Object><Key>&xxe;</Key></Object></Delete>";
    assert_eq!(
        parse_delete(delete.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
}

#[test]
fn deeply_nested_request_bodies_are_malformed_xml() {
    let deep = format!(
        "<Delete>{}{}<Object><Key>k</Key></Object></Delete>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    assert_eq!(
        parse_delete(deep.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
    let deep = deep.replace("Delete", "CompleteMultipartUpload");
    assert_eq!(
        parse_complete(deep.as_bytes()).unwrap_err().code,
        ErrorCode::MalformedXML
    );
    // The documents S3 defines still parse, with their declaration and namespace.
    let ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                  <Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                  <Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>";
    let d = parse_delete(ok.as_bytes()).unwrap();
    assert_eq!(d.objects, vec![("a&b".to_string(), Some("v".to_string()))]);
}
