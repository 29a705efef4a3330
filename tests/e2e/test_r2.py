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


def records(r2, upload_id=None):
    """The gateway's multipart records of bucket `r2` (seen through `r2-root`, the whole binding):
    of one upload (its upload record and parts) or all upload records."""
    keys = []
    for page in r2.get_paginator("list_objects_v2").paginate(Bucket="r2-root", Prefix="r2/.multistore/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    if upload_id is None:
        return keys
    return [k for k in keys if k.endswith("\x01" + upload_id) or f"/parts/{upload_id}/" in k]


def test_list_parts_pages_by_max_parts_and_shows_parts_uploaded_again(r2):
    key = f"lp/{uid()}"
    up = r2.create_multipart_upload(Bucket="r2", Key=key)["UploadId"]
    try:
        assert r2.list_parts(Bucket="r2", Key=key, UploadId=up).get("Parts", []) == []
        etags = {}
        for n in (1, 2, 3):
            etags[n] = r2.upload_part(Bucket="r2", Key=key, UploadId=up, PartNumber=n,
                                      Body=bytes([n]) * (10 * n))["ETag"]
        # Part 2 again, with another body: its record is replaced.
        etags[2] = r2.upload_part(Bucket="r2", Key=key, UploadId=up, PartNumber=2, Body=b"again")["ETag"]
        first = r2.list_parts(Bucket="r2", Key=key, UploadId=up, MaxParts=2)
        assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in first["Parts"]] == [
            (1, 10, etags[1]), (2, 5, etags[2])]
        assert first["IsTruncated"] and first["NextPartNumberMarker"] == 2 and first["MaxParts"] == 2
        assert first["Parts"][0]["LastModified"]
        rest = r2.list_parts(Bucket="r2", Key=key, UploadId=up, MaxParts=2, PartNumberMarker=2)
        assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 30)]
        assert not rest["IsTruncated"]
        paged = [p["PartNumber"] for page in r2.get_paginator("list_parts").paginate(
            Bucket="r2", Key=key, UploadId=up, PaginationConfig={"PageSize": 1}) for p in page["Parts"]]
        assert paged == [1, 2, 3]
        # Another key, or an id that is no upload: NoSuchUpload.
        assert_client_error(r2.list_parts, 404, "NoSuchUpload", Bucket="r2", Key=key + "x", UploadId=up)
        assert_client_error(r2.list_parts, 404, "NoSuchUpload", Bucket="r2", Key=key, UploadId="nope")
        assert len(records(r2, up)) == 4
    finally:
        r2.abort_multipart_upload(Bucket="r2", Key=key, UploadId=up)
    assert_client_error(r2.list_parts, 404, "NoSuchUpload", Bucket="r2", Key=key, UploadId=up)
    assert records(r2, up) == []


def test_records_are_gone_after_complete(r2):
    key = f"lp-done/{uid()}"
    up = r2.create_multipart_upload(Bucket="r2", Key=key)["UploadId"]
    p1 = r2.upload_part(Bucket="r2", Key=key, UploadId=up, PartNumber=1, Body=b"a" * (5 << 20))["ETag"]
    p2 = r2.upload_part(Bucket="r2", Key=key, UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    assert len(records(r2, up)) == 3
    r2.complete_multipart_upload(Bucket="r2", Key=key, UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]})
    assert r2.head_object(Bucket="r2", Key=key)["ContentLength"] == (5 << 20) + 4
    assert records(r2, up) == []
    assert_client_error(r2.list_parts, 404, "NoSuchUpload", Bucket="r2", Key=key, UploadId=up)
    assert r2.list_multipart_uploads(Bucket="r2", Prefix=key).get("Uploads", []) == []


