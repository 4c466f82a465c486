//! `blindmatch serve`: voucher intake over HTTP, background opening on all cores, an operator
//! API on a separate listener (`docs/DEPLOYMENT.md`).
//!
//! Layout: [`intake`] (the only surface senders reach: frame, rate-limit, store, answer `202`),
//! [`worker`] (claim, open, file, evaluate — never on the request path), [`operator`]
//! (reveals, audit state, health, metrics), [`metrics`] (aggregate counters).

mod intake;
mod metrics;
mod operator;
mod worker;

use crate::commands::{load_server_key, now_unix};
use crate::fail::{Context, Fail, Result};
use crate::files;
use crate::server::{open_store, redact, store_fail};
use crate::store::Store;
use axum::serve::ListenerExt;
use blindmatch_core::Database;
use blindmatch_core::server::Opener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// `blindmatch serve` arguments.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The server's secret key file (mode 0600).
    #[arg(long)]
    server_key: PathBuf,
    /// The database the vouchers are made for.
    #[arg(long)]
    db: PathBuf,
    /// The store: `sqlite:PATH` (or a bare path; one machine) or `postgres://…` (several
    /// `serve` processes on one database).
    #[arg(long)]
    store: String,
    /// Intake address (senders, through the messenger's authenticated front end).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Operator API address (keep it off the senders' network).
    #[arg(long, default_value = "127.0.0.1:8081")]
    operator_listen: String,
    /// File holding the operator API's bearer token (mode 0600).
    #[arg(long)]
    operator_token_file: PathBuf,
    /// Serve below-threshold state on the operator API (`/v1/accounts/{account}/state`).
    #[arg(long)]
    audit: bool,
    /// Opening workers [default: one per core]; 0 only stores (intake without opening).
    #[arg(long)]
    workers: Option<usize>,
    /// Vouchers a worker claims at once.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// How long a claimed batch stays leased to its worker (milliseconds); a batch of a worker
    /// that died is taken again after it.
    #[arg(long, default_value_t = 30_000)]
    lease_ms: u64,
    /// How long after a window closes its vouchers are still accepted (seconds).
    #[arg(long, default_value_t = 86_400)]
    grace: u64,
    /// Largest request body (bytes); larger ones get 413.
    #[arg(long, default_value_t = 8 << 20)]
    max_body: usize,
    /// Sustained vouchers per second one account may send; above it, 429.
    #[arg(long, default_value_t = 200.0)]
    account_rate: f64,
    /// Vouchers one account may send at once (the rate limiter's bucket).
    #[arg(long, default_value_t = 4096.0)]
    account_burst: f64,
    /// A fixed server time for window acceptance (Unix seconds; tests) [default: the clock].
    #[arg(long)]
    now: Option<u64>,
}

/// What every part of the service shares.
pub(crate) struct App {
    pub(crate) store_spec: String,
    pub(crate) opener: Opener,
    pub(crate) db: Database,
    pub(crate) audit: bool,
    pub(crate) token: zeroize::Zeroizing<Vec<u8>>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) limits: intake::Limits,
    pub(crate) fixed_now: Option<u64>,
    pub(crate) grace: u64,
    pub(crate) stop: AtomicBool,
    /// Idle store connections for request handlers.
    pool: Mutex<Vec<Box<dyn Store>>>,
}

impl App {
    /// A store connection from the pool (or a new one); give it back with [`App::put`].
    pub(crate) fn take(&self) -> std::result::Result<Box<dyn Store>, crate::store::StoreError> {
        let idle = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => crate::store::open(&self.store_spec),
        }
    }

    /// Forget the pooled connections (after one failed: the others may be broken too) and
    /// open a new one.
    pub(crate) fn fresh(&self) -> std::result::Result<Box<dyn Store>, crate::store::StoreError> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).clear();
        crate::store::open(&self.store_spec)
    }

    /// Return a connection that worked.
    pub(crate) fn put(&self, s: Box<dyn Store>) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 16 {
            pool.push(s);
        }
    }

    /// The server's time (Unix seconds).
    pub(crate) fn now(&self) -> u64 {
        self.fixed_now.unwrap_or_else(now_unix)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub fn run(a: &ServeArgs) -> Result<()> {
    let key = load_server_key(&a.server_key)?;
    let db = Database::open(files::read(&a.db)?, &key.public(), None).at(&a.db)?;
    let opener = Opener::new(&key, db.manifest()).at(&a.server_key)?;
    drop(key);
    let token = files::read_secret(&a.operator_token_file)?;
    let token = zeroize::Zeroizing::new(token.trim_ascii().to_vec());
    if token.len() < 16 {
        return Err(Fail::at(
            &a.operator_token_file,
            "the operator token must be at least 16 bytes",
        ));
    }
    // Open the store once here so that migrations run (and errors show) before listening.
    let first = open_store(&a.store)?;
    let app = Arc::new(App {
        store_spec: a.store.clone(),
        opener,
        db,
        audit: a.audit,
        token,
        metrics: metrics::Metrics::default(),
        limits: intake::Limits::new(a.max_body, a.account_rate, a.account_burst),
        fixed_now: a.now,
        grace: a.grace,
        stop: AtomicBool::new(false),
        pool: Mutex::new(vec![first]),
    });
    let workers = a
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let app = app.clone();
            let (batch, lease) = (a.batch.max(1), a.lease_ms);
            std::thread::Builder::new()
                .name(format!("open-{i}"))
                .spawn(move || worker::run(&app, i, batch, lease))
                .map_err(|e| Fail::msg(format!("cannot start a worker: {e}")))
        })
        .collect::<Result<_>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Fail::msg(format!("cannot start the runtime: {e}")))?;
    let served = rt.block_on(serve(app.clone(), &a.listen, &a.operator_listen));
    app.stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    served
}

/// Bind both listeners, print where, and serve until SIGINT or SIGTERM.
async fn serve(app: Arc<App>, listen: &str, operator_listen: &str) -> Result<()> {
    let intake_l = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Fail::msg(format!("cannot listen on {listen}: {e}")))?;
    let operator_l = tokio::net::TcpListener::bind(operator_listen)
        .await
        .map_err(|e| Fail::msg(format!("cannot listen on {operator_listen}: {e}")))?;
    let (ia, oa) = (
        intake_l
            .local_addr()
            .map_err(|e| Fail::msg(e.to_string()))?,
        operator_l
            .local_addr()
            .map_err(|e| Fail::msg(e.to_string()))?,
    );
    // One line tests and operators can wait for.
    println!(
        "blindmatch serve: intake http://{ia} operator http://{oa} store {}",
        redact(&app.store_spec)
    );
    let stop = shutdown_signal();
    // Small responses on keep-alive connections: without TCP_NODELAY, Nagle's algorithm and
    // delayed ACKs add ≈ 40 ms to every request.
    let nodelay = |io: &mut tokio::net::TcpStream| {
        let _ = io.set_nodelay(true);
    };
    let intake = axum::serve(intake_l.tap_io(nodelay), intake::router(app.clone()));
    let operator = axum::serve(operator_l.tap_io(nodelay), operator::router(app.clone()));
    tokio::select! {
        r = intake => r.map_err(|e| Fail::msg(format!("intake: {e}"))),
        r = operator => r.map_err(|e| Fail::msg(format!("operator: {e}"))),
        () = stop => Ok(()),
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

/// A store error for a request handler or worker (named, password removed).
pub(crate) fn store_error(app: &App, e: crate::store::StoreError) -> Fail {
    store_fail(&app.store_spec, e)
}
