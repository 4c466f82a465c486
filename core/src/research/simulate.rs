//! Record-level simulation of accounts, on core's own key schedule
//! ([`super::simulated_record`]), accounts and decoder ([`crate::server::Account`]) — what
//! `blindmatch simulate` and the Python SDK run. For each number r of listed items an account
//! sends per window it measures the probability of a reveal, the mean number of opened records,
//! and the server's advantage in telling that account from one that sent no listed item:
//! - `count_exact`: from the count of distinct opened records in one window, computed exactly
//!   (binomial mixtures over the secret rate, integrated over 401 rates);
//! - `sampled`: over everything the server stores in all windows (distinct and total opened
//!   counts, re-sent records, the largest burst in 100 consecutive sends), the best threshold
//!   test's empirical advantage with a 95 % DKW interval — a sampled lower bound.

use super::simulated_record;
use crate::database::Database;
use crate::device::{Client, DevicePolicy};
use crate::error::Result;
use crate::hash::{HashKind, MediaHash};
use crate::keys::ClientKey;
use crate::params::Params;
use crate::server::{Account, BuildOptions, Outcome, ServerSecretKey};
use rand::{Rng, RngExt, SeedableRng};
use std::sync::Arc;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimulationOptions {
    /// The database parameters (T, s_max, rate range).
    pub params: Params,
    /// Distinct items an account sends per window.
    pub items: usize,
    /// Listed items sent per window, from..=to.
    pub matches: (usize, usize),
    /// Probability that an unlisted item is sent twice.
    pub resend: f64,
    /// Probability that a listed item is sent twice.
    pub listed_resend: f64,
    /// Windows per simulated account.
    pub windows: u64,
    /// Simulated accounts per number of matches.
    pub trials: usize,
    /// The decoder's limit beyond s_max (`None`: the server's default).
    pub decode_limit: Option<usize>,
    /// The seed: runs are reproducible.
    pub seed: u64,
}

/// The server's advantage measured over samples: the best threshold test on one feature.
#[derive(Clone, Debug, PartialEq)]
pub struct SampledAdvantage {
    /// The empirical advantage (largest CDF gap).
    pub statistic: f64,
    /// The feature it was measured on.
    pub feature: &'static str,
    /// A 95 % confidence interval (DKW on both samples).
    pub ci95: (f64, f64),
}

/// One row: r listed items per window.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationRow {
    /// r.
    pub matches: usize,
    /// Fraction of simulated accounts that revealed in some window.
    pub p_reveal: f64,
    /// Mean opened records (all windows, re-sends included).
    pub opened_mean: f64,
    /// Advantage vs none from the distinct opened count of one window, exact.
    pub count_exact: f64,
    /// Advantage vs none from everything stored, sampled (a lower bound with its interval).
    pub sampled: SampledAdvantage,
}

/// Run the simulation: one row per r in `opts.matches`.
///
/// # Errors
/// Only on invalid options (propagated from building the database or records).
pub fn simulate(opts: &SimulationOptions) -> Result<Vec<SimulationRow>> {
    let db = database(opts.params, opts.seed)?;
    // The baseline (no listed item) is simulated apart from every row, row 0 included.
    let zero = trials(opts, &db, 0, 1)?;
    (opts.matches.0..=opts.matches.1)
        .map(|r| Ok(row(opts, r, &trials(opts, &db, r, 0)?, &zero)))
        .collect()
}

/// What the server sees of one simulated account, and whether it revealed.
struct Trial {
    revealed: bool,
    features: [f64; 4],
}

const FEATURES: [&str; 4] = [
    "distinct opened",
    "total opened",
    "re-sent opened",
    "burst per 100 sends",
];

