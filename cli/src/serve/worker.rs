//! Opening workers: claim a batch of queued vouchers (leased), open them outside any
//! transaction, file the opened records and delete the batch in one transaction, then evaluate
//! the changed accounts. Idempotent at every step: a worker that dies mid-batch leaves the batch
//! leased until the lease expires, and the next worker's filing of the same vouchers stores the
//! same records (keyed by (account, window, Q)) once.

use super::App;
use super::metrics::{self, Metrics};
use crate::server::{Accepting, AccountCache, evaluate_cached};
use crate::store::{Queued, Store};
use blindmatch_core::VoucherHeader;
use blindmatch_core::server::{OpenOutcome, OpenedVoucher};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long an idle worker waits before looking at the queue again.
const IDLE: Duration = Duration::from_millis(20);
/// How often closed windows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn run(app: &App, index: usize, batch: usize, lease_ms: u64) {
    let mut store: Option<Box<dyn Store>> = None;
    // 256 MiB of cached accounts per worker.
    let mut cache = AccountCache::new(256 << 20);
    let mut last_prune = Instant::now();
    while !app.stop.load(std::sync::atomic::Ordering::SeqCst) {
        let s = match store.take() {
            Some(s) => s,
            None => match crate::store::open(&app.store_spec) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!(
                        "blindmatch serve: worker {index}: {}",
                        super::store_error(app, e)
                    );
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let mut s = s;
        match step(
            app,
            s.as_mut(),
            &mut cache,
            batch,
            lease_ms,
            index == 0 && last_prune.elapsed() > PRUNE_EVERY,
        ) {
            Ok(worked) => {
                if index == 0 && last_prune.elapsed() > PRUNE_EVERY {
                    last_prune = Instant::now();
                }
                store = Some(s);
                if !worked {
                    std::thread::sleep(IDLE);
                }
            }
            Err(e) => {
                // Drop the connection (it may be the broken part) and start again; the batch
                // stays leased and is taken again when the lease expires.
                eprintln!(
                    "blindmatch serve: worker {index}: {}",
                    super::store_error(app, e)
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

/// One round: a batch if there is one, then the changed accounts. Returns whether anything
/// was done.
fn step(
    app: &App,
    store: &mut dyn Store,
    cache: &mut AccountCache,
    batch: usize,
    lease_ms: u64,
    prune: bool,
) -> Result<bool, crate::store::StoreError> {
    let t = Instant::now();
    let claimed = store.claim(batch, super::now_ms(), lease_ms)?;
    Metrics::time(&app.metrics.store_us[metrics::CLAIM], t);
    let mut worked = !claimed.is_empty();
    if !claimed.is_empty() {
        file(app, store, &claimed)?;
    }
    let t = Instant::now();
    for c in store.changed(64)? {
        worked = true;
        if let Some(e) = evaluate_cached(store, &c.account, c.window, Some(cache), true)?
            && e.new_key
        {
            Metrics::add(&app.metrics.reveals, 1);
        }
    }
    Metrics::time(&app.metrics.store_us[metrics::EVALUATE], t);
    if prune && let Ok(acc) = Accepting::at(app.db.schedule(), app.now(), app.grace) {
        store.prune(acc.keep_from)?;
    }
    Ok(worked)
}

/// Open a claimed batch (per account, batched on all cores) and file the opened records.
fn file(
    app: &App,
    store: &mut dyn Store,
    claimed: &[Queued],
) -> Result<(), crate::store::StoreError> {
    let m = &app.metrics;
    let accepting = Accepting::at(app.db.schedule(), app.now(), app.grace).ok();
    let mut by_account: BTreeMap<&str, Vec<&Queued>> = BTreeMap::new();
    for q in claimed {
        by_account.entry(q.account.as_str()).or_default().push(q);
    }
    let mut records: Vec<(String, OpenedVoucher)> = Vec::new();
    let (mut not_opened, mut refused, mut late) = (0u64, 0u64, 0u64);
    for (account, qs) in by_account {
        // Vouchers for windows not accepted now are counted and not opened.
        let (current, stale): (Vec<&[u8]>, Vec<&[u8]>) = qs
            .iter()
            .map(|q| q.voucher.as_slice())
            .partition(|v| match (&accepting, VoucherHeader::peek(v)) {
                (Some(acc), Ok(h)) => acc.accepts(h.window),
                _ => true,
            });
        late += stale.len() as u64;
        let t = Instant::now();
        let results = app.opener.open_batch(&current, account.as_bytes());
        Metrics::time(&m.open_us, t);
        for r in results {
            match r {
                Ok(OpenOutcome::Opened(rec)) => records.push((account.to_string(), rec)),
                Ok(OpenOutcome::NoMatch) => not_opened += 1,
                Err(_) => refused += 1,
            }
        }
    }
    let done: Vec<i64> = claimed.iter().map(|q| q.id).collect();
    let now = app.now();
    let t = Instant::now();
    let filed = store.file(app.db.params(), &app.db.context(), &records, &done, now)?;
    Metrics::time(&m.store_us[metrics::FILE], t);
    let filed_at = super::now_ms();
    for q in claimed {
        m.observe_ms(filed_at.saturating_sub(q.received_ms));
    }
    Metrics::add(&m.opened, records.len() as u64);
    Metrics::add(&m.not_opened, not_opened);
    Metrics::add(&m.refused, refused);
    Metrics::add(&m.late, late);
    Metrics::add(&m.dropped, filed.dropped as u64);
    Metrics::add(&m.batches, 1);
    Ok(())
}
