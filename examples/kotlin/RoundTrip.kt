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

    // --- server: key and database -----------------------------------------------------------
    val server = ServerKey.generate()
    val knownMedia = (0 until 100).map { "known image $it".utf8() }
    val list = HashList(name = "example-org", hashes = knownMedia.map { sha256(it) })
    val dbBytes = server.buildDatabase(
        listOf(list),
        // T, s_max and the synthetic rate are checked here; everything else is core's default.
        BuildOptions(threshold = threshold, sMax = 6u, syntheticRatePpm = 20_000u).withEpoch(1uL),
    )
    val pinnedKey = server.publicKey() // shipped inside the app
    val root = Database.fromBytes(dbBytes, pinnedKey).use { db ->
        println("server: database of ${db.info().entries} hashes, T=$threshold")
        db.rootHash() // published; auditors compare it out of band
    }
    println("server: root hash ${root.hex()}")

    // --- device: verify, keys, vouchers (objects are AutoCloseable: `use` frees them) ------------
    val outbox = mutableListOf<ByteArray>()
    Database.fromBytes(dbBytes, pinnedKey, expectedRootHash = root).use { deviceDb ->
        val backup = ClientKey.generate().use { it.export() } // to the keystore / other devices
        ClientKey.fromExported(backup).use { key ->
            VoucherMaker(deviceDb, key).use { maker ->
                for (i in 0 until 5) { // ordinary photos: not on the list
                    outbox += maker.createVoucher(sha256("holiday photo $i".utf8()), "photo-$i".utf8(), "msg ref".utf8())
                }
                // Items on the list: two more than T, because at the 2 % synthetic rate a match's
                // voucher is itself synthetic now and then (the device's deniability); with T + 2
                // matches the account reveals unless three are synthetic (about 1 run in 10 000).
                for (i in 0 until threshold.toInt() + 2) {
                    outbox += maker.createVoucher(sha256(knownMedia[i]), "match-$i".utf8(), "evidence $i".utf8())
                }
            }
        }
    }
    println("device: ${outbox.size} vouchers of ${outbox[0].size} bytes each")

    // --- server: open and accumulate -----------------------------------------------------------
    Database.fromBytes(dbBytes, pinnedKey).use { db ->
        Opener(server, db).use { opener ->
            opener.newAccount().use { account ->
                outbox.forEachIndexed { n, voucher ->
                    val result = opener.openVoucher(voucher)
                    account.add(result)
                    val state = when (val o = account.evaluate()) {
                        is RevealOutcome.BelowThreshold -> "below threshold (${o.opened} opened)"
                        is RevealOutcome.Revealed -> "revealed"
                    }
                    println("server: voucher ${n + 1} ${if (result.opened) "opened" else "did not open"}; account $state")
                }
                when (val outcome = account.evaluate()) {
                    is RevealOutcome.Revealed -> {
                        outcome.real.sortedBy { String(it.id) }.forEach {
                            println("server: revealed ${String(it.id)} -> ${String(it.associatedData)}")
                        }
                        println("server: synthetic vouchers identified: ${outcome.syntheticIds.size}")
                    }
                    is RevealOutcome.BelowThreshold -> error("T real matches were sent, so the account must reveal")
                }
            }
        }
    }

    try {
        Database.fromBytes(dbBytes.copyOf(dbBytes.size - 1), pinnedKey)
    } catch (e: BlindMatchException.BadInput) {
        println("device: a truncated database is refused: ${e.reason}")
    }

    // A voucher made for another epoch names both epochs.
    val epoch2 = server.buildDatabase(listOf(list), BuildOptions(threshold, 6u, 20_000u).withEpoch(2uL))
    Database.fromBytes(epoch2, pinnedKey).use { db ->
        Opener(server, db).use { opener ->
            try {
                opener.openVoucher(outbox[0])
                error("a voucher for epoch 1 opened under epoch 2")
            } catch (e: BlindMatchException.WrongEpoch) {
                println("server: voucher for epoch ${e.voucherEpoch} refused by the epoch-${e.databaseEpoch} database")
            }
        }
    }
    server.close()
}
