"""Fault injection: a misbehaving backend (faultyserver.py) behind a gateway of this module's own.

Every fault ends in an S3 error (right status, XML, request id) within a bounded time, never a
panic or a hang; a download cut mid-body fails at the client (never a short body that looks
complete); an upload cut by the client leaves no object in SeaweedFS. After each fault, a healthy
bucket still answers (no poisoned process or isolate).

The gateway's backend timeout is lowered to BACKEND_TIMEOUT seconds (env var on the native
server, a var of the Worker).
"""
import json
import os
import socket
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
import requests

from conftest import (BACKEND_BUCKETS, KEYS, RUNTIMES, SESSION_TOKEN_KEY, Proc, WorkerRuntime,
                      boto, free_port, server_binary, toml_dump, wait_http)
from faultyserver import CUT_SIZE, HUGE_BYTES, MODES, FaultyServer

BACKEND_TIMEOUT = 3
# Far past BACKEND_TIMEOUT: a request that takes this long has hung.
CLIENT_TIMEOUT = 60
HEALTHY_PREFIX = "faults/"
# The faults a ListBuckets meets behind pass-through buckets.
LIST_FAULTS = ("slow", "e503-xml", "e500-bare", "junk", "huge")


def fault_config(seaweed, faulty, refused_endpoint):
    def fb(name, endpoint, backend_bucket):
        return {"name": name, "backend_type": "s3", "backend_options": {
            "endpoint": endpoint, "bucket_name": backend_bucket, "region": "us-east-1",
            "access_key_id": "FAULTYKEY", "secret_access_key": "FAULTYSECRET"}}

    def glob(name, endpoint, key="FAULTYKEY", secret="FAULTYSECRET"):
        return {"name": name, "backend_type": "s3", "backend_options": {
            "endpoint": endpoint, "region": "us-east-1", "access_key_id": key,
            "secret_access_key": secret}}

    key, secret = KEYS["admin"]
    return {
        "buckets": [fb(f"f-{m}", faulty.url, m) for m in MODES] + [
            fb("f-refused", refused_endpoint, "refused"),
            # Pass-through buckets whose backends fail ListBuckets (the endpoint's path picks
            # the fault), and one on SeaweedFS that answers it.
            *[glob(f"lb{i}-*", f"{faulty.url}/{m}") for i, m in enumerate(LIST_FAULTS)],
            glob("lbr-*", refused_endpoint),
            glob("lbok-*", seaweed.endpoint, "SWADMINKEY", "SWADMINSECRET"),
            {"name": "healthy", "backend_type": "s3", "backend_prefix": HEALTHY_PREFIX,
             "backend_options": {"endpoint": seaweed.endpoint,
                                 "bucket_name": BACKEND_BUCKETS["public"], "region": "us-east-1",
                                 "access_key_id": "SWADMINKEY",
                                 "secret_access_key": "SWADMINSECRET"}},
        ],
        "credentials": [{"access_key_id": key, "secret_access_key": secret,
                         "principal_name": "admin", "enabled": True,
                         "allowed_scopes": [{"bucket": "*", "prefixes": [], "actions": [
                             "get_object", "head_object", "put_object", "delete_object",
                             "list_bucket", "create_multipart_upload", "upload_part",
                             "complete_multipart_upload", "abort_multipart_upload",
                             "list_multipart_upload_parts", "list_bucket_multipart_uploads"]}]}],
    }


@pytest.fixture(scope="module", params=RUNTIMES)
def faults(request, seaweed, workdir):
    runtime = request.param
    faulty = FaultyServer()
    # A port nothing listens on: taken, then released.
    refused = f"http://127.0.0.1:{free_port()}"
    cfg = fault_config(seaweed, faulty, refused)
    proc = None
    try:
        if runtime == "worker":
            worker = WorkerRuntime(workdir, name="worker-faults",
                                   extra_vars=f'BACKEND_TIMEOUT_SECONDS = "{BACKEND_TIMEOUT}"')
            worker.put_config(json.dumps(cfg))
            proc, endpoint = worker.start()
        else:
            path = workdir / "gateway-faults.toml"
            path.write_text(toml_dump(cfg))
            port = free_port()
            env = dict(os.environ, RUST_LOG="multistore=debug",
                       SESSION_TOKEN_KEY=SESSION_TOKEN_KEY,
                       BACKEND_TIMEOUT_SECONDS=str(BACKEND_TIMEOUT))
            proc = Proc([server_binary(), "--config", str(path), "--listen", f"127.0.0.1:{port}"],
                        workdir / "gateway-faults.log", env=env)
            endpoint = f"http://127.0.0.1:{port}"
            wait_http(endpoint + "/", proc, timeout=30)
        yield SimpleNamespace(endpoint=endpoint, runtime=runtime, proc=proc, faulty=faulty,
                              refused=refused, client=boto(endpoint, *KEYS["admin"]))
    finally:
        if proc is not None:
            proc.stop()
        faulty.stop()


