# Shared setup for tests/run.sh, scripts/run.sh and bench/run.sh: a Python venv with the test
# clients and SeaweedFS, created once and reused. Source it; it exports PATH with the venv first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
VENV="$CACHE/venv"
mkdir -p "$CACHE"

phase() { printf '\n==> %s\n' "$*"; }

ensure_venv() {
  local req="$ROOT/tests/requirements.txt" stamp="$VENV/.requirements"
  if [ ! -x "$VENV/bin/python" ]; then
    phase "creating the Python venv ($VENV)"
    python3 -m venv "$VENV"
  fi
  if ! cmp -s "$req" "$stamp"; then
    phase "installing test clients and SeaweedFS (tests/requirements.txt)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

ensure_rust() {
  # The core must also build for the Worker target.
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    phase "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

target_dir() {
  echo "${CARGO_TARGET_DIR:-$ROOT/target}"
}
