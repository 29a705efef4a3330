"""Google Cloud Storage backends (`backend_type = "gcs"`, its XML API) against both runtimes,
on fake-gcs-server (conftest.gcs), and GCP federation (`gcs-fed*`: Google STS, then service
account impersonation, then `Authorization: Bearer`) through conftest's local Google token
services, which verify the gateway's token against its JWKS.

`gcs` signs with a service account key (Google's V4 signed URLs), `gcs-hmac` with HMAC keys
(SigV4, GCS's interoperability mode), `gcs-public` not at all. The emulator verifies no
signature (the unit tests check ours against Google's conformance vectors) and takes an XML-API
PUT only on a V4 signed URL, so writes go through `gcs`; the others read what it wrote.

What fake-gcs-server cannot do is skipped with the reason, not faked: S3-style multipart uploads
and server-side copies (it treats both as its own signed uploads), and S3 error documents (it
answers a missing object with a bare `404 Not Found`). Copies between GCS and another backend
stream through the gateway (GET and PUT) and are tested."""
import hashlib
import os
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import GCP_PROVIDER, GCP_SERVICE_ACCOUNT, KEYS
from helpers import assert_request_id, aws_cli

EMULATOR_GAPS = {
    "multipart": "fake-gcs-server does not implement the XML API's multipart uploads "
                 "(it takes POST ?uploads on a signed URL for a resumable upload, answered in JSON)",
    "copy": "fake-gcs-server does not implement the XML API's copy (x-goog-copy-source): "
            "it takes the PUT for a signed upload of its empty body, answered in JSON",
    "errors": "fake-gcs-server answers a missing object with a bare text/plain 404, not GCS's "
              "NoSuchKey XML document",
}


def unique(prefix):
    return f"{prefix}/{uuid.uuid4().hex[:8]}"


def emulator_object(gcs, key):
    """The object's resource as the emulator's JSON API shows it."""
    r = requests.get(f"{gcs.api}/{requests.utils.quote(key, safe='')}", timeout=10)
    r.raise_for_status()
    return r.json()


