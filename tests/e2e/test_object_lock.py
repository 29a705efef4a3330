"""Object lock (bucket configuration, retention, legal hold, lock headers on uploads, bypass of
governance retention), bucket tagging and bucket encryption through the gateway, with boto3,
against SeaweedFS. Pass-through buckets (`pt-*`) are whole backend buckets; `prefixed` is a folder
of a shared one, where bucket settings are refused."""
import datetime
import uuid

import requests

from conftest import BACKEND_BUCKETS, KEYS
from helpers import assert_client_error, assert_no_backend_headers, assert_s3_error, client_error
from sigv4 import sign

UTC = datetime.timezone.utc
LATER = datetime.datetime(2030, 1, 1, tzinfo=UTC)


def uid():
    return uuid.uuid4().hex[:10]


def lock_bucket(admin):
    name = f"pt-lock-{uid()}"
    admin.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_a_bucket_created_with_object_lock_has_it_and_takes_a_default_retention(s3, backend):
    admin = s3["admin"]
    name = lock_bucket(admin)
    got = admin.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert got["ObjectLockEnabled"] == "Enabled"
    conf = {"ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    put = admin.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=conf)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert admin.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == conf
    # What the backend holds is what the gateway wrote.
    assert backend.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == conf
    # Both days and years, a zero period, a mode in lower case: S3's errors, backend unchanged.
    for rule, code in [({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
                       ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidRetentionPeriod"),
                       ({"Mode": "governance", "Years": 1}, "MalformedXML")]:
        bad = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
        assert_client_error(admin.put_object_lock_configuration, 400, code, Bucket=name,
                            ObjectLockConfiguration=bad)
    assert backend.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == conf


def test_a_bucket_without_object_lock_answers_the_backends_errors(s3):
    admin = s3["admin"]
    name = f"pt-nolock-{uid()}"
    admin.create_bucket(Bucket=name)
    assert_client_error(admin.get_object_lock_configuration, 404,
                        "ObjectLockConfigurationNotFoundError", Bucket=name)
    admin.put_object(Bucket=name, Key="k", Body=b"x")
    assert_client_error(admin.get_object_retention, 400, "InvalidRequest", Bucket=name, Key="k")


def test_retention_round_trip_and_a_governed_version_is_deleted_only_with_bypass(s3):
    admin = s3["admin"]
    name = lock_bucket(admin)
    version = admin.put_object(Bucket=name, Key="k", Body=b"kept")["VersionId"]
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": LATER}
    put = admin.put_object_retention(Bucket=name, Key="k", Retention=retention)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = admin.get_object_retention(Bucket=name, Key="k", VersionId=version)
    assert got["Retention"] == retention
    assert_no_backend_headers(got["ResponseMetadata"]["HTTPHeaders"])
    head = admin.head_object(Bucket=name, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == LATER
    # The lock refuses: S3's 403, not the gateway's 502.
    assert_client_error(admin.delete_object, 403, "AccessDenied", Bucket=name, Key="k",
                        VersionId=version)
    assert_client_error(admin.put_object_retention, 403, "AccessDenied", Bucket=name, Key="k",
                        Retention={"Mode": "GOVERNANCE",
                                   "RetainUntilDate": datetime.datetime(2029, 1, 1, tzinfo=UTC)})
    assert_client_error(admin.put_object_retention, 400, "MalformedXML", Bucket=name, Key="k",
                        Retention={"Mode": "governance", "RetainUntilDate": LATER})
    assert admin.get_object(Bucket=name, Key="k", VersionId=version)["Body"].read() == b"kept"
    gone = admin.delete_object(Bucket=name, Key="k", VersionId=version,
                               BypassGovernanceRetention=True)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_legal_hold_round_trip_and_a_held_version_cannot_be_deleted(s3):
    admin = s3["admin"]
    name = lock_bucket(admin)
    version = admin.put_object(Bucket=name, Key="k", Body=b"held")["VersionId"]
    admin.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "ON"})
    assert admin.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "ON"}
    assert_client_error(admin.delete_object, 403, "AccessDenied", Bucket=name, Key="k",
                        VersionId=version)
    assert_client_error(admin.put_object_legal_hold, 400, "MalformedXML", Bucket=name, Key="k",
                        LegalHold={"Status": "abc"})
    admin.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "OFF"})
    assert admin.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "OFF"}
    gone = admin.delete_object(Bucket=name, Key="k", VersionId=version)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_lock_headers_on_uploads_reach_the_backend_checked(s3, backend):
    admin = s3["admin"]
    name = lock_bucket(admin)
    version = admin.put_object(Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                               ObjectLockRetainUntilDate=LATER,
                               ObjectLockLegalHoldStatus="ON")["VersionId"]
    direct = backend.head_object(Bucket=name, Key="k")
    assert direct["ObjectLockMode"] == "GOVERNANCE"
    assert direct["ObjectLockRetainUntilDate"] == LATER
    assert direct["ObjectLockLegalHoldStatus"] == "ON"
    up = admin.create_multipart_upload(Bucket=name, Key="mp", ObjectLockLegalHoldStatus="ON")
    part = admin.upload_part(Bucket=name, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                             Body=b"p")
    done = admin.complete_multipart_upload(
        Bucket=name, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    assert admin.head_object(Bucket=name, Key="mp")["ObjectLockLegalHoldStatus"] == "ON"
    assert_client_error(admin.delete_object, 403, "AccessDenied", Bucket=name, Key="mp",
                        VersionId=done["VersionId"])
    # A mode without a date, a legal hold in lower case: refused before the backend.
    assert_client_error(admin.put_object, 400, "InvalidArgument", Bucket=name, Key="bad",
                        Body=b"x", ObjectLockLegalHoldStatus="on")
    missing = client_error(backend.head_object, Bucket=name, Key="bad")
    assert missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    for key, v in (("k", version), ("mp", done["VersionId"])):
        admin.put_object_legal_hold(Bucket=name, Key=key, LegalHold={"Status": "OFF"})
        admin.delete_object(Bucket=name, Key=key, VersionId=v, BypassGovernanceRetention=True)


def test_delete_objects_reports_the_locked_version_and_deletes_it_with_bypass(s3):
    admin = s3["admin"]
    name = lock_bucket(admin)
    v1 = admin.put_object(Bucket=name, Key="a", Body=b"a")["VersionId"]
    v2 = admin.put_object(Bucket=name, Key="b", Body=b"b")["VersionId"]
    admin.put_object_retention(Bucket=name, Key="a",
                               Retention={"Mode": "GOVERNANCE", "RetainUntilDate": LATER})
    both = {"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b", "VersionId": v2}]}
    got = admin.delete_objects(Bucket=name, Delete=both)
    assert [(e["Key"], e["Code"]) for e in got["Errors"]] == [("a", "AccessDenied")]
    assert [d["Key"] for d in got["Deleted"]] == ["b"]
    got = admin.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a", "VersionId": v1}]},
                               BypassGovernanceRetention=True)
    assert not got.get("Errors") and [d["Key"] for d in got["Deleted"]] == ["a"]


