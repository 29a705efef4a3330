"""ceph/s3-tests straight at SeaweedFS and through the native gateway; see run.sh."""
import json
import os
import re
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
HERE = Path(__file__).resolve().parent
# The pinned source sits next to the repository (`.ci/run` runs a fresh clone beside ../shared).
S3TESTS = Path(os.environ.get("S3TESTS_SRC") or ROOT.parent / "shared" / "s3-tests")
SERVER = os.environ.get("MULTISTORE_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "multistore-server")
# The passes run one after the other; tests wait on the network a lot, so 4 workers keep 2 cores
# busy.
WORKERS = os.environ.get("CONFORMANCE_WORKERS", "4")
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


def gateway_actions():
    """Every action the gateway knows, read from `Action::NAMES` in src/policy.rs (the list
    config names are checked against), so the s3-tests users get each new action unedited."""
    src = (ROOT / "src" / "policy.rs").read_text()
    m = re.search(r"pub const NAMES: \[&'static str; \d+\] = \[(.*?)\];", src, re.S)
    names = re.findall(r'"([a-z_0-9]+)"', m.group(1)) if m else []
    if not names:
        sys.exit("conformance: cannot read Action::NAMES from src/policy.rs")
    return names


ACTIONS = gateway_actions()
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


def run_suite(work, src, port, tag, tests=None):
    """Runs the selection (or only `tests`, ids as in the lists) against `port`."""
    conf = work / f"s3tests-{tag}.conf"
    s3tests_conf(conf, port, tag)
    xml = work / f"junit-{tag}.xml"
    targets = FILES if tests is None else [
        f"s3tests/functional/{t.split('::', 1)[0]}.py::{t.split('::', 1)[1]}" for t in tests]
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
            "-m", MARKERS, f"--junitxml={xml}", *targets] + (["-k", K] if K else [])
    if WORKERS != "0":
        args[3:3] = ["-n", WORKERS]
    # No SDK retries: a failing test fails at once instead of backing off through five attempts
    # (about half the wall time went there); a regression gets a second run of its own instead.
    env = dict(os.environ, S3TEST_CONF=str(conf), PYTHONDONTWRITEBYTECODE="1",
               AWS_MAX_ATTEMPTS=os.environ.get("CONFORMANCE_MAX_ATTEMPTS", "1"))
    t = time.time()
    with open(work / f"pytest-{tag}.log", "wb") as log:
        subprocess.run(args, cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT,
                       timeout=3600)
    print(f"  {tag}: {len(tests) if tests is not None else 'all'} tests in "
          f"{time.time() - t:.0f}s", flush=True)
    if not xml.exists():
        raise RuntimeError(f"pytest wrote no results ({tag}): see {work / f'pytest-{tag}.log'}")
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


