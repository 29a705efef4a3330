"""ceph/s3-tests straight at SeaweedFS and through the native gateway; see run.sh."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
S3TESTS = Path(os.environ.get("S3TESTS_SRC", "/work/shared/s3-tests"))
SERVER = os.environ.get("MULTISTORE_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "multistore-server")
WORKERS = os.environ.get("CONFORMANCE_WORKERS", "2")
# A pytest -k expression to run a part of the selection (e.g. CONFORMANCE_K=versioning).
K = os.environ.get("CONFORMANCE_K", "")
FILES = ["s3tests/functional/test_s3.py", "s3tests/functional/test_headers.py"]
# Features neither SeaweedFS nor the gateway has (markers of s3-tests' pytest.ini: lifecycle,
# website, select, logging, IAM/STS, storage classes, ...), and behaviour that is not S3's (tests
# that fail on RGW, the suite's own reference, or on AWS). Bucket policies, ACLs and ownership stay
# in: SeaweedFS has some, and what the gateway does not pass on is to be listed by design.
EXCLUDED = [
    "fails_on_rgw", "fails_on_aws", "lifecycle", "lifecycle_expiration", "lifecycle_transition",
    "cloud_transition", "cloud_restore", "target_by_bucket", "s3select", "s3website",
    "s3website_routing_rules", "s3website_redirect_location", "sns", "bucket_logging",
    "bucket_logging_cleanup", "fails_without_logging_rollover", "appendobject", "sse_s3",
    "bucket_encryption", "storage_class", "iam_account", "iam_cross_account", "iam_role",
    "iam_tenant", "iam_user", "user_policy", "role_policy", "session_policy", "group",
    "group_policy", "abac_test", "test_of_sts", "webidentity_test", "token_claims_trust_policy_test",
    "token_principal_tag_role_policy_test", "token_request_tag_trust_policy_test",
    "token_resource_tags_test", "token_role_tags_test", "token_tag_keys_test",
]
MARKERS = " and ".join(f"not {m}" for m in EXCLUDED)
ACTIONS = ["get_object", "head_object", "put_object", "delete_object", "list_bucket",
           "create_multipart_upload", "upload_part", "complete_multipart_upload",
           "abort_multipart_upload", "list_multipart_upload_parts",
           "list_bucket_multipart_uploads", "create_bucket", "delete_bucket",
           "get_object_tagging", "put_object_tagging", "get_object_version",
           "delete_object_version", "list_bucket_versions", "get_bucket_versioning",
           "put_bucket_versioning",
           "get_object_retention",
           "put_object_retention", "get_object_legal_hold", "put_object_legal_hold",
           "get_bucket_object_lock_configuration", "put_bucket_object_lock_configuration",
           "bypass_governance_retention", "get_bucket_tagging", "put_bucket_tagging",
           "get_encryption_configuration", "put_encryption_configuration"]
# The users of s3tests.conf (keys from its SAMPLE); main is SeaweedFS's admin and the
# gateway's backend identity.
USERS = {
    "main": ("0555b35654ad1656d804", "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=="),
    "alt": ("NOPQRSTUVWXYZABCDEFG", "nopqrstuvwxyzabcdefghijklmnabcdefghijklm"),
    "tenant": ("HIJKLMNOPQRSTUVWXYZA", "opqrstuvwxyzabcdefghijklmnopqrstuvwxyzab"),
}


def free_port(pair=False):
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
    def __init__(self, args, log, env=None):
        self.log = Path(log)
        self.fh = open(self.log, "wb")
        self.p = subprocess.Popen(args, stdout=self.fh, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(self):
        if self.p.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.p.pid, sig)
                    self.p.wait(wait)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        self.fh.close()


def wait_http(url, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.p.poll() is not None:
            raise RuntimeError(f"{proc.log} exited early:\n{proc.log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code in (200, 403):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def start_seaweed(work):
    ids = work / "identities.json"
    ids.write_text(json.dumps({"identities": [
        {"name": name, "credentials": [{"accessKey": k, "secretKey": s}],
         "actions": (["Admin"] if name == "main" else []) + ["Read", "Write", "List", "Tagging"]}
        for name, (k, s) in USERS.items()]}))
    (work / "weed").mkdir()
    # Every bucket is a SeaweedFS collection with volumes of its own: small volumes and a high
    # count, or a few hundred test buckets exhaust it ("No writable volumes").
    p = {n: free_port(pair=True) for n in ("master", "volume", "filer", "s3", "webdav")}
    proc = Proc(["weed", "mini", f"-dir={work / 'weed'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                 f"-master.port={p['master']}", f"-volume.port={p['volume']}",
                 f"-filer.port={p['filer']}", f"-s3.port={p['s3']}",
                 f"-webdav.port={p['webdav']}", "-admin.ui=false", f"-s3.config={ids}",
                 "-master.volumeSizeLimitMB=64", "-volume.max=5000",
                 "-s3.port.iceberg=0", "-s3.port.lance=0"],  # fixed ports: two at once
                work / "weed.log")
    wait_http(f"http://127.0.0.1:{p['s3']}/", proc, 90)
    # The S3 port answers before the filer is ready to create buckets.
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{p['s3']}", region_name="us-east-1",
                     aws_access_key_id=USERS["main"][0], aws_secret_access_key=USERS["main"][1],
                     config=Config(s3={"addressing_style": "path"}))
    deadline = time.time() + 60
    while True:
        try:
            c.create_bucket(Bucket="conformance-probe")
            c.delete_bucket(Bucket="conformance-probe")
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    return proc, p["s3"]


def start_gateway(work, s3_port):
    main_key, main_secret = USERS["main"]
    lines = ['[[buckets]]', 'name = "*"', 'backend_type = "s3"', '[buckets.backend_options]',
             f'endpoint = "http://127.0.0.1:{s3_port}"', 'region = "us-east-1"',
             f'access_key_id = "{main_key}"', f'secret_access_key = "{main_secret}"', '']
    for name, (k, s) in USERS.items():
        lines += ['[[credentials]]', f'access_key_id = "{k}"', f'secret_access_key = "{s}"',
                  f'principal_name = "{name}"', 'enabled = true',
                  '[[credentials.allowed_scopes]]', 'bucket = "*"', 'prefixes = []',
                  f'actions = {json.dumps(ACTIONS)}', '']
    cfg = work / "gw.toml"
    cfg.write_text("\n".join(lines))
    port = free_port()
    proc = Proc([SERVER, "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                work / "gateway.log", env=dict(os.environ, RUST_LOG="multistore=info"))
    wait_http(f"http://127.0.0.1:{port}/", proc, 30)
    return proc, port


def s3tests_conf(path, port, tag):
    sections = [f"[DEFAULT]\nhost = 127.0.0.1\nport = {port}\nis_secure = False\nssl_verify = False",
                f"[fixtures]\nbucket prefix = {tag}-{{random}}-"]
    for name, (k, s) in USERS.items():
        extra = "tenant = testx\n" if name == "tenant" else "api_name = default\n" if name == "main" else ""
        sections.append(f"[s3 {name}]\ndisplay_name = {name}\nuser_id = {name}\n"
                        f"email = {name}@example.com\naccess_key = {k}\nsecret_key = {s}\n{extra}")
    for sec in ("iam", "iam root", "iam alt root"):
        sections.append(f"[{sec}]\ndisplay_name = {sec}\nuser_id = RGW{sec.replace(' ', '')}\n"
                        f"email = x@example.com\naccess_key = {USERS['main'][0]}\n"
                        f"secret_key = {USERS['main'][1]}")
    path.write_text("\n\n".join(sections) + "\n")


def run_suite(work, src, port, tag):
    conf = work / f"s3tests-{tag}.conf"
    s3tests_conf(conf, port, tag)
    xml = work / f"junit-{tag}.xml"
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
            "-m", MARKERS, f"--junitxml={xml}", *FILES] + (["-k", K] if K else [])
    if WORKERS != "0":
        args[3:3] = ["-n", WORKERS]
    env = dict(os.environ, S3TEST_CONF=str(conf), PYTHONDONTWRITEBYTECODE="1")
    t = time.time()
    with open(work / f"pytest-{tag}.log", "wb") as log:
        subprocess.run(args, cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT,
                       timeout=3600)
    print(f"  {tag}: {time.time() - t:.0f}s", flush=True)
    return parse_junit(xml)


def parse_junit(xml):
    """name -> (outcome, first line of the failure)."""
    results = {}
    for tc in ET.parse(xml).iter("testcase"):
        name = f"{tc.get('classname', '').rsplit('.', 1)[-1]}::{tc.get('name')}"
        outcome, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                text = (child.get("message") or child.text or "").strip()
                msg = text.splitlines()[0][:200] if text else ""
                break
        results[name] = (outcome, msg)
    return results


def main():
    if not os.access(SERVER, os.X_OK):
        sys.exit(f"no gateway binary at {SERVER}: build it (cargo build --release -p "
                 "multistore-server) or set MULTISTORE_BIN")
    work = Path(tempfile.mkdtemp(prefix="conformance-"))
    src = work / "s3-tests"
    shutil.copytree(S3TESTS, src, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    print(f"work dir: {work}", flush=True)
    # Each run gets its own fresh SeaweedFS (a run through the gateway cannot list, hence clean,
    # the buckets it leaves); both run at once to keep the wall time down.
    results = {}

    def one(tag, via_gateway):
        w = work / tag
        w.mkdir()
        procs = []
        try:
            weed, s3_port = start_seaweed(w)
            procs.append(weed)
            port = s3_port
            if via_gateway:
                gw, port = start_gateway(w, s3_port)
                procs.append(gw)
            print(f"{tag}: SeaweedFS :{s3_port}, s3-tests against :{port}", flush=True)
            results[tag] = run_suite(w, src, port, tag)
        finally:
            for p in reversed(procs):
                p.stop()

    threads = [threading.Thread(target=one, args=a) for a in (("direct", False), ("gateway", True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    direct, through = results["direct"], results["gateway"]
    selected = sorted(set(direct) | set(through))
    ok_direct = {n for n, (o, _) in direct.items() if o == "passed"}
    ok_gw = {n for n, (o, _) in through.items() if o == "passed"}
    regressions = sorted(ok_direct - ok_gw)
    out = [f"ceph/s3-tests ({(S3TESTS / 'PINNED.txt').read_text().split(',')[0].strip()})"
           f" -m '{MARKERS}'",
           f"gateway: {SERVER}",
           f"tests selected:                 {len(selected)}",
           f"passed direct (SeaweedFS):      {len(ok_direct)}",
           f"passed through the gateway:     {len(ok_gw)}",
           f"  of which also pass direct:    {len(ok_direct & ok_gw)}",
           f"pass direct, fail via gateway:  {len(regressions)}", ""]
    for n in regressions:
        outcome, msg = through.get(n, ("missing", ""))
        out.append(f"{n}  [{outcome}] {msg}")
    gained = sorted(ok_gw - ok_direct)
    if gained:
        out += ["", f"pass through the gateway only: {len(gained)}"] + gained
    text = "\n".join(out) + "\n"
    print(text)
    dest = ROOT / "bench" / "out"
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (dest / f"conformance-{stamp}.txt").write_text(text)
    print(f"written to bench/out/conformance-{stamp}.txt; logs in {work}")


if __name__ == "__main__":
    main()
