# Shared setup for the bench scripts (run.sh, worker.sh, soak.sh). Source after scripts/env.sh.

# wrk from Debian, if missing.
ensure_wrk() {
  apt_tool /usr/bin/wrk wrk "the load generator"
  command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
}

# multistore-server (release) unless MULTISTORE_BIN already names a binary.
ensure_server() {
  if [ -z "${MULTISTORE_BIN:-}" ]; then
    phase "building multistore-server (release)"
    cargo build --release --locked -p multistore-server
    export MULTISTORE_BIN="$(target_dir)/release/multistore-server"
  fi
}

# The bundle `wrangler deploy --dry-run` ships, in build/dry-run.
build_worker_bundle() {
  ensure_worker_tools
  phase "building the Worker bundle (wrangler deploy --dry-run)"
  rm -rf build/dry-run
  node node_modules/wrangler/bin/wrangler.js deploy --dry-run --outdir build/dry-run >/dev/null
}
