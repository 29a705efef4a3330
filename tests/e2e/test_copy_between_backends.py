"""CopyObject and UploadPartCopy between backends that cannot copy server-side: bucket
`elsewhere` is another SeaweedFS identity (another backend account), so the gateway reads the
source and writes the destination itself, streamed, multipart above the configured threshold."""
import hashlib
import os
import subprocess
import uuid

from boto3.s3.transfer import TransferConfig

from conftest import BACKEND_BUCKETS, COPY_MULTIPART_THRESHOLD, KEYS
from helpers import assert_client_error


def uid():
    return uuid.uuid4().hex[:10]


def test_copy_to_another_backend_account_streams_the_object_and_keeps_its_metadata(s3, backend):
    c = s3["admin"]
    src, dst = f"xcopy/{uid()} é+=.txt", f"xcopy/{uid()}.txt"
    body = os.urandom(100_000)
    c.put_object(Bucket="private", Key=src, Body=body, ContentType="text/csv",
                 CacheControl="max-age=60", Metadata={"colour": "blue"})
    r = c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "private", "Key": src})
    assert r["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    got = c.get_object(Bucket="elsewhere", Key=dst)
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv"
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"colour": "blue"}
    # Written by the other account, under the bucket's backend prefix.
    raw = backend.get_object(Bucket=BACKEND_BUCKETS["elsewhere"], Key="e/" + dst)
    assert raw["Body"].read() == body


def test_copy_back_with_the_replace_directive_takes_the_requests_metadata(s3):
    c = s3["admin"]
    src, dst = f"xcopy/{uid()}", f"xcopy/{uid()}"
    c.put_object(Bucket="elsewhere", Key=src, Body=b"hello", ContentType="text/plain",
                 Metadata={"old": "1"})
    c.copy_object(Bucket="prefixed", Key=dst, CopySource={"Bucket": "elsewhere", "Key": src},
                  MetadataDirective="REPLACE", ContentType="application/json",
                  Metadata={"new": "2"})
    got = c.get_object(Bucket="prefixed", Key=dst)
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "application/json"
    assert got["Metadata"] == {"new": "2"}


def test_an_empty_object_is_copied_between_backends(s3):
    c = s3["admin"]
    src, dst = f"xcopy/{uid()}", f"xcopy/{uid()}"
    c.put_object(Bucket="private", Key=src, Body=b"")
    c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "private", "Key": src})
    assert c.get_object(Bucket="elsewhere", Key=dst)["Body"].read() == b""


def test_a_copy_above_the_threshold_is_written_in_parts(s3, backend):
    c = s3["admin"]
    src, dst = f"xcopy/{uid()}", f"xcopy/{uid()}"
    body = os.urandom(COPY_MULTIPART_THRESHOLD * 2 + 12345)
    c.put_object(Bucket="private", Key=src, Body=body, Metadata={"big": "yes"},
                 ContentType="application/octet-stream")
    r = c.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "private", "Key": src})
    # A multipart ETag: md5 of the parts' md5s, dash, part count.
    assert r["CopyObjectResult"]["ETag"].strip('"').endswith("-3")
    got = c.get_object(Bucket="elsewhere", Key=dst)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    assert got["Metadata"] == {"big": "yes"}
    # Nothing left behind.
    ups = backend.list_multipart_uploads(Bucket=BACKEND_BUCKETS["elsewhere"], Prefix="e/xcopy/")
    assert [u for u in ups.get("Uploads", []) if u["Key"] == "e/" + dst] == []


def test_source_conditions_hold_for_streamed_copies(s3):
    c = s3["admin"]
    src = f"xcopy/{uid()}"
    etag = c.put_object(Bucket="private", Key=src, Body=b"abc")["ETag"]
    src_ref = {"Bucket": "private", "Key": src}
    assert_client_error(c.copy_object, 412, "PreconditionFailed", Bucket="elsewhere",
                        Key=src + "-a", CopySource=src_ref, CopySourceIfMatch='"nope"')
    assert_client_error(c.copy_object, 412, "PreconditionFailed", Bucket="elsewhere",
                        Key=src + "-b", CopySource=src_ref, CopySourceIfNoneMatch=etag)
    c.copy_object(Bucket="elsewhere", Key=src + "-c", CopySource=src_ref, CopySourceIfMatch=etag)
    assert_client_error(c.head_object, 404, "404", Bucket="elsewhere", Key=src + "-a")
    assert_client_error(c.head_object, 404, "404", Bucket="elsewhere", Key=src + "-b")
    assert c.get_object(Bucket="elsewhere", Key=src + "-c")["Body"].read() == b"abc"


