//! False matches: the per-band collision rate of unrelated pairs as a function of b, measured
//! on the corpus and fitted; the distance model that predicts multi-probe false hits from the
//! corpus's distance distribution; and the per-account false-reveal probability.

use super::Dihedral;
use super::bands::{BandLayout, Bits256};
use super::corpus::Picture;
use super::measure::{MATCH_DISTANCE, class};
use rayon::prelude::*;

/// Collision counts below this are too few to fit.
const MIN_FIT_EVENTS: u64 = 20;

/// `ln(k!)` for `k` in 0..=256.
fn ln_factorials() -> [f64; 257] {
    let mut t = [0.0; 257];
    for k in 1..257 {
        t[k] = t[k - 1] + (k as f64).ln();
    }
    t
}

fn ln_choose(t: &[f64; 257], n: usize, k: usize) -> f64 {
    if k > n {
        f64::NEG_INFINITY
    } else {
        t[n] - t[k] - t[n - k]
    }
}

/// `ratio[d][s]`: for two hashes `d` bits apart with the differing positions uniformly placed,
/// the probability that a given band of `b` bits differs in exactly a given set of `s` of its
/// bits: `C(256 − b, d − s) / C(256, d)`. A probe flipping `s` band bits hits with it.
pub struct RatioTable {
    bits: usize,
    ratio: Vec<Vec<f64>>,
}

impl RatioTable {
    pub fn new(bits: usize) -> RatioTable {
        let t = ln_factorials();
        let ratio = (0..=256)
            .map(|d| {
                (0..=bits)
                    .map(|s| {
                        if s > d {
                            0.0
                        } else {
                            (ln_choose(&t, 256 - bits, d - s) - ln_choose(&t, 256, d)).exp()
                        }
                    })
                    .collect()
            })
            .collect();
        RatioTable { bits, ratio }
    }

    /// Probability that an exact band value (s = 0) collides at distance `d`:
    /// `C(256 − d, b) / C(256, b)`.
    pub fn exact(&self, d: usize) -> f64 {
        self.ratio[d][0]
    }
}

/// Per query picture and query variant: how many listed entries (other pictures, listed
/// variants) lie at each distance. The model assumes the differing positions of an unrelated
/// pair fall uniformly, so a band's hit probability depends on the distance alone.
pub struct DistanceModel {
    /// `[picture][query variant][d]`.
    histograms: Vec<Vec<[u32; 257]>>,
}

impl DistanceModel {
    pub fn new(pictures: &[Picture], dihedral: Dihedral) -> DistanceModel {
        let (qvs, lvs) = (dihedral.query_variants(), dihedral.list_variants());
        let histograms = (0..pictures.len())
            .into_par_iter()
            .map(|i| {
                (0..qvs)
                    .map(|qv| {
                        let q = &pictures[i].original.variants[qv].bits;
                        let mut h = [0u32; 257];
                        for (k, p) in pictures.iter().enumerate() {
                            if k != i {
                                for v in &p.original.variants[..lvs] {
                                    h[q.distance(&v.bits) as usize] += 1;
                                }
                            }
                        }
                        h
                    })
                    .collect()
            })
            .collect();
        DistanceModel { histograms }
    }

    /// Expected false hits (over every band and listed entry) of picture `i`'s query variant
    /// `qv` against the corpus list, given how many of its probes flip `s` bits
    /// (`flips[s]`, summed over bands), by distance class. Only entries more than 31 bits away
    /// count.
    pub fn expected_hits(
        &self,
        i: usize,
        qv: usize,
        table: &RatioTable,
        flips: &[u32],
    ) -> [f64; 3] {
        let h = &self.histograms[i][qv];
        let mut total = [0.0; 3];
        for (d, &n) in h.iter().enumerate().skip(MATCH_DISTANCE as usize + 1) {
            if n == 0 {
                continue;
            }
            let per_entry: f64 = flips
                .iter()
                .enumerate()
                .filter(|&(s, _)| s <= table.bits)
                .map(|(s, &c)| f64::from(c) * table.ratio[d][s])
                .sum();
            total[class(d as u32)] += f64::from(n) * per_entry;
        }
        total
    }
}

