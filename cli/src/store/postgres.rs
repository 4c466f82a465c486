//! The PostgreSQL store: several `blindmatch serve` processes (on one machine or several) share
//! one database. Same semantics as the SQLite store; what differs is how writers are kept apart:
//!
//! - [`Store::file`] is one transaction that creates each touched (account, window) row if
//!   missing and then locks it (`SELECT … FOR UPDATE`), in sorted (account, window) order, so
//!   two processes filing into one window take turns and two batches never deadlock; records are
//!   inserted with `ON CONFLICT DO NOTHING` up to the window's capacity.
//! - [`Store::claim`] is one statement that leases the oldest unleased queue entries with
//!   `FOR UPDATE SKIP LOCKED`: concurrent workers never claim the same entry.
//! - [`Store::evaluated`] locks the row while it merges the reveal keys (a union).
//! - [`Store::prune`] locks the rows it deletes (in the same order as `file`), so a window that
//!   reveals meanwhile is kept.
//!
//! Schema version 4 (the `blindmatch_schema` table), created or migrated on open under a
//! transaction-scoped advisory lock, so that processes starting together do not race; a newer
//! version is refused. Tables are made in the first schema of the connection's `search_path`
//! (choose another with `?options=-c%20search_path%3DNAME` in the URL).
//!
//! The connection is plain TCP or a Unix socket (no TLS). Errors never contain the connection
//! password, nor record contents (only the server's severity, SQLSTATE and message). A
//! connection that broke is reopened on the next call.

use super::{
    Changed, Filed, Loaded, Queued, SCHEMA_VERSION, Store, StoreError, by_window, capacity,
    decode_records, merge_keys, split_keys, sql_u64,
};
use blindmatch_core::Params;
use blindmatch_core::server::{EvaluationState, OpenedVoucher};
use postgres::{Client, Config, IsolationLevel, NoTls, Statement};
use std::time::Duration;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Db(describe(&e))
    }
}

/// An error's text: for server errors the severity, message and SQLSTATE (not the DETAIL,
/// which may quote key values); otherwise the client's description and its cause.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "PostgreSQL: {}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("PostgreSQL: {e}: {cause}"),
        None => format!("PostgreSQL: {e}"),
    }
}

/// The advisory lock key that serialises migrations ("blindmat").
const MIGRATION_LOCK: i64 = 0x626c_696e_646d_6174;

