//! The server and researcher side: the server key, building a database from hash lists,
//! opening vouchers, and accumulating an account up to the threshold reveal.

use crate::device::{Database, DatabaseParams};
use crate::error::{Result, guard};
use crate::hashing::{HashKind, TypedHash};
use blindmatch_core::server::{self as core, OpenOutcome, OpenedVoucher, Outcome, SourceList};
use blindmatch_core::{Params, VoucherHeader};
use std::sync::{Arc, Mutex, MutexGuard};

pub use blindmatch_core::server::RevealedMatch;

/// The server's secret key: the blinding scalar α and the manifest-signing key. It never
/// leaves the server.
#[derive(Debug, uniffi::Object)]
pub struct ServerKey {
    inner: core::ServerSecretKey,
}

/// One source's (organisation's) hash list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HashList {
    /// The source's name, 1 to 64 bytes, distinct across the lists of one build.
    pub name: String,
    /// Its hashes (duplicates are fine).
    pub hashes: Vec<TypedHash>,
}

/// How to build a database: the protocol parameters (checked on construction) and the
/// build's settings. Start from `BuildOptions(threshold, s_max, synthetic_rate_ppm)` or
/// `BuildOptions.defaults()` and change settings with the `with_…` methods, which return a
/// new `BuildOptions` (the object itself is immutable). Whatever is not set keeps core's
/// default; the getters show it.
#[derive(Debug, uniffi::Object)]
pub struct BuildOptions {
    inner: core::BuildOptions,
}

impl BuildOptions {
    /// A copy with one setting changed.
    fn with(&self, change: impl FnOnce(&mut core::BuildOptions)) -> Arc<Self> {
        let mut inner = self.inner.clone();
        change(&mut inner);
        Arc::new(BuildOptions { inner })
    }
}

#[uniffi::export]
impl BuildOptions {
    /// Core's defaults with these protocol parameters: T (2 to 256), s_max (at most 1024,
    /// positive when the rate is) and the synthetic-voucher rate in parts per million (10000 =
    /// 1 %). `BadInput` if they are out of range.
    #[uniffi::constructor]
    pub fn new(threshold: u32, s_max: u32, synthetic_rate_ppm: u32) -> Result<Arc<Self>> {
        guard(|| {
            let params = Params::new(threshold, s_max, synthetic_rate_ppm)?;
            Ok(BuildOptions::defaults().with(|o| o.params = params))
        })
    }

    /// Core's defaults for everything, protocol parameters included.
    #[uniffi::constructor]
    pub fn defaults() -> Arc<Self> {
        Arc::new(BuildOptions {
            inner: core::BuildOptions::default(),
        })
    }

    /// The same options with these (already checked) protocol parameters.
    pub fn with_params(&self, params: Arc<DatabaseParams>) -> Arc<Self> {
        self.with(|o| o.params = params.inner)
    }

    /// The same options with this database epoch (vouchers are bound to it).
    pub fn with_epoch(&self, epoch: u64) -> Arc<Self> {
        self.with(|o| o.epoch = epoch)
    }

    /// The same options keeping only hashes listed by at least this many sources.
    pub fn with_min_sources(&self, min_sources: u8) -> Arc<Self> {
        self.with(|o| o.min_sources = min_sources)
    }

    /// The same options with this OKVS expansion m/n (checked by the build: between 1.23 and
    /// 8.0).
    pub fn with_expansion(&self, expansion: f64) -> Arc<Self> {
        self.with(|o| o.expansion = expansion)
    }

    /// The same options with this creation time (Unix seconds) instead of the build's time.
    pub fn with_created_unix(&self, created_unix: u64) -> Arc<Self> {
        self.with(|o| o.created_unix = Some(created_unix))
    }

    /// The same options listing exactly these hash kinds instead of the kinds present in the
    /// lists.
    pub fn with_kinds(&self, kinds: Vec<HashKind>) -> Arc<Self> {
        self.with(|o| o.kinds = Some(kinds))
    }

    /// T, s_max and the synthetic rate.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new(self.inner.params.into())
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The minimum number of sources that must list a hash.
    pub fn min_sources(&self) -> u8 {
        self.inner.min_sources
    }

    /// The OKVS expansion m/n.
    pub fn expansion(&self) -> f64 {
        self.inner.expansion
    }

    /// The creation time, or `None` for the time of the build.
    pub fn created_unix(&self) -> Option<u64> {
        self.inner.created_unix
    }

    /// The kinds to list, or `None` for the kinds present in the lists.
    pub fn kinds(&self) -> Option<Vec<HashKind>> {
        self.inner.kinds.clone()
    }
}

