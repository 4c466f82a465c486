// The Kotlin SDK on the JVM: the same round trip and malformed-input cases as the Python suite,
// against the generated bindings (package org.blindmatch) and the release cdylib.
// No JUnit here: a tiny runner counts passed/failed and exits non-zero on any failure.
// Run by scripts/test-kotlin.sh.
package org.blindmatch.tests

import org.blindmatch.*
import java.io.File
import java.util.concurrent.Callable
import java.util.concurrent.Executors
import kotlin.random.Random
import kotlin.system.exitProcess

private var passed = 0
private var failed = 0

private fun test(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (t: Throwable) {
        failed++
        println("FAIL $name: $t")
        t.printStackTrace(System.out)
    }
}

private fun expect(condition: Boolean, message: () -> String = { "expectation failed" }) {
    if (!condition) throw AssertionError(message())
}

/** Runs [block] and returns the exception of exactly type [T]; fails on anything else. */
private inline fun <reified T : BlindMatchException> assertThrows(block: () -> Unit): T {
    try {
        block()
    } catch (e: BlindMatchException) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got ${e::class.simpleName}: ${e.message}", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}

private fun ByteArray.hex() = joinToString("") { "%02x".format(it) }
private fun String.utf8() = toByteArray(Charsets.UTF_8)

private const val THRESHOLD = 5u
private const val S_MAX = 8u

// Time is explicit: the test databases have 30 daily windows from ORIGIN, and the device makes
// its vouchers at fixed times in them (apps pass the current time).
private const val ORIGIN = 1_800_000_000uL
private const val DAY = 86_400uL
private const val WINDOWS = 30u
private const val WINDOW = 2uL
private fun at(window: ULong, offset: ULong = 0uL) = ORIGIN + window * DAY + offset
private val NOW = at(WINDOW, 3600uL)
private val ACCOUNT = "account-1".toByteArray()

private fun listed(i: Int) = sha256("listed item $i".utf8())
private fun unlisted(i: Int) = sha256("not on any list $i".utf8())

private class World(
    val server: ServerKey,
    val dbBytes: ByteArray,
    val db: Database,
    val key: ClientKey,
    val maker: VoucherMaker,
    val opener: Opener,
) {
    /** Open a voucher filed under the test account. */
    fun open(voucher: ByteArray) = opener.openVoucher(voucher, ACCOUNT)
}

private fun options(threshold: UInt = THRESHOLD, sMax: UInt = S_MAX, epoch: ULong = 3uL, ratePpm: UInt = 0u) =
    BuildOptions(threshold = threshold, sMax = sMax, rateLoPpm = ratePpm, rateHiPpm = ratePpm)
        .withSchedule(ORIGIN, DAY, WINDOWS)
        .withEpoch(epoch)

private fun makeWorld(
    threshold: UInt = THRESHOLD,
    sMax: UInt = S_MAX,
    epoch: ULong = 3uL,
    n: Int = 200,
    ratePpm: UInt = 0u,
): World {
    val server = ServerKey.generate()
    val lists = listOf(HashList(name = "test-list", hashes = (0 until n).map(::listed)))
    val bytes = server.buildDatabase(lists, options(threshold, sMax, epoch, ratePpm))
    val db = Database.fromBytes(bytes, server.publicKey())
    val key = ClientKey.generate()
    // T = 5 and rate 0 are below the default device policy: tests use the test policy.
    val maker = VoucherMaker.newWithInsecureTestPolicy(db, key, ACCOUNT)
    return World(server, bytes, db, key, maker, Opener(server, db))
}

/** x0 from a stored record (docs/PROTOCOL.md §9.1: LE64 at offset 46 + id_len). */
private fun recordX0(record: ByteArray): Long {
    val idLen = record[13].toInt() and 0xff
    var x0 = 0L
    for (i in 7 downTo 0) x0 = (x0 shl 8) or (record[46 + idLen + i].toLong() and 0xff)
    return x0
}

private fun gradient(width: Int, height: Int, channels: Int): ByteArray {
    val out = ByteArray(width * height * channels)
    var o = 0
    for (y in 0 until height) for (x in 0 until width) {
        val v = (x * 255 / width) xor (y * 255 / height)
        val px = intArrayOf(v, (x * 3) % 256, (y * 5) % 256, 255)
        for (c in 0 until channels) out[o++] = px[c].toByte()
    }
    return out
}

fun main() {
    val world = makeWorld()

    test("exact hashes match known digests") {
        expect(sha256("abc".utf8()).bytes.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        expect(sha1("abc".utf8()).bytes.hex() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        expect(md5(ByteArray(0)).bytes.hex() == "d41d8cd98f00b204e9800998ecf8427e")
        expect(sha256(ByteArray(1)).kind == HashKind.SHA256)
        assertThrows<BlindMatchException.BadInput> { hashBytes(HashKind.PDQ, "x".utf8()) }
    }

    test("hash_file streams the same digest") {
        val f = File.createTempFile("blindmatch", ".bin")
        try {
            val data = ByteArray(300_000) { (it * 7).toByte() }
            f.writeBytes(data)
            expect(hashFile(HashKind.SHA256, f.path).bytes.contentEquals(sha256(data).bytes))
        } finally {
            f.delete()
        }
        assertThrows<BlindMatchException.Io> { hashFile(HashKind.MD5, "/nonexistent/blindmatch") }
    }

    test("PDQ of RGB and RGBA agree; the quality gate rejects a flat image") {
        val rgb = pdqHash(gradient(96, 80, 3), 96u, 80u, PixelFormat.RGB)
        val rgba = pdqHash(gradient(96, 80, 4), 96u, 80u, PixelFormat.RGBA)
        val h = rgb.hash
        expect(h != null && h.kind == HashKind.PDQ && h.bytes.size == 32)
        expect(h!!.bytes.contentEquals(rgba.hash?.bytes) && rgb.quality == rgba.quality)
        expect(rgb.quality >= defaultMinPdqQuality())
        val flat = pdqHash(ByteArray(64 * 64 * 3) { 128.toByte() }, 64u, 64u, PixelFormat.RGB)
        expect(flat.hash == null && flat.quality < 50u) { "flat image passed the gate: $flat" }
        assertThrows<BlindMatchException.BadInput> { pdqHash(ByteArray(10), 4u, 4u, PixelFormat.RGB) }
        assertThrows<BlindMatchException.BadInput> { pdqHash(ByteArray(0), 0u, 0u, PixelFormat.RGBA) }
    }

    test("typed-hash helpers") {
        val h = sha1("abc".utf8())
        val text = typedHashToString(h)
        expect(text == "sha1:a9993e364706816aba3e25717850c26c9cd0d89d")
        expect(parseTypedHash(text).bytes.contentEquals(h.bytes))
        expect(parseHashList("md5,d41d8cd98f00b204e9800998ecf8427e\n" + "ab".repeat(32), HashKind.SHA256).map { it.kind } ==
            listOf(HashKind.MD5, HashKind.SHA256))
        val e = assertThrows<BlindMatchException.BadInput> { parseHashList("zz-secret\n", HashKind.SHA256) }
        expect(e.line == 1uL) { "line ${e.line}" }
        expect(e.message.contains("line 1") && !e.message.contains("secret"))
        val third = assertThrows<BlindMatchException.BadInput> { parseHashList("# header\n\nmd5,00\n") }
        expect(third.line == 3uL && third.reason.contains("line 3")) { "$third" }
    }

    test("database verifies against the pinned key and root hash") {
        val info = world.db.info()
        expect(info.epoch == 3uL && info.entries == 200uL && info.kinds == listOf(HashKind.SHA256))
        expect(info.params == DatabaseParams(THRESHOLD, S_MAX, 0u, 0u)) { "params ${info.params}" }
        expect(info.params.threshold() == THRESHOLD && info.params.sMax() == S_MAX)
        expect(info.params.rateLoPpm() == 0u && info.params.rateHiPpm() == 0u)
        expect(info.schedule == WindowSchedule(ORIGIN, DAY, WINDOWS) && world.db.schedule() == info.schedule)
        expect(world.db.windowAt(NOW) == WINDOW && world.maker.windowAt(NOW) == WINDOW)
        expect(world.db.windowStart(WINDOW) == at(WINDOW))
        expect(info.rootHash.hex() == info.rootHashHex && info.serverFingerprint == world.server.fingerprint())
        Database.fromBytes(world.dbBytes, world.server.publicKey(), info.rootHash).use { again ->
            expect(again.rootHash().contentEquals(info.rootHash))
        }
        val f = File.createTempFile("blindmatch", ".bmdb")
        try {
            f.writeBytes(world.dbBytes)
            Database.openFile(f.path, world.server.publicKey(), info.rootHash).use { loaded ->
                expect(loaded.epoch() == 3uL)
                loaded.verify()
            }
        } finally {
            f.delete()
        }
    }

    test("build options: parameters checked on construction, the rest core's defaults") {
        val base = BuildOptions(5u, 8u, 0u, 0u)
        val defaults = BuildOptions.defaults()
        val set = base.withEpoch(9uL).withMinSources(2u).withCreatedUnix(1_700_000_000uL).withKinds(listOf(HashKind.SHA256))
            .withSchedule(ORIGIN, 3600uL, 48u)
        expect(set.params() == DatabaseParams(5u, 8u, 0u, 0u) && set.epoch() == 9uL && set.minSources() == 2u.toUByte())
        expect(set.createdUnix() == 1_700_000_000uL && set.kinds() == listOf(HashKind.SHA256))
        expect(set.schedule() == WindowSchedule(origin = ORIGIN, lengthSecs = 3600uL, count = 48u))
        // Each with… returns a new object; what is not set is core's default.
        expect(base.epoch() == defaults.epoch() && base.createdUnix() == null && base.kinds() == null)
        expect(base.expansion() == defaults.expansion() && base.minSources() == defaults.minSources())
        expect(base.schedule() == defaults.schedule())
        expect(base.withParams(defaults.params()).params() == defaults.params())
        val p = DatabaseParams(5u, 8u, 100u, 300u)
        expect(p.rateLoPpm() == 100u && p.rateHiPpm() == 300u && p == DatabaseParams(5u, 8u, 100u, 300u))
        expect(p.hashCode() == DatabaseParams(5u, 8u, 100u, 300u).hashCode() && p != DatabaseParams(5u, 8u, 100u, 301u))
    }

    test("keys export and import") {
        val key = ClientKey.generate()
        val exported = key.export()
        expect(exported.size == 38)
        expect(ClientKey.fromExported(exported).export().contentEquals(exported))
        val server = ServerKey.generate()
        val restored = ServerKey.fromSecretBytes(server.exportSecret())
        expect(restored.publicKey().contentEquals(server.publicKey()) && server.publicKey().size == 70)
    }

    test("members open, non-members do not, synthetic vouchers always open") {
        for (i in 0 until 10) {
            val r = world.open(world.maker.createVoucher(listed(i), "m$i".utf8(), "ad".utf8(), NOW))
            expect(r.opened && r.id.contentEquals("m$i".utf8()) && r.record != null && r.window == WINDOW)
        }
        for (i in 0 until 30) {
            val r = world.open(world.maker.createVoucher(unlisted(i), "n".utf8(), "ad".utf8(), NOW))
            expect(!r.opened && r.record == null && r.window == WINDOW)
        }
        val s = world.maker.createVoucherForSimulation(unlisted(0), "s".utf8(), ByteArray(0), WINDOW, VoucherChoice.SYNTHETIC)
        expect(world.open(s).opened)
    }

    test("batch vouchers match single ones") {
        val requests = (0 until 20).map { i ->
            VoucherRequest(if (i % 2 == 1) listed(i) else unlisted(i), "b$i".utf8(), "ad".utf8())
        }
        val vouchers = world.maker.createVouchers(requests, NOW)
        expect(vouchers.map { String(peekVoucher(it).id) } == (0 until 20).map { "b$it" })
        expect(vouchers.map { world.open(it).opened } == (0 until 20).map { it % 2 == 1 })
        expect(world.maker.createVouchers(emptyList(), NOW).isEmpty())
        assertThrows<BlindMatchException.BadInput> {
            world.maker.createVouchers(requests + VoucherRequest(listed(0), ByteArray(65), ByteArray(0)), NOW)
        }
        // The server's batch call: the same results in order; a malformed voucher comes back
        // refused and never fails the batch.
        val batch = world.opener.openVouchers(vouchers, ACCOUNT)
        expect(batch.map { it.opened } == (0 until 20).map { it % 2 == 1 } && batch.all { it.window == WINDOW })
        val mixed = world.opener.openVouchers(vouchers + ByteArray(10), ACCOUNT)
        expect(mixed.size == 21 && !mixed[20].opened && mixed[20].refused != null && batch.all { it.refused == null })
    }

    test("voucher header and size") {
        val v = world.maker.createVoucher(listed(0), "item-17".utf8(), ByteArray(10), NOW)
        val h = peekVoucher(v)
        expect(h.epoch == 3uL && h.window == WINDOW && h.id.contentEquals("item-17".utf8()))
        // 308 + 8 (s_max + 1) + the associated-data bucket (256 bytes up to 252 bytes of data).
        expect(v.size.toUInt() == world.db.voucherLen(10u) && v.size.toUInt() == 308u + 8u * (S_MAX + 1u) + 256u)
    }

    test("reveal happens exactly at the threshold") {
        val w = makeWorld()
        w.opener.newAccount(WINDOW).use { account ->
            expect(account.window() == WINDOW)
            val synthetic = 6
            for (i in 0 until synthetic) {
                val v = w.maker.createVoucherForSimulation(listed(100 + i), "syn$i".utf8(), "never".utf8(), WINDOW, VoucherChoice.SYNTHETIC)
                expect(account.add(w.open(v)) == InsertResult.NEW)
            }
            for (i in 0 until 20) {
                val r = account.add(w.open(w.maker.createVoucher(unlisted(i), "n".utf8(), ByteArray(0), NOW)))
                expect(r == InsertResult.NOT_OPENED)
            }
            for (i in 0 until THRESHOLD.toInt()) {
                val before = account.evaluate()
                expect(before is RevealOutcome.BelowThreshold) { "revealed after only $i real matches" }
                expect((before as RevealOutcome.BelowThreshold).opened == account.openedCount())
                val v = w.maker.createVoucher(listed(i), "real$i".utf8(), "payload $i".utf8(), NOW + i.toULong())
                expect(account.add(w.open(v)) == InsertResult.NEW)
                if (i == 0) {
                    repeat(3) { k -> // re-sent later in the same window
                        val again = w.maker.createVoucher(listed(0), "again".utf8(), "payload 0".utf8(), NOW + 1000uL * (k + 1).toULong())
                        expect(account.add(w.open(again)) == InsertResult.NEW)
                    }
                    expect(account.evaluate() is RevealOutcome.BelowThreshold)
                }
            }
            val outcome = account.evaluate()
            expect(outcome is RevealOutcome.Revealed) { "no reveal at the threshold: $outcome" }
            outcome as RevealOutcome.Revealed
            val real = outcome.real.associate { String(it.id) to String(it.associatedData) }
            val want = (0 until THRESHOLD.toInt()).associate { "real$it" to "payload $it" } + ("again" to "payload 0")
            expect(real == want) { "revealed $real" }
            expect(outcome.syntheticIds.map { String(it) }.sorted() == (0 until synthetic).map { "syn$it" })
            expect(outcome.rejectedIds.isEmpty())

            Account(w.opener.params(), WINDOW).use { restored ->
                for (rec in account.records()) {
                    expect(restored.addRecord(rec) == InsertResult.NEW)
                    expect(restored.addRecord(rec) == InsertResult.DUPLICATE)
                }
                val again = restored.evaluate() as RevealOutcome.Revealed
                expect(again.real.size == outcome.real.size && again.syntheticIds.size == synthetic)
            }
            Account.withRecords(w.opener.params(), WINDOW, account.records()).use { restored ->
                val again = restored.evaluate() as RevealOutcome.Revealed
                expect(again.real.map { String(it.id) } == outcome.real.map { String(it.id) })
            }
        }
    }

    test("objects are shared across threads") {
        val pool = Executors.newFixedThreadPool(4)
        try {
            val vouchers = (0 until 64).map { i ->
                pool.submit(Callable { world.maker.createVoucher(listed(i % 200), "t$i".utf8(), ByteArray(0), NOW) })
            }.map { it.get() }
            val results = vouchers.map { v -> pool.submit(Callable { world.open(v) }) }.map { it.get() }
            expect(results.all { it.opened })
            val account = world.opener.newAccount(WINDOW)
            val added = results.map { r -> pool.submit(Callable { account.add(r) }) }.map { it.get() }
            expect(added.all { it == InsertResult.NEW } && added.size == 64 && account.openedCount() == 64uL)
        } finally {
            pool.shutdown()
        }
    }

    test("closing a Database leaves makers that share it usable") {
        val w = makeWorld(n = 20)
        val maker = VoucherMaker.newWithInsecureTestPolicy(w.db, ClientKey.generate(), ACCOUNT)
        w.db.close()
        expect(w.open(maker.createVoucher(listed(1), "x".utf8(), ByteArray(0), NOW)).opened)
        maker.close()
    }

    test("malformed databases are typed errors") {
        val pk = world.server.publicKey()
        val b = world.dbBytes
        for (bad in listOf(ByteArray(0), "BMDB".utf8(), b.copyOf(100), b.copyOf(b.size - 1), ByteArray(500), b + ByteArray(1))) {
            assertThrows<BlindMatchException.BadInput> { Database.fromBytes(bad, pk) }
        }
        expect(b[4] == 2.toByte())
        for (version in listOf(1, 4)) { // v1 is refused as a format this build does not read
            assertThrows<BlindMatchException.UnsupportedVersion> { Database.fromBytes(b.copyOf().also { it[4] = version.toByte() }, pk) }
        }
        // v3 is the fuzzy format (a manifest that ends with the band layout): a v2 file relabelled
        // 3 does not parse.
        assertThrows<BlindMatchException.BadInput> { Database.fromBytes(b.copyOf().also { it[4] = 3 }, pk) }
        val tampered = b.copyOf().also { it[it.size - 5] = (it[it.size - 5].toInt() xor 1).toByte() }
        assertThrows<BlindMatchException.VerificationFailed> { Database.fromBytes(tampered, pk) }
        assertThrows<BlindMatchException.VerificationFailed> { Database.fromBytes(b, ServerKey.generate().publicKey()) }
        assertThrows<BlindMatchException.VerificationFailed> { Database.fromBytes(b, pk, ByteArray(32)) }
        assertThrows<BlindMatchException.BadInput> { Database.fromBytes(b, pk, ByteArray(31)) }
        assertThrows<BlindMatchException.Io> { Database.openFile("/nonexistent/db.bmdb", pk) }
        val rng = Random(4)
        repeat(40) {
            val m = b.copyOf()
            repeat(rng.nextInt(1, 5)) { m[rng.nextInt(m.size)] = rng.nextInt(256).toByte() }
            try {
                Database.fromBytes(m, pk)
            } catch (e: BlindMatchException) {
                expect(e !is BlindMatchException.Internal) { "internal error: ${e.message}" }
            }
        }
    }

    test("malformed vouchers are typed errors") {
        val v = world.maker.createVoucher(listed(0), "id".utf8(), "ad".utf8(), NOW)
        for (bad in listOf(ByteArray(0), "BV".utf8(), ByteArray(100), v.copyOf(v.size - 1), v + ByteArray(1), v.copyOf(84), ByteArray(v.size))) {
            assertThrows<BlindMatchException.BadInput> { world.open(bad) }
        }
        assertThrows<BlindMatchException.BadInput> { peekVoucher("xx".utf8()) }
        assertThrows<BlindMatchException.UnsupportedVersion> { world.open(v.copyOf().also { it[2] = 9 }) }
        assertThrows<BlindMatchException.UnsupportedVersion> { world.open(v.copyOf().also { it[2] = 1 }) } // v1
        val other = makeWorld(epoch = 4uL, n = 20)
        val wrongEpoch = assertThrows<BlindMatchException.WrongEpoch> {
            world.open(other.maker.createVoucher(listed(0), "id".utf8(), ByteArray(0), NOW))
        }
        expect(wrongEpoch.voucherEpoch == 4uL && wrongEpoch.databaseEpoch == 3uL) { "$wrongEpoch" }
        expect(wrongEpoch.reason.contains("epoch 4") && wrongEpoch.message.contains("epoch 4"))
        // A broken inner layer: the same result as an unlisted item (no membership oracle for a
        // sender), counted for the operator.
        val inner = world.maker.createVoucher(listed(1), "id".utf8(), "ad".utf8(), NOW)
        inner[inner.size - 1] = (inner[inner.size - 1].toInt() xor 0x80).toByte()
        val malformed = world.opener.malformedCount()
        val broken = world.open(inner)
        expect(!broken.opened && broken.record == null && broken.id.contentEquals("id".utf8()))
        expect(world.opener.malformedCount() == malformed + 1uL)
        val rng = Random(7)
        repeat(300) {
            val m = v.copyOf()
            repeat(rng.nextInt(1, 4)) { m[rng.nextInt(m.size)] = rng.nextInt(256).toByte() }
            try {
                world.open(m)
            } catch (e: BlindMatchException) {
                expect(e !is BlindMatchException.Internal) { "internal error: ${e.message}" }
            }
        }
        val account = world.opener.newAccount(WINDOW)
        assertThrows<BlindMatchException.BadInput> { account.addRecord("BMOR\u0002garbage".utf8()) }
        assertThrows<BlindMatchException.UnsupportedVersion> { account.addRecord("BMOR\u0001garbage".utf8()) } // v1
        assertThrows<BlindMatchException.BadInput> { account.add(OpenResult(true, "x".utf8(), WINDOW, ByteArray(40), null)) }
    }

    test("malformed keys are typed errors") {
        val good = ClientKey.generate().export()
        for (bad in listOf(ByteArray(0), good.copyOf(good.size - 1), good + ByteArray(1), "XXXX".utf8() + good.copyOfRange(4, good.size))) {
            assertThrows<BlindMatchException.BadInput> { ClientKey.fromExported(bad) }
        }
        assertThrows<BlindMatchException.UnsupportedVersion> { ClientKey.fromExported(good.copyOf().also { it[4] = 2 }) }
        val secret = world.server.exportSecret()
        assertThrows<BlindMatchException.BadInput> { ServerKey.fromSecretBytes(secret.copyOf(69)) }
        assertThrows<BlindMatchException.BadInput> {
            ServerKey.fromSecretBytes(secret.copyOf().also { s -> for (i in 6 until 38) s[i] = 0 })
        }
        val public = world.server.publicKey()
        assertThrows<BlindMatchException.BadInput> {
            Database.fromBytes(world.dbBytes, public.copyOf().also { p -> for (i in 6 until 38) p[i] = -1 })
        }
        assertThrows<BlindMatchException.WrongKey> { Opener(ServerKey.generate(), world.db) }
    }

    test("bad arguments are typed errors") {
        assertThrows<BlindMatchException.BadInput> { world.maker.createVoucher(listed(0), ByteArray(65), ByteArray(0), NOW) }
        assertThrows<BlindMatchException.BadInput> { world.maker.createVoucher(listed(0), ByteArray(1), ByteArray(65533), NOW) }
        assertThrows<BlindMatchException.BadInput> {
            world.maker.createVoucher(TypedHash(HashKind.SHA256, ByteArray(31)), ByteArray(1), ByteArray(0), NOW)
        }
        assertThrows<BlindMatchException.KindNotListed> { world.maker.createVoucher(md5(ByteArray(1)), ByteArray(1), ByteArray(0), NOW) }
        assertThrows<BlindMatchException.BadInput> { VoucherMaker.newWithInsecureTestPolicy(world.db, world.key, ByteArray(256)) }
        assertThrows<BlindMatchException.BadInput> { world.opener.openVoucher(ByteArray(10), ByteArray(256)) }
        val lists = listOf(HashList("a", listOf(listed(0))))
        val defaults = BuildOptions.defaults()
        assertThrows<BlindMatchException.BadInput> { BuildOptions(threshold = 1u, sMax = 8u, rateLoPpm = 0u, rateHiPpm = 0u) }
        assertThrows<BlindMatchException.BadInput> { BuildOptions(5u, 0u, 0u, 1u) }
        assertThrows<BlindMatchException.BadInput> { BuildOptions(5u, 8u, 200u, 100u) }
        assertThrows<BlindMatchException.BadInput> { DatabaseParams(0u, 0u, 0u, 0u) }
        assertThrows<BlindMatchException.BadInput> { defaults.withSchedule(ORIGIN, 59uL, 10u) }
        assertThrows<BlindMatchException.BadInput> { defaults.withSchedule(ORIGIN, 60uL, 0u) }
        assertThrows<BlindMatchException.BadInput> { world.server.buildDatabase(lists, defaults.withMinSources(2u)) }
        assertThrows<BlindMatchException.BadInput> { world.server.buildDatabase(lists, defaults.withExpansion(0.5)) }
        assertThrows<BlindMatchException.BadInput> {
            world.server.buildDatabase(lists, defaults.withKinds(listOf(HashKind.MD5)))
        }
        val bad = assertThrows<BlindMatchException.BadInput> { ClientKey.fromExported(ByteArray(3)) }
        expect(bad.line == null && bad.reason.isNotEmpty() && bad.message.contains(bad.reason))
    }

    test("two sends of one item in one window open to one x0 and count once") {
        val w = makeWorld()
        val first = w.open(w.maker.createVoucher(listed(7), "first".utf8(), "ad 1".utf8(), at(WINDOW, 10uL)))
        val second = w.open(w.maker.createVoucher(listed(7), "second".utf8(), "ad 2".utf8(), at(WINDOW, 80_000uL)))
        expect(first.opened && second.opened && first.window == WINDOW && second.window == WINDOW)
        val (a, b) = first.record!! to second.record!!
        expect(recordX0(a) == recordX0(b)) { "two x0 for one item in one window" }
        expect(!a.contentEquals(b)) // fresh Q and ciphertexts per send
        val next = w.open(w.maker.createVoucher(listed(7), "next".utf8(), ByteArray(0), at(WINDOW + 1uL)))
        expect(next.window == WINDOW + 1uL && recordX0(next.record!!) != recordX0(a))
        w.opener.newAccount(WINDOW).use { account ->
            expect(account.add(first) == InsertResult.NEW && account.add(second) == InsertResult.NEW)
            for (i in 0 until THRESHOLD.toInt() - 2) {
                account.add(w.open(w.maker.createVoucher(listed(20 + i), "r$i".utf8(), ByteArray(0), NOW)))
            }
            expect(account.evaluate() is RevealOutcome.BelowThreshold && account.openedCount() == THRESHOLD.toULong())
            account.add(w.open(w.maker.createVoucher(listed(99), "last".utf8(), ByteArray(0), NOW)))
            val outcome = account.evaluate() as RevealOutcome.Revealed
            val real = outcome.real.associate { String(it.id) to String(it.associatedData) }
            expect(real["first"] == "ad 1" && real["second"] == "ad 2" && real.size == THRESHOLD.toInt() + 1) { "$real" }
        }
    }

    test("accounts are per window; vouchers open only under their account") {
        val w = makeWorld(n = 20)
        val r = w.open(w.maker.createVoucher(listed(0), "x".utf8(), ByteArray(0), at(6uL)))
        val e = assertThrows<BlindMatchException.WrongWindow> { w.opener.newAccount(5uL).add(r) }
        expect(e.recordWindow == 6uL && e.accountWindow == 5uL && e.reason.contains("window 6")) { "$e" }
        assertThrows<BlindMatchException.WrongWindow> { Account.withRecords(w.opener.params(), 7uL, listOf(r.record!!)) }
        expect(w.opener.newAccount(6uL).add(r) == InsertResult.NEW)
        val v = w.maker.createVoucher(listed(0), "x".utf8(), ByteArray(0), NOW)
        val elsewhere = w.opener.openVoucher(v, "another account".utf8())
        expect(!elsewhere.opened && elsewhere.record == null)
    }

    test("the device state blob refuses an older window, with both numbers") {
        val state5 = world.maker.checkState(null, at(5uL))
        val state6 = world.maker.checkState(world.maker.checkState(state5, at(5uL, 3600uL)), at(6uL))
        val e = assertThrows<BlindMatchException.StaleWindow> { world.maker.checkState(state6, at(5uL, 100uL)) }
        expect(e.window == 5uL && e.newestWindow == 6uL && e.reason.contains("window 5")) { "$e" }
        val one = world.maker.createVoucherWithState(listed(0), "a".utf8(), ByteArray(0), state6, at(8uL))
        expect(peekVoucher(one.voucher).window == 8uL && world.open(one.voucher).opened)
        val batch = world.maker.createVouchersWithState(listOf(VoucherRequest(listed(1), "b".utf8(), ByteArray(0))), one.state, at(9uL))
        expect(batch.vouchers.size == 1 && peekVoucher(batch.vouchers[0]).window == 9uL)
        val stale = assertThrows<BlindMatchException.StaleWindow> {
            world.maker.createVoucherWithState(listed(0), "a".utf8(), ByteArray(0), batch.state, at(8uL, 10uL))
        }
        expect(stale.window == 8uL && stale.newestWindow == 9uL)
        // Another database over a time already covered: refused until the next window.
        val other = makeWorld(n = 10)
        val changed = assertThrows<BlindMatchException.ManifestChanged> { other.maker.checkState(state5, at(5uL, 10uL)) }
        expect(changed.window == 5uL)
        other.maker.checkState(state5, at(6uL))
        assertThrows<BlindMatchException.BadInput> { world.maker.checkState("BMDS".utf8(), NOW) }
        // Outside the schedule (beyond the 600 s slack).
        for (t in listOf(ORIGIN - 601uL, at(WINDOWS.toULong(), 600uL))) {
            assertThrows<BlindMatchException.OutsideSchedule> { world.maker.checkState(null, t) }
            assertThrows<BlindMatchException.OutsideSchedule> { world.maker.createVoucher(listed(0), "x".utf8(), ByteArray(0), t) }
        }
        expect(world.maker.windowAt(ORIGIN - 600uL) == 0uL)
    }

    test("the default policy refuses a T = 3 database; the test policy accepts it") {
        val server = ServerKey.generate()
        val bytes = server.buildDatabase(listOf(HashList("l", listOf(listed(0)))), options(threshold = 3u, sMax = 4u))
        val db = Database.fromBytes(bytes, server.publicKey())
        val e = assertThrows<BlindMatchException.PolicyRefused> { VoucherMaker(db, ClientKey.generate(), ACCOUNT, db.rootHash()) }
        expect(e.reason.contains("threshold") && e.parameter == PolicyParameter.THRESHOLD) { e.reason }
        val maker = VoucherMaker.newWithInsecureTestPolicy(db, ClientKey.generate(), ACCOUNT)
        expect(Opener(server, db).openVoucher(maker.createVoucher(listed(0), "x".utf8(), ByteArray(0), NOW), ACCOUNT).opened)
        // Core's defaults pass the default policy, pinned to their root.
        val defaultDb = Database.fromBytes(
            server.buildDatabase(listOf(HashList("l", listOf(listed(0)))), BuildOptions.defaults()), server.publicKey(),
        )
        val appMaker = VoucherMaker(defaultDb, ClientKey.generate(), ACCOUNT, defaultDb.rootHash())
        expect(peekVoucher(appMaker.createVoucher(listed(0), "x".utf8(), ByteArray(0), defaultDb.windowStart(3uL))).window == 3uL)
    }

    test("the default policy accepts only the pinned root, and cannot be had without one") {
        val server = ServerKey.generate()
        fun defaultDb(n: Int) = Database.fromBytes(
            server.buildDatabase(listOf(HashList("l", (0 until n).map(::listed))), BuildOptions.defaults()), server.publicKey(),
        )
        val mine = defaultDb(5)
        val other = defaultDb(6)
        expect(!mine.rootHash().contentEquals(other.rootHash()))
        VoucherMaker(mine, ClientKey.generate(), ACCOUNT, mine.rootHash()).close()
        val e = assertThrows<BlindMatchException.PolicyRefused> { VoucherMaker(other, ClientKey.generate(), ACCOUNT, mine.rootHash()) }
        expect(e.parameter == PolicyParameter.ROOT && e.reason.contains("root hash")) { "$e" }
        for (bad in listOf(ByteArray(0), ByteArray(31), ByteArray(33))) {
            assertThrows<BlindMatchException.BadInput> { VoucherMaker(mine, ClientKey.generate(), ACCOUNT, bad) }
        }
        VoucherMaker.newAllowUnpinnedDatabase(other, ClientKey.generate(), ACCOUNT).close()
        // No public constructor takes (database, key, account) alone: the app constructor
        // requires the root (a call without it does not compile).
        val threeArgs = listOf(Database::class.java, ClientKey::class.java, ByteArray::class.java)
        expect(VoucherMaker::class.java.constructors.none { it.parameterTypes.toList() == threeArgs })
        expect(VoucherMaker::class.java.constructors.any { it.parameterTypes.toList() == threeArgs + ByteArray::class.java })
    }

    test("a loaded database does not change with its file") {
        val w = makeWorld(n = 50)
        val f = File.createTempFile("blindmatch", ".bmdb")
        try {
            f.writeBytes(w.dbBytes)
            Database.openFile(f.path, w.server.publicKey(), w.db.rootHash()).use { loaded ->
                VoucherMaker.newWithInsecureTestPolicy(loaded, w.key, ACCOUNT).use { maker ->
                    val check = {
                        for (i in 0 until 5) {
                            expect(w.open(maker.createVoucher(listed(i), "m".utf8(), ByteArray(0), NOW)).opened)
                            expect(!w.open(maker.createVoucher(unlisted(i), "n".utf8(), ByteArray(0), NOW)).opened)
                        }
                    }
                    check()
                    java.io.RandomAccessFile(f, "rw").use { raf -> raf.write(ByteArray(w.dbBytes.size) { 0x5a }) } // in place
                    check()
                    java.io.RandomAccessFile(f, "rw").use { raf -> raf.setLength(0) } // truncated
                    check()
                    expect(loaded.rootHash().contentEquals(w.db.rootHash()))
                }
            }
            assertThrows<BlindMatchException.BadInput> { Database.openFile(f.path, w.server.publicKey()) }
        } finally {
            f.delete()
        }
    }

    test("accounts: capacity, reveal keys, rejected records") {
        val w = makeWorld()
        fun real(i: Int, id: String, ad: String, offset: ULong = 0uL) =
            w.open(w.maker.createVoucher(listed(i), id.utf8(), ad.utf8(), NOW + offset)).record!!
        fun synthetic(i: Int) =
            w.open(w.maker.createVoucherForSimulation(listed(100 + i), "s$i".utf8(), ByteArray(0), WINDOW, VoucherChoice.SYNTHETIC)).record!!

        w.opener.newAccount(WINDOW).use { account ->
            expect(account.capacity() == 4096uL && !account.overCapacity())
            account.setCapacity(3uL)
            val records = (0 until 5).map(::synthetic)
            val added = records.map { account.addRecord(it) }
            expect(added == listOf(InsertResult.NEW, InsertResult.NEW, InsertResult.NEW, InsertResult.DROPPED, InsertResult.DROPPED)) { "$added" }
            expect(account.overCapacity() && account.dropped() == 2uL && account.openedCount() == 3uL)
            val o = account.evaluate()
            expect(o == RevealOutcome.OverCapacity(3uL, 2uL)) { "$o" }
        }

        w.opener.newAccount(WINDOW).use { account ->
            expect(account.revealKeys().isEmpty())
            for (i in 0 until THRESHOLD.toInt()) account.addRecord(real(i, "r$i", "ad $i", i.toULong()))
            // A re-send of item 0 whose associated-data ciphertext (the record's last field) is
            // corrupted: rejected, never blocking the reveal.
            val crafted = real(0, "crafted", "ad", 100uL).also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
            expect(account.addRecord(crafted) == InsertResult.NEW)
            val outcome = account.evaluate() as RevealOutcome.Revealed
            expect(outcome.real.map { String(it.id) }.sorted() == (0 until THRESHOLD.toInt()).map { "r$it" })
            expect(outcome.rejectedIds.map { String(it) } == listOf("crafted") && outcome.syntheticIds.isEmpty())
            val keys = account.revealKeys()
            expect(keys.size == 1 && keys[0].size == 32)
            // Once revealed, always revealed: a later voucher of the window alone, with the key.
            Account(w.opener.params(), WINDOW).use { later ->
                later.addRecord(real(150, "later", "later ad", 5000uL))
                expect(later.evaluate() is RevealOutcome.BelowThreshold)
                later.addRevealKey(keys[0])
                val again = later.evaluate() as RevealOutcome.Revealed
                expect(again.real.map { String(it.id) to String(it.associatedData) } == listOf("later" to "later ad"))
                assertThrows<BlindMatchException.BadInput> { later.addRevealKey(ByteArray(31)) }
            }
        }
    }

    test("evaluations beside concurrent inserts end in one consistent reveal") {
        val w = makeWorld()
        val real = (0 until 12).flatMap { i ->
            (0 until 2).map { k ->
                w.open(w.maker.createVoucher(listed(i), "r$i.$k".utf8(), "r$i.$k".utf8(), NOW + (10 * i + k).toULong())).record!!
            }
        }
        val synthetic = (0 until 6).map { i ->
            w.open(w.maker.createVoucherForSimulation(listed(100 + i), "s$i".utf8(), ByteArray(0), WINDOW, VoucherChoice.SYNTHETIC)).record!!
        }
        val records = real + synthetic
        val realIds = (0 until 12).flatMap { i -> (0 until 2).map { k -> "r$i.$k" } }.sorted()
        val pool = Executors.newFixedThreadPool(4)
        try {
            w.opener.newAccount(WINDOW).use { account ->
                val inserts = (0 until 4).map { k ->
                    pool.submit(Callable { records.filterIndexed { i, _ -> i % 4 == k }.map { account.addRecord(it) } })
                }
                val seen = mutableListOf<RevealOutcome>()
                while (!inserts.all { it.isDone }) seen += account.evaluate()
                expect(inserts.flatMap { it.get() }.all { it == InsertResult.NEW } && account.openedCount() == records.size.toULong())
                var revealed = false
                for (o in seen) {
                    when (o) {
                        is RevealOutcome.Revealed -> {
                            revealed = true
                            expect(o.real.all { String(it.id) in realIds && it.id.contentEquals(it.associatedData) })
                        }
                        is RevealOutcome.BelowThreshold -> expect(!revealed) { "a reveal went back" }
                        is RevealOutcome.OverCapacity -> expect(false) { "over capacity" }
                        is RevealOutcome.Undecodable -> expect(false) { "undecodable" }
                    }
                }
                for (o in listOf(account.evaluate(), Account.withRecords(w.opener.params(), WINDOW, records).evaluate())) {
                    o as RevealOutcome.Revealed
                    expect(o.real.map { String(it.id) }.sorted() == realIds)
                    expect(o.syntheticIds.map { String(it) }.sorted() == (0 until 6).map { "s$it" } && o.rejectedIds.isEmpty())
                }
            }
        } finally {
            pool.shutdown()
        }
    }

    test("a fuzzy database: a JPEG copy of a listed picture opens, an unrelated picture does not") {
        // Run from the repository root (scripts/test-kotlin.sh); the JPEG is a quality-70 copy
        // of astronaut.png (bindings/tests/data/README.md).
        val pictures = File("core/tests/data/pdq")
        fun picture(name: String) = File(pictures, name).readBytes()
        val copy = File("bindings/tests/data/astronaut-q70.jpg").readBytes()
        val server = ServerKey.generate()
        val hashes = listOf("astronaut.png", "rocket.png").map { pdqHashImage(picture(it)).hash!! }
        val bytes = server.buildDatabase(listOf(HashList(name = "pictures", hashes = hashes)), options(threshold = 3u, sMax = 4u).withFuzzy())
        Database.fromBytes(bytes, server.publicKey()).use { db ->
            expect(db.isFuzzy() && db.info().fuzzy == FuzzyLayout(bands = 6u, bandBits = 32u, probes = 14u))
            val maker = VoucherMaker.newWithInsecureTestPolicy(db, ClientKey.generate(), ACCOUNT)
            val opener = Opener(server, db)
            expect(maker.isFuzzy())
            val made = maker.createVoucherForImageWithState(copy, "copy".utf8(), "note".utf8(), null, NOW)!!
            expect(made.voucher.size.toUInt() == db.bundleLen(4u) && String(peekVoucher(made.voucher).id) == "copy")
            val opened = opener.openVoucher(made.voucher, ACCOUNT)
            expect(opened.opened && opened.record != null && opened.window == WINDOW)
            val other = maker.createVoucherForImage(picture("camera.png"), "cam".utf8(), ByteArray(0), NOW)!!
            val batch = opener.openVouchers(listOf(made.voucher, other, other.copyOf(other.size - 1)), ACCOUNT)
            expect(batch.map { it.opened } == listOf(true, false, false))
            expect(batch[1].refused == null && String(batch[1].id) == "cam" && batch[2].refused != null)
            assertThrows<BlindMatchException.BadInput> { maker.createVoucherForImage("not an image".utf8(), ByteArray(0), ByteArray(0), NOW) }
        }
    }

    println("$passed passed, $failed failed")
    if (failed > 0) exitProcess(1)
}
