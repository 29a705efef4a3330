"""Multipart uploads through the gateway, on an S3 backend and on R2 (Worker binding): the
calls real tools make, and every bad input a client can send, each answered with S3's code and
never leaving a half-written object behind."""
import base64
import hashlib
import os
import socket
import time
import uuid
from urllib.parse import quote, urlsplit

import pytest
import requests
from boto3.s3.transfer import TransferConfig

from conftest import KEYS, boto
from helpers import assert_client_error, assert_s3_error, client_error
from sigv4 import sign, sign_chunked

MIB = 1 << 20


def uid():
    return uuid.uuid4().hex[:10]


@pytest.fixture(params=["private", "r2"])
def bucket(request, gateway):
    if request.param == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return request.param


def upload(c, bucket, key, parts, **create):
    """Creates an upload and uploads `parts` (bodies); returns (upload id, [(number, etag)])."""
    up = c.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for n, body in enumerate(parts, 1):
        done.append((n, c.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n,
                                      Body=body)["ETag"]))
    return up, done


def listed_parts(c, bucket, key, up):
    """(number, size, etag) of the upload's parts (on R2, from the gateway's records)."""
    return [(p["PartNumber"], p["Size"], p["ETag"].strip('"'))
            for p in c.list_parts(Bucket=bucket, Key=key, UploadId=up).get("Parts", [])]


def assert_upload_gone(c, bucket, key, up):
    assert_client_error(c.upload_part, 404, "NoSuchUpload", Bucket=bucket, Key=key, UploadId=up,
                        PartNumber=1, Body=b"x")


def complete_doc(parts):
    return {"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]}


def test_complete_listing_a_resent_part_twice_keeps_the_later_entry(s3, bucket):
    # A client that re-sent part 1 and kept both answers lists it twice, the part that landed
    # last listed last (ceph/s3-tests' test_multipart_resend_first_finishes_last): S3 takes it.
    c = s3["admin"]
    key = f"mpu-resend/{uid()}"
    up, [(_, first)] = upload(c, bucket, key, [b"b" * 8])
    second = c.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=b"a" * 8)["ETag"]
    c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                MultipartUpload=complete_doc([(1, first), (1, second)]))
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == b"a" * 8
    c.delete_object(Bucket=bucket, Key=key)


def test_complete_with_parts_out_of_order_or_missing_is_refused_and_abort_cleans_up(s3, bucket):
    c = s3["admin"]
    key = f"mpu-bad/{uid()}"
    up, (p1, p2) = upload(c, bucket, key, [b"a" * (5 * MIB), b"b" * 10])
    assert_client_error(c.complete_multipart_upload, 400, "InvalidPartOrder", Bucket=bucket, Key=key,
                        UploadId=up, MultipartUpload=complete_doc([p2, p1]))
    assert_client_error(c.complete_multipart_upload, 400, "InvalidPart", Bucket=bucket, Key=key,
                        UploadId=up, MultipartUpload=complete_doc([p1, (3, p2[1])]))
    assert_client_error(c.complete_multipart_upload, 400, "InvalidPart", Bucket=bucket, Key=key,
                        UploadId=up, MultipartUpload=complete_doc([p1, (2, '"0123456789abcdef0123456789abcdef"')]))
    assert_client_error(c.head_object, 404, "404", Bucket=bucket, Key=key)
    c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
    assert_upload_gone(c, bucket, key, up)
    if bucket != "r2":
        assert_client_error(c.list_parts, 404, "NoSuchUpload", Bucket=bucket, Key=key, UploadId=up)
    assert_client_error(c.head_object, 404, "404", Bucket=bucket, Key=key)


def test_a_part_under_5_mib_before_the_last_is_entity_too_small_and_no_object(s3, bucket):
    c = s3["admin"]
    key = f"mpu-small/{uid()}"
    up, parts = upload(c, bucket, key, [b"a" * MIB, b"b" * MIB])
    assert_client_error(c.complete_multipart_upload, 400, "EntityTooSmall", Bucket=bucket, Key=key,
                        UploadId=up, MultipartUpload=complete_doc(parts))
    assert_client_error(c.head_object, 404, "404", Bucket=bucket, Key=key)
    c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)


