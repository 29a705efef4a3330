//! Listings of an R2 bucket: the `list` call of a ListObjects(V2), the ListBucketResult
//! rendered from R2's answer (the gateway's records left out), and DeleteObjects' result.

use base64::Engine as _;
use bytes::Bytes;
use http::{Response, StatusCode};

use super::wire::{iso8601_ms, quoted_etag, xml_response};
use super::ListEcho;
use super::{is_reserved, R2Call, R2Listing, R2Object, Render, MAX_KEYS, RESERVED};
use crate::s3::error::push_escaped;
use crate::s3::params::int_param;
use crate::s3::request::{Operation, S3Request};
use crate::s3::xml::{self, push_leaf as leaf, url_encode_key, S3_NS};
use crate::s3::S3Error;

/// The R2 `list` call of a ListObjects(V2) request; None when `max-keys=0`.
pub(super) fn list_call(
    req: &S3Request,
    prefix: &str,
    v2: bool,
) -> Result<(Option<R2Call>, ListEcho), S3Error> {
    let max_keys = int_param(req, "max-keys", MAX_KEYS, MAX_KEYS)?;
    let client_prefix = req.query_param("prefix").unwrap_or("").to_string();
    let delimiter = req
        .query_param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let url = url_encoding(req)?;
    let token = if v2 {
        req.query_param("continuation-token").map(str::to_string)
    } else {
        None
    };
    let mut cursor = match &token {
        Some(t) => Some(unwrap_token(t)?),
        None => None,
    };
    // Our own token (a listing that skipped the gateway's records): a start-after key.
    let jump = cursor
        .as_deref()
        .and_then(|c| c.strip_prefix(JUMP))
        .map(str::to_string);
    if jump.is_some() {
        cursor = None;
    }
    let start_after = if v2 {
        req.query_param("start-after")
    } else {
        req.query_param("marker")
    }
    .filter(|s| !s.is_empty())
    .map(str::to_string);
    let echo = ListEcho {
        prefix: client_prefix.clone(),
        delimiter: delimiter.clone(),
        max_keys,
        url,
        start_after: start_after.clone(),
        continuation_token: token,
    };
    if max_keys == 0 {
        return Ok((None, echo));
    }
    // A cursor supersedes start-after, as a continuation token does in S3.
    let r2_start_after = if cursor.is_some() {
        None
    } else if jump.is_some() {
        jump
    } else {
        start_after.map(|m| {
            let mut m = format!("{prefix}{m}");
            // A V1 NextMarker that is a common prefix: continue after everything under it, as
            // S3 does (R2 would roll the following keys up into the same prefix again).
            if !v2 && delimiter.as_deref().is_some_and(|d| m.ends_with(d)) {
                m.push(char::MAX);
            }
            m
        })
    };
    Ok((
        Some(R2Call::List {
            prefix: format!("{prefix}{client_prefix}"),
            delimiter,
            cursor,
            start_after: r2_start_after,
            limit: max_keys,
            v2,
        }),
        echo,
    ))
}

/// `encoding-type`: `url` (keys are encoded in the answer) or absent.
fn url_encoding(req: &S3Request) -> Result<bool, S3Error> {
    match req.query_param("encoding-type") {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(
            S3Error::invalid_argument("Invalid Encoding Method specified in Request")
                .with_detail("ArgumentName", "encoding-type"),
        ),
    }
}

/// A listing the gateway answers itself from sorted common prefixes (an account's products,
/// under path mapping), paged as R2 listings are: `max-keys`, `start-after` / `marker` and
/// continuation tokens (the last prefix returned, wrapped).
pub(crate) fn prefixes_listing(
    req: &S3Request,
    client_bucket: &str,
    entries: &[String],
    request_id: &str,
) -> Result<Response<Bytes>, S3Error> {
    let v2 = req.operation == Operation::ListObjectsV2;
    let (call, echo) = list_call(req, "", v2)?;
    let mut listing = R2Listing::default();
    if let Some(R2Call::List {
        cursor,
        start_after,
        limit,
        ..
    }) = call
    {
        let after = cursor.or(start_after);
        let mut rest = entries
            .iter()
            .filter(|e| after.as_deref().is_none_or(|a| e.as_str() > a));
        listing.delimited_prefixes = rest.by_ref().take(limit as usize).cloned().collect();
        listing.truncated = rest.next().is_some();
        if listing.truncated {
            listing.cursor = listing.delimited_prefixes.last().cloned();
        }
    }
    let render = Render {
        client_bucket: client_bucket.to_string(),
        list: Some(echo),
        ..Render::default()
    };
    Ok(listing_response(&render, &listing, v2, request_id))
}

/// Starts a continuation token that holds an R2 `startAfter` key instead of R2's cursor.
pub(super) const JUMP: char = '\u{0}';

/// A V2 continuation token: R2's cursor, base64url so clients treat it as opaque.
pub(super) fn wrap_cursor(cursor: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor.as_bytes())
}

pub(super) fn unwrap_token(token: &str) -> Result<String, S3Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('=').as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument("The continuation token provided is incorrect")
                .with_detail("ArgumentName", "continuation-token")
        })
}