def test_bucket_tagging_round_trip(s3, backend):
    admin = s3["admin"]
    name = f"pt-tags-{uid()}"
    admin.create_bucket(Bucket=name)
    assert_client_error(admin.get_bucket_tagging, 404, "NoSuchTagSet", Bucket=name)
    tags = [{"Key": "Hello", "Value": "World"}, {"Key": "owner", "Value": "a b+c=d:e/f@g_ü"}]
    admin.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    got = admin.get_bucket_tagging(Bucket=name)["TagSet"]
    assert sorted(got, key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])
    assert backend.get_bucket_tagging(Bucket=name)["TagSet"] == got
    assert_client_error(admin.put_bucket_tagging, 400, "InvalidTag", Bucket=name,
                        Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]})
    gone = admin.delete_bucket_tagging(Bucket=name)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert_client_error(admin.get_bucket_tagging, 404, "NoSuchTagSet", Bucket=name)


def test_bucket_encryption_round_trip(s3):
    admin = s3["admin"]
    name = f"pt-enc-{uid()}"
    admin.create_bucket(Bucket=name)
    assert_client_error(admin.get_bucket_encryption, 404,
                        "ServerSideEncryptionConfigurationNotFoundError", Bucket=name)
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "fool-me-again"}}]}
    admin.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=conf)
    rule = admin.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == conf["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]
    assert_client_error(admin.put_bucket_encryption, 400, "MalformedXML", Bucket=name,
                        ServerSideEncryptionConfiguration={"Rules": [{
                            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "rot13"}}]})
    gone = admin.delete_bucket_encryption(Bucket=name)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert_client_error(admin.get_bucket_encryption, 404,
                        "ServerSideEncryptionConfigurationNotFoundError", Bucket=name)


def test_bucket_settings_of_a_prefixed_bucket_are_refused_and_the_shared_bucket_untouched(
        s3, backend):
    admin = s3["admin"]
    shared = BACKEND_BUCKETS["prefixed"]
    for call, kwargs in [
        (admin.get_bucket_tagging, {}),
        (admin.put_bucket_tagging, {"Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
        (admin.delete_bucket_tagging, {}),
        (admin.put_bucket_encryption, {"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
        (admin.get_bucket_encryption, {}),
        (admin.get_object_lock_configuration, {}),
    ]:
        resp = assert_client_error(call, 501, "NotImplemented", Bucket="prefixed", **kwargs)
        assert shared not in resp["Error"]["Message"], resp
    assert client_error(backend.get_bucket_tagging, Bucket=shared)["Error"]["Code"] == "NoSuchTagSet"
    assert client_error(backend.get_bucket_encryption, Bucket=shared)["Error"]["Code"] == (
        "ServerSideEncryptionConfigurationNotFoundError")


def test_a_retention_body_with_a_doctype_is_malformed_xml(gateway):
    body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "GOVERNANCE">]>'
            b"<Retention><Mode>&a;</Mode></Retention>")
    url = f"{gateway.endpoint}/pt-lock-none-{uid()}/k?retention"
    url, headers = sign("PUT", url, *KEYS["admin"], body=body)
    r = requests.put(url, data=body, headers=headers)
    assert_s3_error(r, 400, "MalformedXML")
