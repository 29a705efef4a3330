use super::*;

const B: &str = "XyZzY";

fn field(name: &str, value: &str) -> String {
    format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
}

fn file_head(filename: &str) -> String {
    format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
    )
}

fn close() -> String {
    format!("\r\n--{B}--\r\n")
}

/// Feeds `body` in `step`-byte chunks the way a runtime does; returns the form and the bytes
/// left unread.
fn read(body: &[u8], step: usize) -> (Result<PostForm, S3Error>, Vec<u8>) {
    let mut r = FormReader::new(B, body.len() as u64);
    let mut at = 0;
    loop {
        if at >= body.len() {
            r.end();
            break;
        }
        let end = (at + step).min(body.len());
        let stop = r.push(&body[at..end]);
        at = end;
        if stop {
            break;
        }
    }
    (r.finish(), body[at..].to_vec())
}

/// Runs the file body check over the unread rest, in `step`-byte chunks.
fn stream(body: &mut FormBody, rest: &[u8], step: usize) -> Result<Vec<u8>, S3Error> {
    let mut out = Vec::new();
    for c in rest.chunks(step.max(1)) {
        if let Some(b) = body.push(Bytes::copy_from_slice(c))? {
            out.extend_from_slice(&b);
        }
    }
    if let Some(b) = body.finish()? {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

fn upload(body: &[u8], step: usize) -> Result<(PostForm, Vec<u8>), S3Error> {
    let (form, rest) = read(body, step);
    let form = form?;
    let (len, mut check) = form.file_body()?;
    let out = stream(&mut check, &rest, step)?;
    assert_eq!(
        out.len() as u64,
        len,
        "the announced length is what streams"
    );
    Ok((form, out))
}

fn big_file(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn fields_and_file_are_found_whatever_the_chunking() {
    let file = big_file(200_000);
    let mut body = format!(
        "{}{}{}",
        field("key", "a/${filename}"),
        field("Content-Type", "text/plain"),
        file_head("C:\\dir\\x.txt")
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(close().as_bytes());
    for step in [1, 2, 7, 64, 4096, body.len()] {
        let (form, out) = upload(&body, step).unwrap();
        assert_eq!(form.field("key").as_deref(), Some("a/${filename}"));
        assert_eq!(
            form.field("content-type").as_deref(),
            Some("text/plain"),
            "names are lowercased"
        );
        assert_eq!(form.base_filename(), "x.txt");
        assert_eq!(out, file, "step {step}");
    }
}

#[test]
fn a_small_form_is_read_whole_and_fields_after_the_file_are_ignored() {
    let body = format!(
        "{}{}hello\r\n--{B}\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nUpload\r\n--{B}--\r\n",
        field("key", "k"),
        file_head("a.txt"),
    );
    for step in [1, 3, 1000] {
        let (form, rest) = read(body.as_bytes(), step);
        assert!(rest.is_empty(), "a small body is read whole");
        let form = form.unwrap();
        let (len, mut check) = form.file_body().unwrap();
        assert_eq!(len, 5);
        assert_eq!(stream(&mut check, &[], 1).unwrap(), b"hello");
    }
}

#[test]
fn an_empty_file_and_a_missing_final_crlf_are_accepted_in_a_small_form() {
    let body = format!("{}{}\r\n--{B}--", field("key", "k"), file_head(""));
    let (form, out) = upload(body.as_bytes(), 5).unwrap();
    assert!(out.is_empty());
    assert_eq!(form.base_filename(), "");
}

#[test]
fn a_quoted_boundary_with_parameters_is_understood() {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        "multipart/form-data; charset=utf-8; boundary=\"a b=c\""
            .parse()
            .unwrap(),
    );
    assert_eq!(boundary(&h).unwrap(), "a b=c");
    h.insert(
        http::header::CONTENT_TYPE,
        "multipart/form-data; BOUNDARY=xyz".parse().unwrap(),
    );
    assert_eq!(boundary(&h).unwrap(), "xyz");
    h.insert(
        http::header::CONTENT_TYPE,
        "multipart/form-data".parse().unwrap(),
    );
    assert_eq!(
        boundary(&h).unwrap_err().code,
        ErrorCode::MalformedPOSTRequest
    );
}

#[test]
fn a_large_body_whose_end_is_not_the_closing_boundary_is_refused_before_its_last_bytes() {
    let file = big_file(100_000);
    let mut body = format!("{}{}", field("key", "k"), file_head("a")).into_bytes();
    body.extend_from_slice(&file);
    // A field after the file: the length computed from Content-Length is wrong.
    body.extend_from_slice(
        format!(
            "\r\n--{B}\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nGo\r\n--{B}--\r\n"
        )
        .as_bytes(),
    );
    let (form, rest) = read(&body, 8192);
    let (len, mut check) = form.unwrap().file_body().unwrap();
    let mut released = 0u64;
    let mut failed = None;
    for c in rest.chunks(8192) {
        match check.push(Bytes::copy_from_slice(c)) {
            Ok(out) => released += out.map_or(0, |b| b.len() as u64),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.or_else(|| check.finish().err()).expect("refused");
    assert_eq!(err.code, ErrorCode::MalformedPOSTRequest);
    assert!(released < len, "the file's end is never released");
}

#[test]
fn a_truncated_body_never_releases_the_files_end() {
    let file = big_file(100_000);
    let mut body = format!("{}{}", field("key", "k"), file_head("a")).into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(close().as_bytes());
    let (form, rest) = read(&body, 4096);
    let (len, mut check) = form.unwrap().file_body().unwrap();
    let cut = &rest[..rest.len() - 30];
    let mut released = 0u64;
    for c in cut.chunks(4096) {
        released += check
            .push(Bytes::copy_from_slice(c))
            .unwrap()
            .map_or(0, |b| b.len() as u64);
    }
    assert!(released < len);
    assert_eq!(check.finish().unwrap_err().code, ErrorCode::IncompleteBody);
}

#[test]
fn a_form_without_a_file_or_with_oversized_fields_or_bad_framing_is_refused() {
    let body = format!("{}--{B}--\r\n", field("key", "k"));
    let (form, _) = read(body.as_bytes(), 4);
    assert_eq!(
        form.unwrap_err().code,
        ErrorCode::IncorrectNumberOfFilesInPostRequest
    );

    let big = "v".repeat(MAX_PREAMBLE + 10);
    let mut body = format!("{}{}", field("key", &big), file_head("a")).into_bytes();
    body.extend_from_slice(&big_file(10));
    body.extend_from_slice(close().as_bytes());
    let (form, _) = read(&body, 1000);
    assert_eq!(
        form.unwrap_err().code,
        ErrorCode::MaxPostPreDataLengthExceededError
    );

    let body = format!("--other\r\n{}", file_head("a"));
    let (form, _) = read(body.as_bytes(), 100);
    assert_eq!(form.unwrap_err().code, ErrorCode::MalformedPOSTRequest);

    let body = format!("{}{}abc", field("key", "k"), file_head("a"));
    let mut r = FormReader::new(B, body.len() as u64 + 100);
    r.push(body.as_bytes());
    r.end();
    assert_eq!(
        r.finish().unwrap_err().code,
        ErrorCode::IncompleteBody,
        "a small body cut short"
    );
}

#[test]
fn repeated_fields_join_with_commas_and_escaped_names_are_unquoted() {
    let body = format!(
        "{}{}--{B}\r\ncontent-disposition: form-data; name=\"x-amz-meta-q\\\"\"\r\n\r\nv\r\n{}data{}",
        field("x-amz-meta-tag", "Ninja"),
        field("x-amz-meta-tag", "Stallman"),
        file_head("f"),
        close()
    );
    let (form, _) = upload(body.as_bytes(), 9).unwrap();
    assert_eq!(
        form.field("x-amz-meta-tag").as_deref(),
        Some("Ninja,Stallman")
    );
    assert_eq!(form.field("x-amz-meta-q\"").as_deref(), Some("v"));
    assert_eq!(form.names(), vec!["x-amz-meta-tag", "x-amz-meta-q\""]);
}

#[test]
fn a_boundary_inside_the_file_is_found_even_split_across_chunks() {
    let mut file = big_file(70_000);
    let inner = format!("\r\n--{B}\r\n");
    file.splice(40_000..40_000, inner.bytes());
    let mut body = format!("{}{}", field("key", "k"), file_head("a")).into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(close().as_bytes());
    for step in [1, 2, 5, 11, 4096] {
        let (form, rest) = read(&body, step);
        let (_, mut check) = form.unwrap().file_body().unwrap();
        let err = stream(&mut check, &rest, step).unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedPOSTRequest, "step {step}");
    }
}