/// The `<DeleteResult>` of a DeleteObjects.
pub(super) fn delete_result(render: &Render, request_id: &str) -> Response<Bytes> {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{S3_NS}\">");
    if let Some(d) = &render.delete {
        if !d.quiet {
            for k in &d.keys {
                out.push_str("<Deleted><Key>");
                push_escaped(&mut out, k);
                out.push_str("</Key></Deleted>");
            }
        }
        out.push_str(&xml::delete_errors_xml(&d.errors));
    }
    out.push_str("</DeleteResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// A ListBucketResult (V1 or V2) in the client's namespace.
pub(super) fn listing_response(
    render: &Render,
    listing: &R2Listing,
    v2: bool,
    request_id: &str,
) -> Response<Bytes> {
    let default = ListEcho::default();
    let echo = render.list.as_ref().unwrap_or(&default);
    let enc = |s: &str| {
        if echo.url {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let page = Page::of(&render.prefix, listing);
    let mut out = String::with_capacity(512 + page.objects.len() * 256);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"");
    out.push_str(S3_NS);
    out.push_str("\"><Name>");
    push_escaped(&mut out, &render.client_bucket);
    out.push_str("</Name>");
    if echo.url {
        out.push_str("<EncodingType>url</EncodingType>");
    }
    leaf(&mut out, "Prefix", &enc(&echo.prefix));
    if v2 {
        if let Some(t) = &echo.continuation_token {
            leaf(&mut out, "ContinuationToken", t);
        }
        if let Some(s) = &echo.start_after {
            leaf(&mut out, "StartAfter", &enc(s));
        }
        let count = page.objects.len() + page.prefixes.len();
        leaf(&mut out, "KeyCount", &count.to_string());
    } else {
        let marker = echo.start_after.as_deref().unwrap_or("");
        leaf(&mut out, "Marker", &enc(marker));
    }
    leaf(&mut out, "MaxKeys", &echo.max_keys.to_string());
    if let Some(d) = &echo.delimiter {
        leaf(&mut out, "Delimiter", &enc(d));
    }
    let truncated = if listing.truncated { "true" } else { "false" };
    leaf(&mut out, "IsTruncated", truncated);
    page.push_next(&mut out, echo, listing, v2, &render.prefix, &enc);
    page.push_entries(&mut out, &enc);
    out.push_str("</ListBucketResult>");
    xml_response(StatusCode::OK, out, request_id)
}

/// What of an R2 listing page the client sees.
struct Page<'l> {
    /// Objects under the backend prefix, with their keys in the client's namespace.
    objects: Vec<(&'l str, &'l R2Object)>,
    /// Common prefixes, likewise.
    prefixes: Vec<&'l str>,
    /// The page ended among the gateway's records.
    skip_records: bool,
}

impl<'l> Page<'l> {
    fn of(prefix: &str, listing: &'l R2Listing) -> Page<'l> {
        // Keys outside the backend prefix, its own folder marker and the gateway's records are
        // not the client's.
        let objects = listing
            .objects
            .iter()
            .filter_map(|o| o.key.strip_prefix(prefix).map(|k| (k, o)))
            .filter(|(k, _)| (!k.is_empty() || prefix.is_empty()) && !is_reserved(k))
            .collect();
        let prefixes = listing
            .delimited_prefixes
            .iter()
            .filter_map(|p| p.strip_prefix(prefix))
            .filter(|p| !p.is_empty() && !is_reserved(p))
            .collect();
        // A truncated page that ended among the records: continue after all of them rather
        // than page through records the client never sees.
        let last_r2 = listing
            .objects
            .last()
            .map(|o| o.key.as_str())
            .max(listing.delimited_prefixes.last().map(String::as_str));
        let skip_records = listing.truncated
            && last_r2
                .and_then(|k| k.strip_prefix(prefix))
                .is_some_and(is_reserved);
        Page {
            objects,
            prefixes,
            skip_records,
        }
    }

    /// Where the next page starts: `NextContinuationToken` (V2) or `NextMarker` (V1).
    fn push_next(
        &self,
        out: &mut String,
        echo: &ListEcho,
        listing: &R2Listing,
        v2: bool,
        prefix: &str,
        enc: &dyn Fn(&str) -> String,
    ) {
        let past_records = format!("{RESERVED}{}", char::MAX);
        if self.skip_records {
            if v2 {
                let token = format!("{JUMP}{prefix}{past_records}");
                leaf(out, "NextContinuationToken", &wrap_cursor(&token));
            } else {
                leaf(out, "NextMarker", &enc(&past_records));
            }
        } else if listing.truncated {
            if v2 {
                if let Some(c) = listing.cursor.as_deref().filter(|c| !c.is_empty()) {
                    leaf(out, "NextContinuationToken", &wrap_cursor(c));
                }
            } else if echo.delimiter.is_some() {
                let last_key = self.objects.last().map(|(k, _)| *k);
                let last_prefix = self.prefixes.last().copied();
                if let Some(next) = last_key.max(last_prefix) {
                    leaf(out, "NextMarker", &enc(next));
                }
            }
        }
    }

    /// `<Contents>` and `<CommonPrefixes>`.
    fn push_entries(&self, out: &mut String, enc: &dyn Fn(&str) -> String) {
        for (key, o) in &self.objects {
            out.push_str("<Contents>");
            leaf(out, "Key", &enc(key));
            leaf(out, "LastModified", &iso8601_ms(o.uploaded_ms));
            leaf(out, "ETag", &quoted_etag(o));
            leaf(out, "Size", &o.size.to_string());
            out.push_str("<StorageClass>STANDARD</StorageClass></Contents>");
        }
        for p in &self.prefixes {
            out.push_str("<CommonPrefixes>");
            leaf(out, "Prefix", &enc(p));
            out.push_str("</CommonPrefixes>");
        }
    }
}
