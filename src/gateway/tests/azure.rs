//! Azure buckets through the pipeline: planning, answers, upload ids.

mod planning {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method, StatusCode};

    use super::super::{ctx, head};
    use crate::backend::azure::answer::AzureAnswer;
    use crate::backend::azure::{SigningKey, UserDelegationKey};
    use crate::backend::federation::{BackendSecret, TemporaryCredentials};
    use crate::config::{ConfigFormat, GatewayConfig};
    use crate::gateway::{Gateway, GatewayOptions, Plan, Timing};
    use crate::time::Timestamp;

    const CONFIG: &str = r#"
[[buckets]]
name = "az"
backend_type = "az"
anonymous_access = true
backend_prefix = "p/"
[buckets.backend_options]
account_name = "devstoreaccount1"
container_name = "cont"
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
access_key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

[[buckets]]
name = "azfed"
backend_type = "az"
anonymous_access = true
[buckets.backend_options]
account_name = "acct"
container_name = "cont"
auth_type = "oidc"
tenant_id = "t"
client_id = "c"
"#;

    fn gateway() -> Gateway {
        let config = GatewayConfig::parse(CONFIG, ConfigFormat::Toml).unwrap();
        Gateway::new(config, GatewayOptions::default()).unwrap()
    }

    fn forward(plan: Plan) -> Box<crate::gateway::Forward> {
        match plan {
            Plan::Forward(f) => f,
            other => panic!("not a forward: {other:?}"),
        }
    }

    #[test]
    fn a_read_is_a_read_only_blob_sas_under_the_prefix() {
        let f = forward(gateway().plan(&head(Method::GET, "/az/a%20b"), &ctx()));
        assert!(
            f.url
                .starts_with("http://127.0.0.1:10000/devstoreaccount1/cont/p/a%20b?sv=2021-08-06&sr=b&sp=r&se=2023-11-14T23%3A13%3A20Z&sig="),
            "{}",
            f.url
        );
        assert_eq!(f.headers["x-ms-version"], "2021-08-06");
    }

    #[test]
    fn azure_answers_are_translated_into_s3_terms() {
        let g = gateway();
        let f = forward(g.plan(&head(Method::GET, "/az/k"), &ctx()));
        let mut h = HeaderMap::new();
        h.insert("x-ms-meta-colour", HeaderValue::from_static("blue"));
        h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
        let (status, out) = f.response_head(StatusCode::OK, &h, Timing::default());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(out["x-amz-meta-colour"], "blue");
        assert!(out.get("x-ms-blob-type").is_none() && out.get("x-ms-meta-colour").is_none());
        let missing = Bytes::from_static(
            b"<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code><Message>gone</Message></Error>",
        );
        let resp = f.buffered_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            missing.clone(),
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(resp.body()).contains("<Code>NoSuchKey</Code>"));
        let auth = Bytes::from_static(
            b"<Error><Code>AuthenticationFailed</Code><Message>x</Message></Error>",
        );
        let resp = f.buffered_response(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            auth,
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        // A delete of a missing blob is S3's 204 (deletes need credentials: the same forward,
        // marked as a delete).
        let mut d = f;
        d.finish.answer = Box::new(AzureAnswer {
            delete: true,
            ..AzureAnswer::default()
        });
        let resp = d.buffered_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            missing,
            Timing::default(),
        );
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        let (status, _) =
            d.response_head(StatusCode::ACCEPTED, &HeaderMap::new(), Timing::default());
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn a_federated_bucket_asks_for_its_key_then_signs_a_user_delegation_sas() {
        let g = gateway();
        let h = head(Method::GET, "/azfed/k");
        // Without an OIDC provider the bucket says so.
        let Plan::Respond(r) = g.plan(&h, &ctx()) else {
            panic!()
        };
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let creds = TemporaryCredentials {
            secret: BackendSecret::AzureDelegation(Box::new(UserDelegationKey {
                signed_oid: "oid".into(),
                signed_tid: "tid".into(),
                signed_start: "2023-11-14T22:00:00Z".into(),
                signed_expiry: "2023-11-15T00:00:00Z".into(),
                signed_service: "b".into(),
                signed_version: "2021-08-06".into(),
                value: SigningKey::from_base64("a2V5").unwrap(),
            })),
            expiration: Timestamp(1_700_003_600),
        };
        let f = forward(g.plan_with_credentials(&h, &ctx(), None, Ok(&creds)));
        assert!(
            f.url
                .starts_with("https://acct.blob.core.windows.net/cont/k?")
                && f.url.contains("&skoid=oid&sktid=tid&"),
            "{}",
            f.url
        );
    }
}

mod upload_ids {
    use base64::Engine as _;

    use http::{Method, StatusCode};

    use super::super::ctx;
    use crate::auth::sigv4::tests::{header_signed, SECRET};
    use crate::config::{ConfigFormat, GatewayConfig};
    use crate::gateway::{Gateway, GatewayOptions, Plan, RequestHead};
    use crate::s3::xml;
    use crate::sts::token::SessionKeys;

