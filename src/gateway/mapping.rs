//! Path mapping (see [`crate::pathmap`]): requests on an account mapped onto config buckets,
//! listings of an account answered.

use bytes::Bytes;

use crate::backend::r2;
use crate::pathmap::{self, ClientView, Marker, PathMap};
use crate::policy::{self, Identity};
use crate::s3::request::{self, Operation, RequestHead, S3Request};
use crate::s3::xml;
use crate::s3::{ErrorCode, S3Error};

use super::{Gateway, Plan, RequestContext};
use crate::plan::MAX_DELETE_BODY;

impl Gateway {
    /// The path mapping, when `name` is an account (and no plain bucket of that name).
    pub(super) fn account(&self, name: &str) -> Option<&PathMap> {
        self.pathmap
            .as_ref()
            .filter(|m| m.products(name).is_some() && !self.by_name.contains_key(name))
    }

    /// Maps a request on an account (see [`crate::pathmap`]) onto a config bucket, or answers
    /// it when it names the account itself (its product listing, HeadBucket...). Requests on
    /// plain buckets pass unchanged.
    pub(super) fn map_request(
        &self,
        head: &RequestHead,
        req: S3Request,
        identity: &Identity,
        ctx: &RequestContext,
        body: Option<&Bytes>,
    ) -> Result<Mapped, S3Error> {
        let Some(account) = req.bucket.clone() else {
            return Ok(Mapped::Plain(req));
        };
        let Some(map) = self.account(&account) else {
            return Ok(Mapped::Plain(req));
        };
        if req.key.is_some() {
            return map_key(map, &account, head, req);
        }
        // The account itself: what the caller may see of it.
        let visible: Vec<&str> = map
            .products(&account)
            .unwrap_or_default()
            .iter()
            .filter(|(_, i)| policy::may_see_bucket(identity, &self.config.buckets[*i]))
            .map(|(p, _)| p.as_str())
            .collect();
        match req.operation {
            Operation::ListObjects
            | Operation::ListObjectsV2
            | Operation::ListMultipartUploads
            | Operation::ListObjectVersions => account_listing(map, &account, req, &visible, ctx),
            Operation::HeadBucket | Operation::GetBucketLocation => {
                if visible.is_empty() {
                    return Err(none_open(&account, &req));
                }
                Ok(Mapped::Respond(Plan::Respond(
                    self.bucket_answer(req.operation, ctx),
                )))
            }
            Operation::DeleteObjects => map_deletes(map, &account, req, body),
            _ => Ok(Mapped::Plain(req)),
        }
    }
}

/// A request on a key of an account: its first segments name the bucket, the rest the key.
fn map_key(
    map: &PathMap,
    account: &str,
    head: &RequestHead,
    mut req: S3Request,
) -> Result<Mapped, S3Error> {
    let resource = req.resource();
    let key = req.key.take().unwrap_or_default();
    let Some((name, view, rest)) = map.split(account, &key, true) else {
        return Err(S3Error::new(
            ErrorCode::NoSuchBucket,
            format!("'{key}' names no bucket of '{account}'"),
        )
        .with_resource(resource)
        .with_detail("BucketName", account));
    };
    req.bucket = Some(name);
    req.key = (!rest.is_empty()).then(|| rest.to_string());
    req.operation = request::classify(head, &req).map_err(|e| e.with_resource(resource.clone()))?;
    Ok(Mapped::View(req, view))
}

/// `AccessDenied`: the caller may see no bucket of the account.
fn none_open(account: &str, req: &S3Request) -> S3Error {
    S3Error::access_denied(format!("no bucket of '{account}' is open to this caller"))
        .with_resource(req.resource())
}

/// A listing of the account: mapped onto the product its prefix names, or answered with the
/// `visible` products as common prefixes.
fn account_listing(
    map: &PathMap,
    account: &str,
    req: S3Request,
    visible: &[&str],
    ctx: &RequestContext,
) -> Result<Mapped, S3Error> {
    let prefix = req.query_param("prefix").unwrap_or("").to_string();
    if let Some((name, view, rest)) = map.split(account, &prefix, false) {
        return map_listing(req, name, view, rest, ctx);
    }
    if visible.is_empty() {
        return Err(none_open(account, &req));
    }
    if matches!(
        req.operation,
        Operation::ListMultipartUploads | Operation::ListObjectVersions
    ) {
        return Err(S3Error::not_implemented(
            "list the uploads or versions of one path-mapped bucket: give its path as the prefix (prefix=product/)",
        )
        .with_resource(req.resource()));
    }
    let delimiter = req.query_param("delimiter");
    match pathmap::rolled_up(visible.iter().copied(), &prefix, delimiter) {
        Ok(entries) => Ok(Mapped::Respond(Plan::Respond(r2::prefixes_listing(
            &req,
            account,
            &entries,
            &ctx.request_id,
        )?))),
        // One product holds every key the prefix can name: list it.
        Err(one) if one.len() == 1 => {
            let (name, view, rest) = map
                .split(account, one[0], false)
                .ok_or_else(|| S3Error::internal("a product path does not split"))?;
            map_listing(req, name, view, rest, ctx)
        }
        Err(_) => Err(S3Error::not_implemented(
            "listing the keys of several path-mapped buckets at once is not supported: list with delimiter=/ or name one bucket in the prefix (prefix=product/)",
        )
        .with_resource(req.resource())),
    }
}