/// Schema version 4, from an empty schema. `window` is a reserved word in PostgreSQL, so it
/// is quoted everywhere.
const SCHEMA_4: &str = r#"
    CREATE TABLE accounts (
        account TEXT NOT NULL,
        "window" BIGINT NOT NULL,
        threshold BIGINT NOT NULL,
        s_max BIGINT NOT NULL,
        rate_lo_ppm BIGINT NOT NULL,
        rate_hi_ppm BIGINT NOT NULL,
        context BYTEA NOT NULL,
        revealed BOOLEAN NOT NULL DEFAULT FALSE,
        reveal_keys BYTEA NOT NULL DEFAULT ''::bytea,
        dropped BIGINT NOT NULL DEFAULT 0,
        held BIGINT NOT NULL DEFAULT 0,
        version BIGINT NOT NULL DEFAULT 0,
        evaluated BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (account, "window")
    );
    CREATE TABLE opened (
        account TEXT NOT NULL,
        "window" BIGINT NOT NULL,
        q BYTEA NOT NULL,
        record BYTEA NOT NULL,
        arrival BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (account, "window", q)
    );
    CREATE INDEX opened_by_seq ON opened (account, "window", seq);
    CREATE TABLE queue (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account TEXT NOT NULL,
        voucher BYTEA NOT NULL,
        received_ms BIGINT NOT NULL,
        lease_until BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_by_lease ON queue (lease_until, id);
    CREATE INDEX accounts_changed ON accounts (version, evaluated) WHERE version > evaluated;"#;

/// The migrations: (from version, to version, SQL). Version 0 is an empty schema.
const MIGRATIONS: &[(i64, i64, &str)] = &[(0, 4, SCHEMA_4), (4, 5, SCHEMA_5)];

/// Version 4 → 5: the evaluation state.
const SCHEMA_5: &str = r#"
    ALTER TABLE accounts ADD COLUMN next_checkpoint BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN beyond_limit BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE accounts ADD COLUMN group_cursor BIGINT NOT NULL DEFAULT 0;"#;

/// The PostgreSQL store.
pub struct PostgresStore {
    config: Config,
    /// `None` only after a failed reconnect (retried on the next call).
    conn: Option<Conn>,
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    st: Statements,
}

/// The statements, prepared once per connection.
struct Statements {
    ensure: Statement,
    lock: Statement,
    insert: Statement,
    update: Statement,
    done: Statement,
    load_account: Statement,
    load_records: Statement,
    windows: Statement,
    lock_keys: Statement,
    set_evaluated: Statement,
    changed: Statement,
    prune_accounts: Statement,
    prune_records: Statement,
    enqueue: Statement,
    claim: Statement,
    depth: Statement,
}

impl Statements {
    fn prepare(c: &mut Client) -> Result<Statements, postgres::Error> {
        Ok(Statements {
            ensure: c.prepare(
                r#"INSERT INTO accounts
                       (account, "window", threshold, s_max, rate_lo_ppm, rate_hi_ppm, context)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (account, "window") DO NOTHING"#,
            )?,
            lock: c.prepare(
                r#"SELECT context, held FROM accounts WHERE account = $1 AND "window" = $2
                   FOR UPDATE"#,
            )?,
            // The batch's records not already stored (the first of equal Qs), numbered in
            // batch order, the first $7 of them inserted after the $6 held: returns (added,
            // new). The row lock taken by `lock` keeps other writers of this window out, so
            // the NOT EXISTS is exact and the ON CONFLICT only a safeguard.
            insert: c.prepare(
                r#"WITH input AS (
                       SELECT t.q, t.record, t.ord
                       FROM unnest($3::bytea[], $4::bytea[]) WITH ORDINALITY AS t(q, record, ord)
                   ), fresh AS (
                       SELECT DISTINCT ON (i.q) i.q, i.record, i.ord FROM input i
                       WHERE NOT EXISTS (SELECT 1 FROM opened o
                           WHERE o.account = $1 AND o."window" = $2 AND o.q = i.q)
                       ORDER BY i.q, i.ord
                   ), numbered AS (
                       SELECT q, record, row_number() OVER (ORDER BY ord) AS n FROM fresh
                   ), ins AS (
                       INSERT INTO opened (account, "window", q, record, arrival, seq)
                       SELECT $1, $2, q, record, $5::bigint, $6::bigint + n FROM numbered
                       WHERE n <= $7::bigint
                       ORDER BY n
                       ON CONFLICT (account, "window", q) DO NOTHING
                       RETURNING 1
                   )
                   SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM numbered)"#,
            )?,
            update: c.prepare(
                r#"UPDATE accounts SET held = $3, dropped = dropped + $4,
                       version = version + (CASE WHEN $3 > held THEN 1 ELSE 0 END)
                   WHERE account = $1 AND "window" = $2"#,
            )?,
            done: c.prepare("DELETE FROM queue WHERE id = ANY($1)")?,
            load_account: c.prepare(
                r#"SELECT threshold, s_max, rate_lo_ppm, rate_hi_ppm, reveal_keys, dropped, version,
                          next_checkpoint, beyond_limit, group_cursor
                   FROM accounts WHERE account = $1 AND "window" = $2"#,
            )?,
            load_records: c.prepare(
                r#"SELECT record, arrival FROM opened WHERE account = $1 AND "window" = $2
                   ORDER BY seq"#,
            )?,
            windows: c
                .prepare(r#"SELECT "window" FROM accounts WHERE account = $1 ORDER BY "window""#)?,
            lock_keys: c.prepare(
                r#"SELECT reveal_keys FROM accounts WHERE account = $1 AND "window" = $2
                   FOR UPDATE"#,
            )?,
            set_evaluated: c.prepare(
                r#"UPDATE accounts SET evaluated = GREATEST(evaluated, $3), reveal_keys = $4,
                       revealed = $5, next_checkpoint = GREATEST(next_checkpoint, $6),
                       beyond_limit = beyond_limit OR $7, group_cursor = GREATEST(group_cursor, $8)
                   WHERE account = $1 AND "window" = $2"#,
            )?,
            changed: c.prepare(
                r#"SELECT account, "window", version FROM accounts WHERE version > evaluated
                   LIMIT $1"#,
            )?,
            // Locked in `file`'s order (accounts by their bytes, then windows): no deadlock
            // with a concurrent `file`; a row that revealed while we waited is re-checked
            // and kept.
            prune_accounts: c.prepare(
                r#"DELETE FROM accounts WHERE (account, "window") IN (
                       SELECT account, "window" FROM accounts
                       WHERE "window" < $1 AND NOT revealed
                       ORDER BY convert_to(account, 'UTF8'), "window"
                       FOR UPDATE)
                   RETURNING account, "window""#,
            )?,
            prune_records: c.prepare(
                r#"DELETE FROM opened o USING unnest($1::text[], $2::bigint[]) AS g(account, w)
                   WHERE o.account = g.account AND o."window" = g.w"#,
            )?,
            enqueue: c.prepare(
                "INSERT INTO queue (account, voucher, received_ms)
                 SELECT $1, t.v, $3 FROM unnest($2::bytea[]) WITH ORDINALITY AS t(v, ord)
                 ORDER BY t.ord",
            )?,
            claim: c.prepare(
                "UPDATE queue SET lease_until = $2
                 WHERE id IN (SELECT id FROM queue WHERE lease_until <= $1
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, account, voucher, received_ms",
            )?,
            depth: c.prepare("SELECT count(*) FROM queue")?,
        })
    }
}

impl Conn {
    /// Connect, migrate and prepare.
    fn open(config: &Config) -> Result<Conn, StoreError> {
        let mut client = config.connect(NoTls)?;
        migrate(&mut client)?;
        let st = Statements::prepare(&mut client)?;
        Ok(Conn { client, st })
    }
}

