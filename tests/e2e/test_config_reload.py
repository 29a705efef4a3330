"""The native server follows its config file: re-checked every CONFIG_TTL_SECONDS and on SIGHUP,
a broken file keeps the last good config serving (the Worker's KV refresh: test_worker.py).

Each test starts its own multistore-server on its own config file (the shared gateway's file is
never touched), so these run only against the native runtime.
"""
import copy
import os
import signal
import time

import pytest
import requests

from conftest import KEYS, RUNTIMES, Proc, free_port, gateway_config, server_binary, toml_dump, wait_http
from helpers import assert_s3_error
from sigv4 import sign

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MULTISTORE_ENDPOINT")) or "native" not in RUNTIMES,
    reason="starts its own native server processes")

WARNING = "config refresh failed, still serving the last good config"


class Server:
    def __init__(self, seaweed, tmp_path, ttl):
        self.cfg = gateway_config(seaweed)
        self.path = tmp_path / "reloading.toml"
        self.write(self.cfg)
        self.port = free_port()
        env = dict(os.environ, RUST_LOG="multistore=info", CONFIG_TTL_SECONDS=ttl)
        self.proc = Proc([server_binary(), "--config", str(self.path), "--listen",
                          f"127.0.0.1:{self.port}"], tmp_path / "reloading.log", env=env)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        wait_http(self.endpoint + "/", self.proc, timeout=30)

    def write(self, cfg_or_text):
        """Replaces the file the way deploy tools do: a new file renamed over the old one."""
        text = cfg_or_text if isinstance(cfg_or_text, str) else toml_dump(cfg_or_text)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def anon_list(self, bucket):
        return requests.get(f"{self.endpoint}/{bucket}?list-type=2", timeout=10)

    def signed_list(self, who, bucket, prefix=""):
        url, h = sign("GET", f"{self.endpoint}/{bucket}?list-type=2&prefix={prefix}", *KEYS[who])
        return requests.get(url, headers=h, timeout=10)

    def log_count(self, needle):
        return self.proc.tail(100000).count(needle)


@pytest.fixture
def server(request, seaweed, tmp_path):
    s = Server(seaweed, tmp_path, getattr(request, "param", "1"))
    try:
        yield s
    finally:
        s.proc.stop()


def wait_for(check, timeout=15):
    """Polls `check` until it holds (the TTL is 1 s; the deadline is generous on purpose)."""
    deadline = time.time() + timeout
    while True:
        if check():
            return
        if time.time() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.2)


def with_hot_bucket(cfg, name="hot-reloaded"):
    cfg = copy.deepcopy(cfg)
    hot = copy.deepcopy(next(b for b in cfg["buckets"] if b["name"] == "public"))
    hot["name"] = name
    cfg["buckets"].append(hot)
    return cfg


def test_a_changed_config_file_is_served_within_the_ttl(server):
    assert_s3_error(server.anon_list("hot-reloaded"), 404, "NoSuchBucket")
    assert server.signed_list("reader", "private").status_code == 200
    assert server.signed_list("scoped", "private", "team/").status_code == 200
    cfg = with_hot_bucket(server.cfg)
    for c in cfg["credentials"]:
        if c["principal_name"] == "reader":
            c["enabled"] = False
    cfg["credentials"] = [c for c in cfg["credentials"] if c["principal_name"] != "scoped"]
    server.write(cfg)
    wait_for(lambda: server.anon_list("hot-reloaded").status_code == 200)
    # Keys the new file disables or no longer has stop working with it.
    assert_s3_error(server.signed_list("reader", "private"), 403, "AccessDenied")
    assert_s3_error(server.signed_list("scoped", "private", "team/"), 403, "InvalidAccessKeyId")
    assert server.signed_list("admin", "private").status_code == 200
    assert server.log_count("config reloaded") == 1, server.proc.tail()
    # Back as it was, written in place this time: the bucket goes, the keys work again.
    server.path.write_text(toml_dump(server.cfg))
    wait_for(lambda: server.anon_list("hot-reloaded").status_code == 404)
    assert server.signed_list("reader", "private").status_code == 200


def test_a_broken_config_file_keeps_the_last_good_config_serving(server):
    server.write(with_hot_bucket(server.cfg))
    wait_for(lambda: server.anon_list("hot-reloaded").status_code == 200)
    server.write("this is [ not a config")
    wait_for(lambda: server.log_count(WARNING) >= 1)
    time.sleep(2.5)  # past two more 1 s checks: the same broken file is not reported again
    assert server.log_count(WARNING) == 1, server.proc.tail()
    for _ in range(3):
        assert server.anon_list("hot-reloaded").status_code == 200
        assert server.signed_list("reader", "private").status_code == 200
    # A config that parses but does not validate is refused the same way, with its reason.
    bad = copy.deepcopy(server.cfg)
    bad["buckets"].append(copy.deepcopy(bad["buckets"][0]))  # a duplicate bucket name
    server.write(bad)
    wait_for(lambda: server.log_count(WARNING) >= 2)
    assert server.anon_list("hot-reloaded").status_code == 200
    # A good file again is served.
    server.write(with_hot_bucket(server.cfg, "hot-again"))
    wait_for(lambda: server.anon_list("hot-again").status_code == 200)
    assert_s3_error(server.anon_list("hot-reloaded"), 404, "NoSuchBucket")
    assert server.proc.alive()


@pytest.mark.parametrize("server", ["0"], indirect=True)
def test_sighup_applies_a_change_at_once(server):
    # CONFIG_TTL_SECONDS=0: no timed refresh, so only the signal can apply the change.
    server.write(with_hot_bucket(server.cfg))
    assert_s3_error(server.anon_list("hot-reloaded"), 404, "NoSuchBucket")
    os.kill(server.proc.p.pid, signal.SIGHUP)
    wait_for(lambda: server.anon_list("hot-reloaded").status_code == 200, timeout=10)
    assert server.log_count("config reloaded on SIGHUP") == 1, server.proc.tail()
    # An unchanged file on SIGHUP: nothing rebuilt; the server keeps running (SIGHUP does not
    # terminate it).
    os.kill(server.proc.p.pid, signal.SIGHUP)
    wait_for(lambda: server.log_count("SIGHUP: the config is unchanged") == 1, timeout=10)
    assert server.proc.alive()
    assert server.anon_list("hot-reloaded").status_code == 200
