//! The device side: a verified blinded database, the account's client key, and the voucher
//! maker that combines them.

use crate::error::{Result, bad_input, guard};
use crate::hashing::{HashKind, TypedHash};
use blindmatch_core::device::Client;
use blindmatch_core::{self as core, AD_BUCKETS, MAX_AD_LEN, ServerPublicKey, research};
use std::sync::Arc;

pub use blindmatch_core::VoucherHeader;
pub use blindmatch_core::device::SyntheticChoice;

/// The protocol parameters of a database: T, s_max and the synthetic rate. Valid by
/// construction (the constructor checks the ranges); immutable.
#[derive(PartialEq, Eq, uniffi::Object)]
#[uniffi::export(Debug, Eq, Hash)]
pub struct DatabaseParams {
    pub(crate) inner: core::Params,
}

impl From<core::Params> for DatabaseParams {
    fn from(inner: core::Params) -> Self {
        DatabaseParams { inner }
    }
}

impl std::fmt::Debug for DatabaseParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::hash::Hash for DatabaseParams {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let p = &self.inner;
        (p.threshold(), p.s_max(), p.synthetic_rate_ppm()).hash(state);
    }
}

#[uniffi::export]
impl DatabaseParams {
    /// Check and make parameters: T between 2 and 256, s_max at most 1024 (and positive when
    /// the rate is), a synthetic rate in parts per million below 1 000 000. `BadInput` if not.
    #[uniffi::constructor]
    pub fn new(threshold: u32, s_max: u32, synthetic_rate_ppm: u32) -> Result<Arc<Self>> {
        guard(|| {
            let inner = core::Params::new(threshold, s_max, synthetic_rate_ppm)?;
            Ok(Arc::new(inner.into()))
        })
    }

    /// T: distinct real matches an account needs before anything is revealed.
    pub fn threshold(&self) -> u32 {
        self.inner.threshold()
    }

    /// s_max: the most synthetic vouchers per account that threshold detection tolerates.
    pub fn s_max(&self) -> u32 {
        self.inner.s_max()
    }

    /// Probability that a device makes a voucher synthetic, in parts per million.
    pub fn synthetic_rate_ppm(&self) -> u32 {
        self.inner.synthetic_rate_ppm()
    }
}

/// What a verified database says about itself (all public, from the signed manifest).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DatabaseInfo {
    /// Database epoch; vouchers are bound to it.
    pub epoch: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Number of hashes encoded.
    pub entries: u64,
    /// Number of table cells.
    pub cells: u64,
    /// T, s_max and the synthetic rate.
    pub params: Arc<DatabaseParams>,
    /// The hash kinds listed.
    pub kinds: Vec<HashKind>,
    /// Hashes were kept only if listed by at least this many sources.
    pub min_sources: u8,
    /// The root hash (32 bytes) that devices display and auditors compare out of band.
    pub root_hash: Vec<u8>,
    /// Lower-case hex of the root hash.
    pub root_hash_hex: String,
    /// Short fingerprint of the server key the database verified against.
    pub server_fingerprint: String,
}

/// A loaded, verified blinded database: its signature checked against a pinned server key,
/// its table digest and (optionally) its root hash checked. Immutable; share it freely
/// between threads.
#[derive(Debug, uniffi::Object)]
pub struct Database {
    pub(crate) inner: Arc<core::Database>,
}

impl Database {
    /// Fast-load `storage` against the pinned key and optional root (shared by both
    /// constructors; core does the checks).
    fn verified(
        storage: impl AsRef<[u8]> + Send + Sync + 'static,
        pinned_server_key: &[u8],
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        let key = ServerPublicKey::from_bytes(pinned_server_key)?;
        let root = expected_root_hash
            .map(|r| {
                <[u8; 32]>::try_from(r.as_slice())
                    .map_err(|_| bad_input("expected root hash must be 32 bytes"))
            })
            .transpose()?;
        let db = core::Database::open(storage, &key, root.as_ref())?;
        Ok(Arc::new(Database {
            inner: Arc::new(db),
        }))
    }
}

