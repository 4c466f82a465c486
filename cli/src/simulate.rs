//! `blindmatch simulate`: accounts at the record level, built on core's own key schedule
//! (`research::simulated_record`: the device's real/synthetic choice and record values) and
//! core's own accounts and decoder (`server::Account`). For each number of listed items sent
//! it reports the probability of a reveal, the mean number of opened records, and the server's
//! advantage in telling that account from one that sent no listed item:
//! - `count_exact`: from the count of distinct opened records in one window, computed exactly
//!   (binomial mixtures over the secret rate, by numerical integration over 401 rates);
//! - `sampled`: from the records the server stores over all windows (distinct and total
//!   opened counts, re-sends, the largest burst of opened records in 100 consecutive sends),
//!   the best threshold test's empirical advantage with a 95 % DKW confidence interval — a
//!   sampled lower bound on what a server can do.

use crate::commands::parse_range;
use crate::fail::{Context, Fail, Result};
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use rand::{Rng, RngExt, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;

/// `blindmatch simulate` arguments.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// T [default: core's].
    #[arg(long)]
    threshold: Option<u32>,
    /// s_max [default: core's].
    #[arg(long)]
    smax: Option<u32>,
    /// One fixed synthetic rate.
    #[arg(long, conflicts_with = "rate_range")]
    rate: Option<f64>,
    /// The synthetic-rate range LO..HI [default: core's].
    #[arg(long)]
    rate_range: Option<String>,
    /// Distinct items an account sends per window.
    #[arg(long, default_value_t = 2000)]
    items: usize,
    /// Listed items sent per window: A..B (inclusive).
    #[arg(long, default_value = "0..31")]
    matches: String,
    /// Probability that an unlisted item is sent twice (forwarded).
    #[arg(long, default_value_t = 0.1)]
    resend: f64,
    /// Probability that a listed item is sent twice [default: --resend].
    #[arg(long)]
    listed_resend: Option<f64>,
    /// Windows per simulated account.
    #[arg(long, default_value_t = 1)]
    windows: u64,
    /// Simulated accounts per number of matches.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Synthetic records the decoder looks for beyond s_max [default: core's].
    #[arg(long)]
    decode_limit: Option<usize>,
    /// RNG seed (runs are reproducible).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    json: bool,
    /// Write a chart (SVG) of P(reveal) and advantage by matches.
    #[arg(long)]
    chart: Option<PathBuf>,
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

pub fn run(a: &SimulateArgs) -> Result<()> {
    let params = params(a)?;
    let (lo_m, hi_m) = parse_matches(&a.matches)?;
    let db = database(params, a.seed)?;
    let listed_resend = a.listed_resend.unwrap_or(a.resend);
    // The baseline (no listed item) is simulated apart from every row, row 0 included.
    let zero = trials(a, &db, params, 0, listed_resend, 1)?;
    let mut rows = Vec::new();
    for r in lo_m..=hi_m {
        let t = trials(a, &db, params, r, listed_resend, 0)?;
        rows.push(row(a, params, r, &t, &zero));
    }
    let (lo, hi) = params.rate_range();
    let out = serde_json::json!({
        "params": {
            "threshold": params.threshold(), "s_max": params.s_max(), "rate_range": [lo, hi],
            "items": a.items, "resend": a.resend, "listed_resend": listed_resend,
            "windows": a.windows, "trials": a.trials, "seed": a.seed,
        },
        "by_matches": rows,
    });
    if let Some(path) = &a.chart {
        crate::files::write_atomic(path, chart(&rows).as_bytes(), false)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out).what("json")?);
    } else {
        print_table(&out);
    }
    Ok(())
}

fn params(a: &SimulateArgs) -> Result<Params> {
    let d = Params::default();
    let (lo, hi) = match (&a.rate, &a.rate_range) {
        (Some(r), _) => (*r, *r),
        (None, Some(r)) => parse_range(r)?,
        (None, None) => d.rate_range(),
    };
    Params::with_rate_range(
        a.threshold.unwrap_or(d.threshold()),
        a.smax.unwrap_or(d.s_max()),
        lo,
        hi,
    )
    .what("parameters")
}

