#!/usr/bin/env bash
# Every test: the Rust workspace (unit, property, known-answer, protocol, database, CLI and
# store tests), then the SDK from Python and Kotlin, and the Swift header check.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: cargo test --workspace --exclude uniffi-bindgen"
cargo test --workspace --exclude uniffi-bindgen

for script in scripts/test-python.sh scripts/test-kotlin.sh scripts/check-swift-header.sh; do
  if [ -f "$script" ]; then
    echo "== $script"
    bash "$script"
  fi
done
