//! The device side: a verified blinded database, the account's client key, and the voucher
//! maker that combines them.

use crate::error::{Result, bad_input, guard};
use crate::hashing::{HashKind, TypedHash};
use blindmatch_core::voucher::{self as core_voucher, SyntheticChoice};
use blindmatch_core::{self as core, Params, ServerPublicKey};
use std::sync::Arc;

/// The protocol parameters a database was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct DatabaseParams {
    /// T: distinct real matches an account needs before anything is revealed.
    pub threshold: u32,
    /// s_max: the most synthetic vouchers per account that threshold detection tolerates.
    pub s_max: u32,
    /// Probability that a device makes a voucher synthetic, in parts per million.
    pub synthetic_rate_ppm: u32,
}

impl From<&Params> for DatabaseParams {
    fn from(p: &Params) -> Self {
        DatabaseParams {
            threshold: p.threshold,
            s_max: p.s_max,
            synthetic_rate_ppm: p.synthetic_rate_ppm,
        }
    }
}

impl DatabaseParams {
    pub(crate) fn to_core(self) -> Result<Params> {
        Ok(Params::new(
            self.threshold,
            self.s_max,
            self.synthetic_rate_ppm,
        )?)
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
    pub params: DatabaseParams,
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

fn pinned_key(bytes: &[u8]) -> Result<ServerPublicKey> {
    Ok(ServerPublicKey::from_bytes(bytes)?)
}

fn expected_root(root: Option<Vec<u8>>) -> Result<Option<[u8; 32]>> {
    root.map(|r| {
        <[u8; 32]>::try_from(r.as_slice())
            .map_err(|_| bad_input("expected root hash must be 32 bytes"))
    })
    .transpose()
}

impl Database {
    /// Fast-load `storage` against the pinned key and optional root (shared by both
    /// constructors).
    fn verified(
        storage: core::database::Storage,
        pinned_server_key: &[u8],
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        let key = pinned_key(pinned_server_key)?;
        let root = expected_root(expected_root_hash)?;
        let db = core::Database::open(storage, &key, root.as_ref())?;
        Ok(Arc::new(Database {
            inner: Arc::new(db),
        }))
    }
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
        guard(|| Database::verified(bytes.into(), &pinned_server_key, expected_root_hash))
    }

    /// Memory-map a database file and verify it as `from_bytes` does. Replace the
    /// file by atomic rename, never in place, while it is open. Call off the main thread.
    #[uniffi::constructor(default(expected_root_hash = None))]
    pub fn open_file(
        path: String,
        pinned_server_key: Vec<u8>,
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let storage = core::database::Storage::map_file(std::path::Path::new(&path))?;
            Database::verified(storage, &pinned_server_key, expected_root_hash)
        })
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
    pub fn params(&self) -> DatabaseParams {
        DatabaseParams::from(self.inner.params())
    }

    /// Everything public about the database.
    pub fn info(&self) -> DatabaseInfo {
        let m = self.inner.manifest();
        DatabaseInfo {
            epoch: m.epoch,
            created_unix: m.created_unix,
            entries: m.entries,
            cells: m.cells,
            params: DatabaseParams::from(&m.params),
            kinds: m.kinds.iter().map(|k| HashKind::from(*k)).collect(),
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
    /// (vouchers are padded to a few size buckets).
    pub fn voucher_len(&self, associated_data_len: u32) -> Result<u32> {
        guard(|| {
            let bucket = core_voucher::bucket_for(associated_data_len as usize)?;
            let len = core_voucher::voucher_len(self.inner.params().s_max, bucket);
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

/// Whether a voucher is real or synthetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VoucherChoice {
    /// Decide at random with the database's synthetic rate: what apps must use.
    ByRate,
    /// Always real. Simulations and tests only: it removes the device's deniability.
    Real,
    /// Always synthetic. Simulations and tests only.
    Synthetic,
}

impl From<VoucherChoice> for SyntheticChoice {
    fn from(c: VoucherChoice) -> Self {
        match c {
            VoucherChoice::ByRate => SyntheticChoice::ByRate,
            VoucherChoice::Real => SyntheticChoice::Real,
            VoucherChoice::Synthetic => SyntheticChoice::Synthetic,
        }
    }
}

/// The device side of the protocol: a verified database plus the keys derived from the
/// account's client key for that database. Immutable; share it between threads.
#[derive(Debug, uniffi::Object)]
pub struct VoucherMaker {
    inner: core::Client,
    database: Arc<Database>,
}

#[uniffi::export]
impl VoucherMaker {
    /// Derive the account's keys for `database`'s parameters.
    #[uniffi::constructor]
    pub fn new(database: Arc<Database>, key: Arc<ClientKey>) -> Result<Arc<Self>> {
        guard(|| {
            let inner = core::Client::new(database.inner.clone(), &key.inner)?;
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
        choice: VoucherChoice,
    ) -> Result<Vec<u8>> {
        guard(|| {
            Ok(self.inner.voucher_with(
                &hash.to_core()?,
                &id,
                &associated_data,
                choice.into(),
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

/// The public header of a voucher, readable by anyone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VoucherHeader {
    /// The database epoch the voucher was made for.
    pub epoch: u64,
    /// The app's id for the item.
    pub id: Vec<u8>,
}

/// Read a voucher's public header (epoch and id) without opening it.
#[uniffi::export]
pub fn peek_voucher(voucher: Vec<u8>) -> Result<VoucherHeader> {
    guard(|| {
        let h = core_voucher::VoucherHeader::peek(&voucher)?;
        Ok(VoucherHeader {
            epoch: h.epoch,
            id: h.id,
        })
    })
}