fn parse_matches(text: &str) -> Result<(usize, usize)> {
    let bad = || Fail::msg("--matches: expected A..B, e.g. 0..31");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// A database with the parameters (its list plays no part: the simulation says which items
/// are listed) under a server key derived from the seed, so runs are reproducible (the client
/// context, and so every choice, depends on the server key).
fn database(params: Params, seed: u64) -> Result<Arc<Database>> {
    let mut bytes = b"BMSK\x01\x00".to_vec();
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&[0; 23]);
    bytes.push(1);
    bytes.extend_from_slice(&[0x5A; 32]);
    let key = ServerSecretKey::from_bytes(&bytes).what("server key")?;
    let opts = BuildOptions {
        params,
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(&key, &[], &opts).what("database")?;
    Ok(Arc::new(
        Database::open(bytes, &key.public(), None).what("database")?,
    ))
}

fn item(trial: u64, window: u64, i: usize, listed: bool) -> Result<MediaHash> {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&trial.to_le_bytes());
    b[8..16].copy_from_slice(&window.to_le_bytes());
    b[16..24].copy_from_slice(&(i as u64).to_le_bytes());
    b[24] = u8::from(listed);
    MediaHash::new(HashKind::Sha256, &b).what("item")
}

fn trials(
    a: &SimulateArgs,
    db: &Arc<Database>,
    params: Params,
    r: usize,
    listed_resend: f64,
    salt: u64,
) -> Result<Vec<Trial>> {
    (0..a.trials)
        .map(|k| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(
                a.seed ^ (k as u64) << 20 ^ (r as u64) << 40 ^ salt << 62,
            );
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let key = ClientKey::import(&[b"BMCK\x01\x00".as_slice(), &seed].concat())
                .what("client key")?;
            let policy = DevicePolicy::permissive_for_tests();
            let client = Client::new(db.clone(), &key, b"sim", &policy).what("client")?;
            one_account(a, &client, params, r, listed_resend, &mut rng)
        })
        .collect()
}