def signed_complete(gateway, bucket, key, up, body):
    url = f"{gateway.endpoint}/{bucket}/{quote(key)}?uploadId={quote(up, safe='')}"
    url, headers = sign("POST", url, *KEYS["admin"], body=body,
                        headers={"content-type": "application/xml"})
    return requests.post(url, data=body, headers=headers)


@pytest.mark.parametrize("doc", [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"<NotComplete/>",
    b"not xml at all",
    b"<CompleteMultipartUpload><Part><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    # A DTD (billion laughs, external entity) is refused, never expanded.
    b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber>'
    b"<ETag>&c;</ETag></Part></CompleteMultipartUpload>",
    b'<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><CompleteMultipartUpload><Part>'
    b"<PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
])
def test_a_bad_complete_document_is_malformed_xml(gateway, s3, bucket, doc):
    c = s3["admin"]
    key = f"mpu-xml/{uid()}"
    up, _ = upload(c, bucket, key, [b"x" * 10])
    try:
        assert_s3_error(signed_complete(gateway, bucket, key, up, doc), 400, "MalformedXML")
        assert_client_error(c.head_object, 404, "404", Bucket=bucket, Key=key)
    finally:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)


def test_a_bad_chunk_signature_in_a_part_records_no_part(gateway, s3, bucket):
    c = s3["admin"]
    key = f"mpu-chunk/{uid()}"
    up = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        url = f"{gateway.endpoint}/{bucket}/{quote(key)}?partNumber=1&uploadId={quote(up, safe='')}"
        url, headers, body = sign_chunked(url, *KEYS["admin"], os.urandom(200_000), tamper_chunk=2)
        assert_s3_error(requests.put(url, data=body, headers=headers), 403, "SignatureDoesNotMatch")
        assert listed_parts(c, bucket, key, up) == []
        # A good signed chunked part still goes through.
        data = os.urandom(100_000)
        url, headers, body = sign_chunked(url, *KEYS["admin"], data)
        r = requests.put(url, data=body, headers=headers)
        assert r.status_code == 200, r.text
        if bucket != "r2":  # R2's part ETags are opaque tokens
            assert r.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    finally:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)


def cut_upload(gateway, path_and_query, declared, sent):
    """A signed UNSIGNED-PAYLOAD PUT that declares `declared` bytes, sends `sent`, and hangs up."""
    url, headers = sign("PUT", f"{gateway.endpoint}{path_and_query}", *KEYS["admin"],
                        payload_hash="UNSIGNED-PAYLOAD", headers={"content-length": str(declared)})
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(head.encode() + b"x" * sent)
    time.sleep(0.5)
    sock.close()
    time.sleep(0.5)


def test_a_client_that_hangs_up_mid_part_leaves_no_part_and_no_object(gateway, s3, bucket):
    c = s3["admin"]
    key = f"mpu-cut/{uid()}"
    up, parts = upload(c, bucket, key, [b"a" * (5 * MIB)])
    try:
        cut_upload(gateway, f"/{bucket}/{quote(key)}?partNumber=2&uploadId={quote(up, safe='')}",
                   declared=6 * MIB, sent=MIB)
        listed = listed_parts(c, bucket, key, up)
        assert [n for n, _, _ in listed] == [1]
        assert_client_error(c.head_object, 404, "404", Bucket=bucket, Key=key)
        # The upload is still usable: the part is sent again, and completes.
        p2 = c.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=2, Body=b"b" * 100)
        c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                    MultipartUpload=complete_doc(parts + [(2, p2["ETag"])]))
        assert c.head_object(Bucket=bucket, Key=key)["ContentLength"] == 5 * MIB + 100
    except Exception:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
        raise


def test_a_client_that_hangs_up_mid_put_leaves_no_object_on_r2(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker (the S3 case is in test_auth.py)")
    for sent in (MIB, 0):
        key = f"put-cut/{uid()}"
        cut_upload(gateway, f"/r2/{key}", declared=4 * MIB, sent=sent)
        assert_client_error(s3["admin"].head_object, 404, "404", Bucket="r2", Key=key)


def test_metadata_given_at_create_is_kept_on_the_final_object(s3, bucket):
    c = s3["admin"]
    key = f"mpu-meta/{uid()}"
    up, parts = upload(c, bucket, key, [b"m" * (5 * MIB), b"n"], Metadata={"color": "blue", "n": "1"},
                       ContentType="text/x-mpu", ContentDisposition="inline", CacheControl="max-age=5")
    c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload=complete_doc(parts))
    head = c.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {"color": "blue", "n": "1"}
    assert head["ContentType"] == "text/x-mpu"
    assert head["ContentDisposition"] == "inline" and head["CacheControl"] == "max-age=5"
    assert head["ContentLength"] == 5 * MIB + 1 and head["ETag"].endswith('-2"')


