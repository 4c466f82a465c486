//! `blindmatch loadgen`: pre-generated vouchers for many accounts sent to a running
//! `blindmatch serve` over HTTP (throughput and latency), then the end state checked against
//! what was sent.
//!
//! Three steps. (a) Before any timing, every account gets a fresh client key and K vouchers
//! made the way an app makes them ([`Client::voucher`], real or synthetic by the account's
//! secret rate); listed accounts send M items from `--list` among them. The device's own
//! decisions ([`is_synthetic`]) give the expected end state: an account reveals iff it sent at
//! least T distinct listed items as real vouchers, and then the revealed real ids are exactly
//! those of its real listed vouchers and the synthetic ids those of its synthetic vouchers.
//! (b) C threads, each on its own keep-alive connection, post batches of up to B vouchers of
//! one account, retrying 429/503 after `Retry-After`. (c) The operator metrics are polled until
//! the queue is drained, then every account's reveals are compared with the expectation.
//!
//! Assumes the database was built from `--list` alone with `--min-sources 1` (every hash on
//! the list is in the database), and a server that has not seen these account ids with other
//! client keys in the same window (use a fresh `--account-prefix` against a used store).

use crate::commands::{load_server_pub, now_unix};
use crate::fail::{Context, Fail, Result};
use crate::files;
use crate::httpc::{self, Conn, Response};
use blindmatch_core::device::{Client, DevicePolicy};
use blindmatch_core::research::is_synthetic;
use blindmatch_core::server::DEFAULT_CAPACITY;
use blindmatch_core::{ClientKey, Database, HashKind, MediaHash, parse_hash_list};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `blindmatch loadgen` arguments.
#[derive(clap::Args)]
pub struct LoadgenArgs {
    /// Intake base URL of the running server (`http://HOST:PORT`; a path prefix is kept).
    #[arg(long)]
    url: String,
    /// Operator API base URL (metrics and reveals); required unless --no-check.
    #[arg(long, required_unless_present = "no_check")]
    operator_url: Option<String>,
    /// Bearer token for the operator API.
    #[arg(long)]
    token: Option<String>,
    /// The blinded database the server serves.
    #[arg(long)]
    db: PathBuf,
    /// The pinned server public key file.
    #[arg(long)]
    server_pub: PathBuf,
    /// The hash list the database was built from: one `kind:hex`, `kind,hex` or bare hex
    /// (of --kind) per line; `#` comments.
    #[arg(long)]
    list: PathBuf,
    /// Kind of bare hex lines in --list, and of the random unlisted items.
    #[arg(long, default_value = "sha256")]
    kind: String,
    /// Accounts (ids `PREFIX-00000`, `PREFIX-00001`, …).
    #[arg(long, default_value_t = 100)]
    accounts: usize,
    /// Vouchers per account (K), all in the window of --now.
    #[arg(long, default_value_t = 100)]
    per_account: usize,
    /// Fraction of the accounts that send listed items.
    #[arg(long, default_value_t = 0.1)]
    listed_share: f64,
    /// Distinct listed items per listed account (M ≤ K) [default: the database's T + 5].
    #[arg(long)]
    matches: Option<usize>,
    /// Sender threads, each with its own keep-alive connection.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Vouchers per request (one account's, at most 1024).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// The time the vouchers are made at (Unix seconds) [default: now].
    #[arg(long)]
    now: Option<u64>,
    /// Accept any valid database (small T, no synthetic vouchers): for test databases only.
    /// Otherwise the app's default policy, with the root unpinned.
    #[arg(long)]
    insecure_test_policy: bool,
    /// Seed for the accounts' keys and items (runs are reproducible) [default: random,
    /// printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Prefix of the account ids (use a fresh one to rerun against the same store).
    #[arg(long, default_value = "acct")]
    account_prefix: String,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// How long to wait for the server's queue to drain after the last send (seconds).
    #[arg(long, default_value_t = 120)]
    settle_secs: u64,
    /// Only send: skip the drain wait and the reveal check.
    #[arg(long)]
    no_check: bool,
    /// Send at most this many vouchers per second in total (paced per batch) [default: as
    /// fast as the connections go]; for latency at a chosen load.
    #[arg(long)]
    rate: Option<f64>,
    /// The server may be restarted during the run (soak and crash tests): connection errors are
    /// retried, and drained means an empty queue however the restarted server's counters read.
    #[arg(long)]
    restarts: bool,
    /// The server's secret key: when given, also measure opening the pre-generated vouchers
    /// in this process on all cores (`open_batch`), for a throughput to compare with.
    #[arg(long)]
    server_key: Option<std::path::PathBuf>,
}

/// Attempts of one batch answered 429/503 before it counts as an error.
const MAX_RETRIES: u32 = 100;
/// The intake's limit on frames per request.
const MAX_FRAMES: usize = 1024;
/// Interval between metrics polls.
const POLL: Duration = Duration::from_millis(100);
/// How long accounts that differ from the expectation are fetched again after the drain
/// (account evaluation may trail the queue).
const RECHECK: Duration = Duration::from_secs(10);
/// Mismatch messages kept in the report.
const MAX_MESSAGES: usize = 20;
/// The gauge and counter read from `/metrics`.
const QUEUE_DEPTH: &str = "blindmatch_queue_depth";
const RECEIVED: &str = "blindmatch_vouchers_received_total";

pub fn run(a: &LoadgenArgs) -> Result<()> {
    let setup = Setup::load(a)?;
    let intake = Target::parse(&a.url, "--url")?;
    let operator = match (&a.operator_url, a.no_check) {
        (Some(u), false) => Some(Operator::new(Target::parse(u, "--operator-url")?, a)),
        _ => None,
    };
    note(
        a,
        &format!("pre-generating {} vouchers…", a.accounts * a.per_account),
    );
    let t = Instant::now();
    let plans = pregenerate(a, &setup)?;
    let pregen_secs = t.elapsed().as_secs_f64();
    let open_batch = match &a.server_key {
        Some(path) => Some(open_batch_rate(path, &setup, &plans)?),
        None => None,
    };
    let baseline = operator.as_ref().map(Operator::metrics).transpose()?;
    note(a, "sending…");
    let sent = send(a, &plans, &intake);
    let drain = match (&operator, baseline) {
        (Some(op), Some(base)) => Some(op.settle(&sent, base, a.settle_secs)?),
        _ => None,
    };
    let check = match (&operator, &drain) {
        (Some(op), Some(d)) => Some(op.check(&plans, setup.window, d.deadline)?),
        _ => None,
    };
    let mut report = Report::new(a, &setup, &plans, pregen_secs, sent, drain, check);
    report.open_batch_vouchers_per_sec = open_batch;
    report.print(a.json)?;
    report.verdict()
}

