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

private fun listed(i: Int) = sha256("listed item $i".utf8())
private fun unlisted(i: Int) = sha256("not on any list $i".utf8())

private class World(
    val server: ServerKey,
    val dbBytes: ByteArray,
    val db: Database,
    val key: ClientKey,
    val maker: VoucherMaker,
    val opener: Opener,
)

private fun makeWorld(
    threshold: UInt = THRESHOLD,
    sMax: UInt = S_MAX,
    epoch: ULong = 3uL,
    n: Int = 200,
    ratePpm: UInt = 0u,
): World {
    val server = ServerKey.generate()
    val options = BuildOptions(threshold = threshold, sMax = sMax, syntheticRatePpm = ratePpm).withEpoch(epoch)
    val lists = listOf(HashList(name = "test-list", hashes = (0 until n).map(::listed)))
    val bytes = server.buildDatabase(lists, options)
    val db = Database.fromBytes(bytes, server.publicKey())
    val key = ClientKey.generate()
    return World(server, bytes, db, key, VoucherMaker(db, key), Opener(server, db))
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
        expect(info.params == DatabaseParams(THRESHOLD, S_MAX, 0u)) { "params ${info.params}" }
        expect(info.params.threshold() == THRESHOLD && info.params.sMax() == S_MAX && info.params.syntheticRatePpm() == 0u)
        expect(info.rootHash.hex() == info.rootHashHex && info.serverFingerprint == world.server.fingerprint())
        Database.fromBytes(world.dbBytes, world.server.publicKey(), info.rootHash).use { again ->
            expect(again.rootHash().contentEquals(info.rootHash))
        }
        val f = File.createTempFile("blindmatch", ".bmdb")
        try {
            f.writeBytes(world.dbBytes)
            Database.openFile(f.path, world.server.publicKey(), info.rootHash).use { mapped ->
                expect(mapped.epoch() == 3uL)
                mapped.verify()
            }
        } finally {
            f.delete()
        }
    }

    test("build options: parameters checked on construction, the rest core's defaults") {
        val base = BuildOptions(5u, 8u, 0u)
        val defaults = BuildOptions.defaults()
        val set = base.withEpoch(9uL).withMinSources(2u).withCreatedUnix(1_700_000_000uL).withKinds(listOf(HashKind.SHA256))
        expect(set.params() == DatabaseParams(5u, 8u, 0u) && set.epoch() == 9uL && set.minSources() == 2u.toUByte())
        expect(set.createdUnix() == 1_700_000_000uL && set.kinds() == listOf(HashKind.SHA256))
        // Each with… returns a new object; what is not set is core's default.
        expect(base.epoch() == defaults.epoch() && base.createdUnix() == null && base.kinds() == null)
        expect(base.expansion() == defaults.expansion() && base.minSources() == defaults.minSources())
        expect(base.withParams(defaults.params()).params() == defaults.params())
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
            val r = world.opener.openVoucher(world.maker.createVoucher(listed(i), "m$i".utf8(), "ad".utf8()))
            expect(r.opened && r.id.contentEquals("m$i".utf8()) && r.record != null)
        }
        for (i in 0 until 30) {
            val r = world.opener.openVoucher(world.maker.createVoucher(unlisted(i), "n".utf8(), "ad".utf8()))
            expect(!r.opened && r.record == null)
        }
        val s = world.maker.createVoucherForSimulation(unlisted(0), "s".utf8(), ByteArray(0), VoucherChoice.SYNTHETIC)
        expect(world.opener.openVoucher(s).opened)
    }

    test("batch vouchers match single ones") {
        val requests = (0 until 20).map { i ->
            VoucherRequest(if (i % 2 == 1) listed(i) else unlisted(i), "b$i".utf8(), "ad".utf8())
        }
        val vouchers = world.maker.createVouchers(requests)
        expect(vouchers.map { String(peekVoucher(it).id) } == (0 until 20).map { "b$it" })
        expect(vouchers.map { world.opener.openVoucher(it).opened } == (0 until 20).map { it % 2 == 1 })
        expect(world.maker.createVouchers(emptyList()).isEmpty())
        assertThrows<BlindMatchException.BadInput> {
            world.maker.createVouchers(requests + VoucherRequest(listed(0), ByteArray(65), ByteArray(0)))
        }
    }

    test("voucher header and size") {
        val v = world.maker.createVoucher(listed(0), "item-17".utf8(), ByteArray(10))
        val h = peekVoucher(v)
        expect(h.epoch == 3uL && h.id.contentEquals("item-17".utf8()))
        expect(v.size.toUInt() == world.db.voucherLen(10u))
    }

    test("reveal happens exactly at the threshold") {
        val w = makeWorld()
        w.opener.newAccount().use { account ->
            val synthetic = 6
            for (i in 0 until synthetic) {
                val v = w.maker.createVoucherForSimulation(listed(100 + i), "syn$i".utf8(), "never".utf8(), VoucherChoice.SYNTHETIC)
                expect(account.add(w.opener.openVoucher(v)))
            }
            for (i in 0 until 20) {
                expect(!account.add(w.opener.openVoucher(w.maker.createVoucher(unlisted(i), "n".utf8(), ByteArray(0)))))
            }
            for (i in 0 until THRESHOLD.toInt()) {
                val before = account.evaluate()
                expect(before is RevealOutcome.BelowThreshold) { "revealed after only $i real matches" }
                expect((before as RevealOutcome.BelowThreshold).opened == account.openedCount())
                val v = w.maker.createVoucher(listed(i), "real$i".utf8(), "payload $i".utf8())
                expect(account.add(w.opener.openVoucher(v)))
                if (i == 0) {
                    repeat(3) {
                        val again = w.maker.createVoucher(listed(0), "again".utf8(), "payload 0".utf8())
                        expect(account.add(w.opener.openVoucher(again)))
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

            Account(w.opener.params()).use { restored ->
                for (rec in account.records()) {
                    expect(restored.addRecord(rec))
                    expect(!restored.addRecord(rec))
                }
                val again = restored.evaluate() as RevealOutcome.Revealed
                expect(again.real.size == outcome.real.size && again.syntheticIds.size == synthetic)
            }
        }
    }

    test("objects are shared across threads") {
        val pool = Executors.newFixedThreadPool(4)
        try {
            val vouchers = (0 until 64).map { i ->
                pool.submit(Callable { world.maker.createVoucher(listed(i % 200), "t$i".utf8(), ByteArray(0)) })
            }.map { it.get() }
            val results = vouchers.map { v -> pool.submit(Callable { world.opener.openVoucher(v) }) }.map { it.get() }
            expect(results.all { it.opened })
            val account = world.opener.newAccount()
            val added = results.map { r -> pool.submit(Callable { account.add(r) }) }.map { it.get() }
            expect(added.count { it } == 64 && account.openedCount() == 64uL)
        } finally {
            pool.shutdown()
        }
    }

    test("closing a Database leaves makers that share it usable") {
        val w = makeWorld(n = 20)
        val maker = VoucherMaker(w.db, ClientKey.generate())
        w.db.close()
        expect(w.opener.openVoucher(maker.createVoucher(listed(1), "x".utf8(), ByteArray(0))).opened)
        maker.close()
    }

    test("malformed databases are typed errors") {
        val pk = world.server.publicKey()
        val b = world.dbBytes
        for (bad in listOf(ByteArray(0), "BMDB".utf8(), b.copyOf(100), b.copyOf(b.size - 1), ByteArray(500), b + ByteArray(1))) {
            assertThrows<BlindMatchException.BadInput> { Database.fromBytes(bad, pk) }
        }
        val newer = b.copyOf().also { it[4] = 2 }
        assertThrows<BlindMatchException.UnsupportedVersion> { Database.fromBytes(newer, pk) }
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
        val v = world.maker.createVoucher(listed(0), "id".utf8(), "ad".utf8())
        for (bad in listOf(ByteArray(0), "BV".utf8(), ByteArray(100), v.copyOf(v.size - 1), v + ByteArray(1), v.copyOf(76), ByteArray(v.size))) {
            assertThrows<BlindMatchException.BadInput> { world.opener.openVoucher(bad) }
        }
        assertThrows<BlindMatchException.BadInput> { peekVoucher("xx".utf8()) }
        assertThrows<BlindMatchException.UnsupportedVersion> { world.opener.openVoucher(v.copyOf().also { it[2] = 9 }) }
        val other = makeWorld(epoch = 4uL, n = 20)
        val wrongEpoch = assertThrows<BlindMatchException.WrongEpoch> {
            world.opener.openVoucher(other.maker.createVoucher(listed(0), "id".utf8(), ByteArray(0)))
        }
        expect(wrongEpoch.voucherEpoch == 4uL && wrongEpoch.databaseEpoch == 3uL) { "$wrongEpoch" }
        expect(wrongEpoch.reason.contains("epoch 4") && wrongEpoch.message.contains("epoch 4"))
        val inner = world.maker.createVoucher(listed(1), "id".utf8(), "ad".utf8())
        inner[inner.size - 1] = (inner[inner.size - 1].toInt() xor 0x80).toByte()
        assertThrows<BlindMatchException.CorruptVoucher> { world.opener.openVoucher(inner) }
        val rng = Random(7)
        repeat(300) {
            val m = v.copyOf()
            repeat(rng.nextInt(1, 4)) { m[rng.nextInt(m.size)] = rng.nextInt(256).toByte() }
            try {
                world.opener.openVoucher(m)
            } catch (e: BlindMatchException) {
                expect(e !is BlindMatchException.Internal) { "internal error: ${e.message}" }
            }
        }
        val account = world.opener.newAccount()
        assertThrows<BlindMatchException.BadInput> { account.addRecord("BMOR\u0001garbage".utf8()) }
        assertThrows<BlindMatchException.BadInput> { account.add(OpenResult(true, "x".utf8(), ByteArray(40))) }
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
        assertThrows<BlindMatchException.BadInput> { world.maker.createVoucher(listed(0), ByteArray(65), ByteArray(0)) }
        assertThrows<BlindMatchException.BadInput> { world.maker.createVoucher(listed(0), ByteArray(1), ByteArray(65533)) }
        assertThrows<BlindMatchException.BadInput> {
            world.maker.createVoucher(TypedHash(HashKind.SHA256, ByteArray(31)), ByteArray(1), ByteArray(0))
        }
        assertThrows<BlindMatchException.KindNotListed> { world.maker.createVoucher(md5(ByteArray(1)), ByteArray(1), ByteArray(0)) }
        val lists = listOf(HashList("a", listOf(listed(0))))
        val defaults = BuildOptions.defaults()
        assertThrows<BlindMatchException.BadInput> { BuildOptions(threshold = 1u, sMax = 8u, syntheticRatePpm = 0u) }
        assertThrows<BlindMatchException.BadInput> { BuildOptions(5u, 0u, 1u) }
        assertThrows<BlindMatchException.BadInput> { DatabaseParams(0u, 0u, 0u) }
        assertThrows<BlindMatchException.BadInput> { world.server.buildDatabase(lists, defaults.withMinSources(2u)) }
        assertThrows<BlindMatchException.BadInput> { world.server.buildDatabase(lists, defaults.withExpansion(0.5)) }
        assertThrows<BlindMatchException.BadInput> {
            world.server.buildDatabase(lists, defaults.withKinds(listOf(HashKind.MD5)))
        }
        val bad = assertThrows<BlindMatchException.BadInput> { ClientKey.fromExported(ByteArray(3)) }
        expect(bad.line == null && bad.reason.isNotEmpty() && bad.message.contains(bad.reason))
    }

    println("$passed passed, $failed failed")
    if (failed > 0) exitProcess(1)
}
