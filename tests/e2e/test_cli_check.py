"""`multistore-server check`, `--help` and `--version`: the operator's command line.

`check` loads the config exactly as the server does at start and reports without listening.
These run the native binary only (no backend is needed: `check` contacts nothing).
"""
import base64
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import OIDC_PROVIDER_KEY, server_binary

pytestmark = pytest.mark.skipif("native" not in os.environ.get("MULTISTORE_RUNTIMES", "native"),
                                reason="runs the native binary")

ROOT = Path(__file__).resolve().parents[2]
# Every environment variable the native server reads (native-shim/src), and env_logger's two.
ENV_VARS = ["RUST_LOG", "RUST_LOG_STYLE", "SESSION_TOKEN_KEY", "SESSION_TOKEN_KEY_PREVIOUS",
            "OIDC_PROVIDER_KEY", "OIDC_PROVIDER_KEY_PREVIOUS", "OIDC_PROVIDER_ISSUER",
            "BACKEND_TIMEOUT_SECONDS", "CONFIG_TTL_SECONDS"]
FLAGS = ["--config", "--listen", "--domain", "--sts-config", "--help", "--version"]

GOOD = """
bogus_key = 1

[[buckets]]
name = "data"
backend_type = "s3"
[buckets.backend_options]
endpoint = "http://127.0.0.1:1"
bucket_name = "bk"
access_key_id = "AK"
secret_access_key = "backend-secret-good"

[[credentials]]
access_key_id = "KEY1"
secret_access_key = "credential-secret-good"
[[credentials.allowed_scopes]]
bucket = "data"
actions = ["get_object"]
"""

# Two problems, each next to a secret.
BAD = """
[[buckets]]
name = "data"
backend_type = "s3"
[buckets.backend_options]
endpoint = "ftp://nowhere"
bucket_name = "bk"
access_key_id = "AK"
secret_access_key = "backend-secret-bad"

[[credentials]]
access_key_id = "KEY1"
secret_access_key = "credential-secret-bad"
expires_at = "yesterday"
"""


def run(*args, env=None):
    clean = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    clean.update(env or {})
    return subprocess.run([server_binary(), *args], capture_output=True, text=True, timeout=30,
                          env=clean)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_a_good_config_checks_ok_with_its_warnings(tmp_path):
    cfg = write(tmp_path, "good.toml", GOOD)
    p = run("check", "--config", cfg)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1] == f"ok: {cfg}: 1 bucket, 0 roles, 1 credential; 1 warning", p.stdout
    assert f"warning: {cfg}: bogus_key: unknown key, ignored" in lines
    assert not any(l.startswith("error:") for l in lines)
    assert "secret-good" not in p.stdout + p.stderr


def test_a_config_with_two_problems_fails_with_both_paths_and_no_secret(tmp_path):
    cfg = write(tmp_path, "bad.toml", BAD)
    p = run("check", "--config", cfg)
    assert p.returncode == 1, p.stdout + p.stderr
    errors = [l for l in p.stdout.splitlines() if l.startswith("error:")]
    assert len(errors) == 2, p.stdout
    assert any(f"{cfg}: buckets[0].backend_options.endpoint:" in e for e in errors), p.stdout
    assert any(f"{cfg}: credentials[0].expires_at:" in e for e in errors), p.stdout
    assert p.stdout.splitlines()[-1].startswith(f"invalid: {cfg}: 2 problems"), p.stdout
    assert "secret-bad" not in p.stdout + p.stderr
    # The server refuses the same file with the same problems.
    s = run("--config", cfg, "--listen", "127.0.0.1:0")
    assert s.returncode == 1
    for e in errors:
        assert e.removeprefix("error: ") in s.stderr, s.stderr
    assert "secret-bad" not in s.stdout + s.stderr


@pytest.mark.parametrize("name,text", [
    ("syntax.toml", 'x = 1\n[[credentials]]\naccess_key_id = "K"\nsecret_access_key = "sekrit-unterminated\n'),
    ("syntax.json", '{"credentials": [{"access_key_id": "K", "secret_access_key": "sekrit-unterminated}'),
    ("type.toml", '[[credentials]]\naccess_key_id = "K"\nsecret_access_key = ["sekrit-in-a-list"]\n'),
    ("backend.toml", '[[buckets]]\nname = "b"\nbackend_type = "az"\n[buckets.backend_options]\n'
                     'account_name = "a"\ncontainer_name = "c"\naccess_key = "sekrit-not-base64!!"\n'),
])
def test_a_secret_in_a_broken_config_is_never_printed(tmp_path, name, text):
    cfg = write(tmp_path, name, text)
    p = run("check", "--config", cfg)
    assert p.returncode == 1 and "error:" in p.stdout, p.stdout + p.stderr
    assert "sekrit" not in p.stdout + p.stderr, p.stdout + p.stderr


