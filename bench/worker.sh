#!/usr/bin/env bash
# The Worker's cost per request in bare workerd, against a JavaScript pass-through worker and
# direct-to-SeaweedFS, measured in the same run. Prints ratios; never fails on timing.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"
ensure_venv
ensure_worker_tools
if ! command -v wrk >/dev/null; then
  phase "installing wrk (Debian)"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
phase "building the Worker bundle (wrangler deploy --dry-run)"
rm -rf build/dry-run
node node_modules/wrangler/bin/wrangler.js deploy --dry-run --outdir build/dry-run >/dev/null
phase "running the benchmark"
exec python "$ROOT/bench/worker.py" "$@"
