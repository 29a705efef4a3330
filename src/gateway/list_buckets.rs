//! ListBuckets: the configured buckets the caller may see, merged with the backend buckets
//! behind pass-through (glob) buckets.
//!
//! A glob bucket (`*`, `data-*`) maps every name it matches to the backend bucket of that name,
//! so what it holds is whatever its backend has. For each distinct backend account (endpoint,
//! dialect, signing identity: [`S3Backend::same_account`]) behind a glob bucket that some scope
//! of the caller may cover, the gateway asks the backend for its buckets ([`Plan::Gather`]: one
//! presigned `GET /` each, sent by the runtime, concurrently where it can). A backend name is
//! listed when all of these hold:
//! - it is a valid S3 bucket name (what a client could send back to us);
//! - no configured bucket or path-mapped account has that name (configured names win: a request
//!   on that name would reach the configured bucket, not the backend's);
//! - the first glob bucket matching it (the one a request on it would use) is backed by the same
//!   account that listed it;
//! - the backend does not place it in another region (`BucketRegion`: AWS lists the buckets
//!   of every region, a glob bucket's endpoint reaches those of its own);
//! - the caller may see it: a scope of theirs matches the name with some action, and for a role
//!   session the glob bucket's `allowed_roles` admit the role. A public glob bucket
//!   (`anonymous_access`) lists nothing by being public: it is reached by name.
//!
//! The merged listing is sorted by name (as S3 sorts), filtered by `prefix` and
//! `bucket-region`, and paged by `max-buckets` / `continuation-token` (the token is the last
//! name of the page: it carries nothing that matters, every page is filtered anew). A backend
//! bucket's `CreationDate` is the backend's.
//!
//! A backend that fails (no answer, timeout, an error status, an answer too large or not a
//! `ListAllMyBucketsResult`) is left out of the listing with a warning in the log: the caller
//! still gets the configured buckets and those of the other backends. Backend keys scoped to
//! their buckets commonly lack `s3:ListAllMyBuckets`; that must not break every listing.
//!
//! Left out, by design: federated backends (`auth_type = "oidc"`: a listing would cost one
//! credential exchange per backend), Azure and R2 glob buckets (the former has no
//! pass-through; R2 bindings have no bucket list) and GCS ones (the XML API's ListBuckets needs
//! a project id header the config does not carry).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{
    error_response, respond, Backend, CopyEvent, CorsHeaders, Finish, Forward, ForwardBody,
    Gateway, Plan, RequestContext,
};
use crate::backend::s3::{Dialect, S3Backend};
use crate::policy::{self, glob_match, Identity};
use crate::s3::request::{self, S3Request};
use crate::s3::xml;
use crate::s3::S3Error;
use crate::time::Timestamp;

/// Buckets are config entries and have no creation time of their own; S3 clients need one.
const BUCKET_CREATION_DATE: Timestamp = Timestamp(1_577_836_800); // 2020-01-01

/// Cap on each answer the runtime reads for a [`Plan::Gather`] (10,000 buckets, S3's default
/// quota, take about 1.2 MB).
pub const GATHER_LIMIT: usize = 4 << 20;

/// Most buckets a ListBuckets page may ask for (`max-buckets`), as S3.
const MAX_BUCKETS: usize = 10_000;

/// Several backend requests whose answers together make the client's answer. Take the
/// requests ([`Gather::take_requests`]), send each (concurrently or one after the other),
/// read each answer whole (at most [`GATHER_LIMIT`] bytes), and hand them back in the same
/// order to [`Gateway::finish_gather`]: [`CopyEvent::Answer`] for an answer,
/// [`CopyEvent::Failed`] for a request that failed (no answer, timeout, an answer over the cap).
#[derive(Debug)]
pub struct Gather {
    requests: Vec<Forward>,
    then: Then,
    pub(crate) cors: Option<CorsHeaders>,
    request_id: String,
}

/// What the answers are for.
#[derive(Debug)]
enum Then {
    ListBuckets(Listing),
}

