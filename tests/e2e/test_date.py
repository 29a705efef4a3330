"""Every answer carries a `Date` (RFC 9110 requires it of a server with a clock; SDKs correct clock
skew from it): forwarded objects, a backend's error rewritten by the gateway, answers the gateway
makes itself, R2 bodies, on both runtimes."""
import time
import uuid
from email.utils import parsedate_to_datetime

import pytest
import requests

from conftest import KEYS
from sigv4 import sign


def assert_dated(r):
    assert "date" in r.headers, (r.status_code, dict(r.headers))
    sent = parsedate_to_datetime(r.headers["date"]).timestamp()
    assert abs(sent - time.time()) < 120, r.headers["date"]
    assert r.headers["date"].endswith(" GMT"), r.headers["date"]


@pytest.mark.parametrize("bucket", ["private", "r2"])
def test_every_answer_carries_a_date(gateway, s3, bucket):
    if bucket == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    key = f"date/{uuid.uuid4().hex[:8]}"
    s3["admin"].put_object(Bucket=bucket, Key=key, Body=b"dated")
    base = f"{gateway.endpoint}/{bucket}"
    for method, url, status in (("GET", f"{base}/{key}", 200),          # a streamed object
                                ("HEAD", f"{base}/{key}", 200),
                                ("GET", f"{base}/{key}-missing", 404),  # an error answer
                                ("GET", f"{base}?list-type=2", 200)):   # a listing
        signed, headers = sign(method, url, *KEYS["admin"])
        r = requests.request(method, signed, headers=headers)
        assert r.status_code == status, (method, url, r.status_code, r.text[:300])
        assert_dated(r)
    # Answers the gateway makes before any backend: a refusal, and an unsigned request.
    r = requests.get(f"{base}/{key}")
    assert r.status_code == 403, r.status_code
    assert_dated(r)
    r = requests.get(f"{gateway.endpoint}/no-such-bucket-here/x")
    assert r.status_code in (403, 404), r.status_code
    assert_dated(r)
