//! The gateway's own records of multipart uploads on R2 buckets, so that ListParts and
//! ListMultipartUploads can be answered (the R2 binding cannot list uploads or parts).
//!
//! Records are empty R2 objects whose `customMetadata` carries the facts, under a reserved
//! prefix inside the bucket's backend prefix ([`RESERVED`], hidden from listings and refused as
//! a client key):
//!
//! ```text
//! {backend_prefix}.multistore/uploads/{client key}\u{1}{uploadId}   key, upload-id, initiated
//! {backend_prefix}.multistore/parts/{uploadId}/{partNumber:05}      etag, size, modified[, checksum-*]
//! ```
//!
//! Upload records sort by client key (U+0001 sorts below any printable character, so `a` comes
//! before `a.txt` and `a/b`), which lets one R2 `list` with a prefix answer ListMultipartUploads
//! in S3's order; part records sort by part number. Each record is written by one `put` of its
//! own after the binding call succeeded (CreateMultipartUpload, UploadPart, UploadPartCopy):
//! no read-modify-write, so parts uploaded in parallel never lose each other's record, and a
//! part uploaded again replaces its record. Complete and Abort delete the upload's records
//! (best effort: a failed cleanup does not fail the request).

use http::StatusCode;

use super::wire::{iso8601_ms, xml_response};
use super::{R2Listing, R2Object};
use crate::s3::params::int_param;
use crate::s3::request::S3Request;
use crate::s3::xml::MAX_PARTS;
use crate::s3::xml::{push_leaf as leaf, url_encode_key, S3_NS};
use crate::s3::S3Error;

/// The reserved prefix (inside the backend prefix) where the gateway keeps its records.
pub(crate) const RESERVED: &str = ".multistore/";

/// Separates the client key from the upload id in an upload record's key.
const SEP: char = '\u{1}';

/// Most entries one listing returns (S3's and R2's cap).
const MAX: u32 = 1000;

/// Whether a client key falls under the reserved prefix.
pub(crate) fn is_reserved(client_key: &str) -> bool {
    client_key.starts_with(RESERVED)
}

/// The error for a client key under the reserved prefix.
pub(crate) fn reserved_key_error() -> S3Error {
    S3Error::invalid_argument(format!(
        "keys starting with '{RESERVED}' are reserved by the gateway on R2 buckets (it keeps its multipart upload records there)"
    ))
    .with_detail("ArgumentName", "key")
}

/// Where upload records of keys starting with `client_prefix` live.
pub(super) fn uploads_prefix(prefix: &str, client_prefix: &str) -> String {
    format!("{prefix}{RESERVED}uploads/{client_prefix}")
}

/// The record of one upload.
pub(super) fn upload_record(prefix: &str, client_key: &str, upload_id: &str) -> String {
    format!("{}{SEP}{upload_id}", uploads_prefix(prefix, client_key))
}

/// Where the part records of an upload live.
pub(super) fn parts_prefix(prefix: &str, upload_id: &str) -> String {
    format!("{prefix}{RESERVED}parts/{upload_id}/")
}

/// The record of one part.
pub(super) fn part_record(prefix: &str, upload_id: &str, part_number: u16) -> String {
    format!("{}{part_number:05}", parts_prefix(prefix, upload_id))
}

/// `customMetadata` of an upload record.
pub(super) fn upload_meta(client_key: &str, upload_id: &str, now_ms: i64) -> Vec<(String, String)> {
    vec![
        ("key".into(), client_key.into()),
        ("upload-id".into(), upload_id.into()),
        ("initiated".into(), now_ms.to_string()),
    ]
}

/// `customMetadata` of a part record; `checksum` is `(algorithm, value)` as sent by the client.
pub(super) fn part_meta(
    etag: &str,
    size: u64,
    now_ms: i64,
    checksum: Option<&(String, String)>,
) -> Vec<(String, String)> {
    let mut m = vec![
        ("etag".into(), etag.trim_matches('"').to_string()),
        ("size".into(), size.to_string()),
        ("modified".into(), now_ms.to_string()),
    ];
    if let Some((alg, value)) = checksum {
        m.push((format!("checksum-{alg}"), value.clone()));
    }
    m
}

