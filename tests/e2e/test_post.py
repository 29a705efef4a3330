"""POST Object: browser form uploads signed with a POST policy (boto3 generate_presigned_post),
posted as real multipart/form-data, read back through the gateway. Bad policies, signatures and
bodies never leave an object behind."""
import hashlib
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from urllib3 import encode_multipart_formdata

from conftest import KEYS, boto
from helpers import assert_client_error, assert_request_id, assert_s3_error
from test_cors import page_server  # noqa: F401  (a fixture)

BIG = 300 << 10  # over the 65 KiB a form is read whole below: the file streams


def uid():
    return uuid.uuid4().hex[:10]


def data(n, seed=0):
    return bytes((i * 7 + seed) % 251 for i in range(n))


def presign(s3, bucket, key, fields=None, conditions=None, expires=300):
    return s3["admin"].generate_presigned_post(Bucket=bucket, Key=key, Fields=fields or {},
                                               Conditions=conditions or [], ExpiresIn=expires)


def post(post_, body, filename="hello.txt", extra=None, headers=None, **kw):
    """Posts the presigned fields (plus `extra`) and the file, file last, as browsers do."""
    fields = dict(post_["fields"])
    fields.update(extra or {})
    return requests.post(post_["url"], data=fields, files={"file": (filename, body)},
                         headers=headers, timeout=60, allow_redirects=False, **kw)


def assert_absent(s3, bucket, key):
    assert_client_error(s3["admin"].head_object, 404, "404", Bucket=bucket, Key=key)


