#!/usr/bin/env bash
# The whole test suite: lints, unit tests (both targets), and the end-to-end suite with real
# clients (boto3, aws-cli) against SeaweedFS through the native server. Installs what it needs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"

ensure_rust
ensure_venv

phase "cargo fmt --check"
cargo fmt --all -- --check

phase "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

phase "clippy (wasm32-unknown-unknown, the core as the Worker builds it)"
cargo clippy -p multistore --lib --target wasm32-unknown-unknown --locked -- -D warnings

phase "no runtime crates in the wasm build"
banned=$(cargo tree -p multistore --target wasm32-unknown-unknown -e normal --prefix none --locked \
  | awk '{print $1}' | grep -E '^(tokio|hyper|hyper-util|reqwest|mio|object_store)$' | sort -u || true)
if [ -n "$banned" ]; then
  echo "banned crates in the wasm32 dependency tree: $banned" >&2
  exit 1
fi

phase "unit tests"
cargo test --workspace --locked

phase "building multistore-server (release)"
cargo build --release --locked -p multistore-server
export MULTISTORE_BIN="$(target_dir)/release/multistore-server"

phase "end-to-end suite (SeaweedFS + multistore-server, boto3 and aws-cli)"
cd "$ROOT/tests/e2e"
exec python -m pytest -q -p no:cacheprovider "$@"