/// Vouchers per second `Opener::open_batch` opens on all cores, over the pre-generated
/// vouchers (per account, as the server files them; best of three passes).
fn open_batch_rate(path: &std::path::Path, s: &Setup, plans: &[AccountPlan]) -> Result<f64> {
    let key = crate::commands::load_server_key(path)?;
    let opener = blindmatch_core::server::Opener::new(&key, s.db.manifest()).at(path)?;
    let n: usize = plans.iter().map(|p| p.vouchers.len()).sum();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for p in plans {
            std::hint::black_box(opener.open_batch(&p.vouchers, p.name.as_bytes()));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(n as f64 / best.max(1e-9))
}

/// A progress line on stderr (not in JSON mode).
fn note(a: &LoadgenArgs, msg: &str) {
    if !a.json {
        eprintln!("loadgen: {msg}");
    }
}

/// A failure of the run itself (exit code 1), not of its input.
fn failed(msg: impl Into<String>) -> Fail {
    let mut f = Fail::msg(msg);
    f.code = 1;
    f
}

// ---------------------------------------------------------------------------------------
// (a) Pre-generation and the expectation.

/// The database, the device policy, the listed hashes and the run's window.
struct Setup {
    db: Arc<Database>,
    policy: DevicePolicy,
    listed: Vec<MediaHash>,
    kind: HashKind,
    now: u64,
    window: u64,
    threshold: usize,
    s_max: usize,
    matches: usize,
    listed_accounts: usize,
    seed: u64,
}

impl Setup {
    fn load(a: &LoadgenArgs) -> Result<Setup> {
        let pk = load_server_pub(&a.server_pub)?;
        let db = Arc::new(Database::open(files::read(&a.db)?, &pk, None).at(&a.db)?);
        let kind = HashKind::from_name(&a.kind).what("--kind")?;
        let listed = read_list(a, kind)?;
        let now = a.now.unwrap_or_else(now_unix);
        let window = db.schedule().window_at(now).what("--now")?;
        let threshold = db.params().threshold() as usize;
        let matches = a.matches.unwrap_or(threshold + 5);
        let policy = if a.insecure_test_policy {
            DevicePolicy::permissive_for_tests()
        } else {
            DevicePolicy::default().allow_unpinned_database()
        };
        let setup = Setup {
            policy,
            s_max: db.params().s_max() as usize,
            db,
            listed,
            kind,
            now,
            window,
            threshold,
            matches,
            listed_accounts: listed_accounts(a.accounts, a.listed_share)?,
            seed: a.seed.unwrap_or_else(rand::random),
        };
        setup.validate(a)?;
        Ok(setup)
    }

    fn validate(&self, a: &LoadgenArgs) -> Result<()> {
        if a.accounts == 0 || a.per_account == 0 {
            return Err(Fail::msg("--accounts and --per-account must be at least 1"));
        }
        if a.connections == 0 || a.batch == 0 || a.batch > MAX_FRAMES {
            return Err(Fail::msg(format!(
                "--connections must be ≥ 1 and --batch 1–{MAX_FRAMES}"
            )));
        }
        if self.listed_accounts > 0 && self.matches > a.per_account {
            return Err(Fail::msg(format!(
                "--matches {} exceeds --per-account {}",
                self.matches, a.per_account
            )));
        }
        if self.listed_accounts > 0 && self.matches > self.listed.len() {
            return Err(Fail::at(
                &a.list,
                format!(
                    "{} distinct hashes, fewer than --matches {}",
                    self.listed.len(),
                    self.matches
                ),
            ));
        }
        Ok(())
    }
}

/// How many of `accounts` send listed items.
fn listed_accounts(accounts: usize, share: f64) -> Result<usize> {
    if !(0.0..=1.0).contains(&share) {
        return Err(Fail::msg("--listed-share: expected a fraction in [0, 1]"));
    }
    Ok((accounts as f64 * share).round() as usize)
}

/// The list's distinct hashes, in order.
fn read_list(a: &LoadgenArgs, kind: HashKind) -> Result<Vec<MediaHash>> {
    let text = String::from_utf8(files::read(&a.list)?)
        .map_err(|_| Fail::at(&a.list, "not UTF-8 text"))?;
    let hashes = parse_hash_list(&typed_to_csv(&text), Some(kind)).at(&a.list)?;
    let mut seen = BTreeSet::new();
    Ok(hashes
        .into_iter()
        .filter(|h| seen.insert(h.encode()))
        .collect())
}

/// Rewrite `kind:hex` lines as `kind,hex`, which the hash-list parser reads (line numbers
/// stay as they were).
fn typed_to_csv(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.split_once(':') {
            Some((k, rest)) if HashKind::from_name(k.trim()).is_ok() => {
                out.push_str(k);
                out.push(',');
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One item an account sends, and what only the device knows about it.
struct Item {
    hash: MediaHash,
    id: String,
    ad: String,
    listed: bool,
    synthetic: bool,
}

/// Whether an account is expected to reveal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reveal {
    Yes,
    No,
    /// More synthetic records than s_max (a reveal then depends on decoding checkpoints) or
    /// over the account capacity: not checked either way; a reveal is still checked.
    Uncertain,
}

/// The end state an account should reach.
#[derive(Debug, PartialEq)]
struct Expect {
    reveal: Reveal,
    /// Distinct listed items sent as real vouchers.
    real_listed: usize,
    /// id_hex → ad_hex of the real listed vouchers.
    real: BTreeMap<String, String>,
    /// id_hex of the synthetic vouchers.
    synthetic: BTreeSet<String>,
    /// Vouchers whose outer layer opens (real listed and synthetic alike).
    opens: usize,
}

/// The expectation for an account's items under threshold `t` and `s_max`.
fn expect(items: &[Item], t: usize, s_max: usize) -> Expect {
    let real_items: Vec<&Item> = items.iter().filter(|i| i.listed && !i.synthetic).collect();
    let distinct: BTreeSet<Vec<u8>> = real_items.iter().map(|i| i.hash.encode()).collect();
    let synthetic: BTreeSet<String> = items
        .iter()
        .filter(|i| i.synthetic)
        .map(|i| hex::encode(&i.id))
        .collect();
    let opened = real_items.len() + synthetic.len();
    let reveal = if synthetic.len() > s_max || opened > DEFAULT_CAPACITY {
        Reveal::Uncertain
    } else if distinct.len() >= t {
        Reveal::Yes
    } else {
        Reveal::No
    };
    Expect {
        reveal,
        real_listed: distinct.len(),
        real: real_items
            .iter()
            .map(|i| (hex::encode(&i.id), hex::encode(&i.ad)))
            .collect(),
        synthetic,
        opens: opened,
    }
}

/// An account: its id, its vouchers in sending order and the expected end state.
struct AccountPlan {
    name: String,
    vouchers: Vec<Vec<u8>>,
    expect: Expect,
}

/// Every account's vouchers (in parallel), from per-account seeds drawn from the run's seed.
fn pregenerate(a: &LoadgenArgs, s: &Setup) -> Result<Vec<AccountPlan>> {
    let mut rng = ChaCha20Rng::seed_from_u64(s.seed);
    let listed: BTreeSet<usize> = rand::seq::index::sample(&mut rng, a.accounts, s.listed_accounts)
        .into_iter()
        .collect();
    let seeds: Vec<(usize, u64)> = (0..a.accounts).map(|i| (i, rng.next_u64())).collect();
    seeds
        .into_par_iter()
        .map(|(i, seed)| {
            let name = format!("{}-{i:05}", a.account_prefix);
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let m = if listed.contains(&i) { s.matches } else { 0 };
            account_plan(s, name, a.per_account, m, &mut rng)
        })
        .collect()
}

/// One account: a client key from `rng`, `k` items of which `m` are listed, at random
/// positions.
fn account_plan(
    s: &Setup,
    name: String,
    k: usize,
    m: usize,
    rng: &mut ChaCha20Rng,
) -> Result<AccountPlan> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let key = ClientKey::import(&[b"BMCK\x01\x00".as_slice(), &seed].concat()).what("key")?;
    let client = Client::new(s.db.clone(), &key, name.as_bytes(), &s.policy).map_err(|e| {
        Fail::msg(format!(
            "--db: {e} (a test database needs --insecure-test-policy)"
        ))
    })?;
    let items = items(s, &name, k, m, rng)?;
    let mut vouchers = Vec::with_capacity(items.len());
    let mut known = Vec::with_capacity(items.len());
    for mut item in items {
        let v = client
            .voucher(&item.hash, item.id.as_bytes(), item.ad.as_bytes(), s.now)
            .map_err(|e| Fail::msg(format!("voucher for {name} {}: {e}", item.id)))?;
        item.synthetic = is_synthetic(&client, &item.hash, s.window);
        vouchers.push(v);
        known.push(item);
    }
    Ok(AccountPlan {
        expect: expect(&known, s.threshold, s.s_max),
        name,
        vouchers,
    })
}

/// K items: `m` distinct listed hashes at random positions, random unlisted hashes elsewhere.
fn items(s: &Setup, name: &str, k: usize, m: usize, rng: &mut ChaCha20Rng) -> Result<Vec<Item>> {
    let mut picks = rand::seq::index::sample(rng, s.listed.len(), m).into_iter();
    let positions: BTreeSet<usize> = rand::seq::index::sample(rng, k, m).into_iter().collect();
    (0..k)
        .map(|i| {
            let listed = positions.contains(&i);
            let pick = if listed { picks.next() } else { None };
            let hash = match pick {
                Some(p) => s.listed[p].clone(),
                None => random_hash(s.kind, rng)?,
            };
            Ok(Item {
                hash,
                id: format!("item-{i:06}"),
                ad: format!("{name} item {i}"),
                listed,
                synthetic: false,
            })
        })
        .collect()
}

fn random_hash(kind: HashKind, rng: &mut ChaCha20Rng) -> Result<MediaHash> {
    let mut b = vec![0u8; kind.len()];
    rng.fill_bytes(&mut b);
    MediaHash::new(kind, &b).what("random hash")
}

// ---------------------------------------------------------------------------------------
// (b) Sending.

/// A server address and path prefix.
struct Target {
    authority: String,
    prefix: String,
}

impl Target {
    fn parse(url: &str, flag: &str) -> Result<Target> {
        let (authority, prefix) = httpc::split_url(url).what(flag)?;
        Ok(Target { authority, prefix })
    }

    fn account_path(&self, account: &str, tail: &str) -> String {
        let enc = httpc::percent_encode(account.as_bytes());
        format!("{}/v1/accounts/{enc}/{tail}", self.prefix)
    }
}

/// Up to B vouchers of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Batch {
    account: usize,
    range: Range<usize>,
}

/// Batches of up to `b` vouchers for accounts holding `counts` vouchers, round-robin over the
/// accounts (every account's first batch, then every second one, …) so that accounts advance
/// together, as many devices would.
fn batches(counts: &[usize], b: usize) -> Vec<Batch> {
    let rounds = counts.iter().map(|c| c.div_ceil(b)).max().unwrap_or(0);
    let mut out = Vec::new();
    for r in 0..rounds {
        for (account, &c) in counts.iter().enumerate() {
            let start = r * b;
            if start < c {
                out.push(Batch {
                    account,
                    range: start..c.min(start + b),
                });
            }
        }
    }
    out
}

/// What the senders saw.
#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    requests: u64,
    retries: u64,
    accepted: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    wall_secs: f64,
    first_send: Option<Instant>,
    last_send: Option<Instant>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.latencies_ms.extend(o.latencies_ms);
        self.requests += o.requests;
        self.retries += o.retries;
        self.accepted += o.accepted;
        self.failed += o.failed;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.first_error = self.first_error.take().or(o.first_error);
        self.last_send = self.last_send.max(o.last_send);
    }

    fn error(&mut self, key: String, detail: String) {
        *self.errors.entry(key).or_default() += 1;
        self.first_error.get_or_insert(detail);
    }
}