def read_list(path):
    """The test ids of a list file: one per line, `#` starts a comment."""
    if not path.exists():
        return []
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def main():
    if not (S3TESTS / "s3tests" / "functional" / "test_s3.py").exists():
        sys.exit(f"conformance: no ceph/s3-tests source at {S3TESTS}. Put the pinned source there "
                 "(see its PINNED.txt), point S3TESTS_SRC at it, or skip this stage explicitly "
                 "(tests/run.sh --quick, or CONFORMANCE=0).")
    if not os.access(SERVER, os.X_OK):
        sys.exit(f"no gateway binary at {SERVER}: build it (cargo build --release -p "
                 "multistore-server) or set MULTISTORE_BIN")
    by_design = read_list(HERE / "by_design.txt")
    allowed = set(by_design)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="conformance-"))
    src = work / "s3-tests"
    shutil.copytree(S3TESTS, src, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    print(f"work dir: {work}", flush=True)
    # Each run gets its own fresh SeaweedFS (a run through the gateway cannot list, hence clean,
    # the buckets it leaves). Only what passed direct runs through the gateway (the rest cannot
    # count: about 40% of the selection, and most of the time); its SeaweedFS and gateway start
    # while the direct pass runs.
    results, errors, direct_done = {}, {}, threading.Event()

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
            if not via_gateway:
                results[tag] = run_suite(w, src, port, tag)
            else:
                direct_done.wait()
                ok = sorted(n for n, (o, _) in results.get("direct", {}).items() if o == "passed")
                if not ok:
                    raise RuntimeError("nothing passed direct")
                results[tag] = run_suite(w, src, port, tag, ok)
                # What passed direct but failed here, and is not on a list, gets a second try
                # (one SeaweedFS hiccup must not fail the stage); a pass then is reported.
                again = [n for n in ok if n not in allowed
                         and results[tag].get(n, ("missing",))[0] != "passed"]
                if again:
                    results["rerun"] = run_suite(w, src, port, "gateway-rerun", again)
        except Exception as e:  # reported below: the stage fails
            errors[tag] = e
        finally:
            if not via_gateway:
                direct_done.set()
            for p in reversed(procs):
                p.stop()

    threads = [threading.Thread(target=one, args=a) for a in (("direct", False), ("gateway", True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tag, e in errors.items():
        print(f"conformance: the {tag} pass failed to run: {e}", file=sys.stderr)
    if errors or not results.get("direct") or not results.get("gateway"):
        sys.exit(f"conformance: FAILED (the passes did not run; logs in {work})")
    direct, through, rerun = results["direct"], results["gateway"], results.get("rerun", {})
    selected = sorted(direct)
    ok_direct = {n for n, (o, _) in direct.items() if o == "passed"}
    ok_gw = {n for n, (o, _) in through.items() if o == "passed"}
    flaky = {n for n, (o, _) in rerun.items() if o == "passed"}
    regressions = sorted(ok_direct - ok_gw)
    unexpected = [n for n in regressions if n not in allowed and n not in flaky]
    # The lists must not rot: an entry that passes through the gateway now, or names no test
    # of the selection, is to be removed.
    stale = [(n, "passes through the gateway now") for n in by_design if n in ok_gw]
    # (A part of the selection, CONFORMANCE_K, leaves most entries out: not checked then.)
    stale += [(n, "is no test of the selection") for n in by_design if n not in direct and not K]
    out = [f"ceph/s3-tests ({(S3TESTS / 'PINNED.txt').read_text().split(',')[0].strip()})"
           f" -m '{MARKERS}'",
           f"gateway: {SERVER}",
           f"tests selected:                 {len(selected)}",
           f"passed direct (SeaweedFS):      {len(ok_direct)}",
           f"of those, pass via the gateway: {len(ok_direct & ok_gw)}",
           f"pass direct, fail via gateway:  {len(regressions)}",
           f"  by design (by_design.txt):    {len(set(regressions) & set(by_design))}"
           f" of {len(by_design)} listed",
           f"  passed when run again:        {len(flaky & set(regressions))}",
           f"  unexpected (regressions):     {len(unexpected)}",
           f"wall time:                      {time.time() - started:.0f}s", ""]
    for n in regressions:
        outcome, msg = through.get(n, ("missing", ""))
        mark = ("by design" if n in by_design
                else "flaky: passed again" if n in flaky else "REGRESSION")
        out.append(f"{n}  [{mark}; {outcome}] {msg}")
    if stale:
        out += ["", "STALE list entries (remove them):"]
        out += [f"  tests/conformance/by_design.txt: {n} {why}" for n, why in stale]
    if unexpected:
        out += ["", f"REGRESSIONS: {len(unexpected)} tests pass straight at SeaweedFS but fail "
                "through the gateway; fix them (by_design.txt is only for what is no gateway's "
                "business):"] + [f"  {n}" for n in unexpected]
    text = "\n".join(out) + "\n"
    print(text)
    dest = ROOT / "bench" / "out"
    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (dest / f"conformance-{stamp}.txt").write_text(text)
    print(f"written to bench/out/conformance-{stamp}.txt")
    if unexpected or stale:
        sys.exit(f"conformance: FAILED ({len(unexpected)} regressions, {len(stale)} stale list "
                 f"entries); logs (pytest-*.log, gateway.log, weed.log) in {work}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"conformance: OK ({len(by_design)} by design, none else lost)")


if __name__ == "__main__":
    main()
