"""Azure Blob backends (`backend_type = "az"`) against Azurite: every request goes out as a SAS URL
the emulator verifies; what landed is checked with azure-storage-blob straight at Azurite."""
import hashlib
import os
import uuid
from urllib.parse import unquote_plus

import pytest
import requests

from conftest import boto
from helpers import assert_client_error, assert_no_backend_headers, assert_s3_error, client_error
from test_cli import aws  # noqa: F401 (the aws-cli fixture)


def uid():
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def gw(azurite):
    return azurite.client.get_container_client("gwc")


def test_put_get_head_keep_content_headers_and_metadata_both_ways(s3, gw):
    key = f"obj-{uid()}.txt"
    c = s3["admin"]
    put = c.put_object(Bucket="az", Key=key, Body=b"hello azure", ContentType="text/x-test",
                       ContentLanguage="fr", ContentDisposition='attachment; filename="h.txt"',
                       CacheControl="max-age=60", Metadata={"colour": "blue", "Snake_Case": "x"})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200 and put["ETag"].startswith('"')
    # Azure stored them in its own terms.
    props = gw.get_blob_client(key).get_blob_properties()
    assert props.metadata == {"colour": "blue", "snake_case": "x"} or \
        {k.lower(): v for k, v in props.metadata.items()} == {"colour": "blue", "snake_case": "x"}
    assert props.content_settings.content_type == "text/x-test"
    assert props.content_settings.content_language == "fr"
    assert props.content_settings.cache_control == "max-age=60"
    got = c.get_object(Bucket="az", Key=key)
    assert got["Body"].read() == b"hello azure"
    assert got["ContentType"] == "text/x-test"
    assert got["ContentDisposition"] == 'attachment; filename="h.txt"'
    assert {k.lower(): v for k, v in got["Metadata"].items()} == {"colour": "blue", "snake_case": "x"}
    assert got["ETag"] == put["ETag"]
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert_no_backend_headers(headers)
    assert not any(h.startswith("x-ms-") for h in headers), headers
    head = c.head_object(Bucket="az", Key=key)
    assert head["ContentLength"] == 11 and head["Metadata"]["colour"] == "blue"


def test_ranges_conditionals_and_response_overrides_pass_through(s3):
    key = f"range-{uid()}.bin"
    c = s3["admin"]
    body = bytes(range(256)) * 4
    etag = c.put_object(Bucket="az", Key=key, Body=body)["ETag"]
    r = c.get_object(Bucket="az", Key=key, Range="bytes=10-19")
    assert r["Body"].read() == body[10:20]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert c.get_object(Bucket="az", Key=key, Range="bytes=1000-")["Body"].read() == body[1000:]
    # Azure has no suffix ranges: refused, never answered with the whole object.
    resp = assert_client_error(c.get_object, 501, "NotImplemented", Bucket="az", Key=key,
                               Range="bytes=-10")
    assert "Azure backends" in resp["Error"]["Message"]
    assert_client_error(c.get_object, 412, "PreconditionFailed", Bucket="az", Key=key,
                        IfMatch='"0x0000"')
    # A create-only write of an existing key.
    assert_client_error(c.put_object, 412, "PreconditionFailed", Bucket="az", Key=key,
                        Body=b"again", IfNoneMatch="*")
    assert c.get_object(Bucket="az", Key=key)["Body"].read() == body
    resp = client_error(c.get_object, Bucket="az", Key=key, IfNoneMatch=etag)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert_client_error(c.get_object, 416, "InvalidRange", Bucket="az", Key=key,
                        Range=f"bytes={len(body) + 10}-{len(body) + 20}")
    o = c.get_object(Bucket="az", Key=key, ResponseContentType="application/x-override",
                     ResponseContentDisposition="inline; filename=o.bin")
    assert o["ContentType"] == "application/x-override"
    assert o["ContentDisposition"] == "inline; filename=o.bin"


def test_a_large_upload_streams_and_reads_back_intact(s3):
    key = f"big-{uid()}.bin"
    body = os.urandom(9 << 20)
    s3["admin"].put_object(Bucket="az", Key=key, Body=body)
    got = s3["admin"].get_object(Bucket="az", Key=key)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()