def test_put_get_head_range_list_and_delete_with_boto3(s3, gcs):
    admin = s3["admin"]
    base = unique("boto")
    key = f"{base}/hello.txt"
    admin.put_object(Bucket="gcs", Key=key, Body=b"hello, gcs", ContentType="text/plain",
                     Metadata={"colour": "blue"}, CacheControl="max-age=60")
    # What landed: the key as sent, user metadata as GCS metadata (x-goog-meta-*).
    landed = emulator_object(gcs, key)
    assert landed["size"] == "10"
    assert landed["contentType"] == "text/plain"
    assert landed["metadata"] == {"colour": "blue"}

    got = admin.get_object(Bucket="gcs", Key=key)
    assert got["Body"].read() == b"hello, gcs"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"colour": "blue"}
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert_request_id(headers)
    assert not [h for h in headers if h.startswith("x-goog-")], headers

    head = admin.head_object(Bucket="gcs", Key=key)
    assert head["ContentLength"] == 10
    assert head["Metadata"] == {"colour": "blue"}
    assert head["ETag"] == got["ETag"]

    part = admin.get_object(Bucket="gcs", Key=key, Range="bytes=7-9")
    assert part["Body"].read() == b"gcs"
    assert part["ContentRange"] == "bytes 7-9/10"

    admin.put_object(Bucket="gcs", Key=f"{base}/sub/deeper.txt", Body=b"x")
    listed = admin.list_objects_v2(Bucket="gcs", Prefix=f"{base}/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert listed["Contents"][0]["Size"] == 10
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == [f"{base}/sub/"]

    admin.delete_object(Bucket="gcs", Key=key)
    admin.delete_object(Bucket="gcs", Key=f"{base}/sub/deeper.txt")
    assert "Contents" not in admin.list_objects_v2(Bucket="gcs", Prefix=f"{base}/")
    with pytest.raises(ClientError) as e:
        admin.head_object(Bucket="gcs", Key=key)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_keys_with_special_characters_round_trip(s3, gcs):
    admin = s3["admin"]
    base = unique("keys")
    names = ["a b.txt", "plus+eq=.txt", "ユニ.txt", "pct%25.txt", "bang!(x)'*.txt"]
    for n in names:
        admin.put_object(Bucket="gcs", Key=f"{base}/{n}", Body=n.encode())
    for n in names:
        assert emulator_object(gcs, f"{base}/{n}")["name"] == f"{base}/{n}"
        assert admin.get_object(Bucket="gcs", Key=f"{base}/{n}")["Body"].read() == n.encode()
    listed = admin.list_objects_v2(Bucket="gcs", Prefix=f"{base}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"{base}/{n}" for n in names)


def test_a_bucket_with_hmac_keys_reads_and_lists(s3):
    admin = s3["admin"]
    key = f"{unique('hmac')}/data.bin"
    data = os.urandom(70000)
    admin.put_object(Bucket="gcs", Key=key, Body=data)
    assert admin.get_object(Bucket="gcs-hmac", Key=key)["Body"].read() == data
    assert [o["Key"] for o in admin.list_objects_v2(Bucket="gcs-hmac", Prefix=key)["Contents"]] \
        == [key]


def test_a_public_bucket_serves_anonymous_reads_under_its_prefix(s3):
    s3["admin"].put_object(Bucket="gcs", Key="public/open.txt", Body=b"open")
    anon = s3["anon"]
    assert anon.get_object(Bucket="gcs-public", Key="open.txt")["Body"].read() == b"open"
    keys = [o["Key"] for o in anon.list_objects_v2(Bucket="gcs-public")["Contents"]]
    assert "open.txt" in keys and not [k for k in keys if k.startswith("public/")]
    with pytest.raises(ClientError) as e:
        anon.put_object(Bucket="gcs-public", Key="nope.txt", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_refused_clients_never_reach_the_backend(s3):
    with pytest.raises(ClientError) as e:
        s3["reader"].get_object(Bucket="gcs", Key="anything")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3["anon"].list_objects_v2(Bucket="gcs")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.fixture(scope="module")
def aws(gateway, tmp_path_factory):
    # Uploads stay single PUTs (the emulator has no multipart uploads).
    return aws_cli(gateway.endpoint, KEYS, tmp_path_factory.mktemp("awscli-gcs"),
                   "  multipart_threshold = 64MB\n")


def test_aws_cli_cp_ls_head_and_rm(aws, gcs, tmp_path):
    src = tmp_path / "file.bin"
    src.write_bytes(os.urandom(3 << 20))
    key = f"{unique('cli')}/file.bin"
    aws("s3", "cp", str(src), f"s3://gcs/{key}", "--metadata", "origin=cli")
    assert emulator_object(gcs, key)["metadata"] == {"origin": "cli"}
    ls = aws("s3", "ls", f"s3://gcs/{key}").stdout
    assert str(3 << 20) in ls and "file.bin" in ls
    out = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://gcs/{key}", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    head = aws("s3api", "head-object", "--bucket", "gcs", "--key", key).stdout
    assert '"origin": "cli"' in head
    aws("s3", "rm", f"s3://gcs/{key}")
    assert aws("s3api", "head-object", "--bucket", "gcs", "--key", key, check=False).returncode != 0


def test_the_gateway_lists_gcs_with_list_type_2_pagination(s3):
    admin = s3["admin"]
    base = unique("pages")
    for i in range(5):
        admin.put_object(Bucket="gcs", Key=f"{base}/k{i}", Body=b"x")
    pages = admin.get_paginator("list_objects_v2").paginate(
        Bucket="gcs", Prefix=f"{base}/", PaginationConfig={"PageSize": 2})
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys == [f"{base}/k{i}" for i in range(5)]


def test_a_copy_from_gcs_to_another_backend_streams_with_its_metadata(s3):
    admin = s3["admin"]
    src, dst = f"{unique('xcopy')}/src é.txt", f"{unique('from-gcs')}.txt"
    body = os.urandom(100_000)
    admin.put_object(Bucket="gcs", Key=src, Body=body, ContentType="text/csv",
                     Metadata={"colour": "blue"})
    admin.copy_object(Bucket="elsewhere", Key=dst, CopySource={"Bucket": "gcs", "Key": src})
    got = admin.get_object(Bucket="elsewhere", Key=dst)
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv"
    # GCS's x-goog-meta-* came back as the object's metadata.
    assert got["Metadata"] == {"colour": "blue"}


def test_a_copy_from_another_backend_into_gcs_streams_with_its_metadata(s3, gcs):
    admin = s3["admin"]
    src, dst = f"{unique('into-gcs')}.txt", f"{unique('xcopy')}/dst.txt"
    admin.put_object(Bucket="elsewhere", Key=src, Body=b"into gcs", Metadata={"colour": "red"})
    admin.copy_object(Bucket="gcs", Key=dst, CopySource={"Bucket": "elsewhere", "Key": src})
    assert emulator_object(gcs, dst)["metadata"] == {"colour": "red"}
    assert admin.get_object(Bucket="gcs", Key=dst)["Body"].read() == b"into gcs"


# Against real GCS these would pass as they stand; the emulator lacks the features.
@pytest.mark.skip(reason=EMULATOR_GAPS["multipart"])
def test_a_multipart_upload(s3, tmp_path):
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(11 << 20)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    key = f"{unique('mpu')}/big.bin"
    s3["admin"].upload_file(str(src), "gcs", key, Config=TransferConfig(
        multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    got = s3["admin"].get_object(Bucket="gcs", Key=key)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


@pytest.mark.skip(reason=EMULATOR_GAPS["copy"])
def test_a_server_side_copy_keeps_the_metadata(s3):
    admin = s3["admin"]
    base = unique("copy")
    admin.put_object(Bucket="gcs", Key=f"{base}/a", Body=b"copied", Metadata={"k": "v"})
    admin.copy_object(Bucket="gcs", Key=f"{base}/b", CopySource={"Bucket": "gcs", "Key": f"{base}/a"})
    got = admin.get_object(Bucket="gcs", Key=f"{base}/b")
    assert got["Body"].read() == b"copied" and got["Metadata"] == {"k": "v"}


@pytest.mark.skip(reason=EMULATOR_GAPS["errors"])
def test_a_missing_key_is_no_such_key(s3):
    with pytest.raises(ClientError) as e:
        s3["admin"].get_object(Bucket="gcs", Key=unique("missing"))
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


@pytest.fixture
def google(gateway, gcs):
    """Google's local STS verifies tokens against this gateway's JWKS."""
    gcs.google.jwks_url = gateway.endpoint + "/.well-known/jwks.json"
    return gcs.google


def bearer_tokens(calls):
    return [c["authorization"][len("Bearer "):] for c in calls
            if (c["authorization"] or "").startswith("Bearer ")]


def test_a_federated_bucket_works_with_the_impersonated_token(s3, gcs, google):
    admin = s3["admin"]
    base = unique("fed")
    key = f"{base}/data.txt"
    admin.put_object(Bucket="gcs", Key=key, Body=b"federated", Metadata={"m": "1"})
    before = len(gcs.proxy.calls)
    got = admin.get_object(Bucket="gcs-fed", Key=key)
    assert got["Body"].read() == b"federated" and got["Metadata"] == {"m": "1"}
    assert admin.head_object(Bucket="gcs-fed", Key=key)["ContentLength"] == 9
    listed = admin.list_objects_v2(Bucket="gcs-fed", Prefix=f"{base}/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    admin.delete_object(Bucket="gcs-fed", Key=key)
    assert "Contents" not in admin.list_objects_v2(Bucket="gcs-fed", Prefix=f"{base}/")
    # Storage saw every request carry a token the IAM impersonation issued, in the header only.
    calls = gcs.proxy.calls[before:]
    assert len(calls) == 5, calls
    tokens = bearer_tokens(calls)
    assert len(tokens) == len(calls) and set(tokens) <= google.impersonated, calls
    assert not [c for c in calls if "X-Goog-" in c["path"] or "X-Amz-" in c["path"]], calls
    # The chain: STS verified the gateway's token (sub = the bucket, the provider's audience),
    # IAM was called with the token STS issued.
    sts = [c for c in google.sts_calls if c.get("claims", {}).get("sub") == "gcs-fed"]
    assert sts and sts[-1]["claims"]["aud"] == "https:" + GCP_PROVIDER
    iam = [c for c in google.iam_calls if c["email"] == GCP_SERVICE_ACCOUNT]
    assert iam and bearer_tokens(iam)[-1] in google.federated


def test_the_federated_token_is_reused_across_requests(s3, gcs, google):
    admin = s3["admin"]
    admin.list_objects_v2(Bucket="gcs-fed", MaxKeys=1)
    before = len(google.sts_calls), len(google.iam_calls)
    for _ in range(4):
        admin.list_objects_v2(Bucket="gcs-fed", MaxKeys=1)
    assert (len(google.sts_calls), len(google.iam_calls)) == before


def test_without_a_service_account_the_federated_token_goes_to_storage(s3, gcs, google):
    key = f"{unique('direct')}/x"
    s3["admin"].put_object(Bucket="gcs", Key=key, Body=b"direct")
    before = len(gcs.proxy.calls)
    assert s3["admin"].get_object(Bucket="gcs-fed-direct", Key=key)["Body"].read() == b"direct"
    tokens = bearer_tokens(gcs.proxy.calls[before:])
    assert tokens and set(tokens) <= google.federated


def exchange_failure(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3["admin"].list_objects_v2(Bucket=bucket)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_a_service_account_iam_refuses_is_a_502_with_googles_reason(s3, gcs, google):
    before = len(gcs.proxy.calls)
    status, code, message = exchange_failure(s3, "gcs-fed-denied")
    assert (status, code) == (502, "BadGateway")
    assert "PERMISSION_DENIED" in message and "intruder@" in message, message
    assert len(gcs.proxy.calls) == before


def test_a_token_for_another_audience_is_refused_by_sts_with_a_502(s3, google):
    status, code, message = exchange_failure(s3, "gcs-fed-wrong-audience")
    assert (status, code) == (502, "BadGateway")
    assert "invalid_grant" in message and "could not be verified" in message, message


def test_an_unreachable_sts_is_a_503(s3, google):
    status, code, message = exchange_failure(s3, "gcs-fed-sts-down")
    assert (status, code) == (503, "ServiceUnavailable")
    assert "could not be reached" in message, message


def test_a_refused_client_never_causes_an_exchange(s3, google):
    before = len(google.sts_calls)
    with pytest.raises(ClientError) as e:
        s3["reader"].get_object(Bucket="gcs-fed", Key="x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert len(google.sts_calls) == before
