"""R2 buckets through the Worker's binding: the same S3 surface clients see on any backend."""
import hashlib
import io
import uuid

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig

from conftest import KEYS
from helpers import assert_client_error, assert_request_id, assert_s3_error
from sigv4 import sign, sign_chunked


def uid():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def r2(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return s3["admin"]


def test_the_native_server_answers_r2_buckets_with_not_implemented(gateway):
    if gateway.runtime != "native":
        pytest.skip("native server only")
    url, headers = sign("GET", f"{gateway.endpoint}/r2/some-key", *KEYS["admin"])
    assert_s3_error(requests.get(url, headers=headers), 501, "NotImplemented")


def test_put_get_head_keep_metadata_and_content_headers(r2):
    key = f"meta/{uid()}.txt"
    r2.put_object(Bucket="r2", Key=key, Body=b"hello r2", ContentType="text/plain",
                  CacheControl="max-age=60", ContentDisposition="inline", Metadata={"team": "geo"})
    got = r2.get_object(Bucket="r2", Key=key)
    assert got["Body"].read() == b"hello r2"
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline" and got["Metadata"] == {"team": "geo"}
    assert got["ETag"] == f'"{hashlib.md5(b"hello r2").hexdigest()}"'
    head = r2.head_object(Bucket="r2", Key=key)
    assert head["ContentLength"] == 8 and head["Metadata"] == {"team": "geo"}


def test_ranges_and_conditionals_follow_s3(r2):
    key = f"range/{uid()}"
    body = bytes(range(256)) * 4
    etag = r2.put_object(Bucket="r2", Key=key, Body=body)["ETag"]
    r = r2.get_object(Bucket="r2", Key=key, Range="bytes=10-19")
    assert r["Body"].read() == body[10:20] and r["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert r2.get_object(Bucket="r2", Key=key, Range="bytes=-5")["Body"].read() == body[-5:]
    assert r2.get_object(Bucket="r2", Key=key, Range="bytes=1000-")["Body"].read() == body[1000:]
    assert_client_error(r2.get_object, 304, "304", Bucket="r2", Key=key, IfNoneMatch=etag)
    assert_client_error(r2.get_object, 412, "PreconditionFailed", Bucket="r2", Key=key, IfMatch='"nope"')
    assert r2.get_object(Bucket="r2", Key=key, IfMatch=etag)["Body"].read() == body
    assert_client_error(r2.get_object, 416, "InvalidRange", Bucket="r2", Key=key, Range="bytes=5000-")


def test_missing_keys_are_no_such_key_with_a_request_id(gateway, r2):
    assert_client_error(r2.get_object, 404, "NoSuchKey", Bucket="r2", Key="no/such/key")
    assert_client_error(r2.head_object, 404, "404", Bucket="r2", Key="no/such/key")
    url, headers = sign("GET", f"{gateway.endpoint}/r2/no/such/key", *KEYS["admin"])
    r = requests.get(url, headers=headers)
    assert_s3_error(r, 404, "NoSuchKey")


def test_delete_and_delete_objects(r2):
    keys = [f"del/{uid()}" for _ in range(3)]
    for k in keys:
        r2.put_object(Bucket="r2", Key=k, Body=b"x")
    r2.delete_object(Bucket="r2", Key=keys[0])
    assert_client_error(r2.head_object, 404, "404", Bucket="r2", Key=keys[0])
    out = r2.delete_objects(Bucket="r2", Delete={"Objects": [{"Key": k} for k in keys[1:]]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(keys[1:])
    for k in keys[1:]:
        assert_client_error(r2.head_object, 404, "404", Bucket="r2", Key=k)


def test_multipart_upload_of_twelve_mib_round_trips(r2):
    key = f"mpu/{uid()}.bin"
    data = bytes(range(256)) * (48 * 1024)  # 12 MiB: parts of 5, 5 and 2 MiB
    cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, use_threads=False)
    r2.upload_fileobj(io.BytesIO(data), "r2", key, Config=cfg)
    head = r2.head_object(Bucket="r2", Key=key)
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    assert r2.get_object(Bucket="r2", Key=key)["Body"].read() == data


def test_abort_multipart_upload_and_unknown_upload_ids(r2):
    key = f"mpu/{uid()}"
    up = r2.create_multipart_upload(Bucket="r2", Key=key)["UploadId"]
    r2.abort_multipart_upload(Bucket="r2", Key=key, UploadId=up)
    assert_client_error(r2.upload_part, 404, "NoSuchUpload", Bucket="r2", Key=key,
                        UploadId="not-an-upload", PartNumber=1, Body=b"x")


def test_copy_object_within_the_binding_keeps_or_replaces_metadata(r2):
    src, dst, dst2 = (f"copy/{uid()}" for _ in range(3))
    r2.put_object(Bucket="r2", Key=src, Body=b"copy me", ContentType="text/csv", Metadata={"a": "1"})
    r2.copy_object(Bucket="r2", Key=dst, CopySource={"Bucket": "r2", "Key": src})
    got = r2.get_object(Bucket="r2", Key=dst)
    assert got["Body"].read() == b"copy me" and got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"a": "1"}
    r2.copy_object(Bucket="r2", Key=dst2, CopySource={"Bucket": "r2", "Key": src},
                   MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"b": "2"})
    got = r2.get_object(Bucket="r2", Key=dst2)
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"b": "2"}


def test_signed_bodies_are_verified_before_r2_stores_them(gateway, r2):
    key = f"verify/{uid()}"
    url, headers = sign("PUT", f"{gateway.endpoint}/r2/{key}", *KEYS["admin"], body=b"signed body!")
    r = requests.put(url, data=b"other body!!", headers=headers)
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_client_error(r2.head_object, 404, "404", Bucket="r2", Key=key)
    data = b"chunked " * 20000
    url, headers, body = sign_chunked(f"{gateway.endpoint}/r2/{key}", *KEYS["admin"], data)
    r = requests.put(url, data=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r2.get_object(Bucket="r2", Key=key)["Body"].read() == data


def test_anonymous_and_out_of_scope_callers_are_refused(gateway, s3, r2):
    assert_client_error(s3["anon"].get_object, 403, "AccessDenied", Bucket="r2", Key="x")
    assert_client_error(s3["reader"].put_object, 403, "AccessDenied", Bucket="r2", Key="x", Body=b"x")
    r = requests.get(f"{gateway.endpoint}/r2?list-type=2")
    assert_s3_error(r, 403, "AccessDenied")
    assert_request_id(r.headers)
