#!/usr/bin/env bash
# Run every cargo-fuzz target (fuzz/fuzz_targets) one after another for a bounded time and
# print a table: target, seconds, executions, execs/s, crashes. Not part of the test run.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60 (or $FUZZ_SECONDS)
#   TARGET...           default: every target (`cargo fuzz list`)
# Environment:
#   FUZZ_SANITIZER   address (default) or none
#   FUZZ_TIMEOUT     seconds before one input counts as a hang (default 10)
#   CARGO_BUILD_JOBS build parallelism (default 1: the machine is shared)
#
# cargo-fuzz needs nightly flags; on the stable toolchain they are unlocked with
# RUSTC_BOOTSTRAP=1 (works for -Zsanitizer=address on x86_64-linux).
#
# Each target reads fuzz/regressions/<target> (the committed seeds, replayed by
# `cargo test -p blindmatch-core --test fuzz_regressions`) and grows fuzz/corpus/<target>
# (not committed). Crashes land in fuzz/artifacts/<target>/; minimise one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir fuzz <target> fuzz/artifacts/<target>/crash-…
# and save it as fuzz/regressions/<target>/<name>.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_DIR="$ROOT/fuzz"
SECS=${FUZZ_SECONDS:-60}
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    SECS=$1
    shift
fi
SANITIZER=${FUZZ_SANITIZER:-address}
TIMEOUT=${FUZZ_TIMEOUT:-10}
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz ..." >&2
    cargo install cargo-fuzz --locked
fi

if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi

echo "building ${#TARGETS[@]} targets (sanitizer: $SANITIZER) ..." >&2
cargo fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer "$SANITIZER" >&2

rows=()
total_crashes=0
for t in "${TARGETS[@]}"; do
    work="$FUZZ_DIR/target/fuzz-runs/$t"
    artifacts="$FUZZ_DIR/artifacts/$t"
    rm -rf "$work"
    mkdir -p "$work" "$FUZZ_DIR/corpus/$t" "$artifacts" "$FUZZ_DIR/regressions/$t"
    touch "$work/start"
    echo "fuzzing $t for ${SECS}s ..." >&2
    t0=$(date +%s)
    # -jobs=1 runs one worker process whose output goes to ./fuzz-0.log (hence the cd).
    (
        cd "$work" &&
            cargo fuzz run --fuzz-dir "$FUZZ_DIR" --sanitizer "$SANITIZER" "$t" \
                "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/regressions/$t" -- \
                -max_total_time="$SECS" -timeout="$TIMEOUT" -jobs=1 -print_final_stats=1 \
                -artifact_prefix="$artifacts/"
    ) >"$work/run.log" 2>&1 || true
    wall=$(($(date +%s) - t0))
    log="$work/fuzz-0.log"
    [[ -f $log ]] || log="$work/run.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n1 | grep -o '[0-9]*$' || true)
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n1 || true)
    if [[ -n $done_line ]]; then
        read -r _ runs _ _ secs _ <<<"$done_line"
        execs=${execs:-$runs}
    else
        secs=$wall
    fi
    execs=${execs:-0}
    rate=$((secs > 0 ? execs / secs : execs))
    crashes=$(find "$artifacts" -type f -newer "$work/start" | wc -l)
    total_crashes=$((total_crashes + crashes))
    rows+=("$(printf '%-18s %8s %14s %10s %8s' "$t" "$secs" "$execs" "$rate" "$crashes")")
    if [[ $crashes -gt 0 ]]; then
        echo "  $t: $crashes new artifact(s) in $artifacts (log: $log)" >&2
    fi
done

printf '%-18s %8s %14s %10s %8s\n' target seconds executions execs/s crashes
printf '%s\n' "${rows[@]}"
[[ $total_crashes -eq 0 ]]
