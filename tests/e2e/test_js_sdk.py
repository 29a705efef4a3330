"""The AWS SDK for JavaScript v3 (npm @aws-sdk/client-s3, lib-storage, s3-request-presigner)
through the gateway, and the upload it made fail before (issue 17 item 9): a stream body sent
aws-chunked with `Transfer-Encoding: chunked` and no `Content-Length`, its length only in
`x-amz-decoded-content-length`. Raw-socket cases pin the refusals: a decoded length the chunks
do not match is 400 IncompleteBody and stores nothing; a chunked body that states no length at
all stays 411 MissingContentLength."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BACKEND_BUCKETS, KEYS, NODE, ROOT
from sigv4 import sign

SCRIPT = Path(__file__).with_name("js_sdk.mjs")
PRIVATE = BACKEND_BUCKETS["private"]


def uid():
    return uuid.uuid4().hex[:10]


def node():
    if NODE.exists():
        return str(NODE)
    found = shutil.which("node")
    if not found:
        pytest.fail("no Node.js: install the npm tools (package.json) or put node on PATH")
    return found


def run_js(gateway, scenario, bucket, prefix, who="admin", timeout=300):
    if not (ROOT / "node_modules" / "@aws-sdk" / "client-s3").exists():
        pytest.fail("@aws-sdk/client-s3 is not installed (npm install, see package.json)")
    key, secret = KEYS[who]
    cfg = {"endpoint": gateway.endpoint, "key": key, "secret": secret, "bucket": bucket,
           "prefix": prefix, "scenario": scenario}
    env = dict(os.environ, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    p = subprocess.run([node(), str(SCRIPT), json.dumps(cfg)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT, env=env)
    assert p.returncode == 0, f"{p.stderr[-3000:]}"
    return json.loads(p.stdout)["steps"]


def deterministic(n, seed):
    """The bytes js_sdk.mjs's `bytes(n, seed)` makes (xorshift32)."""
    out = bytearray(n)
    x = (seed * 2654435761) & 0xFFFFFFFF or 1
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def backend_get(backend, bucket, key):
    try:
        return backend.get_object(Bucket=bucket, Key=key)["Body"].read()
    except backend.exceptions.NoSuchKey:
        return None


def assert_sent_chunked_without_length(step):
    """The SDK really sent the case under test: aws-chunked, chunked, no Content-Length."""
    assert step["sent"], step
    for s in step["sent"]:
        h = s["headers"]
        assert "content-length" not in h, h
        assert h.get("transfer-encoding") == "chunked", h
        assert "aws-chunked" in h.get("content-encoding", ""), h
        assert h.get("x-amz-decoded-content-length"), h
        assert h.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", h
        assert h.get("x-amz-trailer", "").startswith("x-amz-checksum-"), h


def test_the_js_sdk_uploads_streams_buffers_and_multipart_and_reads_them_back(gateway, backend):
    prefix = f"js-sdk/{uid()}/"
    steps = run_js(gateway, "full", "private", prefix)

    put = steps["put_stream"]
    assert_sent_chunked_without_length(put)
    stored = backend_get(backend, PRIVATE, put["key"])
    assert stored is not None and len(stored) == put["length"]
    assert hashlib.sha256(stored).hexdigest() == put["sha256"]
    assert stored == deterministic(300_000, 1)
    head = backend.head_object(Bucket=PRIVATE, Key=put["key"])
    # Stored as the plain object: no aws-chunked left in its encoding, metadata kept.
    assert "aws-chunked" not in head.get("ContentEncoding", ""), head
    assert head["Metadata"] == {"origin": "js-sdk"}
    assert head["ContentType"] == "application/x-test"

    assert_sent_chunked_without_length(steps["put_stream_empty"])
    assert backend_get(backend, PRIVATE, steps["put_stream_empty"]["key"]) == b""

    assert "content-length" in steps["put_buffer"]["sent"][0]["headers"]
    got = steps["get"]
    assert got["stream_sha256"] == put["sha256"]
    assert got["buffer_sha256"] == steps["put_buffer"]["sha256"]
    assert got["content_length"] == put["length"]
    assert got["content_encoding"] in (None, ""), got
    assert got["metadata"] == {"origin": "js-sdk"}

    mp = steps["upload_multipart"]
    assert mp["parts"] == 3, mp
    stored = backend_get(backend, PRIVATE, mp["key"])
    assert hashlib.sha256(stored).hexdigest() == mp["sha256"]

    parts = steps["upload_part_stream"]
    assert_sent_chunked_without_length(parts)
    assert len(parts["sent"]) == 2
    stored = backend_get(backend, PRIVATE, parts["key"])
    assert len(stored) == parts["length"]
    assert hashlib.sha256(stored).hexdigest() == parts["sha256"]

    listed = dict((k, size) for k, size in steps["list"]["keys"])
    assert listed == {
        f"{prefix}stream.bin": 300_000, f"{prefix}empty.bin": 0,
        f"{prefix}buffer.bin": 70_000, f"{prefix}multipart.bin": mp["length"],
        f"{prefix}parts.bin": parts["length"]}

    assert steps["presigned_get"] == {"status": 200, "sha256": steps["put_buffer"]["sha256"],
                                      "sent": []}
    assert steps["delete"]["gone"] is True
    assert backend_get(backend, PRIVATE, f"{prefix}buffer.bin") is None