/// A DeleteObjects on the account: the first key naming a product chooses the bucket; keys of
/// other products are refused one by one (see `authorized_deletes`).
fn map_deletes(
    map: &PathMap,
    account: &str,
    mut req: S3Request,
    body: Option<&Bytes>,
) -> Result<Mapped, S3Error> {
    let Some(body) = body else {
        return Ok(Mapped::Respond(Plan::NeedBody {
            limit: MAX_DELETE_BODY,
        }));
    };
    let resource = req.resource();
    let keys = xml::parse_delete(body).map_err(|e| e.with_resource(resource.clone()))?;
    let (name, view, _) = keys
        .objects
        .iter()
        .find_map(|(k, _)| map.split(account, k, false))
        .ok_or_else(|| {
            S3Error::invalid_request(format!(
                "no key names a bucket of '{account}' (keys start with product/)"
            ))
            .with_resource(resource)
        })?;
    req.bucket = Some(name);
    Ok(Mapped::View(req, view))
}

/// A request after path mapping.
pub(super) enum Mapped {
    /// Not on an account: unchanged.
    Plain(S3Request),
    /// Mapped onto a config bucket, with the client's view of it.
    View(S3Request, ClientView),
    /// Answered for the account itself.
    Respond(Plan),
}

/// A listing whose prefix names a product: the prefix and markers mapped into the product's
/// bucket. A marker past every key of it gives an empty listing.
fn map_listing(
    mut req: S3Request,
    name: String,
    view: ClientView,
    rest: &str,
    ctx: &RequestContext,
) -> Result<Mapped, S3Error> {
    set_param(&mut req.query, "prefix", Some(rest.to_string()));
    for marker in ["start-after", "marker", "key-marker"] {
        let Some(value) = req.query_param(marker).map(str::to_string) else {
            continue;
        };
        let mapped = match view.marker(&value) {
            Marker::Inside(m) => Some(m.to_string()),
            // A key marker before the product starts the listing at its first key; a version
            // marker belongs to the key marker it came with.
            Marker::Before => {
                set_param(&mut req.query, "version-id-marker", None);
                None
            }
            Marker::After
                if matches!(
                    req.operation,
                    Operation::ListMultipartUploads | Operation::ListObjectVersions
                ) =>
            {
                Some(char::MAX.to_string())
            }
            Marker::After => {
                return Ok(Mapped::Respond(Plan::Respond(r2::prefixes_listing(
                    &req,
                    &view.bucket,
                    &[],
                    &ctx.request_id,
                )?)))
            }
        };
        set_param(&mut req.query, marker, mapped);
    }
    req.bucket = Some(name);
    Ok(Mapped::View(req, view))
}

/// The decoded `prefix` query parameter of a request, by routing alone.
pub(super) fn query_prefix(head: &RequestHead) -> Option<String> {
    let (_, query) = head.target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("prefix=")?;
        crate::percent::decode_strict(value.as_bytes(), true)
            .and_then(|b| String::from_utf8(b).ok())
    })
}

/// Sets (or with None removes) a query parameter.
fn set_param(query: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    query.retain(|(k, _)| k != name);
    if let Some(v) = value {
        query.push((name.to_string(), v));
    }
}

/// NoSuchBucket for a path-mapped bucket the config lacks, in the client's words.
pub(super) fn no_such_product(view: &ClientView, resource: &str) -> S3Error {
    let path = view.key_prefix.trim_end_matches('/');
    S3Error::new(
        ErrorCode::NoSuchBucket,
        format!("the bucket '{}/{path}' does not exist", view.bucket),
    )
    .with_resource(resource.to_string())
    .with_detail("BucketName", &view.bucket)
}
