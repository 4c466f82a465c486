// Android snippet (not compiled in CI: it needs the Android SDK). Shows the shape of an app's
// use of the SDK: every call on a background dispatcher, native objects closed with `use {}`
// (or held for the app's lifetime and closed once), the current time passed to every voucher
// call, the device state blob kept, and typed errors handled by variant.
//
// Packaging: docs/BINDINGS.md ("Android AAR") builds libblindmatch.so per ABI with cargo-ndk and
// generates org/blindmatch/blindmatch.kt; the app depends on JNA's AAR
// (net.java.dev.jna:jna:5.x@aar) and kotlinx-coroutines.
package com.example.app.safety

import android.content.Context
import android.graphics.Bitmap
import android.net.Uri
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import org.blindmatch.BlindMatchException
import org.blindmatch.ClientKey
import org.blindmatch.Database
import org.blindmatch.HashKind
import org.blindmatch.PixelFormat
import org.blindmatch.TypedHash
import org.blindmatch.VoucherMaker
import org.blindmatch.pdqHash
import java.io.File
import java.nio.ByteBuffer
import java.security.MessageDigest

/**
 * Owns the verified database and the voucher maker of one account for the app's lifetime, and
 * the account's device state blob.
 *
 * [pinnedServerKey] ships inside the APK, and so does [shippedRootHash], the root hash of the
 * database shipped with the app: the device policy accepts only the database whose root the
 * app obtained independently of the server (later roots come to [installDatabase], from the
 * app's update channel, checked against the published transparency log auditors compare).
 * [accountId] is the id the server files this account's vouchers under (vouchers open only
 * under it). The client key is the account's secret: keep its exported bytes encrypted with an
 * Android Keystore key.
 */
