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
    decode_records, split_keys, sql_u64,
};
use blindmatch_core::Params;
use blindmatch_core::server::OpenedVoucher;
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
const MIGRATIONS: &[(i64, i64, &str)] = &[(0, 4, SCHEMA_4)];

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
                r#"UPDATE accounts SET held = $3, dropped = dropped + $4, version = version + 1
                   WHERE account = $1 AND "window" = $2"#,
            )?,
            done: c.prepare("DELETE FROM queue WHERE id = ANY($1)")?,
            load_account: c.prepare(
                r#"SELECT threshold, s_max, rate_lo_ppm, rate_hi_ppm, reveal_keys, dropped, version
                   FROM accounts WHERE account = $1 AND "window" = $2"#,
            )?,
            load_records: c.prepare(
                r#"SELECT record, arrival FROM opened WHERE account = $1 AND "window" = $2
                   ORDER BY seq"#,
            )?,
            windows: c.prepare(
                r#"SELECT "window" FROM accounts WHERE account = $1 ORDER BY "window""#,
            )?,
            lock_keys: c.prepare(
                r#"SELECT reveal_keys FROM accounts WHERE account = $1 AND "window" = $2
                   FOR UPDATE"#,
            )?,
            set_evaluated: c.prepare(
                r#"UPDATE accounts SET evaluated = GREATEST(evaluated, $3), reveal_keys = $4,
                       revealed = $5
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
                // Dropping the transaction rolls the whole batch back.
                return Err(StoreError::ParamsMismatch);
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
    ) -> Result<(), StoreError> {
        let w = sql_u64(window)?;
        let Conn { client, st } = self.conn()?;
        let mut tx = client.transaction()?;
        let Some(row) = tx.query_opt(&st.lock_keys, &[&account, &w])? else {
            // No such window (pruned meanwhile): nothing to record.
            tx.commit()?;
            return Ok(());
        };
        let mut all = split_keys(row.get::<_, &[u8]>(0))?;
        for k in keys {
            if !all.contains(k) {
                all.push(*k);
            }
        }
        let blob = zeroize::Zeroizing::new(all.concat());
        let revealed = !blob.is_empty();
        tx.execute(
            &st.set_evaluated,
            &[&account, &w, &version, &&blob[..], &revealed],
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
