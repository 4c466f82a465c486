// The blindmatch protocol end to end from Kotlin on the JVM, with both sides in one process.
// Built and run by scripts/test-kotlin.sh:
//   java -Djna.library.path=target/bindings/lib -cp <jar>:kotlin-stdlib.jar:jna.jar \
//        org.blindmatch.examples.RoundTripKt
// On Android, run the same calls off the main thread (see examples/android/).
package org.blindmatch.examples

import org.blindmatch.*

private fun String.utf8() = toByteArray(Charsets.UTF_8)
private fun ByteArray.hex() = joinToString("") { "%02x".format(it) }

fun main() {
    val threshold = 3u
    val account = "user-42".utf8() // the id the server files this account's vouchers under

    // --- server: key and database -----------------------------------------------------------
    val server = ServerKey.generate()
    val knownMedia = (0 until 100).map { "known image $it".utf8() }
    val list = HashList(name = "example-org", hashes = knownMedia.map { sha256(it) })
    // T, s_max and the synthetic-rate range are checked here; everything else (the window
    // schedule among it) is core's default.
    val options = BuildOptions(threshold = threshold, sMax = 6u, rateLoPpm = 10_000u, rateHiPpm = 30_000u)
    val dbBytes = server.buildDatabase(listOf(list), options.withEpoch(1uL))
    val pinnedKey = server.publicKey() // shipped inside the app
    val root = Database.fromBytes(dbBytes, pinnedKey).use { db ->
        val s = db.info().schedule
        println("server: database of ${db.info().entries} hashes, T=$threshold, ${s.count} windows of ${s.lengthSecs / 86_400uL} days")
        db.rootHash() // published; auditors compare it out of band
    }
    println("server: root hash ${root.hex()}")

    // --- device: verify, keys, device state, vouchers (objects are AutoCloseable) ---------------
    val now = System.currentTimeMillis().toULong() / 1000uL // apps pass the current time
    var deviceState: ByteArray? = null // the app's stored state blob: null until its first vouchers
    val outbox = mutableListOf<ByteArray>()
    Database.fromBytes(dbBytes, pinnedKey, expectedRootHash = root).use { deviceDb ->
        val backup = ClientKey.generate().use { it.export() } // to the keystore / other devices
        ClientKey.fromExported(backup).use { key ->
            // T = 3 is far below the device policy's floor: an app's maker,
            // VoucherMaker(deviceDb, key, account, pinnedRootHash), refuses such a database with
            // PolicyRefused. This demo uses the insecure test policy, never an app.
            VoucherMaker.newWithInsecureTestPolicy(deviceDb, key, account).use { maker ->
                val requests = (0 until 5).map { // ordinary photos: not on the list
                    VoucherRequest(sha256("holiday photo $it".utf8()), "photo-$it".utf8(), "msg ref".utf8())
                } + (0 until threshold.toInt() + 3).map {
                    // Items on the list: more than T, because at this account's secret synthetic
                    // rate (1–3 %) a listed item is now and then synthetic in a window (the
                    // device's deniability); with T + 3 distinct matches the account reveals
                    // unless four are synthetic (at a 3 % rate about one run in 100 000).
                    VoucherRequest(sha256(knownMedia[it]), "match-$it".utf8(), "evidence $it".utf8())
                }
                val made = maker.createVouchersWithState(requests, deviceState, now)
                deviceState = made.state // store it before sending the vouchers
                outbox += made.vouchers
                println("device: ${outbox.size} vouchers of ${outbox[0].size} bytes each in window ${maker.windowAt(now)}")

                // The device state refuses to go back: a clock set back by a window is refused.
                try {
                    maker.checkState(deviceState, now - deviceDb.schedule().lengthSecs)
                    error("an older window was accepted")
                } catch (e: BlindMatchException.StaleWindow) {
                    println("device: window ${e.window} refused, this device has already used window ${e.newestWindow}")
                }
            }
        }
    }

    // --- server: open under the account, one account per (account id, window) ----------------
    Database.fromBytes(dbBytes, pinnedKey).use { db ->
        Opener(server, db).use { opener ->
            val accounts = mutableMapOf<ULong, Account>()
            opener.openVouchers(outbox, account).forEachIndexed { n, result ->
                val acc = accounts.getOrPut(result.window) { opener.newAccount(result.window) }
                acc.add(result)
                val state = when (val o = acc.evaluate()) {
                    is RevealOutcome.BelowThreshold -> "below threshold (${o.opened} opened)"
                    is RevealOutcome.OverCapacity -> "over capacity (${o.dropped} dropped)"
                    is RevealOutcome.Undecodable -> "undecodable (${o.opened} opened)"
                    is RevealOutcome.Revealed -> "revealed"
                }
                println("server: voucher ${n + 1} ${if (result.opened) "opened" else "did not open"}; window ${result.window} $state")
            }
            val (window, acc) = accounts.entries.single()
            when (val outcome = acc.evaluate()) {
                is RevealOutcome.Revealed -> {
                    outcome.real.sortedBy { String(it.id) }.forEach {
                        println("server: revealed ${String(it.id)} -> ${String(it.associatedData)}")
                    }
                    println("server: synthetic vouchers identified in window $window: ${outcome.syntheticIds.size}")
                    check(outcome.rejectedIds.isEmpty()) { "an honest device's records all open" }
                    // Kept with the records, the reveal key keeps the account revealed.
                    println("server: ${acc.revealKeys().size} reveal key to store with the account's records")
                }
                is RevealOutcome.BelowThreshold, is RevealOutcome.OverCapacity, is RevealOutcome.Undecodable ->
                    error("T real matches were sent, so the account must reveal")
            }
            accounts.values.forEach { it.close() }
        }
    }

    try {
        Database.fromBytes(dbBytes.copyOf(dbBytes.size - 1), pinnedKey)
    } catch (e: BlindMatchException.BadInput) {
        println("device: a truncated database is refused: ${e.reason}")
    }

    // A voucher made for another epoch names both epochs.
    val epoch2 = server.buildDatabase(listOf(list), options.withEpoch(2uL))
    Database.fromBytes(epoch2, pinnedKey).use { db ->
        Opener(server, db).use { opener ->
            try {
                opener.openVoucher(outbox[0], account)
                error("a voucher for epoch 1 opened under epoch 2")
            } catch (e: BlindMatchException.WrongEpoch) {
                println("server: voucher for epoch ${e.voucherEpoch} refused by the epoch-${e.databaseEpoch} database")
            }
        }
    }
    server.close()
}
