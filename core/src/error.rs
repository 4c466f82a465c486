//! The crate's one error type. Every variant names *what* was wrong with enums — the object,
//! the field, the rule — never the data itself: no hashes, keys, shares or associated data
//! ever appear in an error or its message.

use crate::hash::HashKind;

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in `blindmatch-core`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a complete object was read.
    #[error("{object}: truncated input")]
    Truncated {
        /// Which object was being decoded.
        object: Object,
    },
    /// Bytes were left over after a complete object.
    #[error("{object}: {extra} trailing bytes")]
    TrailingBytes {
        /// Which object was being decoded.
        object: Object,
        /// How many bytes were left.
        extra: usize,
    },
    /// The input does not start with the expected magic bytes.
    #[error("{object}: wrong magic bytes (not a {object})")]
    BadMagic {
        /// Which object was expected.
        object: Object,
    },
    /// The format version is not one this build understands.
    #[error("{object}: unsupported format version {found}")]
    UnsupportedVersion {
        /// Which object was being decoded.
        object: Object,
        /// The version found.
        found: u16,
    },
    /// A group element is non-canonical, not on the group, or the identity.
    #[error("{field}: invalid or identity group element")]
    InvalidPoint {
        /// Which field held the point.
        field: Field,
    },
    /// A scalar is non-canonical or zero where zero is not allowed.
    #[error("{field}: invalid scalar")]
    InvalidScalar {
        /// Which field held the scalar.
        field: Field,
    },
    /// A decoded field has a value outside its allowed range; the field's rule says which.
    #[error("{field}: out of range")]
    OutOfRange {
        /// Which field (its `Display` states the rule).
        field: Field,
    },
    /// A caller-supplied parameter is invalid; the parameter's rule says why.
    #[error("invalid parameter: {param}")]
    InvalidParameter {
        /// The parameter (its `Display` states the rule).
        param: Param,
    },
    /// A hash list line could not be parsed.
    #[error("hash list line {line}: {problem}")]
    HashList {
        /// 1-based line number.
        line: usize,
        /// What was wrong (never the line's content).
        problem: HashProblem,
    },
    /// A media hash had the wrong length for its kind, or an unknown kind.
    #[error("media hash: {problem}")]
    InvalidHash {
        /// What was wrong.
        problem: HashProblem,
    },
    /// The database does not accept hashes of this kind.
    #[error("the database does not list hashes of kind {kind}")]
    KindNotListed {
        /// The kind.
        kind: HashKind,
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
    #[error("database audit failed at cell {cell}: {problem}")]
    AuditFailed {
        /// Cell index.
        cell: u64,
        /// What was wrong.
        problem: AuditProblem,
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
    /// A time outside the database's window schedule (beyond the clock slack).
    #[error("the time is outside the database's window schedule")]
    OutsideSchedule,
    /// The device has already made vouchers for a later window (a rolled-back clock or an
    /// older database): it refuses to go back.
    #[error("window {window} is older than window {newest}, which this device has already used")]
    StaleWindow {
        /// The window asked for.
        window: u64,
        /// The newest window the device state has seen.
        newest: u64,
    },
    /// A second, different database (root hash) for a window the device has already used:
    /// refused, since its choices could relink items.
    #[error("a different database was already used in window {window}")]
    ManifestChanged {
        /// The window.
        window: u64,
    },
    /// The device's policy refuses this database's parameters (a weakened database).
    #[error("the device policy refuses this database: {param}")]
    PolicyRefused {
        /// The parameter the policy refuses (its `Display` states the policy's rule).
        param: Param,
    },
    /// A record from another window than the account's (records of two windows never
    /// combine).
    #[error("record of window {record} given to the account of window {account}")]
    WrongWindow {
        /// The record's window.
        record: u64,
        /// The account's window.
        account: u64,
    },
    /// The wrong secret key for this database or voucher.
    #[error("secret key does not belong to this database")]
    WrongSecretKey,
    /// An image could not be hashed (bad dimensions or buffer), or a PDQ hex string is bad.
    #[error("image: {0}")]
    Image(#[from] crate::media::ImageError),
    /// Reading a stream failed (the kind of OS error only, never file contents).
    #[error("i/o: {kind}")]
    Io {
        /// The kind of I/O failure.
        kind: std::io::ErrorKind,
    },
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io { kind: e.kind() }
    }
}

/// Writes each variant's rule as its message.
macro_rules! described {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }
        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(match self { $(Self::$variant => $text,)* })
            }
        }
    };
}

