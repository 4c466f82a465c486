//! Where the server keeps its state: opened vouchers per (account, counting window), the
//! accounts' reveal keys, and (for `blindmatch serve`) the queue of received vouchers. One
//! [`Store`] trait, two engines: SQLite (embedded, one machine — the default) and PostgreSQL
//! (several `serve` processes on one database).
//!
//! Guarantees, for both engines: adding the same voucher twice is a no-op (records are keyed by
//! (account, window, Q)); a batch is one transaction, so a crash loses nothing that was
//! committed and leaves nothing half-written; records of two windows never combine, and a
//! window holds records of one database (client context) only; a window holds at most
//! [`DEFAULT_CAPACITY`] records (further ones are counted as dropped); once a window revealed,
//! its reveal keys are kept with it, so later records cannot undo the reveal. Queued vouchers
//! are claimed with a lease: a worker that dies leaves its batch to be claimed again.

mod postgres;
mod sqlite;

use blindmatch_core::Params;
use blindmatch_core::server::{DEFAULT_CAPACITY, EvaluationState, OpenedVoucher};
use std::path::Path;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Store errors (never containing record contents).
#[derive(Debug)]
pub enum StoreError {
    /// The database engine failed.
    Db(String),
    /// A stored record did not decode.
    Corrupt(String),
    /// The store has a schema version this build does not read.
    Version(i64),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "store: {e}"),
            StoreError::Corrupt(e) => write!(f, "store holds a corrupt record: {e}"),
            StoreError::Version(v) => write!(
                f,
                "store has schema version {v}, which this build does not read (protocol v2 stores are versions 2 to {SCHEMA_VERSION}); start a new store"
            ),
        }
    }
}

/// The store schema this build writes (both engines; migrations are applied on open).
pub const SCHEMA_VERSION: i64 = 5;

/// One stored record with what the server knows of its arrival.
pub struct Stored {
    /// The record.
    pub record: OpenedVoucher,
    /// When it was added (Unix seconds).
    pub arrival: u64,
}

/// An account's window as stored.
pub struct Loaded {
    /// The database parameters it is evaluated under.
    pub params: Params,
    /// The records, in arrival order.
    pub records: Vec<Stored>,
    /// Keys earlier reveals found (32 bytes each).
    pub reveal_keys: Vec<[u8; 32]>,
    /// Records not stored because the window was at capacity.
    pub dropped: u64,
    /// Its change counter (pass it to [`Store::evaluated`]).
    pub version: i64,
    /// Where its evaluation schedule stands (checkpoints, decode limit, group cursor).
    pub state: EvaluationState,
}

/// A received voucher waiting to be opened.
pub struct Queued {
    /// The queue entry's id.
    pub id: i64,
    /// The account it was filed under.
    pub account: String,
    /// The voucher bytes.
    pub voucher: Vec<u8>,
    /// When it was received (Unix milliseconds).
    pub received_ms: u64,
}

/// An (account, window) whose records changed since it was last evaluated.
pub struct Changed {
    /// The account.
    pub account: String,
    /// The window.
    pub window: u64,
    /// Its change counter when listed (workers evaluate what they load; the stores' tests
    /// read it).
    #[allow(dead_code)]
    pub version: i64,
}

/// What one [`Store::file`] did.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    /// Records newly stored.
    pub added: usize,
    /// Records not stored because their window was at capacity.
    pub dropped: usize,
    /// Records not stored because their window holds records of another database (client
    /// context). Never an error: whether a voucher opened must not decide a batch's fate.
    pub mismatched: usize,
}

