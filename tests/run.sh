#!/usr/bin/env bash
# The whole test suite: lints, unit tests (both targets), the Worker bundle (built the way
# `wrangler deploy` ships it, sizes printed), and the end-to-end suite with real clients (boto3,
# aws-cli, s3cmd, DuckDB) against SeaweedFS through both runtimes: the native server and the
# Worker under `wrangler dev`; and the conformance stage: the pinned ceph/s3-tests straight at
# SeaweedFS and through the native gateway, failing on what passes direct but not through the
# gateway (tests/conformance/run.sh; needs ../shared/s3-tests next to the repository, or
# S3TESTS_SRC). Installs what it needs.
# Usage: tests/run.sh [--quick] [pytest args for the end-to-end suite...]
#   --quick       skips the conformance stage (so does CONFORMANCE=0)
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"

conformance="${CONFORMANCE:-1}"
if [ "${1:-}" = "--quick" ]; then
  conformance=0
  shift
fi
# The conformance stage needs the pinned ceph/s3-tests: missing, fail now rather than skip.
s3tests="${S3TESTS_SRC:-$ROOT/../shared/s3-tests}"
if [ "$conformance" != 0 ] && [ ! -f "$s3tests/s3tests/functional/test_s3.py" ]; then
  echo "no ceph/s3-tests source at $s3tests (the conformance stage needs it): put the pinned" \
    "source there, set S3TESTS_SRC, or skip the stage with --quick (or CONFORMANCE=0)" >&2
  exit 1
fi

ensure_rust
ensure_venv
ensure_worker_tools
ensure_chromium
ensure_rclone

phase "cargo fmt --check"
cargo fmt --all -- --check

phase "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

phase "clippy (wasm32-unknown-unknown: the core and the Worker runtime)"
cargo clippy -p multistore --all-targets --target wasm32-unknown-unknown --locked -- -D warnings

phase "no runtime crates in the wasm build"
# Banned anywhere in the Worker build. tokio and chrono arrive with the `worker` crate (which
# worker-build requires); they are allowed only as it brings them: tokio with no features, chrono
# for its Date type, and neither reaches the bundle after LTO (see the size check below).
tree=$(cargo tree -p multistore --target wasm32-unknown-unknown -e normal --prefix none --locked)
banned=$(echo "$tree" | awk '{print $1}' \
  | grep -E '^(hyper|hyper-util|reqwest|mio|object_store|regex)$' | sort -u || true)
if [ -n "$banned" ]; then
  echo "banned crates in the wasm32 dependency tree: $banned" >&2
  exit 1
fi
tokio_features=$(cargo tree -p multistore --target wasm32-unknown-unknown -e features --prefix none \
  --locked -i tokio 2>/dev/null | grep -o 'tokio feature "[^"]*"' | sort -u || true)
if [ -n "$tokio_features" ]; then
  echo "tokio features enabled in the wasm32 build: $tokio_features" >&2
  exit 1
fi

phase "unit tests"
cargo test --workspace --locked

# The property tests above replay the fuzz corpora on stable; here the coverage-guided fuzzers
# themselves run briefly (cargo-fuzz from crates.io, nightly flags on stable via RUSTC_BOOTSTRAP),
# so the targets keep building and every run explores a little. FUZZ_SECONDS=0 skips it.
fuzz_seconds="${FUZZ_SECONDS:-5}"
if [ "$fuzz_seconds" != 0 ]; then
  phase "fuzz targets (cargo-fuzz, ${fuzz_seconds} s each)"
  CARGO_TARGET_DIR="$(target_dir)/fuzz" CARGO_FUZZ_ROOT="$TOOLS" bash fuzz/run.sh "$fuzz_seconds"
fi

phase "building multistore-server (release)"
cargo build --release --locked -p multistore-server
export MULTISTORE_BIN="$(target_dir)/release/multistore-server"

if [ "$conformance" != 0 ]; then
  phase "conformance: ceph/s3-tests direct and through the native gateway (--quick skips)"
  bash tests/conformance/run.sh
else
  phase "conformance stage skipped (--quick or CONFORMANCE=0)"
fi

phase "Worker bundle (wrangler deploy --dry-run: what would ship)"
rm -rf "$ROOT/build/dry-run"
node node_modules/wrangler/bin/wrangler.js deploy --dry-run --outdir "$ROOT/build/dry-run"
wasm=$(ls "$ROOT"/build/dry-run/*.wasm)
printf 'worker wasm: %s bytes raw, %s bytes gzip -9; shim.js: %s bytes\n' \
  "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" "$(wc -c <"$ROOT/build/dry-run/shim.js")"

phase "end-to-end suite (SeaweedFS; native server and wrangler dev; boto3, aws-cli, s3cmd, DuckDB)"
cd "$ROOT/tests/e2e"
export MULTISTORE_RUNTIMES="${MULTISTORE_RUNTIMES:-native,worker}"
exec python -m pytest -q -p no:cacheprovider "$@"
