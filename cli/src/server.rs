//! The server's subcommands over the account store: open vouchers into (account, window)
//! accounts, show an account's state, and — only behind `--audit` — everything stored below
//! the threshold.

use crate::commands::{load_server_key, now_unix};
use crate::fail::{Context, Fail, Result};
use crate::files;
use crate::store::{self, Store, Stored};
use blindmatch_core::server::*;
use blindmatch_core::*;
use std::path::{Path, PathBuf};

/// `blindmatch server open` arguments.
#[derive(clap::Args)]
pub struct OpenArgs {
    /// The server's secret key file (mode 0600).
    #[arg(long)]
    server_key: PathBuf,
    /// The database the vouchers were made for.
    #[arg(long)]
    db: PathBuf,
    /// The account store: `sqlite:PATH` (or a bare path; created if missing) or
    /// `postgres://…`.
    #[arg(long)]
    store: String,
    /// The account the vouchers belong to (set by the messenger's authenticated front end;
    /// vouchers are bound to it).
    #[arg(long)]
    account: String,
    /// The server's time (Unix seconds) [default: now].
    #[arg(long)]
    now: Option<u64>,
    /// How long after a window closes its vouchers are still accepted (seconds).
    #[arg(long, default_value_t = 86_400)]
    grace: u64,
    /// Also show how many vouchers opened (below-threshold state).
    #[arg(long)]
    audit: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Voucher files.
    #[arg(required = true)]
    vouchers: Vec<PathBuf>,
}

/// The windows a server accepts at `now`: the current one, the next (a device clock within
/// the slack), and the previous one during the grace period; and the first window whose
/// below-threshold records are kept.
pub struct Accepting {
    pub current: u64,
    pub keep_from: u64,
}

impl Accepting {
    pub fn at(schedule: &Schedule, now: u64, grace: u64) -> Result<Accepting> {
        let current = schedule
            .window_at(now)
            .map_err(|_| Fail::msg("the server's time is outside the database's schedule"))?;
        let in_grace = now < schedule.start(current).saturating_add(grace);
        Ok(Accepting {
            current,
            keep_from: if in_grace {
                current.saturating_sub(1)
            } else {
                current
            },
        })
    }

    pub fn accepts(&self, w: u64) -> bool {
        w >= self.keep_from && w <= self.current + 1
    }
}