@pytest.mark.parametrize("name", ["a b+c=d", "pct%25 and %", "ユニコード/ファイル", "emoji 🎉=+"])
def test_keys_with_special_characters_go_through_multipart(s3, bucket, name):
    c = s3["admin"]
    key = f"mpu-keys/{uid()}/{name}"
    up, parts = upload(c, bucket, key, [b"k" * (5 * MIB), b"tail"])
    listed = c.list_parts(Bucket=bucket, Key=key, UploadId=up)
    assert listed["Key"] == key and [p["PartNumber"] for p in listed["Parts"]] == [1, 2]
    uploads = c.list_multipart_uploads(Bucket=bucket, Prefix=key)
    assert [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])] == [(key, up)]
    done = c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                       MultipartUpload=complete_doc(parts))
    assert done["Key"] == key
    assert c.get_object(Bucket=bucket, Key=key, Range="bytes=-4")["Body"].read() == b"tail"
    assert key in [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])]


def test_complete_with_if_none_match_star_refuses_to_overwrite(s3, bucket):
    c = s3["admin"]
    key = f"mpu-cond/{uid()}"
    c.put_object(Bucket=bucket, Key=key, Body=b"first")
    up, parts = upload(c, bucket, key, [b"second"])
    try:
        assert_client_error(c.complete_multipart_upload, 412, "PreconditionFailed", Bucket=bucket,
                            Key=key, UploadId=up, IfNoneMatch="*", MultipartUpload=complete_doc(parts))
        assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first"
    finally:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
    fresh = key + "-new"
    up, parts = upload(c, bucket, fresh, [b"new"])
    c.complete_multipart_upload(Bucket=bucket, Key=fresh, UploadId=up, IfNoneMatch="*",
                                MultipartUpload=complete_doc(parts))
    assert c.get_object(Bucket=bucket, Key=fresh)["Body"].read() == b"new"


def test_upload_part_copy_copies_ranges_of_an_object(s3, bucket):
    c = s3["admin"]
    src = f"mpu-copy/{uid()}-src"
    data = os.urandom(6 * MIB)
    c.put_object(Bucket=bucket, Key=src, Body=data)
    key = f"mpu-copy/{uid()}"
    up = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    r1 = c.upload_part_copy(Bucket=bucket, Key=key, UploadId=up, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": src}, CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    r2 = c.upload_part_copy(Bucket=bucket, Key=key, UploadId=up, PartNumber=2,
                            CopySource={"Bucket": bucket, "Key": src}, CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}")
    for r in (r1, r2):
        assert r["CopyPartResult"]["ETag"] and r["CopyPartResult"]["LastModified"]
    listed = listed_parts(c, bucket, key, up)
    # The ETag a client completes with is the one ListParts shows (R2's are opaque tokens).
    assert listed == [(1, 5 * MIB, r1["CopyPartResult"]["ETag"].strip('"')),
                          (2, MIB, r2["CopyPartResult"]["ETag"].strip('"'))]
    c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload=complete_doc(
        [(1, r1["CopyPartResult"]["ETag"]), (2, r2["CopyPartResult"]["ETag"])]))
    assert hashlib.sha256(c.get_object(Bucket=bucket, Key=key)["Body"].read()).digest() == \
        hashlib.sha256(data).digest()


