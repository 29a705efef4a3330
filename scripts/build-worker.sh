#!/usr/bin/env bash
# wrangler.toml's [build] command: the Worker bundle (build/worker/shim.mjs + index.wasm),
# optimized for size. Installs its tools on first use.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
ensure_worker_tools
worker-build --profile release-wasm "$@"
