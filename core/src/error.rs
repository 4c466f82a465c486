//! The crate's one error type. Messages name *what* was wrong, never the data itself: no
//! hashes, keys, shares or associated data ever appear in an error string.

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in `blindmatch-core`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a complete object was read.
    #[error("{what}: truncated input")]
    Truncated {
        /// Which object was being decoded.
        what: &'static str,
    },
    /// Bytes were left over after a complete object.
    #[error("{what}: {extra} trailing bytes")]
    TrailingBytes {
        /// Which object was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// The input does not start with the expected magic bytes.
    #[error("{what}: wrong magic bytes (not a {what})")]
    BadMagic {
        /// Which object was expected.
        what: &'static str,
    },
    /// The format version is not one this build understands.
    #[error("{what}: unsupported format version {found}")]
    UnsupportedVersion {
        /// Which object was being decoded.
        what: &'static str,
        /// The version found.
        found: u16,
    },
    /// A group element is non-canonical, not on the group, or the identity.
    #[error("{what}: invalid or identity group element")]
    InvalidPoint {
        /// Which field held the point.
        what: &'static str,
    },
    /// A scalar is non-canonical or zero where zero is not allowed.
    #[error("{what}: invalid scalar")]
    InvalidScalar {
        /// Which field held the scalar.
        what: &'static str,
    },
    /// A field has a value outside its allowed range.
    #[error("{what}: {reason}")]
    OutOfRange {
        /// Which field.
        what: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A caller-supplied parameter is invalid.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A hash list line could not be parsed.
    #[error("hash list line {line}: {reason}")]
    HashList {
        /// 1-based line number.
        line: usize,
        /// What was wrong (never the line's content).
        reason: String,
    },
    /// A media hash had the wrong length for its kind or an unknown kind.
    #[error("media hash: {reason}")]
    InvalidHash {
        /// What was wrong.
        reason: String,
    },
    /// The database does not accept hashes of this kind.
    #[error("the database does not list hashes of kind {kind}")]
    KindNotListed {
        /// The kind's name.
        kind: &'static str,
    },
    /// The manifest signature did not verify under the pinned key.
    #[error("database manifest signature does not verify under the pinned server key")]
    BadSignature,
    /// The database was made by a different server key than the pinned one.
    #[error("database was made by a different server key than the pinned one")]
    ServerKeyMismatch,
    /// The table does not match the digest in the signed manifest.
    #[error("database table does not match the signed table digest")]
    TableDigestMismatch,
    /// The root hash differs from the expected one.
    #[error("database root hash differs from the expected root hash")]
    RootHashMismatch,
    /// A full audit of the table failed.
    #[error("database audit failed at cell {cell}: {reason}")]
    AuditFailed {
        /// Cell index.
        cell: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// Peeling did not succeed with any seed.
    #[error("OKVS encoding failed after {attempts} seeds; raise the expansion factor")]
    EncodingFailed {
        /// Seeds tried.
        attempts: u32,
    },
    /// A voucher was made for a different database epoch.
    #[error("voucher was made for database epoch {voucher}, this database is epoch {database}")]
    WrongEpoch {
        /// The voucher's epoch.
        voucher: u64,
        /// The database's epoch.
        database: u64,
    },
    /// A voucher's outer layer opened but its inner layer did not: it was tampered with or
    /// crafted.
    #[error("voucher inner layer failed to open: tampered or crafted voucher")]
    CorruptVoucher,
    /// The shares detected as real do not reconstruct a consistent key.
    #[error(
        "reveal failed: the shares detected as real do not reconstruct the account key (more synthetic vouchers than s_max, or vouchers from a misbehaving device)"
    )]
    RevealInconsistent,
    /// The wrong secret key for this database or voucher.
    #[error("secret key does not belong to this database")]
    WrongSecretKey,
    /// An image could not be hashed (bad dimensions or buffer), or a PDQ hex string is bad.
    #[error("image: {0}")]
    Image(#[from] crate::media::ImageError),
    /// I/O failed (the message carries the OS error, never file contents).
    #[error("i/o: {0}")]
    Io(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
