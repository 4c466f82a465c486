//! `blindmatch eval-fuzzy`: plaintext band matching (banded LSH on the list, multi-probe on the
//! device), the measurement that chooses the fuzzy protocol's parameters. No cryptography: the
//! same outcome as the private protocol (a probe opens exactly when its band key is listed), in
//! minutes. See docs/FUZZY.md.
//!
//! Every picture of a folder whose PDQ quality passes the gate is listed (its band keys, and
//! with `--dihedral list` those of its eight dihedral hashes). Queries: each edited copy of a
//! listed picture (recall: does it match its original?) and each original against the other
//! pictures (false matches: band hits on listed hashes more than 31 bits away).

mod bands;
mod corpus;
mod measure;
mod model;
mod protocol;
mod report;

use crate::fail::{Fail, Result};
use bands::BandLayout;
use corpus::{Edit, Picture};
use measure::{Evaluation, IdentityPrf, LayoutOutcome};
use model::{CurvePoint, DistanceModel, Fit, RatioTable};
use std::path::PathBuf;

/// Default band count (L), chosen with `--sweep` (docs/FUZZY.md).
pub const DEFAULT_BANDS: usize = 6;
/// Default bits per band (b).
pub const DEFAULT_BAND_BITS: u32 = 32;
/// Default probes per band (P).
pub const DEFAULT_PROBES: usize = 14;

/// Band widths of the collision curve.
const CURVE_WIDTHS: [u32; 16] = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64];
/// Bands per width in the collision curve.
const CURVE_BANDS: usize = 32;

/// How the eight dihedral hashes (rotations and mirrors) are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dihedral {
    /// Original orientation only.
    Off,
    /// The list holds the band keys of all eight dihedral hashes (8× the database).
    List,
    /// The device probes all eight (8× the probes per item).
    Device,
}

impl Dihedral {
    pub fn list_variants(self) -> usize {
        if self == Dihedral::List { 8 } else { 1 }
    }
    pub fn query_variants(self) -> usize {
        if self == Dihedral::Device { 8 } else { 1 }
    }
    fn name(self) -> &'static str {
        match self {
            Dihedral::Off => "off",
            Dihedral::List => "list",
            Dihedral::Device => "device",
        }
    }
}

