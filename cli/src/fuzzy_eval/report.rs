//! The report: per-edit recall of the configured (L, b, P), its false matches, the collision
//! curve and its fit, the Pareto table of a sweep and a recommendation; as text, JSON or SVG.

use super::{Baseline, Corpus, Curve, Dihedral, EvalFuzzyArgs, FalseMatches, Row};
use crate::fail::{Context, Result};
use crate::imaging::xml_escape;
use std::fmt::Write as _;

/// Issue #14's budgets and goals.
const MAX_K: usize = 85;
const MAX_ENTRIES: usize = 8;
const FALSE_MATCH_GOAL: f64 = 1e-4;
const RELATIVE_GOAL: f64 = 0.9;

pub struct Report<'a> {
    pub args: &'a EvalFuzzyArgs,
    pub corpus: &'a Corpus,
    pub baselines: &'a [Baseline],
    pub curve: &'a Curve,
    pub rows: &'a [Row],
}

fn pct(n: usize, total: usize) -> f64 {
    100.0 * n as f64 / total.max(1) as f64
}

impl Report<'_> {
    fn n(&self) -> usize {
        self.corpus.pictures.len()
    }

    /// The baseline a row is compared with: PDQ ≤ 31 with the same dihedral handling.
    fn baseline(&self, row: &Row, e: usize) -> usize {
        let b = &self.baselines[e];
        if row.dihedral == Dihedral::Off {
            b.within
        } else {
            b.within_dihedral
        }
    }

    fn relative(&self, row: &Row, e: usize) -> Option<f64> {
        let base = self.baseline(row, e);
        (base > 0).then(|| row.recall[e] as f64 / base as f64)
    }

    /// The smallest relative recall over the goal edits (1 when there are none).
    fn goal_relative(&self, row: &Row) -> f64 {
        self.corpus
            .edits
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_goal())
            .filter_map(|(i, _)| self.relative(row, i))
            .fold(1.0, f64::min)
    }

    /// Mean identity stability over the goal edits.
    fn goal_identity(&self, row: &Row) -> f64 {
        let goals: Vec<usize> = (0..self.corpus.edits.len())
            .filter(|&i| self.corpus.edits[i].is_goal())
            .collect();
        goals
            .iter()
            .map(|&i| pct(row.identity[i], self.n()))
            .sum::<f64>()
            / goals.len().max(1) as f64
    }

    fn false_matches(&self, row: &Row) -> FalseMatches {
        row.false_matches(
            self.n(),
            self.args.list_size,
            self.fallback_calibration(row),
        )
    }

    /// For a row with too few measured false hits: the largest calibration measured at the
    /// same probe count, else at any, else 1.
    fn fallback_calibration(&self, row: &Row) -> f64 {
        let max = |same_p: bool| {
            self.rows
                .iter()
                .filter(|r| !same_p || r.probes == row.probes)
                .filter_map(Row::calibration)
                .reduce(f64::max)
        };
        max(true).or_else(|| max(false)).unwrap_or(1.0)
    }

    fn in_budget(row: &Row) -> bool {
        row.k() <= MAX_K && row.entries() <= MAX_ENTRIES
    }

    fn configured(&self) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.bands == self.args.bands
                && r.bits == self.args.band_bits
                && r.probes == self.args.probes
        })
    }

    /// The rows within budget that no other row within budget beats on both goal recall and
    /// false matches.
    fn pareto(&self) -> Vec<&Row> {
        let budget: Vec<&Row> = self.rows.iter().filter(|r| Self::in_budget(r)).collect();
        let keys: Vec<(f64, f64)> = budget
            .iter()
            .map(|r| (self.goal_relative(r), self.false_matches(r).rate))
            .collect();
        let dominates =
            |a: &(f64, f64), b: &(f64, f64)| a.0 >= b.0 && a.1 <= b.1 && (a.0 > b.0 || a.1 < b.1);
        let mut out: Vec<&Row> = budget
            .iter()
            .zip(&keys)
            .filter(|(_, k)| !keys.iter().any(|o| dominates(o, k)))
            .map(|(r, _)| *r)
            .collect();
        out.sort_by(|a, b| {
            self.false_matches(a)
                .rate
                .total_cmp(&self.false_matches(b).rate)
                .then(a.k().cmp(&b.k()))
        });
        out
    }

    /// Within budget and the false-match goal, the best goal recall (then the fewest probes).
    fn recommended(&self) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| Self::in_budget(r) && self.false_matches(r).rate <= FALSE_MATCH_GOAL)
            .max_by(|a, b| {
                self.goal_relative(a)
                    .total_cmp(&self.goal_relative(b))
                    .then(b.k().cmp(&a.k()))
            })
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        let a = self.args;
        let _ = writeln!(
            s,
            "{} listed pictures ({} below the PDQ quality gate of {} left out); dihedral {}; \
             list modelled at {} hashes",
            self.n(),
            self.corpus.below_gate,
            a.min_quality,
            a.dihedral.name(),
            a.list_size
        );
        if let Some(row) = self.configured() {
            self.text_config(&mut s, row);
        }
        self.text_curve(&mut s);
        if a.sweep {
            self.text_pareto(&mut s);
        }
        s
    }

    fn text_config(&self, s: &mut String, row: &Row) {
        let _ = writeln!(
            s,
            "\nL = {} bands × b = {} bits, P = {} probes per band: K = {} probes per item, {} \
             database entries per listed hash",
            row.bands,
            row.bits,
            row.probes,
            row.k(),
            row.entries()
        );
        let _ = writeln!(
            s,
            "{:<15} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}",
            "edit", "pdq =", "pdq ≤31", "dih ≤31", "bands", "relative", "identity"
        );
        for (e, edit) in self.corpus.edits.iter().enumerate() {
            let b = &self.baselines[e];
            let rel = self
                .relative(row, e)
                .map_or("-".to_string(), |r| format!("{:.0}%", 100.0 * r));
            let _ = writeln!(
                s,
                "{:<15} {:>7.1}% {:>7.1}% {:>8.1}% {:>7.1}% {:>9} {:>8.1}%",
                edit.name(),
                pct(b.exact, self.n()),
                pct(b.within, self.n()),
                pct(b.within_dihedral, self.n()),
                pct(row.recall[e], self.n()),
                rel,
                pct(row.identity[e], self.n())
            );
        }
        self.text_false(s, row);
    }

    fn text_false(&self, s: &mut String, row: &Row) {
        let f = self.false_matches(row);
        let a = self.args;
        let _ = writeln!(
            s,
            "false matches (band hits on listed hashes > 31 bits away), originals queried \
             against the other {} pictures:\n  measured: {} band hits, {} of {} pictures hit \
             at least once; distance model: {:.3e} expected hits{}",
            self.n() - 1,
            row.false_hits,
            row.false_images,
            self.n(),
            row.model_hits.iter().sum::<f64>(),
            f.calibration.map_or_else(
                || format!(
                    " (too few hits to compare; calibration {:.2} applied)",
                    f.applied
                ),
                |c| format!(" (measured/model {c:.2})")
            )
        );
        let _ = writeln!(
            s,
            "  by pair distance 32–47 / 48–63 / 64+: measured {} / {} / {}, model {:.3e} / \
             {:.3e} / {:.3e}",
            row.false_by_class[0],
            row.false_by_class[1],
            row.false_by_class[2],
            row.model_by_class[0],
            row.model_by_class[1],
            row.model_by_class[2]
        );
        let _ = writeln!(
            s,
            "  at a list of {}: {:.2e} false hits per image (model{}; {:.2e} at 48+ bits), \
             measured-scaled {:.2e}, 99th-percentile picture {:.2e}, uniform random hashes \
             {:.2e}",
            a.list_size,
            f.rate,
            if f.applied > 1.0 {
                " × calibration"
            } else {
                ""
            },
            f.far_rate,
            f.measured,
            f.model_p99,
            f.uniform
        );
        let p = f.rate.min(1.0);
        let _ = writeln!(
            s,
            "  per-account false reveal, T = {}, {} items per window: {:.2e} (every item at \
             the mean rate), {:.2e} (every item at the 99th-percentile rate)",
            a.threshold,
            a.items,
            super::model::binomial_tail(a.items, p, a.threshold),
            super::model::binomial_tail(a.items, f.model_p99.min(1.0), a.threshold)
        );
    }

    fn text_curve(&self, s: &mut String) {
        let c = self.curve;
        let _ = writeln!(
            s,
            "\nper-band collision rate of unrelated pairs ({} pairs > 31 bits apart, {} seeded \
             bands per width, exact band values):",
            c.pairs,
            super::CURVE_BANDS
        );
        let _ = writeln!(
            s,
            "{:>4} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "b", "tests", "collisions", "rate", "model", "fit", "2^-b"
        );
        for p in &c.points {
            let _ = writeln!(
                s,
                "{:>4} {:>12} {:>10} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}",
                p.bits,
                p.tests,
                p.collisions,
                p.rate(),
                p.model_rate,
                c.fit.map_or(f64::NAN, |f| f.rate(p.bits)),
                (-f64::from(p.bits)).exp2()
            );
        }
        match c.fit {
            Some(f) => writeln!(
                s,
                "fit (tail): rate(b) = {:.3e} · 2^(−{:.4}·b) over b = {}..={}; model: from the \
                 distance distribution of the pairs, differing bits placed uniformly",
                f.c, f.alpha, f.from_bits, f.to_bits
            ),
            None => writeln!(s, "fit: too few collisions"),
        }
        .ok();
    }

    fn text_pareto(&self, s: &mut String) {
        let edits = &self.corpus.edits;
        let _ = writeln!(
            s,
            "\nPareto table: within budget (K ≤ {MAX_K} probes per item, ≤ {MAX_ENTRIES} \
             database entries per listed hash), the configurations no other beats on both goal \
             recall (the smallest recall relative to PDQ ≤ 31 over the goal edits) and false \
             matches; recall in % of listed pictures; fp = false hits per image at a list of {} \
             (fp≥48: pairs ≥ 48 bits apart only); ident = identity kept, mean over the goal \
             edits; F = fp ≤ {FALSE_MATCH_GOAL:e}. Every configuration is in --json.",
            self.args.list_size
        );
        let _ = write!(s, "{:>3} {:>3} {:>3} {:>4} {:>3}", "L", "b", "P", "K", "db");
        for e in edits {
            let _ = write!(s, " {:>7}", short(&e.name()));
        }
        let _ = writeln!(
            s,
            " {:>7} {:>9} {:>9} {:>6}",
            "goal", "fp", "fp≥48", "ident"
        );
        let _ = write!(s, "{:>19}", "PDQ ≤31:");
        for b in self.baselines {
            let _ = write!(s, " {:>7.1}", pct(b.within, self.n()));
        }
        let _ = writeln!(s);
        for row in self.pareto() {
            let _ = write!(
                s,
                "{:>3} {:>3} {:>3} {:>4} {:>3}",
                row.bands,
                row.bits,
                row.probes,
                row.k(),
                row.entries()
            );
            for &r in &row.recall {
                let _ = write!(s, " {:>7.1}", pct(r, self.n()));
            }
            let f = self.false_matches(row);
            let _ = writeln!(
                s,
                " {:>6.0}% {:>9.2e} {:>9.2e} {:>5.0}% {}",
                100.0 * self.goal_relative(row),
                f.rate,
                f.far_rate,
                self.goal_identity(row),
                if f.rate <= FALSE_MATCH_GOAL { "F" } else { "" }
            );
        }
        match self.recommended() {
            Some(r) => writeln!(
                s,
                "best within budget and fp ≤ {FALSE_MATCH_GOAL:e}: L = {}, b = {}, P = {} \
                 (goal recall ≥ {:.0}% of PDQ ≤ 31; goal {:.0}%)",
                r.bands,
                r.bits,
                r.probes,
                100.0 * self.goal_relative(r),
                100.0 * RELATIVE_GOAL
            ),
            None => writeln!(
                s,
                "no configuration is within budget with fp ≤ {FALSE_MATCH_GOAL:e}"
            ),
        }
        .ok();
    }

    pub fn json(&self) -> Result<String> {
        let edits: Vec<String> = self.corpus.edits.iter().map(|e| e.name()).collect();
        let baselines: Vec<_> = self
            .baselines
            .iter()
            .zip(&edits)
            .map(|(b, e)| {
                serde_json::json!({
                    "edit": e,
                    "pdq_exact_pct": pct(b.exact, self.n()),
                    "pdq_within_31_pct": pct(b.within, self.n()),
                    "pdq_dihedral_exact_pct": pct(b.exact_dihedral, self.n()),
                    "pdq_dihedral_within_31_pct": pct(b.within_dihedral, self.n()),
                })
            })
            .collect();
        let rows: Vec<_> = self.rows.iter().map(|r| self.row_json(r, &edits)).collect();
        let curve: Vec<_> = self
            .curve
            .points
            .iter()
            .map(|p| {
                serde_json::json!({
                    "bits": p.bits, "tests": p.tests, "collisions": p.collisions,
                    "rate": p.rate(), "model_rate": p.model_rate,
                })
            })
            .collect();
        let histogram: Vec<_> = self
            .curve
            .histogram
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(d, n)| serde_json::json!([d, n]))
            .collect();
        let recommended = self
            .recommended()
            .map(|r| serde_json::json!({"bands": r.bands, "bits": r.bits, "probes": r.probes}));
        let v = serde_json::json!({
            "pictures": self.n(),
            "below_quality_gate": self.corpus.below_gate,
            "min_quality": self.args.min_quality,
            "dihedral": self.args.dihedral.name(),
            "list_size": self.args.list_size,
            "seed": super::bands::seed(),
            "threshold": self.args.threshold,
            "items_per_window": self.args.items,
            "baselines": baselines,
            "collision_curve": {
                "pairs": self.curve.pairs,
                "bands_per_width": super::CURVE_BANDS,
                "points": curve,
                "fit": self.curve.fit.map(|f| serde_json::json!({
                    "c": f.c, "alpha": f.alpha, "from_bits": f.from_bits, "to_bits": f.to_bits,
                })),
                "distance_histogram": histogram,
            },
            "rows": rows,
            "recommended": recommended,
        });
        let mut text = serde_json::to_string_pretty(&v).what("json")?;
        text.push('\n');
        Ok(text)
    }

    fn row_json(&self, r: &Row, edits: &[String]) -> serde_json::Value {
        let f = self.false_matches(r);
        let a = self.args;
        let per_edit: Vec<_> = edits
            .iter()
            .enumerate()
            .map(|(e, name)| {
                serde_json::json!({
                    "edit": name,
                    "recall_pct": pct(r.recall[e], self.n()),
                    "relative": self.relative(r, e),
                    "identity_same_pct": pct(r.identity[e], self.n()),
                })
            })
            .collect();
        serde_json::json!({
            "bands": r.bands, "bits": r.bits, "probes": r.probes,
            "probes_per_item": r.k(), "entries_per_listed_hash": r.entries(),
            "in_budget": Self::in_budget(r),
            "goal_relative_recall": self.goal_relative(r),
            "edits": per_edit,
            "false_hits_corpus": r.false_hits,
            "false_hits_corpus_by_distance": {"32-47": r.false_by_class[0], "48-63": r.false_by_class[1], "64+": r.false_by_class[2]},
            "model_hits_corpus_by_distance": {"32-47": r.model_by_class[0], "48-63": r.model_by_class[1], "64+": r.model_by_class[2]},
            "false_images_corpus": r.false_images,
            "model_hits_corpus": r.model_hits.iter().sum::<f64>(),
            "false_per_image": {
                "rate": f.rate, "far_rate_48_plus": f.far_rate, "model": f.model, "model_p99": f.model_p99,
                "measured_scaled": f.measured, "calibration": f.calibration,
                "calibration_applied": f.applied,
                "uniform": f.uniform,
            },
            "false_reveal": {
                "mean_rate": super::model::binomial_tail(a.items, f.rate.min(1.0), a.threshold),
                "p99_rate": super::model::binomial_tail(a.items, f.model_p99.min(1.0), a.threshold),
            },
        })
    }

    /// Grouped bars per edit: exact PDQ equality (what exact PSI matches), PDQ ≤ 31 and the
    /// band matcher of the configured (L, b, P), like `eval-hash`'s chart.
    pub fn chart_svg(&self) -> String {
        let Some(row) = self.configured() else {
            return String::new();
        };
        let bars: Vec<(String, [f64; 3])> = self
            .corpus
            .edits
            .iter()
            .enumerate()
            .map(|(e, edit)| {
                let b = &self.baselines[e];
                let values = [b.exact, self.baseline(row, e), row.recall[e]];
                (edit.name(), values.map(|v| pct(v, self.n())))
            })
            .collect();
        let legend = [
            "exact PDQ (exact PSI)".to_string(),
            "PDQ \u{2264} 31".to_string(),
            format!(
                "bands L={} b={} P={} (K={})",
                row.bands,
                row.bits,
                row.probes,
                row.k()
            ),
        ];
        let title = format!(
            "Near-duplicate recall by edit ({} pictures, dihedral {})",
            self.n(),
            row.dihedral.name()
        );
        svg_bars(&title, &legend, &bars)
    }
}

