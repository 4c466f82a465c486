//! `blindmatch simulate`: flags, JSON, table and chart over core's record-level simulation
//! (`research::simulate`, also what the Python SDK calls): for each number of listed items
//! sent, the probability of a reveal, the mean number of opened records, and the server's
//! advantage vs an account with none — `count_exact` (exact, from the count) and `sampled` (a
//! lower bound over everything the server stores, with a 95 % interval).
//!
//! `--fuzzy`: for fuzzy databases, the server also sees how many outer layers each opened
//! bundle opened. For an account of n items of which k are real near-duplicate matches, the
//! advantage of the optimal (likelihood-ratio) test telling it from an account with none, given
//! the number of opened records and their open counts, per edit mix: real matches open a count
//! from the mix's measured histogram (`eval-fuzzy --protocol`), synthetic bundles one from D.

use crate::commands::parse_range;
use crate::fail::{Context, Fail, Result};
use blindmatch_core::Params;
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::research::{SimulationOptions, SimulationRow, count_advantage, simulate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

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
    #[arg(long, conflicts_with = "fuzzy")]
    chart: Option<PathBuf>,
    /// Fuzzy databases: the advantage from the open counts of the opened bundles (and their
    /// number), per edit mix, for --fuzzy-matches real near-duplicates among --items.
    #[arg(long)]
    fuzzy: bool,
    /// --fuzzy: open-count histograms, the JSON of `eval-fuzzy --protocol --json-file`
    /// [default: built in, measured on the four PDQ reference images].
    #[arg(long, requires = "fuzzy")]
    fuzzy_histograms: Option<PathBuf>,
    /// --fuzzy: real near-duplicate matches per account (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,5,10,20,29")]
    fuzzy_matches: Vec<usize>,
    /// --fuzzy: simulated accounts per (mix, matches).
    #[arg(long, default_value_t = 20_000)]
    fuzzy_trials: usize,
}

pub fn run(a: &SimulateArgs) -> Result<()> {
    if a.fuzzy {
        return run_fuzzy(a);
    }
    let params = params(a)?;
    let listed_resend = a.listed_resend.unwrap_or(a.resend);
    let opts = SimulationOptions {
        params,
        items: a.items,
        matches: parse_matches(&a.matches)?,
        resend: a.resend,
        listed_resend,
        windows: a.windows,
        trials: a.trials,
        decode_limit: a.decode_limit,
        seed: a.seed,
    };
    let rows: Vec<serde_json::Value> = simulate(&opts)
        .what("simulation")?
        .iter()
        .map(row_json)
        .collect();
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

fn row_json(r: &SimulationRow) -> serde_json::Value {
    let s = &r.sampled;
    serde_json::json!({
        "matches": r.matches,
        "p_reveal": r.p_reveal,
        "opened_mean": r.opened_mean,
        "advantage_vs_zero": {
            "count_exact": r.count_exact,
            "sampled": {
                "statistic": s.statistic,
                "feature": s.feature,
                "ci95": [s.ci95.0, s.ci95.1],
                "lower_bound_95": s.ci95.0,
            },
        },
    })
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

/// Open counts measured by `eval-fuzzy --protocol` on the four PDQ reference images
/// (`core/tests/data/pdq`, every picture listed, the default edits; see docs/FUZZY.md).
const BUILTIN_HISTOGRAMS: &str = include_str!("fuzzy_eval/reference-open-counts.json");

/// The layout (so D) and the open-count distribution of real matches per edit mix.
struct OpenCounts {
    layout: FuzzyLayout,
    source: String,
    /// (mix, P(c layers open) for c = 1, 2, …).
    mixes: Vec<(String, Vec<f64>)>,
}

fn open_counts(path: Option<&Path>) -> Result<OpenCounts> {
    let (text, source) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| Fail::file(p, e))?,
            p.display().to_string(),
        ),
        None => (
            BUILTIN_HISTOGRAMS.to_string(),
            "built in (four PDQ reference images)".to_string(),
        ),
    };
    let bad = |what: &str| Fail::msg(format!("{source}: {what}"));
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let p = v.get("protocol").unwrap_or(&v);
    let field = |k: &str| {
        p["layout"][k]
            .as_u64()
            .and_then(|x| u8::try_from(x).ok())
            .ok_or_else(|| bad(&format!("no layout.{k}")))
    };
    let layout = FuzzyLayout::new(field("bands")?, field("band_bits")?, field("probes")?)
        .map_err(|e| bad(&e.to_string()))?;
    let mixes: Vec<(String, Vec<f64>)> = p["mixes"]
        .as_array()
        .ok_or_else(|| bad("no mixes"))?
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap_or("?").to_string();
            let h: Option<Vec<f64>> = m["histogram"]
                .as_array()
                .and_then(|h| h.iter().map(serde_json::Value::as_f64).collect());
            let h = h.filter(|h| !h.is_empty() && h.iter().all(|x| *x >= 0.0));
            let h = h.ok_or_else(|| bad(&format!("mix {name}: no histogram")))?;
            let total: f64 = h.iter().sum();
            Ok((name, h.iter().map(|x| x / total).collect()))
        })
        .collect::<Result<_>>()?;
    if mixes.is_empty() {
        return Err(bad("no mixes"));
    }
    Ok(OpenCounts {
        layout,
        source,
        mixes,
    })
}