#[derive(clap::Args)]
pub struct EvalFuzzyArgs {
    /// Folder of PNG/JPEG pictures (not recursive).
    pub dir: PathBuf,
    /// Edits, comma-separated: jpeg-qN, grayscale, resize-N%, brightness+N%, brightness-N%,
    /// crop-N%, mirror, blur, rotate-90deg.
    #[arg(long, value_delimiter = ',', default_value = corpus::DEFAULT_EDITS)]
    pub edits: Vec<Edit>,
    /// Bands (L).
    #[arg(long, default_value_t = DEFAULT_BANDS)]
    pub bands: usize,
    /// Bits per band (b, 1..=64).
    #[arg(long, default_value_t = DEFAULT_BAND_BITS)]
    pub band_bits: u32,
    /// Probes per band (P): the exact value, then flips of the weakest bits.
    #[arg(long, default_value_t = DEFAULT_PROBES)]
    pub probes: usize,
    /// Dihedral handling.
    #[arg(long, value_enum, default_value = "off")]
    pub dihedral: Dihedral,
    /// List size (listed hashes) at which false matches are modelled.
    #[arg(long, default_value_t = 1_000_000)]
    pub list_size: u64,
    /// Sweep the (L, b, P) grid and print the Pareto table.
    #[arg(long)]
    pub sweep: bool,
    /// Sweep: band counts.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,6,8")]
    pub sweep_bands: Vec<usize>,
    /// Sweep: bits per band.
    #[arg(long, value_delimiter = ',', default_value = "16,20,24,28,32,40,48,64")]
    pub sweep_bits: Vec<u32>,
    /// Sweep: probes per band.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,10,14,20,28,40,64,85"
    )]
    pub sweep_probes: Vec<usize>,
    /// Sweep: leave out configurations with more probes per item (K = L·P, ×8 on the device).
    #[arg(long, default_value_t = 128)]
    pub sweep_max_k: usize,
    /// PDQ quality gate: pictures and edited copies below it are not matched.
    #[arg(long, default_value_t = blindmatch_core::media::DEFAULT_MIN_PDQ_QUALITY)]
    pub min_quality: u32,
    /// Reveal threshold T for the per-account false-reveal probability.
    #[arg(long, default_value_t = 30)]
    pub threshold: u64,
    /// Items per account and window for the per-account false-reveal probability.
    #[arg(long, default_value_t = 1000)]
    pub items: u64,
    /// Use at most this many pictures, spread evenly over the sorted file names.
    #[arg(long)]
    pub max_images: Option<usize>,
    /// Read the hashes from this file if it holds the same pictures and edits, else hash and
    /// write it.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (the tables still go to stdout).
    #[arg(long)]
    pub json_file: Option<PathBuf>,
    /// Write a chart (SVG) of recall per edit for the configured (L, b, P).
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Run the configured (L, b, P) through the real protocol: a fuzzy database listing half
    /// of the pictures (plus random padding hashes up to --protocol-list-size), a probe bundle
    /// per edited copy and per unlisted picture, opened by the server (docs/FUZZY.md).
    #[arg(long, conflicts_with = "sweep")]
    pub protocol: bool,
    /// --protocol: hashes listed in the real database (the listed pictures plus random PDQ
    /// hashes); the false-match figures are still scaled to --list-size.
    #[arg(long, default_value_t = 100_000, requires = "protocol")]
    pub protocol_list_size: u64,
    /// --protocol: list every picture (no unrelated queries).
    #[arg(long, requires = "protocol")]
    pub list_all: bool,
    /// --protocol: items timed one at a time on one thread (device and server).
    #[arg(long, default_value_t = 200, requires = "protocol")]
    pub timing_items: usize,
}

/// The listed pictures and the edits.
pub struct Corpus {
    pub pictures: Vec<Picture>,
    pub edits: Vec<Edit>,
    /// Decodable pictures below the quality gate (neither listed nor queried).
    pub below_gate: usize,
}

/// The plaintext PDQ matchers' results per edit (counts over listed pictures).
pub struct Baseline {
    pub exact: usize,
    pub within: usize,
    pub exact_dihedral: usize,
    pub within_dihedral: usize,
}

/// One configuration's results.
pub struct Row {
    pub bands: usize,
    pub bits: u32,
    pub probes: usize,
    pub dihedral: Dihedral,
    /// Per edit: edited copies matching their original.
    pub recall: Vec<usize>,
    /// Per edit: edited copies with their original's identity.
    pub identity: Vec<usize>,
    /// Measured false band hits at the corpus list, by distance class (32–47, 48–63, 64+).
    pub false_by_class: [u64; 3],
    pub false_hits: u64,
    pub false_images: usize,
    /// Per query: the distance model's expected false hits at the corpus list.
    pub model_hits: Vec<f64>,
    /// The model's expected false hits summed over queries, by distance class.
    pub model_by_class: [f64; 3],
}

impl Row {
    /// Probes per item, K.
    pub fn k(&self) -> usize {
        self.bands * self.probes * self.dihedral.query_variants()
    }
    /// Database entries per listed hash.
    pub fn entries(&self) -> usize {
        self.bands * self.dihedral.list_variants()
    }
}

/// The false-match figures of a row at the modelled list size.
pub struct FalseMatches {
    /// Measured band hits per image, scaled linearly from the corpus list to the list size.
    pub measured: f64,
    /// The distance model's mean expected false hits per image at the list size.
    pub model: f64,
    /// The distance model at the 99th-percentile picture, calibrated like `rate`.
    pub model_p99: f64,
    /// Measured / modelled at the corpus (when there are enough hits to compare).
    pub calibration: Option<f64>,
    /// The calibration applied (at least 1): this row's own, else the largest measured at the
    /// same probe count (the model underestimates multi-probe hits on near pairs).
    pub applied: f64,
    /// The rate used: the model times the applied calibration.
    pub rate: f64,
    /// The same for pairs at least 48 bits apart only (leaving out the near misses at 32–47).
    pub far_rate: f64,
    /// What uniformly random hashes would give.
    pub uniform: f64,
}

