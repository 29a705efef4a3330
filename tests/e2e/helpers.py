"""Assertions shared by the suites."""
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

BACKEND_LEAKS = ("seaweed",)


def assert_request_id(headers):
    rid = headers.get("x-amz-request-id")
    assert rid, f"no x-amz-request-id in {dict(headers)}"
    return rid


def assert_no_backend_headers(headers):
    for k, v in headers.items():
        assert not k.lower().startswith("seaweed"), f"backend header leaked: {k}"
        if k.lower() == "server":
            assert "seaweed" not in v.lower(), f"backend Server header leaked: {v}"
    assert "x-amz-id-2" not in {k.lower() for k in headers}


def assert_s3_error(resp, status, code, head=False):
    """A raw `requests` response is an S3 error document with this status and code."""
    assert resp.status_code == status, f"{resp.status_code} != {status}: {resp.text[:500]}"
    rid = assert_request_id(resp.headers)
    if head:
        return None
    assert "xml" in resp.headers.get("content-type", ""), resp.headers
    root = ET.fromstring(resp.content)
    assert root.tag == "Error", resp.text
    assert root.findtext("Code") == code, resp.text
    assert root.findtext("RequestId") == rid
    assert root.findtext("Message")
    return root


def client_error(fn, *args, **kwargs):
    with pytest.raises(ClientError) as exc:
        fn(*args, **kwargs)
    return exc.value.response


def assert_client_error(fn, status, code, *args, **kwargs):
    resp = client_error(fn, *args, **kwargs)
    meta = resp["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status, resp
    assert resp["Error"]["Code"] == code, resp
    assert meta["HTTPHeaders"].get("x-amz-request-id"), resp
    return resp


def aws_cli(endpoint, keys, workdir, s3_config=""):
    """Runs aws-cli (v1) against `endpoint`: path style, SigV4, `keys` by identity name
    (identity=None: --no-sign-request); `s3_config`: more lines of the `s3 =` section."""
    cfg = workdir / "config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n"
                   "  addressing_style = path\n" + s3_config)

    def run(*args, identity="admin", check=True):
        env = dict(os.environ, AWS_CONFIG_FILE=str(cfg),
                   AWS_SHARED_CREDENTIALS_FILE=str(workdir / "none"))
        env.pop("AWS_PROFILE", None)
        extra = []
        if identity is None:
            extra = ["--no-sign-request"]
        else:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = keys[identity]
        p = subprocess.run(["aws", "--endpoint-url", endpoint, *args, *extra], env=env,
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run