def test_a_missing_source_is_no_such_key_and_an_unreadable_one_access_denied(s3):
    c = s3["admin"]
    assert_client_error(c.copy_object, 404, "NoSuchKey", Bucket="elsewhere", Key="x",
                        CopySource={"Bucket": "private", "Key": f"xcopy/missing-{uid()}"})
    c.put_object(Bucket="elsewhere", Key="xcopy/secret", Body=b"s")
    # `scoped` may write private/team/ but may not read elsewhere.
    assert_client_error(s3["scoped"].copy_object, 403, "AccessDenied", Bucket="private",
                        Key="team/stolen", CopySource={"Bucket": "elsewhere", "Key": "xcopy/secret"})
    assert_client_error(c.head_object, 404, "404", Bucket="private", Key="team/stolen")


def test_upload_part_copy_between_backends_reads_the_range(s3):
    c = s3["admin"]
    src, dst = f"xcopy/{uid()}", f"xcopy/{uid()}"
    body = os.urandom(6 << 20)
    c.put_object(Bucket="private", Key=src, Body=body)
    up = c.create_multipart_upload(Bucket="elsewhere", Key=dst)["UploadId"]
    p1 = c.upload_part_copy(Bucket="elsewhere", Key=dst, UploadId=up, PartNumber=1,
                            CopySource={"Bucket": "private", "Key": src},
                            CopySourceRange=f"bytes=0-{(5 << 20) - 1}")
    p2 = c.upload_part_copy(Bucket="elsewhere", Key=dst, UploadId=up, PartNumber=2,
                            CopySource={"Bucket": "private", "Key": src},
                            CopySourceRange=f"bytes={5 << 20}-{len(body) - 1}")
    c.complete_multipart_upload(Bucket="elsewhere", Key=dst, UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket="elsewhere", Key=dst)["Body"].read() == body
    up2 = c.create_multipart_upload(Bucket="elsewhere", Key=dst + "-bad")["UploadId"]
    assert_client_error(c.upload_part_copy, 400, "InvalidArgument", Bucket="elsewhere",
                        Key=dst + "-bad", UploadId=up2, PartNumber=1,
                        CopySource={"Bucket": "private", "Key": src}, CopySourceRange="bytes=9-1")
    c.abort_multipart_upload(Bucket="elsewhere", Key=dst + "-bad", UploadId=up2)


def test_boto3_managed_copy_and_aws_cli_cp_work_across_backends(s3, gateway, tmp_path):
    c = s3["admin"]
    src = f"xcopy/{uid()}"
    body = os.urandom(7 << 20)
    c.put_object(Bucket="private", Key=src, Body=body)
    # The transfer manager turns a large copy into UploadPartCopy calls with ranges.
    cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
    c.copy({"Bucket": "private", "Key": src}, "elsewhere", src + "-managed", Config=cfg)
    assert c.get_object(Bucket="elsewhere", Key=src + "-managed")["Body"].read() == body
    cfg_file = tmp_path / "config"
    cfg_file.write_text("[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n"
                        "  addressing_style = path\n")
    key, secret = KEYS["admin"]
    env = dict(os.environ, AWS_CONFIG_FILE=str(cfg_file), AWS_ACCESS_KEY_ID=key,
               AWS_SECRET_ACCESS_KEY=secret, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    env.pop("AWS_PROFILE", None)
    subprocess.run(["aws", "--endpoint-url", gateway.endpoint, "s3", "cp", f"s3://private/{src}",
                    f"s3://elsewhere/{src}-cli", "--only-show-errors"],
                   check=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    assert c.get_object(Bucket="elsewhere", Key=src + "-cli")["Body"].read() == body
