//! The one error type apps see, and the panic guard every exported call goes through.
//!
//! The enum is *flat*: Kotlin, Swift and Python get one exception class (case) per variant to
//! branch on, and a human-readable message. Messages come from `blindmatch_core::Error`,
//! which never puts hashes, keys, shares or associated data into a message.

use blindmatch_core::Error as CoreError;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Everything an SDK call can fail with.
///
/// Kotlin: `BlindMatchException.BadInput`, … ; Swift: `BlindMatchError.BadInput(message:)`, … ;
/// Python: `blindmatch.BlindMatchError.BadInput`, … (all subclasses of `BlindMatchError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum BlindMatchError {
    /// Malformed or out-of-range input: truncated, oversized or non-canonical bytes, a hash of
    /// the wrong length, a bad parameter, a bad hash-list line.
    #[error("bad input: {0}")]
    BadInput(String),
    /// A format version this build does not read (a newer database, voucher or key).
    #[error("unsupported version: {0}")]
    UnsupportedVersion(String),
    /// The database does not verify: bad signature, not made by the pinned server key, table
    /// digest or root hash mismatch, or a failed full audit. Do not use it.
    #[error("verification failed: {0}")]
    VerificationFailed(String),
    /// A voucher was made for a different database epoch than the one opening it.
    #[error("wrong epoch: {0}")]
    WrongEpoch(String),
    /// A key that does not belong here (a server key that did not make this database).
    #[error("wrong key: {0}")]
    WrongKey(String),
    /// The database does not list hashes of this kind.
    #[error("kind not listed: {0}")]
    KindNotListed(String),
    /// A voucher whose outer layer opened but whose inner layer did not: tampered or crafted.
    #[error("corrupt voucher: {0}")]
    CorruptVoucher(String),
    /// The account crossed the threshold but its real shares do not reconstruct a key
    /// (more synthetic vouchers than s_max, or a misbehaving device).
    #[error("reveal failed: {0}")]
    RevealFailed(String),
    /// Building a database failed (the OKVS encoding did not succeed with any seed).
    #[error("build failed: {0}")]
    BuildFailed(String),
    /// Reading a file failed.
    #[error("i/o: {0}")]
    Io(String),
    /// A bug: a panic was caught at the FFI boundary. Never expected; never relied on.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<CoreError> for BlindMatchError {
    fn from(e: CoreError) -> Self {
        let msg = e.to_string();
        match e {
            CoreError::Truncated { .. }
            | CoreError::TrailingBytes { .. }
            | CoreError::BadMagic { .. }
            | CoreError::InvalidPoint { .. }
            | CoreError::InvalidScalar { .. }
            | CoreError::OutOfRange { .. }
            | CoreError::InvalidParameter { .. }
            | CoreError::HashList { .. }
            | CoreError::InvalidHash { .. } => BlindMatchError::BadInput(msg),
            CoreError::UnsupportedVersion { .. } => BlindMatchError::UnsupportedVersion(msg),
            CoreError::BadSignature
            | CoreError::ServerKeyMismatch
            | CoreError::TableDigestMismatch
            | CoreError::RootHashMismatch
            | CoreError::AuditFailed { .. } => BlindMatchError::VerificationFailed(msg),
            CoreError::WrongEpoch { .. } => BlindMatchError::WrongEpoch(msg),
            CoreError::WrongSecretKey => BlindMatchError::WrongKey(msg),
            CoreError::KindNotListed { .. } => BlindMatchError::KindNotListed(msg),
            CoreError::CorruptVoucher => BlindMatchError::CorruptVoucher(msg),
            CoreError::RevealInconsistent => BlindMatchError::RevealFailed(msg),
            CoreError::EncodingFailed { .. } => BlindMatchError::BuildFailed(msg),
            CoreError::Io(_) => BlindMatchError::Io(msg),
            // `Error` is non-exhaustive: a variant added to core later is reported, not lost.
            _ => BlindMatchError::Internal(msg),
        }
    }
}

/// Result alias for exported calls.
pub type Result<T, E = BlindMatchError> = core::result::Result<T, E>;

/// Run an exported call's body, turning a panic into [`BlindMatchError::Internal`].
///
/// Core is written not to panic on any input; this guard is the last line, never the
/// mechanism. The panic payload is not forwarded (it could name internal state).
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(BlindMatchError::Internal(
            "a panic was caught at the FFI boundary (this is a bug in blindmatch)".into(),
        ))
    })
}

/// A `BadInput` error with a fixed message.
pub(crate) fn bad_input(msg: &str) -> BlindMatchError {
    BlindMatchError::BadInput(msg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal() {
        let r: Result<u32> = guard(|| panic!("boom with secret 0xdeadbeef"));
        match r {
            Err(BlindMatchError::Internal(m)) => assert!(!m.contains("deadbeef")),
            other => panic!("expected Internal, got {other:?}"),
        }
        assert_eq!(guard(|| Ok(7)), Ok(7));
    }

    #[test]
    fn core_errors_map_to_small_categories() {
        let cases = [
            (CoreError::Truncated { what: "voucher" }, "BadInput"),
            (
                CoreError::UnsupportedVersion {
                    what: "x",
                    found: 9,
                },
                "UnsupportedVersion",
            ),
            (CoreError::BadSignature, "VerificationFailed"),
            (CoreError::RootHashMismatch, "VerificationFailed"),
            (
                CoreError::WrongEpoch {
                    voucher: 1,
                    database: 2,
                },
                "WrongEpoch",
            ),
            (CoreError::CorruptVoucher, "CorruptVoucher"),
            (CoreError::RevealInconsistent, "RevealFailed"),
            (CoreError::WrongSecretKey, "WrongKey"),
            (CoreError::KindNotListed { kind: "pdq" }, "KindNotListed"),
        ];
        for (e, want) in cases {
            let got = format!("{:?}", BlindMatchError::from(e));
            assert!(got.starts_with(want), "{got} should be {want}");
        }
    }
}
