// iOS snippet (not compiled in CI: there is no Swift toolchain on the build machine). Shows the
// shape of an app's use of the SDK: every call on a background queue, results delivered back on
// the main queue, the current time passed to every voucher call, the device state blob kept,
// and typed errors handled by case.
//
// Packaging: docs/BINDINGS.md ("iOS XCFramework") builds libblindmatch.a per target, wraps it
// with the generated BlindMatchFFI.h/modulemap into BlindMatchFFI.xcframework, and adds the
// generated BlindMatch.swift to the app (or to a Swift package target named BlindMatch).
import CryptoKit
import Foundation

final class VoucherService {
    /// Serial, utility QoS: voucher creation is CPU-bound (about 0.2 ms each) and must never
    /// run on the main thread; being serial, it also reads and writes the device state one
    /// voucher at a time.
    private let queue = DispatchQueue(label: "org.blindmatch.vouchers", qos: .utility)
    private let maker: VoucherMaker
    /// This account's device state blob (opaque; nil until its first voucher).
    private let stateURL: URL

    /// Reads the database file into memory and verifies it against the pinned server key
    /// (shipped in the app) and the pinned root hash (obtained independently of the server:
    /// shipped in the app, or checked against the published transparency log), checks it
    /// against the device policy pinned to that root (`PolicyRefused` for another database or
    /// a weakened one) and derives the keys of `accountId` (the id the server files this
    /// account's vouchers under). Later changes to the file do not affect the loaded database.
    /// Call it on `queue` too: it hashes the whole table.
    init(databaseURL: URL, stateURL: URL, pinnedServerKey: Data, pinnedRootHash: Data,
         exportedClientKey: Data, accountId: Data) throws {
        let database = try Database.openFile(
            path: databaseURL.path,
            pinnedServerKey: pinnedServerKey,
            expectedRootHash: pinnedRootHash
        )
        let key = try ClientKey.fromExported(bytes: exportedClientKey) // keep it in the Keychain
        maker = try VoucherMaker(database: database, key: key, account: accountId,
                                 pinnedRootHash: pinnedRootHash)
        self.stateURL = stateURL
    }

    /// The current time, as every voucher call takes it.
    private static func nowUnix() -> UInt64 { UInt64(Date().timeIntervalSince1970) }

    /// Make a voucher with the stored device state and store the new state (atomically)
    /// before the voucher is handed out. Runs on `queue`.
    private func voucherWithState(hash: TypedHash, messageId: String, associatedData: Data) throws -> Data? {
        let state = try? Data(contentsOf: stateURL) // nil on a device that has made none yet
        do {
            let made = try maker.createVoucherWithState(
                hash: hash, id: Data(messageId.utf8), associatedData: associatedData,
                state: state, nowUnix: Self.nowUnix())
            try made.state.write(to: stateURL, options: .atomic)
            return made.voucher
        } catch BlindMatchError.StaleWindow(_, _, _) {
            return nil // the clock went back past a window already used: no voucher now
        } catch BlindMatchError.ManifestChanged(_, _) {
            return nil // another database was used in this window: switch databases at its end
        } catch BlindMatchError.OutsideSchedule(_) {
            return nil // the database has expired (or the clock is wrong): fetch a new one
        } catch BlindMatchError.KindNotListed(_) {
            return nil // this database lists no hashes of this kind
        }
    }

    /// Make the voucher for one outgoing media item; `completion` runs on the main queue with
    /// the voucher, or nil when no voucher applies.
    func voucher(
        for media: Data,
        messageId: String,
        associatedData: Data,
        completion: @escaping (Result<Data?, Error>) -> Void
    ) {
        queue.async { [self] in
            let result: Result<Data?, Error>
            do {
                // SHA-256 with CryptoKit: no copy of the media across the FFI.
                let digest = Data(SHA256.hash(data: media))
                let hash = TypedHash(kind: .sha256, bytes: digest)
                result = .success(try voucherWithState(hash: hash, messageId: messageId,
                                                       associatedData: associatedData))
            } catch BlindMatchError.BadInput(let reason, _) {
                result = .failure(NSError(domain: "blindmatch", code: 1,
                                          userInfo: [NSLocalizedDescriptionKey: reason]))
            } catch {
                result = .failure(error)
            }
            DispatchQueue.main.async { completion(result) }
        }
    }

    /// Perceptual variant: PDQ of an RGBA bitmap (scale it to at most 512×512 first), with the
    /// quality gate; flat images get no voucher.
    func imageVoucher(rgba: Data, width: UInt32, height: UInt32, messageId: String,
                      associatedData: Data) async throws -> Data? {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result {
                    guard let hash = try pdqHash(pixels: rgba, width: width, height: height,
                                                 format: .rgba).hash
                    else { return nil }
                    return try voucherWithState(hash: hash, messageId: messageId,
                                                associatedData: associatedData)
                })
            }
        }
    }
}
