"""Authentication and authorization: every bad input is a clear S3 error."""
import email.utils
import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

from conftest import KEYS, boto
from helpers import assert_client_error, assert_s3_error
from sigv4 import sign


def uid():
    return uuid.uuid4().hex[:10]


def test_wrong_secret_is_signature_does_not_match(gateway):
    c = boto(gateway.endpoint, KEYS["admin"][0], "wrong-secret")
    assert_client_error(c.get_object, 403, "SignatureDoesNotMatch", Bucket="private", Key="x")
    url, headers = sign("GET", f"{gateway.endpoint}/private/x", KEYS["admin"][0], "wrong-secret")
    root = assert_s3_error(requests.get(url, headers=headers), 403, "SignatureDoesNotMatch")
    assert root.findtext("CanonicalRequest").startswith("GET\n/private/x\n")


def test_unknown_access_key_is_invalid_access_key_id(gateway):
    c = boto(gateway.endpoint, "AKIAUNKNOWN00000", "whatever")
    assert_client_error(c.list_objects_v2, 403, "InvalidAccessKeyId", Bucket="private")


def test_disabled_key_is_access_denied_and_expired_key_is_expired_token(s3):
    assert_client_error(s3["disabled"].list_objects_v2, 403, "AccessDenied", Bucket="private")
    assert_client_error(s3["expired"].list_objects_v2, 400, "ExpiredToken", Bucket="private")


def test_skewed_date_is_request_time_too_skewed(gateway):
    when = datetime.now(timezone.utc) - timedelta(minutes=20)
    url, headers = sign("GET", f"{gateway.endpoint}/private/x", *KEYS["admin"], when=when)
    root = assert_s3_error(requests.get(url, headers=headers), 403, "RequestTimeTooSkewed")
    assert root.findtext("ServerTime")


def test_expired_presigned_url_is_access_denied(s3):
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "x"}, ExpiresIn=1)
    time.sleep(2)
    root = assert_s3_error(requests.get(url), 403, "AccessDenied")
    assert "expired" in root.findtext("Message").lower()


def test_presigned_url_over_seven_days_is_refused(gateway, s3):
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "x"}, ExpiresIn=3600)
    url = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801")
    assert_s3_error(requests.get(url), 400, "AuthorizationQueryParametersError")


def test_tampered_presigned_url_is_refused(s3):
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "a"})
    assert_s3_error(requests.get(url.replace("/private/a?", "/private/b?")), 403, "SignatureDoesNotMatch")


def test_anonymous_write_to_a_public_bucket_is_access_denied(gateway, s3):
    assert_client_error(s3["anon"].put_object, 403, "AccessDenied", Bucket="public", Key="x", Body=b"x")
    assert_client_error(s3["anon"].delete_object, 403, "AccessDenied", Bucket="public", Key="hello.txt")
    assert_s3_error(requests.put(f"{gateway.endpoint}/public/x", data=b"x"), 403, "AccessDenied")


def test_anonymous_read_of_a_private_bucket_is_access_denied(gateway):
    assert_s3_error(requests.get(f"{gateway.endpoint}/private/x"), 403, "AccessDenied")
    assert_s3_error(requests.get(f"{gateway.endpoint}/private?list-type=2"), 403, "AccessDenied")


def test_reader_cannot_write_and_scoped_key_cannot_leave_its_prefix(s3):
    assert_client_error(s3["reader"].put_object, 403, "AccessDenied", Bucket="private", Key="x", Body=b"x")
    s3["scoped"].put_object(Bucket="private", Key=f"team/{uid()}", Body=b"ok")
    resp = assert_client_error(s3["scoped"].put_object, 403, "AccessDenied", Bucket="private", Key="other/x", Body=b"x")
    assert "put_object" in resp["Error"]["Message"]


def test_signed_sha256_that_does_not_match_the_body_never_becomes_an_object(gateway, s3):
    key = f"mismatch/{uid()}"
    signed_body = b"the body that was signed"
    sent_body = b"the body that was sent!!"
    assert len(signed_body) == len(sent_body)
    url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"], body=signed_body)
    r = requests.put(url, data=sent_body, headers=headers)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket="private", Key=key)


def test_large_body_with_mismatching_sha256_leaves_no_object(gateway, s3):
    key = f"mismatch/big-{uid()}"
    body = b"z" * (8 << 20)
    url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"],
                        payload_hash=hashlib.sha256(b"other").hexdigest())
    r = requests.put(url, data=body, headers=headers)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket="private", Key=key)


def test_malformed_authorization_header_is_a_clear_error(gateway):
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=garbage", "x-amz-date": "20240101T000000Z",
               "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    assert_s3_error(requests.get(f"{gateway.endpoint}/private/x", headers=headers), 400,
                    "AuthorizationHeaderMalformed")


def test_sigv2_header_and_presigned_urls_work_as_boto3_sends_them(gateway, s3):
    import boto3
    from botocore.config import Config
    v2 = boto3.client("s3", endpoint_url=gateway.endpoint, aws_access_key_id=KEYS["admin"][0],
                      aws_secret_access_key=KEYS["admin"][1], region_name="us-east-1",
                      config=Config(signature_version="s3", s3={"addressing_style": "path"}))
    key = f"v2/{uid()} a+b"
    v2.put_object(Bucket="private", Key=key, Body=b"sigv2", Metadata={"m": "1"})
    assert v2.get_object(Bucket="private", Key=key)["Body"].read() == b"sigv2"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": "private", "Key": key}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    r = requests.get(url)
    assert r.status_code == 200 and r.content == b"sigv2", r.text
    assert_s3_error(requests.get(url.replace("private/v2", "private/v3")), 403, "SignatureDoesNotMatch")


