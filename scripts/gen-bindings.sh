#!/usr/bin/env bash
# Generate the Kotlin, Swift and Python bindings into target/bindings/{kotlin,swift,python}
# with the workspace's own uniffi-bindgen (same UniFFI version as the library, by construction).
#
#   bash scripts/gen-bindings.sh
#
# Builds the cdylib in release (`-p blindmatch-bindings` alone, so uniffi's `cli` feature is not
# unified into the library), then runs the generator in library mode on the unstripped .so (its
# UNIFFI_META symbols are the interface description). A copy of the library sits next to the
# Kotlin and Python outputs, so later maturin builds that touch target/release cannot change
# what the Kotlin tests load.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${CARGO_BUILD_JOBS:-2}"
OUT=target/bindings
# Cargo's artifacts may live elsewhere (CARGO_TARGET_DIR); our outputs always go to ./target.
CARGO_TARGET=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
LIB="$CARGO_TARGET/release/libblindmatch.so"
case "$(uname -s)" in Darwin) LIB="$CARGO_TARGET/release/libblindmatch.dylib" ;; esac

echo "== cargo build --release -p blindmatch-bindings"
cargo build --release -j "$JOBS" -p blindmatch-bindings --lib
# Built exactly as maturin builds it (`--bin uniffi-bindgen`, dev profile, workspace feature
# resolution), so the Python wheel and these bindings share one generator build.
echo "== cargo build --bin uniffi-bindgen"
cargo build -j "$JOBS" --bin uniffi-bindgen
BINDGEN="$CARGO_TARGET/debug/uniffi-bindgen"

# Work on a private copy: the generator reads it while other cargo/maturin runs may relink the
# original.
rm -rf "$OUT"
mkdir -p "$OUT"/{kotlin,swift,python,lib}
cp "$LIB" "$OUT/lib/"
SO="$OUT/lib/$(basename "$LIB")"

for lang in kotlin swift python; do
  "$BINDGEN" generate "$SO" --language "$lang" --out-dir "$OUT/$lang" --no-format
done
cp "$SO" "$OUT/python/"

echo "== generated:"
find "$OUT" -type f \( -name '*.kt' -o -name '*.swift' -o -name '*.h' -o -name '*.modulemap' -o -name '*.py' \) \
  | sort | while read -r f; do printf '  %-60s %6d lines\n' "$f" "$(wc -l <"$f")"; done