def presign(f, op, expires=600, **params):
    return f.client.generate_presigned_url(op, Params=params, ExpiresIn=expires)


def assert_error(resp, statuses, codes=None):
    """An S3 error document with one of `statuses` (and `codes`), carrying the request id."""
    assert resp.status_code in statuses, f"{resp.status_code}: {resp.text[:500]}"
    rid = resp.headers.get("x-amz-request-id")
    assert rid, dict(resp.headers)
    assert "xml" in resp.headers.get("content-type", ""), dict(resp.headers)
    root = ET.fromstring(resp.content)
    assert root.tag == "Error", resp.text
    if codes is not None:
        assert root.findtext("Code") in codes, resp.text
    assert root.findtext("RequestId") == rid, resp.text
    return root


def assert_no_backend_address(f, resp):
    """Rule 20: errors never name the backend."""
    host = urllib.parse.urlsplit(f.faulty.url).netloc
    for text in (resp.text, json.dumps(dict(resp.headers))):
        assert host not in text, text
        assert f.refused.split("//", 1)[1] not in text, text


def assert_healthy(f):
    """A normal request to a healthy bucket still works after the fault."""
    key = f"ok-{uuid.uuid4().hex}"
    f.client.put_object(Bucket="healthy", Key=key, Body=b"still fine")
    assert f.client.get_object(Bucket="healthy", Key=key)["Body"].read() == b"still fine"
    f.client.delete_object(Bucket="healthy", Key=key)
    if f.proc is not None:
        assert f.proc.alive(), f.proc.tail()


def test_connection_refused_is_a_bad_gateway(faults):
    f = faults
    for op, params in (("get_object", {"Key": "k"}), ("list_objects_v2", {})):
        r = requests.get(presign(f, op, Bucket="f-refused", **params), timeout=CLIENT_TIMEOUT)
        assert_error(r, (502, 503), ("BadGateway", "ServiceUnavailable"))
        assert_no_backend_address(f, r)
    r = requests.put(presign(f, "put_object", Bucket="f-refused", Key="k"), data=b"x" * 1000,
                     timeout=CLIENT_TIMEOUT)
    assert_error(r, (502, 503), ("BadGateway", "ServiceUnavailable"))
    assert_healthy(f)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "LIST"])
def test_slow_first_byte_times_out_with_a_504(faults, method):
    f = faults
    t0 = time.monotonic()
    if method == "PUT":
        r = requests.put(presign(f, "put_object", Bucket="f-slow", Key="k"), data=b"x" * 100000,
                         timeout=CLIENT_TIMEOUT)
    elif method == "HEAD":
        r = requests.head(presign(f, "head_object", Bucket="f-slow", Key="k"),
                          timeout=CLIENT_TIMEOUT)
    elif method == "LIST":
        r = requests.get(presign(f, "list_objects_v2", Bucket="f-slow"), timeout=CLIENT_TIMEOUT)
    else:
        r = requests.get(presign(f, "get_object", Bucket="f-slow", Key="k"),
                         timeout=CLIENT_TIMEOUT)
    elapsed = time.monotonic() - t0
    if method == "HEAD":
        assert r.status_code == 504, r.status_code
        assert r.headers.get("x-amz-request-id")
    else:
        assert_error(r, (504,), ("GatewayTimeout",))
    # Not a timing threshold: only that the gateway's own timeout answered, not the client's.
    assert elapsed >= BACKEND_TIMEOUT * 0.9, elapsed
    assert_healthy(f)


