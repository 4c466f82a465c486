#!/usr/bin/env bash
# Peer comparison: OpenMined PSI (ECDH on P-256, from PyPI) and blindmatch, measured in one
# run on this machine, on the same sizes. Not part of the test run (it takes a few minutes).
#   bash benches/peer/run.sh [LIST_ENTRIES] [CLIENT_ITEMS]     (defaults 1000000 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
K=${2:-1000}
VENV=target/peer-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q openmined-psi==2.0.6
fi
cargo build --release -q -p blindmatch-cli
"$VENV/bin/python" benches/peer/peer.py --entries "$N" --items "$K" --blindmatch target/release/blindmatch
