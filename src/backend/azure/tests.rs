//! Signing vectors were computed independently with Microsoft's `azure-storage-blob` 12.31.1
//! (`generate_blob_sas` / `generate_container_sas`, its `sts_hook` printing the string-to-sign),
//! pinned to `sv=2021-08-06`.

use super::*;
use crate::config::BackendType;
use crate::s3::ErrorCode;

/// Azurite's well-known development account key.
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn bucket(opts: &[(&str, &str)]) -> BucketConfig {
    let mut b = BucketConfig::s3_for_test(opts);
    b.backend_type = BackendType::Azure;
    b
}

fn azurite() -> AzureBackend {
    AzureBackend::from_config(&bucket(&[
        ("account_name", "devstoreaccount1"),
        ("container_name", "cont"),
        ("access_key", DEV_KEY),
        ("endpoint", "http://127.0.0.1:10000/devstoreaccount1/"),
    ]))
    .unwrap()
}

/// 2023-11-14T23:13:20Z.
const EXPIRY: Timestamp = Timestamp(1_700_003_600);

fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let v = percent::decode_strict(v.as_bytes(), false).unwrap();
            (k.to_string(), String::from_utf8(v).unwrap())
        })
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[test]
fn a_blob_read_sas_with_header_overrides_matches_the_azure_sdk() {
    let terms = SasTerms {
        permissions: "r",
        expiry: EXPIRY,
        overrides: ResponseOverrides {
            content_type: Some("text/plain".into()),
            content_disposition: Some("attachment; filename=\"x\"".into()),
            ..ResponseOverrides::default()
        },
    };
    let url = azurite().url(Resource::Blob("dir/a b+ሴ.txt"), &[], &terms, None);
    assert!(
        url.starts_with("http://127.0.0.1:10000/devstoreaccount1/cont/dir/a%20b%2B%E1%88%B4.txt?"),
        "{url}"
    );
    assert_eq!(
        param(&url, "sig").as_deref(),
        Some("B1hmlxszEzCQHI1ydSB7W3PEg1q+4hABzfx5N6SDDtA=")
    );
    assert_eq!(param(&url, "sr").as_deref(), Some("b"));
    assert_eq!(param(&url, "sv").as_deref(), Some("2021-08-06"));
    assert_eq!(param(&url, "se").as_deref(), Some("2023-11-14T23:13:20Z"));
    assert_eq!(param(&url, "rsct").as_deref(), Some("text/plain"));
    assert_eq!(
        param(&url, "rscd").as_deref(),
        Some("attachment; filename=\"x\"")
    );
}

#[test]
fn a_blob_write_sas_matches_the_azure_sdk() {
    let terms = SasTerms {
        permissions: "cw",
        expiry: EXPIRY,
        overrides: ResponseOverrides::default(),
    };
    let url = azurite().url(Resource::Blob("k"), &[], &terms, None);
    assert_eq!(
        param(&url, "sig").as_deref(),
        Some("MSfYQmNc3p5MwFHqwvdcXTwjPrbYUjlfH9KAaWr4nPw=")
    );
}

#[test]
fn a_container_list_sas_matches_the_azure_sdk_and_keeps_the_operation_parameters() {
    let terms = SasTerms {
        permissions: "l",
        expiry: EXPIRY,
        overrides: ResponseOverrides::default(),
    };
    let q = [
        ("restype", "container".to_string()),
        ("comp", "list".to_string()),
    ];
    let url = azurite().url(Resource::Container, &q, &terms, None);
    assert!(
        url.starts_with(
            "http://127.0.0.1:10000/devstoreaccount1/cont?restype=container&comp=list&"
        ),
        "{url}"
    );
    assert_eq!(
        param(&url, "sig").as_deref(),
        Some("NrA0/98Y/anFTmozxpPRQy5iuuOVI+fWaqmhM+DsNrA=")
    );
    assert_eq!(param(&url, "sr").as_deref(), Some("c"));
}

#[test]
fn a_public_container_gets_plain_urls_and_the_default_endpoint_is_the_accounts() {
    let b = AzureBackend::from_config(&bucket(&[
        ("account_name", "acct"),
        ("container_name", "pub"),
        ("skip_signature", "true"),
    ]))
    .unwrap();
    let url = b.url(
        Resource::Blob("a b"),
        &[],
        &SasTerms {
            permissions: "r",
            expiry: EXPIRY,
            overrides: ResponseOverrides::default(),
        },
        None,
    );
    assert_eq!(url, "https://acct.blob.core.windows.net/pub/a%20b");
}

