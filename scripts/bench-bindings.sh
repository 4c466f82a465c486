#!/usr/bin/env bash
# Per-voucher cost of the same call from Rust, Python and Kotlin, measured side by side in one
# session (interleaved, REPEAT times), for docs/BINDINGS.md. Not part of CI: timings are
# reported, never asserted.
#
#   bash scripts/bench-bindings.sh [N] [ROUNDS] [REPEAT]
#
# Uses the wheel venv of scripts/test-python.sh and the jar of scripts/test-kotlin.sh (runs
# them first if their outputs are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
N="${1:-1000}"
ROUNDS="${2:-7}"
REPEAT="${3:-3}"

[ -x target/python/test-venv/bin/python ] || bash scripts/test-python.sh >/dev/null
bash scripts/test-kotlin.sh >/dev/null
cargo build --release -q -j "${CARGO_BUILD_JOBS:-2}" -p blindmatch-bindings --example voucher_timing
CARGO_TARGET=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

KLIB=target/kotlin/node_modules/kotlin-compiler/lib
for i in $(seq "$REPEAT"); do
  echo "-- run $i/$REPEAT"
  "$CARGO_TARGET/release/examples/voucher_timing" "$N" "$ROUNDS"
  (cd target/python && test-venv/bin/python "$ROOT/examples/python/voucher_timing.py" "$N" "$ROUNDS")
  java -Djna.library.path=target/bindings/lib \
    -cp "target/kotlin/blindmatch-tests.jar:$KLIB/kotlin-stdlib.jar:/usr/share/java/jna.jar" \
    org.blindmatch.examples.timing.VoucherTimingKt "$N" "$ROUNDS"
done
echo "-- sizes"
WHEEL=$(ls target/python/wheels/blindmatch-*.whl)
printf 'wheel          %s: %d bytes\n' "$(basename "$WHEEL")" "$(stat -c %s "$WHEEL")"
SO=target/bindings/lib/libblindmatch.so
STRIPPED=$(mktemp)
strip -o "$STRIPPED" "$SO"
printf 'cdylib         release, unstripped: %d bytes; stripped: %d bytes\n' "$(stat -c %s "$SO")" "$(stat -c %s "$STRIPPED")"
rm -f "$STRIPPED"
