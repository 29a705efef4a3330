//! The rewrite of a backend's answers (listings, multipart documents) into the client's
//! namespace: the bucket renamed and `backend_prefix` stripped, entries outside the prefix
//! dropped, every other element passed through.

use super::*;

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
pub(super) const RECORDS: &[&[u8]] = &[
    b"Contents",
    b"Upload",
    b"CommonPrefixes",
    b"Version",
    b"DeleteMarker",
];
/// Elements whose text names a bucket.
pub(super) const BUCKET_LEAVES: &[&[u8]] = &[b"Name", b"Bucket"];
/// Elements whose text is a key or key prefix.
pub(super) const KEY_LEAVES: &[&[u8]] = &[
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
pub(super) const URL_LEAVES: &[&[u8]] = &[b"Location"];

pub(super) fn malformed() -> S3Error {
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
pub(super) fn fix_key_count(out: Vec<u8>, dropped: usize) -> Vec<u8> {
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
pub(super) struct Rewriter<'a> {
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