described! {
    /// An object that is decoded from bytes.
    Object {
        /// A client key file.
        ClientKey => "client key",
        /// A server secret key file.
        ServerSecretKey => "server secret key",
        /// A server public key file.
        ServerPublicKey => "server public key",
        /// A database file.
        Database => "database",
        /// A database's table of cells.
        DatabaseTable => "database table",
        /// A database manifest.
        Manifest => "manifest",
        /// A voucher.
        Voucher => "voucher",
        /// A near-duplicate probe bundle.
        Bundle => "bundle",
        /// A voucher's decrypted inner layer.
        VoucherInnerLayer => "voucher inner layer",
        /// A stored opened-voucher record.
        OpenedRecord => "opened-voucher record",
        /// The device's window state.
        DeviceState => "device state",
    }
}

described! {
    /// A field of a decoded object, with the rule it broke.
    Field {
        /// The app id: at most 64 bytes, zero padding.
        VoucherId => "voucher id (at most 64 bytes, zero-padded)",
        /// The voucher length must match an associated-data bucket for the database.
        VoucherLength => "voucher length (must match an associated-data bucket of this database)",
        /// The voucher's Q.
        VoucherQ => "voucher Q",
        /// The Shamir share y.
        Share => "share",
        /// An F_p value (x0 or a DHF value) must be below p.
        DhfValue => "DHF value (must be below p = 2^64 - 59)",
        /// A record's DHF value count must be s_max.
        DhfCount => "DHF value count (must equal s_max)",
        /// A record's associated data is longer than the largest bucket.
        AdLength => "associated-data length (larger than the largest bucket)",
        /// The database flags must be zero.
        DatabaseFlags => "database flags (must be zero)",
        /// The manifest may be at most 64 KiB.
        ManifestLength => "manifest length (at most 64 KiB)",
        /// T, s_max and the rate must be in range.
        ManifestParams => "manifest parameters (threshold, s_max or synthetic rate out of range)",
        /// m must be a positive multiple of 3 and at most 2^28.
        ManifestCells => "manifest cells (a positive multiple of 3, at most 2^28)",
        /// n must not exceed m.
        ManifestEntries => "manifest entries (at most the number of cells)",
        /// Kinds must be known, non-empty, sorted and distinct.
        ManifestKinds => "manifest hash kinds (known ids, non-empty, sorted and distinct)",
        /// The DST must be 1 to 255 bytes.
        ManifestDst => "manifest DST (1 to 255 bytes)",
        /// At most 64 sources.
        ManifestSources => "manifest sources (at most 64)",
        /// Source names are 1 to 64 bytes of UTF-8.
        SourceName => "manifest source name (1 to 64 bytes of UTF-8)",
        /// The fuzzy band layout: 1–32 bands of 8–64 bits, 1–64 probes per band, at most 512
        /// probes, dihedral 0, and the kinds must include pdq.
        ManifestFuzzy => "manifest fuzzy layout (1-32 bands of 8-64 bits, 1-64 probes per band, at most 512 probes, dihedral 0, kinds including pdq)",
        /// A bundle's layer count must be the database's L·P.
        BundleLayers => "bundle layer count (must be the database's bands x probes)",
        /// min_sources must be at least 1 and at most the number of sources.
        MinSources => "manifest min_sources (1 to the number of sources)",
        /// A cell of the table.
        DatabaseCell => "database cell",
        /// The window schedule: length at least a minute, 1 to 2^20 windows.
        ManifestSchedule => "manifest window schedule (length at least 60 s, 1 to 2^20 windows)",
        /// A voucher's window must be in the database's schedule.
        Window => "voucher window (must be in the database's schedule)",
        /// The device state's flag is 0 or 1.
        DeviceStateFlag => "device state flag (0 or 1)",
        /// The server's blinding scalar α.
        Alpha => "server key alpha",
        /// The server's blinding point L.
        BlindingPoint => "server key L",
        /// The server's Ed25519 verifying key.
        VerifyingKey => "server verifying key",
    }
}

