//! The server and researcher side: the server key, building a database from hash lists,
//! opening vouchers, and accumulating an account up to the threshold reveal.

use crate::device::{Database, DatabaseParams, FuzzyLayout, WindowSchedule};
use crate::error::{Result, bad_input, guard};
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

    /// The same options for a fuzzy database with core's recommended band layout
    /// (`FuzzyLayout::RECOMMENDED`: 6 bands of 32 bits, 14 probes per band): listed PDQ
    /// hashes then also match re-encoded and resized copies of their pictures, and devices
    /// send probe bundles for pictures (`VoucherMaker::create_voucher_for_image`). A fuzzy
    /// database always lists `pdq`; hashes of the exact kinds are listed as in an exact
    /// database.
    pub fn with_fuzzy(&self) -> Arc<Self> {
        self.with(|o| o.fuzzy = Some(blindmatch_core::fuzzy::FuzzyLayout::RECOMMENDED))
    }

    /// As `with_fuzzy` with an explicit band layout: `bands` (1 to 32) bands of `band_bits`
    /// (8 to 64) bits, `probes` (1 to 64) probes per band, at most 512 probes in all.
    /// `BadInput` outside those ranges. Prefer `with_fuzzy` (see `docs/FUZZY.md`).
    pub fn with_fuzzy_layout(&self, bands: u8, band_bits: u8, probes: u8) -> Result<Arc<Self>> {
        guard(|| {
            let layout = blindmatch_core::fuzzy::FuzzyLayout::new(bands, band_bits, probes)?;
            Ok(self.with(|o| o.fuzzy = Some(layout)))
        })
    }

    /// T, s_max and the synthetic-rate range.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new(self.inner.params.into())
    }

    /// The band layout of a fuzzy database, or `None` for an exact database (the default).
    pub fn fuzzy_layout(&self) -> Option<FuzzyLayout> {
        self.inner.fuzzy.as_ref().map(FuzzyLayout::from)
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
    /// In a batch (`open_vouchers`): why the voucher was refused as structurally malformed
    /// (bad framing, another epoch, a window outside the schedule — never anything that
    /// depends on the list); then `opened` is false, `id` empty and `window` 0. Always `None`
    /// from `open_voucher`, which returns those as errors.
    pub refused: Option<String>,
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
                    refused: None,
                }
            }
            OpenOutcome::Opened(rec) => OpenResult {
                opened: true,
                id: rec.id().to_vec(),
                window: rec.window(),
                record: Some(rec.to_bytes()),
                refused: None,
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
    /// most 255 bytes); a probe bundle (a picture's upload on a fuzzy database) opens the
    /// same way, into the same kind of record. Not opening is a normal result (`opened = false`): no match, a
    /// voucher made for another account, or a voucher whose outer layer opened and whose
    /// inner layer did not (tampered or crafted: one result on purpose, so that a sender
    /// learns nothing about whether a tampered voucher's item is listed; counted in
    /// `malformed_count`). A structurally malformed voucher or a window outside the schedule
    /// is `BadInput`, one for another epoch `WrongEpoch` (with both epochs): these depend on
    /// the voucher's structure only, never on the list.
    pub fn open_voucher(&self, voucher: Vec<u8>, account: Vec<u8>) -> Result<OpenResult> {
        guard(|| OpenResult::of(&voucher, self.inner.open(&voucher, &account)?))
    }

    /// Open many vouchers filed under one `account`, on all cores, in order: the same results
    /// as `open_voucher` per voucher, with the FFI crossing paid once per batch. A batch never
    /// fails because of one voucher: a structurally malformed one comes back with `refused`
    /// set. Fails as a whole only for an account id over 255 bytes (which no voucher decides).
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
                .map(|(r, v)| match r {
                    Ok(outcome) => OpenResult::of(v, outcome),
                    // The account id decides this for every voucher alike.
                    Err(e @ blindmatch_core::Error::InvalidParameter { .. }) => Err(e.into()),
                    Err(e) => Ok(OpenResult {
                        opened: false,
                        id: Vec::new(),
                        window: 0,
                        record: None,
                        refused: Some(e.to_string()),
                    }),
                })
                .collect()
        })
    }

    /// Vouchers this opener has reported as no match although their outer layer opened,
    /// because their inner layer did not open or parse (tampered or crafted vouchers): an
    /// operator metric, never to be shown to senders.
    pub fn malformed_count(&self) -> u64 {
        self.inner.malformed()
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
    /// The account reached its capacity before any reveal: further opened vouchers were
    /// counted and dropped. An honest device does not get here (core's `DEFAULT_CAPACITY`,
    /// 4096 opened vouchers per window, takes tens of thousands of distinct items); a device
    /// that sends vouchers which always open does. Records that open under a reveal key
    /// added later are still kept.
    OverCapacity {
        /// Opened vouchers held.
        opened: u64,
        /// Opened vouchers dropped since the account reached its capacity.
        dropped: u64,
    },
    /// More synthetic records than the decode limit and nothing revealed: detection cannot
    /// proceed in this window (a misbehaving device, or an extreme volume).
    Undecodable {
        /// Opened vouchers held.
        opened: u64,
    },
    /// At least T distinct real matches of one client key: every real match's id and
    /// associated data, and the ids of the other opened vouchers, in arrival order.
    Revealed {
        /// The real matches (re-sends included).
        real: Vec<RevealedMatch>,
        /// Ids of the other opened vouchers: synthetic, or of a client key with fewer than T
        /// real matches.
        synthetic_ids: Vec<Vec<u8>>,
        /// Ids of records that claim a revealed item but whose associated data does not open
        /// under its key (crafted or corrupted records): skipped, they never block the reveal.
        rejected_ids: Vec<Vec<u8>>,
    },
}