impl Gather {
    /// The requests to send (bodyless GETs), in the order their answers are expected.
    pub fn take_requests(&mut self) -> Vec<Forward> {
        std::mem::take(&mut self.requests)
    }

    /// The `x-amz-request-id` of the client's request.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// A ListBuckets waiting for its backends.
#[derive(Debug)]
struct Listing {
    identity: Identity,
    query: ListQuery,
    /// One per request: the index of a glob entry of the account that was asked.
    sources: Vec<usize>,
}

/// ListBuckets' query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ListQuery {
    prefix: Option<String>,
    max_buckets: Option<usize>,
    after: Option<String>,
    region: Option<String>,
}

impl ListQuery {
    fn parse(req: &S3Request) -> Result<Self, S3Error> {
        let max_buckets = match req.query_param("max-buckets") {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_BUCKETS).contains(&n) => Some(n),
                _ => {
                    return Err(S3Error::invalid_argument(format!(
                        "max-buckets must be an integer from 1 to {MAX_BUCKETS}"
                    ))
                    .with_detail("ArgumentName", "max-buckets")
                    .with_detail("ArgumentValue", v))
                }
            },
        };
        let text = |name: &str| req.query_param(name).map(str::to_string);
        Ok(ListQuery {
            prefix: text("prefix"),
            max_buckets,
            after: text("continuation-token").filter(|t| !t.is_empty()),
            region: text("bucket-region"),
        })
    }
}

/// Merges the configured buckets the caller may see with the backend buckets that passed the
/// filters: one entry per name (a configured one wins), sorted by name, then the query's
/// prefix, region and page applied. Returns the page and the next page's token.
pub(crate) fn merge(
    configured: Vec<(String, Timestamp)>,
    gathered: Vec<(String, Timestamp)>,
    query: &ListQuery,
    region: &str,
) -> (Vec<(String, Timestamp)>, Option<String>) {
    let mut all: BTreeMap<String, Timestamp> = BTreeMap::new();
    for (name, date) in gathered {
        all.entry(name).or_insert(date);
    }
    for (name, date) in configured {
        all.insert(name, date);
    }
    if query.region.as_deref().is_some_and(|r| r != region) {
        return (Vec::new(), None);
    }
    let mut page: Vec<(String, Timestamp)> = all
        .into_iter()
        .filter(|(n, _)| query.prefix.as_deref().is_none_or(|p| n.starts_with(p)))
        .filter(|(n, _)| query.after.as_deref().is_none_or(|a| n.as_str() > a))
        .collect();
    let mut next = None;
    if let Some(max) = query.max_buckets {
        if page.len() > max {
            page.truncate(max);
            next = page.last().map(|(n, _)| n.clone());
        }
    }
    (page, next)
}

/// Whether some name matches both glob patterns (`*` any run, `?` one character): a scope's
/// bucket pattern and a glob bucket's name. Dynamic programming over both patterns.
pub(crate) fn globs_intersect(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    // ok[i][j]: a[i..] and b[j..] match a common string.
    let mut ok = vec![vec![false; m + 1]; n + 1];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            ok[i][j] = match (a.get(i), b.get(j)) {
                (None, None) => true,
                (Some('*'), _) => ok[i + 1][j] || (j < m && ok[i][j + 1]),
                (_, Some('*')) => ok[i][j + 1] || (i < n && ok[i + 1][j]),
                (Some(x), Some(y)) => (*x == '?' || *y == '?' || x == y) && ok[i + 1][j + 1],
                _ => false,
            };
        }
    }
    ok[0][0]
}

/// Whether `identity` may see the name `name` of the glob bucket `bucket` in ListBuckets.
fn may_see_name(identity: &Identity, bucket: &crate::config::BucketConfig, name: &str) -> bool {
    match identity {
        Identity::Anonymous => false,
        Identity::Principal { role, scopes, .. } => {
            policy::role_allowed(bucket, role.as_deref())
                && scopes
                    .iter()
                    .any(|s| s.matches_bucket(name) && !s.actions.is_empty())
        }
    }
}

