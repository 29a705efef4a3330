"""s3cmd against the gateway: it signs with bare-comma Authorization parameters and its own key
encoding, which the reference proxy got wrong."""
import os
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from conftest import KEYS


@pytest.fixture(scope="module")
def s3cmd(gateway, tmp_path_factory):
    host = urlsplit(gateway.endpoint).netloc
    cfg = tmp_path_factory.mktemp("s3cmd") / "s3cfg"
    key, secret = KEYS["admin"]
    cfg.write_text(f"""[default]
access_key = {key}
secret_key = {secret}
host_base = {host}
host_bucket = {host}
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
""")

    def run(*args, check=True):
        p = subprocess.run(["s3cmd", "-c", str(cfg), *args], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"s3cmd {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run


def test_s3cmd_put_ls_get_and_del_keys_with_special_characters(s3cmd, s3, tmp_path):
    base = f"s3cmd-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "file.bin"
    src.write_bytes(os.urandom(300_000))
    names = ["plain.bin", "with space.bin", "plus+eq=.bin", "ユニ.bin"]
    for n in names:
        s3cmd("put", str(src), f"s3://private/{base}/{n}")
    listed = s3cmd("ls", f"s3://private/{base}/").stdout
    for n in names:
        assert n in listed, listed
    out = tmp_path / "out.bin"
    s3cmd("get", "--force", f"s3://private/{base}/with space.bin", str(out))
    assert out.read_bytes() == src.read_bytes()
    s3cmd("del", "--recursive", "--force", f"s3://private/{base}/")
    assert s3["admin"].list_objects_v2(Bucket="private", Prefix=base).get("KeyCount", 0) == 0


def test_s3cmd_multipart_upload_of_a_larger_file(s3cmd, s3, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 << 20))
    key = f"s3cmd-mpu-{uuid.uuid4().hex[:8]}.bin"
    s3cmd("put", "--multipart-chunk-size-mb=5", str(src), f"s3://private/{key}")
    assert s3["admin"].head_object(Bucket="private", Key=key)["ContentLength"] == 20 << 20
