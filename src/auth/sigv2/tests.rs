use super::*;
use http::{HeaderMap, HeaderValue, Method};

fn req(target: &str) -> S3Request {
    let (p, q) = target.split_once('?').unwrap_or((target, ""));
    S3Request {
        operation: crate::s3::Operation::GetObject,
        bucket: Some("johnsmith".into()),
        key: Some("photos/puppy.jpg".into()),
        raw_path: p.into(),
        raw_query: q.into(),
        query: q
            .split('&')
            .filter(|x| !x.is_empty())
            .map(|x| {
                let (k, v) = x.split_once('=').unwrap_or((x, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        virtual_hosted: false,
    }
}

// AWS's documented SigV2 example ("Object GET"), secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.
#[test]
fn the_documented_object_get_example_signs_as_aws_says() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "date",
        HeaderValue::from_static("Tue, 27 Mar 2007 19:36:42 +0000"),
    );
    let head = RequestHead {
        method: Method::GET,
        target: "/johnsmith/photos/puppy.jpg".into(),
        headers,
    };
    let sts = string_to_sign(
        &head,
        &req("/johnsmith/photos/puppy.jpg"),
        "Tue, 27 Mar 2007 19:36:42 +0000",
    );
    assert_eq!(
        sts,
        "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"
    );
    assert_eq!(
        sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts),
        "bWq2s1WEIj+Ydj0vQ697zp+IXMU="
    );
}

#[test]
fn amz_headers_and_signed_subresources_enter_the_string_to_sign() {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-meta-b", HeaderValue::from_static("  two   words "));
    headers.insert("x-amz-meta-a", HeaderValue::from_static("1"));
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    let head = RequestHead {
        method: Method::PUT,
        target: "/b/k?uploadId=u&x-id=PutObject&partNumber=2".into(),
        headers,
    };
    let sts = string_to_sign(
        &head,
        &req("/b/k?uploadId=u&x-id=PutObject&partNumber=2"),
        "D",
    );
    assert_eq!(sts, "PUT\n\ntext/plain\nD\nx-amz-meta-a:1\nx-amz-meta-b:two words\n/b/k?partNumber=2&uploadId=u");
}

const AKID: &str = "AKIAV2";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const NOW: Timestamp = Timestamp(1_700_000_000);

struct OneKey;

impl CredentialStore for OneKey {
    fn lookup(
        &self,
        id: &str,
        _token: Option<&str>,
        _now: Timestamp,
    ) -> Result<super::super::ResolvedCredential, S3Error> {
        if id != AKID {
            return Err(S3Error::new(ErrorCode::InvalidAccessKeyId, "unknown"));
        }
        Ok(super::super::ResolvedCredential {
            secret: super::super::secret::SecretKey::new(SECRET),
            identity: crate::policy::Identity::Anonymous,
        })
    }
}

/// A SigV2 presigned GET of `/johnsmith/photos/puppy.jpg`, as boto3 builds it.
fn presigned_target(expires: i64) -> String {
    let head = RequestHead {
        method: Method::GET,
        target: String::new(),
        headers: HeaderMap::new(),
    };
    let sts = string_to_sign(
        &head,
        &req("/johnsmith/photos/puppy.jpg"),
        &expires.to_string(),
    );
    let sig = sign(SECRET, &sts);
    let enc: String = sig
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_string(),
            b'/' => "%2F".to_string(),
            b'=' => "%3D".to_string(),
            b => char::from(b).to_string(),
        })
        .collect();
    format!("/johnsmith/photos/puppy.jpg?AWSAccessKeyId={AKID}&Expires={expires}&Signature={enc}")
}

fn run(target: &str, headers: HeaderMap, now: Timestamp) -> Result<Authenticated, S3Error> {
    let head = RequestHead {
        method: Method::GET,
        target: target.into(),
        headers,
    };
    let mut r = req(target);
    // The verifier reads decoded query values.
    for (_, v) in &mut r.query {
        *v = String::from_utf8(crate::percent::decode_lenient(v.as_bytes())).unwrap();
    }
    verify(&head, &r, &OneKey, &AuthSettings::default(), now)
}

