#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds (default 60) and prints executions and crashes per
# target. Usage: fuzz/run.sh [SECONDS] [TARGET...]
#
# cargo-fuzz needs nightly flags (-Zsanitizer, -Cpasses=sancov): on a stable toolchain they are
# unlocked with RUSTC_BOOTSTRAP=1. cargo-fuzz itself is installed from crates.io when missing
# (into $CARGO_FUZZ_ROOT, default .cache/tools, which is gitignored).
# The committed seeds (fuzz/corpus/<target>/) are read, never written: what the fuzzer finds
# goes to fuzz/.work/corpus/<target>/, crashes to fuzz/artifacts/<target>/.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-60}"
shift || true
root="${CARGO_FUZZ_ROOT:-$here/../.cache/tools}"
export PATH="$root/bin:$PATH"
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --root "$root" || exit 1
fi
cd "$here"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -O >/dev/null 2>&1 || cargo fuzz build -O || exit 1
printf '%-16s %8s %14s %8s %8s\n' target seconds executions crashes corpus
failed=0
for t in "${targets[@]}"; do
    mkdir -p ".work/corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log=".work/$t.log"
    cargo fuzz run -O "$t" ".work/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
    corpus=$(find ".work/corpus/$t" "corpus/$t" -type f | wc -l)
    printf '%-16s %8s %14s %8s %8s\n' "$t" "$secs" "${execs:-?}" "$crashes" "$corpus"
    if [ "$crashes" -gt 0 ]; then
        failed=1
        grep -m3 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/    /'
    fi
done
exit $failed