def test_the_environment_is_checked_as_at_start_without_echoing_keys(tmp_path):
    cfg = write(tmp_path, "good.toml", GOOD)
    p = run("check", "--config", cfg, env={"SESSION_TOKEN_KEY": "sekrit-not-a-key",
                                           "OIDC_PROVIDER_KEY": "sekrit-not-pem",
                                           "BACKEND_TIMEOUT_SECONDS": "0"})
    assert p.returncode == 1
    out = p.stdout
    for var in ["SESSION_TOKEN_KEY", "OIDC_PROVIDER_KEY", "BACKEND_TIMEOUT_SECONDS"]:
        assert any(l.startswith("error: ") and var in l for l in out.splitlines()), out
    assert "sekrit" not in out + p.stderr
    key = base64.b64encode(os.urandom(32)).decode()
    p = run("check", "--config", cfg, env={"SESSION_TOKEN_KEY": key,
                                           "OIDC_PROVIDER_KEY": OIDC_PROVIDER_KEY,
                                           "OIDC_PROVIDER_ISSUER": "https://gw.example.com"})
    assert p.returncode == 0, p.stdout
    assert "note: STS enabled" in p.stdout and "note: OIDC provider enabled" in p.stdout
    assert key not in p.stdout and "PRIVATE KEY" not in p.stdout


ROLE_AND_FEDERATED_BUCKET = """
[[roles]]
role_id = "r"
trusted_oidc_issuers = ["https://token.actions.githubusercontent.com"]
required_audiences = ["sts.amazonaws.com"]
subject_conditions = ["repo:o/r:*"]
[[roles.allowed_scopes]]
bucket = "fed"
actions = ["get_object"]

[[buckets]]
name = "fed"
backend_type = "s3"
[buckets.backend_options]
endpoint = "https://s3.amazonaws.com"
bucket_name = "bk"
auth_type = "oidc"
role_arn = "arn:aws:iam::123456789012:role/x"
"""


def test_roles_or_federated_buckets_without_their_keys_are_warnings(tmp_path):
    cfg = write(tmp_path, "fed.toml", ROLE_AND_FEDERATED_BUCKET)
    p = run("check", "--config", cfg)
    assert p.returncode == 0, p.stdout
    warnings = [l for l in p.stdout.splitlines() if l.startswith("warning: ")]
    assert len(warnings) == 2, p.stdout
    assert "roles: 1 configured but SESSION_TOKEN_KEY is not set" in warnings[0]
    assert "buckets[0] (fed): auth_type is set but OIDC_PROVIDER_KEY is not" in warnings[1]


def test_the_sts_config_is_merged_and_a_bad_listen_address_is_reported(tmp_path):
    cfg = write(tmp_path, "good.toml", GOOD)
    sts = write(tmp_path, "sts.toml", '[[credentials]]\naccess_key_id = "KEY1"\n'
                                      'secret_access_key = "sekrit-dup"\n')
    p = run("check", "--config", cfg, "--sts-config", sts, "--listen", "8080")
    assert p.returncode == 1
    assert any(l.startswith(f"error: {sts}: ") and "credentials[0].access_key_id: duplicate" in l
               for l in p.stdout.splitlines()), p.stdout
    assert "error: --listen 8080:" in p.stdout
    assert "sekrit" not in p.stdout


def test_help_documents_every_flag_and_environment_variable():
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    for name in FLAGS + ENV_VARS + ["check"]:
        assert name in p.stdout, name
    # What the sources read today, so a variable added without documenting it fails here.
    read = set()
    for src in (ROOT / "native-shim" / "src").rglob("*.rs"):
        text = src.read_text()
        read |= set(re.findall(r'\bvar(?:_os)?\("([A-Z][A-Z0-9_]+)"\)', text))
        read |= set(re.findall(r'_VAR: &str = "([A-Z][A-Z0-9_]+)"', text))
    assert {"SESSION_TOKEN_KEY", "BACKEND_TIMEOUT_SECONDS"} <= read
    for name in read:
        assert re.search(rf"\b{name}\b", p.stdout), f"--help does not document {name}"


def test_version_is_the_cargo_version():
    version = tomllib.loads((ROOT / "native-shim" / "Cargo.toml").read_text())["package"]["version"]
    p = run("--version")
    assert p.returncode == 0
    assert re.fullmatch(rf"multistore-server {re.escape(version)}( \(commit \S+\))?\n", p.stdout), p.stdout


@pytest.mark.parametrize("argv", [["--bogus"], ["check", "--config", "c.toml", "--nope=1"], ["chek"]])
def test_a_bad_command_line_is_one_line_and_a_hint(argv):
    p = run(*argv)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 2, p.stderr
    assert lines[0].startswith("multistore-server: ") and "--help" in lines[1]