/// The collision curve and its fit.
pub struct Curve {
    pub points: Vec<CurvePoint>,
    pub pairs: u64,
    pub histogram: [u64; 257],
    pub fit: Option<Fit>,
}

pub fn run(args: &EvalFuzzyArgs) -> Result<()> {
    let t = std::time::Instant::now();
    let all = corpus::load(
        &args.dir,
        &args.edits,
        args.max_images,
        args.cache.as_deref(),
    )?;
    let total = all.len();
    let pictures: Vec<Picture> = all
        .into_iter()
        .filter(|p| p.original.quality >= args.min_quality)
        .collect();
    if pictures.len() < 2 {
        return Err(Fail::at(
            &args.dir,
            format!(
                "needs at least two pictures of PDQ quality ≥ {}",
                args.min_quality
            ),
        ));
    }
    let corpus = Corpus {
        below_gate: total - pictures.len(),
        pictures,
        edits: args.edits.clone(),
    };
    eprintln!(
        "{} pictures hashed with {} edits ({:.1} s)",
        total,
        corpus.edits.len(),
        t.elapsed().as_secs_f64()
    );
    if args.protocol {
        return protocol::run(args, &corpus);
    }
    let baselines = baselines(&corpus, args.min_quality);
    let curve = curve(&corpus);
    let rows = evaluate(&corpus, args)?;
    eprintln!("evaluated ({:.1} s)", t.elapsed().as_secs_f64());
    let out = report::Report {
        args,
        corpus: &corpus,
        baselines: &baselines,
        curve: &curve,
        rows: &rows,
    };
    if let Some(chart) = &args.chart {
        crate::files::write_atomic(chart, out.chart_svg().as_bytes(), false)?;
    }
    if let Some(path) = &args.json_file {
        crate::files::write_atomic(path, out.json()?.as_bytes(), false)?;
    }
    let text = if args.json { out.json()? } else { out.text() };
    crate::imaging::print_out(&text)
}

fn baselines(corpus: &Corpus, min_quality: u32) -> Vec<Baseline> {
    (0..corpus.edits.len())
        .map(|e| {
            let mut b = Baseline {
                exact: 0,
                within: 0,
                exact_dihedral: 0,
                within_dihedral: 0,
            };
            for p in &corpus.pictures {
                let q = &p.edits[e];
                if q.quality < min_quality {
                    continue;
                }
                let query = &q.variants[0].bits;
                let d = query.distance(&p.original.variants[0].bits);
                let dd = p
                    .original
                    .variants
                    .iter()
                    .map(|v| query.distance(&v.bits))
                    .min()
                    .unwrap_or(256);
                b.exact += usize::from(d == 0);
                b.within += usize::from(d <= measure::MATCH_DISTANCE);
                b.exact_dihedral += usize::from(dd == 0);
                b.within_dihedral += usize::from(dd <= measure::MATCH_DISTANCE);
            }
            b
        })
        .collect()
}

fn curve(corpus: &Corpus) -> Curve {
    let (points, pairs, histogram) =
        model::collision_curve(&corpus.pictures, &CURVE_WIDTHS, CURVE_BANDS);
    Curve {
        fit: model::fit(&points),
        points,
        pairs,
        histogram,
    }
}

