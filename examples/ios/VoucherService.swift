// iOS snippet (not compiled in CI: there is no Swift toolchain on the build machine). Shows the
// shape of an app's use of the SDK: every call on a background queue, results delivered back on
// the main queue, typed errors handled by case.
//
// Packaging: docs/BINDINGS.md ("iOS XCFramework") builds libblindmatch.a per target, wraps it
// with the generated BlindMatchFFI.h/modulemap into BlindMatchFFI.xcframework, and adds the
// generated BlindMatch.swift to the app (or to a Swift package target named BlindMatch).
import CryptoKit
import Foundation

final class VoucherService {
    /// Serial, utility QoS: voucher creation is CPU-bound (about 0.2 ms each) and must never
    /// run on the main thread.
    private let queue = DispatchQueue(label: "org.blindmatch.vouchers", qos: .utility)
    private let maker: VoucherMaker

    /// Verifies the database file against the pinned server key (shipped in the app) and the
    /// published root hash, and derives the account's keys. Call it on `queue` too: it hashes
    /// the whole table.
    init(databaseURL: URL, pinnedServerKey: Data, expectedRootHash: Data?, exportedClientKey: Data) throws {
        let database = try Database.openFile(
            path: databaseURL.path,
            pinnedServerKey: pinnedServerKey,
            expectedRootHash: expectedRootHash
        )
        let key = try ClientKey.fromExported(bytes: exportedClientKey) // keep it in the Keychain
        maker = try VoucherMaker(database: database, key: key)
    }

    /// Make the voucher for one outgoing media item; `completion` runs on the main queue with
    /// the voucher, or nil when no voucher applies.
    func voucher(
        for media: Data,
        messageId: String,
        associatedData: Data,
        completion: @escaping (Result<Data?, Error>) -> Void
    ) {
        queue.async { [maker] in
            let result: Result<Data?, Error>
            do {
                // SHA-256 with CryptoKit: no copy of the media across the FFI.
                let digest = Data(SHA256.hash(data: media))
                let hash = TypedHash(kind: .sha256, bytes: digest)
                result = .success(try maker.createVoucher(
                    hash: hash, id: Data(messageId.utf8), associatedData: associatedData))
            } catch BlindMatchError.KindNotListed {
                result = .success(nil) // this database lists no SHA-256 hashes
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
        try await Task.detached(priority: .utility) { [maker] in
            guard let hash = try pdqHash(pixels: rgba, width: width, height: height, format: .rgba).hash
            else { return nil }
            return try maker.createVoucher(hash: hash, id: Data(messageId.utf8), associatedData: associatedData)
        }.value
    }
}
