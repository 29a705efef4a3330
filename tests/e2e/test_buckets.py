"""Listings and bucket-level operations."""
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import KEYS
from helpers import assert_client_error, assert_s3_error


@pytest.fixture(scope="module", params=["prefixed", "r2-prefixed"])
def lbucket(request, gateway):
    """The listing suite runs on an S3 backend and, on the Worker, on an R2 binding."""
    if request.param.startswith("r2") and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return request.param


@pytest.fixture(scope="module")
def listing(s3, lbucket):
    """A small tree under a unique prefix in a bucket with a backend prefix."""
    base = f"list-{uuid.uuid4().hex[:8]}/"
    keys = [base + k for k in ["a.txt", "b.txt", "dir1/x", "dir1/y", "dir2/z", "sp ace+plus=eq.txt", "ü.txt"]]
    for k in keys:
        s3["admin"].put_object(Bucket=lbucket, Key=k, Body=b"1")
    return base, keys


def test_list_v2_with_delimiter_strips_the_backend_prefix(s3, listing, lbucket):
    base, keys = listing
    r = s3["admin"].list_objects_v2(Bucket=lbucket, Prefix=base, Delimiter="/")
    assert r["Name"] == lbucket
    assert r["Prefix"] == base
    assert sorted(o["Key"] for o in r["Contents"]) == sorted(k for k in keys if "dir" not in k)
    assert sorted(p["Prefix"] for p in r["CommonPrefixes"]) == [base + "dir1/", base + "dir2/"]


def test_list_v2_paginates_with_continuation_tokens_and_start_after(s3, listing, lbucket):
    base, keys = listing
    pages = s3["admin"].get_paginator("list_objects_v2").paginate(
        Bucket=lbucket, Prefix=base, PaginationConfig={"PageSize": 2})
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    r = s3["admin"].list_objects_v2(Bucket=lbucket, Prefix=base, StartAfter=base + "b.txt")
    assert [o["Key"] for o in r["Contents"]] == [k for k in sorted(keys) if k > base + "b.txt"]
    r = s3["admin"].list_objects_v2(Bucket=lbucket, Prefix=base, MaxKeys=1, FetchOwner=True)
    assert r["KeyCount"] == 1 and r["IsTruncated"]


def test_list_v1_paginates_with_markers(s3, listing, lbucket):
    base, keys = listing
    pages = s3["admin"].get_paginator("list_objects").paginate(
        Bucket=lbucket, Prefix=base, PaginationConfig={"PageSize": 3})
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == sorted(keys)
    r = s3["admin"].list_objects(Bucket=lbucket, Prefix=base, Marker=base + "dir1/y")
    assert [o["Key"] for o in r["Contents"]] == [k for k in sorted(keys) if k > base + "dir1/y"]


def test_url_encoded_listing_decodes_to_the_original_keys(s3, listing, lbucket):
    base, keys = listing
    # Asked for explicitly, botocore hands back the encoded keys as they came.
    r = s3["admin"].list_objects_v2(Bucket=lbucket, Prefix=base, EncodingType="url")
    assert r["EncodingType"] == "url"
    encoded = [o["Key"] for o in r["Contents"]]
    assert any("%C3%BC" in k for k in encoded) and any("sp+ace%2Bplus%3Deq" in k for k in encoded)
    assert sorted(urllib.parse.unquote_plus(k) for k in encoded) == sorted(keys)


def test_list_buckets_shows_only_what_the_caller_may_use(s3):
    names = lambda c: sorted(b["Name"] for b in c.list_buckets()["Buckets"])  # noqa: E731
    # As S3: anonymous callers reach public buckets by name, but may not enumerate them.
    assert_client_error(s3["anon"].list_buckets, 403, "AccessDenied")
    assert names(s3["reader"]) == ["az-public", "cors-strict", "gcs-public", "private", "public"]
    azure = ["az", "az-no-container", "az-prefixed", "az-public", "az-wrong-key", "azfed",
             "azfed-entra-down", "azfed-prefixed", "azfed-unknown-client",
             "azfed-untrusted-subject"]
    admin = names(s3["admin"])
    assert "gcs-public" in admin
    # The GCS buckets (test_gcs.py's) are listed too, and the backend buckets behind the
    # pass-through buckets `pt-*` and `1*` (test_list_buckets.py); the rest by name.
    assert [n for n in admin if not n.startswith(("gcs", "pt-", "1"))] == azure + ["cors-strict", "elsewhere", "fed", "fed-concurrent",
                                          "fed-sts-down", "fed-sts-refuses", "legacy", "prefixed",
                                          "private", "public", "r2", "r2-prefixed", "r2-root"]


