"""STS AssumeRoleWithWebIdentity through the gateway: boto3 and aws-cli exchange a token from a
local OIDC issuer (conftest.OidcIssuer) for temporary credentials, which then work for S3 within
the role's scopes; forged, mis-addressed and expired tokens, and tampered or swapped session
tokens, are refused with the codes AWS clients expect."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid
from types import SimpleNamespace

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (KEYS, SESSION_TOKEN_KEY, SESSION_TOKEN_KEY_PREVIOUS, STS_ROLE, Proc, boto, free_port,
                      gateway_config, server_binary, toml_dump, wait_http)

ROLE_ARN = f"arn:aws:iam::123456789012:role/{STS_ROLE}"


def sts_client(gateway):
    return boto3.client("sts", endpoint_url=gateway.endpoint, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def assume(gateway, token, **extra):
    return sts_client(gateway).assume_role_with_web_identity(
        RoleArn=ROLE_ARN, RoleSessionName="e2e", WebIdentityToken=token, **extra)


def session_s3(gateway, creds):
    return boto3.client(
        "s3", endpoint_url=gateway.endpoint, region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1, "mode": "standard"}))


def raw_sts(gateway, token, **params):
    """A form POST to `/`, as aws-cli and boto3 send it; returns (status, code or None, text)."""
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
            "RoleSessionName": "raw", "WebIdentityToken": token, **params}
    r = requests.post(gateway.endpoint + "/", data=form, timeout=30)
    m = re.search(r"<Code>([^<]+)</Code>", r.text)
    return r.status_code, m.group(1) if m else None, r.text


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def error_code(exc):
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def alice(gateway, oidc):
    return assume(gateway, oidc.token("alice"))["Credentials"]


def test_boto3_exchanges_a_token_and_the_session_works_within_its_scope(gateway, oidc, alice):
    resp = assume(gateway, oidc.token("alice"))
    assert resp["SubjectFromWebIdentityToken"] == "alice"
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{STS_ROLE}/e2e"
    assert resp["Credentials"]["AccessKeyId"].startswith("ASIA")
    s3 = session_s3(gateway, alice)
    key = f"users/alice/{uuid.uuid4().hex[:8]}.txt"
    s3.put_object(Bucket="private", Key=key, Body=b"hello from a session")
    assert s3.get_object(Bucket="private", Key=key)["Body"].read() == b"hello from a session"
    listed = s3.list_objects_v2(Bucket="private", Prefix="users/alice/")
    assert key in [o["Key"] for o in listed.get("Contents", [])]

    # Another user's prefix, another bucket, and an action the role lacks are refused.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="private", Key="users/bob/x.txt", Body=b"no")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="prefixed", Key="anything")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="private", Key=key)
    assert error_code(e) == "AccessDenied"


def test_an_es256_token_and_a_presigned_url_with_a_session_token_work(gateway, oidc):
    creds = assume(gateway, oidc.token("bob", kid="ec-1"))["Credentials"]
    s3 = session_s3(gateway, creds)
    key = "users/bob/presigned.txt"
    s3.put_object(Bucket="private", Key=key, Body=b"bob's")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "private", "Key": key},
                                    ExpiresIn=300)
    assert "X-Amz-Security-Token" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"bob's"


def test_duration_is_clamped_to_the_roles_bounds(gateway, oidc):
    creds = assume(gateway, oidc.token("alice"), DurationSeconds=900)["Credentials"]
    left = creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert 800 < left.total_seconds() <= 960
    creds = assume(gateway, oidc.token("alice"), DurationSeconds=43200)["Credentials"]
    left = creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert left.total_seconds() <= 3660, "the role's max_session_duration_secs is 3600"


def test_get_on_the_sts_path_works_too(gateway, oidc):
    r = requests.get(gateway.endpoint + "/.sts", params={
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": STS_ROLE,
        "RoleSessionName": "via-get", "WebIdentityToken": oidc.token("alice")}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    assert "<AccessKeyId>ASIA" in r.text


def test_aws_cli_assumes_the_role_and_uses_the_session(gateway, oidc, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n"
                   "  addressing_style = path\n")
    env = dict(os.environ, AWS_CONFIG_FILE=str(cfg), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(k, None)

    def aws(*args, check=True):
        p = subprocess.run(["aws", "--endpoint-url", gateway.endpoint, *args], env=env,
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args[:3])} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    out = aws("sts", "assume-role-with-web-identity", "--role-arn", ROLE_ARN,
              "--role-session-name", "cli", "--web-identity-token", oidc.token("alice"),
              "--output", "json")
    creds = json.loads(out.stdout)["Credentials"]
    env.update(AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
               AWS_SESSION_TOKEN=creds["SessionToken"])
    src = tmp_path / "f.txt"
    src.write_bytes(b"from aws-cli with a session")
    aws("s3", "cp", str(src), "s3://private/users/alice/cli.txt")
    got = aws("s3", "cp", "s3://private/users/alice/cli.txt", "-")
    assert got.stdout == "from aws-cli with a session"
    denied = aws("s3", "cp", str(src), "s3://private/users/bob/cli.txt", check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr

    bad = aws("sts", "assume-role-with-web-identity", "--role-arn", ROLE_ARN,
              "--role-session-name", "cli", "--web-identity-token",
              oidc.token("alice", aud="someone-else"), check=False)
    assert bad.returncode != 0 and "InvalidIdentityToken" in bad.stderr


def test_boto3_reports_sts_errors_by_code(gateway, oidc):
    with pytest.raises(ClientError) as e:
        assume(gateway, oidc.token("alice", exp=1_600_000_000, iat=1_599_999_000))
    assert error_code(e) == "ExpiredTokenException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_alg_none_is_refused(gateway, oidc):
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(oidc.claims("alice")).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        status, code, text = raw_sts(gateway, token)
        assert (status, code) == (400, "InvalidIdentityToken"), text


def test_hs256_signed_with_the_public_key_is_refused(gateway, oidc):
    from cryptography.hazmat.primitives import serialization
    _, key = oidc.keys["rsa-1"]
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64url(json.dumps(oidc.claims("alice")).encode())
    sig = b64url(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    status, code, text = raw_sts(gateway, f"{header}.{payload}.{sig}")
    assert (status, code) == (400, "InvalidIdentityToken"), text
    assert "HS256" in text


@pytest.mark.parametrize("case,overrides,expected", [
    ("wrong audience", {"aud": "another-app"}, (400, "InvalidIdentityToken")),
    ("untrusted issuer", {"iss": "https://evil.example"}, (400, "InvalidIdentityToken")),
    ("expired", {"exp": 1_600_000_000, "iat": 1_599_999_000}, (400, "ExpiredTokenException")),
    ("no exp", {"exp": None}, (400, "InvalidIdentityToken")),
    ("not yet valid", {"nbf": 4_000_000_000}, (400, "InvalidIdentityToken")),
    ("subject not allowed", {"sub": "mallory"}, (403, "AccessDenied")),
])
def test_tokens_failing_a_claim_check_are_refused(gateway, oidc, case, overrides, expected):
    overrides = dict(overrides)  # the parameters are shared by every runtime's run
    sub = overrides.pop("sub", "alice")
    status, code, text = raw_sts(gateway, oidc.token(sub, **overrides))
    assert (status, code) == expected, f"{case}: {text}"


def test_a_signature_by_another_key_and_an_unknown_kid_are_refused(gateway, oidc):
    # Signed by rsa-2 but claiming rsa-1: the signature does not verify.
    token = oidc.token("alice", kid="rsa-2", headers={"kid": "rsa-1"})
    status, code, text = raw_sts(gateway, token)
    assert (status, code) == (400, "InvalidIdentityToken"), text
    # rsa-2 is not published: the gateway may refetch the JWKS (rate limited), then refuses.
    status, code, text = raw_sts(gateway, oidc.token("alice", kid="rsa-2"))
    assert (status, code) == (400, "InvalidIdentityToken"), text
    assert "rsa-2" in text


def test_session_policies_and_unknown_roles_are_refused(gateway, oidc):
    status, code, _ = raw_sts(gateway, oidc.token("alice"), Policy='{"Version":"2012-10-17"}')
    assert (status, code) == (400, "MalformedPolicyDocument")
    status, code, _ = raw_sts(gateway, oidc.token("alice"),
                              RoleArn="arn:aws:iam::123456789012:role/nope")
    assert (status, code) == (403, "AccessDenied")


def tamper(token):
    """Flips one character in the sealed part of a session token (past its 17-byte header)."""
    i = len(token) // 2
    c = "A" if token[i] != "A" else "B"
    return token[:i] + c + token[i + 1:]


def test_a_tampered_session_token_is_refused(gateway, alice):
    creds = dict(alice, SessionToken=tamper(alice["SessionToken"]))
    with pytest.raises(ClientError) as e:
        session_s3(gateway, creds).get_object(Bucket="private", Key="users/alice/x")
    assert error_code(e) == "AccessDenied"
    creds = dict(alice, SessionToken="not-a-token")
    with pytest.raises(ClientError) as e:
        session_s3(gateway, creds).head_bucket(Bucket="private")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


def test_access_key_ids_swapped_between_sessions_are_refused(gateway, oidc, alice):
    bob = assume(gateway, oidc.token("bob"))["Credentials"]
    # Alice's token under Bob's access key (and Bob's secret): bound to Alice's key id.
    swapped = dict(bob, SessionToken=alice["SessionToken"])
    with pytest.raises(ClientError) as e:
        session_s3(gateway, swapped).list_objects_v2(Bucket="private", Prefix="users/alice/")
    assert error_code(e) == "AccessDenied"
    # Alice's key id and token with Bob's secret: the signature does not match.
    wrong_secret = dict(alice, SecretAccessKey=bob["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        session_s3(gateway, wrong_secret).list_objects_v2(Bucket="private", Prefix="users/alice/")
    assert error_code(e) == "SignatureDoesNotMatch"


def test_a_session_token_with_a_long_lived_key_is_refused(gateway, alice):
    s3 = boto(gateway.endpoint, "AKIAADMIN0000000", "admin-secret-0000000000000000000000",
              )
    s3.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__(
        "X-Amz-Security-Token", alice["SessionToken"]))
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="private")
    assert error_code(e) == "AccessDenied"


def test_a_key_rotated_in_at_the_issuer_is_picked_up_by_a_rate_limited_refetch(gateway, oidc):
    from cryptography.hazmat.primitives.asymmetric import ec
    kid = f"ec-{uuid.uuid4().hex[:8]}"  # a new kid per runtime: issuers never reuse one
    oidc.unpublished[kid] = ("ES256", ec.generate_private_key(ec.SECP256R1()))
    # Make sure the gateway holds a JWKS, then rotate a new key in at the issuer.
    assume(gateway, oidc.token("alice"))
    oidc.publish(kid)
    token = oidc.token("alice", kid=kid)
    # Within 30 s of the last fetch the unknown kid does not trigger a refetch.
    if time.time() - oidc.last_jwks_fetch < 25:
        fetches = oidc.jwks_fetches
        status, code, text = raw_sts(gateway, token)
        assert (status, code) == (400, "InvalidIdentityToken"), text
        assert oidc.jwks_fetches == fetches, "refetched within the rate limit"
    time.sleep(max(0.0, oidc.last_jwks_fetch + 31 - time.time()))
    fetches = oidc.jwks_fetches
    creds = assume(gateway, token)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert oidc.jwks_fetches == fetches + 1


def native_server(tmp_path, name, config_path, env, *extra):
    port = free_port()
    proc = Proc([server_binary(), "--config", str(config_path), "--listen", f"127.0.0.1:{port}",
                 *extra], tmp_path / f"{name}.log", env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/", proc, timeout=30)
    return proc, SimpleNamespace(endpoint=base)


def test_native_roles_from_sts_config_and_sts_off_without_a_key(gateway, oidc, seaweed, tmp_path):
    if gateway.runtime != "native":
        pytest.skip("starts its own native server processes")
    cfg = gateway_config(seaweed, oidc.url)
    roles = {"roles": cfg.pop("roles"), "credentials": []}
    main, sts_file = tmp_path / "buckets.toml", tmp_path / "sts.json"
    main.write_text(toml_dump(cfg))
    sts_file.write_text(json.dumps(roles))
    env = dict(os.environ, SESSION_TOKEN_KEY=SESSION_TOKEN_KEY)
    proc, gw = native_server(tmp_path, "sts-config", main, env, "--sts-config", str(sts_file))
    try:
        creds = assume(gw, oidc.token("alice"))["Credentials"]
        s3 = session_s3(gw, creds)
        s3.put_object(Bucket="private", Key="users/alice/from-sts-config", Body=b"ok")
    finally:
        proc.stop()

    env.pop("SESSION_TOKEN_KEY")
    proc, gw = native_server(tmp_path, "no-key", main, env, "--sts-config", str(sts_file))
    try:
        status, code, text = raw_sts(gw, oidc.token("alice"))
        assert (status, code) == (503, "ServiceUnavailable"), text
        assert "SESSION_TOKEN_KEY" in text
        with pytest.raises(ClientError) as e:
            session_s3(gw, creds).get_object(Bucket="private", Key="users/alice/from-sts-config")
        assert error_code(e) == "InvalidToken"
    finally:
        proc.stop()

    env["SESSION_TOKEN_KEY"] = "dG9vIHNob3J0"
    bad = subprocess.run([server_binary(), "--config", str(main), "--listen", "127.0.0.1:0"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "SESSION_TOKEN_KEY" in bad.stderr


def seal(raw_key, access_key_id, expires_at, *, role=STS_ROLE, sub="alice",
         scopes=(("private", ["users/alice/"], 0b11111),)):
    """A session token as src/sts/token.rs seals it (format version 1), and its derived secret:
    version | key id | nonce | AES-256-GCM(payload), the access key id bound as associated data."""
    import struct
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    def hmac256(key, *parts):
        return hmac.new(key, b"".join(parts), hashlib.sha256).digest()

    def s(text):
        b = text.encode()
        return struct.pack(">H", len(b)) + b

    now = int(time.time())
    payload = struct.pack(">qq", now - 7200, expires_at) + s(role) + s(sub) + s("https://idp") + s("e2e")
    payload += struct.pack(">H", len(scopes))
    for bucket, prefixes, bits in scopes:
        payload += s(bucket) + struct.pack(">H", len(prefixes)) + b"".join(s(p) for p in prefixes)
        payload += struct.pack(">H", bits)
    header = b"\x01" + hashlib.sha256(raw_key).digest()[:4] + os.urandom(12)
    enc = hmac256(raw_key, b"multistore session token aes-256-gcm v1")
    sealed = AESGCM(enc).encrypt(header[5:], payload, header[:5] + access_key_id.encode())
    secret_key = hmac256(raw_key, b"multistore session secret access key v1")
    secret = b64url(hmac256(secret_key, b"v1", access_key_id.encode()))
    return b64url(header + sealed), secret


def crafted_session(gateway, raw_key, expires_at):
    akid = "ASIA" + uuid.uuid4().hex[:16].upper()
    token, secret = seal(raw_key, akid, expires_at)
    return session_s3(gateway, {"AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token})


def test_an_expired_session_token_is_expired_token_and_a_foreign_key_is_refused(gateway):
    raw = base64.b64decode(SESSION_TOKEN_KEY)
    # The crafted format is right: the same token, unexpired, works.
    live = crafted_session(gateway, raw, int(time.time()) + 600)
    live.put_object(Bucket="private", Key="users/alice/crafted", Body=b"ok")
    expired = crafted_session(gateway, raw, int(time.time()) - 60)
    with pytest.raises(ClientError) as e:
        expired.get_object(Bucket="private", Key="users/alice/crafted")
    assert error_code(e) == "ExpiredToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    foreign = crafted_session(gateway, os.urandom(32), int(time.time()) + 600)
    with pytest.raises(ClientError) as e:
        foreign.get_object(Bucket="private", Key="users/alice/crafted")
    assert error_code(e) == "InvalidToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


def test_tokens_sealed_with_the_previous_key_still_open_and_new_ones_use_the_current_key(gateway, oidc):
    previous = base64.b64decode(SESSION_TOKEN_KEY_PREVIOUS)
    # A session sealed before the rotation keeps working until it expires...
    old = crafted_session(gateway, previous, int(time.time()) + 600)
    old.put_object(Bucket="private", Key="users/alice/rotated", Body=b"ok")
    assert old.get_object(Bucket="private", Key="users/alice/rotated")["Body"].read() == b"ok"
    # ...while new sessions are sealed with the current key: the key id (bytes 1-4 of the
    # token) is the current key's.
    creds = assume(gateway, oidc.token("alice"))["Credentials"]
    header = base64.urlsafe_b64decode(creds["SessionToken"] + "=" * (-len(creds["SessionToken"]) % 4))[:5]
    current = base64.b64decode(SESSION_TOKEN_KEY)
    assert header[0] == 2  # format 2 (64-bit action mask); `old` above is a format-1 token
    assert header[1:5] == hashlib.sha256(current).digest()[:4]
    assert header[1:5] != hashlib.sha256(previous).digest()[:4]


# --- GetCallerIdentity, and the SDKs' own web-identity providers ---

# The account GetCallerIdentity reports (a session token does not record the RoleArn's), so the
# web-identity flows name it in their ARN too; the IAM path (`ci/`) is ignored by the gateway.
WEB_IDENTITY_ROLE_ARN = f"arn:aws:iam::000000000000:role/ci/{STS_ROLE}"


def web_identity_env(gateway, token_file, **extra):
    """An environment with no keys and no config: only a web identity token file, the role and
    the gateway as STS (and S3) endpoint, as GitHub Actions or an EKS pod has it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") or k in ("AWS_CA_BUNDLE",)}
    env.update(AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=WEB_IDENTITY_ROLE_ARN,
               AWS_ENDPOINT_URL_STS=gateway.endpoint, AWS_ENDPOINT_URL_S3=gateway.endpoint,
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(token_file.parent / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(token_file.parent / "no-credentials"), **extra)
    return env


def test_boto3s_own_web_identity_provider_gets_a_session_that_works(gateway, oidc, tmp_path,
                                                                    monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text(oidc.token("alice"))
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in web_identity_env(gateway, token_file, AWS_ROLE_SESSION_NAME="gha-run-1").items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    session = boto3.Session()
    creds = session.get_credentials()
    assert creds.method == "assume-role-with-web-identity"
    retries = Config(retries={"max_attempts": 1, "mode": "standard"})
    who = session.client("sts", config=retries).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{STS_ROLE}/gha-run-1"
    assert who["Account"] == "000000000000"
    assert who["UserId"].startswith("ASIA") and who["UserId"].endswith(":gha-run-1")
    assert who["UserId"].split(":")[0] == creds.get_frozen_credentials().access_key
    s3 = session.client("s3", config=Config(s3={"addressing_style": "path"},
                                            retries={"max_attempts": 1, "mode": "standard"}))
    key = f"users/alice/{uuid.uuid4().hex[:8]}-provider.txt"
    s3.put_object(Bucket="private", Key=key, Body=b"via boto3's provider chain")
    assert s3.get_object(Bucket="private", Key=key)["Body"].read() == b"via boto3's provider chain"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="private", Key="users/bob/x")
    assert error_code(e) == "AccessDenied"


def test_boto3_refuses_a_bare_role_id_as_role_arn_before_calling(gateway, oidc, tmp_path, monkeypatch):
    """botocore checks RoleArn's length (at least 20 characters) itself: a bare role id works
    with a hand-made call but not with the SDK, so the flows above name the role by an ARN."""
    from botocore.exceptions import ParamValidationError
    with pytest.raises(ParamValidationError):
        sts_client(gateway).assume_role_with_web_identity(
            RoleArn=STS_ROLE, RoleSessionName="e2e", WebIdentityToken=oidc.token("alice"))


def test_aws_clis_own_web_identity_provider_gets_a_session_that_works(gateway, oidc, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(oidc.token("alice"))
    env = web_identity_env(gateway, token_file)

    def aws(*args, check=True):
        p = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args[:3])} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    who = json.loads(aws("sts", "get-caller-identity", "--output", "json").stdout)
    # No AWS_ROLE_SESSION_NAME: botocore names the session botocore-session-<time>.
    assert re.fullmatch(rf"arn:aws:sts::000000000000:assumed-role/{STS_ROLE}/botocore-session-\d+",
                        who["Arn"]), who
    src = tmp_path / "f.txt"
    src.write_bytes(b"from the aws cli's provider chain")
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    (tmp_path / "config").write_text("[default]\ns3 =\n  addressing_style = path\n")
    aws("s3", "cp", str(src), "s3://private/users/alice/cli-provider.txt")
    got = aws("s3", "cp", "s3://private/users/alice/cli-provider.txt", "-")
    assert got.stdout == "from the aws cli's provider chain"


