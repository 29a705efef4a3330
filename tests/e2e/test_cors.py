"""CORS: preflights answered by the gateway, Access-Control headers on every answer of a bucket
with rules, the backend's own CORS headers never leaking, and a real browser (headless Chromium)
reading a byte range of a public object from a page of another origin."""
import html
import json
import os
import re
import shutil
import subprocess
import threading
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import CORS_ALLOWED_HOST, KEYS
from helpers import assert_request_id, assert_s3_error
from sigv4 import sign

PAGE_ORIGIN = "http://page.cors.test:8000"
STRICT_ORIGIN = f"http://{CORS_ALLOWED_HOST}:8000"
BODY = b"hello, cross-origin world"


def uid():
    return uuid.uuid4().hex[:10]


def acl(resp):
    """The response's Access-Control-* headers, lower-cased."""
    return {k.lower(): v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def vary(resp):
    return [v.strip().lower() for v in resp.headers.get("vary", "").split(",") if v.strip()]


def preflight(gateway, path, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{gateway.endpoint}{path}", headers=h, timeout=10)


@pytest.fixture(scope="module")
def objects(s3):
    """One object in the public bucket and one in cors-strict, with user metadata."""
    key = f"cors/{uid()}.txt"
    for bucket in ("public", "cors-strict"):
        s3["admin"].put_object(Bucket=bucket, Key=key, Body=BODY, ContentType="text/plain",
                               Metadata={"team": "geo"})
    return key


def test_a_preflight_to_a_public_bucket_is_answered_by_the_default_rule(gateway, objects):
    r = preflight(gateway, f"/public/{objects}", PAGE_ORIGIN, "GET", "range, x-custom")
    assert r.status_code == 200, r.text
    assert_request_id(r.headers)
    h = acl(r)
    assert h["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in h
    assert h["access-control-allow-methods"] == "GET, HEAD"
    assert h["access-control-allow-headers"] == "range, x-custom"
    assert h["access-control-max-age"] == "3600"
    assert "origin" in vary(r)
    # The default rule is for reading: a PUT preflight matches nothing.
    assert_s3_error(preflight(gateway, f"/public/{objects}", PAGE_ORIGIN, "PUT"),
                    403, "AccessForbidden")


def test_a_preflight_matching_a_configured_rule_echoes_the_origin(gateway, objects):
    r = preflight(gateway, f"/cors-strict/{objects}", STRICT_ORIGIN, "PUT",
                  "Content-Type, X-Amz-Date, x-amz-content-sha256")
    assert r.status_code == 200, r.text
    h = acl(r)
    assert h["access-control-allow-origin"] == STRICT_ORIGIN
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-allow-methods"] == "GET, HEAD, PUT, POST"
    assert h["access-control-allow-headers"] == "Content-Type, X-Amz-Date, x-amz-content-sha256"
    assert h["access-control-expose-headers"] == "ETag, Content-Range"
    assert h["access-control-max-age"] == "600"


def test_a_preflight_no_rule_allows_is_forbidden_without_any_grant(gateway, objects):
    path = f"/cors-strict/{objects}"
    for r in (
        preflight(gateway, path, "http://evil.cors.test", "GET"),          # origin
        preflight(gateway, path, STRICT_ORIGIN, "DELETE"),                 # method
        preflight(gateway, path, STRICT_ORIGIN, "GET", "authorization"),   # header
        preflight(gateway, f"/private/{objects}", STRICT_ORIGIN, "GET"),   # no rules at all
    ):
        root = assert_s3_error(r, 403, "AccessForbidden")
        assert root.findtext("Message").startswith("CORSResponse:")
        assert "access-control-allow-origin" not in acl(r)


def test_a_malformed_preflight_is_a_bad_request(gateway, objects):
    r = requests.options(f"{gateway.endpoint}/public/{objects}",
                         headers={"Access-Control-Request-Method": "GET"}, timeout=10)
    assert_s3_error(r, 400, "BadRequest")
    assert_s3_error(preflight(gateway, f"/public/{objects}", PAGE_ORIGIN, "PATCH"),
                    400, "BadRequest")


def test_get_head_and_ranged_get_of_a_public_object_expose_what_readers_need(gateway, objects):
    url = f"{gateway.endpoint}/public/{objects}"
    r = requests.get(url, headers={"Origin": PAGE_ORIGIN, "Range": "bytes=0-4"}, timeout=10)
    assert r.status_code == 206 and r.content == BODY[:5]
    h = acl(r)
    assert h["access-control-allow-origin"] == "*"
    exposed = {e.strip().lower() for e in h["access-control-expose-headers"].split(",")}
    assert {"etag", "content-range", "accept-ranges", "content-length", "last-modified",
            "x-amz-request-id", "x-amz-meta-team"} <= exposed, exposed
    assert "origin" in vary(r)
    r = requests.get(url, headers={"Origin": PAGE_ORIGIN}, timeout=10)
    assert r.status_code == 200 and r.content == BODY
    assert acl(r)["access-control-allow-origin"] == "*"
    r = requests.head(url, headers={"Origin": PAGE_ORIGIN}, timeout=10)
    assert r.status_code == 200
    assert acl(r)["access-control-allow-origin"] == "*"
    assert "etag" in acl(r)["access-control-expose-headers"].lower()
    # Without an Origin nothing is granted, but caches are told the answer depends on it.
    r = requests.get(url, timeout=10)
    assert acl(r) == {} and "origin" in vary(r)


def test_errors_carry_cors_headers_so_pages_can_read_them(gateway, objects):
    # From the backend (NoSuchKey, translated by the gateway), for GET and HEAD.
    missing = f"{gateway.endpoint}/public/cors/no-such-{uid()}"
    r = requests.get(missing, headers={"Origin": PAGE_ORIGIN}, timeout=10)
    assert_s3_error(r, 404, "NoSuchKey")
    assert acl(r)["access-control-allow-origin"] == "*"
    r = requests.head(missing, headers={"Origin": PAGE_ORIGIN}, timeout=10)
    assert r.status_code == 404 and acl(r)["access-control-allow-origin"] == "*"
    # From the gateway itself (an anonymous write refused), under a rule that allows PUT.
    r = requests.put(f"{gateway.endpoint}/cors-strict/cors/{uid()}", data=b"x",
                     headers={"Origin": STRICT_ORIGIN}, timeout=10)
    assert_s3_error(r, 403, "AccessDenied")
    assert acl(r)["access-control-allow-origin"] == STRICT_ORIGIN
    # A bad signature is still an error the page can read.
    url, headers = sign("GET", f"{gateway.endpoint}/cors-strict/{objects}", KEYS["admin"][0], "wrong")
    r = requests.get(url, headers={**headers, "Origin": STRICT_ORIGIN}, timeout=10)
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert acl(r)["access-control-allow-origin"] == STRICT_ORIGIN


def test_configured_rules_replace_the_public_default(gateway, objects):
    url = f"{gateway.endpoint}/cors-strict/{objects}"
    r = requests.get(url, headers={"Origin": STRICT_ORIGIN}, timeout=10)
    assert r.status_code == 200 and r.content == BODY
    h = acl(r)
    assert h["access-control-allow-origin"] == STRICT_ORIGIN
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-expose-headers"] == "ETag, Content-Range, x-amz-meta-team"
    r = requests.get(url, headers={"Origin": PAGE_ORIGIN}, timeout=10)
    assert r.status_code == 200 and acl(r) == {} and "origin" in vary(r)


def test_the_backends_own_cors_headers_never_reach_the_client(gateway, backend, objects):
    """SeaweedFS is given a permissive CORS config of its own; the gateway must drop it."""
    from conftest import BACKEND_BUCKETS
    bk = BACKEND_BUCKETS["private"]
    key = f"cors/{uid()}.txt"
    backend.put_object(Bucket=bk, Key=key, Body=b"private")
    backend_has_cors = True
    try:
        backend.put_bucket_cors(Bucket=bk, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"]}]})
    except Exception as e:  # noqa: BLE001 - the gateway-side assertions hold either way
        print(f"SeaweedFS refused put_bucket_cors ({e}); checking the gateway side only")
        backend_has_cors = False
    direct = requests.get(backend.generate_presigned_url("get_object", Params={"Bucket": bk, "Key": key}),
                          headers={"Origin": PAGE_ORIGIN}, timeout=10)
    if backend_has_cors:
        assert acl(direct).get("access-control-allow-origin"), "the backend sends CORS headers"
    url, headers = sign("GET", f"{gateway.endpoint}/private/{key}", *KEYS["admin"])
    r = requests.get(url, headers={**headers, "Origin": PAGE_ORIGIN}, timeout=10)
    assert r.status_code == 200 and r.content == b"private"
    assert acl(r) == {}, acl(r)
    r = preflight(gateway, f"/private/{key}", PAGE_ORIGIN, "GET")
    assert_s3_error(r, 403, "AccessForbidden")
    assert acl(r) == {}


# --- a real browser -------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cors</title></head><body>
<pre id="out">pending</pre>
<script>
const out = document.getElementById('out');
async function probe(name, url, headers) {
  try {
    const r = await fetch(url, {headers});
    const body = await r.text();
    return {name, status: r.status, body, contentRange: r.headers.get('Content-Range'),
            etag: r.headers.get('ETag'), meta: r.headers.get('x-amz-meta-team')};
  } catch (e) {
    return {name, error: String(e)};
  }
}
Promise.all(%(probes)s.map(p => probe(p.name, p.url, p.headers)))
  .then(results => { out.textContent = JSON.stringify(results); });
</script>
</body></html>
"""


def chromium():
    for exe in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if exe and os.path.exists(exe):
            return exe
    return None


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    """A static file server on another port: a different origin from the gateway's."""
    root = tmp_path_factory.mktemp("cors-pages")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, server.server_address[1]
    server.shutdown()
    server.server_close()


def run_page(page_root, port, host, page, tmp_path):
    """Loads `page` (HTML whose script writes JSON into <pre id="out">) in headless Chromium,
    served from `host`; returns the parsed JSON."""
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (scripts/env.sh ensure_chromium installs it with apt)")
    name = f"page-{uid()}.html"
    (page_root / name).write_text(page)
    url = f"http://{host}:{port}/{name}"
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / ('chrome-' + uid())}",
            # The page's host name (allowed.cors.test) resolves to this machine; nothing else
            # is resolved, so the browser never reaches the network.
            f"--host-resolver-rules=MAP {CORS_ALLOWED_HOST} 127.0.0.1",
            "--virtual-time-budget=5000", "--dump-dom", url]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=90)
    m = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no result in the dumped DOM:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    text = html.unescape(m.group(1))
    assert text != "pending", f"the page's script did not finish:\n{proc.stderr[-2000:]}"
    return json.loads(text)


def browse(page_root, port, host, probes, tmp_path):
    """Loads a page with these fetches in headless Chromium; returns each fetch's outcome."""
    results = run_page(page_root, port, host, PAGE % {"probes": json.dumps(probes)}, tmp_path)
    return {r["name"]: r for r in results}


def test_a_browser_page_of_another_origin_reads_a_byte_range_of_a_public_object(
        gateway, objects, page_server, tmp_path):
    root, port = page_server
    results = browse(root, port, "127.0.0.1", [
        {"name": "public", "url": f"{gateway.endpoint}/public/{objects}",
         "headers": {"Range": "bytes=0-4"}},
        # cors-strict allows only pages of allowed.cors.test: this page's fetch must fail.
        {"name": "strict", "url": f"{gateway.endpoint}/cors-strict/{objects}",
         "headers": {"Range": "bytes=0-4"}},
    ], tmp_path)
    public = results["public"]
    assert public.get("status") == 206, public
    assert public["body"] == BODY[:5].decode()
    assert public["contentRange"] == f"bytes 0-4/{len(BODY)}"
    assert public["etag"] and public["etag"].startswith('"')
    assert public["meta"] == "geo"
    strict = results["strict"]
    assert "error" in strict and "Failed to fetch" in strict["error"], strict


def test_a_browser_page_of_the_allowed_origin_passes_a_preflight_to_a_configured_bucket(
        gateway, objects, page_server, tmp_path):
    root, port = page_server
    results = browse(root, port, CORS_ALLOWED_HOST, [
        # x-amz-checksum-mode is not CORS-safelisted: the browser sends a preflight first.
        {"name": "strict", "url": f"{gateway.endpoint}/cors-strict/{objects}",
         "headers": {"Range": "bytes=7-11", "x-amz-checksum-mode": "ENABLED"}},
    ], tmp_path)
    strict = results["strict"]
    assert strict.get("status") == 206, strict
    assert strict["body"] == BODY[7:12].decode()
    assert strict["contentRange"] == f"bytes 7-11/{len(BODY)}"
    assert strict["meta"] == "geo"