impl Gateway {
    /// Whether `identity` may see some name of the glob entry `index`: a scope names one
    /// that reaches this entry, or its pattern shares names with the entry's.
    fn may_see_some_name(&self, identity: &Identity, index: usize) -> bool {
        let bucket = &self.config.buckets[index];
        let Identity::Principal { role, scopes, .. } = identity else {
            return false;
        };
        policy::role_allowed(bucket, role.as_deref())
            && scopes.iter().any(|s| {
                !s.actions.is_empty()
                    && if policy::is_glob(&s.bucket) {
                        globs_intersect(&s.bucket, &bucket.name)
                    } else {
                        self.find_bucket(&s.bucket).is_some_and(|(i, _)| i == index)
                    }
            })
    }

    /// The S3 backend of glob entry `index` whose buckets ListBuckets may ask for.
    fn listable_backend(&self, index: usize) -> Option<&Arc<S3Backend>> {
        match &self.buckets[index].backend {
            Ok(Backend::S3(b)) if b.dialect() == Dialect::S3 && b.federation().is_none() => Some(b),
            _ => None,
        }
    }

    /// ListBuckets for a signed caller: answered at once when no glob bucket's backend needs
    /// asking, otherwise a [`Plan::Gather`] of one request per backend account.
    pub(super) fn list_buckets(
        &self,
        identity: &Identity,
        req: &S3Request,
        ctx: &RequestContext,
    ) -> Result<Plan, S3Error> {
        let query = ListQuery::parse(req)?;
        let mut sources: Vec<usize> = Vec::new();
        let mut requests = Vec::new();
        for &i in &self.globs {
            let Some(backend) = self.listable_backend(i) else {
                continue;
            };
            if !self.may_see_some_name(identity, i) {
                continue;
            }
            let asked = sources.iter().any(|&s| {
                self.listable_backend(s)
                    .is_some_and(|other| other.same_account(backend))
            });
            if asked {
                continue;
            }
            let Some(url) = backend.list_buckets_url(ctx.now) else {
                continue;
            };
            sources.push(i);
            requests.push(Forward {
                method: Method::GET,
                url,
                headers: HeaderMap::new(),
                body: ForwardBody::Empty,
                request_id: ctx.request_id.clone(),
                finish: Finish {
                    rewrite: None,
                    resource: "/".to_string(),
                    delete_errors: Vec::new(),
                    passthrough: false,
                    cors: None,
                    post: None,
                    answer: Box::new(crate::plan::answer::S3Answer),
                    bodyless_success: false,
                    lock_guarded: false,
                    hidden: Vec::new(),
                },
            });
        }
        let listing = Listing {
            identity: identity.clone(),
            query,
            sources,
        };
        if requests.is_empty() {
            return Ok(Plan::Respond(self.render_listing(
                &listing,
                Vec::new(),
                &ctx.request_id,
            )));
        }
        Ok(Plan::Gather(Box::new(Gather {
            requests,
            then: Then::ListBuckets(listing),
            cors: None,
            request_id: ctx.request_id.clone(),
        })))
    }

    /// The client's answer to a [`Plan::Gather`] once every request has its answer (or its
    /// failure), in the order [`Gather::take_requests`] gave them.
    pub fn finish_gather(&self, gather: Gather, answers: Vec<CopyEvent>) -> Response<Bytes> {
        let Then::ListBuckets(listing) = gather.then;
        let mut resp = if answers.len() != listing.sources.len() {
            let err = S3Error::internal("the runtime lost answers of a ListBuckets");
            error_response(&Method::GET, &err, &gather.request_id)
        } else {
            let mut gathered = Vec::new();
            for (&source, answer) in listing.sources.iter().zip(answers) {
                gathered.extend(self.backend_buckets(&listing.identity, source, answer));
            }
            self.render_listing(&listing, gathered, &gather.request_id)
        };
        if let Some(cors) = &gather.cors {
            cors.apply(resp.headers_mut());
        }
        resp
    }

