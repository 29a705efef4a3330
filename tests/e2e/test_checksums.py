"""x-amz-checksum-* as headers and as aws-chunked trailers: verified by the gateway, so a
mismatching upload never becomes an object, on an S3 backend and on R2."""
import base64
import hashlib
import uuid
import zlib

import pytest
import requests

from conftest import KEYS
from helpers import assert_client_error, assert_s3_error
from sigv4 import sign, sign_chunked


def uid():
    return uuid.uuid4().hex[:10]


@pytest.fixture(params=["private", "r2"])
def bucket(request, gateway):
    if request.param == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return request.param


def crc32(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def b64(digest):
    return base64.b64encode(digest).decode()


CHECKSUMS = {
    "crc32": crc32,
    "sha1": lambda d: b64(hashlib.sha1(d).digest()),
    "sha256": lambda d: b64(hashlib.sha256(d).digest()),
}


@pytest.mark.parametrize("alg", sorted(CHECKSUMS))
def test_a_matching_checksum_header_stores_the_object(gateway, s3, bucket, alg):
    key = f"ck/{uid()}"
    data = b"checksummed " * 3000
    url, headers = sign("PUT", f"{gateway.endpoint}/{bucket}/{key}", *KEYS["admin"], body=data,
                        headers={f"x-amz-checksum-{alg}": CHECKSUMS[alg](data)})
    r = requests.put(url, data=data, headers=headers)
    assert r.status_code == 200, r.text
    assert s3["admin"].get_object(Bucket=bucket, Key=key)["Body"].read() == data


@pytest.mark.parametrize("payload", ["signed", "unsigned"])
def test_a_wrong_checksum_header_is_bad_digest_and_leaves_no_object(gateway, s3, bucket, payload):
    key = f"ck/{uid()}"
    data = b"the real body " * 5000
    extra = {"x-amz-checksum-crc32": crc32(b"another body")}
    if payload == "signed":
        url, headers = sign("PUT", f"{gateway.endpoint}/{bucket}/{key}", *KEYS["admin"], body=data,
                            headers=extra)
    else:
        url, headers = sign("PUT", f"{gateway.endpoint}/{bucket}/{key}", *KEYS["admin"],
                            payload_hash="UNSIGNED-PAYLOAD", headers=extra)
    r = requests.put(url, data=data, headers=headers)
    assert_s3_error(r, 400, "BadDigest")
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket=bucket, Key=key)


def test_two_checksum_headers_are_refused(gateway, bucket):
    data = b"x" * 10
    url, headers = sign("PUT", f"{gateway.endpoint}/{bucket}/ck/{uid()}", *KEYS["admin"], body=data,
                        headers={"x-amz-checksum-crc32": crc32(data),
                                 "x-amz-checksum-sha1": CHECKSUMS["sha1"](data)})
    assert_s3_error(requests.put(url, data=data, headers=headers), 400, "InvalidRequest")


@pytest.mark.parametrize("good", [True, False])
def test_a_signed_chunked_trailer_checksum_is_verified(gateway, s3, bucket, good):
    key = f"ck/{uid()}"
    data = b"trailer body " * 20000
    value = crc32(data) if good else crc32(b"nope")
    url, headers, body = sign_chunked(f"{gateway.endpoint}/{bucket}/{key}", *KEYS["admin"], data,
                                      trailer=("x-amz-checksum-crc32", value))
    r = requests.put(url, data=body, headers=headers)
    if good:
        assert r.status_code == 200, r.text
        assert s3["admin"].get_object(Bucket=bucket, Key=key)["Body"].read() == data
    else:
        assert_s3_error(r, 400, "BadDigest")
        assert_client_error(s3["admin"].head_object, 404, "404", Bucket=bucket, Key=key)


def test_an_unsigned_trailer_checksum_mismatch_on_r2_leaves_no_object(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    data = b"unsigned trailer " * 4000
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks)
    body += b"0\r\nx-amz-checksum-crc32:" + crc32(b"other").encode() + b"\r\n\r\n"
    key = f"ck/{uid()}"
    url, headers = sign("PUT", f"{gateway.endpoint}/r2/{key}", *KEYS["admin"], headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32", "content-length": str(len(body))},
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert_s3_error(requests.put(url, data=body, headers=headers), 400, "BadDigest")
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket="r2", Key=key)