impl From<Outcome> for RevealOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::BelowThreshold { opened } => RevealOutcome::BelowThreshold {
                opened: opened as u64,
            },
            Outcome::OverCapacity { opened, dropped } => RevealOutcome::OverCapacity {
                opened: opened as u64,
                dropped,
            },
            Outcome::Undecodable { opened } => RevealOutcome::Undecodable {
                opened: opened as u64,
            },
            Outcome::Revealed {
                real,
                synthetic,
                rejected,
            } => RevealOutcome::Revealed {
                real,
                synthetic_ids: synthetic,
                rejected_ids: rejected,
            },
        }
    }
}

/// What adding a record to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum InsertResult {
    /// Held: a voucher the account did not hold yet.
    New,
    /// The same voucher (same record) was already held: nothing changed.
    Duplicate,
    /// The account is at its capacity: the record was counted (`dropped`) and not held.
    Dropped,
    /// `add` was given a result that did not open: there is nothing to hold.
    NotOpened,
}

impl From<core::Inserted> for InsertResult {
    fn from(i: core::Inserted) -> Self {
        match i {
            core::Inserted::New => InsertResult::New,
            core::Inserted::Duplicate => InsertResult::Duplicate,
            core::Inserted::Dropped => InsertResult::Dropped,
        }
    }
}

/// The opened vouchers of one account in one counting window, accumulated until the threshold.
/// A server keeps one per (account id, window): records of two windows never combine.
/// Thread-safe: calls from several threads are serialised by an internal lock, which is held
/// only for short steps (adding a record, copying the state); `evaluate` runs on a snapshot
/// outside it, so adding records never waits for an evaluation.
#[derive(Debug, uniffi::Object)]
pub struct Account {
    inner: Mutex<core::Account>,
}

impl Account {
    fn lock(&self) -> MutexGuard<'_, core::Account> {
        // Only short steps run under the lock (adding a record, reading or copying the state,
        // merging what an evaluation learned); core writes them not to panic on any input, and
        // evaluation, the expensive step, runs on a snapshot outside the lock, so it cannot
        // poison it. Should a panic (a bug) poison the lock anyway, the account stays usable
        // rather than failing every later call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decode a record and add it; core refuses one opened under other parameters or in
    /// another window.
    fn insert(&self, record: &[u8]) -> Result<InsertResult> {
        let rec = OpenedVoucher::from_bytes(record)?;
        Ok(self.lock().insert(rec)?.into())
    }

    fn wrap(inner: core::Account) -> Arc<Self> {
        Arc::new(Account {
            inner: Mutex::new(inner),
        })
    }
}

