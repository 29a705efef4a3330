"""aws-cli (v1) against the gateway: the commands people actually type."""
import hashlib
import os
import uuid

import pytest

from conftest import KEYS
from helpers import aws_cli


@pytest.fixture(scope="module")
def aws(gateway, tmp_path_factory):
    return aws_cli(gateway.endpoint, KEYS, tmp_path_factory.mktemp("awscli"))


def test_cp_up_and_down_a_100_mb_file_and_ls_and_rm(aws, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(100):
            f.write(os.urandom(1 << 20))
    key = f"cli/{uuid.uuid4().hex[:8]}/big.bin"
    aws("s3", "cp", str(src), f"s3://private/{key}")  # multipart above 8 MiB
    ls = aws("s3", "ls", f"s3://private/{key}").stdout
    assert str(100 << 20) in ls and "big.bin" in ls
    out = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://private/{key}", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    head = aws("s3api", "head-object", "--bucket", "private", "--key", key).stdout
    assert '"ContentLength": 104857600' in head
    aws("s3", "rm", f"s3://private/{key}")
    assert aws("s3api", "head-object", "--bucket", "private", "--key", key, check=False).returncode != 0


def test_anonymous_ls_of_a_public_bucket(aws, s3):
    s3["admin"].put_object(Bucket="public", Key="cli-visible.txt", Body=b"x")
    out = aws("s3", "ls", "s3://public/", identity=None).stdout
    assert "cli-visible.txt" in out


def test_rm_recursive_removes_keys_with_special_characters(aws, s3, tmp_path):
    base = f"cli-rm-{uuid.uuid4().hex[:8]}/"
    names = ["a b.txt", "plus+eq=.txt", "ユニ.txt", "pct%25.txt", "bang!(x)'*.txt"]
    for n in names:
        s3["admin"].put_object(Bucket="private", Key=base + n, Body=b"1")
    listed = aws("s3", "ls", f"s3://private/{base}").stdout
    for n in names:
        assert n in listed, listed
    aws("s3", "rm", "--recursive", f"s3://private/{base}")
    left = s3["admin"].list_objects_v2(Bucket="private", Prefix=base).get("Contents", [])
    assert left == [], left


def test_sync_uploads_a_directory(aws, s3, tmp_path):
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "one.txt").write_text("1")
    (d / "sub" / "two.txt").write_text("2")
    base = f"cli-sync-{uuid.uuid4().hex[:8]}"
    aws("s3", "sync", str(d), f"s3://private/{base}")
    keys = sorted(o["Key"] for o in s3["admin"].list_objects_v2(Bucket="private", Prefix=base)["Contents"])
    assert keys == [f"{base}/one.txt", f"{base}/sub/two.txt"]


def test_cli_reports_access_denied_for_a_read_only_key(aws, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    p = aws("s3", "cp", str(f), "s3://private/denied.txt", identity="reader", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr


def test_cp_of_a_multipart_file_to_an_r2_bucket(aws, gateway, tmp_path):
    if gateway.runtime != "worker":
        pytest.skip("R2 bindings exist only in the Worker")
    src = tmp_path / "r2.bin"
    src.write_bytes(os.urandom(20 << 20))  # 3 parts of aws-cli's 8 MiB
    key = f"cli/{uuid.uuid4().hex[:8]}/r2.bin"
    aws("s3", "cp", str(src), f"s3://r2/{key}")
    head = aws("s3api", "head-object", "--bucket", "r2", "--key", key).stdout
    assert '"ContentLength": 20971520' in head and '-3\\""' in head
    out = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://r2/{key}", str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert "Uploads" not in aws("s3api", "list-multipart-uploads", "--bucket", "r2",
                                "--prefix", key).stdout
    aws("s3", "rm", f"s3://r2/{key}")
