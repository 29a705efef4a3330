"""A small, independent SigV4 signer for crafting requests the SDKs will not send
(skewed clocks, mismatching payload hashes, odd encodings). Deliberately not botocore."""
import datetime
import hashlib
import hmac
import urllib.parse

UNRESERVED = "-_.~"


def _enc(s, safe=""):
    return urllib.parse.quote(s, safe=UNRESERVED + safe)


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign(method, url, key, secret, *, headers=None, body=b"", payload_hash=None, when=None,
         region="us-east-1", service="s3", host=None):
    """Returns (url, headers) for a header-signed request. `url` must be path-encoded already."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    parts = urllib.parse.urlsplit(url)
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    headers["host"] = host or parts.netloc
    headers["x-amz-date"] = amz_date
    if payload_hash is None:
        payload_hash = hashlib.sha256(body).hexdigest()
    headers["x-amz-content-sha256"] = payload_hash
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    cq = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(pairs))
    names = sorted(headers)
    ch = "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names)
    signed = ";".join(names)
    creq = "\n".join([method, parts.path or "/", cq, ch, signed, payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), service), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={sig}"
    )
    return url, headers