@pytest.mark.parametrize("size", [11, BIG])
def test_a_presigned_post_stores_the_file_with_its_metadata_and_answers_201(gateway, s3, size):
    prefix = f"post/{uid()}/"
    fields = {"Content-Type": "text/plain", "x-amz-meta-team": "geo", "success_action_status": "201",
              "Cache-Control": "max-age=60"}
    conditions = [{"Content-Type": "text/plain"}, {"x-amz-meta-team": "geo"},
                  {"success_action_status": "201"}, {"Cache-Control": "max-age=60"},
                  ["content-length-range", 0, 10 << 20]]
    p = presign(s3, "private", prefix + "${filename}", fields, conditions)
    body = data(size)
    r = post(p, body, filename="report.txt")
    assert r.status_code == 201, r.text
    assert_request_id(r.headers)
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Bucket") == "private" and doc.findtext("Key") == prefix + "report.txt"
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert doc.findtext("ETag") == etag and r.headers["ETag"] == etag
    got = s3["admin"].get_object(Bucket="private", Key=prefix + "report.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"team": "geo"}


def test_the_default_answer_is_204_and_a_redirect_is_303_with_bucket_key_and_etag(gateway, s3):
    key = f"post/{uid()}"
    r = post(presign(s3, "private", key), b"plain")
    assert r.status_code == 204 and not r.content, r.text
    assert r.headers["ETag"] == f'"{hashlib.md5(b"plain").hexdigest()}"'

    key = f"post/{uid()}"
    assert post(presign(s3, "private", key), b"").status_code == 204
    assert s3["admin"].head_object(Bucket="private", Key=key)["ContentLength"] == 0

    key = f"post/{uid()}"
    target = "https://app.example/done?from=form"
    p = presign(s3, "private", key, {"success_action_redirect": target},
                [{"success_action_redirect": target}])
    r = post(p, data(BIG))
    assert r.status_code == 303, r.text
    loc = urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://app.example/done"
    q = parse_qs(loc.query)
    assert q["from"] == ["form"] and q["bucket"] == ["private"] and q["key"] == [key]
    assert q["etag"] == [f'"{hashlib.md5(data(BIG)).hexdigest()}"']
    assert s3["admin"].head_object(Bucket="private", Key=key)["ContentLength"] == BIG


def test_fields_after_a_small_file_are_ignored_as_s3_ignores_them(gateway, s3):
    key = f"post/{uid()}"
    p = presign(s3, "private", key)
    fields = list(p["fields"].items()) + [("file", ("a.txt", b"small file")), ("submit", "Upload")]
    body, ctype = encode_multipart_formdata(fields)
    r = requests.post(p["url"], data=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 204, r.text
    assert s3["admin"].get_object(Bucket="private", Key=key)["Body"].read() == b"small file"


def test_fields_after_a_large_file_are_refused_and_leave_no_object(gateway, s3):
    key = f"post/{uid()}"
    p = presign(s3, "private", key)
    fields = list(p["fields"].items()) + [("file", ("a.bin", data(BIG))), ("submit", "Upload")]
    body, ctype = encode_multipart_formdata(fields)
    r = requests.post(p["url"], data=body, headers={"Content-Type": ctype}, timeout=30)
    assert_s3_error(r, 400, "MalformedPOSTRequest")
    assert_absent(s3, "private", key)


def test_policy_violations_are_access_denied_naming_the_condition(gateway, s3):
    prefix = f"post/{uid()}/"
    p = presign(s3, "private", prefix + "${filename}")
    r = post(p, data(BIG), extra={"key": f"elsewhere/{uid()}"})
    root = assert_s3_error(r, 403, "AccessDenied")
    assert root.findtext("Message") == (
        f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "{prefix}"]')

    key = f"post/{uid()}"
    p = presign(s3, "private", key, {"Content-Type": "image/png"}, [{"Content-Type": "image/png"}])
    r = post(p, b"<html>", extra={"Content-Type": "text/html"})
    root = assert_s3_error(r, 403, "AccessDenied")
    assert '"$content-type", "image/png"' in root.findtext("Message")
    assert_absent(s3, "private", key)

    # A field no condition names.
    r = post(presign(s3, "private", key), b"x", extra={"x-amz-meta-extra": "1"})
    root = assert_s3_error(r, 403, "AccessDenied")
    assert root.findtext("Message") == "Invalid according to Policy: Extra input fields: x-amz-meta-extra"
    assert_absent(s3, "private", key)


def test_the_length_range_is_checked_before_anything_is_stored(gateway, s3):
    key = f"post/{uid()}"
    p = presign(s3, "private", key, conditions=[["content-length-range", 10, 1000]])
    r = post(p, data(BIG))
    root = assert_s3_error(r, 400, "EntityTooLarge")
    assert root.findtext("MaxSizeAllowed") == "1000"
    assert_s3_error(post(p, b"tiny"), 400, "EntityTooSmall")
    assert_absent(s3, "private", key)
    assert post(p, b"just right").status_code == 204


def test_expired_tampered_and_unknown_credentials_are_refused(gateway, s3):
    key = f"post/{uid()}"
    r = post(presign(s3, "private", key, expires=-60), b"x")
    root = assert_s3_error(r, 403, "AccessDenied")
    assert root.findtext("Message") == "Invalid according to Policy: Policy expired."

    p = presign(s3, "private", key)
    sig = p["fields"]["x-amz-signature"]
    r = post(p, b"x", extra={"x-amz-signature": ("0" if sig[0] != "0" else "1") + sig[1:]})
    assert_s3_error(r, 403, "SignatureDoesNotMatch")

    stranger = boto(gateway.endpoint, "AKIANOBODY000000", "nobody-secret")
    p = stranger.generate_presigned_post(Bucket="private", Key=key)
    assert_s3_error(post(p, b"x"), 403, "InvalidAccessKeyId")

    # A valid policy of a key that may not write there.
    reader = {"admin": boto(gateway.endpoint, *KEYS["reader"])}
    p = presign(reader, "private", key)
    assert_s3_error(post(p, b"x"), 403, "AccessDenied")
    assert_absent(s3, "private", key)


def v2_form_post(gateway, bucket, key, policy_doc):
    """A form signed as s3-tests sign theirs: SigV2 (HMAC-SHA1 of the base64 policy)."""
    import base64
    import hmac
    import json
    policy = base64.b64encode(json.dumps(policy_doc).encode())
    signature = base64.b64encode(hmac.new(KEYS["admin"][1].encode(), policy, hashlib.sha1).digest())
    fields = {"key": key, "AWSAccessKeyId": KEYS["admin"][0], "policy": policy.decode(),
              "signature": signature.decode()}
    return requests.post(f"{gateway.endpoint}/{bucket}", data=fields, files={"file": ("f", b"bar")},
                         timeout=60, allow_redirects=False)


def test_a_policy_expiration_that_is_not_iso_8601_utc_is_an_invalid_policy_document(gateway, s3):
    import datetime
    key = f"post/{uid()}"
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=6000)
    conditions = [{"bucket": "private"}, ["starts-with", "$key", "post/"]]
    # s3-tests' test_post_object_invalid_date_format: Python's str(datetime).
    for exp in [str(later), later.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "tomorrow"]:
        r = v2_form_post(gateway, "private", key, {"expiration": exp, "conditions": conditions})
        root = assert_s3_error(r, 400, "InvalidPolicyDocument")
        assert root.findtext("Message") == f"Invalid Policy: Invalid 'expiration' value: '{exp}'"
        assert_absent(s3, "private", key)
    ok = {"expiration": later.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
    assert v2_form_post(gateway, "private", key, ok).status_code == 204
    assert s3["admin"].get_object(Bucket="private", Key=key)["Body"].read() == b"bar"


def test_a_policy_condition_object_names_exactly_one_field(gateway, s3):
    key = f"post/{uid()}"
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6000))
    # s3-tests' test_post_object_empty_conditions: `[{}]`; S3 refuses two fields in one object too.
    for conditions in [[{}], [{"bucket": "private", "key": key}]]:
        r = v2_form_post(gateway, "private", key, {"expiration": exp, "conditions": conditions})
        root = assert_s3_error(r, 400, "InvalidPolicyDocument")
        assert root.findtext("Message") == ("Invalid Policy: Invalid Simple-Condition: "
                                            "Simple-Conditions must have exactly one property specified.")
        assert_absent(s3, "private", key)


