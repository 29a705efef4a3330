"""The native server itself: startup checks, virtual-hosted buckets, graceful shutdown.

These start their own multistore-server processes, so they run only against the native runtime.
"""
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import KEYS, Proc, free_port, server_binary, wait_http
from helpers import assert_s3_error
from sigv4 import sign

pytestmark = pytest.mark.skipif(bool(os.environ.get("MULTISTORE_ENDPOINT")),
                                reason="starts its own native server processes")


def test_invalid_config_is_refused_with_every_problem_and_its_path(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("""
[[buckets]]
name = "a"
backend_type = "s3"
[buckets.backend_options]
endpoint = "ftp://nowhere"

[[buckets]]
name = "a"
backend_type = "nosuch"

[[credentials]]
access_key_id = "K"
secret_access_key = "super-secret-value"
expires_at = "yesterday"
[[credentials.allowed_scopes]]
bucket = "*"
actions = ["get_objects"]
""")
    p = subprocess.run([server_binary(), "--config", str(bad), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    err = p.stderr
    for needle in ["buckets[0]", "buckets[1]", "credentials[0].expires_at", "get_objects"]:
        assert needle in err, err
    assert "super-secret-value" not in err + p.stdout


def test_missing_config_flag_prints_usage(tmp_path):
    p = subprocess.run([server_binary()], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--config" in p.stderr


def test_virtual_hosted_buckets_are_served_under_the_domain(gateway, tmp_path):
    if gateway.runtime != "native":
        pytest.skip("starts its own native server processes")
    port = free_port()
    proc = Proc([server_binary(), "--config", str(gateway.config_path), "--listen", f"127.0.0.1:{port}",
                 "--domain", "s3.example.test"], tmp_path / "vhost.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", proc)
        url, h = sign("PUT", f"{base}/public/vh.txt", *KEYS["admin"], body=b"vh")
        assert requests.put(url, data=b"vh", headers=h).status_code == 200
        # Bucket from the Host header (port ignored); the whole path is the key.
        r = requests.get(f"{base}/vh.txt", headers={"Host": f"public.s3.example.test:{port}"})
        assert r.status_code == 200 and r.content == b"vh", r.text
        url, h = sign("GET", f"{base}/vh.txt", *KEYS["admin"], host=f"public.s3.example.test:{port}")
        r = requests.get(url, headers=h)
        assert r.status_code == 200 and r.content == b"vh", r.text
        # The bare domain stays path style.
        r = requests.get(f"{base}/public/vh.txt", headers={"Host": f"s3.example.test:{port}"})
        assert r.status_code == 200 and r.content == b"vh"
        assert_s3_error(requests.get(f"{base}/vh.txt", headers={"Host": f"nope.s3.example.test:{port}"}),
                        404, "NoSuchBucket")
    finally:
        proc.stop()


def test_sigterm_stops_the_server_cleanly(gateway, tmp_path):
    if gateway.runtime != "native":
        pytest.skip("starts its own native server processes")
    port = free_port()
    proc = Proc([server_binary(), "--config", str(gateway.config_path), "--listen", f"127.0.0.1:{port}"],
                tmp_path / "term.log")
    wait_http(f"http://127.0.0.1:{port}/", proc)
    os.kill(proc.p.pid, signal.SIGTERM)
    assert proc.p.wait(30) == 0, proc.tail()
    proc.stop()


def test_an_error_to_a_request_with_an_unread_body_closes_the_connection(gateway):
    if gateway.runtime != "native":
        pytest.skip("the connection handling under test is the native server's")
    # An anonymous write is refused before its body is read; a client that sends the body anyway
    # (after `Expect: 100-continue` timed out) must not have it parsed as its next request.
    host, port = gateway.endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"PUT /public/refused HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # 25 body bytes that look like a request
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 403"), head
    assert data.count(b"HTTP/1.1 ") == 1, data  # one answer, then the server closed
