#!/usr/bin/env bash
# Conformance stage of tests/run.sh (issue 17; `tests/run.sh --quick` or CONFORMANCE=0 skips it),
# also runnable alone: a selection of the pinned ceph/s3-tests (test_s3.py, test_headers.py;
# markers of features neither side has are excluded, see EXCLUDED in conformance.py) runs
# straight at SeaweedFS, then what passed there runs through the native gateway (tests that fail
# direct do not count), each pass against its own SeaweedFS (one pass-through bucket `*`, the
# s3-tests users as gateway credentials with every action of src/policy.rs, SeaweedFS's admin as
# backend identity), all on 127.0.0.1.
# FAILS on any test that passes direct but not through the gateway, unless listed in
# by_design.txt (what is no gateway's business, each group with its reason); also fails when a
# listed test passes through the gateway now or names no test of the selection (the list must not
# rot).
# A regression is tried once more before it fails the stage (reported as flaky if it passes).
# Prints the counts and the tests that pass direct but fail through the gateway; also written to
# bench/out/conformance-<time>.txt.
# Env: MULTISTORE_BIN (default $CARGO_TARGET_DIR/release/multistore-server, not built here),
# S3TESTS_SRC (default ../shared/s3-tests next to the repository, copied to a temp dir, never
# modified; missing, the stage fails), CONFORMANCE_WORKERS (pytest-xdist workers per pass,
# default 4; 0 = serial), CONFORMANCE_MAX_ATTEMPTS (botocore attempts per call, default 1: no
# retries), CONFORMANCE_K (a pytest -k expression: run part of the selection). Its requirements
# (pinned) are in tests/requirements.txt.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
ensure_venv
phase "ceph/s3-tests direct at SeaweedFS and through the native gateway"
exec python "$ROOT/tests/conformance/conformance.py"