fn meta<'a>(o: &'a R2Object, name: &str) -> Option<&'a str> {
    o.custom
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn meta_ms(o: &R2Object, name: &str) -> i64 {
    meta(o, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(o.uploaded_ms)
}

/// ListParts parameters: `(start_after, limit)` of the parts listing, and the echo.
pub(super) fn list_parts_params(
    req: &S3Request,
    prefix: &str,
    upload_id: &str,
) -> Result<(Option<String>, u32, PartsEcho), S3Error> {
    let marker = int_param(req, "part-number-marker", 0, u32::from(MAX_PARTS))?;
    let max_parts = int_param(req, "max-parts", MAX, MAX)?.max(1);
    let start_after = (marker > 0).then(|| {
        part_record(
            prefix,
            upload_id,
            u16::try_from(marker).unwrap_or(MAX_PARTS),
        )
    });
    Ok((
        start_after,
        max_parts,
        PartsEcho {
            marker,
            max_parts,
            upload_id: upload_id.to_string(),
        },
    ))
}

/// What a ListParts answer echoes.
#[derive(Debug, Default)]
pub(super) struct PartsEcho {
    marker: u32,
    max_parts: u32,
    upload_id: String,
}

/// The `<ListPartsResult>` of an upload's part records.
pub(super) fn list_parts_response(
    bucket: &str,
    client_key: &str,
    parts_prefix: &str,
    echo: &PartsEcho,
    listing: &R2Listing,
    request_id: &str,
) -> http::Response<bytes::Bytes> {
    let parts: Vec<(u16, &R2Object)> = listing
        .objects
        .iter()
        .filter_map(|o| {
            let n = o.key.strip_prefix(parts_prefix)?.parse::<u16>().ok()?;
            Some((n, o))
        })
        .take(usize::try_from(echo.max_parts).unwrap_or(usize::MAX))
        .collect();
    let truncated = listing.truncated || parts.len() < listing.objects.len();
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"{S3_NS}\">");
    leaf(&mut out, "Bucket", bucket);
    leaf(&mut out, "Key", client_key);
    leaf(&mut out, "UploadId", &echo.upload_id);
    leaf(&mut out, "StorageClass", "STANDARD");
    leaf(&mut out, "PartNumberMarker", &echo.marker.to_string());
    if let Some((n, _)) = parts.last() {
        leaf(&mut out, "NextPartNumberMarker", &n.to_string());
    }
    leaf(&mut out, "MaxParts", &echo.max_parts.to_string());
    leaf(
        &mut out,
        "IsTruncated",
        if truncated { "true" } else { "false" },
    );
    for (n, o) in &parts {
        out.push_str("<Part>");
        leaf(&mut out, "PartNumber", &n.to_string());
        leaf(
            &mut out,
            "LastModified",
            &iso8601_ms(meta_ms(o, "modified")),
        );
        leaf(
            &mut out,
            "ETag",
            &format!("\"{}\"", meta(o, "etag").unwrap_or_default()),
        );
        leaf(&mut out, "Size", meta(o, "size").unwrap_or("0"));
        for (k, v) in &o.custom {
            if let Some(alg) = k.strip_prefix("checksum-") {
                leaf(
                    &mut out,
                    &format!("Checksum{}", alg.to_ascii_uppercase()),
                    v,
                );
            }
        }
        out.push_str("</Part>");
    }
    out.push_str("</ListPartsResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// What a ListMultipartUploads answer echoes, and how to group.
#[derive(Debug, Default)]
pub(super) struct UploadsEcho {
    prefix: String,
    delimiter: Option<String>,
    key_marker: Option<String>,
    upload_id_marker: Option<String>,
    max_uploads: u32,
    url: bool,
}

/// ListMultipartUploads parameters: the R2 listing `(prefix, start_after, limit)` (None when
/// `max-uploads=0`) and the echo.
#[allow(clippy::type_complexity)]
pub(super) fn list_uploads_params(
    req: &S3Request,
    prefix: &str,
) -> Result<(Option<(String, Option<String>, u32)>, UploadsEcho), S3Error> {
    let max_uploads = int_param(req, "max-uploads", MAX, MAX)?;
    let url = match req.query_param("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => {
            return Err(
                S3Error::invalid_argument("Invalid Encoding Method specified in Request")
                    .with_detail("ArgumentName", "encoding-type"),
            )
        }
    };
    let nonempty = |n: &str| {
        req.query_param(n)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let echo = UploadsEcho {
        prefix: req.query_param("prefix").unwrap_or("").to_string(),
        delimiter: nonempty("delimiter"),
        key_marker: nonempty("key-marker"),
        upload_id_marker: nonempty("upload-id-marker"),
        max_uploads,
        url,
    };
    if max_uploads == 0 {
        return Ok((None, echo));
    }
    let start_after = echo.key_marker.as_ref().map(|km| {
        let rolled_up = echo.delimiter.as_deref().is_some_and(|d| km.ends_with(d));
        match (&echo.upload_id_marker, rolled_up) {
            // A common prefix: continue after everything under it.
            (_, true) => format!("{}{}", uploads_prefix(prefix, km), char::MAX),
            (Some(id), false) => upload_record(prefix, km, id),
            // After every upload of the key (upload ids are ASCII).
            (None, false) => format!("{}{SEP}{}", uploads_prefix(prefix, km), char::MAX),
        }
    });
    // Grouping by delimiter happens here, not in R2 (the client's delimiter may occur in the
    // record's suffix): read a full page so rolled-up prefixes still make progress.
    let limit = if echo.delimiter.is_some() {
        MAX
    } else {
        max_uploads
    };
    Ok((
        Some((uploads_prefix(prefix, &echo.prefix), start_after, limit)),
        echo,
    ))
}

enum Entry<'a> {
    Upload {
        key: String,
        id: String,
        record: &'a R2Object,
    },
    Prefix(String),
}

/// The `<ListMultipartUploadsResult>` of a listing of upload records.
pub(super) fn list_uploads_response(
    bucket: &str,
    prefix: &str,
    echo: &UploadsEcho,
    listing: &R2Listing,
    request_id: &str,
) -> http::Response<bytes::Bytes> {
    let (entries, truncated) = upload_entries(prefix, echo, listing);
    let enc = |s: &str| {
        if echo.url {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultipartUploadsResult xmlns=\"{S3_NS}\">"
    );
    leaf(&mut out, "Bucket", bucket);
    leaf(
        &mut out,
        "KeyMarker",
        &enc(echo.key_marker.as_deref().unwrap_or("")),
    );
    leaf(
        &mut out,
        "UploadIdMarker",
        echo.upload_id_marker.as_deref().unwrap_or(""),
    );
    if truncated {
        match entries.last() {
            Some(Entry::Upload { key, id, .. }) => {
                leaf(&mut out, "NextKeyMarker", &enc(key));
                leaf(&mut out, "NextUploadIdMarker", id);
            }
            Some(Entry::Prefix(p)) => leaf(&mut out, "NextKeyMarker", &enc(p)),
            None => {}
        }
    }
    if echo.url {
        leaf(&mut out, "EncodingType", "url");
    }
    if let Some(d) = &echo.delimiter {
        leaf(&mut out, "Delimiter", &enc(d));
    }
    leaf(&mut out, "Prefix", &enc(&echo.prefix));
    leaf(&mut out, "MaxUploads", &echo.max_uploads.to_string());
    leaf(
        &mut out,
        "IsTruncated",
        if truncated { "true" } else { "false" },
    );
    push_uploads(&mut out, &entries, &enc);
    out.push_str("</ListMultipartUploadsResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// The page of uploads and rolled-up prefixes the records listing gives (at most
/// `max-uploads`), and whether more follow.
fn upload_entries<'l>(
    prefix: &str,
    echo: &UploadsEcho,
    listing: &'l R2Listing,
) -> (Vec<Entry<'l>>, bool) {
    let base = uploads_prefix(prefix, "");
    let mut entries: Vec<Entry<'_>> = Vec::new();
    let mut consumed = 0;
    let max = usize::try_from(echo.max_uploads).unwrap_or(usize::MAX);
    for o in &listing.objects {
        let Some(rest) = o.key.strip_prefix(&base) else {
            consumed += 1;
            continue;
        };
        let (parsed_key, parsed_id) = rest.rsplit_once(SEP).unwrap_or((rest, ""));
        let key = meta(o, "key").unwrap_or(parsed_key).to_string();
        let id = meta(o, "upload-id").unwrap_or(parsed_id).to_string();
        let rolled = echo.delimiter.as_deref().and_then(|d| {
            let after = key.strip_prefix(echo.prefix.as_str())?;
            let i = after.find(d)?;
            Some(format!("{}{}", echo.prefix, &after[..i + d.len()]))
        });
        match rolled {
            Some(cp) => {
                if matches!(entries.last(), Some(Entry::Prefix(p)) if *p == cp) {
                    consumed += 1;
                    continue;
                }
                if entries.len() == max {
                    break;
                }
                entries.push(Entry::Prefix(cp));
            }
            None => {
                if entries.len() == max {
                    break;
                }
                entries.push(Entry::Upload { key, id, record: o });
            }
        }
        consumed += 1;
    }
    let truncated = listing.truncated || consumed < listing.objects.len();
    (entries, truncated)
}

/// The `<Upload>`s (sorted as S3 sorts them) and `<CommonPrefixes>` of a page.
fn push_uploads(out: &mut String, entries: &[Entry<'_>], enc: &dyn Fn(&str) -> String) {
    // R2 orders one key's uploads by id; S3 by initiation time: sort within each key.
    let mut uploads: Vec<(&str, &str, i64)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Upload { key, id, record } => {
                Some((key.as_str(), id.as_str(), meta_ms(record, "initiated")))
            }
            Entry::Prefix(_) => None,
        })
        .collect();
    uploads.sort_by(|a, b| a.0.cmp(b.0).then(a.2.cmp(&b.2)));
    for (key, id, initiated) in uploads {
        out.push_str("<Upload>");
        leaf(out, "Key", &enc(key));
        leaf(out, "UploadId", id);
        leaf(out, "StorageClass", "STANDARD");
        leaf(out, "Initiated", &iso8601_ms(initiated));
        out.push_str("</Upload>");
    }
    for e in entries {
        if let Entry::Prefix(p) = e {
            out.push_str("<CommonPrefixes>");
            leaf(out, "Prefix", &enc(p));
            out.push_str("</CommonPrefixes>");
        }
    }
}