def test_get_caller_identity_names_a_long_lived_key(gateway):
    key, secret = KEYS["reader"]
    sts = boto3.client("sts", endpoint_url=gateway.endpoint, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret,
                       config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    who = sts.get_caller_identity()
    assert who["Arn"] == "arn:aws:iam::000000000000:user/reader"
    assert who["UserId"] == key and who["Account"] == "000000000000"
    # Presigned, as Vault's and Kubernetes' AWS authenticators use it.
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert "<Arn>arn:aws:iam::000000000000:user/reader</Arn>" in r.text


def caller_identity_error(gateway, key, secret, token=None):
    sts = boto3.client("sts", endpoint_url=gateway.endpoint, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                       config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], error_code(e)


def test_get_caller_identity_refuses_unsigned_and_bad_credentials_in_sts_words(gateway, alice):
    r = requests.post(gateway.endpoint + "/", data={"Action": "GetCallerIdentity",
                                                    "Version": "2011-06-15"}, timeout=30)
    assert r.status_code == 403, r.text
    assert re.search(r"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                     r"<Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>", r.text), r.text
    key, secret = KEYS["reader"]
    assert caller_identity_error(gateway, key, "not-the-secret") == (403, "SignatureDoesNotMatch")
    assert caller_identity_error(gateway, "AKIANOBODY000000", secret) == (403, "InvalidClientTokenId")
    assert caller_identity_error(gateway, *KEYS["disabled"]) == (403, "InvalidClientTokenId")
    assert caller_identity_error(gateway, *KEYS["expired"]) == (403, "ExpiredToken")
    assert caller_identity_error(gateway, alice["AccessKeyId"], alice["SecretAccessKey"],
                                 tamper(alice["SessionToken"])) == (403, "InvalidClientTokenId")
    assert caller_identity_error(gateway, alice["AccessKeyId"], "wrong",
                                 alice["SessionToken"]) == (403, "SignatureDoesNotMatch")
    raw = base64.b64decode(SESSION_TOKEN_KEY)
    akid = "ASIA" + uuid.uuid4().hex[:16].upper()
    token, secret = seal(raw, akid, int(time.time()) - 60)
    assert caller_identity_error(gateway, akid, secret, token) == (403, "ExpiredToken")


def test_a_browser_may_call_sts_from_another_origin(gateway, oidc):
    origin = "https://notebook.example"
    for path, method in (("/", "POST"), ("/.sts", "POST"), ("/.sts", "GET")):
        r = requests.options(gateway.endpoint + path, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, amz-sdk-invocation-id"}, timeout=30)
        assert r.status_code == 200, (path, method, r.text)
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
        assert method in r.headers["access-control-allow-methods"]
        assert "amz-sdk-invocation-id" in r.headers["access-control-allow-headers"]
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": ROLE_ARN,
            "RoleSessionName": "browser", "WebIdentityToken": oidc.token("alice")}
    r = requests.post(gateway.endpoint + "/", data=form, headers={"Origin": origin}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-amz-request-id" in r.headers["access-control-expose-headers"].lower()
    assert "<SessionToken>" in r.text
    r = requests.post(gateway.endpoint + "/", data=dict(form, WebIdentityToken="bad"),
                      headers={"Origin": origin}, timeout=30)
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "*"
    # The root is STS only for the STS call: a ListBuckets preflight is not answered.
    r = requests.options(gateway.endpoint + "/", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET"}, timeout=30)
    assert r.status_code == 403