def test_sigv2_unknown_key_and_expired_presign_are_refused(gateway, s3):
    r = requests.get(f"{gateway.endpoint}/private/x", headers={"Authorization": "AWS AKIAUNKNOWN:c2ln",
                                                              "Date": email.utils.formatdate(usegmt=True)})
    assert_s3_error(r, 403, "InvalidAccessKeyId")
    expired = f"{gateway.endpoint}/private/x?AWSAccessKeyId={KEYS['admin'][0]}&Expires=1000&Signature=abc%3D"
    assert_s3_error(requests.get(expired), 403, "AccessDenied")


def test_missing_content_length_on_put_is_refused(gateway):
    def gen():
        yield b"abc"
    url, headers = sign("PUT", f"{gateway.endpoint}/private/nolength", *KEYS["admin"],
                        payload_hash="UNSIGNED-PAYLOAD")
    r = requests.put(url, data=gen(), headers=headers)  # chunked transfer encoding, no length
    assert_s3_error(r, 411, "MissingContentLength")


def test_every_error_carries_a_request_id_even_on_head(gateway):
    r = requests.head(f"{gateway.endpoint}/private/x")
    assert r.status_code == 403 and r.headers["x-amz-request-id"]
    r = requests.head(f"{gateway.endpoint}/nope-bucket/x")
    assert r.status_code == 404 and r.headers["x-amz-request-id"]


def test_client_disconnect_mid_upload_leaves_no_object(gateway, s3):
    import socket
    from urllib.parse import urlsplit
    cases = [("UNSIGNED-PAYLOAD", 1 << 20), (hashlib.sha256(b"x" * (4 << 20)).hexdigest(), 1 << 20),
             ("UNSIGNED-PAYLOAD", 0)]
    for mode, sent in cases:
        key = f"disconnect/{uid()}"
        url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"], payload_hash=mode,
                            headers={"content-length": str(4 << 20)})
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port))
        head = f"PUT {parts.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode() + b"x" * sent)  # a quarter of the declared body, or none of it
        time.sleep(0.5)
        sock.close()
        time.sleep(0.5)
        assert_client_error(s3["admin"].head_object, 404, "404", Bucket="private", Key=key)


def test_presigned_put_with_an_unsigned_copy_source_is_refused_and_copies_nothing(s3):
    admin = s3["admin"]
    secret, dst = f"unsigned/secret-{uid()}", f"unsigned/dst-{uid()}"
    admin.put_object(Bucket="private", Key=secret, Body=b"not for the link holder")
    url = admin.generate_presigned_url("put_object", Params={"Bucket": "private", "Key": dst})
    for extra in ({"x-amz-copy-source": f"private/{secret}"},
                  {"x-amz-copy-source": f"private/{secret}", "x-amz-tagging": "a=b"}):
        r = requests.put(url, data=b"", headers=extra)
        root = assert_s3_error(r, 403, "AccessDenied")
        assert root.findtext("Message") == "There were headers present in the request which were not signed"
        assert root.findtext("HeadersNotSigned") == ", ".join(sorted(extra))
    assert_client_error(admin.head_object, 404, "404", Bucket="private", Key=dst)
    # The same URL without the added header still works.
    assert requests.put(url, data=b"mine").status_code == 200


def test_header_signed_request_with_an_unsigned_amz_header_is_refused(gateway, s3):
    key = f"unsigned/h-{uid()}"
    url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"], body=b"x")
    headers["x-amz-meta-added"] = "1"
    root = assert_s3_error(requests.put(url, data=b"x", headers=headers), 403, "AccessDenied")
    assert root.findtext("HeadersNotSigned") == "x-amz-meta-added"
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket="private", Key=key)


def test_presigned_get_used_as_put_or_head_is_signature_does_not_match(s3):
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "x"})
    assert_s3_error(requests.put(url, data=b"overwrite"), 403, "SignatureDoesNotMatch")
    assert_s3_error(requests.head(url), 403, "SignatureDoesNotMatch", head=True)


def test_presigned_expires_zero_has_expired_and_sigv2_over_a_week_is_refused(gateway, s3):
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "x"}, ExpiresIn=60)
    root = assert_s3_error(requests.get(url.replace("X-Amz-Expires=60", "X-Amz-Expires=0")), 403, "AccessDenied")
    assert root.findtext("Message") == "Request has expired"
    import boto3
    from botocore.config import Config
    v2 = boto3.client("s3", endpoint_url=gateway.endpoint, aws_access_key_id=KEYS["admin"][0],
                      aws_secret_access_key=KEYS["admin"][1], region_name="us-east-1",
                      config=Config(signature_version="s3", s3={"addressing_style": "path"}))
    far = v2.generate_presigned_url("get_object", Params={"Bucket": "private", "Key": "x"}, ExpiresIn=8 * 86400)
    assert_s3_error(requests.get(far), 400, "AuthorizationQueryParametersError")
