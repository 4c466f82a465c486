//! The account store: opened vouchers per account, kept in an embedded SQLite database by
//! default, behind [`AccountStore`] so a networked database can be added later.
//!
//! Guarantees: adding the same voucher twice is a no-op (keyed by its Q); one batch is one
//! transaction, so a crash loses nothing that was committed and leaves nothing half-written;
//! several processes may write one store (WAL, `BEGIN IMMEDIATE`, busy timeout).

use blindmatch_core::Params;
use blindmatch_core::server::OpenedVoucher;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

/// Store errors (never containing record contents).
#[derive(Debug)]
pub enum StoreError {
    /// The database engine failed.
    Db(String),
    /// A stored record did not decode.
    Corrupt(String),
    /// The account was created under other protocol parameters.
    ParamsMismatch,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "store: {e}"),
            StoreError::Corrupt(e) => write!(f, "store holds a corrupt record: {e}"),
            StoreError::ParamsMismatch => {
                f.write_str("account was opened under a database with other parameters (T, s_max)")
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// Where accounts' opened vouchers live.
pub trait AccountStore {
    /// Add opened vouchers to an account in one transaction; returns how many were new.
    fn add(
        &mut self,
        account: &str,
        params: &Params,
        records: &[OpenedVoucher],
    ) -> Result<usize, StoreError>;
    /// The account's parameters and records, if it exists.
    fn load(&self, account: &str) -> Result<Option<(Params, Vec<OpenedVoucher>)>, StoreError>;
    /// Count of records per account.
    #[allow(dead_code)]
    fn accounts(&self) -> Result<Vec<(String, u64)>, StoreError>;
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
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (
                 account TEXT PRIMARY KEY,
                 threshold INTEGER NOT NULL,
                 s_max INTEGER NOT NULL,
                 synthetic_rate_ppm INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS opened (
                 account TEXT NOT NULL REFERENCES accounts(account),
                 q BLOB NOT NULL,
                 record BLOB NOT NULL,
                 seq INTEGER NOT NULL,
                 PRIMARY KEY (account, q)
             );
             CREATE INDEX IF NOT EXISTS opened_by_seq ON opened(account, seq);",
        )?;
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
        records: &[OpenedVoucher],
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<(u32, u32)> = tx
            .query_row(
                "SELECT threshold, s_max FROM accounts WHERE account = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match existing {
            Some((t, s)) if (t, s) != (p.threshold(), p.s_max()) => {
                return Err(StoreError::ParamsMismatch);
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO accounts (account, threshold, s_max, synthetic_rate_ppm) VALUES (?1, ?2, ?3, ?4)",
                    params![account, p.threshold(), p.s_max(), p.synthetic_rate_ppm()],
                )?;
            }
        }
        let mut added = 0;
        {
            let next: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM opened WHERE account = ?1",
                params![account],
                |r| r.get(0),
            )?;
            let mut stmt = tx.prepare(
                "INSERT OR IGNORE INTO opened (account, q, record, seq) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (i, r) in records.iter().enumerate() {
                added += stmt.execute(params![
                    account,
                    &r.q()[..],
                    r.to_bytes(),
                    next + 1 + i as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    fn load(&self, account: &str) -> Result<Option<(Params, Vec<OpenedVoucher>)>, StoreError> {
        let p: Option<(u32, u32, u32)> = self
            .conn
            .query_row(
                "SELECT threshold, s_max, synthetic_rate_ppm FROM accounts WHERE account = ?1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((t, s, rate)) = p else {
            return Ok(None);
        };
        let p = Params::new(t, s, rate).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM opened WHERE account = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![account], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                OpenedVoucher::from_bytes(&row?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        Ok(Some((p, out)))
    }

    fn accounts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.account, COUNT(o.q) FROM accounts a LEFT JOIN opened o ON o.account = a.account GROUP BY a.account ORDER BY a.account",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
