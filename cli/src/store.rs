//! The account store: opened vouchers per (account, counting window), kept in an embedded
//! SQLite database by default, behind [`AccountStore`] so a networked database can be added.
//!
//! Guarantees: adding the same voucher twice is a no-op (keyed by its Q); one batch is one
//! transaction, so a crash loses nothing that was committed and leaves nothing half-written;
//! several processes may write one store (WAL, `BEGIN IMMEDIATE`, busy timeout). Records of
//! two windows never combine: an account is evaluated per window, and the below-threshold
//! records of closed windows are deleted ([`AccountStore::prune`]).
//!
//! Bounded: an (account, window) holds at most [`DEFAULT_CAPACITY`] records; further ones are
//! counted (`dropped`) and not stored. Once an account's window revealed, the reveal keys are
//! kept with it, so later records cannot undo the reveal.
//!
//! Schema version 3 (`PRAGMA user_version`); a version-2 store is migrated on open (two
//! columns added); a version-1 store (protocol v1 records) is refused with a message, since v1
//! records cannot be evaluated under protocol v2.

use blindmatch_core::Params;
use blindmatch_core::server::{DEFAULT_CAPACITY, OpenedVoucher};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

const SCHEMA_VERSION: i64 = 3;

/// Store errors (never containing record contents).
#[derive(Debug)]
pub enum StoreError {
    /// The database engine failed.
    Db(String),
    /// A stored record did not decode.
    Corrupt(String),
    /// The account's window was opened under another database (another client context:
    /// records of two contexts never combine).
    ParamsMismatch,
    /// The store file has another schema version.
    Version(i64),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "store: {e}"),
            StoreError::Corrupt(e) => write!(f, "store holds a corrupt record: {e}"),
            StoreError::ParamsMismatch => f.write_str(
                "this account's window holds records made under another database (client context); records of two databases never combine",
            ),
            StoreError::Version(v) => write!(
                f,
                "store has schema version {v}, this build reads version {SCHEMA_VERSION} (protocol v2); start a new store"
            ),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

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
}

