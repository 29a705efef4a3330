"""Azure backend federation (`auth_type = "oidc"` on an `az` bucket), against both runtimes.

The `azfed*` buckets hold no Azure secret: the gateway mints an RS256 token, posts it as a client
assertion to the local Entra token endpoint (conftest.EntraTokenEndpoint, which verifies it with
the gateway's key), takes the access token to Azurite (`--oauth basic`, https behind
conftest.HttpsForwarder) for a user delegation key, and signs every request as a user delegation
SAS, which Azurite verifies."""
import urllib.parse
import uuid

import requests

from conftest import AZ_OID, AZ_TENANT
from helpers import assert_client_error


def sas_of(forwarder, method, blob):
    """The query of the last request the gateway sent for `blob`, parsed."""
    for r in reversed(forwarder.requests):
        path, _, query = r["path"].partition("?")
        if r["method"] == method and urllib.parse.unquote(path).endswith("/fedc/" + blob):
            return r["path"], dict(urllib.parse.parse_qsl(query))
    raise AssertionError(f"no {method} of {blob} in {forwarder.requests[-5:]}")


def test_put_get_list_delete_through_a_federated_azure_bucket(s3, azure_oauth):
    key = f"fed-{uuid.uuid4().hex[:8]}/hello world.txt"
    c = s3["admin"]
    c.put_object(Bucket="azfed", Key=key, Body=b"federated azure", ContentType="text/plain",
                 Metadata={"origin": "gateway"})
    blob = azure_oauth.container.get_blob_client(key)
    assert blob.download_blob().readall() == b"federated azure"
    assert blob.get_blob_properties().metadata == {"origin": "gateway"}
    got = c.get_object(Bucket="azfed", Key=key)
    assert got["Body"].read() == b"federated azure" and got["Metadata"] == {"origin": "gateway"}
    listed = c.list_objects_v2(Bucket="azfed", Prefix=key.split("/")[0] + "/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    # Every request was a user delegation SAS carrying the key Azurite issued for Entra's token.
    _, sas = sas_of(azure_oauth.forwarder, "GET", key)
    assert sas["skoid"] == AZ_OID and sas["sktid"] == AZ_TENANT and sas["sks"] == "b"
    assert sas["sp"] == "r" and sas["sr"] == "b" and "sig" in sas
    c.delete_object(Bucket="azfed", Key=key)
    assert not blob.exists()
    # The key came from Get User Delegation Key, asked with Entra's bearer token.
    udk = [r for r in azure_oauth.forwarder.requests if "comp=userdelegationkey" in r["path"]]
    assert udk and udk[-1]["method"] == "POST"
    assert udk[-1]["headers"].get("authorization", "").startswith("Bearer ")
    # And Entra got the gateway's assertion for the bucket, verified.
    call = [x for x in azure_oauth.entra.calls if x["verified_sub"] == "azfed"][-1]
    assert call["status"] == 200
    assert call["form"]["scope"] == "https://storage.azure.com/.default"


def test_azurite_really_checks_user_delegation_signatures(s3, azure_oauth):
    key = f"tamper-{uuid.uuid4().hex[:8]}"
    s3["admin"].put_object(Bucket="azfed", Key=key, Body=b"signed")
    s3["admin"].get_object(Bucket="azfed", Key=key)["Body"].read()
    path, sas = sas_of(azure_oauth.forwarder, "GET", key)
    direct = f"https://127.0.0.1:{azure_oauth.https_port}"
    ok = requests.get(direct + path, verify=str(azure_oauth.cert), timeout=30)
    assert ok.status_code == 200 and ok.content == b"signed"
    # The same URL with one signed term changed, or another signature, is refused.
    for field, value in [("sp", "rw"), ("skoid", "00000000-0000-4000-8000-000000000000"),
                         ("sig", "AAAA" + sas["sig"][4:])]:
        forged = dict(sas, **{field: value})
        url = direct + path.partition("?")[0] + "?" + urllib.parse.urlencode(forged)
        r = requests.get(url, verify=str(azure_oauth.cert), timeout=30)
        assert r.status_code == 403, (field, r.status_code, r.text[:300])


def test_credentials_are_reused_and_a_prefixed_bucket_with_its_own_subject_works(s3, azure_oauth):
    c = s3["admin"]
    c.put_object(Bucket="azfed", Key="reuse", Body=b"x")
    before = len(azure_oauth.entra.calls)
    for _ in range(3):
        c.get_object(Bucket="azfed", Key="reuse")["Body"].read()
    assert len(azure_oauth.entra.calls) == before
    c.put_object(Bucket="azfed-prefixed", Key="p.txt", Body=b"p")
    assert azure_oauth.container.get_blob_client("pre/p.txt").download_blob().readall() == b"p"
    assert [o["Key"] for o in c.list_objects_v2(Bucket="azfed-prefixed")["Contents"]] == ["p.txt"]
    assert any(x["verified_sub"] == "azfed-other-subject" for x in azure_oauth.entra.calls)


def test_entra_refusing_is_a_bad_gateway_with_its_message_and_unreachable_is_unavailable(s3):
    c = s3["admin"]
    resp = assert_client_error(c.get_object, 502, "BadGateway", Bucket="azfed-unknown-client",
                               Key="k")
    assert "unauthorized_client" in resp["Error"]["Message"]
    assert "AADSTS700016" in resp["Error"]["Message"]
    resp = assert_client_error(c.get_object, 502, "BadGateway",
                               Bucket="azfed-untrusted-subject", Key="k")
    assert "AADSTS700213" in resp["Error"]["Message"]
    resp = assert_client_error(c.list_objects_v2, 503, "ServiceUnavailable",
                               Bucket="azfed-entra-down")
    assert "could not be reached" in resp["Error"]["Message"]


def test_a_multipart_upload_through_a_federated_azure_bucket(s3, azure_oauth, tmp_path):
    import hashlib
    import os

    from boto3.s3.transfer import TransferConfig
    data = os.urandom(11 << 20)
    src = tmp_path / "fed-mp.bin"
    src.write_bytes(data)
    s3["admin"].upload_file(str(src), "azfed", "fed-mp.bin",
                            Config=TransferConfig(multipart_threshold=5 << 20,
                                                  multipart_chunksize=5 << 20))
    got = azure_oauth.container.get_blob_client("fed-mp.bin").download_blob().readall()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