/// Create or migrate the schema to [`SCHEMA_VERSION`], refusing versions this build does not
/// know; one transaction under an advisory lock.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS blindmatch_schema (
             one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
             version BIGINT NOT NULL)",
    )?;
    let found: Option<i64> = tx
        .query_opt("SELECT version FROM blindmatch_schema", &[])?
        .map(|r| r.get(0));
    let mut version = found.unwrap_or(0);
    while version != SCHEMA_VERSION {
        let Some((_, to, sql)) = MIGRATIONS.iter().find(|(from, ..)| *from == version) else {
            return Err(StoreError::Version(version));
        };
        tx.batch_execute(sql)?;
        version = *to;
    }
    if found != Some(version) {
        tx.execute(
            "INSERT INTO blindmatch_schema (version) VALUES ($1)
             ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version",
            &[&version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`, or any form the
    /// `postgres` crate parses), creating or migrating the schema.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let config: Config = url.parse().map_err(|e: postgres::Error| {
            // The parser's causes name the option, never its value; remove the URL's
            // password all the same, should one ever be quoted.
            let msg = describe(&e);
            match password_of(url) {
                Some(pw) if !pw.is_empty() => StoreError::Db(msg.replace(pw, "***")),
                _ => StoreError::Db(msg),
            }
        })?;
        PostgresStore::with_config(config)
    }

    /// Connect with a parsed configuration (a 10-second connect timeout unless it sets one).
    fn with_config(mut config: Config) -> Result<PostgresStore, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("blindmatch");
        }
        let conn = Conn::open(&config)?;
        Ok(PostgresStore {
            config,
            conn: Some(conn),
        })
    }

    /// The connection, reopened if it broke.
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            if let Some(old) = self.conn.take() {
                drop_off_runtime(old);
            }
            self.conn = Some(Conn::open(&self.config)?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Db("PostgreSQL: no connection".into()))
    }
}

/// The password of a `postgres://user:password@…` URL, if it has one.
fn password_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split('/').next()?.rsplit_once('@')?.0;
    Some(auth.split_once(':')?.1)
}

/// Close a connection where that is allowed: the synchronous client blocks on its own runtime
/// when it closes, which panics on a thread that runs asynchronous tasks; there, close it on a
/// thread of its own.
fn drop_off_runtime(conn: Conn) {
    if tokio::runtime::Handle::try_current().is_err() {
        drop(conn);
        return;
    }
    let _ = std::thread::Builder::new()
        .name("blindmatch-pg-close".into())
        .spawn(move || drop(conn));
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop_off_runtime(conn);
        }
    }
}

/// A stored non-negative integer as u32 (parameters).
fn stored_u32(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("account parameters".into()))
}

impl Store for PostgresStore {
    fn file(
        &mut self,
        p: &Params,
        context: &[u8; 32],
        records: &[(String, OpenedVoucher)],
        done: &[i64],
        now: u64,
    ) -> Result<Filed, StoreError> {
        let now = sql_u64(now)?;
        let (lo, hi) = p.rate_range_ppm();
        let (t, s, lo, hi) = (
            i64::from(p.threshold()),
            i64::from(p.s_max()),
            i64::from(lo),
            i64::from(hi),
        );
        let ctx: &[u8] = &context[..];
        let Conn { client, st } = self.conn()?;
        let mut tx = client.transaction()?;
        let mut filed = Filed::default();
        // Sorted by (account, window): every writer locks rows in the same order.
        for ((account, w), recs) in by_window(records) {
            let w = sql_u64(w)?;
            // Make the row if missing, then lock it. A concurrent prune may delete the row
            // between the two; then make it again.
            let mut locked = None;
            for _ in 0..3 {
                tx.execute(&st.ensure, &[&account, &w, &t, &s, &lo, &hi, &ctx])?;
                if let Some(row) = tx.query_opt(&st.lock, &[&account, &w])? {
                    locked = Some((row.get::<_, Vec<u8>>(0), row.get::<_, i64>(1)));
                    break;
                }
            }
            let Some((stored_ctx, held)) = locked else {
                return Err(StoreError::Db(
                    "PostgreSQL: an account row vanished while filing; try again".into(),
                ));
            };
            if stored_ctx != ctx {
                // Another database's window: skip these records (never fail the batch on
                // something that only opened vouchers reach).
                filed.mismatched += recs.len();
                continue;
            }
            let room = (capacity() - held).max(0);
            let qs: Vec<&[u8]> = recs.iter().map(|r| &r.q()[..]).collect();
            let bytes: Vec<Vec<u8>> = recs.iter().map(|r| r.to_bytes()).collect();
            let row = tx.query_one(&st.insert, &[&account, &w, &qs, &bytes, &now, &held, &room])?;
            let (added, new): (i64, i64) = (row.get(0), row.get(1));
            // New records past the capacity are dropped; records already stored are not.
            let dropped = (new - room).max(0);
            tx.execute(&st.update, &[&account, &w, &(held + added), &dropped])?;
            filed.added += usize::try_from(added).unwrap_or(0);
            filed.dropped += usize::try_from(dropped).unwrap_or(0);
        }
        if !done.is_empty() {
            tx.execute(&st.done, &[&done])?;
        }
        tx.commit()?;
        Ok(filed)
    }

