use super::*;

fn bucket(opts: &[(&str, &str)]) -> BucketConfig {
    BucketConfig::s3_for_test(opts)
}

#[test]
fn unsigned_backend_gets_a_plain_path_style_url_with_the_key_encoded_once() {
    let b = S3Backend::from_config(&bucket(&[
        ("endpoint", "http://127.0.0.1:8333/"),
        ("bucket_name", "bk"),
        ("skip_signature", "true"),
    ]))
    .unwrap();
    let q = vec![("versionId".to_string(), "a b".to_string())];
    let url = b.url(
        &mut BackendRequest {
            bucket: None,
            method: &Method::GET,
            key: Some("dir/a b+c%2F=ሴ"),
            query: &q,
            headers: &mut HeaderMap::new(),
        },
        Timestamp(0),
        None,
    );
    assert_eq!(
        url,
        "http://127.0.0.1:8333/bk/dir/a%20b%2Bc%252F%3D%E1%88%B4?versionId=a%20b"
    );
}

#[test]
fn virtual_hosted_backend_puts_the_bucket_in_the_host() {
    let b = S3Backend::from_config(&bucket(&[
        ("endpoint", "https://s3.example.com:443"),
        ("bucket_name", "bk"),
        ("skip_signature", "true"),
        ("virtual_hosted_style_request", "true"),
    ]))
    .unwrap();
    let url = b.url(
        &mut BackendRequest {
            bucket: None,
            method: &Method::GET,
            key: None,
            query: &[],
            headers: &mut HeaderMap::new(),
        },
        Timestamp(0),
        None,
    );
    assert_eq!(url, "https://bk.s3.example.com/");
}

#[test]
fn backend_secrets_never_show_in_debug_output() {
    let b = S3Backend::from_config(&bucket(&[
        ("endpoint", "http://127.0.0.1:1"),
        ("bucket_name", "bk"),
        ("access_key_id", "AKID"),
        ("secret_access_key", "very-secret"),
        ("token", "session-token-value"),
    ]))
    .unwrap();
    let dbg = format!("{b:?}");
    assert!(
        !dbg.contains("very-secret") && !dbg.contains("session-token-value"),
        "{dbg}"
    );
}

#[test]
fn list_buckets_goes_to_the_endpoint_root_without_a_bucket() {
    let url = |opts: &[(&str, &str)]| {
        S3Backend::from_config(&bucket(opts))
            .unwrap()
            .list_buckets_url(Timestamp(0))
    };
    let u = url(&[
        ("endpoint", "https://s3.example.com/base/"),
        ("bucket_name", "bk"),
        ("access_key_id", "AKID"),
        ("secret_access_key", "s"),
        ("virtual_hosted_style_request", "true"),
    ])
    .unwrap();
    assert!(u.starts_with("https://s3.example.com/base/?X-Amz-"), "{u}");
    let u = url(&[
        ("endpoint", "http://127.0.0.1:9000"),
        ("bucket_name", "bk"),
        ("skip_signature", "true"),
    ]);
    assert_eq!(u.as_deref(), Some("http://127.0.0.1:9000/"));
}

#[test]
fn region_alone_means_aws() {
    let b =
        S3Backend::from_config(&bucket(&[("region", "eu-west-1"), ("bucket_name", "bk")])).unwrap();
    assert_eq!(b.endpoint_id(), "https://s3.eu-west-1.amazonaws.com");
}
