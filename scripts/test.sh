#!/usr/bin/env bash
# Every test: provisioning (scripts/provision.sh), the Rust workspace (unit, property,
# known-answer, protocol, privacy, database, CLI and store tests) with the lockfile as
# committed, then the SDK from Python and Kotlin, and the Swift header check.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/provision.sh

# The PostgreSQL store tests run against a local server (scripts/postgres.sh starts it and
# prints its URL); without one they are skipped, except under CI, where they fail.
if BLINDMATCH_TEST_PG="$(bash scripts/postgres.sh)"; then
  export BLINDMATCH_TEST_PG
  echo "== PostgreSQL for the store tests: 127.0.0.1 (scripts/postgres.sh)"
else
  unset BLINDMATCH_TEST_PG
  echo "== PostgreSQL could not be started: the PostgreSQL store tests will be skipped"
fi

echo "== Rust: cargo test --locked --workspace --exclude uniffi-bindgen"
cargo test --locked --workspace --exclude uniffi-bindgen

for script in scripts/test-python.sh scripts/test-kotlin.sh scripts/check-swift-header.sh; do
  if ! [ -f "$script" ]; then
    echo "scripts/test.sh: $script is missing" >&2
    exit 1
  fi
  echo "== $script"
  bash "$script"
done