def test_head_bucket_and_get_bucket_location(s3):
    assert s3["admin"].head_bucket(Bucket="private")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3["anon"].head_bucket(Bucket="public")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_client_error(s3["anon"].head_bucket, 403, "403", Bucket="private")
    assert_client_error(s3["admin"].head_bucket, 404, "404", Bucket="no-such-bucket")
    assert s3["admin"].get_bucket_location(Bucket="private")["LocationConstraint"] in (None, "")


def test_anonymous_reads_and_lists_a_public_bucket(s3):
    s3["admin"].put_object(Bucket="public", Key="hello.txt", Body=b"hi")
    assert s3["anon"].get_object(Bucket="public", Key="hello.txt")["Body"].read() == b"hi"
    assert "hello.txt" in [o["Key"] for o in s3["anon"].list_objects_v2(Bucket="public")["Contents"]]


@pytest.mark.parametrize("sub", ["acl", "policy", "website", "cors", "lifecycle"])
def test_unimplemented_bucket_subresources_are_501_never_a_listing(gateway, sub):
    assert_s3_error(requests.get(f"{gateway.endpoint}/public?{sub}"), 501, "NotImplemented")


def test_unknown_bucket_is_no_such_bucket(gateway, s3):
    assert_client_error(s3["admin"].list_objects_v2, 404, "NoSuchBucket", Bucket="nope-bucket")
    assert_s3_error(requests.get(f"{gateway.endpoint}/nope-bucket/key"), 404, "NoSuchBucket")


def test_create_bucket_is_refused_clearly(s3):
    resp = assert_client_error(s3["admin"].create_bucket, 501, "NotImplemented", Bucket="newbucket")
    assert "configuration" in resp["Error"]["Message"]


def test_creating_a_configured_bucket_answers_as_s3_does_for_an_existing_one(s3):
    # What "ensure the bucket exists" tools (rclone, Terraform) accept as success.
    assert_client_error(s3["admin"].create_bucket, 409, "BucketAlreadyOwnedByYou", Bucket="private")
    assert_client_error(s3["anon"].create_bucket, 409, "BucketAlreadyExists", Bucket="private")


def test_list_bucket_result_is_well_formed_xml_with_request_id(gateway):
    r = requests.get(f"{gateway.endpoint}/public?list-type=2")
    assert r.status_code == 200
    assert r.headers["x-amz-request-id"]
    root = ET.fromstring(r.content)
    assert root.tag.endswith("ListBucketResult")


def test_scoped_key_lists_only_under_its_prefix(s3):
    s3["scoped"].put_object(Bucket="private", Key="team/one", Body=b"1")
    assert [o["Key"] for o in s3["scoped"].list_objects_v2(Bucket="private", Prefix="team/")["Contents"]]
    assert_client_error(s3["scoped"].list_objects_v2, 403, "AccessDenied", Bucket="private")
    assert KEYS


def test_a_folder_marker_at_the_backend_prefix_is_not_listed_as_an_empty_key(s3, backend):
    from conftest import BACKEND_BUCKETS, PREFIX
    backend.put_object(Bucket=BACKEND_BUCKETS["prefixed"], Key=PREFIX, Body=b"")
    keys = [o["Key"] for o in s3["admin"].list_objects_v2(Bucket="prefixed").get("Contents", [])]
    assert "" not in keys
    r = s3["admin"].list_objects_v2(Bucket="prefixed", MaxKeys=1000)
    assert r["KeyCount"] == len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))


def test_pass_through_buckets_create_use_and_delete_backend_buckets(s3, backend):
    name = f"pt-{uuid.uuid4().hex[:8]}"
    assert_client_error(s3["reader"].create_bucket, 403, "AccessDenied", Bucket=name)
    assert_client_error(s3["admin"].head_bucket, 404, "404", Bucket=name)
    s3["admin"].create_bucket(Bucket=name)
    assert name in [b["Name"] for b in backend.list_buckets()["Buckets"]]
    assert s3["admin"].head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3["admin"].put_object(Bucket=name, Key="a/b.txt", Body=b"pt")
    assert backend.get_object(Bucket=name, Key="a/b.txt")["Body"].read() == b"pt"
    r = s3["admin"].list_objects_v2(Bucket=name)
    assert r["Name"] == name and [o["Key"] for o in r["Contents"]] == ["a/b.txt"]
    s3["admin"].delete_object(Bucket=name, Key="a/b.txt")
    s3["admin"].delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in backend.list_buckets()["Buckets"]]
    assert_client_error(s3["admin"].list_objects_v2, 404, "NoSuchBucket", Bucket=name)