/// An empty database with the parameters (its list plays no part: the simulation says which
/// items are listed), every byte derived from the seed — server key, OKVS seed, table — so runs
/// are reproducible (the client context, and so every choice, depends on the root).
fn database(params: Params, seed: u64) -> Result<Arc<Database>> {
    let mut bytes = b"BMSK\x01\x00".to_vec();
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&[0; 23]);
    bytes.push(1);
    bytes.extend_from_slice(&[0x5A; 32]);
    let key = ServerSecretKey::from_bytes(&bytes)?;
    let d = BuildOptions::default();
    let public = key.public();
    let cells = crate::primitives::okvs::table_cells(0, d.expansion);
    let table: Vec<u8> = (1..=cells)
        .flat_map(|i| {
            curve25519_dalek::RistrettoPoint::mul_base(&curve25519_dalek::Scalar::from(i))
                .compress()
                .to_bytes()
        })
        .collect();
    let manifest = crate::database::Manifest {
        fuzzy: None,
        epoch: 1,
        created_unix: 0,
        cells,
        entries: 0,
        seed: [0; 32],
        blinding_point: *public.blinding_point_bytes(),
        verifying_key: *public.verifying_key().as_bytes(),
        params,
        schedule: d.schedule,
        kinds: HashKind::ALL.to_vec(),
        dst: d.dst,
        table_digest: [0; 32],
        min_sources: 1,
        sources: Vec::new(),
    };
    let file = crate::server::assemble(&key, manifest, &table)?;
    Ok(Arc::new(Database::open(file, &public, None)?))
}

fn item(trial: u64, window: u64, i: usize, listed: bool) -> Result<MediaHash> {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&trial.to_le_bytes());
    b[8..16].copy_from_slice(&window.to_le_bytes());
    b[16..24].copy_from_slice(&(i as u64).to_le_bytes());
    b[24] = u8::from(listed);
    MediaHash::new(HashKind::Sha256, &b)
}

fn trials(a: &SimulationOptions, db: &Arc<Database>, r: usize, salt: u64) -> Result<Vec<Trial>> {
    (0..a.trials)
        .map(|k| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(
                a.seed ^ (k as u64) << 20 ^ (r as u64) << 40 ^ salt << 62,
            );
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let key = ClientKey::import(&[b"BMCK\x01\x00".as_slice(), &seed].concat())?;
            let policy = DevicePolicy::permissive_for_tests();
            let client = Client::new(db.clone(), &key, b"sim", &policy)?;
            one_account(a, &client, r, &mut rng)
        })
        .collect()
}

