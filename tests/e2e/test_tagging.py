"""Object tagging (GetObjectTagging, PutObjectTagging, DeleteObjectTagging) and
GetObjectAttributes through the gateway, with boto3, against SeaweedFS."""
import uuid

import pytest

import requests

from conftest import BACKEND_BUCKETS, KEYS
from helpers import assert_client_error, assert_no_backend_headers, assert_s3_error
from sigv4 import sign

TAGS = [{"Key": "project", "Value": "blue"}, {"Key": "owner", "Value": "a b+c=d:e/f@g_ü"}]


def uid():
    return uuid.uuid4().hex[:10]


def tagset(resp):
    return sorted((t["Key"], t["Value"]) for t in resp["TagSet"])


def test_put_get_and_delete_object_tagging_round_trip(s3, backend):
    key = f"tags/{uid()}"
    admin = s3["admin"]
    admin.put_object(Bucket="private", Key=key, Body=b"tagged")
    put = admin.put_object_tagging(Bucket="private", Key=key, Tagging={"TagSet": TAGS})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = admin.get_object_tagging(Bucket="private", Key=key)
    assert tagset(got) == sorted((t["Key"], t["Value"]) for t in TAGS)
    assert_no_backend_headers(got["ResponseMetadata"]["HTTPHeaders"])
    # What really landed on the backend: the same tags on the same object, content untouched.
    direct = backend.get_object_tagging(Bucket=BACKEND_BUCKETS["private"], Key=key)
    assert tagset(direct) == tagset(got)
    assert admin.get_object(Bucket="private", Key=key)["Body"].read() == b"tagged"
    deleted = admin.delete_object_tagging(Bucket="private", Key=key)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    assert admin.get_object_tagging(Bucket="private", Key=key)["TagSet"] == []
    assert admin.get_object(Bucket="private", Key=key)["Body"].read() == b"tagged"


def test_tags_set_on_upload_are_read_back(s3):
    key = f"tags/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=key, Body=b"x", Tagging="a=1&b=two")
    got = s3["admin"].get_object_tagging(Bucket="private", Key=key)
    assert tagset(got) == [("a", "1"), ("b", "two")]


def test_tagging_a_missing_key_is_no_such_key(s3):
    assert_client_error(s3["admin"].get_object_tagging, 404, "NoSuchKey", Bucket="private",
                        Key=f"tags/missing-{uid()}")


def test_more_than_ten_tags_are_refused_before_the_backend(s3):
    key = f"tags/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=key, Body=b"x")
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    assert_client_error(s3["admin"].put_object_tagging, 400, "InvalidTag", Bucket="private",
                        Key=key, Tagging={"TagSet": many})
    assert s3["admin"].get_object_tagging(Bucket="private", Key=key)["TagSet"] == []


def test_a_tagging_body_with_a_doctype_is_malformed_xml(gateway):
    body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
            b"<Tagging><TagSet><Tag><Key>k</Key><Value>&a;</Value></Tag></TagSet></Tagging>")
    url = f"{gateway.endpoint}/private/tags/{uid()}?tagging"
    url, headers = sign("PUT", url, *KEYS["admin"], body=body)
    r = requests.put(url, data=body, headers=headers)
    assert_s3_error(r, 400, "MalformedXML")


def test_a_tagging_body_over_64_kib_is_refused(gateway):
    body = b"<Tagging><TagSet>" + b" " * (65 << 10) + b"</TagSet></Tagging>"
    url = f"{gateway.endpoint}/private/tags/{uid()}?tagging"
    url, headers = sign("PUT", url, *KEYS["admin"], body=body)
    r = requests.put(url, data=body, headers=headers)
    assert_s3_error(r, 400, "MalformedXML")


