//! The research API: core's record-level simulation of accounts (`research::simulate`), for
//! researchers measuring what the server learns below the threshold — the same computation
//! as `blindmatch simulate`. CPU-bound for seconds to minutes: call it off the main thread.

use crate::device::DatabaseParams;
use crate::error::{Result, guard};
use blindmatch_core::research;
use std::sync::Arc;

/// One row of a simulation: an account that sends `matches` listed items per window.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SimulationRow {
    /// Listed items sent per window (some are synthetic by the account's own coin).
    pub matches: u64,
    /// Fraction of simulated accounts that revealed in some window.
    pub p_reveal: f64,
    /// Mean opened records per account (all windows, re-sends included).
    pub opened_mean: f64,
    /// The server's advantage vs an account with no listed item, from the count of distinct
    /// opened records in one window, computed exactly.
    pub advantage_count_exact: f64,
    /// The same advantage over everything the server stores, sampled: the best threshold
    /// test's statistic (a lower bound, with its 95 % interval below).
    pub advantage_sampled: f64,
    /// The feature the sampled advantage was measured on.
    pub advantage_sampled_feature: String,
    /// Lower end of the sampled advantage's 95 % interval.
    pub advantage_sampled_ci95_low: f64,
    /// Upper end of the sampled advantage's 95 % interval.
    pub advantage_sampled_ci95_high: f64,
}

/// Simulate accounts with `params`, each sending `items` distinct items per window for
/// `windows` windows, `matches_from..=matches_to` of them listed; `resend` and
/// `listed_resend` are the probabilities that an unlisted or a listed item is sent twice;
/// `trials` accounts per row; reproducible from `seed`.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn simulate(
    params: Arc<DatabaseParams>,
    items: u64,
    matches_from: u64,
    matches_to: u64,
    resend: f64,
    listed_resend: f64,
    windows: u64,
    trials: u64,
    seed: u64,
) -> Result<Vec<SimulationRow>> {
    guard(|| {
        let bad = |what: &str| crate::error::bad_input(what);
        let usize_of = |v: u64, what: &str| usize::try_from(v).map_err(|_| bad(what));
        if !(0.0..=1.0).contains(&resend) || !(0.0..=1.0).contains(&listed_resend) {
            return Err(bad("re-send probabilities must be in [0, 1]"));
        }
        if matches_from > matches_to || trials == 0 || windows == 0 {
            return Err(bad("matches_from ≤ matches_to, trials ≥ 1, windows ≥ 1"));
        }
        let opts = research::SimulationOptions {
            params: params.inner,
            items: usize_of(items, "items")?,
            matches: (
                usize_of(matches_from, "matches")?,
                usize_of(matches_to, "matches")?,
            ),
            resend,
            listed_resend,
            windows,
            trials: usize_of(trials, "trials")?,
            decode_limit: None,
            seed,
        };
        Ok(research::simulate(&opts)?
            .into_iter()
            .map(|r| SimulationRow {
                matches: r.matches as u64,
                p_reveal: r.p_reveal,
                opened_mean: r.opened_mean,
                advantage_count_exact: r.count_exact,
                advantage_sampled: r.sampled.statistic,
                advantage_sampled_feature: r.sampled.feature.to_owned(),
                advantage_sampled_ci95_low: r.sampled.ci95.0,
                advantage_sampled_ci95_high: r.sampled.ci95.1,
            })
            .collect())
    })
}