pub fn server_open(a: &OpenArgs) -> Result<()> {
    let key = load_server_key(&a.server_key)?;
    let db = Database::open(files::read(&a.db)?, &key.public(), None).at(&a.db)?;
    let opener = Opener::new(&key, db.manifest()).at(&a.server_key)?;
    let now = a.now.unwrap_or_else(now_unix);
    let accepting = Accepting::at(db.schedule(), now, a.grace)?;
    // Every voucher gets its own answer; none aborts the batch. An unreadable file is the
    // operator's problem (it names the path); a voucher is the sender's, and what happens to
    // it never depends on the list beyond "opened or not", which only --audit shows.
    let bytes: Vec<Vec<u8>> = a
        .vouchers
        .iter()
        .map(|p| files::read(p))
        .collect::<Result<_>>()?;
    // Vouchers for windows not accepted now (early, late, or outside the schedule) are counted
    // and not opened.
    let (current, late): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = bytes
        .iter()
        .partition(|v| VoucherHeader::peek(v).map_or(true, |h| accepting.accepts(h.window)));
    let late = late.len();
    let results = opener.open_batch(&current, a.account.as_bytes());
    let mut opened = Vec::new();
    let (mut no_match, mut refused) = (0, 0);
    for r in results {
        match r {
            Ok(OpenOutcome::Opened(rec)) => opened.push(rec),
            Ok(OpenOutcome::NoMatch) => no_match += 1,
            // Structural: a malformed voucher or another epoch. These depend on the voucher's
            // bytes only.
            Err(_) => refused += 1,
        }
    }
    let malformed = opener.malformed();
    let mut store = open_store(&a.store)?;
    let tagged: Vec<(String, OpenedVoucher)> = opened
        .iter()
        .map(|r| (a.account.clone(), r.clone()))
        .collect();
    let filed = store
        .file(db.params(), &db.context(), &tagged, &[], now)
        .map_err(|e| store_fail(&a.store, e))?;
    let added = filed.added;
    let mut windows: Vec<u64> = opened.iter().map(OpenedVoucher::window).collect();
    windows.sort_unstable();
    windows.dedup();
    for w in windows {
        evaluate(store.as_mut(), &a.account, w).map_err(|e| store_fail(&a.store, e))?;
    }
    let pruned = store
        .prune(accepting.keep_from)
        .map_err(|e| store_fail(&a.store, e))?;
    let n = a.vouchers.len();
    match (a.json, a.audit) {
        (true, true) => println!(
            "{}",
            serde_json::json!({"vouchers": n, "opened": opened.len(), "new": added, "dropped": filed.dropped, "other_database": filed.mismatched, "no_match": no_match, "malformed_inner": malformed, "refused": refused, "late": late, "pruned": pruned})
        ),
        (true, false) => println!(
            "{}",
            serde_json::json!({"vouchers": n, "refused": refused, "late": late, "pruned": pruned})
        ),
        (false, true) => println!(
            "{n} vouchers: {} opened ({added} new, {} dropped at capacity, {} of another database's window), {no_match} not opened (of which {malformed} with a broken inner layer), {refused} refused as malformed, {late} outside the accepted windows; {pruned} records of closed windows deleted",
            opened.len(),
            filed.dropped,
            filed.mismatched
        ),
        (false, false) => println!(
            "{n} vouchers filed ({refused} refused as malformed, {late} outside the accepted windows); {pruned} records of closed windows deleted"
        ),
    }
    Ok(())
}

/// An account's window as the server sees it: evaluated with the reveal keys kept from
/// earlier reveals; a new reveal's keys are stored, so it stays revealed.
pub struct Evaluated {
    /// The outcome (over capacity when records were dropped and nothing revealed).
    pub outcome: Outcome,
    /// Whether this evaluation found a reveal key the store did not have.
    pub new_key: bool,
}

/// Evaluate an (account, window) from the store and record the evaluation (with any new reveal
/// keys). `None` if the store has no such window.
pub fn evaluate(
    store: &mut dyn Store,
    account: &str,
    window: u64,
) -> std::result::Result<Option<Evaluated>, store::StoreError> {
    evaluate_cached(store, account, window, None, true)
}

/// [`evaluate`] without recording anything in the store (for reads: `server status`, the
/// operator API), so that a read never moves the processing's checkpoints. A reveal a read
/// finds is found again, and stored, by the next processing evaluation.
pub fn evaluate_read_only(
    store: &mut dyn Store,
    account: &str,
    window: u64,
) -> std::result::Result<Option<Evaluated>, store::StoreError> {
    evaluate_cached(store, account, window, None, false)
}

/// Accounts a long-running evaluator keeps in memory, so that evaluating an account again
/// only inserts the records that arrived since (one elimination step each) instead of
/// rebuilding it. The store stays the truth: records are always loaded from it, and a cached
/// account is used only while its records are a prefix of the stored ones. Bounded by the
/// bytes its accounts' records take (not their number: one account at capacity with 64 KiB
/// associated data holds ≈ 270 MB).
pub struct AccountCache {
    accounts: std::collections::HashMap<(String, u64), (Account, usize)>,
    order: std::collections::VecDeque<(String, u64)>,
    bytes: usize,
    budget: usize,
}

/// The bytes an account's records take (approximately).
fn account_bytes(acc: &Account) -> usize {
    acc.records()
        .map(|r| 128 + r.id().len() + r.adct_bytes().len() + 8 * r.dhf_len())
        .sum()
}

