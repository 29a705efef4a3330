#!/usr/bin/env bash
# npm scripts: `dev` (wrangler dev on 127.0.0.1:8787, the demo with no setup), `deploy`, `build`.
# Runs wrangler with the pinned Node 22 from npm.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cmd="${1:-dev}"
shift || true
ensure_worker_tools
case "$cmd" in
  dev) exec node node_modules/wrangler/bin/wrangler.js dev --ip 127.0.0.1 --port 8787 "$@" ;;
  deploy) exec node node_modules/wrangler/bin/wrangler.js deploy "$@" ;;
  build) exec bash scripts/build-worker.sh "$@" ;;
  *) exec node node_modules/wrangler/bin/wrangler.js "$cmd" "$@" ;;
esac