    /// The buckets one backend answered that the caller may see through the gateway; none
    /// (and a warning in the log) when the backend failed.
    fn backend_buckets(
        &self,
        identity: &Identity,
        source: usize,
        answer: CopyEvent,
    ) -> Vec<(String, Timestamp)> {
        let Some(backend) = self.listable_backend(source) else {
            return Vec::new();
        };
        let endpoint = backend.endpoint_id();
        let parsed = match answer {
            CopyEvent::Answer { status, body, .. } if status == StatusCode::OK => {
                xml::parse_list_buckets(&body)
                    .map_err(|why| format!("its answer is no bucket list ({why})"))
            }
            CopyEvent::Answer { status, body, .. } => Err(match xml::parse_error_xml(&body) {
                Some((code, _)) => format!("it answered {} {code}", status.as_u16()),
                None => format!("it answered {}", status.as_u16()),
            }),
            CopyEvent::Failed(why) => Err(why),
            CopyEvent::Opened { .. } | CopyEvent::R2(_) => Err("unexpected event".to_string()),
        };
        let names = match parsed {
            Ok(names) => names,
            Err(why) => {
                log::warn!(
                    "ListBuckets: the buckets of the backend at {endpoint} are left out: {}",
                    crate::auth::redact(&why)
                );
                return Vec::new();
            }
        };
        names
            .into_iter()
            // AWS lists the buckets of every region; a glob bucket reaches those of its own.
            .filter(|b| {
                b.region
                    .as_deref()
                    .is_none_or(|r| r.eq_ignore_ascii_case(backend.region()))
            })
            .filter(|b| self.lists_backend_name(identity, backend, &b.name))
            .map(|b| (b.name, b.created.unwrap_or(BUCKET_CREATION_DATE)))
            .collect()
    }

    /// Whether the backend bucket `name`, listed by `backend`, is one the caller reaches
    /// through a glob bucket of that backend and may see.
    fn lists_backend_name(&self, identity: &Identity, backend: &S3Backend, name: &str) -> bool {
        if request::check_s3_bucket_name(name).is_err()
            || self.by_name.contains_key(name)
            || self.account(name).is_some()
        {
            return false;
        }
        let Some((index, bucket)) = self.find_bucket(name) else {
            return false;
        };
        bucket.is_glob()
            && glob_match(&bucket.name, name)
            && self
                .listable_backend(index)
                .is_some_and(|b| b.same_account(backend))
            && may_see_name(identity, bucket, name)
    }

    /// The `ListAllMyBucketsResult`: configured buckets the caller may see (path-mapped
    /// ones as their accounts, once each) merged with `gathered`.
    fn render_listing(
        &self,
        listing: &Listing,
        gathered: Vec<(String, Timestamp)>,
        request_id: &str,
    ) -> Response<Bytes> {
        let mut accounts = std::collections::HashSet::new();
        let configured: Vec<(String, Timestamp)> = self
            .config
            .buckets
            .iter()
            .filter(|b| !b.is_glob() && policy::may_see_bucket(&listing.identity, b))
            .filter_map(|b| {
                let account = self
                    .pathmap
                    .as_ref()
                    .and_then(|m| m.account_of(&b.name))
                    .filter(|a| !self.by_name.contains_key(*a));
                match account {
                    Some(a) => accounts.insert(a).then(|| a.to_string()),
                    None => Some(b.name.clone()),
                }
            })
            .map(|name| (name, BUCKET_CREATION_DATE))
            .collect();
        let (page, next) = merge(configured, gathered, &listing.query, self.config.region());
        let owner_id = self.config.owner_id.as_deref().unwrap_or("multistore");
        let owner_name = self
            .config
            .owner_display_name
            .as_deref()
            .unwrap_or("multistore");
        let body = xml::list_buckets_page_xml(
            owner_id,
            owner_name,
            &page,
            listing.query.prefix.as_deref(),
            next.as_deref(),
        );
        respond(
            StatusCode::OK,
            body.into(),
            Some("application/xml"),
            request_id,
        )
    }
}

#[cfg(test)]
mod tests;