#[uniffi::export]
impl Account {
    /// An empty account for a database's parameters and one counting window.
    #[uniffi::constructor]
    pub fn new(params: Arc<DatabaseParams>, window: u64) -> Arc<Self> {
        Account::wrap(core::Account::new(params.inner, window))
    }

    /// An account holding stored `records` (from `records`), in order; errors as `add_record`.
    /// Restore the account's reveal keys (`reveal_keys`) with `add_reveal_key` after it.
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
            Ok(Account::wrap(inner))
        })
    }

    /// Add an opened voucher: `New` if held, `Duplicate` if the same voucher is already held,
    /// `Dropped` if the account is at its capacity (counted in `dropped`), `NotOpened` for a
    /// result that did not open. `WrongWindow` (with both windows) for a record of another
    /// window, `BadInput` for a record opened under other parameters.
    pub fn add(&self, result: OpenResult) -> Result<InsertResult> {
        guard(|| match &result.record {
            Some(r) if result.opened => self.insert(r),
            _ => Ok(InsertResult::NotOpened),
        })
    }

    /// Add a stored record (from `records`): `New`, `Duplicate` or `Dropped` as `add`; errors
    /// as `add`.
    pub fn add_record(&self, record: Vec<u8>) -> Result<InsertResult> {
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

    /// The records held, in arrival order, to persist the account.
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.lock().records().map(OpenedVoucher::to_bytes).collect()
    }

    /// How many opened vouchers the account holds at most (core's `DEFAULT_CAPACITY`, 4096,
    /// unless set).
    pub fn capacity(&self) -> u64 {
        self.lock().capacity() as u64
    }

    /// Set how many opened vouchers the account holds at most; set it before adding records.
    pub fn set_capacity(&self, capacity: u64) {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        self.lock().set_capacity(capacity);
    }

    /// Whether the account reached its capacity and dropped vouchers.
    pub fn over_capacity(&self) -> bool {
        self.lock().over_capacity()
    }

    /// Opened vouchers dropped at capacity (not persisted by `records`).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped()
    }

    /// The keys this account's reveals found (32 bytes each; empty below the threshold). Store
    /// them with the account's records and restore them with `add_reveal_key`: once an
    /// account revealed, it stays revealed, whatever arrives later. **As secret as the
    /// revealed associated data**: the returned bytes are the caller's to protect and wipe.
    pub fn reveal_keys(&self) -> Vec<Vec<u8>> {
        self.lock()
            .reveal_keys()
            .iter()
            .map(|k| k.to_bytes().to_vec())
            .collect()
    }

    /// Restore a key an earlier reveal of this account (same account id and window) found,
    /// as kept from `reveal_keys`: records whose associated data opens under it are revealed
    /// whatever detection says (and kept even at capacity). Adding a key twice is a no-op.
    /// `BadInput` for a key that is not 32 bytes.
    pub fn add_reveal_key(&self, key: Vec<u8>) -> Result<()> {
        guard(|| {
            let bytes = <[u8; 32]>::try_from(key.as_slice())
                .map_err(|_| bad_input("a reveal key must be 32 bytes"))?;
            self.lock()
                .add_reveal_key(core::RevealKey::from_bytes(&bytes));
            Ok(())
        })
    }

    /// Evaluate the account: reveal if it holds at least T distinct real matches of one
    /// client key (more synthetic records than s_max can delay a reveal, never make one below
    /// T); once revealed, it stays revealed. Call off the main thread (a linear-algebra step
    /// over the opened vouchers).
    ///
    /// The evaluation runs on a snapshot of the account taken under the lock and evaluated
    /// outside it: records added meanwhile are not in this outcome (they are in the next
    /// one), and never wait for it. What the evaluation learned (reveal keys, where to resume)
    /// is merged back under the lock.
    pub fn evaluate(&self) -> Result<RevealOutcome> {
        guard(|| {
            // Clone under the lock (cheap: core shares the records by `Arc`), then release it
            // before evaluating.
            let mut snapshot = self.lock().clone();
            let outcome = snapshot.evaluate();
            self.lock().merge_evaluation(&snapshot);
            Ok(outcome.into())
        })
    }
}
