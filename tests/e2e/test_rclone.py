"""rclone (Debian's) against the gateway: copy, sync, ls, cat, delete, as people run it.

rclone fails on the AWS_CA_BUNDLE the environment may set (it applies it even over http), so it
runs without it."""
import hashlib
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import KEYS

RCLONE = shutil.which("rclone")
pytestmark = pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt package rclone)")


@pytest.fixture(scope="module")
def rclone(gateway):
    def run(*args, identity="admin", check=True):
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update(RCLONE_CONFIG_GW_TYPE="s3", RCLONE_CONFIG_GW_PROVIDER="Other",
                   RCLONE_CONFIG_GW_ENDPOINT=gateway.endpoint, RCLONE_CONFIG_GW_REGION="us-east-1",
                   RCLONE_CONFIG_GW_FORCE_PATH_STYLE="true", RCLONE_CONFIG="/dev/null")
        if identity:
            env["RCLONE_CONFIG_GW_ACCESS_KEY_ID"], env["RCLONE_CONFIG_GW_SECRET_ACCESS_KEY"] = KEYS[identity]
        else:
            env["RCLONE_CONFIG_GW_ANONYMOUS"] = "true"
        p = subprocess.run([RCLONE, *args], env=env, capture_output=True, text=True, timeout=600,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"rclone {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run


@pytest.fixture(params=["private", "r2"])
def bucket(request, gateway):
    if request.param == "r2" and gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    return request.param


def test_rclone_copy_sync_ls_cat_and_delete(rclone, bucket, tmp_path, s3):
    base = f"rclone-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    (src / "sub dir").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub dir/b+c=d.bin": os.urandom(300_000), "ü.txt": b"unicode\n",
             "big.bin": os.urandom(20 << 20)}  # above rclone's 5 MiB default cutoff: multipart
    for name, data in files.items():
        (src / name).write_bytes(data)
    rclone("copy", str(src), f"gw:{bucket}/{base}")
    listed = set(rclone("lsf", "-R", "--files-only", f"gw:{bucket}/{base}").stdout.splitlines())
    assert listed == set(files), listed
    assert rclone("cat", f"gw:{bucket}/{base}/a.txt").stdout == "alpha\n"
    got = s3["admin"].get_object(Bucket=bucket, Key=f"{base}/big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(files["big.bin"]).digest()
    rclone("check", str(src), f"gw:{bucket}/{base}")
    # sync deletes what the source no longer has
    (src / "a.txt").unlink()
    rclone("sync", str(src), f"gw:{bucket}/{base}")
    listed = set(rclone("lsf", "-R", "--files-only", f"gw:{bucket}/{base}").stdout.splitlines())
    assert "a.txt" not in listed and "big.bin" in listed
    rclone("purge", f"gw:{bucket}/{base}")
    assert rclone("lsf", "-R", f"gw:{bucket}/{base}", check=False).stdout.strip() == ""


def test_rclone_read_only_key_cannot_write(rclone, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    p = rclone("copyto", str(f), "gw:private/ro-test/x.txt", identity="reader", check=False)
    assert p.returncode != 0
    assert "AccessDenied" in p.stderr or "403" in p.stderr, p.stderr
