#!/usr/bin/env bash
# The Worker's cost per request in bare workerd, against a JavaScript pass-through worker and
# direct-to-SeaweedFS, measured in the same run. Prints ratios; never fails on timing.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$ROOT/bench/lib.sh"
cd "$ROOT"
ensure_venv
ensure_wrk
build_worker_bundle
phase "running the benchmark"
exec python "$ROOT/bench/worker.py" "$@"