/// Send every account's vouchers on `a.connections` threads.
fn send(a: &LoadgenArgs, plans: &[AccountPlan], intake: &Target) -> Tally {
    let counts: Vec<usize> = plans.iter().map(|p| p.vouchers.len()).collect();
    let work = batches(&counts, a.batch);
    // When paced, batch i leaves no earlier than (vouchers before it) / rate after the start.
    let mut before = 0u64;
    let due: Vec<Option<Duration>> = work
        .iter()
        .map(|b| {
            let at = a
                .rate
                .map(|r| Duration::from_secs_f64(before as f64 / r.max(1e-9)));
            before += b.range.len() as u64;
            at
        })
        .collect();
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let mut total = Tally {
        first_send: Some(start),
        ..Tally::default()
    };
    std::thread::scope(|sc| {
        let threads: Vec<_> = (0..a.connections)
            .map(|_| sc.spawn(|| sender(plans, &work, &due, start, &next, intake)))
            .collect();
        for t in threads {
            if let Ok(t) = t.join() {
                total.merge(t);
            }
        }
    });
    total.wall_secs = total.last_send.map_or(0.0, |l| (l - start).as_secs_f64());
    total
}

/// One sender thread: batches from the shared queue until it is empty.
fn sender(
    plans: &[AccountPlan],
    work: &[Batch],
    due: &[Option<Duration>],
    start: Instant,
    next: &AtomicUsize,
    intake: &Target,
) -> Tally {
    let mut t = Tally::default();
    let mut conn = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(b) = work.get(i) else { break };
        if let Some(Some(at)) = due.get(i)
            && let Some(wait) = at.checked_sub(start.elapsed())
        {
            std::thread::sleep(wait);
        }
        let plan = &plans[b.account];
        let body = httpc::frame(&plan.vouchers[b.range.clone()]);
        let path = intake.account_path(&plan.name, "vouchers");
        let n = b.range.len() as u64;
        match post(&mut conn, intake, &path, &body, n, &mut t) {
            Ok(()) => t.accepted += n,
            Err((key, detail)) => {
                t.failed += n;
                t.error(key, format!("{}: {detail}", plan.name));
            }
        }
    }
    t
}

/// POST one batch, retrying 429/503 after their `Retry-After`. The error is (key, detail).
fn post(
    conn: &mut Option<Conn>,
    intake: &Target,
    path: &str,
    body: &[u8],
    n: u64,
    t: &mut Tally,
) -> Result<(), (String, String)> {
    let headers = [("Content-Type", "application/vnd.blindmatch.vouchers")];
    for attempt in 0..=MAX_RETRIES {
        t.retries += u64::from(attempt > 0);
        // A connection error (the server restarting, say) is retried like a 503: the batch's
        // vouchers may have been stored already, and a resend is deduplicated by Q.
        let resp = match timed(conn, intake, t, |c| c.request("POST", path, &headers, body)) {
            Ok(r) => r,
            Err(_) if attempt < MAX_RETRIES => {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            Err(e) => return Err(("io".to_string(), e.to_string())),
        };
        match resp.status {
            202 => return accepted(&resp, n),
            429 | 503 => std::thread::sleep(retry_after(&resp)),
            s => return Err((s.to_string(), format!("{s} {}", resp.text().trim()))),
        }
    }
    Err((
        "retries-exhausted".into(),
        format!("still 429/503 after {MAX_RETRIES} retries"),
    ))
}

/// One request on the thread's connection (opened if needed), timed and counted.
fn timed(
    conn: &mut Option<Conn>,
    target: &Target,
    t: &mut Tally,
    f: impl FnOnce(&mut Conn) -> std::io::Result<Response>,
) -> std::io::Result<Response> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(Conn::connect(&target.authority)?),
    };
    let start = Instant::now();
    let r = f(c);
    let end = Instant::now();
    t.requests += 1;
    t.last_send = Some(end);
    match &r {
        Ok(_) => t.latencies_ms.push((end - start).as_secs_f64() * 1e3),
        Err(_) => *conn = None,
    }
    r
}