fn run_fuzzy(a: &SimulateArgs) -> Result<()> {
    let params = params(a)?;
    let (lo, hi) = params.rate_range();
    let counts = open_counts(a.fuzzy_histograms.as_deref())?;
    let d = counts.layout.open_count_pmf();
    let n = a.items;
    let ks: Vec<usize> = a
        .fuzzy_matches
        .iter()
        .copied()
        .filter(|&k| k <= n)
        .collect();
    let count_only: Vec<f64> = ks.iter().map(|&k| count_advantage(n, k, lo, hi)).collect();
    let mixes: Vec<serde_json::Value> = counts
        .mixes
        .iter()
        .enumerate()
        .map(|(mi, (name, h))| {
            let cells: Vec<serde_json::Value> = ks
                .par_iter()
                .map(|&k| {
                    let seed = a.seed ^ (mi as u64) << 32 ^ (k as u64) << 48;
                    let (adv, se) = fuzzy_advantage(n, k, (lo, hi), h, &d, a.fuzzy_trials, seed);
                    serde_json::json!({"matches": k, "advantage": adv, "standard_error": se})
                })
                .collect();
            serde_json::json!({
                "mix": name,
                "histogram": h,
                "tv_per_record": total_variation(h, &d),
                "by_matches": cells,
            })
        })
        .collect();
    let l = counts.layout;
    let out = serde_json::json!({
        "layout": {"bands": l.bands(), "band_bits": l.band_bits(), "probes": l.probes()},
        "d": d,
        "histograms": counts.source,
        "items": n,
        "rate_range": [lo, hi],
        "trials": a.fuzzy_trials,
        "seed": a.seed,
        "count_only": ks.iter().zip(&count_only).map(|(k, c)| serde_json::json!({"matches": k, "advantage": c})).collect::<Vec<_>>(),
        "mixes": mixes,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out).what("json")?);
        return Ok(());
    }
    println!(
        "fuzzy layout L = {}, b = {}, P = {}: D = {}; open counts of real matches: {}",
        l.bands(),
        l.band_bits(),
        l.probes(),
        d.iter()
            .map(|p| format!("{:.1}%", 100.0 * p))
            .collect::<Vec<_>>()
            .join(" "),
        counts.source
    );
    println!(
        "{n} items per window, synthetic rate {:.2}–{:.2} % (secret, uniform), {} simulated \
         accounts per cell. Advantage of the optimal test (likelihood ratio on the number of \
         opened records and their open counts) vs an account with no match, for k real \
         near-duplicates:",
        100.0 * lo,
        100.0 * hi,
        a.fuzzy_trials
    );
    print!("{:<14} {:>9}", "mix", "TV/record");
    for k in &ks {
        print!(" {:>7}", format!("k={k}"));
    }
    println!();
    print!("{:<14} {:>9}", "count only", "-");
    for c in &count_only {
        print!(" {c:>7.3}");
    }
    println!();
    let mut se_max: f64 = 0.0;
    for m in &mixes {
        print!(
            "{:<14} {:>9.3}",
            m["mix"].as_str().unwrap_or(""),
            m["tv_per_record"].as_f64().unwrap_or(0.0)
        );
        for c in m["by_matches"].as_array().into_iter().flatten() {
            print!(" {:>7.3}", c["advantage"].as_f64().unwrap_or(0.0));
            se_max = se_max.max(c["standard_error"].as_f64().unwrap_or(0.0));
        }
        println!();
    }
    println!("(Monte Carlo standard error ≤ {se_max:.4}; \"count only\" is exact)");
    Ok(())
}

