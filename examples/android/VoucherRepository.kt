// Android snippet (not compiled in CI: it needs the Android SDK). Shows the shape of an app's
// use of the SDK: every call on a background dispatcher, native objects closed with `use {}`
// (or held for the app's lifetime and closed once), typed errors handled by variant.
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
 * Owns the verified database and the voucher maker for the app's lifetime.
 *
 * [pinnedServerKey] ships inside the APK; [expectedRootHash] comes from the app's config
 * channel (the published root hash auditors compare). The client key is the account's secret:
 * keep its exported bytes encrypted with an Android Keystore key.
 */
class VoucherRepository(
    private val context: Context,
    private val pinnedServerKey: ByteArray,
    private val expectedRootHash: ByteArray?,
    private val loadClientKey: suspend () -> ByteArray,
) : AutoCloseable {
    private val lock = Mutex()
    private var maker: VoucherMaker? = null

    /** Verify the database file and derive the keys, once, off the main thread. */
    private suspend fun maker(): VoucherMaker = lock.withLock {
        maker ?: withContext(Dispatchers.IO) {
            val file = File(context.filesDir, "blindmatch/database.bmdb") // replaced by atomic rename
            // The Database and ClientKey are only needed to build the maker, which keeps what it
            // needs (Rust-side Arcs): close them right away with `use`.
            Database.openFile(file.path, pinnedServerKey, expectedRootHash).use { db ->
                ClientKey.fromExported(loadClientKey()).use { key -> VoucherMaker(db, key) }
            }
        }.also { maker = it }
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

    /** The voucher to attach to an outgoing media message; null when none should be sent. */
    suspend fun voucherFor(media: Uri, messageId: String, associatedData: ByteArray): ByteArray? {
        val maker = maker()
        return withContext(Dispatchers.Default) { // CPU-bound: never on the main thread
            try {
                maker.createVoucher(sha256Of(media), messageId.toByteArray(), associatedData)
            } catch (e: BlindMatchException.KindNotListed) {
                null // this database lists no SHA-256 hashes
            } catch (e: BlindMatchException.BadInput) {
                throw IllegalArgumentException("voucher: ${e.reason}", e) // id > 64 bytes, AD too long, …
            }
        }
    }

    /** Perceptual variant for images, with the quality gate (flat images get no voucher). */
    suspend fun voucherForImage(bitmap: Bitmap, messageId: String, associatedData: ByteArray): ByteArray? {
        val maker = maker()
        return withContext(Dispatchers.Default) {
            pdqOf(bitmap)?.let { maker.createVoucher(it, messageId.toByteArray(), associatedData) }
        }
    }

    override fun close() {
        maker?.close()
        maker = null
    }
}

// Database updates: download to a temp file, verify it before swapping it in, then rename.
suspend fun installDatabase(context: Context, downloaded: File, pinnedServerKey: ByteArray, root: ByteArray) =
    withContext(Dispatchers.IO) {
        try {
            Database.openFile(downloaded.path, pinnedServerKey, root).use { it.info() } // throws if bad
            downloaded.renameTo(File(context.filesDir, "blindmatch/database.bmdb"))
        } catch (e: BlindMatchException.VerificationFailed) {
            downloaded.delete() // wrong signature, wrong key or root hash: never use it
            false
        } catch (e: BlindMatchException.UnsupportedVersion) {
            downloaded.delete() // a newer format: update the app
            false
        }
    }
