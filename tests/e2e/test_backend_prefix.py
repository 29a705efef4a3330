"""`backend_prefix` is a folder, as in multistore 0.7: `legacy` and `legacy/` both mean `legacy/` +
key. A backend laid out by 0.7 (objects under `legacy/...`) is served unchanged."""
import uuid

from conftest import BACKEND_BUCKETS, LEGACY_PREFIX
from helpers import assert_client_error

BACKING = BACKEND_BUCKETS["prefixed"]


def test_a_backend_laid_out_by_0_7_is_read_and_listed_under_the_folder_prefix(s3, backend):
    run = uuid.uuid4().hex[:8]
    # Written straight into the backend as 0.7 placed them, plus a sibling 0.7 never served
    # (what gluing the prefix to keys would have read).
    backend.put_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}/{run}/a.txt", Body=b"a")
    backend.put_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}/{run}/sub/b.txt", Body=b"bb")
    backend.put_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}{run}/glued.txt", Body=b"g")
    c = s3["admin"]
    assert c.get_object(Bucket="legacy", Key=f"{run}/a.txt")["Body"].read() == b"a"
    assert c.head_object(Bucket="legacy", Key=f"{run}/sub/b.txt")["ContentLength"] == 2
    # Glued (`legacy` + key), this key would have read the sibling.
    assert_client_error(c.get_object, 404, "NoSuchKey", Bucket="legacy", Key=f"{run}/glued.txt")
    r = c.list_objects_v2(Bucket="legacy", Prefix=f"{run}/")
    assert [o["Key"] for o in r["Contents"]] == [f"{run}/a.txt", f"{run}/sub/b.txt"]
    assert r["Prefix"] == f"{run}/"
    r = c.list_objects_v2(Bucket="legacy", Prefix=f"{run}/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == [f"{run}/a.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == [f"{run}/sub/"]
    # The whole bucket: only the folder's keys, the prefix stripped.
    keys = [o["Key"] for o in c.list_objects_v2(Bucket="legacy", MaxKeys=1000).get("Contents", [])]
    assert f"{run}/a.txt" in keys
    assert not any("glued" in k or k.startswith(LEGACY_PREFIX) for k in keys), keys
    # V1 listing with a marker.
    r = c.list_objects(Bucket="legacy", Prefix=f"{run}/", Marker=f"{run}/a.txt")
    assert [o["Key"] for o in r["Contents"]] == [f"{run}/sub/b.txt"]


def test_writes_through_the_gateway_land_in_the_folder(s3, backend):
    run = uuid.uuid4().hex[:8]
    c = s3["admin"]
    c.put_object(Bucket="legacy", Key=f"{run}/new.txt", Body=b"n")
    got = backend.get_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}/{run}/new.txt")
    assert got["Body"].read() == b"n"
    c.copy_object(Bucket="legacy", Key=f"{run}/copy.txt",
                  CopySource={"Bucket": "legacy", "Key": f"{run}/new.txt"})
    got = backend.get_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}/{run}/copy.txt")
    assert got["Body"].read() == b"n"
    up = c.create_multipart_upload(Bucket="legacy", Key=f"{run}/mp.bin")
    p1 = c.upload_part(Bucket="legacy", Key=f"{run}/mp.bin", UploadId=up["UploadId"],
                       PartNumber=1, Body=b"m" * 10)
    ups = c.list_multipart_uploads(Bucket="legacy", Prefix=f"{run}/")
    assert [u["Key"] for u in ups["Uploads"]] == [f"{run}/mp.bin"]
    c.complete_multipart_upload(Bucket="legacy", Key=f"{run}/mp.bin", UploadId=up["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]})
    got = backend.get_object(Bucket=BACKING, Key=f"{LEGACY_PREFIX}/{run}/mp.bin")
    assert got["Body"].read() == b"m" * 10
    c.delete_object(Bucket="legacy", Key=f"{run}/new.txt")
    left = backend.list_objects_v2(Bucket=BACKING, Prefix=f"{LEGACY_PREFIX}/{run}/")["Contents"]
    assert sorted(o["Key"] for o in left) == [f"{LEGACY_PREFIX}/{run}/{k}"
                                              for k in ("copy.txt", "mp.bin")]