def test_upload_part_copy_source_conditions_and_bad_ranges(s3, bucket):
    c = s3["admin"]
    src = f"mpu-copy/{uid()}-src"
    c.put_object(Bucket=bucket, Key=src, Body=b"0123456789")
    key = f"mpu-copy/{uid()}"
    up = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        source = {"Bucket": bucket, "Key": src}
        assert_client_error(c.upload_part_copy, 412, "PreconditionFailed", Bucket=bucket, Key=key,
                            UploadId=up, PartNumber=1, CopySource=source, CopySourceIfMatch='"nope"')
        # AWS answers 400 InvalidArgument ("Range specified is not valid for source object of
        # size"); some S3 servers 416 InvalidRange, which AWS documents as possible too.
        resp = client_error(c.upload_part_copy, Bucket=bucket, Key=key, UploadId=up, PartNumber=1,
                            CopySource=source, CopySourceRange="bytes=5-100")
        assert (resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]) in \
            ((400, "InvalidArgument"), (416, "InvalidRange")), resp
        if bucket == "r2":
            assert_client_error(c.upload_part_copy, 400, "InvalidArgument", Bucket=bucket, Key=key,
                                UploadId=up, PartNumber=1, CopySource=source, CopySourceRange="5-6")
        assert_client_error(c.upload_part_copy, 404, "NoSuchKey", Bucket=bucket, Key=key,
                            UploadId=up, PartNumber=1, CopySource={"Bucket": bucket, "Key": src + "-no"})
        r = c.upload_part_copy(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, CopySource=source,
                               CopySourceRange="bytes=2-5")
        listed = listed_parts(c, bucket, key, up)
        assert [(n, size) for n, size, _ in listed] == [(1, 4)]
        c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload=complete_doc(
            [(1, r["CopyPartResult"]["ETag"])]))
    except Exception:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
        raise
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == b"2345"


def test_copy_sources_the_caller_may_not_read_are_access_denied(s3, bucket):
    """`scoped` may write team/ in `private` but read nothing of `prefixed` (or of R2)."""
    admin, scoped = s3["admin"], s3["scoped"]
    src_bucket = "prefixed" if bucket == "private" else "r2-prefixed"
    src = f"secret/{uid()}"
    admin.put_object(Bucket=src_bucket, Key=src, Body=b"secret")
    key = f"team/{uid()}"
    resp = assert_client_error(scoped.copy_object, 403, "AccessDenied", Bucket="private", Key=key,
                               CopySource={"Bucket": src_bucket, "Key": src})
    assert "get_object" in resp["Error"]["Message"]
    up = scoped.create_multipart_upload(Bucket="private", Key=key)["UploadId"]
    try:
        assert_client_error(scoped.upload_part_copy, 403, "AccessDenied", Bucket="private", Key=key,
                            UploadId=up, PartNumber=1, CopySource={"Bucket": src_bucket, "Key": src})
        assert scoped.list_parts(Bucket="private", Key=key, UploadId=up).get("Parts", []) == []
    finally:
        scoped.abort_multipart_upload(Bucket="private", Key=key, UploadId=up)
    assert_client_error(admin.head_object, 404, "404", Bucket="private", Key=key)


def test_delete_objects_with_1001_keys_is_malformed_xml(gateway, bucket):
    body = ("<Delete>" + "<Object><Key>k</Key></Object>" * 1001 + "</Delete>").encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    url, headers = sign("POST", f"{gateway.endpoint}/{bucket}?delete", *KEYS["admin"], body=body,
                        headers={"content-md5": md5, "content-type": "application/xml"})
    assert_s3_error(requests.post(url, data=body, headers=headers), 400, "MalformedXML")


def big_file(tmp_path, size):
    path = tmp_path / "big.bin"
    block = os.urandom(MIB)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(size // MIB):
            chunk = block[:-8] + i.to_bytes(8, "big")
            f.write(chunk)
            h.update(chunk)
    return path, h.hexdigest()


def test_the_transfer_manager_moves_100_mb_in_8_mib_parts_with_threads_on_r2(gateway, tmp_path):
    """The S3-backend case is test_objects.py's (the transfer manager's defaults are the same)."""
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    bucket = "r2"
    path, digest = big_file(tmp_path, 100 * MIB)
    cfg = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, use_threads=True,
                         max_concurrency=4)
    c = boto(gateway.endpoint, *KEYS["admin"], max_pool_connections=8)
    key = f"big/{uid()}.bin"
    c.upload_file(str(path), bucket, key, Config=cfg)
    head = c.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == 100 * MIB and head["ETag"].endswith('-13"')
    out = tmp_path / "out.bin"
    c.download_file(bucket, key, str(out), Config=cfg)
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    assert h.hexdigest() == digest
    c.delete_object(Bucket=bucket, Key=key)
