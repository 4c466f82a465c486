#!/usr/bin/env bash
# Everything the tests need that is not in the repository, installed in one place (the README's
# test command, scripts/test.sh, runs this first; so does CI through it). Idempotent: each step
# is skipped when its result is already there.
#
#   Debian: libjna-java (Kotlin on the JVM), clang (Swift header check), python3-venv,
#           postgresql (the PostgreSQL store tests; scripts/postgres.sh starts it)
#   rustup: rustfmt, clippy
#   npm:    kotlin-compiler (into target/kotlin)
#   PyPI:   maturin (into target/python/tools-venv), pytest (a local wheelhouse)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
KOTLIN_VERSION="2.4.20"
MATURIN_VERSION="1.16.0"
PY="${PYTHON:-python3}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
command -v clang >/dev/null || missing+=(clang)
"$PY" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
{ command -v pg_ctlcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; } ||
  missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

for tool in java npm; do
  command -v "$tool" >/dev/null || { echo "provision.sh needs $tool (a JDK 17+ and Node.js/npm)" >&2; exit 1; }
done
KOTLIN_HOME="$ROOT/target/kotlin/node_modules/kotlin-compiler"
if ! grep -q "\"version\": \"$KOTLIN_VERSION\"" "$KOTLIN_HOME/package.json" 2>/dev/null; then
  echo "== npm install kotlin-compiler@$KOTLIN_VERSION"
  mkdir -p "$ROOT/target/kotlin"
  npm install --prefix "$ROOT/target/kotlin" --no-save --no-audit --no-fund --loglevel=error \
    "kotlin-compiler@$KOTLIN_VERSION"
fi

TOOLS="$ROOT/target/python/tools-venv"
if ! "$TOOLS/bin/maturin" --version 2>/dev/null | grep -q "maturin $MATURIN_VERSION"; then
  echo "== pip install maturin $MATURIN_VERSION"
  "$PY" -m venv --clear "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"
fi
WHEELHOUSE="$ROOT/target/python/wheelhouse"
if ! ls "$WHEELHOUSE"/pytest-*.whl >/dev/null 2>&1; then
  echo "== pip download pytest"
  "$TOOLS/bin/pip" download --quiet --disable-pip-version-check -d "$WHEELHOUSE" pytest
fi
