#!/usr/bin/env bash
# Soak `blindmatch serve`: send VOUCHERS vouchers with `blindmatch loadgen` while this script
# SIGKILLs the server every KILL_EVERY received vouchers and restarts it; then check that
# every voucher that should open is stored exactly once and that the reveals are exactly the
# expected ones. Prints one JSON summary. Not part of the test run.
#
# Usage: scripts/soak.sh sqlite|postgres [VOUCHERS] [KILL_EVERY]   (defaults 1000000 100000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${1:-sqlite}
VOUCHERS=${2:-1000000}
KILL_EVERY=${3:-100000}
B="$ROOT/target/release/blindmatch"
cargo build --release --locked -p blindmatch-cli --manifest-path "$ROOT/Cargo.toml" >&2
W=$(mktemp -d)
cleanup() { kill -9 $(jobs -p) 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
"$B" server keygen --out keys >/dev/null
python3 -c "
import hashlib
with open('list.txt','w') as f:
    for i in range(10000): f.write(hashlib.sha256(b'L%d' % i).hexdigest()+'\n')"
"$B" db build --server-key keys/server.key --list list.txt --kind sha256 --out db.bmdb >/dev/null
head -c 24 /dev/urandom | base64 > token && chmod 600 token
TOKEN=$(cat token)
case "$ENGINE" in
    sqlite) STORE="sqlite:$W/store.sqlite" ;;
    postgres)
        URL=$(bash "$ROOT/scripts/postgres.sh")
        SCHEMA="soak_$$"
        psql "$URL" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA;"
        STORE="$URL?options=-c%20search_path%3D$SCHEMA" ;;
    *) echo "engine: sqlite or postgres" >&2; exit 2 ;;
esac
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
IN=$(free_port); OP=$(free_port)

start_serve() {
    "$B" serve --server-key keys/server.key --db db.bmdb --store "$STORE" \
        --operator-token-file token --listen "127.0.0.1:$IN" --operator-listen "127.0.0.1:$OP" \
        --lease-ms 5000 >> serve.log 2>&1 &
    SERVE=$!
}
received() {
    curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$OP/metrics" 2>/dev/null |
        awk '$1 == "blindmatch_vouchers_received_total" {print $2}'
}
ready_ms() { # milliseconds until /healthz answers
    local t0; t0=$(date +%s%3N)
    until curl -sf "http://127.0.0.1:$OP/healthz" >/dev/null 2>&1; do sleep 0.02; done
    echo $(( $(date +%s%3N) - t0 ))
}

start_serve
ready_ms >/dev/null
ACCOUNTS=$((VOUCHERS / 100))
"$B" loadgen --url "http://127.0.0.1:$IN" --operator-url "http://127.0.0.1:$OP" --token "$TOKEN" \
    --db db.bmdb --server-pub keys/server.pub --list list.txt \
    --accounts "$ACCOUNTS" --per-account 100 --connections 4 --batch 32 --seed 11 \
    --restarts --settle-secs 900 --json > loadgen.json 2> loadgen.err &
LOADGEN=$!

done_before=0   # vouchers received by earlier server processes
kills=0
recoveries=()
target=$KILL_EVERY
while kill -0 $LOADGEN 2>/dev/null && (( target < VOUCHERS )); do
    r=$(received); r=${r:-0}; r=${r%.*}
    if (( done_before + r >= target )); then
        kill -9 "$SERVE"; wait "$SERVE" 2>/dev/null || true
        done_before=$((done_before + r))
        kills=$((kills + 1))
        start_serve
        recoveries+=("$(ready_ms)")
        target=$((target + KILL_EVERY))
    fi
    sleep 0.05
done
wait $LOADGEN || true

case "$ENGINE" in
    sqlite)
        STORED=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM opened').fetchone()[0])" "$W/store.sqlite")
        QUEUED=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM queue').fetchone()[0])" "$W/store.sqlite") ;;
    postgres)
        STORED=$(psql "$URL" -tAc "SELECT COUNT(*) FROM $SCHEMA.opened")
        QUEUED=$(psql "$URL" -tAc "SELECT COUNT(*) FROM $SCHEMA.queue") ;;
esac
python3 - "$ENGINE" "$kills" "$STORED" "$QUEUED" "${recoveries[*]:-}" <<'EOF'
import json, sys
engine, kills, stored, queued, rec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open("loadgen.json"))
want = r["expected_opened"]
rec = [int(x) for x in rec.split()] if rec else []
print(json.dumps({
    "engine": engine,
    "vouchers_sent": r["send"]["vouchers_sent"],
    "vouchers_failed": r["send"]["vouchers_failed"],
    "retries": r["send"]["retries"],
    "sigkills": kills,
    "expected_opened": want,
    "stored_opened": stored,
    "lost": max(want - stored, 0),
    "double_counted": max(stored - want, 0),
    "queue_left": queued,
    "reveals_exact": r["check"]["ok"] if r.get("check") else None,
    "revealed_accounts": r["check"]["revealed"] if r.get("check") else None,
    "restart_to_ready_ms": rec,
    "wall_secs": round(r["send"]["wall_secs"], 1),
    "intake_to_opened_vouchers_per_sec": r["drain"]["intake_to_opened_vouchers_per_sec"] if r.get("drain") else None,
}))
EOF
