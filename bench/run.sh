#!/usr/bin/env bash
# Benchmark: direct-to-SeaweedFS vs nginx pass-through vs multistore-server, all measured in the
# same run on 127.0.0.1. Prints ratios; never fails on timing.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$ROOT/bench/lib.sh"
cd "$ROOT"
ensure_venv
apt_tool /usr/sbin/nginx nginx "the nginx pass-through"
ensure_wrk
ensure_server
phase "running the benchmark"
exec python "$ROOT/bench/bench.py" "$@"