/// Map a database file read-only (core does no I/O: the map is handed to it as bytes).
#[allow(unsafe_code)]
fn map_file(path: &str) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    // SAFETY: the map is read-only and owned by the `Database` that verifies it. Like every
    // mmap-based reader it assumes the file is not truncated or rewritten while mapped; the
    // SDK documents that database files are replaced by atomic rename, which leaves existing
    // maps intact.
    Ok(unsafe { memmap2::Mmap::map(&file)? })
}

#[uniffi::export]
impl Database {
    /// Verify a database held in memory against the pinned server public key (the server's
    /// exported public key bytes) and, if given, the expected 32-byte root hash. Call off the
    /// main thread: it hashes the whole table.
    #[uniffi::constructor(default(expected_root_hash = None))]
    pub fn from_bytes(
        bytes: Vec<u8>,
        pinned_server_key: Vec<u8>,
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| Database::verified(bytes, &pinned_server_key, expected_root_hash))
    }

    /// Memory-map a database file and verify it as `from_bytes` does (`Io` if it cannot be
    /// opened). Replace the file by atomic rename, never in place, while it is open. Call off
    /// the main thread.
    #[uniffi::constructor(default(expected_root_hash = None))]
    pub fn open_file(
        path: String,
        pinned_server_key: Vec<u8>,
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| Database::verified(map_file(&path)?, &pinned_server_key, expected_root_hash))
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The 32-byte root hash.
    pub fn root_hash(&self) -> Vec<u8> {
        self.inner.root_hash().to_vec()
    }

    /// T, s_max and the synthetic rate.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new((*self.inner.params()).into())
    }

    /// Everything public about the database.
    pub fn info(&self) -> DatabaseInfo {
        let m = self.inner.manifest();
        DatabaseInfo {
            epoch: m.epoch,
            created_unix: m.created_unix,
            entries: m.entries,
            cells: m.cells,
            params: Arc::new(m.params.into()),
            kinds: m.kinds.clone(),
            min_sources: m.min_sources,
            root_hash: self.inner.root_hash().to_vec(),
            root_hash_hex: hex::encode(self.inner.root_hash()),
            server_fingerprint: self.inner.server_key().fingerprint(),
        }
    }

    /// Full audit (for auditors, slow): every table cell a canonical non-identity point and
    /// all cells distinct. `VerificationFailed` if not. Call off the main thread.
    pub fn verify(&self) -> Result<()> {
        guard(|| {
            self.inner.verify()?;
            Ok(())
        })
    }

    /// The length of a voucher carrying `associated_data_len` bytes of associated data
    /// (vouchers are padded to a few size buckets). `BadInput` above 65532 bytes.
    pub fn voucher_len(&self, associated_data_len: u32) -> Result<u32> {
        guard(|| {
            // Core pads the associated data and its length prefix to the smallest bucket that
            // holds both; the prefix is what the largest bucket holds beyond MAX_AD_LEN.
            let prefix = AD_BUCKETS.last().map_or(0, |largest| largest - MAX_AD_LEN);
            let padded = associated_data_len as usize + prefix;
            let bucket = AD_BUCKETS.into_iter().find(|b| padded <= *b).ok_or(
                core::Error::InvalidParameter {
                    param: core::Param::AssociatedData,
                },
            )?;
            let len = core::voucher_len(self.inner.params().s_max(), bucket);
            u32::try_from(len).map_err(|_| bad_input("voucher length"))
        })
    }
}

/// An account's client key: a 32-byte secret seed shared by the account's devices. Export it
/// only for backup and to the account's other devices, and store it in the platform keystore.
#[derive(Debug, uniffi::Object)]
pub struct ClientKey {
    pub(crate) inner: core::ClientKey,
}

#[uniffi::export]
impl ClientKey {
    /// A fresh key from the OS random number generator.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(ClientKey {
            inner: core::ClientKey::generate(),
        })
    }

    /// Import a key made by `export`: `BadInput` if truncated, oversized or
    /// not a client key, `UnsupportedVersion` for a newer format.
    #[uniffi::constructor]
    pub fn from_exported(bytes: Vec<u8>) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(ClientKey {
                inner: core::ClientKey::import(&bytes)?,
            }))
        })
    }

    /// The versioned encoding of the key (38 bytes). This is the account's secret: the
    /// returned bytes are the caller's to protect and wipe.
    pub fn export(&self) -> Vec<u8> {
        self.inner.export().to_vec()
    }
}

