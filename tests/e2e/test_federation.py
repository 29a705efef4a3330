"""Backend federation and the gateway's own OIDC provider, against both runtimes.

The `fed*` buckets (conftest.gateway_config) have no backend keys: the gateway mints an RS256
token with OIDC_PROVIDER_KEY, trades it at moto's STS (AssumeRoleWithWebIdentity, through a
recording proxy, conftest.StsRecorder) for temporary credentials, and presigns requests to moto's
S3 with them. moto checks neither the token nor the signatures, so the tests check the token
themselves against the JWKS the gateway publishes."""
import base64
import hashlib
import json
import os
import subprocess
import time

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (FED_BACKEND_BUCKET, FED_ROLE_ARN, KEYS, OIDC_PROVIDER_ISSUER,
                      OIDC_PROVIDER_KEY, STS_REFUSAL, Proc, boto, free_port, gateway_config,
                      server_binary, toml_dump, wait_http)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def client_error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def test_put_get_list_and_delete_through_a_federated_bucket(s3, federation):
    admin = s3["admin"]
    admin.put_object(Bucket="fed", Key="dir/hello.txt", Body=b"federated", ContentType="text/plain")
    got = admin.get_object(Bucket="fed", Key="dir/hello.txt")
    assert got["Body"].read() == b"federated"
    assert got["ContentType"] == "text/plain"
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket="fed", Prefix="dir/")["Contents"]]
    assert keys == ["dir/hello.txt"]
    # It really landed in moto's bucket, under the same key.
    direct = federation.backend.get_object(Bucket=FED_BACKEND_BUCKET, Key="dir/hello.txt")
    assert direct["Body"].read() == b"federated"
    admin.delete_object(Bucket="fed", Key="dir/hello.txt")
    assert "Contents" not in admin.list_objects_v2(Bucket="fed", Prefix="dir/")
    # A body the gateway reads first (DeleteObjects), then the credentials.
    for k in ("multi/a", "multi/b"):
        admin.put_object(Bucket="fed", Key=k, Body=b"x")
    deleted = admin.delete_objects(Bucket="fed", Delete={"Objects": [{"Key": "multi/a"},
                                                                     {"Key": "multi/b"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["multi/a", "multi/b"]
    assert "Contents" not in admin.list_objects_v2(Bucket="fed", Prefix="multi/")
    # What the gateway asked STS for.
    form = federation.sts.calls[-1]
    assert form["Action"] == "AssumeRoleWithWebIdentity"
    assert form["RoleArn"] == FED_ROLE_ARN
    assert form["RoleSessionName"] == "multistore"
    assert form["DurationSeconds"] == "3600"


def test_a_multipart_upload_through_a_federated_bucket(s3, tmp_path):
    from boto3.s3.transfer import TransferConfig
    data = os.urandom(11 << 20)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3["admin"].upload_file(str(src), "fed", "big.bin",
                            Config=TransferConfig(multipart_threshold=5 << 20,
                                                  multipart_chunksize=5 << 20))
    got = s3["admin"].get_object(Bucket="fed", Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_backend_credentials_are_reused_across_requests(s3, federation):
    admin = s3["admin"]
    admin.put_object(Bucket="fed", Key="reuse", Body=b"x")
    before = len(federation.sts.calls)
    for i in range(5):
        admin.put_object(Bucket="fed", Key=f"reuse-{i}", Body=b"x")
        assert admin.get_object(Bucket="fed", Key=f"reuse-{i}")["Body"].read() == b"x"
    assert len(federation.sts.calls) == before


def test_concurrent_first_requests_share_one_exchange(gateway, federation):
    from concurrent.futures import ThreadPoolExecutor
    exchanges = lambda: sum(1 for c in federation.sts.calls  # noqa: E731
                            if c.get("RoleSessionName") == "concurrent")
    before = exchanges()
    clients = [boto(gateway.endpoint, *KEYS["admin"]) for _ in range(8)]
    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(
            lambda c: c.list_objects_v2(Bucket="fed-concurrent")["ResponseMetadata"]
            ["HTTPStatusCode"], clients))
    assert results == [200] * len(clients)
    assert exchanges() == before + 1


def test_a_client_refused_by_the_gateway_never_causes_an_sts_call(s3, federation):
    before = len(federation.sts.calls), len(federation.refuser.calls)
    status, code, _ = client_error(s3["reader"].get_object, Bucket="fed", Key="x")
    assert (status, code) == (403, "AccessDenied")
    status, code, _ = client_error(s3["anon"].list_objects_v2, Bucket="fed-sts-refuses")
    assert status == 403
    assert (len(federation.sts.calls), len(federation.refuser.calls)) == before


def test_discovery_and_jwks_are_served_and_the_token_sent_to_sts_verifies(gateway, s3,
                                                                           federation):
    r = requests.get(gateway.endpoint + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert "max-age" in r.headers["cache-control"]
    doc = r.json()
    assert doc["issuer"] == OIDC_PROVIDER_ISSUER
    assert doc["jwks_uri"] == OIDC_PROVIDER_ISSUER + "/.well-known/jwks.json"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "public" in doc["subject_types_supported"]

    r = requests.get(gateway.endpoint + "/.well-known/jwks.json", timeout=10)
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    keys = r.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    # kid = the RFC 7638 thumbprint.
    canonical = json.dumps({"e": key["e"], "kty": "RSA", "n": key["n"]}, separators=(",", ":"))
    assert key["kid"] == b64url(hashlib.sha256(canonical.encode()).digest())

    # A request to the federated bucket, then the token STS received, checked with PyJWT.
    s3["admin"].put_object(Bucket="fed", Key="token-check", Body=b"x")
    token = [t for t in federation.sts.tokens()
             if jwt.decode(t, options={"verify_signature": False})["sub"] == "fed"][-1]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": key["kid"]}
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="sts.amazonaws.com",
                        issuer=OIDC_PROVIDER_ISSUER,
                        options={"require": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]})
    assert claims["sub"] == "fed"
    assert claims["nbf"] == claims["iat"] and 0 < claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) == 32
    # The same token with a changed claim no longer verifies.
    head, body, sig = token.split(".")
    forged = dict(claims, sub="another-bucket")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{b64url(json.dumps(forged).encode())}.{sig}", public,
                   algorithms=["RS256"], audience="sts.amazonaws.com")


def test_sts_down_answers_503_with_a_clear_message(gateway):
    # Its own client: an upload refused before its body was read leaves nothing in the shared
    # clients' connection pools.
    admin = boto(gateway.endpoint, *KEYS["admin"])
    status, code, message = client_error(admin.list_objects_v2, Bucket="fed-sts-down")
    assert (status, code) == (503, "ServiceUnavailable"), message
    assert "could not be reached" in message and FED_ROLE_ARN in message, message
    status, code, _ = client_error(admin.put_object, Bucket="fed-sts-down", Key="k",
                                   Body=b"never stored")
    assert status == 503


def test_sts_refusing_answers_502_with_its_reason_and_is_retried_after_a_backoff(s3, federation):
    before = len(federation.refuser.calls)
    status, code, message = client_error(s3["admin"].list_objects_v2, Bucket="fed-sts-refuses")
    assert (status, code) == (502, "BadGateway"), message
    assert "AccessDenied" in message and STS_REFUSAL in message, message
    assert len(federation.refuser.calls) > before
    # The refusal is not remembered for ever: after the backoff STS is asked again.
    seen = len(federation.refuser.calls)
    time.sleep(6)
    status, _, _ = client_error(s3["admin"].list_objects_v2, Bucket="fed-sts-refuses")
    assert status == 502
    assert len(federation.refuser.calls) > seen


def test_native_without_a_provider_key_federated_buckets_answer_503_and_a_bad_key_refuses_to_start(
        gateway, seaweed, oidc, federation, tmp_path):
    if gateway.runtime != "native":
        pytest.skip("starts its own native server processes")
    config = tmp_path / "fed.toml"
    config.write_text(toml_dump(gateway_config(seaweed, oidc.url, federation)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_PROVIDER_")}
    port = free_port()
    proc = Proc([server_binary(), "--config", str(config), "--listen", f"127.0.0.1:{port}"],
                tmp_path / "no-provider.log", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/", proc, timeout=30)
        r = requests.get(base + "/fed?list-type=2", timeout=10)
        assert r.status_code == 403  # anonymous: refused before anything else
        assert requests.get(base + "/.well-known/jwks.json", timeout=10).status_code != 200
        admin = boto(base, *KEYS["admin"])
        status, code, message = client_error(admin.list_objects_v2, Bucket="fed")
        assert (status, code) == (503, "ServiceUnavailable")
        assert "OIDC_PROVIDER_KEY" in message
        admin.put_object(Bucket="public", Key="still-works", Body=b"ok")
    finally:
        proc.stop()

    for extra, word in (({"OIDC_PROVIDER_KEY": "not a pem",
                          "OIDC_PROVIDER_ISSUER": OIDC_PROVIDER_ISSUER}, "OIDC_PROVIDER_KEY"),
                        ({"OIDC_PROVIDER_KEY": OIDC_PROVIDER_KEY}, "OIDC_PROVIDER_ISSUER"),
                        ({"OIDC_PROVIDER_KEY": OIDC_PROVIDER_KEY,
                          "OIDC_PROVIDER_ISSUER": "http://gw.example.com"}, "OIDC_PROVIDER_ISSUER")):
        bad = subprocess.run([server_binary(), "--config", str(config), "--listen", "127.0.0.1:0"],
                             env={**env, **extra}, capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and word in bad.stderr, bad.stderr
        assert OIDC_PROVIDER_KEY.splitlines()[1] not in bad.stderr


def test_copies_within_a_federated_bucket_work_and_across_backends_are_refused_clearly(s3):
    admin = s3["admin"]
    admin.put_object(Bucket="fed", Key="copy-src", Body=b"copy me")
    admin.copy_object(Bucket="fed", Key="copy-dst", CopySource={"Bucket": "fed", "Key": "copy-src"})
    assert admin.get_object(Bucket="fed", Key="copy-dst")["Body"].read() == b"copy me"
    status, code, message = client_error(admin.copy_object, Bucket="public", Key="from-fed",
                                         CopySource={"Bucket": "fed", "Key": "copy-src"})
    assert (status, code) == (501, "NotImplemented") and "oidc" in message, message


def test_a_browser_form_upload_to_a_federated_bucket_is_refused_clearly(s3):
    post = s3["admin"].generate_presigned_post(Bucket="fed", Key="form.txt", ExpiresIn=600)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("form.txt", b"hi")},
                      timeout=30)
    assert r.status_code == 501 and "oidc" in r.text, r.text
