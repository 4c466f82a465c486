#!/usr/bin/env bash
# The Kotlin SDK on the JVM: generate the bindings, compile them with kotlinc together with the
# test runner and the example, and run both against the release cdylib.
#
#   bash scripts/test-kotlin.sh
#
# Installs what is missing: JNA from Debian (libjna-java; `apt-get update` only if the install
# fails without it) and kotlinc from npm (kotlin-compiler, into target/kotlin). Needs a JDK (17+).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

KOTLIN_VERSION="2.4.20"
WORK="$ROOT/target/kotlin"
JNA=/usr/share/java/jna.jar
mkdir -p "$WORK"

for tool in java npm; do
  command -v "$tool" >/dev/null || { echo "test-kotlin.sh needs $tool (a JDK 17+ and Node.js/npm)" >&2; exit 1; }
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! [ -f "$JNA" ]; then
  echo "== installing libjna-java"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq libjna-java >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root apt-get install -y -qq libjna-java >/dev/null
  }
fi

KOTLIN_HOME="$WORK/node_modules/kotlin-compiler"
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
if ! [ -x "$KOTLINC" ] || ! grep -q "\"version\": \"$KOTLIN_VERSION\"" "$KOTLIN_HOME/package.json" 2>/dev/null; then
  echo "== npm install kotlin-compiler@$KOTLIN_VERSION into $WORK"
  npm install --prefix "$WORK" --no-save --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION"
fi
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
