#!/usr/bin/env python3
"""Per-voucher cost from Python, measured like bindings/examples/voucher_timing.rs (Rust) and
examples/kotlin/VoucherTiming.kt (Kotlin); scripts/bench-bindings.sh runs the three side by side.

A database of 1000 SHA-256 hashes (T = 30, s_max = 60, synthetic rate 0, so every voucher is
real and costs the same; rate 0 is below the device policy's floor, so the maker uses the
insecure test policy), core's default window schedule and a fixed time in its first window; 200
warm-up vouchers; then ROUNDS rounds of N vouchers for listed
hashes, 16-byte ids, 32 bytes of associated data. Prints the median and the minimum of the
per-round mean, in µs per voucher, for one `create_voucher` call per voucher and for
`create_vouchers` batches of 100.

    python examples/python/voucher_timing.py [N] [ROUNDS]
"""

import statistics
import sys
import time

import blindmatch as bm

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7

server = bm.ServerKey.generate()
hashes = [bm.sha256(f"item {i}".encode()) for i in range(1000)]
options = bm.BuildOptions(threshold=30, s_max=60, rate_lo_ppm=0, rate_hi_ppm=0).with_epoch(1)
db_bytes = server.build_database([bm.HashList(name="bench", hashes=hashes)], options)
db = bm.Database.from_bytes(db_bytes, server.public_key())
maker = bm.VoucherMaker.new_with_insecure_test_policy(db, bm.ClientKey.generate(), b"bench-account")
now = db.window_start(0)
ad = b"\x5a" * 32
vid = b"0123456789abcdef"

create = maker.create_voucher
for i in range(200):
    create(hashes[i % 1000], vid, ad, now)
per_round = []
for _ in range(rounds):
    t = time.perf_counter()
    for i in range(n):
        create(hashes[i % 1000], vid, ad, now)
    per_round.append((time.perf_counter() - t) * 1e6 / n)

print(
    f"python         n={n} rounds={rounds} median_us={statistics.median(per_round):.1f} "
    f"min_us={min(per_round):.1f}"
)

requests = [bm.VoucherRequest(hash=hashes[i % 1000], id=vid, associated_data=ad) for i in range(n)]
batches = [requests[i : i + 100] for i in range(0, n, 100)]
per_round = []
for _ in range(rounds):
    t = time.perf_counter()
    for b in batches:
        maker.create_vouchers(b, now)
    per_round.append((time.perf_counter() - t) * 1e6 / n)
print(
    f"python-batch100 n={n} rounds={rounds} median_us={statistics.median(per_round):.1f} "
    f"min_us={min(per_round):.1f}"
)