    fn gateway(account_key: bool, session_keys: Option<SessionKeys>) -> Gateway {
        let auth = if account_key {
            "access_key = \"YXp1cmUtc2VjcmV0LXZhbHVl\""
        } else {
            "skip_signature = \"true\""
        };
        let text = format!(
            r#"
[[buckets]]
name = "az"
backend_type = "azure"
[buckets.backend_options]
endpoint = "http://127.0.0.1:10000/devstoreaccount1"
account_name = "devstoreaccount1"
container_name = "c"
{auth}

[[credentials]]
access_key_id = "AKIDEXAMPLE"
secret_access_key = "{SECRET}"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["put_object", "create_multipart_upload", "upload_part",
           "complete_multipart_upload", "abort_multipart_upload"]
"#
        );
        let config = GatewayConfig::parse(&text, ConfigFormat::Toml).unwrap();
        let options = GatewayOptions {
            session_keys,
            ..GatewayOptions::default()
        };
        Gateway::new(config, options).unwrap()
    }

    fn head(method: &str, target: &str, extra: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            target: target.into(),
            headers: header_signed(method, target, SECRET, ctx().now, "us-east-1", extra),
        }
    }

    fn create(g: &Gateway, key: &str) -> String {
        let Plan::Respond(r) = g.plan(&head("POST", &format!("/az/{key}?uploads"), &[]), &ctx())
        else {
            panic!("Create is answered by the gateway")
        };
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        xml::child_text(body.as_bytes(), "InitiateMultipartUploadResult", "UploadId").unwrap()
    }

    fn part(g: &Gateway, key: &str, id: &str) -> Plan {
        let id = crate::percent::encode(id.as_bytes(), false);
        g.plan(
            &head(
                "PUT",
                &format!("/az/{key}?partNumber=1&uploadId={id}"),
                &[("content-length", "5")],
            ),
            &ctx(),
        )
    }

    fn no_such_upload(plan: Plan) {
        match plan {
            Plan::Respond(r) => {
                let body = String::from_utf8_lossy(r.body()).into_owned();
                assert_eq!(r.status(), StatusCode::NOT_FOUND, "{body}");
                assert!(body.contains("<Code>NoSuchUpload</Code>"), "{body}");
            }
            other => panic!("expected 404 NoSuchUpload, got {other:?}"),
        }
    }

    #[test]
    fn a_forged_or_tampered_azure_upload_id_is_no_such_upload_before_any_backend_call() {
        let g = gateway(true, None);
        let id = create(&g, "dir/k");
        assert!(matches!(part(&g, "dir/k", &id), Plan::Forward(_)));
        // A v1 id (unauthenticated state) carrying a header of the client's choosing.
        let text = "0123456789abcdef\nx-ms-copy-source:http://elsewhere/x";
        let forged = format!(
            "azmp1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        );
        no_such_upload(part(&g, "dir/k", &forged));
        // The same text with this gateway's prefix and a made-up MAC.
        let (body, tag) = id.rsplit_once('.').unwrap();
        let forged2 = format!(
            "azmp2.{}.{tag}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
        );
        no_such_upload(part(&g, "dir/k", &forged2));
        // One flipped character of the MAC; a MAC cut short.
        let flipped: String = tag
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 3 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        no_such_upload(part(&g, "dir/k", &format!("{body}.{flipped}")));
        no_such_upload(part(&g, "dir/k", &format!("{body}.{}", &tag[..20])));
        no_such_upload(part(&g, "dir/k", body));
        // Complete and Abort refuse it too, Complete before reading its body.
        for (method, target) in [
            ("POST", format!("/az/dir/k?uploadId={forged2}")),
            ("DELETE", format!("/az/dir/k?uploadId={forged2}")),
        ] {
            no_such_upload(g.plan(&head(method, &target, &[]), &ctx()));
        }
        let Plan::NeedBody { .. } = g.plan(
            &head(
                "POST",
                &format!(
                    "/az/dir/k?uploadId={}",
                    crate::percent::encode(id.as_bytes(), false)
                ),
                &[],
            ),
            &ctx(),
        ) else {
            panic!("a genuine id's Complete reads its body")
        };
    }

    #[test]
    fn an_azure_upload_id_cannot_be_replayed_on_another_key_or_gateway() {
        let g = gateway(true, None);
        let id = create(&g, "a/one");
        no_such_upload(part(&g, "a/two", &id));
        // Another gateway key (SESSION_TOKEN_KEY set): not ours.
        let other = gateway(true, Some(SessionKeys::new(&[9; 32], None).unwrap()));
        no_such_upload(part(&other, "a/one", &id));
    }

    #[test]
    fn upload_ids_use_the_session_token_key_and_survive_its_rotation() {
        let old = SessionKeys::new(&[1; 32], None).unwrap();
        let id = create(&gateway(true, Some(old)), "k");
        let rotated = SessionKeys::new(&[2; 32], Some(&[1; 32])).unwrap();
        assert!(matches!(
            part(&gateway(true, Some(rotated)), "k", &id),
            Plan::Forward(_)
        ));
        // Without an account key, SESSION_TOKEN_KEY alone is enough.
        let keys = SessionKeys::new(&[3; 32], None).unwrap();
        let g = gateway(false, Some(keys));
        let id = create(&g, "k");
        assert!(matches!(part(&g, "k", &id), Plan::Forward(_)));
    }

    #[test]
    fn without_any_key_to_authenticate_ids_multipart_uploads_are_refused() {
        let g = gateway(false, None);
        let Plan::Respond(r) = g.plan(&head("POST", "/az/k?uploads", &[]), &ctx()) else {
            panic!("refused by the gateway")
        };
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED, "{body}");
        assert!(body.contains("SESSION_TOKEN_KEY"), "{body}");
    }
}