/// The measured per-band collision rate of unrelated pairs at one band width.
#[derive(Clone, Debug)]
pub struct CurvePoint {
    pub bits: u32,
    /// (pair, band) tests: unrelated pairs × bands.
    pub tests: u64,
    pub collisions: u64,
    /// The distance model's prediction for the same pairs.
    pub model_rate: f64,
}

impl CurvePoint {
    pub fn rate(&self) -> f64 {
        self.collisions as f64 / self.tests.max(1) as f64
    }
}

/// The collision curve: for each band width, `bands` seeded bands, over every unordered pair of
/// pictures whose originals are more than 31 bits apart, the share of (pair, band) with equal
/// band values. Also returns the pair count and the distance histogram of those pairs.
pub fn collision_curve(
    pictures: &[Picture],
    widths: &[u32],
    bands: usize,
) -> (Vec<CurvePoint>, u64, [u64; 257]) {
    let layouts: Vec<BandLayout> = widths
        .iter()
        .filter_map(|&b| BandLayout::new(bands, b).ok())
        .collect();
    let masks: Vec<Vec<Bits256>> = layouts
        .iter()
        .map(|l| (0..l.bands()).map(|j| *l.mask(j)).collect())
        .collect();
    let hashes: Vec<Bits256> = pictures
        .iter()
        .map(|p| p.original.variants[0].bits)
        .collect();
    let zero = || (vec![0u64; masks.len()], [0u64; 257]);
    let (collisions, histogram) = (0..hashes.len())
        .into_par_iter()
        .fold(zero, |(mut c, mut h), i| {
            for b in &hashes[i + 1..] {
                let d = hashes[i].distance(b);
                if d <= MATCH_DISTANCE {
                    continue;
                }
                h[d as usize] += 1;
                for (count, ms) in c.iter_mut().zip(&masks) {
                    *count += ms.iter().filter(|m| hashes[i].agree_on(b, m)).count() as u64;
                }
            }
            (c, h)
        })
        .reduce(zero, |(mut c, mut h), (c2, h2)| {
            c.iter_mut().zip(c2).for_each(|(a, b)| *a += b);
            h.iter_mut().zip(h2).for_each(|(a, b)| *a += b);
            (c, h)
        });
    let pairs: u64 = histogram.iter().sum();
    let points = layouts
        .iter()
        .zip(collisions)
        .map(|(l, collisions)| {
            let table = RatioTable::new(l.bits());
            let model = histogram
                .iter()
                .enumerate()
                .map(|(d, &n)| n as f64 * table.exact(d))
                .sum::<f64>()
                / pairs.max(1) as f64;
            CurvePoint {
                bits: l.bits() as u32,
                tests: pairs * l.bands() as u64,
                collisions,
                model_rate: model,
            }
        })
        .collect();
    (points, pairs, histogram)
}

/// `rate(b) = c · 2^(−α·b)`, least squares on log2 of the measured rates.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    pub c: f64,
    pub alpha: f64,
    pub from_bits: u32,
    pub to_bits: u32,
}

impl Fit {
    pub fn rate(&self, bits: u32) -> f64 {
        self.c * (-self.alpha * f64::from(bits)).exp2()
    }
}

/// The measured rate must exceed the uniform `2^−b` this many times for a point to be in the
/// tail that the fit describes.
const TAIL_FACTOR: f64 = 10.0;