impl AccountCache {
    /// A cache of accounts whose records take at most `budget` bytes (least recently
    /// inserted evicted first; an account larger than the budget is not kept).
    pub fn new(budget: usize) -> AccountCache {
        AccountCache {
            accounts: std::collections::HashMap::new(),
            order: std::collections::VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    fn take(&mut self, key: &(String, u64)) -> Option<Account> {
        let (acc, bytes) = self.accounts.remove(key)?;
        self.bytes -= bytes;
        Some(acc)
    }

    fn put(&mut self, key: (String, u64), acc: Account) {
        let bytes = account_bytes(&acc);
        if bytes > self.budget {
            return;
        }
        if let Some((_, old)) = self.accounts.remove(&key) {
            self.bytes -= old;
        } else {
            self.order.push_back(key.clone());
        }
        self.accounts.insert(key, (acc, bytes));
        self.bytes += bytes;
        while self.bytes > self.budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, b)) = self.accounts.remove(&old) {
                self.bytes -= b;
            }
        }
        if self.order.len() > 2 * self.accounts.len() + 16 {
            let live = &self.accounts;
            self.order.retain(|k| live.contains_key(k));
        }
    }
}

/// The account for `loaded`: the cached one brought up to date when its records are a prefix
/// of the stored ones, else one built from the records.
fn account_for(
    cached: Option<Account>,
    loaded: store::Loaded,
    window: u64,
) -> std::result::Result<Account, store::StoreError> {
    let corrupt = |e: Error| store::StoreError::Corrupt(e.to_string());
    let records: Vec<OpenedVoucher> = loaded.records.into_iter().map(|s| s.record).collect();
    let reusable = cached.filter(|a| {
        a.params() == &loaded.params
            && a.opened() <= records.len()
            && a.records().zip(&records).all(|(x, y)| x.q() == y.q())
    });
    let mut acc = match reusable {
        Some(mut a) => {
            let held = a.opened();
            for r in records.into_iter().skip(held) {
                a.insert(r).map_err(corrupt)?;
            }
            a
        }
        None => Account::with_records(loaded.params, window, records).map_err(corrupt)?,
    };
    for k in &loaded.reveal_keys {
        acc.add_reveal_key(RevealKey::from_bytes(k));
    }
    let (mine, stored) = (acc.evaluation_state(), loaded.state);
    acc.set_evaluation_state(EvaluationState {
        next_checkpoint: mine.next_checkpoint.max(stored.next_checkpoint),
        beyond_limit: mine.beyond_limit || stored.beyond_limit,
        group_cursor: mine.group_cursor.max(stored.group_cursor),
    });
    Ok(acc)
}

/// [`evaluate`], keeping the account in `cache` for the next evaluation.
pub fn evaluate_cached(
    store: &mut dyn Store,
    account: &str,
    window: u64,
    mut cache: Option<&mut AccountCache>,
    record: bool,
) -> std::result::Result<Option<Evaluated>, store::StoreError> {
    let Some(loaded) = store.load(account, window)? else {
        return Ok(None);
    };
    let key = (account.to_string(), window);
    let cached = cache.as_deref_mut().and_then(|c| c.take(&key));
    let (version, dropped, had) = (loaded.version, loaded.dropped, loaded.reveal_keys.len());
    let mut acc = account_for(cached, loaded, window)?;
    let outcome = acc.evaluate();
    let keys: Vec<zeroize::Zeroizing<[u8; 32]>> =
        acc.reveal_keys().iter().map(RevealKey::to_bytes).collect();
    let keys: zeroize::Zeroizing<Vec<[u8; 32]>> =
        zeroize::Zeroizing::new(keys.iter().map(|k| **k).collect());
    if record {
        store.evaluated(account, window, version, &keys, &acc.evaluation_state())?;
    }
    let new_key = keys.len() > had;
    if let Some(c) = cache {
        c.put(key, acc);
    }
    let outcome = match outcome {
        Outcome::BelowThreshold { opened } if dropped > 0 => {
            Outcome::OverCapacity { opened, dropped }
        }
        o => o,
    };
    Ok(Some(Evaluated { outcome, new_key }))
}

