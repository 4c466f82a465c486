#!/usr/bin/env bash
# The Kotlin SDK on the JVM: generate the bindings, compile them with kotlinc together with the
# test runner and the example, and run both against the release cdylib.
#
#   bash scripts/test-kotlin.sh
#
# Needs what scripts/provision.sh installs: JNA from Debian (libjna-java) and kotlinc from npm
# (kotlin-compiler, in target/kotlin), and a JDK (17+).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

WORK="$ROOT/target/kotlin"
JNA=/usr/share/java/jna.jar
mkdir -p "$WORK"

KOTLIN_HOME="$WORK/node_modules/kotlin-compiler"
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
for need in "$JNA" "$KOTLINC"; do
  [ -e "$need" ] || { echo "test-kotlin.sh: $need is missing; run bash scripts/provision.sh" >&2; exit 1; }
done
command -v java >/dev/null || { echo "test-kotlin.sh needs a JDK 17+" >&2; exit 1; }
STDLIB="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

bash scripts/gen-bindings.sh >/dev/null
GENERATED="$ROOT/target/bindings/kotlin/org/blindmatch/blindmatch.kt"
SOURCES=("$GENERATED" "$ROOT"/bindings/tests/kotlin/*.kt "$ROOT"/examples/kotlin/*.kt)

# kotlinc takes 15-30 s: recompile only when a source changed.
JAR="$WORK/blindmatch-tests.jar"
STAMP="$WORK/sources.sha256"
SUM=$(cat "${SOURCES[@]}" | sha256sum | cut -d' ' -f1)
if ! [ -f "$JAR" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$SUM" ]; then
  echo "== kotlinc (generated bindings + tests + examples)"
  rm -f "$JAR" "$STAMP"
  "$KOTLINC" -cp "$JNA" -d "$JAR" "${SOURCES[@]}"
  echo "$SUM" >"$STAMP"
fi

run() {
  java -Djna.library.path="$ROOT/target/bindings/lib" -cp "$JAR:$STDLIB:$JNA" "$@"
}
echo "== Kotlin tests (org.blindmatch.tests.BindingsTestKt)"
run org.blindmatch.tests.BindingsTestKt
echo "== examples/kotlin/RoundTrip.kt"
run org.blindmatch.examples.RoundTripKt