/// Where accounts' opened vouchers live, per (account, window).
pub trait AccountStore {
    /// Add opened vouchers (of any windows) to an account in one transaction at time `now`,
    /// up to the capacity per window (the rest are counted as dropped); returns how many
    /// were new.
    fn add(
        &mut self,
        account: &str,
        params: &Params,
        context: &[u8; 32],
        records: &[OpenedVoucher],
        now: u64,
    ) -> Result<usize, StoreError>;
    /// An account's window, if it has one.
    fn load(&self, account: &str, window: u64) -> Result<Option<Loaded>, StoreError>;
    /// The windows an account has records in, ascending.
    fn windows(&self, account: &str) -> Result<Vec<u64>, StoreError>;
    /// Remember that an account's window revealed, with the keys its reveal found (its
    /// records are kept, and the keys keep it revealed).
    fn mark_revealed(
        &mut self,
        account: &str,
        window: u64,
        keys: &[[u8; 32]],
    ) -> Result<(), StoreError>;
    /// Delete every account's records of windows before `keep_from` that did not reveal;
    /// returns how many records were deleted.
    fn prune(&mut self, keep_from: u64) -> Result<usize, StoreError>;
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Open or create a store file.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Switching to WAL needs a moment of exclusive access; another process opening the
        // same store at that instant gets SQLITE_BUSY without the busy handler, so retry.
        let mut tries = 0;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(e) if tries < 300 && is_busy(&e) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 && version == 2 {
            tx.execute_batch(
                "ALTER TABLE accounts ADD COLUMN reveal_keys BLOB NOT NULL DEFAULT x'';
                 ALTER TABLE accounts ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;",
            )?;
        } else if tables > 0 && version != SCHEMA_VERSION {
            return Err(StoreError::Version(version));
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (
                 account TEXT NOT NULL,
                 window INTEGER NOT NULL,
                 threshold INTEGER NOT NULL,
                 s_max INTEGER NOT NULL,
                 rate_lo_ppm INTEGER NOT NULL,
                 rate_hi_ppm INTEGER NOT NULL,
                 context BLOB NOT NULL,
                 revealed INTEGER NOT NULL DEFAULT 0,
                 reveal_keys BLOB NOT NULL DEFAULT x'',
                 dropped INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (account, window)
             );
             CREATE TABLE IF NOT EXISTS opened (
                 account TEXT NOT NULL,
                 window INTEGER NOT NULL,
                 q BLOB NOT NULL,
                 record BLOB NOT NULL,
                 arrival INTEGER NOT NULL,
                 seq INTEGER NOT NULL,
                 PRIMARY KEY (account, window, q)
             );
             CREATE INDEX IF NOT EXISTS opened_by_seq ON opened(account, window, seq);",
        )?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(SqliteStore { conn })
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl AccountStore for SqliteStore {
    fn add(
        &mut self,
        account: &str,
        p: &Params,
        context: &[u8; 32],
        records: &[OpenedVoucher],
        now: u64,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut windows: Vec<u64> = records.iter().map(OpenedVoucher::window).collect();
        windows.sort_unstable();
        windows.dedup();
        for w in &windows {
            ensure_account(&tx, account, *w, p, context)?;
        }
        let mut added = 0;
        {
            let mut held = tx.prepare(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM opened WHERE account = ?1 AND window = ?2",
            )?;
            let mut exists =
                tx.prepare("SELECT 1 FROM opened WHERE account = ?1 AND window = ?2 AND q = ?3")?;
            let mut stmt = tx.prepare(
                "INSERT INTO opened (account, window, q, record, arrival, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut dropped = tx.prepare(
                "UPDATE accounts SET dropped = dropped + 1 WHERE account = ?1 AND window = ?2",
            )?;
            for r in records {
                let w = sql_u64(r.window())?;
                if exists.exists(params![account, w, &r.q()[..]])? {
                    continue;
                }
                let (count, seq): (i64, i64) =
                    held.query_row(params![account, w], |r| Ok((r.get(0)?, r.get(1)?)))?;
                if count >= sql_u64(DEFAULT_CAPACITY as u64)? {
                    dropped.execute(params![account, w])?;
                    continue;
                }
                added += stmt.execute(params![
                    account,
                    w,
                    &r.q()[..],
                    r.to_bytes(),
                    sql_u64(now)?,
                    seq + 1
                ])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn load(&self, account: &str, window: u64) -> Result<Option<Loaded>, StoreError> {
        let w = sql_u64(window)?;
        type Row = (u32, u32, u32, u32, Vec<u8>, i64);
        let p: Option<Row> = self
            .conn
            .query_row(
                "SELECT threshold, s_max, rate_lo_ppm, rate_hi_ppm, reveal_keys, dropped
                 FROM accounts WHERE account = ?1 AND window = ?2",
                params![account, w],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((t, s, lo, hi, keys, dropped)) = p else {
            return Ok(None);
        };
        if keys.len() % 32 != 0 {
            return Err(StoreError::Corrupt("reveal keys".into()));
        }
        let reveal_keys = keys
            .chunks_exact(32)
            .map(|k| <[u8; 32]>::try_from(k).expect("32-byte chunks"))
            .collect();
        let p = Params::new(t, s, lo, hi).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut stmt = self.conn.prepare(
            "SELECT record, arrival FROM opened WHERE account = ?1 AND window = ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![account, w], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (bytes, arrival) = row?;
            let record = OpenedVoucher::from_bytes(&bytes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if record.window() != window {
                return Err(StoreError::Corrupt(
                    "record filed under another window".into(),
                ));
            }
            out.push(Stored {
                record,
                arrival: u64::try_from(arrival).unwrap_or(0),
            });
        }
        Ok(Some(Loaded {
            params: p,
            records: out,
            reveal_keys,
            dropped: u64::try_from(dropped).unwrap_or(0),
        }))
    }

    fn windows(&self, account: &str) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT window FROM accounts WHERE account = ?1 ORDER BY window")?;
        let rows = stmt.query_map(params![account], |r| r.get::<_, i64>(0))?;
        rows.map(|w| Ok(u64::try_from(w?).unwrap_or(0))).collect()
    }

    fn mark_revealed(
        &mut self,
        account: &str,
        window: u64,
        keys: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let keys = zeroize::Zeroizing::new(keys.concat());
        self.conn.execute(
            "UPDATE accounts SET revealed = 1, reveal_keys = ?3 WHERE account = ?1 AND window = ?2",
            params![account, sql_u64(window)?, &keys[..]],
        )?;
        Ok(())
    }

    fn prune(&mut self, keep_from: u64) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let k = sql_u64(keep_from)?;
        let deleted = tx.execute(
            "DELETE FROM opened WHERE window < ?1 AND (account, window) IN
                 (SELECT account, window FROM accounts WHERE revealed = 0 AND window < ?1)",
            params![k],
        )?;
        tx.execute(
            "DELETE FROM accounts WHERE window < ?1 AND revealed = 0",
            params![k],
        )?;
        tx.commit()?;
        Ok(deleted)
    }
}

/// SQLite integers are signed 64-bit.
fn sql_u64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Db("value too large for the store".into()))
}

fn ensure_account(
    tx: &rusqlite::Transaction<'_>,
    account: &str,
    window: u64,
    p: &Params,
    context: &[u8; 32],
) -> Result<(), StoreError> {
    let w = sql_u64(window)?;
    let existing: Option<Vec<u8>> = tx
        .query_row(
            "SELECT context FROM accounts WHERE account = ?1 AND window = ?2",
            params![account, w],
            |r| r.get(0),
        )
        .optional()?;
    match existing {
        Some(c) if c != context => Err(StoreError::ParamsMismatch),
        Some(_) => Ok(()),
        None => {
            let (lo, hi) = p.rate_range_ppm();
            tx.execute(
                "INSERT INTO accounts (account, window, threshold, s_max, rate_lo_ppm, rate_hi_ppm, context)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![account, w, p.threshold(), p.s_max(), lo, hi, &context[..]],
            )?;
            Ok(())
        }
    }
}
