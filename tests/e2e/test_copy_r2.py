"""CopyObject between an R2-binding bucket (`r2`, Worker only) and an S3-compatible bucket
(`private`, `elsewhere` on SeaweedFS), both ways: the gateway reads one and writes the other,
streamed. The S3 -> R2 migration case."""
import hashlib
import os
import uuid

import pytest
import requests

from conftest import COPY_MULTIPART_THRESHOLD, KEYS
from helpers import assert_client_error, assert_s3_error
from sigv4 import sign


def uid():
    return uuid.uuid4().hex[:10]


@pytest.fixture
def c(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return s3["admin"]


def test_the_native_server_answers_copies_touching_r2_with_not_implemented(gateway, s3):
    if gateway.runtime != "native":
        pytest.skip("native server only")
    s3["admin"].put_object(Bucket="private", Key="r2copy/native", Body=b"x")
    for bucket, source in [("r2", "/private/r2copy/native"), ("private", "/r2/some-key")]:
        url, headers = sign("PUT", f"{gateway.endpoint}/{bucket}/r2copy/native-copy",
                            *KEYS["admin"], headers={"x-amz-copy-source": source})
        assert_s3_error(requests.put(url, headers=headers), 501, "NotImplemented")


def test_s3_to_r2_keeps_the_body_and_copies_the_metadata(c):
    src, dst = f"r2copy/{uid()} é+=.txt", f"r2copy/{uid()}.txt"
    body = os.urandom(100_000)
    c.put_object(Bucket="private", Key=src, Body=body, ContentType="text/csv",
                 CacheControl="max-age=60", ContentDisposition="inline", Metadata={"colour": "blue"})
    r = c.copy_object(Bucket="r2", Key=dst, CopySource={"Bucket": "private", "Key": src})
    assert r["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    got = c.get_object(Bucket="r2", Key=dst)
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv" and got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline" and got["Metadata"] == {"colour": "blue"}
    # Under the r2 bucket's backend prefix on the binding.
    assert c.get_object(Bucket="r2-root", Key="r2/" + dst)["Body"].read() == body


def test_r2_to_s3_keeps_the_body_and_copies_the_metadata(c):
    src, dst = f"r2copy/{uid()}", f"r2copy/{uid()}"
    body = os.urandom(50_000)
    c.put_object(Bucket="r2", Key=src, Body=body, ContentType="image/png",
                 Metadata={"team": "geo"})
    c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "r2", "Key": src})
    got = c.get_object(Bucket="elsewhere", Key=dst)
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/png" and got["Metadata"] == {"team": "geo"}


def test_the_replace_directive_takes_the_requests_metadata_both_ways(c):
    src, mid, dst = f"r2copy/{uid()}", f"r2copy/{uid()}", f"r2copy/{uid()}"
    c.put_object(Bucket="private", Key=src, Body=b"hello", ContentType="text/plain",
                 Metadata={"old": "1"})
    c.copy_object(Bucket="r2", Key=mid, CopySource={"Bucket": "private", "Key": src},
                  MetadataDirective="REPLACE", ContentType="application/json", Metadata={"new": "2"})
    got = c.get_object(Bucket="r2", Key=mid)
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "application/json" and got["Metadata"] == {"new": "2"}
    c.copy_object(Bucket="private", Key=dst, CopySource={"Bucket": "r2", "Key": mid},
                  MetadataDirective="REPLACE", ContentType="text/x-three", Metadata={"third": "3"})
    got = c.get_object(Bucket="private", Key=dst)
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/x-three" and got["Metadata"] == {"third": "3"}


def test_an_empty_object_is_copied_both_ways(c):
    src, mid, dst = f"r2copy/{uid()}", f"r2copy/{uid()}", f"r2copy/{uid()}"
    c.put_object(Bucket="private", Key=src, Body=b"")
    c.copy_object(Bucket="r2", Key=mid, CopySource={"Bucket": "private", "Key": src})
    assert c.get_object(Bucket="r2", Key=mid)["Body"].read() == b""
    c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "r2", "Key": mid})
    assert c.get_object(Bucket="elsewhere", Key=dst)["Body"].read() == b""


