"""The attack catalogue of issue 16, end to end: each attack that worked against the gateway
once, sent as an attacker would, must get AWS's S3 error (status, `<Code>`, request id), and the
backend, read directly, must show that nothing changed.

Raw requests are crafted with `requests` and the repo's own signer (sigv4.py), or with
http.client where `requests`/urllib3 would normalize the path (dot segments, `%2e`)."""
import base64
import datetime
import hashlib
import hmac
import http.client
import re
import socket
import time
import uuid
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from conftest import BACKEND_BUCKETS, KEYS
from helpers import assert_request_id, assert_s3_error
from sigv4 import sign

PRIVATE = BACKEND_BUCKETS["private"]
PUBLIC = BACKEND_BUCKETS["public"]


def uid():
    return uuid.uuid4().hex[:10]


def raw(gateway, method, target, headers=None, body=b"", timeout=60):
    """One request with the target (path and query) sent byte for byte as given: http.client does
    not normalize `..`, `.` or `%2e` as urllib3 does. A requests-like answer."""
    parts = urlsplit(gateway.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        hdrs.setdefault("host", parts.netloc)
        if body or method in ("PUT", "POST"):
            hdrs.setdefault("content-length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body or None)
        r = conn.getresponse()
        content = r.read()
        return SimpleNamespace(status_code=r.status, headers=CaseInsensitiveDict(r.getheaders()),
                               content=content, text=content.decode(errors="replace"))
    finally:
        conn.close()


def signed_raw(gateway, method, target, who="admin", headers=None, body=b"", payload_hash=None):
    """A header-signed request sent with `raw`. Signed as a SigV4 server canonicalizes the path:
    `%2e` is an unreserved character, so it is signed as `.` (the path is sent as given)."""
    path, sep, query = target.partition("?")
    canonical = re.sub("%2[eE]", ".", path) + sep + query
    _, hdrs = sign(method, gateway.endpoint + canonical, *KEYS[who], headers=headers, body=body,
                   payload_hash=payload_hash)
    return raw(gateway, method, target, hdrs, body)


def backend_object(backend, bucket, key):
    """The object's body and metadata straight from SeaweedFS, or None when there is none."""
    try:
        r = backend.get_object(Bucket=bucket, Key=key)
    except backend.exceptions.NoSuchKey:
        return None
    except Exception as e:  # noqa: BLE001 - a 404 without a NoSuchKey body
        if getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return r["Body"].read(), r.get("Metadata", {}), r.get("TagCount", 0)


def backend_keys(backend, bucket, prefix=""):
    keys, token = [], None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        r = backend.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return keys
        token = r["NextContinuationToken"]


def backend_buckets(backend):
    return {b["Name"] for b in backend.list_buckets()["Buckets"]}


def assert_alive(gateway):
    r = requests.get(f"{gateway.endpoint}/public?list-type=2&max-keys=1", timeout=30)
    assert r.status_code == 200, r.text


# 1. Unsigned x-amz-* headers ------------------------------------------------------------------

def test_unsigned_copy_source_on_a_presigned_put_is_refused_and_copies_nothing(s3, backend):
    """A presigned PUT plus `x-amz-copy-source` would copy anything the signer can read."""
    secret, target = f"attack/secret-{uid()}", f"attack/loot-{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=secret, Body=b"the signer's secret")
    url = s3["admin"].generate_presigned_url("put_object", Params={"Bucket": "private", "Key": target},
                                             ExpiresIn=300)
    r = requests.put(url, data=b"", headers={"x-amz-copy-source": f"private/{secret}"})
    assert_s3_error(r, 403, "AccessDenied")
    assert backend_object(backend, PRIVATE, target) is None


def test_unsigned_copy_source_on_a_presigned_upload_part_is_refused_and_copies_nothing(s3, backend):
    """The same on UploadPart: it would become UploadPartCopy of the secret."""
    secret, target = f"attack/secret-{uid()}", f"attack/mpu-loot-{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=secret, Body=b"s" * 1000)
    up = s3["admin"].create_multipart_upload(Bucket="private", Key=target)["UploadId"]
    try:
        url = s3["admin"].generate_presigned_url("upload_part", Params={
            "Bucket": "private", "Key": target, "UploadId": up, "PartNumber": 1}, ExpiresIn=300)
        r = requests.put(url, data=b"", headers={"x-amz-copy-source": f"private/{secret}"})
        assert_s3_error(r, 403, "AccessDenied")
        parts = backend.list_parts(Bucket=PRIVATE, Key=target, UploadId=up).get("Parts", [])
        assert parts == [], parts
    finally:
        s3["admin"].abort_multipart_upload(Bucket="private", Key=target, UploadId=up)


@pytest.mark.parametrize("header,value", [
    ("x-amz-tagging", "stolen=yes"),
    ("x-amz-meta-x", "injected"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ("x-amz-copy-source", "private/{secret}"),
])
@pytest.mark.parametrize("how", ["header-signed", "presigned"])
def test_unsigned_amz_header_added_after_signing_is_refused_and_changes_nothing(
        gateway, s3, backend, how, header, value):
    key, secret = f"attack/unsigned-{uid()}", f"attack/secret-{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=secret, Body=b"the signer's secret")
    value = value.format(secret=secret)
    backend.put_object(Bucket=PRIVATE, Key=key, Body=b"original")
    before = backend_object(backend, PRIVATE, key)
    if how == "presigned":
        url = s3["admin"].generate_presigned_url("put_object", Params={"Bucket": "private", "Key": key},
                                                 ExpiresIn=300)
        r = requests.put(url, data=b"overwritten", headers={header: value})
    else:
        url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"],
                            body=b"overwritten")
        headers[header] = value  # after signing: not in SignedHeaders
        r = requests.put(url, data=b"overwritten", headers=headers)
    root = assert_s3_error(r, 403, "AccessDenied")
    assert "not signed" in root.findtext("Message"), root.findtext("Message")
    assert backend_object(backend, PRIVATE, key) == before


# 2. Repeated query parameters ------------------------------------------------------------------

@pytest.fixture
def outside_team(s3, backend):
    """An object and an upload outside `team/` that the scoped key must never see."""
    key = f"outside/{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=key, Body=b"not for team")
    up = s3["admin"].create_multipart_upload(Bucket="private", Key=key)["UploadId"]
    yield key
    s3["admin"].abort_multipart_upload(Bucket="private", Key=key, UploadId=up)


@pytest.mark.parametrize("query", [
    "list-type=2&prefix=team/&prefix=",
    "list-type=2&prefix=&prefix=team/",
    "prefix=team/&prefix=",
    "uploads&prefix=team/&prefix=",
])
def test_a_repeated_query_parameter_is_refused_and_lists_nothing(gateway, outside_team, query):
    r = signed_raw(gateway, "GET", f"/private?{query}", who="scoped")
    assert_s3_error(r, 400, "InvalidArgument")
    assert outside_team.encode() not in r.content and b"<Contents>" not in r.content \
        and b"<Upload>" not in r.content


# 3. Bucket names ------------------------------------------------------------------------------

def test_an_encoded_slash_in_a_bucket_name_never_turns_delete_bucket_into_delete_object(
        gateway, backend):
    name = f"pt-{uid()}"
    backend.create_bucket(Bucket=name)
    try:
        backend.put_object(Bucket=name, Key="victim", Body=b"still here")
        r = signed_raw(gateway, "DELETE", f"/{name}%2Fvictim")
        assert_s3_error(r, 400, "InvalidBucketName")
        assert backend_object(backend, name, "victim")[0] == b"still here"
    finally:
        for k in backend_keys(backend, name):
            backend.delete_object(Bucket=name, Key=k)
        backend.delete_bucket(Bucket=name)


def test_an_encoded_slash_in_a_bucket_name_never_turns_create_bucket_into_put_object(
        gateway, backend):
    name = f"pt-{uid()}"
    backend.create_bucket(Bucket=name)
    try:
        r = signed_raw(gateway, "PUT", f"/{name}%2Fcreated")
        assert_s3_error(r, 400, "InvalidBucketName")
        assert backend_keys(backend, name) == []
    finally:
        for k in backend_keys(backend, name):
            backend.delete_object(Bucket=name, Key=k)
        backend.delete_bucket(Bucket=name)


INVALID_NAMES = {
    "at-sign": "pt-a@evil.example",
    "colon": "pt-a:8080",
    "uppercase": "pt-Upper",
    "underscore": "pt-a_b",
    "double-dot": "pt-a..b",
    "trailing-hyphen": "pt-",
    "too-short": "1",
    "two-chars": "1a",
    "too-long": "pt-" + "a" * 61,
    "ip-like": "10.0.0.1",
}


@pytest.mark.parametrize("op", ["create_bucket", "list_objects", "put_object"])
@pytest.mark.parametrize("what", list(INVALID_NAMES))
def test_an_invalid_bucket_name_through_a_pass_through_bucket_is_invalid_bucket_name(
        gateway, backend, what, op):
    name = INVALID_NAMES[what]
    target = quote(f"/{name}")
    before = backend_buckets(backend)
    try:
        if op == "create_bucket":
            r = signed_raw(gateway, "PUT", target)
        elif op == "list_objects":
            r = signed_raw(gateway, "GET", target + "?list-type=2")
        else:
            r = signed_raw(gateway, "PUT", target + "/obj", body=b"x")
        assert_s3_error(r, 400, "InvalidBucketName")
        assert backend_buckets(backend) == before
    finally:
        for b in backend_buckets(backend) - before:  # what a working attack left behind
            for k in backend_keys(backend, b):
                backend.delete_object(Bucket=b, Key=k)
            backend.delete_bucket(Bucket=b)


# 4. Dot segments in keys ----------------------------------------------------------------------

# Key as sent in the path (after /private/); `{p}` is a unique prefix. Each would resolve, once a
# URL normalizer is done with it, to {p}/b, {p}/x or outside the bucket.
DOT_KEYS = {
    "literal-dotdot": "{p}/a/../b",
    "leading-dot": "./{p}/x",
    "encoded-dotdot-first": "%2e%2e/{p}/x",
    "encoded-dotdot-upper": "{p}/a/%2E%2E/b",
    "encoded-slashes": "{p}/a%2F..%2Fb",
}


@pytest.fixture
def dotted(backend):
    """A unique prefix with the objects a normalized dot-segment key would land on."""
    p = f"dots-{uid()}"
    seeds = {f"{p}/b": b"outside b", f"{p}/x": b"outside x"}
    for k, v in seeds.items():
        backend.put_object(Bucket=PRIVATE, Key=k, Body=v)
    buckets = backend_buckets(backend)

    def unchanged():
        assert sorted(backend_keys(backend, PRIVATE, p)) == sorted(seeds)
        for k, v in seeds.items():
            assert backend_object(backend, PRIVATE, k)[0] == v
        assert [k for k in backend_keys(backend, PRIVATE) if p in k and k not in seeds] == []
        assert backend_buckets(backend) == buckets
    return SimpleNamespace(p=p, unchanged=unchanged)


def assert_dot_segments_refused(gateway, r, form):
    """400 InvalidArgument. On the Worker, workerd resolves literal and `%2e` dot segments in the
    request URL before the gateway sees it, so the gateway checks the signature against another
    path than the one signed: 403 SignatureDoesNotMatch is the (fail-closed) refusal there.
    `%2F` is not resolved by anyone but the gateway's own backend URL, so it is 400 everywhere."""
    if gateway.runtime == "worker" and form != "encoded-slashes" and r.status_code == 403:
        assert_s3_error(r, 403, "SignatureDoesNotMatch")
    else:
        assert_s3_error(r, 400, "InvalidArgument")
    assert b"outside" not in r.content


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("form", list(DOT_KEYS))
def test_a_key_with_dot_segments_is_refused_and_nothing_outside_is_touched(
        gateway, dotted, form, method):
    path = "/private/" + DOT_KEYS[form].format(p=dotted.p)
    r = signed_raw(gateway, method, path, body=b"attack" if method == "PUT" else b"")
    assert_dot_segments_refused(gateway, r, form)
    dotted.unchanged()


@pytest.mark.parametrize("form", ["literal-dotdot", "encoded-slashes"])
def test_a_scoped_key_cannot_leave_its_prefix_with_dot_segments(gateway, dotted, form):
    for method in ("GET", "PUT", "DELETE"):
        key = "team/../{p}/b" if form == "literal-dotdot" else "team%2F..%2F{p}/b"
        path = "/private/" + key.format(p=dotted.p)
        r = signed_raw(gateway, method, path, who="scoped",
                       body=b"attack" if method == "PUT" else b"")
        assert_dot_segments_refused(gateway, r, form)
    dotted.unchanged()


@pytest.mark.parametrize("form", list(DOT_KEYS))
def test_a_copy_source_with_dot_segments_is_refused_and_copies_nothing(gateway, dotted, form):
    dst = f"{dotted.p}/copied"
    source = "private/" + DOT_KEYS[form].format(p=dotted.p)
    r = signed_raw(gateway, "PUT", f"/private/{dst}", headers={"x-amz-copy-source": source})
    assert_s3_error(r, 400, "InvalidArgument")
    dotted.unchanged()


# 5. Prefix boundaries -------------------------------------------------------------------------

@pytest.fixture
def team_private(backend):
    mine, theirs = f"team/{uid()}", f"team-private/{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=mine, Body=b"team")
    backend.put_object(Bucket=PRIVATE, Key=theirs, Body=b"not team")
    return SimpleNamespace(mine=mine, theirs=theirs)


@pytest.mark.parametrize("query", ["list-type=2&prefix=team", "prefix=team",
                                   "uploads&prefix=team"])
def test_a_scope_prefix_without_slash_does_not_list_its_neighbours(gateway, team_private, query):
    r = signed_raw(gateway, "GET", f"/private?{query}", who="team")
    assert_s3_error(r, 403, "AccessDenied")
    assert b"team-private" not in r.content


def test_a_scope_prefix_without_slash_lists_and_reads_only_its_folder(gateway, s3, team_private):
    r = signed_raw(gateway, "GET", "/private?list-type=2&prefix=team/", who="team")
    assert r.status_code == 200, r.text
    keys = [o["Key"] for o in s3["team"].list_objects_v2(Bucket="private", Prefix="team/")["Contents"]]
    assert team_private.mine in keys and all(k.startswith("team/") for k in keys), keys
    assert s3["team"].get_object(Bucket="private", Key=team_private.mine)["Body"].read() == b"team"
    r = signed_raw(gateway, "GET", f"/private/{team_private.theirs}", who="team")
    assert_s3_error(r, 403, "AccessDenied")
    assert b"not team" not in r.content


# 6. Anonymous response-* overrides ------------------------------------------------------------

@pytest.mark.parametrize("param,value", [("response-content-type", "text/html"),
                                         ("response-content-disposition", "inline")])
@pytest.mark.parametrize("bucket", ["public", "gcs-public"])
def test_anonymous_response_overrides_are_invalid_request(gateway, s3, bucket, param, value):
    key = f"attack-{uid()}.txt"
    if bucket == "public":
        s3["admin"].put_object(Bucket="public", Key=key, Body=b"<script>alert(1)</script>",
                               ContentType="text/plain")
    else:
        s3["admin"].put_object(Bucket="gcs", Key=f"public/{key}", Body=b"<script>alert(1)</script>",
                               ContentType="text/plain")
    r = requests.get(f"{gateway.endpoint}/{bucket}/{key}?{param}={quote(value, safe='')}")
    assert_s3_error(r, 400, "InvalidRequest")
    assert "text/html" not in r.headers.get("content-type", "")


# Replays, expiry, method and host binding -----------------------------------------------------

def test_a_replay_beyond_the_skew_window_is_request_time_too_skewed_and_writes_nothing(
        gateway, backend):
    key = f"attack/replay-{uid()}"
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"], body=b"replayed",
                        when=when)
    assert_s3_error(requests.put(url, data=b"replayed", headers=headers), 403, "RequestTimeTooSkewed")
    assert backend_object(backend, PRIVATE, key) is None


@pytest.mark.parametrize("expires,status,code", [(604801, 400, "AuthorizationQueryParametersError"),
                                                 (0, 403, "AccessDenied")])
def test_presigned_expiry_outside_one_second_to_seven_days_is_refused(s3, backend, expires, status,
                                                                       code):
    key = f"attack/expiry-{uid()}"
    url = s3["admin"].generate_presigned_url("put_object", Params={"Bucket": "private", "Key": key},
                                             ExpiresIn=expires)
    assert f"X-Amz-Expires={expires}&" in url or url.endswith(f"X-Amz-Expires={expires}")
    assert_s3_error(requests.put(url, data=b"x"), status, code)
    assert backend_object(backend, PRIVATE, key) is None


def test_a_presigned_get_used_as_put_or_head_is_signature_does_not_match(s3, backend):
    key = f"attack/method-{uid()}"
    backend.put_object(Bucket=PRIVATE, Key=key, Body=b"original")
    url = s3["admin"].generate_presigned_url("get_object", Params={"Bucket": "private", "Key": key},
                                             ExpiresIn=300)
    assert_s3_error(requests.put(url, data=b"overwritten"), 403, "SignatureDoesNotMatch")
    assert_s3_error(requests.head(url), 403, "SignatureDoesNotMatch", head=True)
    assert backend_object(backend, PRIVATE, key)[0] == b"original"


def test_a_signature_made_for_another_host_is_signature_does_not_match(gateway, backend):
    key = f"attack/host-{uid()}"
    url, headers = sign("PUT", f"{gateway.endpoint}/private/{key}", *KEYS["admin"], body=b"spoofed",
                        host="evil.example")
    del headers["host"]  # sent to the gateway with its own Host
    assert_s3_error(requests.put(url, data=b"spoofed", headers=headers), 403, "SignatureDoesNotMatch")
    url, headers = sign("GET", f"{gateway.endpoint}/public?list-type=2", *KEYS["admin"],
                        host="private.evil.example")
    del headers["host"]
    assert_s3_error(requests.get(url, headers=headers), 403, "SignatureDoesNotMatch")
    assert backend_object(backend, PRIVATE, key) is None


# Oversized input ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["one-200k-header", "fifty-4k-headers"])
def test_oversized_headers_are_a_4xx_and_the_server_lives_on(gateway, shape):
    if shape == "one-200k-header":
        headers = {"x-pad": "a" * 200_000}
    else:
        headers = {f"x-pad-{i}": "a" * 4096 for i in range(50)}
    try:
        r = raw(gateway, "GET", "/public?list-type=2", headers=headers)
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        pytest.fail(f"the connection failed instead of a 4xx: {e!r}")
    finally:
        assert_alive(gateway)


def delete_objects_body(keys, pad):
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete>{' ' * pad}{objects}</Delete>".encode()


def test_an_oversized_delete_objects_body_is_a_400_and_deletes_nothing(gateway, backend):
    keys = [f"attack/bulk-{uid()}/{i}" for i in range(3)]
    for k in keys:
        backend.put_object(Bucket=PRIVATE, Key=k, Body=b"keep")
    body = delete_objects_body(keys, 8 << 20)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed_raw(gateway, "POST", "/private?delete", body=body,
                   headers={"content-md5": md5, "content-type": "application/xml"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert_request_id(r.headers)
    assert b"<Code>" in r.content, r.text[:300]
    for k in keys:
        assert backend_object(backend, PRIVATE, k)[0] == b"keep"
    assert_alive(gateway)


BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
                  for i in range(1, 10))
        + ']>\n<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&lol9;</ETag></Part>'
          '</CompleteMultipartUpload>')


def test_an_xml_entity_bomb_in_complete_multipart_upload_is_a_400_and_completes_nothing(
        gateway, s3, backend):
    key = f"attack/bomb-{uid()}"
    c = s3["admin"]
    up = c.create_multipart_upload(Bucket="private", Key=key)["UploadId"]
    try:
        c.upload_part(Bucket="private", Key=key, UploadId=up, PartNumber=1, Body=b"part")
        body = BOMB.encode()
        r = signed_raw(gateway, "POST", f"/private/{key}?uploadId={quote(up, safe='')}", body=body,
                       headers={"content-type": "application/xml"})
        assert r.status_code == 400, (r.status_code, r.text[:300])
        assert_request_id(r.headers)
        assert b"<Code>" in r.content, r.text[:300]
        assert backend_object(backend, PRIVATE, key) is None
        assert_alive(gateway)
    finally:
        c.abort_multipart_upload(Bucket="private", Key=key, UploadId=up)


def test_anonymous_list_buckets_is_access_denied(gateway):
    r = requests.get(f"{gateway.endpoint}/")
    assert_s3_error(r, 403, "AccessDenied")
    assert b"<Bucket>" not in r.content


# Cut aws-chunked bodies -----------------------------------------------------------------------

def _hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def chunked_without_final_chunk(url, key, secret, data, chunk_size=8192, declare_full=False):
    """A signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload whose body lacks the final 0-chunk.
    The signed content-length is the body actually sent, or (declare_full) the full framing."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
    frame = lambda c: len(f"{len(c):x};chunk-signature=".encode()) + 64 + 4 + len(c)  # noqa: E731
    sent = sum(frame(c) for c in chunks)
    declared = sent + frame(b"") if declare_full else sent
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "content-length": str(declared)}
    url, headers = sign("PUT", url, key, secret, headers=headers, payload_hash=mode)
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    prev = headers["authorization"].rsplit("Signature=", 1)[1]
    k = _hm(_hm(_hm(_hm(("AWS4" + secret).encode(), amz_date[:8]), "us-east-1"), "s3"),
            "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for c in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + b"\r\n"
    assert len(body) == sent
    return url, headers, body


def test_a_signed_chunked_body_without_its_final_chunk_leaves_no_object(gateway, backend):
    key = f"attack/chunked-nofinal-{uid()}"
    url, headers, body = chunked_without_final_chunk(f"{gateway.endpoint}/private/{key}",
                                                     *KEYS["admin"], b"d" * 40_000)
    try:
        r = requests.put(url, data=body, headers=headers, timeout=60)
        assert r.status_code >= 400, (r.status_code, r.text[:300])
        assert_request_id(r.headers)
    except requests.ConnectionError:
        pass  # a connection closed without an answer is a refusal too
    time.sleep(0.5)
    assert backend_object(backend, PRIVATE, key) is None


def test_a_signed_chunked_body_cut_before_its_final_chunk_leaves_no_object(gateway, backend):
    key = f"attack/chunked-cut-{uid()}"
    url, headers, body = chunked_without_final_chunk(f"{gateway.endpoint}/private/{key}",
                                                     *KEYS["admin"], b"d" * 40_000,
                                                     declare_full=True)
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    try:
        head = f"PUT {parts.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(head.encode() + b"\r\n" + body)  # every data chunk, then the client hangs up
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass  # reset: refused without an answer
    finally:
        sock.close()
    if answer:
        # The client hung up, so no request id is required of what comes back: wrangler dev's
        # proxy, for one, answers a 500 in text of its own.
        status = int(answer.split(b" ", 2)[1])
        assert status >= 400, answer[:300]
    time.sleep(0.5)
    assert backend_object(backend, PRIVATE, key) is None


def test_a_body_never_sent_after_a_refusal_is_not_read_as_the_next_request(gateway):
    """A client that asks `Expect: 100-continue` and gets a refusal sends no body and reuses the
    connection (boto3 does). The body it announced must not swallow the start of its next request
    (this once turned a DELETE into `ELETE`, 405): the refusal ends the connection, or the next
    request is served whole."""
    parts = urlsplit(gateway.endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"PUT /public/x-{uid()} HTTP/1.1\r\nhost: {parts.netloc}\r\n"
                     "expect: 100-continue\r\ncontent-length: 1\r\n\r\n".encode())
        first = b""
        while True:
            while b"\r\n\r\n" not in first:
                chunk = sock.recv(65536)
                assert chunk, first
                first += chunk
            if not first.startswith(b"HTTP/1.1 100"):
                break
            # A server that invites the body (wrangler dev's proxy does) gets it, as boto3 would.
            first = first.partition(b"\r\n\r\n")[2]
            sock.sendall(b"x")
        head, _, rest = first.partition(b"\r\n\r\n")
        assert head.split(b" ", 2)[1] == b"403", head
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        while len(rest) < length:
            rest += sock.recv(65536)
        if gateway.runtime == "native":
            assert re.search(rb"(?i)\r\nconnection: *close", head), head
        # The same client, no body sent, goes on with its next request on this connection.
        try:
            sock.sendall(f"GET /public/hello.txt HTTP/1.1\r\nhost: {parts.netloc}\r\n"
                         "connection: close\r\n\r\n".encode())
            second = b""
            while chunk := sock.recv(65536):
                second += chunk
        except OSError:
            second = b""  # the connection was closed: the client retries on a new one
    if second:
        # Served as sent: the object's answer (there or not), not 400/405 for a mangled request.
        assert second.split(b" ", 2)[1] in (b"200", b"404"), second[:300]
