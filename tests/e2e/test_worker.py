"""The Worker runtime under `wrangler dev`: what only it has (config hot reload from KV, panic
recovery) and what its limits make worth proving (a 1 GiB object streaming both ways)."""
import copy
import hashlib
import json
import time

import pytest
import requests

from conftest import KEYS, boto
from helpers import assert_request_id, assert_s3_error
from sigv4 import sign


@pytest.fixture
def worker(gateway):
    if gateway.runtime != "worker":
        pytest.skip("Worker runtime only")
    return gateway


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.time() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.3)


def test_a_changed_kv_config_is_served_within_the_ttl_and_a_broken_one_keeps_the_last_good(worker):
    cfg = copy.deepcopy(worker.config)
    hot = copy.deepcopy(next(b for b in cfg["buckets"] if b["name"] == "public"))
    hot["name"] = "hot-reloaded"
    cfg["buckets"].append(hot)
    anon = boto(worker.endpoint)
    try:
        worker.worker.put_config(json.dumps(cfg))
        wait_for(lambda: requests.get(f"{worker.endpoint}/hot-reloaded?list-type=2").status_code == 200)
        # A broken document: the last good snapshot keeps serving, the refresh logs why.
        worker.worker.put_config("this is { not a config")
        time.sleep(2.5)  # past the 1 s TTL: at least one refresh attempt has run
        for _ in range(3):
            r = requests.get(f"{worker.endpoint}/hot-reloaded?list-type=2")
            assert r.status_code == 200, r.text
            time.sleep(0.5)
        assert anon.list_objects_v2(Bucket="public")["ResponseMetadata"]["HTTPStatusCode"] == 200
        wait_for(lambda: "config refresh failed" in worker.proc.tail(400))
    finally:
        worker.worker.put_config(json.dumps(worker.config))
    wait_for(lambda: requests.get(f"{worker.endpoint}/hot-reloaded?list-type=2").status_code == 404)


def test_a_panic_answers_500_internal_error_and_the_isolate_keeps_serving(worker):
    r = requests.get(f"{worker.endpoint}/public?list-type=2", headers={"x-multistore-test-panic": "1"})
    assert_s3_error(r, 500, "InternalError")
    for _ in range(3):
        r = requests.get(f"{worker.endpoint}/public?list-type=2")
        assert r.status_code == 200, r.text
        assert_request_id(r.headers)


class Pattern:
    """A file-like body of `size` bytes that is never held in memory."""

    def __init__(self, size, block=1 << 20):
        self.size, self.pos = size, 0
        self.block = bytes(range(256)) * (block // 256)
        self.sha = hashlib.sha256()

    def read(self, n=-1):
        if self.pos >= self.size:
            return b""
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        n = min(n, len(self.block))
        chunk = self.block[:n]
        self.pos += n
        self.sha.update(chunk)
        return chunk

    def __len__(self):
        return self.size - self.pos


def test_a_one_gib_object_streams_through_both_ways(worker, backend):
    size = 1 << 30
    key = "big/one-gib.bin"
    url, headers = sign("PUT", f"{worker.endpoint}/private/{key}", *KEYS["admin"],
                        payload_hash="UNSIGNED-PAYLOAD", headers={"content-length": str(size)})
    body = Pattern(size)
    r = requests.put(url, data=body, headers=headers, timeout=600)
    assert r.status_code == 200, r.text[:500]
    sent = body.sha.hexdigest()
    head = backend.head_object(Bucket="bk-private", Key=key)
    assert head["ContentLength"] == size
    url, headers = sign("GET", f"{worker.endpoint}/private/{key}", *KEYS["admin"])
    got, n = hashlib.sha256(), 0
    with requests.get(url, headers=headers, stream=True, timeout=600) as r:
        assert r.status_code == 200, r.text[:500]
        assert int(r.headers["content-length"]) == size
        for chunk in r.iter_content(1 << 20):
            got.update(chunk)
            n += len(chunk)
    assert n == size
    assert got.hexdigest() == sent
    backend.delete_object(Bucket="bk-private", Key=key)


def test_virtual_hosted_buckets_are_served_under_virtual_host_domain(worker, s3):
    s3["admin"].put_object(Bucket="public", Key="vhost/hello.txt", Body=b"hi there")
    host = "public.s3.worker.test"
    r = requests.get(f"{worker.endpoint}/vhost/hello.txt", headers={"host": host})
    assert r.status_code == 200, r.text
    assert r.content == b"hi there"
    r = requests.get(f"{worker.endpoint}/?list-type=2&prefix=vhost/", headers={"host": host})
    assert r.status_code == 200, r.text
    assert b"<Name>public</Name>" in r.content and b"vhost/hello.txt" in r.content
    # The bare domain stays path style.
    r = requests.get(f"{worker.endpoint}/public/vhost/hello.txt", headers={"host": "s3.worker.test"})
    assert r.status_code == 200 and r.content == b"hi there"


def test_config_can_come_from_an_object_in_an_r2_bucket(worker, workdir):
    from conftest import WorkerRuntime
    rt = WorkerRuntime(workdir, name="worker-r2-config",
                       extra_vars='CONFIG_R2_BINDING = "DATA"\nCONFIG_KEY = "gateway/config.json"')
    cfg = copy.deepcopy(worker.config)
    for b in cfg["buckets"]:
        if b["name"] == "public":
            b["name"] = "from-r2-config"
    path = rt.dir / "config.json"
    path.write_text(json.dumps(cfg))
    rt.r2_put("gateway/config.json", path)
    proc, endpoint = rt.start()
    try:
        r = requests.get(f"{endpoint}/from-r2-config?list-type=2")
        assert r.status_code == 200, r.text
        r = requests.get(f"{endpoint}/public?list-type=2")
        assert_s3_error(r, 404, "NoSuchBucket")
    finally:
        proc.stop()


def test_no_config_at_all_is_a_clear_503_not_a_crash(worker, workdir):
    from conftest import WorkerRuntime
    rt = WorkerRuntime(workdir, name="worker-no-config")
    proc, endpoint = rt.start()
    try:
        r = requests.get(f"{endpoint}/public?list-type=2")
        root = assert_s3_error(r, 503, "ServiceUnavailable")
        assert "CONFIG" in root.findtext("Message")
    finally:
        proc.stop()


def test_the_demo_is_dev_only_never_a_deployed_var(worker, workdir):
    """wrangler.toml's [vars] are deployed: the demo (published key, write access to the R2
    bucket) may only be switched on by `scripts/worker.sh dev`, as `--var MULTISTORE_DEMO:true`."""
    import tomllib
    from conftest import ROOT, WorkerRuntime
    shipped = tomllib.loads((ROOT / "wrangler.toml").read_text())
    for where, section in [("[vars]", shipped)] + [(f"[env.{n}.vars]", e)
                                                   for n, e in shipped.get("env", {}).items()]:
        assert "MULTISTORE_DEMO" not in section.get("vars", {}), f"{where} ships the demo"
    script = (ROOT / "scripts" / "worker.sh").read_text()
    dev_line = next(line for line in script.splitlines() if line.strip().startswith("dev)"))
    assert "--var MULTISTORE_DEMO:true" in dev_line, dev_line
    rt = WorkerRuntime(workdir, name="worker-demo")
    proc, endpoint = rt.start(extra_args=["--var", "MULTISTORE_DEMO:true"])
    try:
        r = requests.get(f"{endpoint}/demo?list-type=2")
        assert r.status_code == 200, r.text
        assert "hello.txt" in r.text
    finally:
        proc.stop()