def test_a_multi_mib_object_is_one_put_into_r2_and_parts_out_of_it(c, backend):
    src, mid, dst = f"r2copy/{uid()}", f"r2copy/{uid()}", f"r2copy/{uid()}"
    body = os.urandom(COPY_MULTIPART_THRESHOLD * 2 + 12345)
    digest = hashlib.sha256(body).digest()
    c.put_object(Bucket="private", Key=src, Body=body, Metadata={"big": "yes"})
    r = c.copy_object(Bucket="r2", Key=mid, CopySource={"Bucket": "private", "Key": src})
    # Into R2: one put, whatever the multipart threshold (R2 takes up to 5 GiB in one).
    assert r["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    got = c.get_object(Bucket="r2", Key=mid)
    assert hashlib.sha256(got["Body"].read()).digest() == digest
    assert got["Metadata"] == {"big": "yes"}
    # Out of R2 above the threshold: a multipart upload of 3 parts, each a ranged get.
    r = c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "r2", "Key": mid})
    assert r["CopyObjectResult"]["ETag"].strip('"').endswith("-3")
    got = c.get_object(Bucket="elsewhere", Key=dst)
    assert hashlib.sha256(got["Body"].read()).digest() == digest
    assert got["Metadata"] == {"big": "yes"}
    ups = backend.list_multipart_uploads(Bucket="bk-elsewhere", Prefix="e/r2copy/")
    assert [u for u in ups.get("Uploads", []) if u["Key"] == "e/" + dst] == []


def test_source_conditions_hold_both_ways(c):
    src = f"r2copy/{uid()}"
    for src_bucket, dst_bucket in [("private", "r2"), ("r2", "elsewhere")]:
        etag = c.put_object(Bucket=src_bucket, Key=src, Body=b"abc")["ETag"]
        ref = {"Bucket": src_bucket, "Key": src}
        assert_client_error(c.copy_object, 412, "PreconditionFailed", Bucket=dst_bucket,
                            Key=src + "-a", CopySource=ref, CopySourceIfMatch='"nope"')
        assert_client_error(c.copy_object, 412, "PreconditionFailed", Bucket=dst_bucket,
                            Key=src + "-b", CopySource=ref, CopySourceIfNoneMatch=etag)
        c.copy_object(Bucket=dst_bucket, Key=src + "-c", CopySource=ref, CopySourceIfMatch=etag)
        assert_client_error(c.head_object, 404, "404", Bucket=dst_bucket, Key=src + "-a")
        assert_client_error(c.head_object, 404, "404", Bucket=dst_bucket, Key=src + "-b")
        assert c.get_object(Bucket=dst_bucket, Key=src + "-c")["Body"].read() == b"abc"


def test_a_missing_source_is_no_such_key_both_ways(c):
    for src_bucket, dst_bucket in [("private", "r2"), ("r2", "elsewhere")]:
        dst = f"r2copy/{uid()}"
        assert_client_error(c.copy_object, 404, "NoSuchKey", Bucket=dst_bucket, Key=dst,
                            CopySource={"Bucket": src_bucket, "Key": f"r2copy/missing-{uid()}"})
        assert_client_error(c.head_object, 404, "404", Bucket=dst_bucket, Key=dst)


def test_a_versioned_r2_source_is_not_implemented(c):
    c.put_object(Bucket="r2", Key="r2copy/v", Body=b"v")
    assert_client_error(c.copy_object, 501, "NotImplemented", Bucket="elsewhere", Key="r2copy/v",
                        CopySource={"Bucket": "r2", "Key": "r2copy/v", "VersionId": "abc"})


def test_upload_part_copy_reads_an_r2_range_into_an_s3_upload(c):
    src, dst = f"r2copy/{uid()}", f"r2copy/{uid()}"
    body = os.urandom(6 << 20)
    c.put_object(Bucket="r2", Key=src, Body=body)
    up = c.create_multipart_upload(Bucket="elsewhere", Key=dst)["UploadId"]
    ref = {"Bucket": "r2", "Key": src}
    p1 = c.upload_part_copy(Bucket="elsewhere", Key=dst, UploadId=up, PartNumber=1,
                            CopySource=ref, CopySourceRange=f"bytes=0-{(5 << 20) - 1}")
    p2 = c.upload_part_copy(Bucket="elsewhere", Key=dst, UploadId=up, PartNumber=2,
                            CopySource=ref, CopySourceRange=f"bytes={5 << 20}-{len(body) - 1}")
    c.complete_multipart_upload(Bucket="elsewhere", Key=dst, UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket="elsewhere", Key=dst)["Body"].read() == body


def test_upload_part_copy_into_r2_from_s3_is_not_implemented(c):
    src, dst = f"r2copy/{uid()}", f"r2copy/{uid()}"
    c.put_object(Bucket="private", Key=src, Body=b"part")
    up = c.create_multipart_upload(Bucket="r2", Key=dst)["UploadId"]
    assert_client_error(c.upload_part_copy, 501, "NotImplemented", Bucket="r2", Key=dst,
                        UploadId=up, PartNumber=1, CopySource={"Bucket": "private", "Key": src})
    c.abort_multipart_upload(Bucket="r2", Key=dst, UploadId=up)