/// Where accounts' opened vouchers (and the service's queue) live.
pub trait Store: Send {
    /// In one transaction: store `records` (each with its account) up to each window's
    /// capacity, mark the touched (account, window)s changed, and delete the queue entries
    /// `done`. A record already stored (same account, window and Q) is skipped; records for a
    /// window that holds another database's records are skipped and counted (`mismatched`).
    fn file(
        &mut self,
        params: &Params,
        context: &[u8; 32],
        records: &[(String, OpenedVoucher)],
        done: &[i64],
        now: u64,
    ) -> Result<Filed, StoreError>;
    /// An account's window, if it has one.
    fn load(&mut self, account: &str, window: u64) -> Result<Option<Loaded>, StoreError>;
    /// The windows an account has, ascending.
    fn windows(&mut self, account: &str) -> Result<Vec<u64>, StoreError>;
    /// Record that an (account, window) was evaluated at `version` (its change counter when
    /// loaded), with the reveal keys it now has (all of them; empty below the threshold) and
    /// its evaluation state (merged with the stored one: the later checkpoint and cursor).
    fn evaluated(
        &mut self,
        account: &str,
        window: u64,
        version: i64,
        keys: &[[u8; 32]],
        state: &EvaluationState,
    ) -> Result<(), StoreError>;
    /// Up to `max` (account, window)s changed since their last evaluation.
    fn changed(&mut self, max: usize) -> Result<Vec<Changed>, StoreError>;
    /// Delete every account's records of windows before `keep_from` that did not reveal;
    /// returns how many records were deleted.
    fn prune(&mut self, keep_from: u64) -> Result<usize, StoreError>;
    /// Durably queue received vouchers for `account` (one transaction).
    fn enqueue(
        &mut self,
        account: &str,
        vouchers: &[&[u8]],
        received_ms: u64,
    ) -> Result<(), StoreError>;
    /// Claim up to `max` queued vouchers whose lease (if any) expired before `now_ms`,
    /// leasing them until `now_ms + lease_ms`, oldest first.
    fn claim(&mut self, max: usize, now_ms: u64, lease_ms: u64) -> Result<Vec<Queued>, StoreError>;
    /// Queued vouchers not yet filed.
    fn queue_depth(&mut self) -> Result<u64, StoreError>;
}

impl dyn Store {
    /// Store opened records of one account (the CLI's `server open`); returns how many were
    /// new.
    pub fn add(
        &mut self,
        account: &str,
        params: &Params,
        context: &[u8; 32],
        records: &[OpenedVoucher],
        now: u64,
    ) -> Result<usize, StoreError> {
        let tagged: Vec<(String, OpenedVoucher)> = records
            .iter()
            .map(|r| (account.to_string(), r.clone()))
            .collect();
        Ok(self.file(params, context, &tagged, &[], now)?.added)
    }
}

/// Open a store from its spec: `sqlite:PATH`, `postgres://…` / `postgresql://…`, or a bare
/// path (SQLite).
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Ok(Box::new(PostgresStore::connect(spec)?));
    }
    let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
    Ok(Box::new(SqliteStore::open(Path::new(path))?))
}

/// The capacity as a signed store integer.
fn capacity() -> i64 {
    i64::try_from(DEFAULT_CAPACITY).unwrap_or(i64::MAX)
}

/// SQL integers are signed 64-bit.
fn sql_u64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Db("value too large for the store".into()))
}

/// 32-byte keys from their concatenation.
fn split_keys(keys: &[u8]) -> Result<Vec<[u8; 32]>, StoreError> {
    if !keys.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt("reveal keys".into()));
    }
    Ok(keys
        .chunks_exact(32)
        .map(|k| <[u8; 32]>::try_from(k).expect("32-byte chunks"))
        .collect())
}

/// The stored reveal keys (their concatenation) with `keys` added, as one blob to store.
fn merge_keys(stored: &[u8], keys: &[[u8; 32]]) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
    let mut all = zeroize::Zeroizing::new(split_keys(stored)?);
    for k in keys {
        if !all.contains(k) {
            all.push(*k);
        }
    }
    Ok(zeroize::Zeroizing::new(all.concat()))
}

/// Decode stored records, checking each belongs to `window`.
fn decode_records(
    window: u64,
    rows: impl IntoIterator<Item = (Vec<u8>, i64)>,
) -> Result<Vec<Stored>, StoreError> {
    rows.into_iter()
        .map(|(bytes, arrival)| {
            let record = OpenedVoucher::from_bytes(&bytes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if record.window() != window {
                return Err(StoreError::Corrupt(
                    "record filed under another window".into(),
                ));
            }
            Ok(Stored {
                record,
                arrival: u64::try_from(arrival).unwrap_or(0),
            })
        })
        .collect()
}

/// The records grouped by (account, window), in order of first appearance.
fn by_window(records: &[(String, OpenedVoucher)]) -> Vec<((&str, u64), Vec<&OpenedVoucher>)> {
    let mut out: Vec<((&str, u64), Vec<&OpenedVoucher>)> = Vec::new();
    for (a, r) in records {
        let key = (a.as_str(), r.window());
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