#[test]
fn a_missing_or_broken_account_key_is_a_config_error_and_the_key_never_prints() {
    let e = AzureBackend::from_config(&bucket(&[("account_name", "a"), ("container_name", "c")]))
        .unwrap_err();
    assert!(e.contains("access_key is missing"), "{e}");
    let e = AzureBackend::from_config(&bucket(&[
        ("account_name", "a"),
        ("container_name", "c"),
        ("account_key", "%%%"),
    ]))
    .unwrap_err();
    assert!(e.contains("not a base64"), "{e}");
    let dbg = format!("{:?}", azurite());
    assert!(!dbg.contains("Eby8") && dbg.contains("***"), "{dbg}");
}

#[test]
fn metadata_names_must_be_csharp_identifiers() {
    for ok in ["a", "_x", "Color2", "snake_case"] {
        assert!(valid_metadata_name(ok), "{ok}");
    }
    for bad in ["", "2a", "my-key", "a.b", "ü"] {
        assert!(!valid_metadata_name(bad), "{bad}");
    }
}

#[test]
fn azure_error_codes_become_s3_codes_and_auth_problems_the_gateways() {
    assert_eq!(s3_code("BlobNotFound"), ("NoSuchKey", false));
    assert_eq!(s3_code("ConditionNotMet"), ("PreconditionFailed", false));
    assert_eq!(s3_code("InvalidRange"), ("InvalidRange", false));
    assert!(s3_code("AuthenticationFailed").1);
    assert!(s3_code("ContainerNotFound").1);
}

const LISTING: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="cont"><Prefix>p/</Prefix><MaxResults>2</MaxResults><Delimiter>/</Delimiter><Blobs><Blob><Name>p/a &amp; b</Name><Properties><Creation-Time>Tue, 14 Nov 2023 22:13:20 GMT</Creation-Time><Last-Modified>Tue, 14 Nov 2023 22:13:20 GMT</Last-Modified><Etag>0x8DBE5A1</Etag><Content-Length>3</Content-Length><BlobType>BlockBlob</BlobType></Properties><Metadata/></Blob><BlobPrefix><Name>p/dir/</Name></BlobPrefix></Blobs><NextMarker>opaque!marker</NextMarker></EnumerationResults>"#;

#[test]
fn a_list_blobs_answer_becomes_a_v2_listing_with_a_wrapped_token() {
    let (query, echo) = list_params(
        true,
        |k| (k == "delimiter").then(|| "/".to_string()),
        2,
        "p/",
    )
    .unwrap();
    assert!(query.contains(&("prefix", "p/".to_string())));
    assert!(query.contains(&("maxresults", "2".to_string())));
    let doc = listing_to_s3(LISTING.as_bytes(), &echo).unwrap();
    for part in [
        "<Prefix>p/</Prefix>",
        "<KeyCount>2</KeyCount>",
        "<IsTruncated>true</IsTruncated>",
        "<Key>p/a &amp; b</Key>",
        "<LastModified>2023-11-14T22:13:20.000Z</LastModified>",
        "<ETag>&quot;0x8DBE5A1&quot;</ETag>",
        "<Size>3</Size>",
        "<CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>",
    ] {
        assert!(doc.contains(part), "{part} in {doc}");
    }
    let token = wrap_marker("opaque!marker");
    assert!(doc.contains(&format!(
        "<NextContinuationToken>{token}</NextContinuationToken>"
    )));
    // The token goes back to Azure as its marker.
    let (query, _) = list_params(
        true,
        |k| (k == "continuation-token").then(|| token.clone()),
        2,
        "p/",
    )
    .unwrap();
    assert!(query.contains(&("marker", "opaque!marker".to_string())));
}

#[test]
fn a_v1_key_marker_leaves_out_keys_up_to_it_and_a_bad_token_is_refused() {
    let (query, echo) = list_params(
        false,
        |k| (k == "marker").then(|| "a & b".into()),
        1000,
        "p/",
    )
    .unwrap();
    assert!(!query.iter().any(|(k, _)| *k == "marker"));
    let doc = listing_to_s3(LISTING.as_bytes(), &echo).unwrap();
    assert!(!doc.contains("<Key>"), "{doc}");
    assert!(doc.contains("<Marker>p/a &amp; b</Marker>"), "{doc}");
    assert!(doc.contains("<NextMarker>azm1."), "{doc}");
    let err = list_params(
        true,
        |k| (k == "continuation-token").then(|| "nope".into()),
        1000,
        "",
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
}

#[test]
fn a_document_that_is_not_a_listing_is_a_bad_gateway() {
    let echo = ListEcho::default();
    for bad in ["<Other/>", "<EnumerationResults><Blobs>", "not xml <"] {
        let e = listing_to_s3(bad.as_bytes(), &echo).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadGateway, "{bad}");
    }
}