# fake-gcs-server takes XML-API writes only on V4 signed URLs: `gcs`, not `gcs-hmac`.
@pytest.mark.parametrize("bucket", ["az", "r2", "gcs"])
def test_a_js_sdk_stream_upload_reaches_other_backends_as_its_plain_body(gateway, bucket):
    if bucket == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    if not any(b["name"] == bucket for b in gateway.config["buckets"]):
        pytest.skip(f"no {bucket} bucket in this session")
    steps = run_js(gateway, "streams", bucket, f"js-sdk/{uid()}/")
    put = steps["put_stream"]
    assert_sent_chunked_without_length(put)
    assert put["read_sha256"] == put["sha256"]


def test_a_js_sdk_stream_of_unknown_length_is_refused_and_stores_nothing(gateway, backend):
    prefix = f"js-sdk/{uid()}/"
    r = run_js(gateway, "no_length", "private", prefix)["put_stream_no_length"]
    # The SDK states no length at all: the gateway cannot give the backend one (S3 refuses it
    # too). Either the SDK refuses to send it (3.1178 throws a TypeError for the undefined
    # x-amz-decoded-content-length before sending), or the gateway answers 411.
    assert r["ok"] is False, r
    if r["status"] is not None:
        assert r["status"] == 411, r
    assert backend_get(backend, PRIVATE, f"{prefix}nolength.bin") is None


# Raw sockets: the same request shape, built by hand ------------------------------------------

def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def unsigned_trailer_body(data, chunk=1000, trailer=True):
    """`data` framed as STREAMING-UNSIGNED-PAYLOAD-TRAILER, with its CRC32 trailer."""
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n"
                    for c in (data[i:i + chunk] for i in range(0, len(data), chunk)))
    body += b"0\r\n"
    if trailer:
        body += f"x-amz-checksum-crc32:{crc32_b64(data)}\r\n".encode()
    return body + b"\r\n"


def http_chunked(body, piece=777):
    """`body` in HTTP/1.1 chunked transfer coding (the transport under the aws-chunked framing)."""
    out = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n"
                   for c in (body[i:i + piece] for i in range(0, len(body), piece)))
    return out + b"0\r\n\r\n"