@pytest.mark.parametrize("mode", ["cut-cl", "cut-cl-rst", "cut-chunked"])
def test_get_cut_mid_body_fails_at_the_client(faults, mode):
    f = faults
    url = presign(f, "get_object", Bucket=f"f-{mode}", Key="obj")
    try:
        r = requests.get(url, timeout=CLIENT_TIMEOUT)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        pass
    else:
        pytest.fail(f"a cut download looked complete: {r.status_code}, {len(r.content)} bytes of "
                    f"{CUT_SIZE}, headers {dict(r.headers)}")
    # The same through a raw socket: the answer never ends the way a complete one does.
    assert raw_get_is_incomplete(url)
    assert_healthy(f)


def test_get_stalled_mid_body_fails_at_the_client_within_a_bounded_time(faults):
    """The backend sends half the object, then nothing: natively the gateway ends the client's
    response with an error once the backend has been silent for the backend timeout. (On Workers
    the download is the backend's own stream handed to the client: workerd's limits apply.)"""
    f = faults
    if f.runtime != "native":
        pytest.skip("the idle timeout on streamed downloads is the native server's")
    url = presign(f, "get_object", Bucket="f-stall-mid", Key="obj")
    t0 = time.monotonic()
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        requests.get(url, timeout=CLIENT_TIMEOUT).content
    assert time.monotonic() - t0 < CLIENT_TIMEOUT, "the stalled download hung"
    assert_healthy(f)


def raw_get_is_incomplete(url):
    """GETs `url` over a raw socket; True when the response ended short of its framing."""
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=CLIENT_TIMEOUT) as s:
        s.sendall(f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:])}
    assert head.startswith(b"HTTP/1.1 200"), head
    if "content-length" in headers:
        return len(body) < int(headers["content-length"])
    assert headers.get("transfer-encoding", "").lower() == "chunked", headers
    return not body.endswith(b"\r\n0\r\n\r\n")


def test_put_reset_by_the_backend_mid_body_is_a_5xx(faults):
    f = faults
    url = presign(f, "put_object", Bucket="f-put-reset", Key="k")
    r = requests.put(url, data=os.urandom(256 << 10), timeout=CLIENT_TIMEOUT)
    assert_error(r, (502, 503), ("BadGateway", "ServiceUnavailable"))
    assert_no_backend_address(f, r)
    assert_healthy(f)


@pytest.mark.parametrize("sent", ["one-byte", "half", "all-but-one"])
def test_put_cut_by_the_client_leaves_no_object(faults, backend, sent):
    f = faults
    key = f"cut-{sent}-{uuid.uuid4().hex}"
    total = 1 << 20
    n = {"one-byte": 1, "half": total // 2, "all-but-one": total - 1}[sent]
    u = urllib.parse.urlsplit(presign(f, "put_object", Bucket="healthy", Key=key))
    with socket.create_connection((u.hostname, u.port), timeout=CLIENT_TIMEOUT) as s:
        s.sendall(f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                  f"Content-Length: {total}\r\n\r\n".encode())
        s.sendall(os.urandom(n))
        time.sleep(0.5)
    deadline = time.time() + 3
    while time.time() < deadline:
        listed = backend.list_objects_v2(Bucket=BACKEND_BUCKETS["public"],
                                         Prefix=HEALTHY_PREFIX + key)
        assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
        time.sleep(0.5)
    assert_healthy(f)


@pytest.mark.parametrize("mode,statuses,codes", [
    ("e500-xml", (500,), ("InternalError",)),
    ("e503-xml", (503,), ("SlowDown",)),
    ("e500-bare", (500, 502), ("InternalError", "BadGateway")),
    ("e503-bare", (503,), ("ServiceUnavailable", "SlowDown")),
])
def test_backend_5xx_is_an_s3_error(faults, mode, statuses, codes):
    f = faults
    for op, params in (("get_object", {"Key": "k"}), ("list_objects_v2", {}),
                       ("delete_object", {"Key": "k"})):
        url = presign(f, op, Bucket=f"f-{mode}", **params)
        r = requests.request("DELETE" if op == "delete_object" else "GET", url,
                             timeout=CLIENT_TIMEOUT)
        assert_error(r, statuses, codes)
        assert "FAULTY" not in r.text, "the backend's request id leaked"
    r = requests.head(presign(f, "head_object", Bucket=f"f-{mode}", Key="k"),
                      timeout=CLIENT_TIMEOUT)
    assert r.status_code in statuses, r.status_code
    assert_healthy(f)


def complete_request(f, bucket):
    upload = f.client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    url = presign(f, "complete_multipart_upload", Bucket=bucket, Key="mp", UploadId=upload)
    body = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"0123456789abcdef"
            "0123456789abcdef\"</ETag></Part></CompleteMultipartUpload>")
    return requests.post(url, data=body, timeout=CLIENT_TIMEOUT)