/// Total-variation distance between two distributions over 1, 2, … (missing entries are 0).
fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(b.len());
    0.5 * (0..n)
        .map(|i| (a.get(i).unwrap_or(&0.0) - b.get(i).unwrap_or(&0.0)).abs())
        .sum::<f64>()
}

/// ln k! for k = 0..=n.
fn ln_factorials(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    out.push(0.0);
    for k in 1..=n {
        acc += (k as f64).ln();
        out.push(acc);
    }
    out
}

/// P(Bin(n, p) = k).
fn binomial_pmf(lf: &[f64], n: usize, k: usize, p: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    if p <= 0.0 || p >= 1.0 {
        let certain = if p <= 0.0 { 0 } else { n };
        return f64::from(u8::from(k == certain));
    }
    (lf[n] - lf[k] - lf[n - k] + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp()
}

/// Draw from a distribution over 0, 1, … given by its CDF.
fn draw(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u)
        .min(cdf.len().saturating_sub(1))
}

fn cdf_of(p: &[f64]) -> Vec<f64> {
    let total: f64 = p.iter().sum();
    p.iter()
        .scan(0.0, |acc, x| {
            *acc += x / total;
            Some(*acc)
        })
        .collect()
}

/// The total-variation distance between what the server sees of an account of `n` items
/// with `k` real near-duplicates and of one with none — the number m of opened records and
/// their open counts — estimated over `trials` accounts drawn with k (so the advantage of the
/// optimal test, the likelihood ratio Λ; TV = E₁[(1 − 1/Λ)⁺]). The secret synthetic rate is
/// uniform over `rate` (a 41-point grid), every item is synthetic with that rate, a synthetic
/// bundle opens a count drawn from `d`, a real match one drawn from `h`. With counts x₁…x_m
/// and ρᵢ = h(xᵢ)/d(xᵢ), Λ = Σⱼ e_j(ρ)/C(m, j) · P₁(J = j, M = m) / P₀(M = m), e_j the
/// elementary symmetric polynomials. Returns the estimate and its standard error.
fn fuzzy_advantage(
    n: usize,
    k: usize,
    rate: (f64, f64),
    h: &[f64],
    d: &[f64],
    trials: usize,
    seed: u64,
) -> (f64, f64) {
    let (lo, hi) = rate;
    let grid = if lo == hi { 1 } else { 41 };
    let rates: Vec<f64> = (0..grid)
        .map(|g| lo + (hi - lo) * (g as f64 + 0.5) / grid as f64)
        .collect();
    let lf = ln_factorials(n);
    let width = h.len().max(d.len());
    let rho: Vec<f64> = (0..width)
        .map(|c| {
            let (hc, dc) = (*h.get(c).unwrap_or(&0.0), *d.get(c).unwrap_or(&0.0));
            if dc > 0.0 {
                hc / dc
            } else if hc > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let (h_cdf, d_cdf) = (cdf_of(h), cdf_of(d));
    // Synthetic records among the n − k unlisted items, per rate: CDF of Bin(n − k, r).
    let s_cdf: Vec<Vec<f64>> = rates
        .iter()
        .map(|&r| {
            cdf_of(
                &(0..=n - k)
                    .map(|s| binomial_pmf(&lf, n - k, s, r))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut memo: std::collections::HashMap<usize, (Vec<f64>, f64)> = Default::default();
    let mut weights = |m: usize| -> (Vec<f64>, f64) {
        memo.entry(m)
            .or_insert_with(|| {
                let g = grid as f64;
                let a: Vec<f64> = (0..=k.min(m))
                    .map(|j| {
                        rates
                            .iter()
                            .map(|&r| {
                                binomial_pmf(&lf, k, j, 1.0 - r)
                                    * binomial_pmf(&lf, n - k, m - k, r)
                            })
                            .sum::<f64>()
                            / g
                            / (lf[m] - lf[j] - lf[m - j]).exp()
                    })
                    .collect();
                let b = rates
                    .iter()
                    .map(|&r| binomial_pmf(&lf, n, m, r))
                    .sum::<f64>()
                    / g;
                (a, b)
            })
            .clone()
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (mut sum, mut sum2) = (0.0, 0.0);
    let mut e = vec![0.0; k + 1];
    for _ in 0..trials {
        let g = rng.random_range(0..grid);
        let r = rates[g];
        let j = (0..k).filter(|_| rng.random::<f64>() >= r).count();
        let m = k + draw(&s_cdf[g], rng.random::<f64>());
        e.iter_mut().for_each(|x| *x = 0.0);
        e[0] = 1.0;
        let mut certain = false;
        for i in 0..m {
            let cdf = if i < j { &h_cdf } else { &d_cdf };
            let c = draw(cdf, rng.random::<f64>());
            let p = rho[c];
            if p.is_infinite() {
                certain = true;
                break;
            }
            for t in (1..=k.min(i + 1)).rev() {
                e[t] += e[t - 1] * p;
            }
        }
        let term = if certain {
            1.0
        } else {
            let (a, b) = weights(m);
            let lr: f64 = a.iter().zip(&e).map(|(w, x)| w * x).sum::<f64>() / b;
            if lr.is_finite() {
                (1.0 - 1.0 / lr).max(0.0)
            } else {
                1.0
            }
        };
        sum += term;
        sum2 += term * term;
    }
    let t = trials.max(1) as f64;
    let mean = sum / t;
    (mean, ((sum2 / t - mean * mean).max(0.0) / t).sqrt())
}

#[cfg(test)]
mod tests {
    use super::{fuzzy_advantage, total_variation};
    use blindmatch_core::research::count_advantage;

    #[test]
    fn fuzzy_advantage_is_the_count_advantage_when_real_counts_look_synthetic() {
        let d = blindmatch_core::fuzzy::FuzzyLayout::RECOMMENDED.open_count_pmf();
        for k in [1, 5, 20] {
            let (adv, se) = fuzzy_advantage(500, k, (0.005, 0.015), &d, &d, 20_000, 3);
            let exact = count_advantage(500, k, 0.005, 0.015);
            assert!(
                (adv - exact).abs() < 4.0 * se + 0.01,
                "k={k}: {adv} vs {exact}"
            );
        }
    }

    #[test]
    fn fuzzy_advantage_grows_with_k_and_counts_beyond_l_give_it_away() {
        let d = [0.2, 0.3, 0.3, 0.1, 0.05, 0.05];
        // Real matches open (nearly) every band.
        let h = [0.0, 0.0, 0.0, 0.0, 0.1, 0.9];
        assert!((total_variation(&h, &d) - 0.9).abs() < 1e-12);
        let (a1, _) = fuzzy_advantage(1000, 1, (0.005, 0.015), &h, &d, 4000, 1);
        let (a10, _) = fuzzy_advantage(1000, 10, (0.005, 0.015), &h, &d, 4000, 1);
        assert!(a1 > count_advantage(1000, 1, 0.005, 0.015));
        assert!(a10 > a1 && a10 <= 1.0);
        // A count above L never comes from a synthetic bundle.
        let (beyond, _) = fuzzy_advantage(
            1000,
            2,
            (0.01, 0.01),
            &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            &d,
            2000,
            1,
        );
        assert!(beyond > 0.98, "{beyond}");
    }

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
    }
}