def test_sigv2_post_policies_still_work(gateway, s3):
    v2 = boto3.client("s3", endpoint_url=gateway.endpoint, aws_access_key_id=KEYS["admin"][0],
                      aws_secret_access_key=KEYS["admin"][1], region_name="us-east-1",
                      config=Config(signature_version="s3", s3={"addressing_style": "path"}))
    key = f"post/{uid()}"
    p = v2.generate_presigned_post(Bucket="private", Key=key)
    assert "AWSAccessKeyId" in p["fields"] and "signature" in p["fields"], p
    assert post(p, b"v2 body").status_code == 204
    assert s3["admin"].get_object(Bucket="private", Key=key)["Body"].read() == b"v2 body"


def test_a_truncated_body_leaves_no_object(gateway, s3):
    for size, sent_fraction in ((4 << 20, 2), (BIG, 3)):
        key = f"post/{uid()}"
        p = presign(s3, "private", key)
        body, ctype = encode_multipart_formdata(list(p["fields"].items()) + [("file", ("f", data(size)))])
        parts = urlsplit(p["url"])
        sock = socket.create_connection((parts.hostname, parts.port))
        head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        sock.sendall(head.encode() + body[: len(body) // sent_fraction])
        time.sleep(0.5)
        sock.close()
        time.sleep(0.5)
        assert_absent(s3, "private", key)


def test_answers_carry_the_buckets_cors_headers(gateway, s3):
    origin = "http://allowed.cors.test:8000"
    key = f"post/{uid()}"
    r = post(presign(s3, "cors-strict", key), b"cors", headers={"Origin": origin})
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == origin
    r = post(presign(s3, "cors-strict", key, expires=-60), b"x", headers={"Origin": origin})
    assert r.status_code == 403 and r.headers["access-control-allow-origin"] == origin
    pre = requests.options(f"{gateway.endpoint}/cors-strict", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200 and "POST" in pre.headers["access-control-allow-methods"]


def test_an_r2_bucket_takes_post_uploads_on_the_worker(gateway, s3):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    for size in (5, BIG):
        key = f"post/{uid()}"
        p = presign(s3, "r2", key, {"Content-Type": "text/plain", "success_action_status": "201"},
                    [{"Content-Type": "text/plain"}, {"success_action_status": "201"}])
        body = data(size, seed=3)
        r = post(p, body)
        assert r.status_code == 201, r.text
        got = s3["admin"].get_object(Bucket="r2", Key=key)
        assert got["Body"].read() == body and got["ContentType"] == "text/plain"
    key = f"post/{uid()}"
    p = presign(s3, "r2", key, conditions=[["content-length-range", 0, 10]])
    assert_s3_error(post(p, data(BIG)), 400, "EntityTooLarge")
    assert_absent(s3, "r2", key)


def test_a_policy_signed_with_sts_session_credentials_carries_its_token(gateway, oidc):
    from test_sts import assume, session_s3
    creds = assume(gateway, oidc.token("alice"))["Credentials"]
    session = {"admin": session_s3(gateway, creds)}
    key = f"users/alice/post-{uid()}"
    p = presign(session, "private", key)
    assert p["fields"]["x-amz-security-token"] == creds["SessionToken"]
    assert post(p, b"from a session").status_code == 204
    assert session["admin"].get_object(Bucket="private", Key=key)["Body"].read() == b"from a session"
    # The session's scope still applies: users/{sub}/ only.
    other = f"users/bob/post-{uid()}"
    assert_s3_error(post(presign(session, "private", other), b"x"), 403, "AccessDenied")
    # A tampered token is not a session.
    r = post(p, b"x", extra={"x-amz-security-token": creds["SessionToken"][:-4] + "AAAA"})
    assert r.status_code in (400, 403), r.text


FORM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>post</title></head><body>
<pre id="out">pending</pre>
<script>
const out = document.getElementById('out');
const form = new FormData();
for (const [k, v] of Object.entries(%(fields)s)) form.append(k, v);
form.append('file', new Blob([%(body)s], {type: 'text/plain'}), 'from-browser.txt');
fetch(%(url)s, {method: 'POST', body: form})
  .then(async r => ({status: r.status, text: await r.text(), etag: r.headers.get('ETag')}))
  .catch(e => ({error: String(e)}))
  .then(res => { out.textContent = JSON.stringify(res); });
</script>
</body></html>
"""


def test_a_browser_page_of_another_origin_uploads_with_form_data(gateway, s3, tmp_path,
                                                                  page_server):
    import json
    from conftest import CORS_ALLOWED_HOST
    from test_cors import run_page
    root, port = page_server
    prefix = f"browser/{uid()}/"
    p = presign(s3, "cors-strict", prefix + "${filename}", {"success_action_status": "201"},
                [{"success_action_status": "201"}])
    body = "uploaded by a browser form"
    page = FORM_PAGE % {"fields": json.dumps(p["fields"]), "body": json.dumps(body),
                        "url": json.dumps(p["url"])}
    res = run_page(root, port, CORS_ALLOWED_HOST, page, tmp_path)
    assert res.get("status") == 201, res
    assert f"<Key>{prefix}from-browser.txt</Key>" in res["text"]
    assert res["etag"] == f'"{hashlib.md5(body.encode()).hexdigest()}"'
    got = s3["admin"].get_object(Bucket="cors-strict", Key=prefix + "from-browser.txt")
    assert got["Body"].read() == body.encode()