#[test]
fn presigned_v2_url_verifies_until_it_expires() {
    let t = presigned_target(NOW.0 + 300);
    assert!(run(&t, HeaderMap::new(), NOW).is_ok());
    let e = run(&t, HeaderMap::new(), Timestamp(NOW.0 + 301)).unwrap_err();
    assert_eq!(
        (e.code, e.status(), e.message.as_str()),
        (ErrorCode::AccessDenied, 403, "Request has expired")
    );
}

#[test]
fn presigned_v2_expires_more_than_a_week_ahead_is_refused() {
    // A week (plus the allowed clock skew) is fine.
    let t = presigned_target(NOW.0 + 604_800 + 900);
    assert!(run(&t, HeaderMap::new(), NOW).is_ok());
    for far in [NOW.0 + 604_800 + 901, NOW.0 + 10 * 365 * 86_400, i64::MAX] {
        let t = presigned_target(far);
        let e = run(&t, HeaderMap::new(), NOW).unwrap_err();
        assert_eq!(
            (e.code, e.status(), e.message.as_str()),
            (
                ErrorCode::AuthorizationQueryParametersError,
                400,
                "Expires must be less than a week (604800 seconds) from now"
            ),
            "{far}"
        );
    }
}

#[test]
fn an_amz_header_added_to_a_v2_presigned_url_breaks_its_signature() {
    let t = presigned_target(NOW.0 + 300);
    let mut h = HeaderMap::new();
    h.insert("x-amz-copy-source", HeaderValue::from_static("b/secret"));
    assert_eq!(
        run(&t, h, NOW).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn every_amz_header_present_enters_the_v2_string_to_sign() {
    let mut headers = HeaderMap::new();
    for n in [
        "x-amz-copy-source",
        "x-amz-security-token",
        "x-amz-content-sha256",
        "x-amz-decoded-content-length",
        "x-amz-meta-k",
    ] {
        headers.append(n, HeaderValue::from_static("v"));
    }
    headers.append("x-amz-meta-k", HeaderValue::from_static("w"));
    let head = RequestHead {
        method: Method::PUT,
        target: "/b/k".into(),
        headers,
    };
    let sts = string_to_sign(&head, &req("/b/k"), "D");
    assert_eq!(
            sts,
            "PUT\n\n\nD\nx-amz-content-sha256:v\nx-amz-copy-source:v\nx-amz-decoded-content-length:v\nx-amz-meta-k:v,w\nx-amz-security-token:v\n/b/k"
        );
}

#[test]
fn a_v2_presigned_url_signs_the_amz_parameters_it_carries_as_botocore_does() {
    // botocore signs `x-amz-security-token:TOKEN` as a header, then moves it to the query.
    let mut signed = HeaderMap::new();
    signed.insert("x-amz-security-token", HeaderValue::from_static("tok"));
    let expires = (NOW.0 + 300).to_string();
    let sts = string_to_sign(
        &RequestHead {
            method: Method::GET,
            target: String::new(),
            headers: signed,
        },
        &req("/johnsmith/photos/puppy.jpg"),
        &expires,
    );
    assert!(sts.contains("\nx-amz-security-token:tok\n"), "{sts}");
    let sig = sign(SECRET, &sts)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let t = format!("/johnsmith/photos/puppy.jpg?AWSAccessKeyId={AKID}&Expires={expires}&x-amz-security-token=tok&Signature={sig}");
    assert!(run(&t, HeaderMap::new(), NOW).is_ok());
    // Another token in the query is another string to sign.
    let other = t.replace("x-amz-security-token=tok", "x-amz-security-token=tik");
    assert_eq!(
        run(&other, HeaderMap::new(), NOW).unwrap_err().code,
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn an_amz_header_that_is_not_utf8_is_refused_before_signing() {
    let t = presigned_target(NOW.0 + 300);
    let mut h = HeaderMap::new();
    h.insert("x-amz-meta-a", HeaderValue::from_bytes(&[0xff]).unwrap());
    assert_eq!(
        run(&t, h, NOW).unwrap_err().code,
        ErrorCode::InvalidArgument
    );
}