/// Open a store named on the command line.
pub fn open_store(spec: &str) -> Result<Box<dyn Store>> {
    store::open(spec).map_err(|e| store_fail(spec, e))
}

/// A store error, naming the store.
pub fn store_fail(spec: &str, e: store::StoreError) -> Fail {
    Fail::at(Path::new(&redact(spec)), e)
}

/// A store spec with any password removed (`postgres://user:secret@host/db` →
/// `postgres://user@host/db`).
pub fn redact(spec: &str) -> String {
    match (spec.find("://"), spec.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let auth = &spec[scheme + 3..at];
            let user = auth.split(':').next().unwrap_or("");
            format!("{}{user}{}", &spec[..scheme + 3], &spec[at..])
        }
        _ => spec.to_string(),
    }
}

/// The windows to show: the one asked for, or every window the account has.
fn windows_of(
    store: &mut dyn Store,
    spec: &str,
    account: &str,
    w: Option<u64>,
) -> Result<Vec<u64>> {
    let all = store.windows(account).map_err(|e| store_fail(spec, e))?;
    if all.is_empty() {
        return Err(Fail::at(
            Path::new(&redact(spec)),
            "no such account in this store",
        ));
    }
    Ok(match w {
        Some(w) => vec![w],
        None => all,
    })
}

/// The account (and optionally one window) a query is about, and how to print it.
#[derive(clap::Args)]
pub struct AccountQuery {
    /// The account store: `sqlite:PATH` (or a bare path) or `postgres://…`.
    #[arg(long)]
    store: String,
    /// The account.
    #[arg(long)]
    account: String,
    /// One window [default: every window the account has records in].
    #[arg(long)]
    window: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `blindmatch server status` arguments.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    q: AccountQuery,
    /// Also show below-threshold state (opened counts). Off by default: what a server
    /// stores below the threshold is shown only behind this switch.
    #[arg(long)]
    audit: bool,
}

pub fn server_status(a: &StatusArgs) -> Result<()> {
    let mut store = open_store(&a.q.store)?;
    let mut out = Vec::new();
    for w in windows_of(store.as_mut(), &a.q.store, &a.q.account, a.q.window)? {
        let outcome = evaluate_read_only(store.as_mut(), &a.q.account, w)
            .map_err(|e| store_fail(&a.q.store, e))?
            .ok_or_else(|| Fail::msg("no such account and window in this store"))?
            .outcome;
        if a.q.json {
            out.push(status_json(w, &outcome, a.audit));
            continue;
        }
        match &outcome {
            Outcome::BelowThreshold { opened } if a.audit => {
                println!(
                    "window {w}: below threshold: {opened} opened vouchers; nothing is revealed"
                )
            }
            Outcome::BelowThreshold { .. } => {
                println!("window {w}: below threshold; nothing is revealed")
            }
            // Over capacity and undecodable say a device misbehaves (an honest device does not
            // get there), so the states are shown without --audit; counts only with it.
            Outcome::OverCapacity { dropped, .. } if a.audit => println!(
                "window {w}: over capacity: {dropped} opened vouchers beyond the account's capacity were dropped (a misbehaving device); nothing is revealed"
            ),
            Outcome::OverCapacity { .. } => {
                println!("window {w}: over capacity (a misbehaving device); nothing is revealed")
            }
            Outcome::Undecodable { .. } => println!(
                "window {w}: undecodable: more synthetic records than the decode limit (a misbehaving device, or an extreme volume); nothing is revealed"
            ),
            Outcome::Revealed {
                real,
                synthetic,
                rejected,
            } => {
                println!(
                    "window {w}: threshold reached: {} real matches, {} synthetic vouchers, {} rejected records",
                    real.len(),
                    synthetic.len(),
                    rejected.len()
                );
                print_matches(real, synthetic, rejected);
            }
        }
    }
    if a.q.json {
        println!(
            "{}",
            serde_json::json!({"account": a.q.account, "windows": out})
        );
    }
    Ok(())
}

