#!/usr/bin/env bash
# Benchmark: direct-to-SeaweedFS vs nginx pass-through vs multistore-server, all measured in the
# same run on 127.0.0.1. Prints ratios; never fails on timing.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"
ensure_venv
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  phase "installing nginx and wrk (Debian)"
  apt-get update -qq && apt-get install -y -qq nginx wrk >/dev/null
fi
phase "building multistore-server (release)"
cargo build --release --locked -p multistore-server
export MULTISTORE_BIN="$(target_dir)/release/multistore-server"
phase "running the benchmark"
exec python "$ROOT/bench/bench.py" "$@"
