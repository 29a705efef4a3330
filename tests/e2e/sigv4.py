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


def sign_chunked(url, key, secret, data, *, chunk_size=65536, tamper_chunk=None, trailer=None,
                 region="us-east-1", service="s3"):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload as the AWS SDKs send it: (url, headers, body).
    `trailer` = (name, value) makes it the -TRAILER variant; `tamper_chunk` flips a byte after signing."""
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    extra = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        extra["x-amz-trailer"] = trailer[0]
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    # The body length must be signed (content-length), so compute it before signing.
    def frame_len(c):
        return len(f"{len(c):x};chunk-signature=".encode()) + 64 + 2 + len(c) + 2
    total = sum(frame_len(c) for c in chunks)
    if trailer:
        total += len(f"{trailer[0]}:{trailer[1]}\r\n") + len("x-amz-trailer-signature:") + 64 + 2 + 2
    extra["content-length"] = str(total)
    when = datetime.datetime.now(datetime.timezone.utc)
    url, headers = sign("PUT", url, key, secret, headers=extra, payload_hash=mode, when=when,
                        region=region, service=service)
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    prev = headers["authorization"].rsplit("Signature=", 1)[1]
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), amz_date[:8]), region), service), "aws4_request")
    empty = hashlib.sha256(b"").hexdigest()
    body = b""
    for i, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty, hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if tamper_chunk == i and c:
            c = bytes([c[0] ^ 1]) + c[1:]
        body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + b"\r\n"
    if trailer:
        line = f"{trailer[0]}:{trailer[1]}"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                         hashlib.sha256((line + "\n").encode()).hexdigest()])
        tsig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{line}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    assert len(body) == total, (len(body), total)
    return url, headers, body
