//! `blindmatch simulate`: flags, JSON, table and chart over core's record-level simulation
//! (`research::simulate`, also what the Python SDK calls): for each number of listed items
//! sent, the probability of a reveal, the mean number of opened records, and the server's
//! advantage vs an account with none — `count_exact` (exact, from the count) and `sampled` (a
//! lower bound over everything the server stores, with a 95 % interval).

use crate::commands::parse_range;
use crate::fail::{Context, Fail, Result};
use blindmatch_core::Params;
use blindmatch_core::research::{SimulationOptions, SimulationRow, simulate};
use std::path::PathBuf;

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

pub fn run(a: &SimulateArgs) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use blindmatch_core::research::count_advantage;

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