described! {
    /// A caller-supplied parameter, with the rule it broke.
    Param {
        /// T must be between 2 and 256.
        Threshold => "threshold must be between 2 and 256",
        /// s_max must be at most 1024, and positive when the synthetic rate is.
        SMax => "s_max must be at most 1024, and positive when the synthetic rate is",
        /// The synthetic rates must be in [0, 1), the range's low end at most its high end.
        SyntheticRate => "synthetic rates must be in [0, 1), low end at most high end",
        /// A window schedule needs a length of at least 60 s and 1 to 2^20 windows.
        Schedule => "window schedule needs a length of at least 60 s and 1 to 2^20 windows",
        /// An account id is at most 255 bytes.
        Account => "account id must be at most 255 bytes",
        /// Device policy: T at least the policy's minimum.
        PolicyThreshold => "threshold below the device policy's minimum",
        /// Device policy: s_max at least the policy's minimum.
        PolicySMax => "s_max below the device policy's minimum",
        /// Device policy: the synthetic-rate range within the policy's bounds.
        PolicyRate => "synthetic-rate range outside the device policy's bounds",
        /// Device policy: window length within the policy's bounds.
        PolicyWindow => "window length outside the device policy's bounds",
        /// Device policy: a fuzzy database's layout within the policy's bounds.
        PolicyFuzzy => "fuzzy layout outside the device policy's bounds (band width, bands or probes)",
        /// Device policy: the database's root hash must be the pinned one (and a root must be
        /// pinned, unless the policy waives it by name).
        PolicyRoot => "database root hash is not the one the device policy pins",
        /// A fuzzy database matches PDQ hashes by probe bundles, not vouchers.
        PdqNeedsBundle => "a fuzzy database matches PDQ pictures by probe bundles (from the picture's hash and margins), not vouchers",
        /// Probe bundles need a fuzzy database.
        NotFuzzy => "probe bundles need a fuzzy database (this one is exact)",
        /// The app id must be at most 64 bytes.
        Id => "id must be at most 64 bytes",
        /// The associated data must be at most 65532 bytes.
        AssociatedData => "associated data must be at most 65532 bytes",
        /// The OKVS expansion must be between 1.23 and 8.0.
        Expansion => "expansion must be between 1.23 and 8.0",
        /// min_sources must be between 1 and the number of lists.
        MinSources => "min_sources must be between 1 and the number of lists",
        /// At most 64 lists, with distinct names of 1 to 64 bytes.
        Lists => "at most 64 lists, with distinct names of 1 to 64 bytes",
        /// The lists hold too many hashes for one table (2^28 cells).
        TooManyHashes => "the lists hold too many hashes for one table",
        /// The lists hold a hash of a kind that the kinds option does not list.
        Kinds => "the lists hold hashes of a kind that is not listed",
        /// A table's length must be cells × 32.
        Table => "table length must be cells x 32",
        /// PDQ is not an exact hash; it hashes decoded pixels.
        NotExact => "PDQ is not an exact hash; it hashes decoded pixels",
        /// expand_message_xmd: output too long or empty DST.
        ExpandMessage => "expand_message_xmd: output too long or empty DST",
    }
}

described! {
    /// What was wrong with a media hash or a hash-list line.
    HashProblem {
        /// The kind id or name is not one of sha256, sha1, md5, pdq.
        UnknownKind => "unknown hash kind (expected sha256, sha1, md5 or pdq)",
        /// The byte length does not match the kind.
        WrongLength => "wrong length for its kind",
        /// The text is not hexadecimal of the kind's length.
        NotHex => "not hexadecimal of the kind's length",
        /// Typed text must be KIND:HEX.
        NotTyped => "expected KIND:HEX (e.g. sha256:...)",
        /// The line is longer than the limit.
        LineTooLong => "line too long",
        /// No kind given on the line and no default kind.
        NoKind => "no kind on the line and no default kind",
        /// The CSV line has too many fields.
        Fields => "expected one hash, or kind,hash",
    }
}

described! {
    /// What a full database audit found wrong with a cell.
    AuditProblem {
        /// The cell is not a canonical, non-identity point.
        NotCanonical => "not a canonical non-identity point",
        /// Two cells are equal.
        Duplicate => "duplicate cell",
    }
}