/// The configured (L, b, P), and with `--sweep` the whole grid, grouped by layout.
fn evaluate(corpus: &Corpus, args: &EvalFuzzyArgs) -> Result<Vec<Row>> {
    let mut layouts: Vec<(usize, u32, Vec<usize>)> = Vec::new();
    if args.sweep {
        for &l in &args.sweep_bands {
            for &b in &args.sweep_bits {
                let kv = l * args.dihedral.query_variants();
                let ps: Vec<usize> = args
                    .sweep_probes
                    .iter()
                    .copied()
                    .filter(|&p| p >= 1 && kv * p <= args.sweep_max_k)
                    .collect();
                if !ps.is_empty() {
                    layouts.push((l, b, ps));
                }
            }
        }
    }
    match layouts
        .iter_mut()
        .find(|(l, b, _)| *l == args.bands && *b == args.band_bits)
    {
        Some((_, _, ps)) if !ps.contains(&args.probes) => ps.push(args.probes),
        Some(_) => {}
        None => layouts.push((args.bands, args.band_bits, vec![args.probes])),
    }
    let model = DistanceModel::new(&corpus.pictures, args.dihedral);
    let prf = IdentityPrf::test_key();
    let mut rows = Vec::new();
    for (l, b, mut grid) in layouts {
        grid.sort_unstable();
        grid.dedup();
        let layout = BandLayout::new(l, b).map_err(|e| Fail::msg(e.to_string()))?;
        let ratios = RatioTable::new(layout.bits());
        let outcome = Evaluation {
            pictures: &corpus.pictures,
            layout: &layout,
            dihedral: args.dihedral,
            grid: &grid,
            min_quality: args.min_quality,
            prf: &prf,
            model: &model,
            ratios: &ratios,
        }
        .run();
        rows.extend(rows_of(l, b, args.dihedral, &grid, outcome));
        if args.sweep {
            eprintln!("  L={l} b={b}: {} probe counts", grid.len());
        }
    }
    Ok(rows)
}

fn rows_of(
    bands: usize,
    bits: u32,
    dihedral: Dihedral,
    grid: &[usize],
    o: LayoutOutcome,
) -> Vec<Row> {
    grid.iter()
        .enumerate()
        .map(|(g, &probes)| Row {
            bands,
            bits,
            probes,
            dihedral,
            recall: o.recall.iter().map(|r| r[g]).collect(),
            identity: o.identity_same.iter().map(|r| r[g]).collect(),
            false_by_class: o.false_hits[g],
            false_hits: o.false_hits[g].iter().sum(),
            false_images: o.false_images[g],
            model_hits: o.model_hits[g].iter().map(|c| c.iter().sum()).collect(),
            model_by_class: o.model_hits[g].iter().fold([0.0; 3], |mut acc, c| {
                acc.iter_mut().zip(c).for_each(|(a, b)| *a += b);
                acc
            }),
        })
        .collect()
}

/// Measured false hits below this are too few to calibrate the model with.
const MIN_CALIBRATION_HITS: u64 = 20;

/// Measured / modelled, when enough hits were measured.
fn calibrate(measured: u64, model: f64) -> Option<f64> {
    (measured >= MIN_CALIBRATION_HITS && model > 0.0).then(|| measured as f64 / model)
}

impl Row {
    /// False matches per image at a list of `list_size` hashes (see [`FalseMatches`]).
    /// Measured / modelled false hits at the corpus, when enough hits were measured.
    pub fn calibration(&self) -> Option<f64> {
        calibrate(self.false_hits, self.model_hits.iter().sum())
    }