/// Device-controlled bytes shown as text: printable ASCII as is, everything else escaped.
pub fn shown(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

pub fn status_json(window: u64, outcome: &Outcome, audit: bool) -> serde_json::Value {
    match outcome {
        Outcome::BelowThreshold { opened } if audit => {
            serde_json::json!({"window": window, "state": "below_threshold", "opened": opened})
        }
        Outcome::BelowThreshold { .. } => {
            serde_json::json!({"window": window, "state": "below_threshold"})
        }
        Outcome::OverCapacity { dropped, .. } if audit => {
            serde_json::json!({"window": window, "state": "over_capacity", "dropped": dropped})
        }
        Outcome::OverCapacity { .. } => {
            serde_json::json!({"window": window, "state": "over_capacity"})
        }
        Outcome::Undecodable { .. } => {
            serde_json::json!({"window": window, "state": "undecodable"})
        }
        Outcome::Revealed {
            real,
            synthetic,
            rejected,
        } => serde_json::json!({
            "window": window,
            "state": "revealed",
            "real": real.iter().map(|m| serde_json::json!({"id": shown(&m.id), "ad": shown(&m.ad), "id_hex": hex::encode(&m.id), "ad_hex": hex::encode(&m.ad)})).collect::<Vec<_>>(),
            "synthetic": synthetic.iter().map(|i| shown(i)).collect::<Vec<_>>(),
            "synthetic_hex": synthetic.iter().map(hex::encode).collect::<Vec<_>>(),
            "rejected_hex": rejected.iter().map(hex::encode).collect::<Vec<_>>(),
        }),
    }
}

/// The revealed matches, synthetic and rejected ids, one per line (device bytes escaped).
pub fn print_matches(real: &[RevealedMatch], synthetic: &[Vec<u8>], rejected: &[Vec<u8>]) {
    for m in real {
        println!("  match      {:<14} {}", shown(&m.id), shown(&m.ad));
    }
    for s in synthetic {
        println!("  synthetic  {}", shown(s));
    }
    for s in rejected {
        println!("  rejected   {}", shown(s));
    }
}

/// `blindmatch server records` arguments.
#[derive(clap::Args)]
pub struct RecordsArgs {
    /// Required: this shows everything stored below the threshold.
    #[arg(long)]
    audit: bool,
    #[command(flatten)]
    q: AccountQuery,
}

pub fn server_records(a: &RecordsArgs) -> Result<()> {
    if !a.audit {
        return Err(Fail::msg(
            "server records shows below-threshold state; it needs the explicit --audit switch",
        ));
    }
    let mut store = open_store(&a.q.store)?;
    let mut rows = Vec::new();
    for w in windows_of(store.as_mut(), &a.q.store, &a.q.account, a.q.window)? {
        if let Some(loaded) = store
            .load(&a.q.account, w)
            .map_err(|e| store_fail(&a.q.store, e))?
        {
            rows.extend(loaded.records);
        }
    }
    if a.q.json {
        let list: Vec<_> = rows.iter().map(record_json).collect();
        let v = serde_json::json!({"account": a.q.account, "records": list});
        println!("{}", serde_json::to_string_pretty(&v).what("json")?);
    } else {
        for s in &rows {
            println!(
                "window {:>5}  arrival {}  x0 {:016x}  id {}",
                s.record.window(),
                s.arrival,
                s.record.x0(),
                shown(s.record.id())
            );
        }
        println!("{} records", rows.len());
    }
    Ok(())
}

fn record_json(s: &Stored) -> serde_json::Value {
    serde_json::json!({
        "id": shown(s.record.id()),
        "id_hex": hex::encode(s.record.id()),
        "x0": format!("{:016x}", s.record.x0()),
        "window": s.record.window(),
        "arrival": s.arrival,
    })
}
