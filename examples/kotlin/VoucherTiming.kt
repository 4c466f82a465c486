// Per-voucher cost from Kotlin on the JVM, measured like bindings/examples/voucher_timing.rs
// (Rust) and examples/python/voucher_timing.py; scripts/bench-bindings.sh runs the three side
// by side.
//
// A database of 1000 SHA-256 hashes (T = 30, s_max = 60, synthetic rate 0, so every voucher is
// real and costs the same; rate 0 is below the device policy's floor, so the maker uses the
// insecure test policy), core's default window schedule and a fixed time in its first window;
// warm-up (more than the others: the JIT needs it); then ROUNDS rounds
// of N vouchers for listed hashes, 16-byte ids, 32 bytes of associated data. Prints the median
// and the minimum of the per-round mean, in µs per voucher, for one `createVoucher` call per
// voucher and for `createVouchers` batches of 100.
package org.blindmatch.examples.timing

import org.blindmatch.*

fun main(args: Array<String>) {
    val n = args.getOrNull(0)?.toInt() ?: 1000
    val rounds = args.getOrNull(1)?.toInt() ?: 7

    val server = ServerKey.generate()
    val hashes = (0 until 1000).map { sha256("item $it".toByteArray()) }
    val options = BuildOptions(threshold = 30u, sMax = 60u, rateLoPpm = 0u, rateHiPpm = 0u).withEpoch(1uL)
    val dbBytes = server.buildDatabase(listOf(HashList("bench", hashes)), options)
    val db = Database.fromBytes(dbBytes, server.publicKey())
    val maker = VoucherMaker.newWithInsecureTestPolicy(db, ClientKey.generate(), "bench-account".toByteArray())
    val now = db.windowStart(0uL)
    val ad = ByteArray(32) { 0x5a }
    val id = "0123456789abcdef".toByteArray()

    var sink = 0
    fun report(label: String, perRound: DoubleArray) {
        perRound.sort()
        println("$label n=$n rounds=$rounds median_us=%.1f min_us=%.1f".format(perRound[rounds / 2], perRound[0]))
    }

    repeat(5000) { sink += maker.createVoucher(hashes[it % 1000], id, ad, now).size }
    val single = DoubleArray(rounds)
    for (r in 0 until rounds) {
        val t = System.nanoTime()
        for (i in 0 until n) sink += maker.createVoucher(hashes[i % 1000], id, ad, now).size
        single[r] = (System.nanoTime() - t) / 1e3 / n
    }
    report("kotlin-jvm    ", single)

    val batches = (0 until n).map { VoucherRequest(hashes[it % 1000], id, ad) }.chunked(100)
    repeat(20) { sink += maker.createVouchers(batches[0], now).size }
    val batched = DoubleArray(rounds)
    for (r in 0 until rounds) {
        val t = System.nanoTime()
        for (b in batches) sink += maker.createVouchers(b, now).size
        batched[r] = (System.nanoTime() - t) / 1e3 / n
    }
    report("kotlin-batch100", batched)
    if (sink == 0) println("(unreachable)")
}