fn one_account(
    a: &SimulateArgs,
    client: &Client,
    params: Params,
    r: usize,
    listed_resend: f64,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<Trial> {
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
            let p = if is_listed { listed_resend } else { a.resend };
            let copies = 1 + usize::from(rng.random_bool(p));
            for _ in 0..copies {
                sends += 1;
                if let Some(s) =
                    simulated_record(client, &x, is_listed, b"i", b"", w, rng).what("record")?
                {
                    opened_at.push(sends);
                    acc.insert(s.record).what("account")?;
                }
            }
        }
        revealed |= matches!(acc.evaluate(), Ok(Outcome::Revealed { .. }));
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

fn row(
    a: &SimulateArgs,
    params: Params,
    r: usize,
    t: &[Trial],
    zero: &[Trial],
) -> serde_json::Value {
    let k = t.len().max(1) as f64;
    let p_reveal = t.iter().filter(|x| x.revealed).count() as f64 / k;
    let opened_mean = t.iter().map(|x| x.features[1]).sum::<f64>() / k;
    let (lo, hi) = params.rate_range();
    let exact = count_advantage(a.items.max(r), r, lo, hi);
    // DKW: each empirical CDF is within ε of the truth with probability 97.5 %.
    let eps = |n: usize| ((2.0f64 / 0.025).ln() / (2.0 * n.max(1) as f64)).sqrt();
    let (best, stat) = (0..FEATURES.len())
        .map(|f| (f, ks(t, zero, f)))
        .fold((0, 0.0), |b, x| if x.1 > b.1 { x } else { b });
    let margin = eps(t.len()) + eps(zero.len());
    serde_json::json!({
        "matches": r,
        "p_reveal": p_reveal,
        "opened_mean": opened_mean,
        "advantage_vs_zero": {
            "count_exact": exact,
            "sampled": {
                "statistic": stat,
                "feature": FEATURES[best],
                "ci95": [(stat - margin).max(0.0), (stat + margin).min(1.0)],
                "lower_bound_95": (stat - margin).max(0.0),
            },
        },
    })
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

fn print_table(out: &serde_json::Value) {
    println!("{}", out["params"]);
    println!(
        "matches  P(reveal)  opened  adv(count, exact)  adv(sampled)  95% CI          best feature"
    );
    for r in out["by_matches"].as_array().into_iter().flatten() {
        let s = &r["advantage_vs_zero"]["sampled"];
        println!(
            "{:>7}  {:>9.3}  {:>6.1}  {:>17.3}  {:>12.3}  [{:.3}, {:.3}]  {}",
            r["matches"],
            r["p_reveal"].as_f64().unwrap_or(0.0),
            r["opened_mean"].as_f64().unwrap_or(0.0),
            r["advantage_vs_zero"]["count_exact"]
                .as_f64()
                .unwrap_or(0.0),
            s["statistic"].as_f64().unwrap_or(0.0),
            s["ci95"][0].as_f64().unwrap_or(0.0),
            s["ci95"][1].as_f64().unwrap_or(0.0),
            s["feature"].as_str().unwrap_or("")
        );
    }
}

/// P(reveal) and the exact count advantage by matches, as an SVG line chart.
fn chart(rows: &[serde_json::Value]) -> String {
    let (w, h, pad) = (640.0, 360.0, 48.0);
    let max_r = rows
        .last()
        .and_then(|r| r["matches"].as_f64())
        .unwrap_or(1.0)
        .max(1.0);
    let x = |r: f64| pad + (w - 2.0 * pad) * r / max_r;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v;
    let line = |key: &dyn Fn(&serde_json::Value) -> f64| {
        rows.iter()
            .map(|r| {
                format!(
                    "{:.1},{:.1}",
                    x(r["matches"].as_f64().unwrap_or(0.0)),
                    y(key(r))
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let reveal = line(&|r| r["p_reveal"].as_f64().unwrap_or(0.0));
    let adv = line(&|r| {
        r["advantage_vs_zero"]["count_exact"]
            .as_f64()
            .unwrap_or(0.0)
    });
    let sampled = line(&|r| {
        r["advantage_vs_zero"]["sampled"]["lower_bound_95"]
            .as_f64()
            .unwrap_or(0.0)
    });
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<line x1="{pad}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>
<line x1="{pad}" y1="{y0}" x2="{pad}" y2="{pad}" stroke="black"/>
<text x="{pad}" y="{ty}">0</text><text x="{x1}" y="{ty}" text-anchor="end">{max_r} listed items sent</text>
<text x="8" y="{pad}">1.0</text>
<polyline points="{reveal}" fill="none" stroke="#c0392b" stroke-width="2"/>
<polyline points="{adv}" fill="none" stroke="#2471a3" stroke-width="2"/>
<polyline points="{sampled}" fill="none" stroke="#2471a3" stroke-width="1" stroke-dasharray="4 3"/>
<text x="{lx}" y="20" fill="#c0392b">P(reveal)</text>
<text x="{lx}" y="36" fill="#2471a3">advantage vs none: count, exact (solid); sampled lower bound (dashed)</text>
</svg>
"##,
        y0 = h - pad,
        x1 = w - pad,
        ty = h - pad + 16.0,
        lx = pad + 8.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_advantage_is_a_distance() {
        assert!(count_advantage(1000, 0, 0.01, 0.01).abs() < 1e-9);
        let one = count_advantage(2000, 1, 0.01, 0.01);
        let many = count_advantage(2000, 29, 0.01, 0.01);
        assert!(one > 0.0 && one < many && many <= 1.0 + 1e-9);
        // A secret rate hides more than a fixed one.
        assert!(
            count_advantage(10_000, 29, 0.005, 0.015) < count_advantage(10_000, 29, 0.01, 0.01)
        );
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-10);
    }
}