def send_raw(gateway, target, headers, body):
    """One request on its own connection, the whole body sent, then the answer (status, text)."""
    parts = urlsplit(gateway.endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed without an answer: {answer!r}"
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if m:
            while len(rest) < int(m.group(1)):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        return status, head.decode(errors="replace"), rest.decode(errors="replace")


def chunked_put(gateway, key, data, *, decoded=None, body=None, mode="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                extra=None):
    headers = {"content-encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
               "x-amz-sdk-checksum-algorithm": "CRC32"}
    if decoded is not False:
        headers["x-amz-decoded-content-length"] = str(len(data) if decoded is None else decoded)
    headers.update(extra or {})
    url = f"{gateway.endpoint}/private/{key}"
    _, signed = sign("PUT", url, *KEYS["admin"], headers=headers, payload_hash=mode)
    signed["transfer-encoding"] = "chunked"
    if body is None:
        body = unsigned_trailer_body(data)
    return send_raw(gateway, f"/private/{key}", signed, http_chunked(body))


def assert_error(answer, status, code):
    got, head, text = answer
    assert got == status, (got, head, text[:500])
    assert f"<Code>{code}</Code>" in text, text[:500]
    assert re.search(r"(?i)\r\nx-amz-request-id: *\S+", head), head


def test_a_raw_chunked_upload_with_only_a_decoded_length_stores_exactly_its_data(gateway, backend):
    data = os.urandom(5000)
    key = f"raw-chunked/{uid()}"
    status, head, text = chunked_put(gateway, key, data)
    assert status == 200, (head, text)
    assert backend_get(backend, PRIVATE, key) == data


def test_a_raw_signed_chunked_upload_with_only_a_decoded_length_stores_exactly_its_data(
        gateway, backend):
    data = os.urandom(150_000)
    key = f"raw-chunked/signed-{uid()}"
    url = f"{gateway.endpoint}/private/{key}"
    _, signed = sign("PUT", url, *KEYS["admin"], payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     headers={"content-encoding": "aws-chunked",
                              "x-amz-decoded-content-length": str(len(data))})
    body = chunk_signed_body(signed, data, KEYS["admin"][1])
    signed["transfer-encoding"] = "chunked"
    status, head, text = send_raw(gateway, f"/private/{key}", signed, http_chunked(body, 4096))
    assert status == 200, (head, text)
    assert backend_get(backend, PRIVATE, key) == data


def chunk_signed_body(headers, data, secret, chunk=65536):
    """`data` framed as STREAMING-AWS4-HMAC-SHA256-PAYLOAD, chained from the request's signature."""
    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    prev = headers["authorization"].rsplit("Signature=", 1)[1]
    k = h(h(h(h(("AWS4" + secret).encode(), amz_date[:8]), "us-east-1"), "s3"), "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for c in [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + b"\r\n"
    return body


@pytest.mark.parametrize("delta", [-1, 1, -1000, 4000])
def test_a_decoded_length_the_chunks_do_not_match_is_incomplete_body_and_stores_nothing(
        gateway, backend, delta):
    data = os.urandom(5000)
    key = f"raw-chunked/mismatch-{uid()}"
    answer = chunked_put(gateway, key, data, decoded=len(data) + delta)
    assert_error(answer, 400, "IncompleteBody")
    time.sleep(0.5)
    assert backend_get(backend, PRIVATE, key) is None


def test_a_chunked_body_that_ends_before_its_final_chunk_is_incomplete_and_stores_nothing(
        gateway, backend):
    data = os.urandom(5000)
    key = f"raw-chunked/cut-{uid()}"
    body = unsigned_trailer_body(data)
    cut = body[:body.index(b"0\r\nx-amz-checksum")]
    answer = chunked_put(gateway, key, data, body=cut)
    assert_error(answer, 400, "IncompleteBody")
    time.sleep(0.5)
    assert backend_get(backend, PRIVATE, key) is None


def test_a_chunked_trailer_checksum_mismatch_is_bad_digest_and_stores_nothing(gateway, backend):
    data = os.urandom(5000)
    key = f"raw-chunked/crc-{uid()}"
    body = unsigned_trailer_body(data).replace(crc32_b64(data).encode(),
                                               crc32_b64(b"other").encode())
    answer = chunked_put(gateway, key, data, body=body)
    assert_error(answer, 400, "BadDigest")
    time.sleep(0.5)
    assert backend_get(backend, PRIVATE, key) is None


@pytest.mark.parametrize("case", ["plain", "aws-chunked"])
def test_a_chunked_body_that_states_no_length_is_missing_content_length(gateway, backend, case):
    key = f"raw-chunked/nolength-{uid()}"
    if case == "plain":
        _, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"],
                          payload_hash="UNSIGNED-PAYLOAD")
    else:
        headers = {"content-encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32"}
        _, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"],
                          headers=headers, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    headers["transfer-encoding"] = "chunked"
    # Head and (small) body in one write: the refusal may come before the body is read.
    answer = send_raw(gateway, f"/private/{key}", headers,
                      http_chunked(unsigned_trailer_body(b"hello")))
    assert_error(answer, 411, "MissingContentLength")
    time.sleep(0.3)
    assert backend_get(backend, PRIVATE, key) is None