    fn load(&mut self, account: &str, window: u64) -> Result<Option<Loaded>, StoreError> {
        let w = sql_u64(window)?;
        let Conn { client, st } = self.conn()?;
        // One snapshot for the row and its records.
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let Some(row) = tx.query_opt(&st.load_account, &[&account, &w])? else {
            tx.commit()?;
            return Ok(None);
        };
        let params = Params::new(
            stored_u32(row.get(0))?,
            stored_u32(row.get(1))?,
            stored_u32(row.get(2))?,
            stored_u32(row.get(3))?,
        )
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let keys: &[u8] = row.get(4);
        let reveal_keys = split_keys(keys)?;
        let dropped: i64 = row.get(5);
        let version: i64 = row.get(6);
        let state = EvaluationState {
            next_checkpoint: u64::try_from(row.get::<_, i64>(7)).unwrap_or(0),
            beyond_limit: row.get(8),
            group_cursor: u64::try_from(row.get::<_, i64>(9)).unwrap_or(0),
        };
        let rows = tx.query(&st.load_records, &[&account, &w])?;
        tx.commit()?;
        let records = decode_records(
            window,
            rows.iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, i64>(1))),
        )?;
        Ok(Some(Loaded {
            params,
            records,
            reveal_keys,
            dropped: u64::try_from(dropped).unwrap_or(0),
            version,
            state,
        }))
    }

    fn windows(&mut self, account: &str) -> Result<Vec<u64>, StoreError> {
        let Conn { client, st } = self.conn()?;
        let rows = client.query(&st.windows, &[&account])?;
        Ok(rows
            .iter()
            .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
            .collect())
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
        let (next, cursor) = (
            sql_u64(state.next_checkpoint)?,
            sql_u64(state.group_cursor)?,
        );
        let Conn { client, st } = self.conn()?;
        let mut tx = client.transaction()?;
        let Some(row) = tx.query_opt(&st.lock_keys, &[&account, &w])? else {
            // No such window (pruned meanwhile): nothing to record.
            tx.commit()?;
            return Ok(());
        };
        let blob = merge_keys(row.get::<_, &[u8]>(0), keys)?;
        let revealed = !blob.is_empty();
        tx.execute(
            &st.set_evaluated,
            &[
                &account,
                &w,
                &version,
                &&blob[..],
                &revealed,
                &next,
                &state.beyond_limit,
                &cursor,
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn changed(&mut self, max: usize) -> Result<Vec<Changed>, StoreError> {
        let max = sql_u64(max as u64)?;
        let Conn { client, st } = self.conn()?;
        let rows = client.query(&st.changed, &[&max])?;
        Ok(rows
            .iter()
            .map(|r| Changed {
                account: r.get(0),
                window: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                version: r.get(2),
            })
            .collect())
    }

    fn prune(&mut self, keep_from: u64) -> Result<usize, StoreError> {
        let k = sql_u64(keep_from)?;
        let Conn { client, st } = self.conn()?;
        let mut tx = client.transaction()?;
        // The rows first (locked, so a concurrent file into them finishes first or waits),
        // then, in a later statement that sees what such a file committed, their records.
        let gone = tx.query(&st.prune_accounts, &[&k])?;
        let deleted = if gone.is_empty() {
            0
        } else {
            let accounts: Vec<&str> = gone.iter().map(|r| r.get(0)).collect();
            let windows: Vec<i64> = gone.iter().map(|r| r.get(1)).collect();
            tx.execute(&st.prune_records, &[&accounts, &windows])?
        };
        tx.commit()?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    fn enqueue(
        &mut self,
        account: &str,
        vouchers: &[&[u8]],
        received_ms: u64,
    ) -> Result<(), StoreError> {
        let received = sql_u64(received_ms)?;
        if vouchers.is_empty() {
            return Ok(());
        }
        let Conn { client, st } = self.conn()?;
        // One statement: all or nothing.
        client.execute(&st.enqueue, &[&account, &vouchers, &received])?;
        Ok(())
    }

    fn claim(&mut self, max: usize, now_ms: u64, lease_ms: u64) -> Result<Vec<Queued>, StoreError> {
        let now = sql_u64(now_ms)?;
        let until = sql_u64(now_ms.saturating_add(lease_ms))?;
        let max = sql_u64(max as u64)?;
        let Conn { client, st } = self.conn()?;
        let rows = client.query(&st.claim, &[&now, &until, &max])?;
        let mut out: Vec<Queued> = rows
            .into_iter()
            .map(|r| Queued {
                id: r.get(0),
                account: r.get(1),
                voucher: r.get(2),
                received_ms: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
            })
            .collect();
        out.sort_by_key(|q| q.id);
        Ok(out)
    }

    fn queue_depth(&mut self) -> Result<u64, StoreError> {
        let Conn { client, st } = self.conn()?;
        let n: i64 = client.query_one(&st.depth, &[])?.get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    //! Against a real server: `BLINDMATCH_TEST_PG` (scripts/test.sh sets it from
    //! scripts/postgres.sh). Each test works in a schema of its own, dropped at its end.

    use super::*;
    use blindmatch_core::server::DEFAULT_CAPACITY;
    use std::collections::BTreeSet;

    /// The server to test against; `None` (skip) when unset, except under CI.
    fn test_url() -> Option<String> {
        match std::env::var("BLINDMATCH_TEST_PG") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "BLINDMATCH_TEST_PG is not set under CI (scripts/test.sh sets it from scripts/postgres.sh)"
                    );
                }
                eprintln!("skipped: BLINDMATCH_TEST_PG not set");
                None
            }
        }
    }

    /// A fresh schema, and connections whose `search_path` is it.
    struct Scratch {
        admin: Client,
        schema: String,
        config: Config,
    }

    impl Scratch {
        fn new(tag: &str) -> Option<Scratch> {
            let url = test_url()?;
            let base: Config = url.parse().expect("BLINDMATCH_TEST_PG is a PostgreSQL URL");
            let mut admin = base.connect(NoTls).expect("connect to BLINDMATCH_TEST_PG");
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let schema = format!("bm_test_{tag}_{}_{nanos}", std::process::id());
            admin
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .expect("create the test schema");
            let mut config = base.clone();
            config.options(&format!("-c search_path={schema}"));
            Some(Scratch {
                admin,
                schema,
                config,
            })
        }

        fn open(&self) -> PostgresStore {
            PostgresStore::with_config(self.config.clone()).expect("open the store")
        }

        fn try_open(&self) -> Result<PostgresStore, StoreError> {
            PostgresStore::with_config(self.config.clone())
        }

        fn scalar(&mut self, sql: &str) -> i64 {
            self.admin
                .query_one(&sql.replace("$S", &self.schema), &[])
                .expect("query")
                .get(0)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = self
                .admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }

    fn params() -> Params {
        Params::new(3, 4, 100_000, 200_000).expect("params")
    }

    /// A valid record of `window` whose Q is made of `n`.
    fn rec(window: u64, n: u32) -> OpenedVoucher {
        let mut q = [0u8; 32];
        q[..4].copy_from_slice(&n.to_le_bytes());
        q[31] = 0x5a;
        let mut share = [0u8; 32];
        share[0] = 7;
        OpenedVoucher::from_parts(
            window,
            b"id",
            q,
            u64::from(n) + 1,
            share,
            &[1, 2, 3, 4],
            b"ad",
        )
        .expect("record")
    }

    fn tagged(account: &str, recs: &[OpenedVoucher]) -> Vec<(String, OpenedVoucher)> {
        recs.iter()
            .map(|r| (account.to_string(), r.clone()))
            .collect()
    }

    const CTX: [u8; 32] = [9; 32];

    fn qs(l: &Loaded) -> Vec<[u8; 32]> {
        l.records.iter().map(|s| *s.record.q()).collect()
    }

    #[test]
    fn migrates_a_fresh_schema_reopens_and_refuses_a_newer_version() {
        let Some(mut s) = Scratch::new("migrate") else {
            return;
        };
        let mut st = s.open();
        assert_eq!(
            s.scalar("SELECT version FROM $S.blindmatch_schema"),
            SCHEMA_VERSION
        );
        assert_eq!(s.scalar("SELECT count(*) FROM $S.blindmatch_schema"), 1);
        for table in ["accounts", "opened", "queue"] {
            let n = s.scalar(&format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$S' AND table_name = '{table}'"
            ));
            assert_eq!(n, 1, "{table}");
        }
        for index in ["opened_by_seq", "queue_by_lease", "accounts_changed"] {
            let n = s.scalar(&format!(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = '$S' AND indexname = '{index}'"
            ));
            assert_eq!(n, 1, "{index}");
        }
        st.enqueue("a", &[b"v"], 1).expect("enqueue");
        drop(st);
        // Re-open: the data is kept, the version unchanged. (Through a URL that names the
        // schema, as the module doc says.)
        let url = test_url().expect("url");
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut st = PostgresStore::connect(&format!(
            "{url}{sep}options=-c%20search_path%3D{}",
            s.schema
        ))
        .expect("open by URL");
        assert_eq!(st.queue_depth().expect("depth"), 1);
        assert_eq!(
            s.scalar("SELECT version FROM $S.blindmatch_schema"),
            SCHEMA_VERSION
        );
        drop(st);
        // A newer version is refused.
        s.admin
            .batch_execute(&format!(
                "UPDATE {}.blindmatch_schema SET version = 99",
                s.schema
            ))
            .expect("bump");
        assert!(matches!(s.try_open(), Err(StoreError::Version(99))));
        // So is an older one no migration starts from.
        s.admin
            .batch_execute(&format!(
                "UPDATE {}.blindmatch_schema SET version = 1",
                s.schema
            ))
            .expect("lower");
        assert!(matches!(s.try_open(), Err(StoreError::Version(1))));
    }

    #[test]
    fn processes_opening_at_once_migrate_once() {
        let Some(mut s) = Scratch::new("race") else {
            return;
        };
        let config = s.config.clone();
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let c = config.clone();
                std::thread::spawn(move || PostgresStore::with_config(c).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().expect("thread").expect("open");
        }
        assert_eq!(s.scalar("SELECT count(*) FROM $S.blindmatch_schema"), 1);
    }

    #[test]
    fn queue_claims_oldest_first_with_leases() {
        let Some(s) = Scratch::new("queue") else {
            return;
        };
        let mut st = s.open();
        st.enqueue("a", &[b"a1", b"a2", b"a3"], 1_000)
            .expect("enqueue");
        st.enqueue("b", &[b"b1", b"b2"], 2_000).expect("enqueue");
        st.enqueue("c", &[], 3_000).expect("enqueue nothing");
        assert_eq!(st.queue_depth().expect("depth"), 5);

        let first = st.claim(2, 10_000, 500).expect("claim");
        assert_eq!(first.len(), 2);
        assert!(first[0].id < first[1].id);
        assert_eq!(first[0].account, "a");
        assert_eq!(first[0].voucher, b"a1");
        assert_eq!(first[1].voucher, b"a2");
        assert_eq!(first[0].received_ms, 1_000);

        let rest = st.claim(10, 10_000, 500).expect("claim");
        let vouchers: Vec<&[u8]> = rest.iter().map(|q| &q.voucher[..]).collect();
        assert_eq!(vouchers, [&b"a3"[..], b"b1", b"b2"]);
        assert_eq!(rest[1].account, "b");
        assert_eq!(rest[1].received_ms, 2_000);
        // All leased until 10 500.
        assert!(st.claim(10, 10_499, 500).expect("claim").is_empty());
        // The lease expired: claimed again, oldest first.
        let again = st.claim(10, 10_500, 1_000).expect("claim");
        assert_eq!(again.len(), 5);
        assert_eq!(again[0].id, first[0].id);
        assert!(again.windows(2).all(|w| w[0].id < w[1].id));

        // Filing deletes the done entries (and nothing else).
        let done = [first[0].id, first[1].id];
        let filed = st.file(&params(), &CTX, &[], &done, 5).expect("file");
        assert_eq!(filed, Filed::default());
        assert_eq!(st.queue_depth().expect("depth"), 3);
        let left = st.claim(10, 20_000, 1).expect("claim");
        assert!(left.iter().all(|q| !done.contains(&q.id)));
        assert_eq!(st.claim(0, 30_000, 1).expect("claim none").len(), 0);
    }

    #[test]
    fn concurrent_claims_never_share_an_entry() {
        let Some(s) = Scratch::new("claims") else {
            return;
        };
        let mut st = s.open();
        let vouchers: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_le_bytes().to_vec()).collect();
        for chunk in vouchers.chunks(50) {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            st.enqueue("acct", &refs, 1).expect("enqueue");
        }
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = s.config.clone();
                std::thread::spawn(move || {
                    let mut st = PostgresStore::with_config(c).expect("open");
                    let mut got = Vec::new();
                    loop {
                        let batch = st.claim(7, 1_000, 1_000_000).expect("claim");
                        if batch.is_empty() {
                            break got;
                        }
                        got.extend(batch.iter().map(|q| q.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut claimers = 0;
        for h in handles {
            let got = h.join().expect("thread");
            claimers += usize::from(!got.is_empty());
            all.extend(got);
        }
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 600, "every entry claimed once");
        assert_eq!(distinct.len(), 600, "no entry claimed twice");
        assert!(claimers >= 1);
        assert_eq!(st.queue_depth().expect("depth"), 600);
    }

    #[test]
    fn filing_is_idempotent_and_keeps_arrival_order() {
        let Some(s) = Scratch::new("file") else {
            return;
        };
        let mut st = s.open();
        let p = params();
        let batch: Vec<OpenedVoucher> = [5u32, 3, 9, 1].iter().map(|n| rec(7, *n)).collect();
        let f = st
            .file(&p, &CTX, &tagged("a", &batch), &[], 100)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 4,
                dropped: 0,
                mismatched: 0
            }
        );
        let again = st
            .file(&p, &CTX, &tagged("a", &batch), &[], 200)
            .expect("refile");
        assert_eq!(again, Filed::default());
        // A later batch with a duplicate inside it and one already stored.
        let later = vec![rec(7, 2), rec(7, 2), rec(7, 9), rec(7, 4)];
        let f = st
            .file(&p, &CTX, &tagged("a", &later), &[], 300)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 2,
                dropped: 0,
                mismatched: 0
            }
        );

        let l = st.load("a", 7).expect("load").expect("window");
        let want: Vec<[u8; 32]> = [5u32, 3, 9, 1, 2, 4]
            .iter()
            .map(|n| *rec(7, *n).q())
            .collect();
        assert_eq!(qs(&l), want);
        let arrivals: Vec<u64> = l.records.iter().map(|s| s.arrival).collect();
        assert_eq!(arrivals, [100, 100, 100, 100, 300, 300]);
        assert!(l.records[0].record.to_bytes() == batch[0].to_bytes());
        assert_eq!(l.params.threshold(), p.threshold());
        assert_eq!(l.params.s_max(), p.s_max());
        assert_eq!(l.params.rate_range_ppm(), p.rate_range_ppm());
        assert_eq!(l.dropped, 0);
        assert!(l.reveal_keys.is_empty());
        assert_eq!(l.version, 2, "every filing that added a record counts");

        assert!(st.load("a", 8).expect("load").is_none());
        assert!(st.load("b", 7).expect("load").is_none());
        st.add_records("a", &[rec(2, 1), rec(11, 1)]);
        assert_eq!(st.windows("a").expect("windows"), [2, 7, 11]);
        assert!(st.windows("nobody").expect("windows").is_empty());
    }

    impl PostgresStore {
        fn add_records(&mut self, account: &str, recs: &[OpenedVoucher]) -> usize {
            let s: &mut dyn Store = self;
            s.add(account, &params(), &CTX, recs, 1).expect("add")
        }
    }

    #[test]
    fn capacity_drops_new_records_only() {
        let Some(s) = Scratch::new("capacity") else {
            return;
        };
        let mut st = s.open();
        let p = params();
        let cap = u32::try_from(DEFAULT_CAPACITY).expect("capacity");
        let head: Vec<OpenedVoucher> = (0..cap - 2).map(|n| rec(1, n)).collect();
        let f = st
            .file(&p, &CTX, &tagged("a", &head), &[], 1)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: head.len(),
                dropped: 0,
                mismatched: 0
            }
        );
        // 2 fit, 3 are dropped; the already stored ones are neither.
        let tail: Vec<OpenedVoucher> = (cap - 4..cap + 3).map(|n| rec(1, n)).collect();
        let f = st
            .file(&p, &CTX, &tagged("a", &tail), &[], 2)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 2,
                dropped: 3,
                mismatched: 0
            }
        );
        // Stored ones again: nothing; the dropped ones again: dropped again.
        let f = st
            .file(&p, &CTX, &tagged("a", &head[..10]), &[], 3)
            .expect("file");
        assert_eq!(f, Filed::default());
        let f = st
            .file(&p, &CTX, &tagged("a", &tail[4..]), &[], 3)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 0,
                dropped: 3,
                mismatched: 0
            }
        );
        let l = st.load("a", 1).expect("load").expect("window");
        assert_eq!(l.records.len(), DEFAULT_CAPACITY);
        assert_eq!(l.dropped, 6);
        assert_eq!(
            *l.records.last().expect("last").record.q(),
            *rec(1, cap - 1).q()
        );
        // Another window of the same account has its own capacity.
        let f = st
            .file(&p, &CTX, &tagged("a", &[rec(2, 0)]), &[], 4)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 1,
                dropped: 0,
                mismatched: 0
            }
        );
    }

    #[test]
    fn another_context_is_skipped_and_counted_never_an_error() {
        let Some(s) = Scratch::new("context") else {
            return;
        };
        let mut st = s.open();
        let p = params();
        st.file(&p, &CTX, &tagged("a", &[rec(1, 1)]), &[], 1)
            .expect("file");
        st.enqueue("a", &[b"x"], 1).expect("enqueue");
        let id = st.claim(1, 1, 1).expect("claim")[0].id;
        let mut mixed = tagged("b", &[rec(1, 2)]);
        mixed.extend(tagged("a", &[rec(1, 3)]));
        mixed.extend(tagged("c", &[rec(1, 4)]));
        let other = [8u8; 32];
        // "a" window 1 holds another context's records: its record is skipped and counted;
        // the rest of the batch is filed and the queue entry deleted (whether a voucher opened
        // must not decide a batch's fate).
        let f = st.file(&p, &other, &mixed, &[id], 2).expect("file");
        assert_eq!(
            f,
            Filed {
                added: 2,
                dropped: 0,
                mismatched: 1
            }
        );
        assert_eq!(st.windows("b").expect("windows"), [1]);
        assert_eq!(st.queue_depth().expect("depth"), 0);
        let l = st.load("a", 1).expect("load").expect("window");
        assert_eq!(l.records.len(), 1);
        assert_eq!(l.version, 1, "a skipped window is not changed");
        // A new window of the same account may be under another context.
        st.file(&p, &other, &tagged("a", &[rec(2, 1)]), &[], 4)
            .expect("file");
    }

    #[test]
    fn changed_and_evaluated_track_versions_and_merge_keys() {
        let Some(s) = Scratch::new("changed") else {
            return;
        };
        let mut st = s.open();
        let p = params();
        let mut batch = tagged("a", &[rec(1, 1), rec(1, 2)]);
        batch.extend(tagged("b", &[rec(2, 1)]));
        st.file(&p, &CTX, &batch, &[], 1).expect("file");
        let mut ch: Vec<(String, u64, i64)> = st
            .changed(10)
            .expect("changed")
            .into_iter()
            .map(|c| (c.account, c.window, c.version))
            .collect();
        ch.sort();
        assert_eq!(ch, [("a".into(), 1, 1), ("b".into(), 2, 1)]);
        assert_eq!(st.changed(1).expect("changed").len(), 1);

        let va = st.load("a", 1).expect("load").expect("a").version;
        st.evaluated("a", 1, va, &[], &EvaluationState::default())
            .expect("evaluated");
        let ch = st.changed(10).expect("changed");
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].account.as_str(), ch[0].window), ("b", 2));

        // A record filed after loading: changed again, even after evaluated at the old version.
        st.file(&p, &CTX, &tagged("a", &[rec(1, 3)]), &[], 2)
            .expect("file");
        st.evaluated("a", 1, va, &[], &EvaluationState::default())
            .expect("evaluated stale");
        let ch = st.changed(10).expect("changed");
        assert!(ch.iter().any(|c| c.account == "a" && c.version == va + 1));
        st.evaluated("a", 1, va + 1, &[], &EvaluationState::default())
            .expect("evaluated");
        // An older evaluation arriving late does not move the counter back.
        st.evaluated("a", 1, va, &[], &EvaluationState::default())
            .expect("evaluated late");
        assert!(
            st.changed(10)
                .expect("changed")
                .iter()
                .all(|c| c.account != "a")
        );

        // Reveal keys: a union, in first-seen order, never lost.
        let (k1, k2, k3) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        st.evaluated("b", 2, 1, &[k1], &EvaluationState::default())
            .expect("evaluated");
        st.evaluated("b", 2, 1, &[k2, k1], &EvaluationState::default())
            .expect("evaluated");
        st.evaluated("b", 2, 1, &[], &EvaluationState::default())
            .expect("evaluated");
        st.evaluated("b", 2, 1, &[k3], &EvaluationState::default())
            .expect("evaluated");
        let l = st.load("b", 2).expect("load").expect("b");
        assert_eq!(l.reveal_keys, [k1, k2, k3]);
        assert!(st.changed(10).expect("changed").is_empty());
        // A window that does not exist: nothing happens.
        st.evaluated("nobody", 1, 1, &[k1], &EvaluationState::default())
            .expect("evaluated nothing");
        assert!(st.windows("nobody").expect("windows").is_empty());
    }

    #[test]
    fn prune_keeps_revealed_and_current_windows() {
        let Some(s) = Scratch::new("prune") else {
            return;
        };
        let mut st = s.open();
        let p = params();
        let mut batch = tagged("a", &[rec(1, 1), rec(1, 2)]);
        batch.extend(tagged("a", &[rec(2, 1), rec(2, 2), rec(2, 3)]));
        batch.extend(tagged("a", &[rec(5, 1)]));
        batch.extend(tagged("b", &[rec(3, 1)]));
        st.file(&p, &CTX, &batch, &[], 1).expect("file");
        st.evaluated("a", 1, 1, &[[4u8; 32]], &EvaluationState::default())
            .expect("reveal window 1");
        assert_eq!(
            st.prune(5).expect("prune"),
            4,
            "a/2 (3 records) and b/3 (1)"
        );
        assert_eq!(st.windows("a").expect("windows"), [1, 5]);
        assert!(st.windows("b").expect("windows").is_empty());
        assert_eq!(
            st.load("a", 1).expect("load").expect("kept").records.len(),
            2
        );
        assert!(st.load("a", 2).expect("load").is_none());
        assert_eq!(st.prune(5).expect("prune again"), 0);
        // A pruned window starts afresh when filed again (under any context).
        let f = st
            .file(&p, &[1u8; 32], &tagged("b", &[rec(3, 1)]), &[], 2)
            .expect("file");
        assert_eq!(
            f,
            Filed {
                added: 1,
                dropped: 0,
                mismatched: 0
            }
        );
    }

    #[test]
    fn concurrent_filing_of_overlapping_batches_stores_each_record_once() {
        let Some(s) = Scratch::new("concurrent") else {
            return;
        };
        let _ = s.open();
        let accounts = ["a", "b", "c", "d", "e"];
        let handles: Vec<_> = (0..3u32)
            .map(|t| {
                let c = s.config.clone();
                std::thread::spawn(move || {
                    let mut st = PostgresStore::with_config(c).expect("open");
                    let mut added = 0;
                    for round in 0..20u32 {
                        // Every thread files the same records, in different orders.
                        let mut batch = Vec::new();
                        for (i, a) in accounts.iter().enumerate() {
                            let n = u32::try_from(i).expect("i") * 1000 + round;
                            batch.push((a.to_string(), rec(1, n)));
                            batch.push((a.to_string(), rec(2, n)));
                        }
                        if (t + round) % 2 == 1 {
                            batch.reverse();
                        }
                        added += st
                            .file(&params(), &CTX, &batch, &[], 1)
                            .expect("file")
                            .added;
                    }
                    added
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert_eq!(total, 5 * 2 * 20);
        let mut st = s.open();
        for a in accounts {
            let l = st.load(a, 1).expect("load").expect("window");
            assert_eq!(l.records.len(), 20);
            assert_eq!(l.version, 20, "one filing per round adds the record");
            let seqs: BTreeSet<[u8; 32]> = qs(&l).into_iter().collect();
            assert_eq!(seqs.len(), 20);
        }
    }

    #[test]
    fn dropping_on_an_async_thread_does_not_panic() {
        let Some(s) = Scratch::new("drop") else {
            return;
        };
        let st = s.open();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // The synchronous client would block on its own runtime inside this one.
        rt.block_on(async move { drop(st) });
    }

    #[test]
    fn errors_name_no_password_and_a_broken_connection_is_reopened() {
        let Some(mut s) = Scratch::new("errors") else {
            return;
        };
        // A wrong password: the error does not quote it.
        let mut bad = s.config.clone();
        bad.password("not-the-password-x7q");
        let Err(StoreError::Db(msg)) = PostgresStore::with_config(bad) else {
            panic!("a wrong password must fail");
        };
        assert!(!msg.contains("not-the-password-x7q"), "{msg}");
        assert!(msg.contains("28P01") || msg.contains("password"), "{msg}");
        // An unparsable URL quoting a password.
        let Err(StoreError::Db(msg)) =
            PostgresStore::connect("postgres://u:hunter2-secret@127.0.0.1:notaport/db")
        else {
            panic!("a bad URL must fail");
        };
        assert!(!msg.contains("hunter2-secret"), "{msg}");
        assert_eq!(password_of("postgres://u:p%40w@h:1/db?x=y"), Some("p%40w"));
        assert_eq!(password_of("postgres://u@h/db"), None);

        // Kill the store's server process: the next calls reconnect.
        let mut st = s.open();
        st.enqueue("a", &[b"v"], 1).expect("enqueue");
        let pid: i32 = st
            .conn
            .as_mut()
            .expect("conn")
            .client
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0);
        let killed: bool = s
            .admin
            .query_one("SELECT pg_terminate_backend($1)", &[&pid])
            .expect("terminate")
            .get(0);
        assert!(killed);
        let mut depth = None;
        for _ in 0..3 {
            if let Ok(d) = st.queue_depth() {
                depth = Some(d);
                break;
            }
        }
        assert_eq!(depth, Some(1));
        assert_eq!(s.scalar("SELECT count(*) FROM $S.queue"), 1);
    }
}