def test_scoped_key_tags_only_under_its_prefix(s3):
    inside, outside = f"team/{uid()}", f"tags/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=outside, Body=b"x")
    s3["scoped"].put_object(Bucket="private", Key=inside, Body=b"x")
    s3["scoped"].put_object_tagging(Bucket="private", Key=inside, Tagging={"TagSet": TAGS[:1]})
    assert tagset(s3["scoped"].get_object_tagging(Bucket="private", Key=inside)) == [("project", "blue")]
    for call, kwargs in [(s3["scoped"].get_object_tagging, {}),
                         (s3["scoped"].put_object_tagging, {"Tagging": {"TagSet": TAGS}}),
                         (s3["scoped"].delete_object_tagging, {})]:
        assert_client_error(call, 403, "AccessDenied", Bucket="private", Key=outside, **kwargs)
    assert s3["admin"].get_object_tagging(Bucket="private", Key=outside)["TagSet"] == []


def test_reading_an_object_does_not_grant_its_tags(s3):
    key = f"tags/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=key, Body=b"x", Tagging="secret=1")
    assert s3["reader"].get_object(Bucket="private", Key=key)["Body"].read() == b"x"
    assert_client_error(s3["reader"].get_object_tagging, 403, "AccessDenied",
                        Bucket="private", Key=key)
    assert_client_error(s3["reader"].put_object_tagging, 403, "AccessDenied",
                        Bucket="private", Key=key, Tagging={"TagSet": []})
    assert_client_error(s3["reader"].delete_object_tagging, 403, "AccessDenied",
                        Bucket="private", Key=key)


def test_bucket_tagging_of_a_bucket_mapping_a_whole_backend_bucket_is_forwarded(s3):
    # Bucket tags are the backend bucket's (test_object_lock.py has the round trip).
    assert_client_error(s3["admin"].get_bucket_tagging, 404, "NoSuchTagSet", Bucket="private")


def test_get_object_attributes(s3):
    key = f"attrs/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=key, Body=b"attributes!")
    head = s3["admin"].head_object(Bucket="private", Key=key)
    got = s3["admin"].get_object_attributes(Bucket="private", Key=key,
                                            ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])
    assert got["ObjectSize"] == 11
    assert got["ETag"].strip('"') == head["ETag"].strip('"')
    assert_no_backend_headers(got["ResponseMetadata"]["HTTPHeaders"])


def test_get_object_attributes_needs_get_object_and_names_known_attributes(gateway, s3):
    key = f"attrs/{uid()}"
    s3["admin"].put_object(Bucket="private", Key=key, Body=b"x")
    assert_client_error(s3["scoped"].get_object_attributes, 403, "AccessDenied",
                        Bucket="private", Key=key, ObjectAttributes=["ETag"])
    url = f"{gateway.endpoint}/private/{key}?attributes"
    _, headers = sign("GET", url, *KEYS["admin"], headers={"x-amz-object-attributes": "ETag,Owner"})
    r = requests.get(url, headers=headers)
    assert_s3_error(r, 400, "InvalidArgument")
    _, headers = sign("GET", url, *KEYS["admin"])
    r = requests.get(url, headers=headers)
    assert_s3_error(r, 400, "InvalidArgument")


@pytest.mark.parametrize("bucket,backend_name", [("gcs", "GCS"), ("az", "Azure")])
def test_tagging_and_attributes_are_not_implemented_on_gcs_and_azure(s3, bucket, backend_name):
    c = s3["admin"]
    c.put_object(Bucket=bucket, Key="tagged", Body=b"x")
    for call, kwargs in [(c.get_object_tagging, {}), (c.delete_object_tagging, {}),
                         (c.put_object_tagging, {"Tagging": {"TagSet": TAGS}}),
                         (c.get_object_attributes, {"ObjectAttributes": ["ETag"]})]:
        resp = assert_client_error(call, 501, "NotImplemented", Bucket=bucket, Key="tagged", **kwargs)
        assert backend_name in resp["Error"]["Message"], resp
    # The object is untouched.
    assert c.get_object(Bucket=bucket, Key="tagged")["Body"].read() == b"x"
