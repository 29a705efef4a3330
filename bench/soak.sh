#!/usr/bin/env bash
# A bounded soak (issue 16): a steady mix of small and ranged GETs, PUTs and LISTs, anonymous,
# presigned and header-signed, against multistore-server (default 600 s, 64 connections) or, with
# --worker, the Worker in bare workerd (default 120 s). Reports errors, req/s, p50/p99 and the
# server's RSS over time; exits 1 on any error, never on timing. See bench/README.md.
#   bench/soak.sh [--worker] [--seconds N] [--connections N] [--no-build] ...   (bench/soak.py -h)
# --no-build: reuse build/dry-run (Worker) or the binary in the target dir (native).
# SOAK_SECONDS / SOAK_CONNECTIONS set the defaults; MULTISTORE_BIN skips the native build.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
source "$ROOT/bench/lib.sh"
cd "$ROOT"
ensure_venv
ensure_wrk
worker=0 build=1 args=()
for a in "$@"; do
  case "$a" in
    --worker) worker=1; args+=("$a") ;;
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done
if [ "$worker" = 1 ]; then
  if [ "$build" = 1 ] || ! ls build/dry-run/*.wasm >/dev/null 2>&1; then
    build_worker_bundle
  else
    ensure_npm  # workerd
  fi
else
  [ "$build" = 1 ] || [ -n "${MULTISTORE_BIN:-}" ] || export MULTISTORE_BIN="$(target_dir)/release/multistore-server"
  ensure_server
fi
phase "running the soak"
exec python "$ROOT/bench/soak.py" "${args[@]}"
