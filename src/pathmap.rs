//! Path mapping (`[path_mapping]`): URLs `/{account}/{product}/{key}` served from the config
//! bucket `account:product` (segment count and separator configurable).
//!
//! Clients see a bucket `account` whose keys start with `product/`. The gateway maps a request
//! after authenticating it (signatures cover the path exactly as sent) and before authorizing
//! it (scopes name the config buckets), and maps answers back: listings and multipart documents
//! name the client's bucket and carry the `product/` key prefix again (see [`ClientView`]).
//!
//! Routing order: a config bucket named exactly like the first segment stays a plain bucket;
//! otherwise an account (the first part of some mapped bucket's name) is mapped; otherwise
//! glob buckets apply as usual.

use std::collections::HashMap;

use crate::config::{BucketConfig, PathMapping};

/// The mapped buckets of one snapshot, by account.
#[derive(Debug)]
pub(crate) struct PathMap {
    segments: usize,
    separator: String,
    /// Account to its buckets: `(client key prefix "product/", config index)`, sorted by prefix.
    accounts: HashMap<String, Vec<(String, usize)>>,
}

/// How a mapped request's names look to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientView {
    /// The bucket the client named (the account).
    pub bucket: String,
    /// What the client's keys carry in front of the config bucket's keys (`product/`).
    pub key_prefix: String,
}

/// Where a client's marker (`start-after`, `marker`, `key-marker`) falls against a product.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Marker<'a> {
    /// Before every key of the product: no marker to forward.
    Before,
    /// Inside it: the marker in the config bucket's namespace.
    Inside(&'a str),
    /// After every key of it: the listing is empty.
    After,
}

impl PathMap {
    /// Indexes the mapped buckets (names holding the separator) of a validated config.
    pub(crate) fn new(mapping: &PathMapping, buckets: &[BucketConfig]) -> Self {
        let mut accounts: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for (i, b) in buckets.iter().enumerate() {
            let mut parts = b.name.split(mapping.separator.as_str());
            let (Some(account), rest) = (parts.next(), parts.collect::<Vec<_>>()) else {
                continue;
            };
            if rest.is_empty() || b.is_glob() {
                continue;
            }
            let mut prefix = rest.join("/");
            prefix.push('/');
            accounts
                .entry(account.to_string())
                .or_default()
                .push((prefix, i));
        }
        for products in accounts.values_mut() {
            products.sort();
        }
        PathMap {
            segments: mapping.segments,
            separator: mapping.separator.clone(),
            accounts,
        }
    }

    /// The buckets of `account` (`(client key prefix, config index)`, sorted); None when it is
    /// no account.
    pub(crate) fn products(&self, account: &str) -> Option<&[(String, usize)]> {
        self.accounts.get(account).map(Vec::as_slice)
    }

    /// The account of a mapped bucket name (`acme` for `acme:data`); None for a plain name.
    pub(crate) fn account_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        let (account, _) = name.split_once(self.separator.as_str())?;
        self.accounts.contains_key(account).then_some(account)
    }

    /// Splits a client key of `account` (`product/rest`) into the config bucket name, the view
    /// and the rest (the config bucket's key, possibly empty). `bare` accepts the product
    /// segments without a trailing `/` (`product` alone: the bucket itself); listing prefixes
    /// pass false, since `prod` may be the start of several products. None when the key does
    /// not hold every product segment.
    pub(crate) fn split<'k>(
        &self,
        account: &str,
        key: &'k str,
        bare: bool,
    ) -> Option<(String, ClientView, &'k str)> {
        let n = self.segments - 1;
        let mut parts = key.splitn(n + 1, '/');
        let mut name = account.to_string();
        let mut key_prefix = String::new();
        for _ in 0..n {
            let part = parts.next().filter(|p| !p.is_empty())?;
            name.push_str(&self.separator);
            name.push_str(part);
            key_prefix.push_str(part);
            key_prefix.push('/');
        }
        let rest = match parts.next() {
            Some(rest) => rest,
            None if bare => "",
            None => return None,
        };
        let view = ClientView {
            bucket: account.to_string(),
            key_prefix,
        };
        Some((name, view, rest))
    }
}

impl ClientView {
    /// Where a client marker falls against this view's product.
    pub(crate) fn marker<'a>(&self, marker: &'a str) -> Marker<'a> {
        match marker.strip_prefix(self.key_prefix.as_str()) {
            Some(rest) => Marker::Inside(rest),
            None if marker < self.key_prefix.as_str() => Marker::Before,
            None => Marker::After,
        }
    }
}

/// What a listing of an account (no product named in full) shows: the product prefixes that
/// match `prefix`, rolled up at `delimiter`, deduplicated and sorted. `Err(products)` when some
/// product does not roll up (no delimiter, or one not found past the prefix): its keys would
/// have to be listed, and `products` are the candidates.
pub(crate) fn rolled_up<'p>(
    products: impl Iterator<Item = &'p str>,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<Vec<String>, Vec<&'p str>> {
    let mut out: Vec<String> = Vec::new();
    let mut unrolled = Vec::new();
    for p in products.filter(|p| p.starts_with(prefix)) {
        let tail = &p[prefix.len()..];
        match delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            tail.find(d)
                .map(|i| format!("{prefix}{}", &tail[..i + d.len()]))
        }) {
            Some(common) => out.push(common),
            None => unrolled.push(p),
        }
    }
    if !unrolled.is_empty() {
        return Err(unrolled);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests;