class VoucherRepository(
    private val context: Context,
    private val pinnedServerKey: ByteArray,
    private val shippedRootHash: ByteArray,
    private val accountId: ByteArray,
    private val loadClientKey: suspend () -> ByteArray,
) : AutoCloseable {
    private val dir = File(context.filesDir, "blindmatch")
    // Database files are read into memory once and verified: later changes to a file do not
    // affect a loaded database. They are still replaced by atomic rename, so that a load never
    // reads a half-written file.
    private val databaseFile = File(dir, "database.bmdb")
    private val rootFile = File(dir, "database.root") // its pinned root (absent: the shipped one)
    private val pendingFile = File(dir, "database.pending.bmdb") // see installDatabase
    private val pendingRootFile = File(dir, "database.pending.root")
    private val stateFile = File(dir, "device-state.bin") // this account's device state blob

    // One lock for the maker and the state: the state is read, advanced and written once per
    // voucher, never by two calls at once.
    private val lock = Mutex()
    private var maker: VoucherMaker? = null

    /**
     * Load and verify a database file, check it against the device policy pinned to [root] and
     * derive the keys.
     */
    private suspend fun makerFor(file: File, root: ByteArray): VoucherMaker = withContext(Dispatchers.IO) {
        // The Database and ClientKey are only needed to build the maker, which keeps what it
        // needs (Rust-side Arcs): close them right away with `use`. The constructor applies the
        // default device policy pinned to the root (PolicyRefused for another database or a
        // weakened one).
        Database.openFile(file.path, pinnedServerKey, root).use { db ->
            ClientKey.fromExported(loadClientKey()).use { key -> VoucherMaker(db, key, accountId, root) }
        }
    }

    private suspend fun currentMaker(): VoucherMaker = maker
        ?: makerFor(databaseFile, rootFile.takeIf { it.exists() }?.readBytes() ?: shippedRootHash).also { maker = it }

    private fun readState(): ByteArray? = stateFile.takeIf { it.exists() }?.readBytes()

    /** Store the state before the voucher leaves the device: write a temp file, then rename. */
    private fun writeState(state: ByteArray) {
        val tmp = File(dir, "device-state.tmp")
        tmp.writeBytes(state)
        check(tmp.renameTo(stateFile)) { "could not store the device state" }
    }

    /** SHA-256 in Kotlin (streams the file; no copy across the FFI) as a typed hash. */
    private fun sha256Of(uri: Uri): TypedHash {
        val md = MessageDigest.getInstance("SHA-256")
        context.contentResolver.openInputStream(uri)!!.use { input ->
            val buf = ByteArray(64 * 1024)
            while (true) {
                val n = input.read(buf)
                if (n < 0) break
                md.update(buf, 0, n)
            }
        }
        return TypedHash(HashKind.SHA256, md.digest())
    }

    /** PDQ of a bitmap: scale down first (PDQ works on 64×64; the buffer crosses the FFI). */
    private fun pdqOf(bitmap: Bitmap): TypedHash? {
        val small = Bitmap.createScaledBitmap(bitmap, 512, 512 * bitmap.height / bitmap.width, true)
            .copy(Bitmap.Config.ARGB_8888, false)
        val pixels = ByteBuffer.allocate(small.byteCount).also { small.copyPixelsToBuffer(it) }.array()
        // ARGB_8888 is laid out R, G, B, A in memory: PixelFormat.RGBA.
        return pdqHash(pixels, small.width.toUInt(), small.height.toUInt(), PixelFormat.RGBA).hash
    }

    /**
     * Make one voucher with the current time and the stored device state, and store the new
     * state before returning the voucher. Takes up a pending database once the device state
     * accepts it (from the window after the one the current database was last used in).
     */
    private suspend fun voucherWithState(hash: TypedHash, messageId: String, associatedData: ByteArray): ByteArray? =
        lock.withLock {
            val now = System.currentTimeMillis().toULong() / 1000uL // always the current time
            if (pendingFile.exists()) {
                val candidate = makerFor(pendingFile, pendingRootFile.readBytes())
                try {
                    candidate.checkState(readState(), now) // ManifestChanged: not yet
                    pendingRootFile.renameTo(rootFile)
                    pendingFile.renameTo(databaseFile)
                    maker?.close()
                    maker = candidate
                } catch (e: BlindMatchException.ManifestChanged) {
                    candidate.close() // keep the current database until its window (e.window) ends
                }
            }
            val maker = currentMaker()
            withContext(Dispatchers.Default) { // CPU-bound: never on the main thread
                try {
                    val made = maker.createVoucherWithState(hash, messageId.toByteArray(), associatedData, readState(), now)
                    writeState(made.state)
                    made.voucher
                } catch (e: BlindMatchException.KindNotListed) {
                    null // this database lists no hashes of this kind
                } catch (e: BlindMatchException.StaleWindow) {
                    null // the clock went back (e.window < e.newestWindow): no voucher now
                } catch (e: BlindMatchException.OutsideSchedule) {
                    null // the database has expired (or the clock is wrong): fetch a new one
                } catch (e: BlindMatchException.BadInput) {
                    throw IllegalArgumentException("voucher: ${e.reason}", e) // id > 64 bytes, AD too long, …
                }
            }
        }

    /** The voucher to attach to an outgoing media message; null when none should be sent. */
    suspend fun voucherFor(media: Uri, messageId: String, associatedData: ByteArray): ByteArray? {
        val hash = withContext(Dispatchers.IO) { sha256Of(media) }
        return voucherWithState(hash, messageId, associatedData)
    }

    /** Perceptual variant for images, with the quality gate (flat images get no voucher). */
    suspend fun voucherForImage(bitmap: Bitmap, messageId: String, associatedData: ByteArray): ByteArray? {
        val hash = withContext(Dispatchers.Default) { pdqOf(bitmap) } ?: return null
        return voucherWithState(hash, messageId, associatedData)
    }

    /**
     * Database updates: download to a temp file, verify it (signature, root hash, device
     * policy pinned to [root], which the app obtained independently of the server) before
     * keeping it, and store it and its root as the pending database; the repository switches
     * to it when the device state allows (a new database is taken up from the next window).
     */
    suspend fun installDatabase(downloaded: File, root: ByteArray): Boolean = withContext(Dispatchers.IO) {
        try {
            Database.openFile(downloaded.path, pinnedServerKey, root).use { db ->
                ClientKey.fromExported(loadClientKey()).use { key -> VoucherMaker(db, key, accountId, root).close() }
            }
            val tmp = File(dir, "database.pending.root.tmp")
            tmp.writeBytes(root)
            tmp.renameTo(pendingRootFile) && downloaded.renameTo(pendingFile)
        } catch (e: BlindMatchException.VerificationFailed) {
            downloaded.delete() // wrong signature, wrong key or root hash: never use it
            false
        } catch (e: BlindMatchException.PolicyRefused) {
            downloaded.delete() // a weakened database (e.reason names the parameter): report it
            false
        } catch (e: BlindMatchException.UnsupportedVersion) {
            downloaded.delete() // a newer format: update the app
            false
        }
    }

    override fun close() {
        maker?.close()
        maker = null
    }
}
