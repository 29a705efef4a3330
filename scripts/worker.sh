#!/usr/bin/env bash
# npm scripts: `dev` (wrangler dev on 127.0.0.1:8787, the demo with no setup), `deploy`, `build`.
# The demo config is turned on here, for `dev` only (`--var`, not wrangler.toml's [vars], which a
# deploy would ship): a Worker deployed without a config document answers 503.
# Runs wrangler with the pinned Node 22 from npm.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cmd="${1:-dev}"
shift || true
ensure_worker_tools
case "$cmd" in
  dev) exec node node_modules/wrangler/bin/wrangler.js dev --var MULTISTORE_DEMO:true \
         --ip 127.0.0.1 --port 8787 "$@" ;;
  deploy) exec node node_modules/wrangler/bin/wrangler.js deploy "$@" ;;
  build) exec bash scripts/build-worker.sh "$@" ;;
  *) exec node node_modules/wrangler/bin/wrangler.js "$cmd" "$@" ;;
esac
