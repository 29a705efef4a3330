//! Bucket resolution: the config bucket a request names, and the checks its name and key pass
//! before it is authorized.

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::backend::s3::set_header;
use crate::config::BucketConfig;
use crate::s3::request::{self, Operation};
use crate::s3::xml;
use crate::s3::S3Error;

use super::response::respond;
use super::{Gateway, RequestContext};

impl Gateway {
    /// Exact names first, then globs in file order.
    pub(super) fn find_bucket(&self, name: &str) -> Option<(usize, &BucketConfig)> {
        let buckets = &self.config.buckets;
        self.by_name
            .get(name)
            .copied()
            .or_else(|| {
                self.globs
                    .iter()
                    .copied()
                    .find(|&i| buckets[i].matches(name))
            })
            .map(|i| (i, &buckets[i]))
    }

    /// HeadBucket and GetBucketLocation, answered by the gateway (buckets are config entries).
    pub(super) fn bucket_answer(&self, op: Operation, ctx: &RequestContext) -> Response<Bytes> {
        if op == Operation::HeadBucket {
            let mut resp = respond(StatusCode::OK, Bytes::new(), None, &ctx.request_id);
            set_header(
                resp.headers_mut(),
                "x-amz-bucket-region",
                self.config.region(),
            );
            return resp;
        }
        respond(
            StatusCode::OK,
            xml::location_xml(self.config.region()).into(),
            Some("application/xml"),
            &ctx.request_id,
        )
    }
}

/// A key checked alone (`request::check_key`) may still form a dot segment once glued to the
/// bucket's backend prefix (`p/.` + `/k` is `p/./k`), which `fetch()` would send elsewhere: the
/// backend key passes the same check, for every backend kind, before anything is planned.
/// (The validating reader already refuses such prefixes and ends each with `/`; this stays for
/// configs built in code.)
pub(super) fn check_backend_key(bucket: &BucketConfig, key: &str) -> Result<(), S3Error> {
    let prefix = bucket.backend_prefix.as_deref().unwrap_or("");
    if !prefix.is_empty() && request::has_dot_segment(&format!("{prefix}{key}")) {
        return Err(glued_dot_segment());
    }
    Ok(())
}

pub(super) fn glued_dot_segment() -> S3Error {
    S3Error::invalid_argument(
        "the key, under this bucket's backend prefix, would form a '.' or '..' path segment, \
         which fetch() and HTTP proxies normalize; choose another key",
    )
    .with_detail("ArgumentName", "key")
}