def peak_rss_kib(f):
    if f.runtime != "native":
        return None
    status = open(f"/proc/{f.proc.p.pid}/status").read()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


@pytest.mark.parametrize("mode", ["junk", "huge"])
@pytest.mark.parametrize("op", ["list", "complete"])
def test_junk_and_oversized_xml_is_a_bounded_502(faults, mode, op):
    f = faults
    before = peak_rss_kib(f)
    if op == "list":
        r = requests.get(presign(f, "list_objects_v2", Bucket=f"f-{mode}"), timeout=CLIENT_TIMEOUT)
    else:
        r = complete_request(f, f"f-{mode}")
    assert_error(r, (500, 502), ("InternalError", "BadGateway"))
    after = peak_rss_kib(f)
    if before is not None:
        # The document was never held whole: the peak grew by less than its size.
        print(f"peak RSS {before} KiB -> {after} KiB")
        assert (after - before) * 1024 < HUGE_BYTES, (before, after)
    assert_healthy(f)


@pytest.mark.parametrize("direction", ["from-silent-source", "to-silent-destination"])
def test_copy_through_a_silent_backend_ends_in_a_bounded_error(faults, direction):
    """Copies between these backends stream through the gateway: each backend call of the copy
    has the same timeout as a forwarded request."""
    from botocore.exceptions import ClientError
    f = faults
    if direction == "from-silent-source":
        args = dict(Bucket="healthy", Key=f"copy-{uuid.uuid4().hex}",
                    CopySource={"Bucket": "f-slow", "Key": "k"})
    else:
        src = f"src-{uuid.uuid4().hex}"
        f.client.put_object(Bucket="healthy", Key=src, Body=b"s" * 10000)
        args = dict(Bucket="f-slow", Key="k", CopySource={"Bucket": "healthy", "Key": src})
    with pytest.raises(ClientError) as e:
        f.client.copy_object(**args)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] in (502, 504), err
    assert err["Error"]["Code"] in ("BadGateway", "GatewayTimeout"), err
    assert "did not answer within" in err["Error"]["Message"], err
    assert_healthy(f)


def test_list_buckets_leaves_a_failing_backend_out_and_lists_the_rest(faults, backend):
    """ListBuckets asks every backend behind a pass-through bucket; one that times out, answers
    5xx, junk or an oversized document, or refuses the connection is left out (with a warning
    in the log): the caller still gets the configured buckets and the healthy backend's."""
    f = faults
    name = f"lbok-{uuid.uuid4().hex[:8]}"
    backend.create_bucket(Bucket=name)
    try:
        t0 = time.monotonic()
        r = requests.get(presign(f, "list_buckets"), timeout=CLIENT_TIMEOUT)
        elapsed = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert_no_backend_address(f, r)
        doc = ET.fromstring(r.content)
        listed = [b.findtext("{*}Name") for b in doc.findall(".//{*}Bucket")]
        assert name in listed and "healthy" in listed and "f-slow" in listed, listed
        assert not [n for n in listed if n.startswith("lb") and not n.startswith("lbok-")]
        # The slow backend cost one backend timeout, not a hung listing.
        assert elapsed < CLIENT_TIMEOUT, elapsed
        asked = {path.split("?")[0] for method, path in f.faulty.requests if method == "GET"}
        assert {f"/{m}/" for m in LIST_FAULTS} <= asked, asked
    finally:
        backend.delete_bucket(Bucket=name)
    assert_healthy(f)