/// A 202 must say `{"accepted":N}` with N the frames sent.
fn accepted(resp: &Response, n: u64) -> Result<(), (String, String)> {
    let got = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("accepted")?.as_u64());
    match got {
        Some(g) if g == n => Ok(()),
        _ => Err((
            "202-bad-body".into(),
            format!("202 with body {:?} for {n} frames", resp.text()),
        )),
    }
}

/// `Retry-After` in seconds (1 s when absent or a date), at least 50 ms and at most 60 s.
fn retry_after(resp: &Response) -> Duration {
    let secs = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.clamp(0.05, 60.0))
}

/// The `p`-th percentile (nearest rank) of sorted values; 0 for none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------
// (c) Drain and check.

/// The operator API: its address and token.
struct Operator {
    target: Target,
    auth: Option<String>,
    conn: std::cell::RefCell<Option<Conn>>,
    restarts: bool,
}

/// The two figures read from `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Metrics {
    queue_depth: f64,
    received: f64,
}

/// The queue drain after the last send.
struct Drain {
    drained: bool,
    /// From the last send to the drained queue (or to giving up).
    drain_secs: f64,
    /// From the first send to the drained queue.
    total_secs: f64,
    received: f64,
    queue_depth: f64,
    /// When the settle time ends (the re-check stops by then too).
    deadline: Instant,
}

/// The reveal check.
#[derive(Default, Serialize)]
struct Check {
    ok: bool,
    accounts_checked: usize,
    expected_reveals: usize,
    uncertain: usize,
    revealed: usize,
    revealed_real_ids: usize,
    mismatched_accounts: usize,
    mismatches: Vec<String>,
}

/// What the server revealed for an account (all windows).
#[derive(Debug, Default, PartialEq)]
struct Got {
    windows: Vec<u64>,
    real: BTreeMap<String, String>,
    synthetic: BTreeSet<String>,
}

impl Operator {
    fn new(target: Target, a: &LoadgenArgs) -> Operator {
        Operator {
            target,
            auth: a.token.as_ref().map(|t| format!("Bearer {t}")),
            conn: std::cell::RefCell::new(None),
            restarts: a.restarts,
        }
    }

    /// GET `path`; connection errors are failures naming the operator URL.
    fn get(&self, path: &str) -> Result<Response> {
        let mut conn = self.conn.borrow_mut();
        let headers: Vec<(&str, &str)> = self
            .auth
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        let mut t = Tally::default();
        timed(&mut conn, &self.target, &mut t, |c| {
            c.request("GET", path, &headers, &[])
        })
        .map_err(|e| failed(format!("operator {}{path}: {e}", self.target.authority)))
        .and_then(|r| match r.status {
            401 => Err(failed(format!(
                "operator {}{path}: 401, a missing or wrong --token",
                self.target.authority
            ))),
            _ => Ok(r),
        })
    }

    fn metrics(&self) -> Result<Metrics> {
        let path = format!("{}/metrics", self.target.prefix);
        let resp = self.get(&path)?;
        if resp.status != 200 {
            return Err(failed(format!("GET {path}: status {}", resp.status)));
        }
        parse_metrics(&resp.text())
    }

