"""Assertions shared by the suites."""
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