#[uniffi::export]
impl ServerKey {
    /// A fresh server key from the OS random number generator.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(ServerKey {
            inner: core::ServerSecretKey::generate(),
        })
    }

    /// Decode a secret key made by `export_secret`.
    #[uniffi::constructor]
    pub fn from_secret_bytes(bytes: Vec<u8>) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(ServerKey {
                inner: core::ServerSecretKey::from_bytes(&bytes)?,
            }))
        })
    }

    /// The versioned encoding of the secret key (70 bytes): the server's most sensitive
    /// secret.
    pub fn export_secret(&self) -> Vec<u8> {
        self.inner.to_bytes().to_vec()
    }

    /// The public key (70 bytes) that devices pin.
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public().to_bytes()
    }

    /// A short fingerprint of the public key, for display.
    pub fn fingerprint(&self) -> String {
        self.inner.public().fingerprint()
    }

    /// Build and sign a database from hash lists: deduplicate, apply `min_sources`, blind
    /// every hash, encode the table. Returns the database file's bytes. Slow for large lists
    /// (about 40 µs per hash, on all cores).
    pub fn build_database(
        &self,
        lists: Vec<HashList>,
        options: Arc<BuildOptions>,
    ) -> Result<Vec<u8>> {
        guard(|| {
            let sources = lists
                .into_iter()
                .map(|l| {
                    let hashes = l.hashes.iter().map(TypedHash::to_core);
                    Ok(SourceList {
                        name: l.name,
                        hashes: hashes.collect::<Result<_>>()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(core::DatabaseBuilder::build(
                &self.inner,
                &sources,
                &options.inner,
            )?)
        })
    }
}

/// The outcome of opening one voucher.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OpenResult {
    /// True when the outer layer opened: a real match or a synthetic voucher (the server
    /// cannot tell which until the account crosses the threshold). False: no match.
    pub opened: bool,
    /// The voucher's id (its public header).
    pub id: Vec<u8>,
    /// When opened: the record to keep for the account (pass it to `add` or store
    /// it and later `add_record`). Holds only encrypted associated data.
    pub record: Option<Vec<u8>>,
}

/// The server's opener for one database.
#[derive(Debug, uniffi::Object)]
pub struct Opener {
    inner: core::Opener,
}

#[uniffi::export]
impl Opener {
    /// An opener for `database`; `WrongKey` if `key` did not make it.
    #[uniffi::constructor]
    pub fn new(key: Arc<ServerKey>, database: Arc<Database>) -> Result<Arc<Self>> {
        guard(|| {
            let inner = core::Opener::new(&key.inner, database.inner.manifest())?;
            Ok(Arc::new(Opener { inner }))
        })
    }

    /// Open one voucher. Not opening is a normal result (`opened = false`); a malformed
    /// voucher is `BadInput`, one for another epoch `WrongEpoch` (with both epochs), a
    /// tampered one `CorruptVoucher`.
    pub fn open_voucher(&self, voucher: Vec<u8>) -> Result<OpenResult> {
        guard(|| {
            Ok(match self.inner.open(&voucher)? {
                OpenOutcome::NoMatch => OpenResult {
                    opened: false,
                    id: VoucherHeader::peek(&voucher)?.id,
                    record: None,
                },
                OpenOutcome::Opened(rec) => OpenResult {
                    opened: true,
                    id: rec.id().to_vec(),
                    record: Some(rec.to_bytes()),
                },
            })
        })
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The database parameters.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new((*self.inner.params()).into())
    }

    /// An empty account for this database's parameters.
    pub fn new_account(&self) -> Arc<Account> {
        Account::new(self.params())
    }
}

/// A revealed real match (core's `RevealedMatch`).
#[uniffi::remote(Record)]
pub struct RevealedMatch {
    /// The voucher's id.
    pub id: Vec<u8>,
    /// Its associated data.
    #[uniffi(name = "associated_data")]
    pub ad: Vec<u8>,
}

/// What the server learns about an account. (Core's `Outcome` counts in `usize`, which UniFFI
/// does not carry: this enum is its FFI form.)
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RevealOutcome {
    /// Fewer than T distinct real matches (or too few to tell): only the count of opened
    /// vouchers, real and synthetic alike.
    BelowThreshold {
        /// Opened vouchers held.
        opened: u64,
    },
    /// At least T distinct real matches: every real match's id and associated data, and the
    /// ids of the other (synthetic) opened vouchers.
    Revealed {
        /// The real matches.
        real: Vec<RevealedMatch>,
        /// Ids of the synthetic vouchers.
        synthetic_ids: Vec<Vec<u8>>,
    },
}

/// The opened vouchers of one account, accumulated until the threshold. Thread-safe: calls
/// from several threads are serialised by an internal lock.
#[derive(Debug, uniffi::Object)]
pub struct Account {
    inner: Mutex<core::Account>,
}

impl Account {
    fn lock(&self) -> MutexGuard<'_, core::Account> {
        // A panic while holding the lock cannot leave the account half-updated (insert checks,
        // then does a set insert and a push), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decode a record and add it; core refuses one opened under other parameters.
    fn insert(&self, record: &[u8]) -> Result<bool> {
        let rec = OpenedVoucher::from_bytes(record)?;
        Ok(self.lock().insert(rec)?)
    }
}

#[uniffi::export]
impl Account {
    /// An empty account for a database's parameters.
    #[uniffi::constructor]
    pub fn new(params: Arc<DatabaseParams>) -> Arc<Self> {
        Arc::new(Account {
            inner: Mutex::new(core::Account::new(params.inner)),
        })
    }

    /// Add an opened voucher. Returns false if it was not opened or is already held;
    /// `BadInput` for a record opened under other parameters.
    pub fn add(&self, result: OpenResult) -> Result<bool> {
        guard(|| match &result.record {
            Some(r) if result.opened => self.insert(r),
            _ => Ok(false),
        })
    }

    /// Add a stored record (from `records`). Returns false if already held.
    pub fn add_record(&self, record: Vec<u8>) -> Result<bool> {
        guard(|| self.insert(&record))
    }

    /// Opened vouchers held.
    pub fn opened_count(&self) -> u64 {
        self.lock().opened() as u64
    }

    /// The records held, to persist the account.
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.lock()
            .records()
            .iter()
            .map(OpenedVoucher::to_bytes)
            .collect()
    }

    /// Evaluate the account: reveal if it holds at least T distinct real matches. Call off
    /// the main thread (a linear-algebra step over the opened vouchers).
    pub fn evaluate(&self) -> Result<RevealOutcome> {
        guard(|| {
            Ok(match self.lock().evaluate()? {
                Outcome::BelowThreshold { opened } => RevealOutcome::BelowThreshold {
                    opened: opened as u64,
                },
                Outcome::Revealed { real, synthetic } => RevealOutcome::Revealed {
                    real,
                    synthetic_ids: synthetic,
                },
            })
        })
    }
}
