#!/usr/bin/env bash
# Measure `blindmatch serve` with `blindmatch loadgen` on this machine, for one store:
#   1. a run at full speed: intake throughput, intake-to-opened throughput, and `open_batch`
#      on all cores measured by loadgen in the same run (the opening floor);
#   2. the service's own CPU per voucher (from /proc, the serve process only) against the
#      opening cost, and the database server's CPU per voucher (PostgreSQL: its processes);
#   3. a run paced at half the measured intake-to-opened throughput: p50/p99 intake latency.
# Not part of the test run.
#
# Usage: scripts/service-bench.sh sqlite|postgres [ACCOUNTS] [PER_ACCOUNT]
#   PostgreSQL: the URL comes from scripts/postgres.sh (a fresh schema per run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${1:-sqlite}
ACCOUNTS=${2:-400}
PER=${3:-100}
B="$ROOT/target/release/blindmatch"
cargo build --release --locked -p blindmatch-cli --manifest-path "$ROOT/Cargo.toml" >&2
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
"$B" server keygen --out keys >/dev/null
python3 -c "
import hashlib
with open('list.txt','w') as f:
    for i in range(10000): f.write(hashlib.sha256(b'L%d' % i).hexdigest()+'\n')"
"$B" db build --server-key keys/server.key --list list.txt --kind sha256 --out db.bmdb >/dev/null
head -c 24 /dev/urandom | base64 > token && chmod 600 token

store_spec() {
    case "$ENGINE" in
        sqlite) echo "sqlite:$W/store-$1.sqlite" ;;
        postgres)
            local url schema
            url=$(bash "$ROOT/scripts/postgres.sh")
            schema="bench_$1_$$"
            psql "$url" -qc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema;" >/dev/null
            echo "$url?options=-c%20search_path%3D$schema" ;;
        *) echo "engine: sqlite or postgres" >&2; exit 2 ;;
    esac
}

# CPU ticks (user + system) of a process, and of all PostgreSQL server processes.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local s=0 p
    for p in $(pgrep -u postgres 2>/dev/null); do
        s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo $s
}

run() { # run NAME EXTRA-LOADGEN-ARGS… → JSON on stdout
    local name=$1; shift
    local spec
    spec=$(store_spec "$name")
    "$B" serve --server-key keys/server.key --db db.bmdb --store "$spec" \
        --operator-token-file token --listen 127.0.0.1:0 --operator-listen 127.0.0.1:0 \
        > "serve-$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q intake "serve-$name.log" && break; sleep 0.1; done
    local intake operator
    intake=$(awk '{print $4}' "serve-$name.log")
    operator=$(awk '{print $6}' "serve-$name.log")
    local t0 p0
    t0=$(ticks $pid); p0=$(pg_ticks)
    "$B" loadgen --url "$intake" --operator-url "$operator" --token "$(cat token)" \
        --db db.bmdb --server-pub keys/server.pub --list list.txt \
        --accounts "$ACCOUNTS" --per-account "$PER" --connections 4 --batch 32 --seed 7 \
        --account-prefix "$name" --json "$@" > "loadgen-$name.json"
    local t1 p1
    t1=$(ticks $pid); p1=$(pg_ticks)
    kill $pid; wait $pid 2>/dev/null || true
    python3 - "$name" "$((t1 - t0))" "$((p1 - p0))" "$(getconf CLK_TCK)" "loadgen-$name.json" <<'EOF'
import json, sys
name, serve, pg, hz, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(path))
n = r["send"]["vouchers_sent"]
out = {
    "run": name,
    "vouchers": n,
    "ok": r["ok"],
    "intake_vouchers_per_sec": round(r["send"]["vouchers_per_sec"]),
    "intake_to_opened_vouchers_per_sec": round(r["drain"]["intake_to_opened_vouchers_per_sec"] or 0),
    "open_batch_vouchers_per_sec": round(r["open_batch_vouchers_per_sec"] or 0),
    "latency_ms": r["send"]["latency_ms"],
    "serve_cpu_us_per_voucher": round(serve / hz / n * 1e6, 1),
    "db_server_cpu_us_per_voucher": round(pg / hz / n * 1e6, 1),
}
if out["open_batch_vouchers_per_sec"]:
    # open_batch on all cores: wall per voucher × cores = CPU per voucher of opening.
    import os
    cores = os.cpu_count()
    opening_cpu = cores / out["open_batch_vouchers_per_sec"] * 1e6
    out["opening_cpu_us_per_voucher"] = round(opening_cpu, 1)
    out["serve_cpu_over_opening"] = round(out["serve_cpu_us_per_voucher"] / opening_cpu, 2)
print(json.dumps(out))
EOF
}

full=$(run full --server-key keys/server.key)
echo "$full"
rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['intake_to_opened_vouchers_per_sec'] / 2)" "$full")
run half --rate "$rate"
