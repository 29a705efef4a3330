"""Objects stored with a Content-Encoding come back byte for byte as stored, ranges included,
whatever the client accepts: a gateway is not a place to decode or re-encode data."""
import gzip
import uuid

import pytest
import requests

from conftest import KEYS
from sigv4 import sign


@pytest.fixture(params=["private", "r2"])
def bucket(request, gateway):
    if request.param == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return request.param


@pytest.mark.parametrize("accept", ["gzip", "identity", None])
def test_a_gzip_object_and_its_ranges_come_back_as_stored(gateway, s3, bucket, accept):
    if gateway.runtime == "worker":
        # Known gap: workerd decodes a Content-Encoding'd body for clients that do not accept
        # the coding (a range of a gzip object then fails to decode), and wrangler dev's own
        # proxy layer re-negotiates encodings, so encodeBody/encodeResponseBody "manual" could
        # not be verified here. Tracked in the issue note.
        pytest.xfail("workerd content-coding negotiation on Content-Encoding'd objects")
    raw = gzip.compress(b"hello gzip world " * 1000)
    key = f"enc/{uuid.uuid4().hex[:8]}.txt"
    s3["admin"].put_object(Bucket=bucket, Key=key, Body=raw, ContentEncoding="gzip",
                           ContentType="text/plain")
    for rng, want in ((None, raw), ("bytes=0-9", raw[:10]), ("bytes=-20", raw[-20:])):
        url, headers = sign("GET", f"{gateway.endpoint}/{bucket}/{key}", *KEYS["admin"])
        headers = dict(headers)
        if accept:
            headers["accept-encoding"] = accept
        if rng:
            headers["range"] = rng
        r = requests.get(url, headers=headers, stream=True)
        body = r.raw.read(decode_content=False)
        assert r.status_code == (206 if rng else 200), r.status_code
        assert r.headers.get("content-encoding") == "gzip"
        assert body == want, (rng, accept, len(body), len(want))
