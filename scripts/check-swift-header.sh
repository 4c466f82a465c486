#!/usr/bin/env bash
# Swift: there is no Swift toolchain on this machine (Debian 12 has none), so the Swift bindings
# are generated but NOT compiled here. What is checked instead:
#   1. the generated C header (BlindMatchFFI.h) compiles with gcc (clang's nullability
#      qualifiers defined away) and, if clang is present, with clang as C, C++ and Objective-C;
#   2. an ABI check (bindings/tests/c/abi_check.c) links against the library and verifies the
#      contract version and every API checksum the Swift code checks at load time, then makes a
#      real call and a failing call through the header.
#
#   bash scripts/check-swift-header.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

bash scripts/gen-bindings.sh >/dev/null
SWIFT="$ROOT/target/bindings/swift"
LIBDIR="$ROOT/target/bindings/lib"
WORK="$ROOT/target/swift-check"
rm -rf "$WORK"
mkdir -p "$WORK"
for f in BlindMatch.swift BlindMatchFFI.h BlindMatchFFI.modulemap; do
  [ -s "$SWIFT/$f" ] || { echo "missing generated $SWIFT/$f" >&2; exit 1; }
done
grep -q 'import BlindMatchFFI' "$SWIFT/BlindMatch.swift"

printf '#include "BlindMatchFFI.h"\nint main(void) { return 0; }\n' >"$WORK/include.c"
CFLAGS=(-fsyntax-only -Wall -Wextra -Werror -I"$SWIFT")

echo "== gcc: header as C11"
gcc "${CFLAGS[@]}" -std=c11 -D_Nullable= -D_Nonnull= "$WORK/include.c"

if command -v clang >/dev/null; then
  echo "== clang: header as C11, C++17 and Objective-C"
  clang "${CFLAGS[@]}" -std=c11 -x c "$WORK/include.c"
  clang "${CFLAGS[@]}" -std=c++17 -x c++ "$WORK/include.c"
  clang "${CFLAGS[@]}" -x objective-c "$WORK/include.c"
  CC=clang
else
  echo "== clang not installed: skipping the clang checks"
  CC=gcc
fi

echo "== ABI check against libblindmatch ($CC)"
sed -n 's/^ *if (\(uniffi_blindmatch_checksum_[a-z0-9_]*\)() != \([0-9]*\)) {.*/{ "\1", \1, \2 },/p' \
  "$SWIFT/BlindMatch.swift" >"$WORK/checksums.inc"
CONTRACT=$(sed -n 's/^ *let bindings_contract_version = \([0-9]*\).*/\1/p' "$SWIFT/BlindMatch.swift")
COUNT=$(wc -l <"$WORK/checksums.inc")
[ -n "$CONTRACT" ] && [ "$COUNT" -gt 10 ] || { echo "could not read the checks from BlindMatch.swift" >&2; exit 1; }
NULLABILITY=()
[ "$CC" = gcc ] && NULLABILITY=(-D_Nullable= -D_Nonnull=)
"$CC" -std=c11 -Wall -Wextra -Werror "${NULLABILITY[@]}" -DEXPECTED_CONTRACT_VERSION="${CONTRACT}u" \
  -I"$SWIFT" -I"$WORK" bindings/tests/c/abi_check.c -L"$LIBDIR" -lblindmatch -Wl,-rpath,"$LIBDIR" \
  -o "$WORK/abi_check"
"$WORK/abi_check"
echo "Swift: generated ($(wc -l <"$SWIFT/BlindMatch.swift") lines) and its C header checked; the Swift code itself is not compiled on this machine."
