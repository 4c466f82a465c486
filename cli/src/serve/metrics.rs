//! Aggregate counters for the operator's `/metrics` (Prometheus text format). Nothing here is
//! per account: per-account state is below-threshold information.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (milliseconds) of the receipt-to-opening latency histogram.
const BUCKETS_MS: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000,
];

#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) received: AtomicU64,
    pub(crate) requests_accepted: AtomicU64,
    pub(crate) requests_bad: AtomicU64,
    pub(crate) requests_limited: AtomicU64,
    pub(crate) requests_unavailable: AtomicU64,
    pub(crate) opened: AtomicU64,
    pub(crate) not_opened: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) late: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) reveals: AtomicU64,
    pub(crate) batches: AtomicU64,
    /// Microseconds spent in store calls, by kind: enqueue (intake), claim, file, evaluate.
    pub(crate) store_us: [AtomicU64; 4],
    /// Microseconds spent opening vouchers (the cryptography, all workers).
    pub(crate) open_us: AtomicU64,
    latency: [AtomicU64; BUCKETS_MS.len() + 1],
    latency_sum_ms: AtomicU64,
    latency_count: AtomicU64,
}

/// Indices into [`Metrics::store_us`].
pub(crate) const ENQUEUE: usize = 0;
pub(crate) const CLAIM: usize = 1;
pub(crate) const FILE: usize = 2;
pub(crate) const EVALUATE: usize = 3;

impl Metrics {
    /// Add the time since `since` to a microsecond counter.
    pub(crate) fn time(counter: &AtomicU64, since: std::time::Instant) {
        let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(us, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Record the time from a voucher's receipt to its filing.
    pub(crate) fn observe_ms(&self, ms: u64) {
        let i = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        if let Some(c) = self.latency.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_ms.fetch_add(ms, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the queue depth and the opener's malformed count
    /// (taken by the caller).
    pub(crate) fn render(&self, queue_depth: Option<u64>, malformed: u64) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let counters: [(&str, &str, u64); 12] = [
            (
                "blindmatch_vouchers_received_total",
                "Vouchers durably stored by intake.",
                g(&self.received),
            ),
            (
                "blindmatch_requests_accepted_total",
                "Intake requests answered 202.",
                g(&self.requests_accepted),
            ),
            (
                "blindmatch_requests_bad_total",
                "Intake requests answered 400 or 413.",
                g(&self.requests_bad),
            ),
            (
                "blindmatch_requests_limited_total",
                "Intake requests answered 429.",
                g(&self.requests_limited),
            ),
            (
                "blindmatch_requests_unavailable_total",
                "Intake requests answered 503.",
                g(&self.requests_unavailable),
            ),
            (
                "blindmatch_vouchers_opened_total",
                "Vouchers whose outer layer opened (real matches and synthetic alike).",
                g(&self.opened),
            ),
            (
                "blindmatch_vouchers_not_opened_total",
                "Vouchers that did not open (including malformed inner layers).",
                g(&self.not_opened),
            ),
            (
                "blindmatch_vouchers_malformed_inner_total",
                "Vouchers whose outer layer opened and inner layer did not (this process).",
                malformed,
            ),
            (
                "blindmatch_vouchers_refused_total",
                "Vouchers refused as structurally malformed.",
                g(&self.refused),
            ),
            (
                "blindmatch_vouchers_late_total",
                "Vouchers for a window not accepted any more.",
                g(&self.late),
            ),
            (
                "blindmatch_records_dropped_total",
                "Opened vouchers dropped because their account was at capacity.",
                g(&self.dropped),
            ),
            (
                "blindmatch_reveals_total",
                "Account windows that crossed the threshold (this process).",
                g(&self.reveals),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        if let Some(d) = queue_depth {
            let _ = writeln!(
                out,
                "# HELP blindmatch_queue_depth Vouchers stored and not yet opened.\n# TYPE blindmatch_queue_depth gauge\nblindmatch_queue_depth {d}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP blindmatch_store_seconds_total Time spent in store calls (wall), by call.\n# TYPE blindmatch_store_seconds_total counter"
        );
        for (kind, c) in ["enqueue", "claim", "file", "evaluate"]
            .iter()
            .zip(&self.store_us)
        {
            let _ = writeln!(
                out,
                "blindmatch_store_seconds_total{{call=\"{kind}\"}} {:.6}",
                g(c) as f64 / 1e6
            );
        }
        let _ = writeln!(
            out,
            "# HELP blindmatch_open_seconds_total Time spent opening vouchers (wall, summed over workers).\n# TYPE blindmatch_open_seconds_total counter\nblindmatch_open_seconds_total {:.6}",
            g(&self.open_us) as f64 / 1e6
        );
        let name = "blindmatch_open_latency_ms";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a voucher's receipt to its opening and filing.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (b, c) in BUCKETS_MS.iter().zip(&self.latency) {
            cumulative += g(c);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.latency.last().map_or(0, g);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", g(&self.latency_sum_ms));
        let _ = writeln!(out, "{name}_count {}", g(&self.latency_count));
        out
    }
}