/// Whether a voucher is real or synthetic (core's `SyntheticChoice`).
#[uniffi::remote(Enum)]
#[uniffi(name = "VoucherChoice")]
pub enum SyntheticChoice {
    /// Decide at random with the database's synthetic rate: what apps must use.
    ByRate,
    /// Always real. Simulations and tests only: it removes the device's deniability.
    Real,
    /// Always synthetic. Simulations and tests only.
    Synthetic,
}

/// The device side of the protocol: a verified database plus the keys derived from the
/// account's client key for that database. Immutable; share it between threads.
#[derive(Debug, uniffi::Object)]
pub struct VoucherMaker {
    inner: Client,
    database: Arc<Database>,
}

#[uniffi::export]
impl VoucherMaker {
    /// Derive the account's keys for `database`'s parameters.
    #[uniffi::constructor]
    pub fn new(database: Arc<Database>, key: Arc<ClientKey>) -> Result<Arc<Self>> {
        guard(|| {
            let inner = Client::new(database.inner.clone(), &key.inner);
            Ok(Arc::new(VoucherMaker { inner, database }))
        })
    }

    /// The database this maker writes vouchers for.
    pub fn database(&self) -> Arc<Database> {
        self.database.clone()
    }

    /// Make a voucher for one media item: its typed hash, the app's id for it (at most 64
    /// bytes, public) and associated data (at most 65532 bytes, revealed only at the
    /// threshold). Synthetic with the database's rate. About 0.1–0.2 ms: call off the main
    /// thread.
    pub fn create_voucher(
        &self,
        hash: TypedHash,
        id: Vec<u8>,
        associated_data: Vec<u8>,
    ) -> Result<Vec<u8>> {
        guard(|| {
            Ok(self
                .inner
                .voucher(&hash.to_core()?, &id, &associated_data)?)
        })
    }

    /// Make vouchers for many items in one call, in order: the same work as
    /// `create_voucher` per item, with the FFI crossing paid once per batch rather than once
    /// per item (it dominates the per-item overhead from Python and Kotlin). Fails as a whole
    /// on the first bad item. Runs on the calling thread: call off the main thread.
    pub fn create_vouchers(&self, requests: Vec<VoucherRequest>) -> Result<Vec<Vec<u8>>> {
        guard(|| {
            requests
                .iter()
                .map(|r| {
                    Ok(self
                        .inner
                        .voucher(&r.hash.to_core()?, &r.id, &r.associated_data)?)
                })
                .collect()
        })
    }

    /// As `create_voucher` with the real/synthetic choice forced. For
    /// simulations and tests only: apps must use `create_voucher`.
    pub fn create_voucher_for_simulation(
        &self,
        hash: TypedHash,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        choice: SyntheticChoice,
    ) -> Result<Vec<u8>> {
        guard(|| {
            Ok(research::voucher_with_choice(
                &self.inner,
                &hash.to_core()?,
                &id,
                &associated_data,
                choice,
                &mut rand::rng(),
            )?)
        })
    }
}

/// One media item to make a voucher for (see `VoucherMaker::create_vouchers`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VoucherRequest {
    /// The item's typed media hash.
    pub hash: TypedHash,
    /// The app's id for the item (at most 64 bytes, public).
    pub id: Vec<u8>,
    /// Associated data (at most 65532 bytes), revealed only at the threshold.
    pub associated_data: Vec<u8>,
}

/// The public header of a voucher, readable by anyone (core's `VoucherHeader`).
#[uniffi::remote(Record)]
pub struct VoucherHeader {
    /// The database epoch the voucher was made for.
    pub epoch: u64,
    /// The app's id for the item.
    pub id: Vec<u8>,
}

/// Read a voucher's public header (epoch and id) without opening it.
#[uniffi::export]
pub fn peek_voucher(voucher: Vec<u8>) -> Result<VoucherHeader> {
    guard(|| Ok(VoucherHeader::peek(&voucher)?))
}