fn one_account(
    a: &SimulationOptions,
    client: &Client,
    r: usize,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<Trial> {
    let params = a.params;
    let mut features = [0.0; 4];
    let mut revealed = false;
    let trial_id: u64 = rng.next_u64();
    for w in 0..a.windows {
        let mut acc = Account::new(params, w);
        if let Some(l) = a.decode_limit {
            acc.set_decode_limit(l);
        }
        // r listed items at random positions among the window's items.
        let listed: std::collections::HashSet<usize> =
            rand::seq::index::sample(rng, a.items.max(r), r)
                .into_iter()
                .collect();
        let mut opened_at: Vec<usize> = Vec::new();
        let mut sends = 0usize;
        for i in 0..a.items.max(r) {
            let is_listed = listed.contains(&i);
            let x = item(trial_id, w, i, is_listed)?;
            let p = if is_listed { a.listed_resend } else { a.resend };
            let copies = 1 + usize::from(rng.random_bool(p));
            for _ in 0..copies {
                sends += 1;
                if let Some(s) = simulated_record(client, &x, is_listed, b"i", b"", w, rng)? {
                    opened_at.push(sends);
                    acc.insert(s.record)?;
                }
            }
        }
        revealed |= matches!(acc.evaluate(), Outcome::Revealed { .. });
        features[0] += acc.distinct() as f64;
        features[1] += acc.opened() as f64;
        features[2] += (acc.opened() - acc.distinct()) as f64;
        features[3] = features[3].max(burst(&opened_at, 100) as f64);
    }
    Ok(Trial { revealed, features })
}

/// The most opened records among any `span` consecutive sends.
fn burst(opened_at: &[usize], span: usize) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, &t) in opened_at.iter().enumerate() {
        while opened_at[start] + span <= t {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

fn row(o: &SimulationOptions, r: usize, t: &[Trial], zero: &[Trial]) -> SimulationRow {
    let k = t.len().max(1) as f64;
    let (lo, hi) = o.params.rate_range();
    // DKW: each empirical CDF is within ε of the truth with probability 97.5 %.
    let eps = |n: usize| ((2.0f64 / 0.025).ln() / (2.0 * n.max(1) as f64)).sqrt();
    let (best, stat) = (0..FEATURES.len())
        .map(|f| (f, ks(t, zero, f)))
        .fold((0, 0.0), |b, x| if x.1 > b.1 { x } else { b });
    let margin = eps(t.len()) + eps(zero.len());
    SimulationRow {
        matches: r,
        p_reveal: t.iter().filter(|x| x.revealed).count() as f64 / k,
        opened_mean: t.iter().map(|x| x.features[1]).sum::<f64>() / k,
        count_exact: count_advantage(o.items.max(r), r, lo, hi),
        sampled: SampledAdvantage {
            statistic: stat,
            feature: FEATURES[best],
            ci95: ((stat - margin).max(0.0), (stat + margin).min(1.0)),
        },
    }
}

/// max over thresholds of |F_r(t) − F_0(t)| for one feature (the best threshold test).
fn ks(t: &[Trial], zero: &[Trial], f: usize) -> f64 {
    let mut a: Vec<f64> = t.iter().map(|x| x.features[f]).collect();
    let mut b: Vec<f64> = zero.iter().map(|x| x.features[f]).collect();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = a.iter().chain(&b).copied().collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let cdf = |v: &[f64], c: f64| v.partition_point(|x| *x <= c) as f64 / v.len().max(1) as f64;
    cuts.iter()
        .map(|&c| (cdf(&a, c) - cdf(&b, c)).abs())
        .fold(0.0, f64::max)
}

/// Total variation between the distinct opened count with r listed items among n,
/// r + Bin(n − r, q), and with none, Bin(n, q), q uniform on [lo, hi].
pub fn count_advantage(n: usize, r: usize, lo: f64, hi: f64) -> f64 {
    let grid = if lo == hi { 1 } else { 401 };
    let mut with = vec![0.0; n + 1];
    let mut without = vec![0.0; n + 1];
    for g in 0..grid {
        let q = if grid == 1 {
            lo
        } else {
            lo + (hi - lo) * (g as f64 + 0.5) / grid as f64
        };
        add_binomial(&mut with, n - r, q, r, 1.0 / grid as f64);
        add_binomial(&mut without, n, q, 0, 1.0 / grid as f64);
    }
    0.5 * with
        .iter()
        .zip(&without)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
}

/// Add `weight · P(Bin(m, q) = k)` at index `shift + k`, over the non-negligible k.
fn add_binomial(out: &mut [f64], m: usize, q: f64, shift: usize, weight: f64) {
    if q <= 0.0 {
        out[shift] += weight;
        return;
    }
    let mean = m as f64 * q;
    let sd = (mean * (1.0 - q)).sqrt();
    let lo = (mean - 12.0 * sd - 12.0).max(0.0) as usize;
    let hi = ((mean + 12.0 * sd + 12.0) as usize).min(m);
    let ln = |k: usize| {
        ln_gamma(m as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((m - k) as f64 + 1.0)
            + k as f64 * q.ln()
            + (m - k) as f64 * (1.0 - q).ln()
    };
    for k in lo..=hi {
        out[shift + k] += weight * ln(k).exp();
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let s = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_is_exact_enough() {
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-10);
        assert!(ln_gamma(1.0).abs() < 1e-12);
    }

    #[test]
    fn simulation_is_reproducible_and_never_reveals_below_t() {
        let opts = SimulationOptions {
            params: Params::new(4, 3, 10_000, 10_000).unwrap(),
            items: 200,
            matches: (2, 6),
            resend: 0.2,
            listed_resend: 0.2,
            windows: 2,
            trials: 12,
            decode_limit: None,
            seed: 7,
        };
        let a = simulate(&opts).unwrap();
        assert_eq!(a, simulate(&opts).unwrap());
        for row in &a {
            if row.matches < 4 {
                assert_eq!(row.p_reveal, 0.0, "revealed below T at {}", row.matches);
            }
            assert!(row.sampled.ci95.0 <= row.sampled.statistic);
            assert!((0.0..=1.0).contains(&row.count_exact));
        }
        assert!(a.last().unwrap().p_reveal > 0.5);
    }
}
