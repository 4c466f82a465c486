//! The server and researcher side: the server key, building a database from hash lists,
//! opening vouchers, and accumulating an account up to the threshold reveal.

use crate::device::{Database, DatabaseParams, WindowSchedule};
use crate::error::{Result, guard};
use crate::hashing::{HashKind, TypedHash};
use blindmatch_core::server::{self as core, OpenOutcome, OpenedVoucher, Outcome, SourceList};
use blindmatch_core::{Params, Schedule, VoucherHeader};
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
/// build's settings, the window schedule among them. Start from
/// `BuildOptions(threshold, s_max, rate_lo_ppm, rate_hi_ppm)` or `BuildOptions.defaults()` and
/// change settings with the `with_…` methods, which return a new `BuildOptions` (the object
/// itself is immutable). Whatever is not set keeps core's default; the getters show it.
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
    /// positive when the rate range is) and the synthetic-rate range `[rate_lo_ppm,
    /// rate_hi_ppm]` in parts per million (10000 = 1 %; each account draws its own secret rate
    /// in it per window). `BadInput` if they are out of range.
    #[uniffi::constructor]
    pub fn new(
        threshold: u32,
        s_max: u32,
        rate_lo_ppm: u32,
        rate_hi_ppm: u32,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let params = Params::new(threshold, s_max, rate_lo_ppm, rate_hi_ppm)?;
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

    /// The same options with this window schedule: `count` windows of `length_secs` seconds
    /// from `origin` (Unix seconds). `BadInput` for a length under 60 s, a count of 0 or above
    /// 2^20, or a schedule that ends past 2^63 s.
    pub fn with_schedule(&self, origin: u64, length_secs: u64, count: u32) -> Result<Arc<Self>> {
        guard(|| {
            let schedule = Schedule::new(origin, length_secs, count)?;
            Ok(self.with(|o| o.schedule = schedule))
        })
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

    /// T, s_max and the synthetic-rate range.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new(self.inner.params.into())
    }

    /// The window schedule.
    pub fn schedule(&self) -> WindowSchedule {
        (&self.inner.schedule).into()
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
    /// The counting window the voucher was made in (its public header): file the record
    /// under the account of this window.
    pub window: u64,
    /// When opened: the record to keep for the account of its window (pass it to `add` or
    /// store it and later `add_record`). Holds only encrypted associated data.
    pub record: Option<Vec<u8>>,
}

impl OpenResult {
    /// The FFI form of one opening.
    fn of(voucher: &[u8], outcome: OpenOutcome) -> Result<OpenResult> {
        Ok(match outcome {
            OpenOutcome::NoMatch => {
                let header = VoucherHeader::peek(voucher)?;
                OpenResult {
                    opened: false,
                    id: header.id,
                    window: header.window,
                    record: None,
                }
            }
            OpenOutcome::Opened(rec) => OpenResult {
                opened: true,
                id: rec.id().to_vec(),
                window: rec.window(),
                record: Some(rec.to_bytes()),
            },
        })
    }
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

    /// Open one voucher filed under `account` (the account id its device was made for, at
    /// most 255 bytes). Not opening is a normal result (`opened = false`: no match, or a
    /// voucher made for another account); a malformed voucher or a window outside the
    /// schedule is `BadInput`, one for another epoch `WrongEpoch` (with both epochs), a
    /// tampered one `CorruptVoucher`.
    pub fn open_voucher(&self, voucher: Vec<u8>, account: Vec<u8>) -> Result<OpenResult> {
        guard(|| OpenResult::of(&voucher, self.inner.open(&voucher, &account)?))
    }

    /// Open many vouchers filed under one `account`, on all cores, in order: the same results
    /// as `open_voucher` per voucher, with the FFI crossing paid once per batch. Fails as a
    /// whole on the first bad voucher (in order).
    pub fn open_vouchers(
        &self,
        vouchers: Vec<Vec<u8>>,
        account: Vec<u8>,
    ) -> Result<Vec<OpenResult>> {
        guard(|| {
            self.inner
                .open_batch(&vouchers, &account)
                .into_iter()
                .zip(&vouchers)
                .map(|(r, v)| OpenResult::of(v, r?))
                .collect()
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

    /// The database's window schedule.
    pub fn schedule(&self) -> WindowSchedule {
        self.inner.schedule().into()
    }

    /// An empty account for this database's parameters and one counting window.
    pub fn new_account(&self, window: u64) -> Arc<Account> {
        Account::new(self.params(), window)
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

/// The opened vouchers of one account in one counting window, accumulated until the threshold.
/// A server keeps one per (account id, window): records of two windows never combine.
/// Thread-safe: calls from several threads are serialised by an internal lock.
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

    /// Decode a record and add it; core refuses one opened under other parameters or in
    /// another window.
    fn insert(&self, record: &[u8]) -> Result<bool> {
        let rec = OpenedVoucher::from_bytes(record)?;
        Ok(self.lock().insert(rec)?)
    }
}

#[uniffi::export]
impl Account {
    /// An empty account for a database's parameters and one counting window.
    #[uniffi::constructor]
    pub fn new(params: Arc<DatabaseParams>, window: u64) -> Arc<Self> {
        Arc::new(Account {
            inner: Mutex::new(core::Account::new(params.inner, window)),
        })
    }

    /// An account holding stored `records` (from `records`), in order; errors as `add_record`.
    #[uniffi::constructor]
    pub fn with_records(
        params: Arc<DatabaseParams>,
        window: u64,
        records: Vec<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let records = records
                .iter()
                .map(|r| OpenedVoucher::from_bytes(r))
                .collect::<blindmatch_core::Result<Vec<_>>>()?;
            let inner = core::Account::with_records(params.inner, window, records)?;
            Ok(Arc::new(Account {
                inner: Mutex::new(inner),
            }))
        })
    }

    /// Add an opened voucher. Returns false if it was not opened or is already held (the
    /// same voucher twice); `WrongWindow` (with both windows) for a record of another window,
    /// `BadInput` for a record opened under other parameters.
    pub fn add(&self, result: OpenResult) -> Result<bool> {
        guard(|| match &result.record {
            Some(r) if result.opened => self.insert(r),
            _ => Ok(false),
        })
    }

    /// Add a stored record (from `records`). Returns false if already held; errors as `add`.
    pub fn add_record(&self, record: Vec<u8>) -> Result<bool> {
        guard(|| self.insert(&record))
    }

    /// The account's counting window.
    pub fn window(&self) -> u64 {
        self.lock().window()
    }

    /// Opened vouchers held (real and synthetic alike; a re-sent item's vouchers each count
    /// here, and once towards the threshold).
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

    /// Evaluate the account: reveal if it holds at least T distinct real matches (more
    /// synthetic records than s_max can delay a reveal, never make one below T). Call off the
    /// main thread (a linear-algebra step over the opened vouchers).
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
