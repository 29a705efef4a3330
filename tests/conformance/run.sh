#!/usr/bin/env bash
# Conformance yardstick for issue 17 (a measurement, not part of tests/run.sh): runs a selection
# of the pinned ceph/s3-tests (test_s3.py, test_headers.py; markers of features neither side has
# are excluded, see EXCLUDED in conformance.py) once straight at SeaweedFS and once through the
# native gateway (one pass-through bucket `*`, the s3-tests users as gateway credentials, SeaweedFS's
# admin as backend identity), all on 127.0.0.1. Prints selected/passed counts and the tests that pass
# direct but fail through the gateway; also written to bench/out/conformance-<time>.txt.
# Env: MULTISTORE_BIN (default $CARGO_TARGET_DIR/release/multistore-server, not built here),
# S3TESTS_SRC (default /work/shared/s3-tests, copied to a temp dir, never modified),
# CONFORMANCE_WORKERS (pytest-xdist workers, default 2; 0 = serial), CONFORMANCE_K (a pytest -k
# expression narrowing the selection).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
ensure_venv
S3TESTS_SRC="${S3TESTS_SRC:-/work/shared/s3-tests}"
if ! python -c 'import munch, gevent, httplib2, lxml, pytz, isodate, yaml, xdist' 2>/dev/null; then
  phase "installing ceph/s3-tests' requirements and pytest-xdist"
  python -m pip install --quiet --disable-pip-version-check -r "$S3TESTS_SRC/requirements.txt" pytest-xdist
fi
export S3TESTS_SRC
phase "s3-tests direct and through the gateway"
exec python "$ROOT/tests/conformance/conformance.py"