    /// Poll until the queue is empty and the server received everything sent, or the settle
    /// time is over.
    fn settle(&self, sent: &Tally, base: Metrics, settle_secs: u64) -> Result<Drain> {
        let last = sent.last_send.unwrap_or_else(Instant::now);
        let first = sent.first_send.unwrap_or(last);
        let deadline = last + Duration::from_secs(settle_secs);
        let mut empty_polls = 0;
        loop {
            let m = match self.metrics() {
                Ok(m) => m,
                Err(_) if self.restarts && Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let received = m.received - base.received;
            empty_polls = if m.queue_depth == 0.0 {
                empty_polls + 1
            } else {
                0
            };
            let drained = if self.restarts {
                empty_polls >= 3
            } else {
                m.queue_depth == 0.0 && received >= sent.accepted as f64
            };
            let now = Instant::now();
            if drained || now >= deadline {
                return Ok(Drain {
                    drained,
                    drain_secs: (now - last).as_secs_f64(),
                    total_secs: (now - first).as_secs_f64(),
                    received,
                    queue_depth: m.queue_depth,
                    deadline,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    fn reveals(&self, account: &str) -> Result<Got> {
        let path = self.target.account_path(account, "reveals");
        let resp = self.get(&path)?;
        match resp.status {
            200 => parse_reveals(&resp.body).map_err(|e| failed(format!("GET {path}: {e}"))),
            404 => Ok(Got::default()),
            s => Err(failed(format!("GET {path}: status {s} {}", resp.text()))),
        }
    }

    /// Compare every account's reveals with its expectation; accounts that differ are fetched
    /// again for a while (evaluation may trail the queue).
    fn check(&self, plans: &[AccountPlan], window: u64, deadline: Instant) -> Result<Check> {
        let mut c = Check {
            accounts_checked: plans.len(),
            ..Check::default()
        };
        let mut pending: Vec<usize> = (0..plans.len()).collect();
        let stop = Instant::now() + RECHECK.min(deadline.saturating_duration_since(Instant::now()));
        let mut last: BTreeMap<usize, (Got, Vec<String>)> = BTreeMap::new();
        loop {
            let mut still = Vec::new();
            for i in pending {
                let got = self.reveals(&plans[i].name)?;
                let diffs = compare(&plans[i].name, &plans[i].expect, &got, window);
                if !diffs.is_empty() {
                    still.push(i);
                }
                last.insert(i, (got, diffs));
            }
            pending = still;
            if pending.is_empty() || Instant::now() >= stop {
                break;
            }
            std::thread::sleep(POLL * 2);
        }
        for (i, (got, diffs)) in last {
            c.tally(&plans[i].expect, &got, diffs);
        }
        c.ok = c.mismatched_accounts == 0;
        Ok(c)
    }
}

impl Check {
    fn tally(&mut self, e: &Expect, got: &Got, diffs: Vec<String>) {
        self.expected_reveals += usize::from(e.reveal == Reveal::Yes);
        self.uncertain += usize::from(e.reveal == Reveal::Uncertain);
        self.revealed += usize::from(!got.windows.is_empty());
        self.revealed_real_ids += got.real.len();
        self.mismatched_accounts += usize::from(!diffs.is_empty());
        let room = MAX_MESSAGES.saturating_sub(self.mismatches.len());
        self.mismatches.extend(diffs.into_iter().take(room));
    }
}

/// Sum of a metric's samples (every label set) in Prometheus text; `None` if absent.
fn metric(text: &str, name: &str) -> Option<f64> {
    let mut sum = None;
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let rest = match rest.strip_prefix('{') {
            Some(r) => r.split_once('}')?.1,
            None if rest.starts_with([' ', '\t']) => rest,
            None => continue,
        };
        let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
        sum = Some(sum.unwrap_or(0.0) + value);
    }
    sum
}

fn parse_metrics(text: &str) -> Result<Metrics> {
    let get = |name| metric(text, name).ok_or_else(|| failed(format!("/metrics has no {name}")));
    Ok(Metrics {
        queue_depth: get(QUEUE_DEPTH)?,
        received: get(RECEIVED)?,
    })
}

/// `{"account":…, "windows":[{"window":w, "real":[{"id_hex","ad_hex"}], "synthetic_hex":[…],
/// …}]}`.
fn parse_reveals(body: &[u8]) -> std::result::Result<Got, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let bad = |what: &str| format!("unexpected JSON ({what})");
    let mut got = Got::default();
    let windows = v["windows"].as_array().ok_or_else(|| bad("windows"))?;
    for w in windows {
        got.windows
            .push(w["window"].as_u64().ok_or_else(|| bad("window"))?);
        for r in w["real"].as_array().ok_or_else(|| bad("real"))? {
            let id = r["id_hex"].as_str().ok_or_else(|| bad("id_hex"))?;
            let ad = r["ad_hex"].as_str().ok_or_else(|| bad("ad_hex"))?;
            got.real
                .insert(id.to_ascii_lowercase(), ad.to_ascii_lowercase());
        }
        let synthetic = w["synthetic_hex"]
            .as_array()
            .ok_or_else(|| bad("synthetic_hex"))?;
        for s in synthetic {
            let s = s.as_str().ok_or_else(|| bad("synthetic_hex"))?;
            got.synthetic.insert(s.to_ascii_lowercase());
        }
    }
    Ok(got)
}

/// How an account's reveals differ from its expectation (empty: as expected).
fn compare(name: &str, e: &Expect, got: &Got, window: u64) -> Vec<String> {
    let revealed = !got.windows.is_empty();
    let mut out = Vec::new();
    match (e.reveal, revealed) {
        (Reveal::Yes, false) => out.push(format!(
            "{name}: nothing revealed, but it sent {} distinct listed items as real vouchers (≥ T)",
            e.real_listed
        )),
        (Reveal::No, true) => out.push(format!(
            "{name}: revealed, but it sent only {} distinct listed items as real vouchers (< T)",
            e.real_listed
        )),
        _ => {}
    }
    if !revealed {
        return out;
    }
    if got.windows != [window] {
        out.push(format!(
            "{name}: revealed in windows {:?}, expected only {window}",
            got.windows
        ));
    }
    let want_ids: BTreeSet<&String> = e.real.keys().collect();
    let got_ids: BTreeSet<&String> = got.real.keys().collect();
    set_diff(&mut out, name, "real ids", &want_ids, &got_ids);
    let bad_ad = e
        .real
        .iter()
        .filter(|(id, ad)| got.real.get(*id).is_some_and(|g| g != *ad))
        .count();
    if bad_ad > 0 {
        out.push(format!("{name}: {bad_ad} real matches with the wrong ad"));
    }
    let want_syn: BTreeSet<&String> = e.synthetic.iter().collect();
    let got_syn: BTreeSet<&String> = got.synthetic.iter().collect();
    set_diff(&mut out, name, "synthetic ids", &want_syn, &got_syn);
    out
}

/// A message when two id sets differ: counts, and the first id of each side (as text).
fn set_diff(
    out: &mut Vec<String>,
    name: &str,
    what: &str,
    want: &BTreeSet<&String>,
    got: &BTreeSet<&String>,
) {
    let missing: Vec<&&String> = want.difference(got).collect();
    let extra: Vec<&&String> = got.difference(want).collect();
    if missing.is_empty() && extra.is_empty() {
        return;
    }
    let show = |ids: &[&&String]| ids.first().map(|h| id_text(h)).unwrap_or_default();
    out.push(format!(
        "{name}: {what} differ: {} missing (e.g. {}), {} unexpected (e.g. {})",
        missing.len(),
        show(&missing),
        extra.len(),
        show(&extra)
    ));
}

/// An id for a message: its text when it is printable, else its hex.
fn id_text(id_hex: &str) -> String {
    hex::decode(id_hex)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| id_hex.to_string())
}

// ---------------------------------------------------------------------------------------
// The report.

#[derive(Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

#[derive(Serialize)]
struct SendReport {
    connections: usize,
    batch: usize,
    vouchers_sent: u64,
    vouchers_failed: u64,
    requests: u64,
    retries: u64,
    wall_secs: f64,
    vouchers_per_sec: f64,
    latency_ms: Latency,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

#[derive(Serialize)]
struct DrainReport {
    drained: bool,
    drain_secs: f64,
    intake_to_opened_secs: f64,
    intake_to_opened_vouchers_per_sec: Option<f64>,
    received: f64,
    queue_depth: f64,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    seed: u64,
    accounts: usize,
    per_account: usize,
    listed_accounts: usize,
    matches: usize,
    threshold: usize,
    s_max: usize,
    window: u64,
    vouchers: usize,
    voucher_bytes: usize,
    expected_reveals: usize,
    pregen_secs: f64,
    pregen_vouchers_per_sec: f64,
    /// `open_batch` on all cores in this process over the same vouchers (with --server-key).
    open_batch_vouchers_per_sec: Option<f64>,
    /// Vouchers whose outer layer opens (what the store must hold once, each).
    expected_opened: usize,
    send: SendReport,
    drain: Option<DrainReport>,
    check: Option<Check>,
}

impl Report {
    fn new(
        a: &LoadgenArgs,
        s: &Setup,
        plans: &[AccountPlan],
        pregen_secs: f64,
        sent: Tally,
        drain: Option<Drain>,
        check: Option<Check>,
    ) -> Report {
        let vouchers: usize = plans.iter().map(|p| p.vouchers.len()).sum();
        let drain = drain.map(|d| DrainReport {
            drained: d.drained,
            drain_secs: d.drain_secs,
            intake_to_opened_secs: d.total_secs,
            intake_to_opened_vouchers_per_sec: d
                .drained
                .then(|| sent.accepted as f64 / d.total_secs.max(1e-9)),
            received: d.received,
            queue_depth: d.queue_depth,
        });
        let ok = sent.failed == 0
            && drain.as_ref().is_none_or(|d| d.drained)
            && check.as_ref().is_none_or(|c| c.ok);
        Report {
            ok,
            seed: s.seed,
            accounts: a.accounts,
            per_account: a.per_account,
            listed_accounts: s.listed_accounts,
            matches: s.matches,
            threshold: s.threshold,
            s_max: s.s_max,
            window: s.window,
            vouchers,
            voucher_bytes: plans.iter().flat_map(|p| &p.vouchers).map(Vec::len).sum(),
            expected_reveals: plans
                .iter()
                .filter(|p| p.expect.reveal == Reveal::Yes)
                .count(),
            pregen_secs,
            pregen_vouchers_per_sec: vouchers as f64 / pregen_secs.max(1e-9),
            open_batch_vouchers_per_sec: None,
            expected_opened: plans.iter().map(|p| p.expect.opens).sum(),
            send: send_report(a, sent),
            drain,
            check,
        }
    }

    fn print(&self, json: bool) -> Result<()> {
        if json {
            println!("{}", serde_json::to_string(self).what("json")?);
        } else {
            self.print_text();
        }
        Ok(())
    }

    fn print_text(&self) {
        println!(
            "accounts {} × {} vouchers ({} listed accounts × {} listed items; T = {}, window {}, seed {})",
            self.accounts,
            self.per_account,
            self.listed_accounts,
            self.matches,
            self.threshold,
            self.window,
            self.seed
        );
        println!(
            "pre-generation   {} vouchers ({:.1} MB) in {:.2} s ({:.0} vouchers/s, all cores; not in the timings below)",
            self.vouchers,
            self.voucher_bytes as f64 / 1e6,
            self.pregen_secs,
            self.pregen_vouchers_per_sec
        );
        if let Some(r) = self.open_batch_vouchers_per_sec {
            println!(
                "open_batch        {r:.0} vouchers/s in this process, all cores (the opening floor)"
            );
        }
        self.send.print();
        if let Some(d) = &self.drain {
            d.print();
        }
        if let Some(c) = &self.check {
            c.print(self.expected_reveals);
        }
        println!("result           {}", if self.ok { "OK" } else { "FAILED" });
    }

    /// Exit status: a Fail naming what went wrong.
    fn verdict(&self) -> Result<()> {
        let mut why = Vec::new();
        if self.send.vouchers_failed > 0 {
            why.push(format!(
                "{} vouchers not accepted ({:?})",
                self.send.vouchers_failed, self.send.errors
            ));
        }
        if let Some(d) = self.drain.as_ref().filter(|d| !d.drained) {
            why.push(format!(
                "queue not drained after the settle time (depth {}, received {} of {})",
                d.queue_depth, d.received, self.send.vouchers_sent
            ));
        }
        if let Some(c) = self.check.as_ref().filter(|c| !c.ok) {
            why.push(format!(
                "{} of {} accounts differ from what was sent",
                c.mismatched_accounts, c.accounts_checked
            ));
        }
        if why.is_empty() {
            return Ok(());
        }
        Err(failed(format!("loadgen check failed: {}", why.join("; "))))
    }
}

fn send_report(a: &LoadgenArgs, mut t: Tally) -> SendReport {
    t.latencies_ms.sort_by(f64::total_cmp);
    let l = &t.latencies_ms;
    SendReport {
        connections: a.connections,
        batch: a.batch,
        vouchers_sent: t.accepted,
        vouchers_failed: t.failed,
        requests: t.requests,
        retries: t.retries,
        wall_secs: t.wall_secs,
        vouchers_per_sec: t.accepted as f64 / t.wall_secs.max(1e-9),
        latency_ms: Latency {
            p50: percentile(l, 50.0),
            p90: percentile(l, 90.0),
            p99: percentile(l, 99.0),
            max: l.last().copied().unwrap_or(0.0),
        },
        errors: t.errors,
        first_error: t.first_error,
    }
}

impl SendReport {
    fn print(&self) {
        println!(
            "send             {} vouchers in {} requests ({} connections, batches of {}) in {:.2} s: {:.0} vouchers/s",
            self.vouchers_sent,
            self.requests,
            self.connections,
            self.batch,
            self.wall_secs,
            self.vouchers_per_sec
        );
        let l = &self.latency_ms;
        println!(
            "latency (ms)     p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            l.p50, l.p90, l.p99, l.max
        );
        println!(
            "retries          {} (429/503)   errors {:?}   failed vouchers {}",
            self.retries, self.errors, self.vouchers_failed
        );
        if let Some(e) = &self.first_error {
            println!("first error      {e}");
        }
    }
}

impl DrainReport {
    fn print(&self) {
        match self.intake_to_opened_vouchers_per_sec {
            Some(rate) => println!(
                "drain            queue empty {:.2} s after the last send; intake to opened {:.2} s: {rate:.0} vouchers/s sustained",
                self.drain_secs, self.intake_to_opened_secs
            ),
            None => println!(
                "drain            NOT drained {:.2} s after the last send (queue depth {}, received {})",
                self.drain_secs, self.queue_depth, self.received
            ),
        }
    }
}

impl Check {
    fn print(&self, expected: usize) {
        println!(
            "check            {} accounts: {} revealed ({} expected, {} uncertain), {} real ids; {} differ",
            self.accounts_checked,
            self.revealed,
            expected,
            self.uncertain,
            self.revealed_real_ids,
            self.mismatched_accounts
        );
        for m in &self.mismatches {
            println!("  {m}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blindmatch_core::Params;
    use blindmatch_core::server::{
        Account, BuildOptions, DatabaseBuilder, OpenOutcome, Opener, Outcome, ServerSecretKey,
        SourceList,
    };

    fn hash(n: u8) -> MediaHash {
        MediaHash::new(HashKind::Sha256, &[n; 32]).unwrap()
    }

    fn item(i: usize, h: u8, listed: bool, synthetic: bool) -> Item {
        Item {
            hash: hash(h),
            id: format!("item-{i:06}"),
            ad: format!("ad {i}"),
            listed,
            synthetic,
        }
    }

    /// `real` listed real items (distinct), `dup` more real copies of the first, `syn_listed`
    /// synthetic listed items, `syn` synthetic unlisted and `plain` real unlisted items.
    fn account(real: usize, dup: usize, syn_listed: usize, syn: usize, plain: usize) -> Vec<Item> {
        let mut v = Vec::new();
        let mut push = |h: u8, listed, synthetic| {
            let i = v.len();
            v.push(item(i, h, listed, synthetic));
        };
        (0..real).for_each(|k| push(k as u8, true, false));
        (0..dup).for_each(|_| push(0, true, false));
        (0..syn_listed).for_each(|k| push(100 + k as u8, true, true));
        (0..syn).for_each(|k| push(150 + k as u8, false, true));
        (0..plain).for_each(|k| push(200 + k as u8, false, false));
        v
    }

    #[test]
    fn expectation_counts_distinct_real_listed_items() {
        let e = expect(&account(10, 0, 2, 1, 20), 10, 30);
        assert_eq!(e.reveal, Reveal::Yes);
        assert_eq!(e.real_listed, 10);
        assert_eq!(e.real.len(), 10);
        assert_eq!(e.synthetic.len(), 3);
        assert_eq!(e.real[&hex::encode("item-000000")], hex::encode("ad 0"));
        // Synthetic listed items do not count; repeated items count once but are all revealed.
        let e = expect(&account(9, 3, 5, 0, 0), 10, 30);
        assert_eq!((e.reveal, e.real_listed, e.real.len()), (Reveal::No, 9, 12));
        assert!(e.synthetic.contains(&hex::encode("item-000012")));
        // Unlisted real items never open.
        let e = expect(&account(0, 0, 0, 0, 50), 2, 30);
        assert_eq!(e.reveal, Reveal::No);
        assert!(e.real.is_empty() && e.synthetic.is_empty());
    }

    /// A setup over a fresh database of 40 listed hashes, T = 3, s_max = 10 and a high
    /// synthetic rate (so that listed items also come out synthetic).
    fn small_setup() -> (Setup, ServerSecretKey) {
        let server = ServerSecretKey::generate();
        let listed: Vec<MediaHash> = (0..40).map(|i| hash(i + 1)).collect();
        let opts = BuildOptions {
            params: Params::with_rate_range(3, 10, 0.1, 0.2).unwrap(),
            ..Default::default()
        };
        let list = [SourceList {
            name: "t".into(),
            hashes: listed.clone(),
        }];
        let bytes = DatabaseBuilder::build(&server, &list, &opts).unwrap();
        let db = Arc::new(Database::open(bytes, &server.public(), None).unwrap());
        let now = db.schedule().origin() + 10;
        let setup = Setup {
            policy: DevicePolicy::permissive_for_tests(),
            window: db.schedule().window_at(now).unwrap(),
            db,
            listed,
            kind: HashKind::Sha256,
            now,
            threshold: 3,
            s_max: 10,
            matches: 5,
            listed_accounts: 0,
            seed: 0,
        };
        (setup, server)
    }

    /// What the protocol's own server side reveals for an account's vouchers.
    fn protocol_outcome(s: &Setup, server: &ServerSecretKey, plan: &AccountPlan) -> Got {
        let opener = Opener::new(server, s.db.manifest()).unwrap();
        let mut acc = Account::new(*s.db.params(), s.window);
        for v in &plan.vouchers {
            if let OpenOutcome::Opened(r) = opener.open(v, plan.name.as_bytes()).unwrap() {
                acc.insert(r).unwrap();
            }
        }
        let Outcome::Revealed {
            real, synthetic, ..
        } = acc.evaluate()
        else {
            return Got::default();
        };
        Got {
            windows: vec![s.window],
            real: real
                .iter()
                .map(|m| (hex::encode(&m.id), hex::encode(&m.ad)))
                .collect(),
            synthetic: synthetic.iter().map(hex::encode).collect(),
        }
    }

    #[test]
    fn expectation_matches_the_protocol() {
        let (s, server) = small_setup();
        let mut seen = BTreeSet::new();
        for i in 0..40u64 {
            let mut rng = ChaCha20Rng::seed_from_u64(i);
            let m = [0, 2, 3, 4, 5][i as usize % 5];
            let plan = account_plan(&s, format!("acct-{i:05}"), 20, m, &mut rng).unwrap();
            let got = protocol_outcome(&s, &server, &plan);
            let diffs = compare(&plan.name, &plan.expect, &got, s.window);
            assert!(diffs.is_empty(), "{diffs:?}");
            seen.insert(format!("{:?}", plan.expect.reveal));
        }
        assert!(seen.contains("Yes") && seen.contains("No"), "{seen:?}");
    }

    #[test]
    fn items_place_m_distinct_listed_hashes() {
        let (s, _) = small_setup();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let items = items(&s, "a", 30, 7, &mut rng).unwrap();
        let listed: BTreeSet<Vec<u8>> = items
            .iter()
            .filter(|i| i.listed)
            .map(|i| i.hash.encode())
            .collect();
        assert_eq!(listed.len(), 7);
        assert!(items.iter().all(|i| s.listed.contains(&i.hash) == i.listed));
        let ids: BTreeSet<&String> = items.iter().map(|i| &i.id).collect();
        assert_eq!(ids.len(), 30);
    }

    #[test]
    fn plans_are_reproducible_and_place_m_listed_items() {
        let (s, _) = small_setup();
        let plan = |seed| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            account_plan(&s, "a".into(), 12, 5, &mut rng).unwrap()
        };
        let (p, q) = (plan(1), plan(1));
        assert_eq!(p.expect, q.expect);
        assert_eq!(p.vouchers.len(), 12);
        assert_ne!(p.vouchers, q.vouchers, "per-send values are fresh");
        let listed = p.expect.real.len() + p.expect.synthetic.len();
        assert!(listed >= 5, "the 5 listed items open, real or synthetic");
        assert_ne!(plan(2).expect, p.expect);
    }

    /// A stand-in for `blindmatch serve` on one listener: intake opens vouchers at once (so the
    /// queue is always empty) into per-account protocol accounts; `/metrics` and `/reveals`
    /// as in `docs/DEPLOYMENT.md` §1. Every 7th intake request is answered 429 first.
    mod fake_server {
        use super::*;
        use std::collections::HashMap;
        use std::io::{BufRead, BufReader, Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::Mutex;

        struct State {
            opener: Opener,
            params: Params,
            window: u64,
            accounts: Mutex<HashMap<String, Account>>,
            received: AtomicUsize,
            posts: AtomicUsize,
        }

        pub(super) fn start(s: &Setup, server: &ServerSecretKey) -> String {
            let state = Arc::new(State {
                opener: Opener::new(server, s.db.manifest()).unwrap(),
                params: *s.db.params(),
                window: s.window,
                accounts: Mutex::new(HashMap::new()),
                received: AtomicUsize::new(0),
                posts: AtomicUsize::new(0),
            });
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = format!("http://{}", l.local_addr().unwrap());
            std::thread::spawn(move || {
                for c in l.incoming() {
                    let st = state.clone();
                    std::thread::spawn(move || serve(&st, c.unwrap()));
                }
            });
            addr
        }

        fn serve(st: &State, c: TcpStream) {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut w = c;
            while let Some((line, body)) = request(&mut r) {
                let (status, extra, out) = answer(st, &line, &body);
                let head = format!(
                    "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\n\r\n",
                    out.len()
                );
                w.write_all(&[head.into_bytes(), out.into_bytes()].concat())
                    .unwrap();
            }
        }

        fn request(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).ok()?;
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().ok()?;
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).ok()?;
            Some((line, body))
        }

        fn answer(st: &State, line: &str, body: &[u8]) -> (u16, &'static str, String) {
            let path = line.split(' ').nth(1).unwrap_or("");
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["", "metrics"] => {
                    let n = st.received.load(Ordering::SeqCst);
                    let text = format!("{QUEUE_DEPTH} 0\n{RECEIVED} {n}\n");
                    (200, "", text)
                }
                ["", "v1", "accounts", a, "vouchers"] => {
                    if st.posts.fetch_add(1, Ordering::SeqCst) % 7 == 3 {
                        return (429, "Retry-After: 0\r\n", String::new());
                    }
                    let n = intake(st, &decode(a), body);
                    (202, "", format!("{{\"accepted\":{n}}}"))
                }
                ["", "v1", "accounts", a, "reveals"] => (200, "", reveals(st, &decode(a))),
                _ => (404, "", String::new()),
            }
        }

        fn decode(a: &str) -> String {
            let mut out = Vec::new();
            let mut b = a.bytes();
            while let Some(c) = b.next() {
                if c == b'%' {
                    let h = [b.next().unwrap(), b.next().unwrap()];
                    out.push(u8::from_str_radix(std::str::from_utf8(&h).unwrap(), 16).unwrap());
                } else {
                    out.push(c);
                }
            }
            String::from_utf8(out).unwrap()
        }

        fn intake(st: &State, account: &str, mut body: &[u8]) -> usize {
            let mut n = 0;
            let mut accounts = st.accounts.lock().unwrap();
            let acc = accounts
                .entry(account.to_string())
                .or_insert_with(|| Account::new(st.params, st.window));
            while !body.is_empty() {
                let len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
                let v = &body[4..4 + len];
                body = &body[4 + len..];
                n += 1;
                if let OpenOutcome::Opened(r) = st.opener.open(v, account.as_bytes()).unwrap() {
                    acc.insert(r).unwrap();
                }
            }
            st.received.fetch_add(n, Ordering::SeqCst);
            n
        }

        fn reveals(st: &State, account: &str) -> String {
            let mut accounts = st.accounts.lock().unwrap();
            let windows = match accounts.get_mut(account).map(Account::evaluate) {
                Some(Outcome::Revealed {
                    real, synthetic, ..
                }) => {
                    let real: Vec<_> = real
                        .iter()
                        .map(|m| serde_json::json!({"id_hex": hex::encode(&m.id), "ad_hex": hex::encode(&m.ad)}))
                        .collect();
                    let syn: Vec<String> = synthetic.iter().map(hex::encode).collect();
                    serde_json::json!([{"window": st.window, "real": real, "synthetic_hex": syn, "rejected_hex": []}])
                }
                _ => serde_json::json!([]),
            };
            serde_json::json!({"account": account, "windows": windows}).to_string()
        }
    }

    #[test]
    fn end_to_end_against_a_stand_in_server() {
        let (s, server) = small_setup();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.bmdb");
        let pk = dir.path().join("server.pub");
        let list = dir.path().join("list.txt");
        let text: String = s
            .listed
            .iter()
            .map(|h| format!("sha256:{}\n", h.to_hex()))
            .collect();
        std::fs::write(&list, text).unwrap();
        std::fs::write(&pk, server.public().to_bytes()).unwrap();
        let opts = BuildOptions {
            params: *s.db.params(),
            ..Default::default()
        };
        let hashes = s.listed.clone();
        let bytes = DatabaseBuilder::build(
            &server,
            &[SourceList {
                name: "t".into(),
                hashes,
            }],
            &opts,
        )
        .unwrap();
        std::fs::write(&db, bytes).unwrap();
        let url = fake_server::start(&s, &server);
        let args = |account_prefix: &str, matches| LoadgenArgs {
            url: url.clone(),
            operator_url: Some(url.clone()),
            token: Some("t".into()),
            db: db.clone(),
            server_pub: pk.clone(),
            list: list.clone(),
            kind: "sha256".into(),
            accounts: 12,
            per_account: 20,
            listed_share: 0.5,
            matches: Some(matches),
            connections: 3,
            batch: 6,
            now: Some(s.now),
            insecure_test_policy: true,
            seed: Some(5),
            account_prefix: account_prefix.into(),
            json: true,
            settle_secs: 1,
            no_check: false,
            rate: None,
            restarts: false,
            server_key: None,
        };
        run(&args("ok", 6)).unwrap();
        // The same items filed under accounts that already hold another key's records (the
        // "ok" run's, seed 5 again but with other listed items): the check notices.
        let e = run(&LoadgenArgs {
            seed: Some(6),
            ..args("ok", 6)
        })
        .err()
        .unwrap();
        assert_eq!(e.code, 1);
        assert!(e.to_string().contains("differ from what was sent"), "{e}");
    }

    #[test]
    fn expectation_is_uncertain_beyond_s_max() {
        assert_eq!(expect(&account(12, 0, 0, 4, 0), 10, 4).reveal, Reveal::Yes);
        assert_eq!(
            expect(&account(12, 0, 0, 5, 0), 10, 4).reveal,
            Reveal::Uncertain
        );
    }

    #[test]
    fn compare_reports_each_difference() {
        let e = expect(&account(3, 0, 0, 1, 5), 3, 30);
        let good = Got {
            windows: vec![7],
            real: e.real.clone(),
            synthetic: e.synthetic.clone(),
        };
        assert!(compare("a", &e, &good, 7).is_empty());
        let none = compare("a", &e, &Got::default(), 7);
        assert_eq!(none.len(), 1);
        assert!(none[0].contains("nothing revealed"), "{none:?}");
        let mut wrong = good;
        wrong.windows = vec![8];
        let first = wrong.real.keys().next().unwrap().clone();
        wrong.real.insert(first, "00".into());
        wrong.real.insert(hex::encode("other"), String::new());
        wrong.synthetic.clear();
        let d = compare("a", &e, &wrong, 7);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d[1].contains("1 unexpected (e.g. other)"), "{d:?}");
        assert!(d[2].contains("wrong ad"), "{d:?}");
        let below = expect(&account(2, 0, 0, 0, 0), 3, 30);
        assert!(compare("b", &below, &Got::default(), 7).is_empty());
        let d = compare("b", &below, &wrong, 7);
        assert!(d[0].contains("only 2 distinct"), "{d:?}");
    }

    #[test]
    fn batches_round_robin_and_cover_everything() {
        let b = batches(&[5, 2, 0, 3], 2);
        let want = [
            (0, 0..2),
            (1, 0..2),
            (3, 0..2),
            (0, 2..4),
            (3, 2..3),
            (0, 4..5),
        ];
        let want: Vec<Batch> = want
            .into_iter()
            .map(|(account, range)| Batch { account, range })
            .collect();
        assert_eq!(b, want);
        assert!(batches(&[], 16).is_empty());
        let total: usize = batches(&[100; 7], 16).iter().map(|b| b.range.len()).sum();
        assert_eq!(total, 700);
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 90.0), 90.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[1.0, 2.0], 0.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn metrics_sum_label_sets_and_skip_prefixes() {
        let text = "# HELP blindmatch_queue_depth Vouchers waiting.\n\
                    # TYPE blindmatch_queue_depth gauge\n\
                    blindmatch_queue_depth 3\n\
                    blindmatch_queue_depth_max 99\n\
                    blindmatch_vouchers_received_total{shard=\"0\"} 10\n\
                    blindmatch_vouchers_received_total{shard=\"1\"} 5 1700000000\n";
        let m = parse_metrics(text).unwrap();
        assert_eq!(
            m,
            Metrics {
                queue_depth: 3.0,
                received: 15.0
            }
        );
        assert_eq!(metric(text, "blindmatch_queue_depth_max"), Some(99.0));
        assert!(parse_metrics("blindmatch_queue_depth 0\n").is_err());
    }

    #[test]
    fn reveals_json() {
        let body = br#"{"account":"a","windows":[{"window":3,
            "real":[{"id_hex":"6964","ad_hex":"AB"}],"synthetic_hex":["73"],"rejected_hex":[]}]}"#;
        let g = parse_reveals(body).unwrap();
        assert_eq!(g.windows, [3]);
        assert_eq!(g.real["6964"], "ab");
        assert!(g.synthetic.contains("73"));
        assert_eq!(parse_reveals(br#"{"windows":[]}"#).unwrap(), Got::default());
        assert!(parse_reveals(br#"{"windows":[{"window":1}]}"#).is_err());
    }

    #[test]
    fn typed_lines_become_csv() {
        let text = "sha256:ab\n# c\nkind,hash\npdq, cd\n00ff # x\n";
        assert_eq!(
            typed_to_csv(text),
            "sha256,ab\n# c\nkind,hash\npdq, cd\n00ff # x\n"
        );
        let h = hex::encode([1u8; 32]);
        let parsed = parse_hash_list(
            &typed_to_csv(&format!("sha256:{h}\n{h}\n")),
            Some(HashKind::Sha1),
        );
        assert!(parsed.is_err(), "a bare sha256 line is not a sha1");
        let parsed = parse_hash_list(
            &typed_to_csv(&format!("sha256:{h}\n{h}\n")),
            Some(HashKind::Sha256),
        )
        .unwrap();
        assert_eq!(parsed, [hash(1), hash(1)]);
    }

    #[test]
    fn listed_share() {
        assert_eq!(listed_accounts(100, 0.1).unwrap(), 10);
        assert_eq!(listed_accounts(5, 0.0).unwrap(), 0);
        assert_eq!(listed_accounts(5, 1.0).unwrap(), 5);
        assert!(listed_accounts(5, 1.5).is_err());
    }

    #[test]
    fn retry_after_bounds() {
        let resp = |v: Option<&str>| Response {
            status: 429,
            headers: v
                .map(|v| vec![("Retry-After".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
        };
        assert_eq!(retry_after(&resp(Some("2"))), Duration::from_secs(2));
        assert_eq!(retry_after(&resp(None)), Duration::from_secs(1));
        assert_eq!(retry_after(&resp(Some("0"))), Duration::from_millis(50));
        assert_eq!(retry_after(&resp(Some("9999"))), Duration::from_secs(60));
    }

    #[test]
    fn account_paths_are_encoded() {
        let t = Target::parse("http://h:1/base/", "--url").unwrap();
        assert_eq!(
            t.account_path("a b", "vouchers"),
            "/base/v1/accounts/a%20b/vouchers"
        );
    }
}