fn delegation_key() -> UserDelegationKey {
    UserDelegationKey {
        signed_oid: "11111111-2222-3333-4444-555555555555".into(),
        signed_tid: "tenant-0000".into(),
        signed_start: "2023-11-14T22:08:20Z".into(),
        signed_expiry: "2023-11-15T00:13:20Z".into(),
        signed_service: "b".into(),
        signed_version: "2026-06-06".into(),
        value: SigningKey::from_base64("dXNlci1kZWxlZ2F0aW9uLWtleS12YWx1ZS0zMmJ5dGU=").unwrap(),
    }
}

/// The vector: HMAC-SHA256 computed in Python (`hmac`, `hashlib`) over the 2020-12-06 user
/// delegation string-to-sign written out by hand from Microsoft's "Create a user delegation SAS"
/// (the same field order Azurite checks).
#[test]
fn a_user_delegation_sas_carries_the_key_terms_and_matches_an_independent_vector() {
    let terms = SasTerms {
        permissions: "r",
        expiry: EXPIRY,
        overrides: ResponseOverrides {
            content_type: Some("text/plain".into()),
            ..ResponseOverrides::default()
        },
    };
    let url = azurite().url(
        Resource::Blob("dir/a b.txt"),
        &[],
        &terms,
        Some(&delegation_key()),
    );
    assert_eq!(
        param(&url, "sig").as_deref(),
        Some("eOdQbXWtd/FThyrL2aqHuWcGr2dPlKAKN5/jolkP2d8=")
    );
    for (k, v) in [
        ("skoid", "11111111-2222-3333-4444-555555555555"),
        ("sktid", "tenant-0000"),
        ("skt", "2023-11-14T22:08:20Z"),
        ("ske", "2023-11-15T00:13:20Z"),
        ("sks", "b"),
        ("skv", "2026-06-06"),
        ("sv", "2021-08-06"),
        ("sr", "b"),
    ] {
        assert_eq!(param(&url, k).as_deref(), Some(v), "{k} in {url}");
    }
    let dbg = format!("{:?}", delegation_key());
    assert!(!dbg.contains("dXNlci1k"), "{dbg}");
}

#[test]
fn an_upload_id_carries_its_nonce_and_blob_headers_and_foreign_ids_are_refused() {
    let headers = vec![
        (
            "x-ms-blob-content-type".to_string(),
            "text/plain".to_string(),
        ),
        ("x-ms-meta-colour".to_string(), "blue: really".to_string()),
    ];
    let up = Upload::new("req-1", "dir/k", headers).unwrap();
    assert_eq!(up.nonce.len(), 16);
    let key = UploadKey::derive(b"gateway secret");
    let keys = [key.clone()];
    let id = up.id(&key, "/blob/a/c/dir/k");
    assert!(id.starts_with("azmp2."), "{id}");
    assert_eq!(
        Upload::parse(&id, &keys, "/blob/a/c/dir/k"),
        Some(up.clone())
    );
    // Another request: another upload, other blocks.
    let other = Upload::new("req-2", "dir/k", vec![]).unwrap();
    assert_ne!(other.block_id(1), up.block_id(1));
    // Block ids of one upload have one length, as Azure requires.
    assert_eq!(up.block_id(1).len(), up.block_id(10000).len());
    assert_ne!(up.part_etag(1), up.part_etag(2));
    for bad in [
        "",
        "azmp1.",
        "azmp1.!!",
        "2~abc",
        "azmp1.eHl6",
        "azmp2.eHl6",
        "azmp2.eHl6.",
    ] {
        assert_eq!(Upload::parse(bad, &keys, "/blob/a/c/dir/k"), None, "{bad}");
    }
    // Bound to its blob and its key; any changed byte of text or MAC is refused.
    assert_eq!(Upload::parse(&id, &keys, "/blob/a/c/dir/other"), None);
    assert_eq!(Upload::parse(&id, &keys, "/blob/a/c2/dir/k"), None);
    assert_eq!(
        Upload::parse(
            &id,
            &[UploadKey::derive(b"other secret")],
            "/blob/a/c/dir/k"
        ),
        None
    );
    assert_eq!(Upload::parse(&id, &[], "/blob/a/c/dir/k"), None);
    for i in "azmp2.".len()..id.len() {
        let mut bytes = id.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            Upload::parse(&tampered, &keys, "/blob/a/c/dir/k"),
            None,
            "byte {i} of {tampered}"
        );
    }
    assert!(!format!("{key:?}").contains("secret"));
    let big = vec![("x-ms-meta-a".to_string(), "v".repeat(MAX_UPLOAD_HEADERS))];
    assert_eq!(
        Upload::new("r", "k", big).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        block_list_xml(&[up.block_id(1)]),
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList><Latest>{}</Latest></BlockList>",
            up.block_id(1)
        )
    );
}
