//! The SQLite store: one file, WAL, `synchronous = FULL`, `BEGIN IMMEDIATE` transactions and a
//! busy timeout, so several processes may share it on one machine.
//!
//! Schema version 5 (`PRAGMA user_version`). Versions 2 to 4 are migrated on open (columns
//! added, the queue created); version 1 (protocol v1 records) is refused.

use super::{
    Changed, Filed, Loaded, Queued, SCHEMA_VERSION, Store, StoreError, by_window, capacity,
    decode_records, merge_keys, split_keys, sql_u64,
};
use blindmatch_core::Params;
use blindmatch_core::server::{EvaluationState, OpenedVoucher};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::Path;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
}

const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS accounts (
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
        held INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        evaluated INTEGER NOT NULL DEFAULT 0,
        next_checkpoint INTEGER NOT NULL DEFAULT 0,
        beyond_limit INTEGER NOT NULL DEFAULT 0,
        group_cursor INTEGER NOT NULL DEFAULT 0,
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
    CREATE INDEX IF NOT EXISTS opened_by_seq ON opened(account, window, seq);
    CREATE TABLE IF NOT EXISTS queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        voucher BLOB NOT NULL,
        received_ms INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS accounts_changed ON accounts(version, evaluated);";

/// Version 2 → 3: reveal keys and the dropped count.
const MIGRATE_2: &str = "
    ALTER TABLE accounts ADD COLUMN reveal_keys BLOB NOT NULL DEFAULT x'';
    ALTER TABLE accounts ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;";

/// Version 3 → 4: the held count, change counters and the queue (created by `TABLES`).
const MIGRATE_3: &str = "
    ALTER TABLE accounts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN evaluated INTEGER NOT NULL DEFAULT 0;
    UPDATE accounts SET held = (SELECT COUNT(*) FROM opened
        WHERE opened.account = accounts.account AND opened.window = accounts.window);";

/// Version 4 → 5: the evaluation state.
const MIGRATE_4: &str = "
    ALTER TABLE accounts ADD COLUMN next_checkpoint INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN beyond_limit INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN group_cursor INTEGER NOT NULL DEFAULT 0;";

impl SqliteStore {
    /// Open or create a store file, migrating older versions.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Refuse a store of a version this build does not read before touching it (the WAL
        // switch below rewrites the file header).
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if !(version == 0 || (2..=SCHEMA_VERSION).contains(&version)) {
            return Err(StoreError::Version(version));
        }
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
        if tables > 0 {
            match version {
                2 => tx.execute_batch(&format!("{MIGRATE_2}{MIGRATE_3}{MIGRATE_4}"))?,
                3 => tx.execute_batch(&format!("{MIGRATE_3}{MIGRATE_4}"))?,
                4 => tx.execute_batch(MIGRATE_4)?,
                SCHEMA_VERSION => {}
                v => return Err(StoreError::Version(v)),
            }
        }
        tx.execute_batch(TABLES)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(SqliteStore { conn })
    }

    fn immediate(&mut self) -> Result<Transaction<'_>, StoreError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Store for SqliteStore {
    fn file(
        &mut self,
        p: &Params,
        context: &[u8; 32],
        records: &[(String, OpenedVoucher)],
        done: &[i64],
        now: u64,
    ) -> Result<Filed, StoreError> {
        let tx = self.immediate()?;
        let mut filed = Filed::default();
        for ((account, w), recs) in by_window(records) {
            let w = sql_u64(w)?;
            let Some(mut held) = ensure_account(&tx, account, w, p, context)? else {
                filed.mismatched += recs.len();
                continue;
            };
            let mut exists = tx.prepare_cached(
                "SELECT 1 FROM opened WHERE account = ?1 AND window = ?2 AND q = ?3",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO opened (account, window, q, record, arrival, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let (mut added, mut dropped) = (0i64, 0i64);
            for r in recs {
                if exists.exists(params![account, w, &r.q()[..]])? {
                    continue;
                }
                if held >= capacity() {
                    dropped += 1;
                    continue;
                }
                held += 1;
                added += 1;
                insert.execute(params![
                    account,
                    w,
                    &r.q()[..],
                    r.to_bytes(),
                    sql_u64(now)?,
                    held
                ])?;
            }
            tx.execute(
                "UPDATE accounts SET held = ?3, dropped = dropped + ?4,
                     version = version + (?3 > held)
                 WHERE account = ?1 AND window = ?2",
                params![account, w, held, dropped],
            )?;
            filed.added += usize::try_from(added).unwrap_or(0);
            filed.dropped += usize::try_from(dropped).unwrap_or(0);
        }
        {
            let mut del = tx.prepare_cached("DELETE FROM queue WHERE id = ?1")?;
            for id in done {
                del.execute(params![id])?;
            }
        }
        tx.commit()?;
        Ok(filed)
    }

    fn load(&mut self, account: &str, window: u64) -> Result<Option<Loaded>, StoreError> {
        let w = sql_u64(window)?;
        type Row = (u32, u32, u32, u32, Vec<u8>, i64, i64, (i64, i64, i64));
        let tx = self.conn.transaction()?;
        let p: Option<Row> = tx
            .query_row(
                "SELECT threshold, s_max, rate_lo_ppm, rate_hi_ppm, reveal_keys, dropped, version,
                        next_checkpoint, beyond_limit, group_cursor
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
                        r.get(6)?,
                        (r.get(7)?, r.get(8)?, r.get(9)?),
                    ))
                },
            )
            .optional()?;
        let Some((t, s, lo, hi, keys, dropped, version, (next, beyond, cursor))) = p else {
            return Ok(None);
        };
        let params = Params::new(t, s, lo, hi).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows: Vec<(Vec<u8>, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT record, arrival FROM opened WHERE account = ?1 AND window = ?2 ORDER BY seq",
            )?;
            stmt.query_map(params![account, w], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        Ok(Some(Loaded {
            params,
            records: decode_records(window, rows)?,
            reveal_keys: split_keys(&keys)?,
            dropped: u64::try_from(dropped).unwrap_or(0),
            version,
            state: EvaluationState {
                next_checkpoint: u64::try_from(next).unwrap_or(0),
                beyond_limit: beyond != 0,
                group_cursor: u64::try_from(cursor).unwrap_or(0),
            },
        }))
    }

    fn windows(&mut self, account: &str) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT window FROM accounts WHERE account = ?1 ORDER BY window")?;
        let rows = stmt.query_map(params![account], |r| r.get::<_, i64>(0))?;
        rows.map(|w| Ok(u64::try_from(w?).unwrap_or(0))).collect()
    }

    fn evaluated(
        &mut self,
        account: &str,
        window: u64,
        version: i64,
        keys: &[[u8; 32]],
        state: &EvaluationState,
    ) -> Result<(), StoreError> {
        let w = sql_u64(window)?;
        let tx = self.immediate()?;
        let old: Option<Vec<u8>> = tx
            .query_row(
                "SELECT reveal_keys FROM accounts WHERE account = ?1 AND window = ?2",
                params![account, w],
                |r| r.get(0),
            )
            .optional()?;
        let blob = merge_keys(&old.unwrap_or_default(), keys)?;
        tx.execute(
            "UPDATE accounts SET evaluated = MAX(evaluated, ?3), reveal_keys = ?4,
                 revealed = (length(?4) > 0), next_checkpoint = MAX(next_checkpoint, ?5),
                 beyond_limit = MAX(beyond_limit, ?6), group_cursor = MAX(group_cursor, ?7)
             WHERE account = ?1 AND window = ?2",
            params![
                account,
                w,
                version,
                &blob[..],
                sql_u64(state.next_checkpoint)?,
                i64::from(state.beyond_limit),
                sql_u64(state.group_cursor)?
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn changed(&mut self, max: usize) -> Result<Vec<Changed>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account, window, version FROM accounts WHERE version > evaluated LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![sql_u64(max as u64)?], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (account, window, version) = row?;
            Ok(Changed {
                account,
                window: u64::try_from(window).unwrap_or(0),
                version,
            })
        })
        .collect()
    }

    fn prune(&mut self, keep_from: u64) -> Result<usize, StoreError> {
        let tx = self.immediate()?;
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

    fn enqueue(
        &mut self,
        account: &str,
        vouchers: &[&[u8]],
        received_ms: u64,
    ) -> Result<(), StoreError> {
        let tx = self.immediate()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO queue (account, voucher, received_ms) VALUES (?1, ?2, ?3)",
            )?;
            for v in vouchers {
                stmt.execute(params![account, v, sql_u64(received_ms)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn claim(&mut self, max: usize, now_ms: u64, lease_ms: u64) -> Result<Vec<Queued>, StoreError> {
        let tx = self.immediate()?;
        let now = sql_u64(now_ms)?;
        let rows: Vec<(i64, String, Vec<u8>, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, account, voucher, received_ms FROM queue
                 WHERE lease_until <= ?1 ORDER BY id LIMIT ?2",
            )?;
            stmt.query_map(params![now, sql_u64(max as u64)?], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?
        };
        {
            let mut lease = tx.prepare_cached("UPDATE queue SET lease_until = ?2 WHERE id = ?1")?;
            let until = sql_u64(now_ms.saturating_add(lease_ms))?;
            for (id, ..) in &rows {
                lease.execute(params![id, until])?;
            }
        }
        tx.commit()?;
        Ok(rows
            .into_iter()
            .map(|(id, account, voucher, received)| Queued {
                id,
                account,
                voucher,
                received_ms: u64::try_from(received).unwrap_or(0),
            })
            .collect())
    }

    fn queue_depth(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Create the (account, window) row if missing; returns the records it holds, or `None` when
/// the window holds records of another database (client context).
fn ensure_account(
    tx: &Transaction<'_>,
    account: &str,
    w: i64,
    p: &Params,
    context: &[u8; 32],
) -> Result<Option<i64>, StoreError> {
    let existing: Option<(Vec<u8>, i64)> = tx
        .query_row(
            "SELECT context, held FROM accounts WHERE account = ?1 AND window = ?2",
            params![account, w],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match existing {
        Some((c, _)) if c != context => Ok(None),
        Some((_, held)) => Ok(Some(held)),
        None => {
            let (lo, hi) = p.rate_range_ppm();
            tx.execute(
                "INSERT INTO accounts (account, window, threshold, s_max, rate_lo_ppm, rate_hi_ppm, context)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![account, w, p.threshold(), p.s_max(), lo, hi, &context[..]],
            )?;
            Ok(Some(0))
        }
    }
}