/// A short column label for an edit.
fn short(name: &str) -> String {
    name.replace("brightness", "bright")
        .replace("resize-", "rs")
        .replace("jpeg-", "")
        .replace("crop-", "crop")
}

const LEFT: f64 = 70.0;
const TOP: f64 = 60.0;
const PLOT_H: f64 = 300.0;
const GROUP_W: f64 = 96.0;
const BAR_W: f64 = 26.0;
const COLORS: [&str; 3] = ["#c0504d", "#4f81bd", "#9bbb59"];

pub(super) fn svg_bars(title: &str, legend: &[String; 3], bars: &[(String, [f64; 3])]) -> String {
    let plot_w = GROUP_W * bars.len() as f64;
    let width = LEFT + plot_w + 30.0;
    let height = TOP + PLOT_H + 90.0;
    let y = |p: f64| TOP + PLOT_H * (1.0 - p / 100.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/><text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        width / 2.0,
        xml_escape(title)
    );
    let mut lx = LEFT;
    for (label, color) in legend.iter().zip(COLORS) {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="36" width="12" height="12" fill="{color}"/><text x="{}" y="46">{}</text>"#,
            lx + 16.0,
            xml_escape(label)
        );
        lx += 16.0 + 7.0 * label.chars().count() as f64 + 20.0;
    }
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/><text x="{2}" y="{3}" text-anchor="end">{p}</text>"##,
            y(p),
            LEFT + plot_w,
            LEFT - 6.0,
            y(p) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="20" y="{0}" text-anchor="middle" transform="rotate(-90 20 {0})">edited copies matching their original (%)</text>"#,
        TOP + PLOT_H / 2.0
    );
    for (i, (name, values)) in bars.iter().enumerate() {
        let gx = LEFT + GROUP_W * i as f64;
        for (j, (&v, color)) in values.iter().zip(COLORS).enumerate() {
            let x = gx + (GROUP_W - 3.0 * BAR_W) / 2.0 + BAR_W * j as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{:.1}" width="{BAR_W}" height="{:.1}" fill="{color}"><title>{}: {} {v:.1}%</title></rect><text x="{}" y="{:.1}" text-anchor="middle" font-size="9">{v:.0}</text>"#,
                y(v),
                PLOT_H * v / 100.0,
                xml_escape(name),
                xml_escape(&legend[j]),
                x + BAR_W / 2.0,
                y(v) - 3.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            gx + GROUP_W / 2.0,
            TOP + PLOT_H + 18.0,
            xml_escape(name)
        );
    }
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{0}" stroke="black"/><line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="black"/></svg>"#,
        TOP + PLOT_H,
        LEFT + plot_w
    );
    s
}