@pytest.mark.parametrize("name", ["a b.txt", "plus+eq=.txt", "ユニ コード.txt", "pct%25.txt"])
def test_keys_with_spaces_plus_and_unicode_round_trip_and_list(s3, gw, name):
    base = f"odd-{uid()}/"
    c = s3["admin"]
    c.put_object(Bucket="az", Key=base + name, Body=name.encode())
    assert gw.get_blob_client(base + name).download_blob().readall() == name.encode()
    assert c.get_object(Bucket="az", Key=base + name)["Body"].read() == name.encode()
    listed = c.list_objects_v2(Bucket="az", Prefix=base)
    assert [o["Key"] for o in listed["Contents"]] == [base + name]
    # Asked for explicitly, boto3 leaves the encoding to the caller.
    listed = c.list_objects_v2(Bucket="az", Prefix=base, EncodingType="url")
    assert [unquote_plus(o["Key"]) for o in listed["Contents"]] == [base + name]
    assert c.delete_object(Bucket="az", Key=base + name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not list(gw.list_blobs(name_starts_with=base))


def test_listings_with_delimiter_and_pagination_v2_and_v1(s3):
    base = f"list-{uid()}/"
    c = s3["admin"]
    keys = [f"{base}f{i}.txt" for i in range(5)] + [f"{base}d{i}/x" for i in range(3)]
    for k in keys:
        c.put_object(Bucket="az", Key=k, Body=b"1")
    top = c.list_objects_v2(Bucket="az", Prefix=base, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == [f"{base}d{i}/" for i in range(3)]
    assert [o["Key"] for o in top["Contents"]] == [f"{base}f{i}.txt" for i in range(5)]
    assert top["KeyCount"] == 8 and top["IsTruncated"] is False
    o = top["Contents"][0]
    assert o["Size"] == 1 and o["ETag"].startswith('"') and o["LastModified"].year >= 2024
    pages = list(c.get_paginator("list_objects_v2").paginate(
        Bucket="az", Prefix=base, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3 and all(p["KeyCount"] <= 3 for p in pages)
    assert pages[0]["IsTruncated"] and pages[0]["NextContinuationToken"]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    v1 = list(c.get_paginator("list_objects").paginate(
        Bucket="az", Prefix=base, Delimiter="/", PaginationConfig={"PageSize": 3}))
    seen = [o["Key"] for p in v1 for o in p.get("Contents", [])] + \
        [x["Prefix"] for p in v1 for x in p.get("CommonPrefixes", [])]
    assert sorted(seen) == sorted([f"{base}f{i}.txt" for i in range(5)] +
                                  [f"{base}d{i}/" for i in range(3)])
    # A v1 marker that is a key, and a v2 start-after, continue after that key.
    after = c.list_objects(Bucket="az", Prefix=base, Marker=f"{base}d2/x")
    assert [o["Key"] for o in after["Contents"]] == [f"{base}f{i}.txt" for i in range(5)]
    after = c.list_objects_v2(Bucket="az", Prefix=base, StartAfter=f"{base}f2.txt")
    assert [o["Key"] for o in after["Contents"]] == [f"{base}f3.txt", f"{base}f4.txt"]


def test_a_prefixed_bucket_lives_under_its_prefix_and_lists_without_it(s3, gw):
    key = f"p-{uid()}.txt"
    c = s3["admin"]
    c.put_object(Bucket="az-prefixed", Key=key, Body=b"p")
    assert gw.get_blob_client(f"pre/fix/{key}").download_blob().readall() == b"p"
    # Outside the prefix: not the bucket's.
    gw.upload_blob(f"outside-{key}", b"o")
    listed = c.list_objects_v2(Bucket="az-prefixed")
    keys = [o["Key"] for o in listed["Contents"]]
    assert key in keys and not any(k.startswith("pre/") or "outside" in k for k in keys)
    assert c.get_object(Bucket="az-prefixed", Key=key)["Body"].read() == b"p"


def test_missing_keys_are_no_such_key_and_deletes_of_missing_keys_succeed(s3, gateway):
    c = s3["admin"]
    assert_client_error(c.get_object, 404, "NoSuchKey", Bucket="az", Key="no/such/key")
    assert_client_error(c.head_object, 404, "404", Bucket="az", Key="no/such/key")
    r = c.delete_object(Bucket="az", Key=f"never-{uid()}")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    raw = requests.get(f"{gateway.endpoint}/az-public/no-such-key")
    assert_s3_error(raw, 404, "NoSuchKey")


def test_metadata_names_azure_cannot_store_are_refused_not_dropped(s3, gw):
    key = f"meta-{uid()}"
    resp = assert_client_error(s3["admin"].put_object, 400, "InvalidArgument", Bucket="az",
                               Key=key, Body=b"x", Metadata={"my-key": "v"})
    assert "my-key" in resp["Error"]["Message"]
    assert not gw.get_blob_client(key).exists()


@pytest.mark.parametrize("call", ["copy", "copy_out", "list_parts", "delete_objects", "tagging"])
def test_unsupported_operations_answer_not_implemented(s3, call):
    c = s3["admin"]
    c.put_object(Bucket="az", Key="src", Body=b"s")
    fn = {
        "copy": lambda: c.copy_object(Bucket="az", Key="dst", CopySource={"Bucket": "az", "Key": "src"}),
        # Out of an Azure bucket into an S3 one.
        "copy_out": lambda: c.copy_object(Bucket="private", Key="from-az",
                                          CopySource={"Bucket": "az", "Key": "src"}),
        "list_parts": lambda: c.list_parts(
            Bucket="az", Key="mp", UploadId=c.create_multipart_upload(Bucket="az", Key="mp")["UploadId"]),
        "delete_objects": lambda: c.delete_objects(Bucket="az", Delete={"Objects": [{"Key": "src"}]}),
        "tagging": lambda: c.get_object_tagging(Bucket="az", Key="src"),
    }[call]
    resp = client_error(fn)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 501, resp
    assert resp["Error"]["Code"] == "NotImplemented"
    assert "Azure backends" in resp["Error"]["Message"], resp


def test_a_public_container_is_read_unsigned(s3, azurite, gateway):
    azurite.client.get_container_client("pubc").upload_blob("hello.txt", b"public", overwrite=True)
    assert s3["anon"].get_object(Bucket="az-public", Key="hello.txt")["Body"].read() == b"public"
    r = requests.get(f"{gateway.endpoint}/az-public/hello.txt")
    assert r.status_code == 200 and r.content == b"public"
    assert [o["Key"] for o in s3["anon"].list_objects_v2(Bucket="az-public")["Contents"]] == ["hello.txt"]


@pytest.mark.parametrize("bucket", ["az-wrong-key", "az-no-container"])
def test_a_wrong_key_or_container_is_the_gateways_problem(s3, bucket):
    c = s3["admin"]
    resp = assert_client_error(c.get_object, 502, "BadGateway", Bucket=bucket, Key="k")
    assert "backend configuration" in resp["Error"]["Message"]
    assert_client_error(c.list_objects_v2, 502, "BadGateway", Bucket=bucket)
    assert_client_error(c.head_object, 502, "502", Bucket=bucket, Key="k")


def test_head_bucket_is_answered(s3):
    assert s3["admin"].head_bucket(Bucket="az")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_aws_cli_cp_ls_rm(aws, tmp_path):  # noqa: F811
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(3 << 20))
    key = f"cli-{uid()}/a file+.bin"
    aws("s3", "cp", str(src), f"s3://az/{key}")
    ls = aws("s3", "ls", f"s3://az/{key.split('/')[0]}/").stdout
    assert "a file+.bin" in ls and str(3 << 20) in ls
    out = tmp_path / "down.bin"
    aws("s3", "cp", f"s3://az/{key}", str(out))
    assert out.read_bytes() == src.read_bytes()
    aws("s3", "rm", f"s3://az/{key}")
    assert aws("s3api", "head-object", "--bucket", "az", "--key", key, check=False).returncode != 0


def test_presigned_urls_work_on_azure_buckets(s3, gateway):
    key = f"pre-{uid()}.txt"
    c = s3["admin"]
    put = c.generate_presigned_url("put_object", Params={"Bucket": "az", "Key": key})
    assert requests.put(put, data=b"presigned").status_code == 200
    get = c.generate_presigned_url("get_object", Params={"Bucket": "az", "Key": key})
    assert requests.get(get).content == b"presigned"


def test_boto_with_checksums_and_chunked_uploads(gateway):
    # boto3's defaults: flexible checksums, aws-chunked with a trailer where it chooses to.
    c = boto(gateway.endpoint, *__import__("conftest").KEYS["admin"],
             request_checksum_calculation="when_supported")
    key = f"ck-{uid()}"
    c.put_object(Bucket="az", Key=key, Body=b"checked body", ChecksumAlgorithm="CRC32")
    assert c.get_object(Bucket="az", Key=key)["Body"].read() == b"checked body"


def test_multipart_uploads_commit_blocks_with_the_headers_given_at_create(s3, gw):
    c = s3["admin"]
    key = f"mp-{uid()}/big file.bin"
    up = c.create_multipart_upload(Bucket="az", Key=key, ContentType="application/x-mp",
                                   Metadata={"origin": "multipart"})
    assert up["Bucket"] == "az" and up["Key"] == key
    parts_data = [os.urandom(5 << 20), os.urandom(5 << 20), b"tail"]
    parts = []
    for n, data in enumerate(parts_data, 1):
        r = c.upload_part(Bucket="az", Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data)
        assert r["ETag"].startswith('"')
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    # Nothing is visible before Complete.
    assert not gw.get_blob_client(key).exists()
    done = c.complete_multipart_upload(Bucket="az", Key=key, UploadId=up["UploadId"],
                                       MultipartUpload={"Parts": parts})
    assert done["Key"] == key and done["ETag"].startswith('"')
    body = b"".join(parts_data)
    got = c.get_object(Bucket="az", Key=key)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    assert got["ContentType"] == "application/x-mp" and got["Metadata"] == {"origin": "multipart"}
    assert got["ETag"] == done["ETag"]


def test_multipart_mistakes_are_s3_errors(s3, gw):
    c = s3["admin"]
    key = f"mpbad-{uid()}"
    up = c.create_multipart_upload(Bucket="az", Key=key)["UploadId"]
    etag = c.upload_part(Bucket="az", Key=key, UploadId=up, PartNumber=1, Body=b"x")["ETag"]
    assert_client_error(c.complete_multipart_upload, 400, "InvalidPart", Bucket="az", Key=key,
                        UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]})
    # A part never uploaded: Azure has no such block.
    other = c.create_multipart_upload(Bucket="az", Key=key)["UploadId"]
    assert_client_error(c.complete_multipart_upload, 400, "InvalidPart", Bucket="az", Key=key,
                        UploadId=other, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert_client_error(c.upload_part, 404, "NoSuchUpload", Bucket="az", Key=key,
                        UploadId="not-ours", PartNumber=1, Body=b"x")
    assert_client_error(c.create_multipart_upload, 400, "InvalidArgument", Bucket="az", Key=key,
                        Metadata={"bad-name": "v"})
    r = c.abort_multipart_upload(Bucket="az", Key=key, UploadId=up)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not gw.get_blob_client(key).exists()


def test_a_forged_or_replayed_upload_id_is_no_such_upload_and_commits_nothing(s3, gw):
    """Upload ids carry the blob headers Complete sets: they are HMAC-authenticated and bound to
    their key, so a client can neither forge headers into one nor use it on another key."""
    import base64
    c = s3["admin"]
    key, victim = f"mpforge-{uid()}", f"mpvictim-{uid()}"
    up = c.create_multipart_upload(Bucket="az", Key=key)["UploadId"]
    etag = c.upload_part(Bucket="az", Key=key, UploadId=up, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    # Replayed on another key: refused before the backend, nothing committed there.
    assert_client_error(c.upload_part, 404, "NoSuchUpload", Bucket="az", Key=victim,
                        UploadId=up, PartNumber=1, Body=b"x")
    assert_client_error(c.complete_multipart_upload, 404, "NoSuchUpload", Bucket="az", Key=victim,
                        UploadId=up, MultipartUpload=parts)
    assert not gw.get_blob_client(victim).exists()
    # The id's state rewritten (an extra blob header) with the old MAC.
    text_b64, mac = up[len("azmp2."):].split(".")
    text = base64.urlsafe_b64decode(text_b64 + "=" * (-len(text_b64) % 4))
    text += b"\nx-ms-blob-content-type:text/html"
    forged = "azmp2." + base64.urlsafe_b64encode(text).decode().rstrip("=") + "." + mac
    assert_client_error(c.complete_multipart_upload, 404, "NoSuchUpload", Bucket="az", Key=key,
                        UploadId=forged, MultipartUpload=parts)
    assert not gw.get_blob_client(key).exists()
    # The genuine id still completes.
    c.complete_multipart_upload(Bucket="az", Key=key, UploadId=up, MultipartUpload=parts)
    assert gw.get_blob_client(key).download_blob().readall() == b"x"


def test_aws_cli_multipart_copy_up_and_down(aws, tmp_path):  # noqa: F811
    src = tmp_path / "mp.bin"
    src.write_bytes(os.urandom(20 << 20))
    key = f"cli-mp-{uid()}.bin"
    aws("s3", "cp", str(src), f"s3://az/{key}")  # multipart above 8 MiB
    out = tmp_path / "mp-down.bin"
    aws("s3", "cp", f"s3://az/{key}", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