    /// False matches per image at a list of `list_size` hashes (see [`FalseMatches`]);
    /// `fallback` is the calibration applied when this row has too few measured hits for its
    /// own.
    pub fn false_matches(&self, pictures: usize, list_size: u64, fallback: f64) -> FalseMatches {
        let scale = list_size as f64 / pictures.saturating_sub(1).max(1) as f64;
        let n = self.model_hits.len().max(1) as f64;
        let model_total: f64 = self.model_hits.iter().sum();
        let mut sorted = self.model_hits.clone();
        sorted.sort_by(f64::total_cmp);
        let p99 = sorted
            .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0);
        let calibration = self.calibration();
        let applied = calibration.unwrap_or(fallback).max(1.0);
        let model = model_total / n * scale;
        let far_model = (self.model_by_class[1] + self.model_by_class[2]) / n * scale;
        let far_calibration = calibrate(
            self.false_by_class[1] + self.false_by_class[2],
            self.model_by_class[1] + self.model_by_class[2],
        );
        let probes = (self.probes as f64).min((self.bits as f64).exp2());
        FalseMatches {
            measured: self.false_hits as f64 / n * scale,
            model,
            model_p99: p99 * scale * applied,
            calibration,
            applied,
            rate: model * applied,
            far_rate: far_model * far_calibration.unwrap_or(applied).max(1.0),
            uniform: list_size as f64
                * self.k() as f64
                * self.dihedral.list_variants() as f64
                * (probes / self.probes as f64)
                * (-(self.bits as f64)).exp2(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bands::{BandLayout, Bits256};
    use super::corpus::Edit;
    use super::measure::Probed;
    use super::*;
    use blindmatch_core::media::pdq;

    const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/pdq");

    fn load(name: &str) -> image::RgbImage {
        image::open(std::path::Path::new(REFERENCE).join(name))
            .unwrap()
            .to_rgb8()
    }

    fn item(img: &image::RgbImage) -> corpus::Item {
        let d = pdq::pdq_hash_dihedral_with_margins(
            img.as_raw(),
            img.width(),
            img.height(),
            pdq::PixelFormat::Rgb8,
        )
        .unwrap();
        corpus::Item {
            quality: d.quality,
            variants: d
                .variants
                .iter()
                .map(|v| corpus::Variant {
                    bits: Bits256::from_pdq(&v.hash),
                    margins: Box::new(v.margins),
                })
                .collect(),
        }
    }

    /// The listed band values of a picture's original orientation.
    fn listed(layout: &BandLayout, img: &image::RgbImage) -> Vec<u64> {
        let bits = item(img).variants[0].bits;
        (0..layout.bands())
            .map(|j| layout.value(j, &bits))
            .collect()
    }

    #[test]
    fn jpeg_copy_matches_at_the_defaults_and_an_unrelated_picture_does_not() {
        let layout = BandLayout::new(DEFAULT_BANDS, DEFAULT_BAND_BITS).unwrap();
        let probe = |img: &image::RgbImage| Probed::new(&item(img), 1, &layout, DEFAULT_PROBES);
        for name in ["astronaut.png", "camera.png", "rocket.png", "text.png"] {
            let original = load(name);
            let copy = Edit::Jpeg(70).apply(&original).unwrap();
            let hit = probe(&copy).hit_rank(&listed(&layout, &original), layout.bands());
            assert!(hit.is_some(), "{name}: the JPEG-q70 copy does not match");
        }
        // Unrelated pictures: no probe of one hits a band key of another.
        let names = ["astronaut.png", "camera.png", "rocket.png", "text.png"];
        for a in names {
            for b in names.iter().filter(|&&b| b != a) {
                let q = probe(&load(a));
                assert_eq!(q.hit_rank(&listed(&layout, &load(b)), layout.bands()), None);
            }
        }
    }

    #[test]
    fn mirror_matches_only_with_dihedral_handling() {
        let layout = BandLayout::new(DEFAULT_BANDS, DEFAULT_BAND_BITS).unwrap();
        let original = item(&load("camera.png"));
        let mirrored = item(&Edit::Mirror.apply(&load("camera.png")).unwrap());
        let values = |it: &corpus::Item, variants: usize| -> Vec<u64> {
            it.variants[..variants]
                .iter()
                .flat_map(|v| (0..layout.bands()).map(|j| layout.value(j, &v.bits)))
                .collect()
        };
        let off = Probed::new(&mirrored, 1, &layout, DEFAULT_PROBES);
        assert_eq!(off.hit_rank(&values(&original, 1), layout.bands()), None);
        // The list holds the eight dihedral hashes: the mirrored copy hits.
        assert!(
            off.hit_rank(&values(&original, 8), layout.bands())
                .is_some()
        );
        // The device probes its eight: one of them is the original orientation.
        let device = Probed::new(&mirrored, 8, &layout, DEFAULT_PROBES);
        assert!(
            device
                .hit_rank(&values(&original, 1), layout.bands())
                .is_some()
        );
    }
}