/// Fits the tail: the points with at least [`MIN_FIT_EVENTS`] collisions whose rate is at least
/// [`TAIL_FACTOR`] × `2^−b` (at small b the bulk of the pairs, about 128 bits apart, collides
/// like uniform hashes; the b worth choosing are in the tail, where pairs closer than the bulk
/// dominate). `None` with fewer than two such points.
pub fn fit(points: &[CurvePoint]) -> Option<Fit> {
    let in_tail = |p: &&CurvePoint| {
        p.collisions >= MIN_FIT_EVENTS && p.rate() >= TAIL_FACTOR * (-f64::from(p.bits)).exp2()
    };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter(in_tail)
        .map(|p| (f64::from(p.bits), p.rate().log2()))
        .collect();
    if xy.len() < 2 {
        return None;
    }
    let n = xy.len() as f64;
    let (mx, my) = (
        xy.iter().map(|p| p.0).sum::<f64>() / n,
        xy.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let bits = || points.iter().filter(in_tail).map(|p| p.bits);
    Some(Fit {
        c: (my - slope * mx).exp2(),
        alpha: -slope,
        from_bits: bits().min().unwrap_or(0),
        to_bits: bits().max().unwrap_or(0),
    })
}

/// `P(X ≥ t)` for `X ~ Binomial(m, p)`, summed in log space (exact for tiny tails).
pub fn binomial_tail(m: u64, p: f64, t: u64) -> f64 {
    if t == 0 {
        return 1.0;
    }
    if p <= 0.0 || t > m {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let ln_fact = |k: u64| -> f64 { (1..=k).map(|i| (i as f64).ln()).sum() };
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let mut term = ln_fact(m) - ln_fact(t) - ln_fact(m - t) + t as f64 * lp + (m - t) as f64 * lq;
    let mut total = 0.0;
    for k in t..=m {
        total += term.exp();
        // term(k + 1) = term(k) · (m − k) / (k + 1) · p / q
        term += ((m - k) as f64).ln() - ((k + 1) as f64).ln() + lp - lq;
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_table_matches_hand_computed_cases() {
        let t = RatioTable::new(2);
        // d = 0: always collide exactly, never with a flip.
        assert!((t.exact(0) - 1.0).abs() < 1e-12);
        assert_eq!(t.ratio[0][1], 0.0);
        // d = 1: exact collision iff the one differing bit is outside the band: 254/256.
        assert!((t.exact(1) - 254.0 / 256.0).abs() < 1e-12);
        // ... and a given single-bit flip matches with probability 1/256.
        assert!((t.ratio[1][1] - 1.0 / 256.0).abs() < 1e-12);
        // d = 256: every bit differs; only the probe flipping both band bits hits.
        assert!((t.ratio[256][2] - 1.0).abs() < 1e-9);
        assert!(t.exact(256) < 1e-12);
    }

    #[test]
    fn fit_recovers_an_exponential() {
        let points: Vec<CurvePoint> = [8u32, 16, 24]
            .iter()
            .map(|&b| CurvePoint {
                bits: b,
                tests: 1 << 40,
                collisions: ((1u64 << 40) as f64 * 0.5 * (-0.25 * f64::from(b)).exp2()) as u64,
                model_rate: 0.0,
            })
            .collect();
        let f = fit(&points).unwrap();
        assert!((f.alpha - 0.25).abs() < 1e-6, "{f:?}");
        assert!((f.c - 0.5).abs() < 1e-6, "{f:?}");
        assert!((f.rate(32) - 0.5 / 256.0).abs() < 1e-9);
    }

    #[test]
    fn binomial_tail_small_cases() {
        assert!((binomial_tail(2, 0.5, 1) - 0.75).abs() < 1e-12);
        assert!((binomial_tail(10, 0.1, 0) - 1.0).abs() < 1e-12);
        assert_eq!(binomial_tail(10, 0.1, 11), 0.0);
        // A tiny tail stays positive and tiny rather than rounding to zero.
        let tail = binomial_tail(1000, 1e-4, 30);
        assert!(tail > 0.0 && tail < 1e-50, "{tail}");
    }
}
