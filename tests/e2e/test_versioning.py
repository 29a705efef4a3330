"""Versioned buckets through the gateway, with boto3, against SeaweedFS: bucket versioning on a
pass-through bucket, reads, copies and deletes by version id, ListObjectVersions in the client's
namespace, the version actions, and a versionId the gateway must never drop."""
import urllib.parse
import uuid

import pytest
import requests

from conftest import BACKEND_BUCKETS, KEYS, PREFIX
from helpers import assert_client_error, assert_no_backend_headers, assert_s3_error, client_error
from sigv4 import sign


def uid():
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def vbucket(s3, backend):
    """A pass-through bucket with versioning enabled through the gateway."""
    name = f"pt-ver-{uid()}"
    backend.create_bucket(Bucket=name)
    put = s3["admin"].put_bucket_versioning(
        Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    return name


def two_versions(s3, bucket, key):
    admin = s3["admin"]
    v1 = admin.put_object(Bucket=bucket, Key=key, Body=b"first")["VersionId"]
    v2 = admin.put_object(Bucket=bucket, Key=key, Body=b"second")["VersionId"]
    assert v1 and v2 and v1 != v2
    return v1, v2


def test_versioning_is_enabled_through_the_gateway_and_read_back(s3, backend, vbucket):
    got = s3["admin"].get_bucket_versioning(Bucket=vbucket)
    assert got["Status"] == "Enabled"
    assert_no_backend_headers(got["ResponseMetadata"]["HTTPHeaders"])
    assert backend.get_bucket_versioning(Bucket=vbucket)["Status"] == "Enabled"


def test_each_version_is_read_by_its_id_and_listed(s3, vbucket):
    admin = s3["admin"]
    key = f"team/{uid()} a+b"
    v1, v2 = two_versions(s3, vbucket, key)
    assert admin.get_object(Bucket=vbucket, Key=key)["Body"].read() == b"second"
    first = admin.get_object(Bucket=vbucket, Key=key, VersionId=v1)
    assert first["Body"].read() == b"first"
    assert first["VersionId"] == v1
    assert admin.head_object(Bucket=vbucket, Key=key, VersionId=v2)["ContentLength"] == 6
    listed = admin.list_object_versions(Bucket=vbucket, Prefix=key)
    versions = {(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed["Versions"]}
    assert versions == {(key, v1, False), (key, v2, True)}
    assert listed["Name"] == vbucket
    assert_no_backend_headers(listed["ResponseMetadata"]["HTTPHeaders"])


def test_a_delete_leaves_a_marker_and_deleting_the_marker_restores_the_object(s3, vbucket):
    admin = s3["admin"]
    key = f"team/{uid()}"
    v1, v2 = two_versions(s3, vbucket, key)
    deleted = admin.delete_object(Bucket=vbucket, Key=key)
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    # (S3 adds `x-amz-delete-marker: true` here and the gateway passes it on; SeaweedFS sends
    # none, see the core's unit tests.)
    assert_client_error(admin.get_object, 404, "NoSuchKey", Bucket=vbucket, Key=key)
    # Older versions stay readable, and the marker is listed.
    assert admin.get_object(Bucket=vbucket, Key=key, VersionId=v1)["Body"].read() == b"first"
    listed = admin.list_object_versions(Bucket=vbucket, Prefix=key)
    assert [m["VersionId"] for m in listed.get("DeleteMarkers", [])] == [marker]
    # Deleting the marker by its id brings the latest version back.
    gone = admin.delete_object(Bucket=vbucket, Key=key, VersionId=marker)
    assert gone["VersionId"] == marker
    assert admin.get_object(Bucket=vbucket, Key=key)["Body"].read() == b"second"
    # Deleting a version by id removes it for good.
    admin.delete_object(Bucket=vbucket, Key=key, VersionId=v2)
    assert admin.get_object(Bucket=vbucket, Key=key)["Body"].read() == b"first"
    listed = admin.list_object_versions(Bucket=vbucket, Prefix=key)
    assert [v["VersionId"] for v in listed["Versions"]] == [v1]


def test_a_copy_reads_the_version_its_source_names(s3, vbucket):
    admin = s3["admin"]
    key = f"team/{uid()}"
    v1, _ = two_versions(s3, vbucket, key)
    copied = admin.copy_object(Bucket=vbucket, Key=f"{key}-copy",
                               CopySource={"Bucket": vbucket, "Key": key, "VersionId": v1})
    # (S3 answers x-amz-copy-source-version-id, and the gateway passes it on; SeaweedFS may not.)
    assert copied.get("CopySourceVersionId", v1) == v1
    assert admin.get_object(Bucket=vbucket, Key=f"{key}-copy")["Body"].read() == b"first"


def test_delete_objects_deletes_versions_and_reports_them(s3, vbucket):
    admin = s3["admin"]
    key = f"team/{uid()}"
    v1, v2 = two_versions(s3, vbucket, key)
    resp = admin.delete_objects(Bucket=vbucket, Delete={"Objects": [
        {"Key": key, "VersionId": v1}, {"Key": key}]})
    deleted = resp["Deleted"]
    assert {"Key": key, "VersionId": v1} in [
        {k: d[k] for k in ("Key", "VersionId") if k in d} for d in deleted]
    markers = [d for d in deleted if d.get("DeleteMarker")]
    assert len(markers) == 1 and markers[0].get("DeleteMarkerVersionId")
    listed = admin.list_object_versions(Bucket=vbucket, Prefix=key)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2]


def test_version_actions_are_their_own_and_listings_keep_to_the_scope(s3, vbucket):
    admin, versioner = s3["admin"], s3["versioner"]
    team, plain = f"team/{uid()}", f"plain/{uid()}"
    tv1, _ = two_versions(s3, vbucket, team)
    pv1, _ = two_versions(s3, vbucket, plain)
    assert versioner.get_object(Bucket=vbucket, Key=team, VersionId=tv1)["Body"].read() == b"first"
    # `get_object` alone reads current objects only; `delete_object` deletes no version.
    assert versioner.get_object(Bucket=vbucket, Key=plain)["Body"].read() == b"second"
    assert_client_error(versioner.get_object, 403, "AccessDenied", Bucket=vbucket, Key=plain,
                        VersionId=pv1)
    resp = client_error(versioner.head_object, Bucket=vbucket, Key=plain, VersionId=pv1)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_client_error(versioner.delete_object, 403, "AccessDenied", Bucket=vbucket, Key=plain,
                        VersionId=pv1)
    assert admin.get_object(Bucket=vbucket, Key=plain, VersionId=pv1)["Body"].read() == b"first"
    # A copy source naming a version needs get_object_version on the source.
    assert_client_error(versioner.copy_object, 403, "AccessDenied", Bucket=vbucket,
                        Key=f"team/{uid()}",
                        CopySource={"Bucket": vbucket, "Key": plain, "VersionId": pv1})
    # Listings of versions stay inside the scope's folders.
    listed = versioner.list_object_versions(Bucket=vbucket, Prefix="team/")
    assert {v["Key"] for v in listed["Versions"]} >= {team}
    assert all(v["Key"].startswith("team/") for v in listed["Versions"])
    for prefix in ("", "te", "team", "plain/"):
        assert_client_error(versioner.list_object_versions, 403, "AccessDenied", Bucket=vbucket,
                            Prefix=prefix)
    # Only the admin may switch versioning.
    assert_client_error(versioner.put_bucket_versioning, 403, "AccessDenied", Bucket=vbucket,
                        VersioningConfiguration={"Status": "Suspended"})
    assert admin.get_bucket_versioning(Bucket=vbucket)["Status"] == "Enabled"


def test_a_version_id_smuggled_on_an_operation_that_takes_none_is_refused(gateway, s3, vbucket):
    key = f"team/{uid()}"
    v1, v2 = two_versions(s3, vbucket, key)
    # A PUT naming the old version would overwrite the live object: refused, nothing written.
    url, headers = sign("PUT", f"{gateway.endpoint}/{vbucket}/{key}?versionId={v1}",
                        *KEYS["admin"], body=b"evil")
    r = requests.put(url, data=b"evil", headers=headers)
    assert_s3_error(r, 400, "InvalidArgument")
    assert s3["admin"].get_object(Bucket=vbucket, Key=key)["Body"].read() == b"second"
    for target in (f"/{vbucket}?list-type=2&versionId={v1}", f"/{vbucket}?versionId={v1}",
                   f"/{vbucket}/{key}?uploadId=x&versionId={v1}"):
        url, headers = sign("GET", gateway.endpoint + target, *KEYS["admin"])
        assert_s3_error(requests.get(url, headers=headers), 400, "InvalidArgument")
    # A version id that is no version id never reaches the backend.
    for junk in ("a%3Fb", "a%26partNumber%3D1", "%2E%2E%2Fx", ""):
        url, headers = sign("GET", f"{gateway.endpoint}/{vbucket}/{key}?versionId={junk}",
                            *KEYS["admin"])
        r = requests.get(url, headers=headers)
        root = assert_s3_error(r, 400, "InvalidArgument")
        assert root.findtext("Message") == "Invalid version id specified", r.text


def test_a_bucket_that_is_a_backend_folder_lists_its_versions_but_cannot_switch_them(s3):
    admin = s3["admin"]
    key = f"ver/{uid()} x"
    admin.put_object(Bucket="prefixed", Key=key, Body=b"x")
    listed = admin.list_object_versions(Bucket="prefixed", Prefix="ver/", EncodingType="url")
    keys = [urllib.parse.unquote_plus(v["Key"]) for v in listed["Versions"]]
    assert key in keys, keys
    assert all(not k.startswith(PREFIX) for k in keys)
    assert listed["Name"] == "prefixed"
    resp = assert_client_error(admin.put_bucket_versioning, 501, "NotImplemented",
                               Bucket="prefixed", VersioningConfiguration={"Status": "Enabled"})
    assert BACKEND_BUCKETS["prefixed"] not in resp["Error"]["Message"]


def test_put_bucket_versioning_refuses_what_it_cannot_forward(gateway, vbucket):
    for body, status, code in [
        (b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>", 400,
         "MalformedXML"),
        (b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"
         b"</VersioningConfiguration>", 501, "NotImplemented"),
    ]:
        url, headers = sign("PUT", f"{gateway.endpoint}/{vbucket}?versioning", *KEYS["admin"],
                            body=body)
        assert_s3_error(requests.put(url, data=body, headers=headers), status, code)


def test_an_unversioned_read_of_a_public_bucket_stays_anonymous_but_versions_do_not(gateway, s3):
    key = f"ver/{uid()}"
    s3["admin"].put_object(Bucket="public", Key=key, Body=b"pub")
    assert s3["anon"].get_object(Bucket="public", Key=key)["Body"].read() == b"pub"
    resp = client_error(s3["anon"].get_object, Bucket="public", Key=key, VersionId="null")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Bucket versioning is not a public bucket's business either (it was a 501 before).
    assert_s3_error(requests.get(f"{gateway.endpoint}/public?versioning"), 403, "AccessDenied")


def test_r2_buckets_have_no_versions(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    admin = s3["admin"]
    key = f"ver/{uid()}"
    admin.put_object(Bucket="r2", Key=key, Body=b"r2")
    assert "Status" not in admin.get_bucket_versioning(Bucket="r2")
    assert admin.get_object(Bucket="r2", Key=key, VersionId="null")["Body"].read() == b"r2"
    assert_client_error(admin.get_object, 501, "NotImplemented", Bucket="r2", Key=key,
                        VersionId="v1")
    assert_client_error(admin.list_object_versions, 501, "NotImplemented", Bucket="r2")
    resp = admin.delete_objects(Bucket="r2", Delete={"Objects": [{"Key": key, "VersionId": "v1"}]})
    assert [e["Code"] for e in resp["Errors"]] == ["NotImplemented"]
    assert admin.get_object(Bucket="r2", Key=key)["Body"].read() == b"r2"
