use super::*;
use crate::config::{ConfigFormat, GatewayConfig};

fn map(segments: usize, sep: &str, names: &[&str]) -> PathMap {
    let mut text = format!("[path_mapping]\nsegments = {segments}\nseparator = \"{sep}\"\n");
    for n in names {
        text.push_str(&format!(
                "[[buckets]]\nname = \"{n}\"\nbackend_type = \"s3\"\n[buckets.backend_options]\nendpoint = \"http://127.0.0.1:9000\"\nbucket_name = \"b\"\n"
            ));
    }
    let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
    PathMap::new(config.path_mapping.as_ref().unwrap(), &config.buckets)
}

#[test]
fn accounts_index_their_products_sorted_and_plain_buckets_are_no_accounts() {
    let m = map(2, ":", &["acme:zeta", "acme:alpha", "plain", "other:x"]);
    let products: Vec<&str> = m
        .products("acme")
        .unwrap()
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(products, ["alpha/", "zeta/"]);
    assert!(m.products("plain").is_none());
    assert_eq!(m.account_of("other:x"), Some("other"));
    assert_eq!(m.account_of("plain"), None);
}

#[test]
fn a_key_splits_into_the_config_bucket_the_view_and_the_rest() {
    let m = map(2, ":", &["acme:data"]);
    let (name, view, rest) = m.split("acme", "data/dir/a b.txt", true).unwrap();
    assert_eq!((name.as_str(), rest), ("acme:data", "dir/a b.txt"));
    assert_eq!(view.key_prefix, "data/");
    // The product alone is the bucket itself, for paths; not for listing prefixes.
    assert_eq!(m.split("acme", "data", true).unwrap().2, "");
    assert!(m.split("acme", "data", false).is_none());
    assert_eq!(m.split("acme", "data/", false).unwrap().2, "");
    assert!(m.split("acme", "/x", true).is_none());
}

#[test]
fn three_segments_and_a_longer_separator_split_the_same_way() {
    let m = map(3, "--", &["org--team--set"]);
    let (name, view, rest) = m.split("org", "team/set/k", true).unwrap();
    assert_eq!((name.as_str(), rest), ("org--team--set", "k"));
    assert_eq!(view.key_prefix, "team/set/");
    assert!(m.split("org", "team", true).is_none());
    assert!(m.split("org", "team/", false).is_none());
    assert_eq!(m.products("org").unwrap()[0].0, "team/set/");
}

#[test]
fn markers_fall_before_inside_or_after_a_product() {
    let view = ClientView {
        bucket: "acme".into(),
        key_prefix: "data/".into(),
    };
    assert_eq!(view.marker("data/x"), Marker::Inside("x"));
    assert_eq!(view.marker("data"), Marker::Before);
    assert_eq!(view.marker("a/z"), Marker::Before);
    assert_eq!(view.marker("data0"), Marker::After);
    assert_eq!(view.marker("zzz"), Marker::After);
}

#[test]
fn an_account_listing_rolls_products_up_at_the_delimiter() {
    let products = ["alpha/", "beta/", "beta-2/"];
    let all = rolled_up(products.iter().copied(), "", Some("/")).unwrap();
    assert_eq!(all, ["alpha/", "beta-2/", "beta/"]);
    assert_eq!(
        rolled_up(products.iter().copied(), "be", Some("/")).unwrap(),
        ["beta-2/", "beta/"]
    );
    assert_eq!(
        rolled_up(products.iter().copied(), "", Some("-")),
        Err(vec!["alpha/", "beta/"])
    );
    assert_eq!(
        rolled_up(products.iter().copied(), "al", None),
        Err(vec!["alpha/"])
    );
    assert_eq!(
        rolled_up(products.iter().copied(), "x", None),
        Ok(Vec::new())
    );
    let deep = ["team/a/", "team/b/", "zed/c/"];
    assert_eq!(
        rolled_up(deep.iter().copied(), "", Some("/")).unwrap(),
        ["team/", "zed/"]
    );
    assert_eq!(
        rolled_up(deep.iter().copied(), "team/", Some("/")).unwrap(),
        ["team/a/", "team/b/"]
    );
}