def test_list_multipart_uploads_with_prefix_delimiter_markers_and_several_uploads_of_a_key(r2):
    base = f"lmu/{uid()}/"
    names = ["a", "a", "a.txt", "d/x", "d/y", "e"]
    ups = []
    try:
        for n in names:
            ups.append((base + n, r2.create_multipart_upload(Bucket="r2", Key=base + n)["UploadId"]))
        out = r2.list_multipart_uploads(Bucket="r2", Prefix=base)
        got = [(u["Key"], u["UploadId"]) for u in out["Uploads"]]
        assert sorted(got) == sorted(ups) and [k for k, _ in got] == [base + n for n in names]
        assert not out["IsTruncated"] and all(u["Initiated"] for u in out["Uploads"])
        # Both uploads of `a` (by initiation time, which has a granularity of a second).
        assert sorted(u for _, u in got[:2]) == sorted([ups[0][1], ups[1][1]])
        out = r2.list_multipart_uploads(Bucket="r2", Prefix=base, Delimiter="/")
        assert [u["Key"] for u in out["Uploads"]] == [base + n for n in ("a", "a", "a.txt", "e")]
        assert [p["Prefix"] for p in out["CommonPrefixes"]] == [base + "d/"]
        # Pages of two, by key and upload id markers.
        seen = []
        for page in r2.get_paginator("list_multipart_uploads").paginate(
                Bucket="r2", Prefix=base, PaginationConfig={"PageSize": 2}):
            seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        assert sorted(seen) == sorted(ups) and len(seen) == len(ups)
        out = r2.list_multipart_uploads(Bucket="r2", Prefix=base, KeyMarker=base + "a.txt")
        assert [u["Key"] for u in out["Uploads"]] == [base + n for n in ("d/x", "d/y", "e")]
    finally:
        for k, u in ups:
            r2.abort_multipart_upload(Bucket="r2", Key=k, UploadId=u)
    assert r2.list_multipart_uploads(Bucket="r2", Prefix=base).get("Uploads", []) == []


def test_the_reserved_prefix_is_never_listed_and_refused_as_a_key(r2):
    key = f"hidden/{uid()}"
    up = r2.create_multipart_upload(Bucket="r2", Key=key)["UploadId"]
    try:
        r2.upload_part(Bucket="r2", Key=key, UploadId=up, PartNumber=1, Body=b"x")
        r2.put_object(Bucket="r2", Key=f"-{uid()}", Body=b"sorts before the records")
        keys = [o["Key"] for page in r2.get_paginator("list_objects_v2").paginate(Bucket="r2")
                for o in page.get("Contents", [])]
        assert keys and not any(k.startswith(".multistore") for k in keys)
        top = r2.list_objects_v2(Bucket="r2", Delimiter="/")
        assert ".multistore/" not in [p["Prefix"] for p in top.get("CommonPrefixes", [])]
        v1 = [o["Key"] for page in r2.get_paginator("list_objects").paginate(Bucket="r2")
              for o in page.get("Contents", [])]
        assert sorted(v1) == sorted(keys)
        # Pages of one key starting right before the records: the records are skipped.
        for op in ("list_objects_v2", "list_objects"):
            start = {"StartAfter": "-~"} if op == "list_objects_v2" else {"Marker": "-~"}
            pages = list(r2.get_paginator(op).paginate(
                Bucket="r2", **start, PaginationConfig={"PageSize": 1, "MaxItems": 3}))
            listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
            assert not any(k.startswith(".multistore") for k in listed), (op, listed)
            assert listed, op
        assert r2.list_objects_v2(Bucket="r2", Prefix=".multistore/").get("KeyCount") == 0
        for call, kw in [
            (r2.put_object, {"Key": ".multistore/x", "Body": b"x"}),
            (r2.get_object, {"Key": f".multistore/uploads/{key}"}),
            (r2.delete_object, {"Key": ".multistore/x"}),
            (r2.create_multipart_upload, {"Key": ".multistore/x"}),
            (r2.list_parts, {"Key": f".multistore/{key}", "UploadId": up}),
            (r2.copy_object, {"Key": "copy-of-records", "CopySource": {"Bucket": "r2", "Key": ".multistore/x"}}),
        ]:
            resp = assert_client_error(call, 400, "InvalidArgument", Bucket="r2", **kw)
            assert "reserved" in resp["Error"]["Message"]
        out = r2.delete_objects(Bucket="r2", Delete={"Objects": [{"Key": ".multistore/x"}]})
        assert [e["Code"] for e in out["Errors"]] == ["InvalidArgument"]
    finally:
        r2.abort_multipart_upload(Bucket="r2", Key=key, UploadId=up)
