//! The server and researcher side: the server key, building a database from hash lists,
//! opening vouchers, and accumulating an account up to the threshold reveal.

use crate::device::{Database, DatabaseParams};
use crate::error::{BlindMatchError, Result, guard};
use crate::hashing::{HashKind, TypedHash};
use blindmatch_core::opening::OpenedVoucher;
use blindmatch_core::threshold::Outcome;
use blindmatch_core::{self as core, BuildOptions as CoreBuildOptions, OpenOutcome, SourceList};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// How to build a database. Every field has a default.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BuildOptions {
    /// T: distinct real matches an account needs before anything is revealed (2 to 256).
    #[uniffi(default = 30)]
    pub threshold: u32,
    /// s_max: the most synthetic vouchers per account the detection tolerates (≤ 1024).
    #[uniffi(default = 60)]
    pub s_max: u32,
    /// Synthetic-voucher rate in parts per million (10000 = 1 %).
    #[uniffi(default = 10000)]
    pub synthetic_rate_ppm: u32,
    /// Database epoch; vouchers are bound to it.
    #[uniffi(default = 1)]
    pub epoch: u64,
    /// Keep only hashes listed by at least this many sources.
    #[uniffi(default = 1)]
    pub min_sources: u8,
    /// OKVS expansion m/n; `None` for the default (1.23).
    #[uniffi(default = None)]
    pub expansion: Option<f64>,
    /// Creation time (Unix seconds); `None` for now.
    #[uniffi(default = None)]
    pub created_unix: Option<u64>,
    /// Hash kinds to list; `None` for the kinds present in the lists.
    #[uniffi(default = None)]
    pub kinds: Option<Vec<HashKind>>,
}

impl BuildOptions {
    fn to_core(&self) -> Result<CoreBuildOptions> {
        let d = CoreBuildOptions::default();
        let params = DatabaseParams {
            threshold: self.threshold,
            s_max: self.s_max,
            synthetic_rate_ppm: self.synthetic_rate_ppm,
        }
        .to_core()?;
        Ok(CoreBuildOptions {
            params,
            epoch: self.epoch,
            min_sources: self.min_sources,
            expansion: self.expansion.unwrap_or(d.expansion),
            created_unix: self.created_unix,
            kinds: self
                .kinds
                .as_ref()
                .map(|k| k.iter().map(|k| (*k).into()).collect()),
            ..d
        })
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
    pub fn build_database(&self, lists: Vec<HashList>, options: BuildOptions) -> Result<Vec<u8>> {
        guard(|| {
            let sources = lists
                .iter()
                .map(|l| {
                    let hashes = l
                        .hashes
                        .iter()
                        .map(TypedHash::to_core)
                        .collect::<Result<Vec<_>>>()?;
                    Ok(SourceList {
                        name: l.name.clone(),
                        hashes,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(core::DatabaseBuilder::build(
                &self.inner,
                &sources,
                &options.to_core()?,
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
            let inner = core::Opener::new(key.inner.clone(), database.inner.manifest())?;
            Ok(Arc::new(Opener { inner }))
        })
    }

    /// Open one voucher. Not opening is a normal result (`opened = false`); a malformed
    /// voucher is `BadInput`, one for another epoch `WrongEpoch`, a tampered one
    /// `CorruptVoucher`.
    pub fn open_voucher(&self, voucher: Vec<u8>) -> Result<OpenResult> {
        guard(|| {
            Ok(match self.inner.open(&voucher)? {
                OpenOutcome::NoMatch => {
                    let id = core::VoucherHeader::peek(&voucher)?.id;
                    OpenResult {
                        opened: false,
                        id,
                        record: None,
                    }
                }
                OpenOutcome::Opened(rec) => OpenResult {
                    opened: true,
                    id: rec.id.clone(),
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
    pub fn params(&self) -> DatabaseParams {
        DatabaseParams::from(self.inner.params())
    }

    /// An empty account for this database's parameters.
    pub fn new_account(&self) -> Arc<Account> {
        Arc::new(Account::with_params(*self.inner.params()))
    }
}

/// A revealed real match.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RevealedMatch {
    /// The voucher's id.
    pub id: Vec<u8>,
    /// Its associated data.
    pub associated_data: Vec<u8>,
}

/// What the server learns about an account.
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
    params: core::Params,
    inner: Mutex<core::Account>,
}

impl Account {
    fn with_params(params: core::Params) -> Account {
        Account {
            params,
            inner: Mutex::new(core::Account::new(params)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, core::Account> {
        // A panic while holding the lock cannot leave the account half-updated (insert is a
        // set insert then a push), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, record: &[u8]) -> Result<bool> {
        let rec = OpenedVoucher::from_bytes(record)?;
        if rec.dhf.len() != self.params.s_max as usize {
            return Err(BlindMatchError::BadInput(
                "record was opened for a database with different parameters".into(),
            ));
        }
        Ok(self.lock().insert(rec))
    }
}

#[uniffi::export]
impl Account {
    /// An empty account for a database's parameters.
    #[uniffi::constructor]
    pub fn new(params: DatabaseParams) -> Result<Arc<Self>> {
        guard(|| Ok(Arc::new(Account::with_params(params.to_core()?))))
    }

    /// Add an opened voucher. Returns false if it was not opened or is already held.
    pub fn add(&self, result: OpenResult) -> Result<bool> {
        guard(|| match &result.record {
            Some(r) if result.opened => self.insert(r),
            _ => Ok(false),
        })
    }

    /// Add a stored record (from `record`). Returns false if already held.
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
            let outcome = self.lock().evaluate()?;
            Ok(match outcome {
                Outcome::BelowThreshold { opened } => RevealOutcome::BelowThreshold {
                    opened: opened as u64,
                },
                Outcome::Revealed { real, synthetic } => RevealOutcome::Revealed {
                    real: real
                        .into_iter()
                        .map(|m| RevealedMatch {
                            id: m.id,
                            associated_data: m.ad,
                        })
                        .collect(),
                    synthetic_ids: synthetic,
                },
            })
        })
    }
}
