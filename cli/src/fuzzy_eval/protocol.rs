//! `eval-fuzzy --protocol`: the configured (L, b, P) through the real protocol. A real fuzzy
//! database (core's builder, a fresh server key) lists half of the pictures (even positions)
//! plus random PDQ hashes up to `--protocol-list-size`; every edited copy of a listed picture
//! and every picture of the other half (unrelated) becomes a real probe bundle
//! (`research::bundle_with_choice`, [`SyntheticChoice::Real`]) that the server opens with
//! [`Opener::open_bundle`]. The plaintext band matcher runs on the same queries against the
//! same list: the protocol opens a layer exactly when a probe's band key is listed, so the two
//! must agree on every bundle's open count (mismatches are counted and reported).
//!
//! Reported: recall per edit (private vs plaintext), false opens of unrelated pictures, the
//! open counts of real matches per edit and per edit mix against the synthetic distribution D
//! (their total-variation distance is a server's per-record advantage in telling a real
//! near-duplicate from a synthetic bundle), bundle bytes and device and server time per item.

use super::bands::{BandLayout, Bits256};
use super::corpus::{Edit, Item};
use super::measure::{MATCH_DISTANCE, Probed};
use super::{Corpus, EvalFuzzyArgs};
use crate::fail::{Context, Fail, Result};
use blindmatch_core::device::{Client, DevicePolicy};
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::media::pdq::HashMargins;
use blindmatch_core::research::{SyntheticChoice, bundle_identity, bundle_with_choice};
use blindmatch_core::server::{
    BuildOptions, DatabaseBuilder, OpenOutcome, Opener, ServerSecretKey, SourceList,
};
use blindmatch_core::{ClientKey, Database, HashKind, MediaHash, Params};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// The account every bundle is made for and opened under.
const ACCOUNT: &[u8] = b"eval-fuzzy";
/// The window (the default schedule's first).
const WINDOW: u64 = 0;
/// Seed of the random padding hashes (reproducible lists).
const PADDING_SEED: u64 = 0x00b1_17d0_fa55;

/// The edit mixes reported besides single edits (equal weight per member edit).
const MIXES: [&str; 4] = ["goal", "all", "jpeg", "resize"];

fn in_mix(mix: &str, edit: Edit) -> bool {
    match mix {
        "goal" => edit.is_goal(),
        "all" => true,
        "jpeg" => matches!(edit, Edit::Jpeg(_)),
        "resize" => matches!(edit, Edit::Resize(_)),
        _ => false,
    }
}

/// What a query is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Edited copy `e` of a listed picture.
    Edit(usize),
    /// An unlisted picture's original, real bundle.
    Unrelated,
    /// An unlisted picture's original, forced synthetic (its open count is drawn from D).
    Synthetic,
}

struct Query<'a> {
    kind: Kind,
    item: &'a Item,
    /// The listed original (edited copies).
    original: Option<&'a Item>,
    /// An unrelated picture with a listed picture within 31 bits (a near duplicate).
    near: bool,
}

/// One bundle's outcome.
#[derive(Clone, Copy, Default)]
struct Answer {
    /// Above the quality gate (below it no bundle is made: a miss for every matcher).
    eligible: bool,
    /// A real bundle, whose open count the plaintext matcher predicts.
    compare: bool,
    /// Plaintext: probes whose band key is listed (the layers that must open).
    predicted: u32,
    /// Plaintext: probes whose band key is a listed corpus picture's (not padding).
    predicted_corpus: u32,
    /// Plaintext: (probe, listed picture) band hits on listed pictures more than 31 bits away
    /// (false hits, as the plaintext mode counts them).
    false_hits: u32,
    /// Plaintext: a probe hits the picture's own original (the plaintext mode's recall).
    own: bool,
    /// The device: the edited copy has its original's identity (MinHash under the client's
    /// key), so both count once.
    same_identity: bool,
    /// The server: the bundle opened (a record).
    opened: bool,
    /// The server: layers opened.
    layers: u32,
}

impl Answer {
    fn mismatch(&self) -> bool {
        self.compare && (self.layers != self.predicted || self.opened != (self.predicted > 0))
    }
}

/// The fuzzy database and both roles.
struct Setup {
    layout: FuzzyLayout,
    bands: BandLayout,
    listed_set: HashSet<(usize, u64)>,
    /// Band key → the listed pictures (index into `corpus_bits`) holding it.
    corpus_map: HashMap<(usize, u64), Vec<u32>>,
    corpus_bits: Vec<Bits256>,
    client: Client,
    opener: Opener,
    db_bytes: usize,
    entries: u64,
    listed_corpus: usize,
    padding: usize,
    build_s: f64,
}

/// Per-edit (or per-group) results.
#[derive(Default)]
struct Group {
    name: String,
    queries: usize,
    eligible: usize,
    /// PDQ ≤ 31 to the original (edited copies).
    pdq_within: usize,
    own: usize,
    same_identity: usize,
    plaintext_opened: usize,
    private_opened: usize,
    mismatches: usize,
    /// Unrelated pictures with a listed corpus hash within 31 bits (near duplicates, not
    /// false matches) and the opened ones without.
    near: usize,
    false_opened: usize,
    corpus_hits: u64,
    all_hits: u64,
    false_hits: u64,
    /// `hist[c − 1]`: opened bundles with c layers.
    hist: Vec<u64>,
}

impl Group {
    fn add(&mut self, q: &Query<'_>, a: &Answer, min_quality: u32) {
        self.queries += 1;
        if let Some(o) = q.original {
            let d = o.variants[0].bits.distance(&q.item.variants[0].bits);
            self.pdq_within += usize::from(q.item.quality >= min_quality && d <= MATCH_DISTANCE);
        }
        self.near += usize::from(q.near);
        if !a.eligible {
            return;
        }
        self.eligible += 1;
        self.own += usize::from(a.own);
        self.same_identity += usize::from(a.same_identity);
        self.plaintext_opened += usize::from(a.predicted > 0);
        self.private_opened += usize::from(a.opened);
        self.false_opened += usize::from(a.opened && !q.near);
        self.mismatches += usize::from(a.mismatch());
        self.corpus_hits += u64::from(a.predicted_corpus);
        self.all_hits += u64::from(a.predicted);
        self.false_hits += u64::from(a.false_hits);
        if a.opened && a.layers > 0 {
            let c = a.layers as usize;
            if self.hist.len() < c {
                self.hist.resize(c, 0);
            }
            self.hist[c - 1] += 1;
        }
    }

    fn opened_hist(&self) -> Vec<f64> {
        let n = self.hist.iter().sum::<u64>().max(1) as f64;
        self.hist.iter().map(|&h| h as f64 / n).collect()
    }
}

/// Total-variation distance between two distributions over 1, 2, … (missing entries are 0).
pub fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(b.len());
    0.5 * (0..n)
        .map(|i| (a.get(i).unwrap_or(&0.0) - b.get(i).unwrap_or(&0.0)).abs())
        .sum::<f64>()
}

/// A named distribution of open counts among real matches, with its distance to D.
struct Mix {
    name: String,
    edits: Vec<String>,
    opened: u64,
    hist: Vec<f64>,
    tv: f64,
}

/// Timings of the sequential pass (milliseconds per item): wall-clock time per item, and the
/// thread's CPU time over all items where the kernel reports it (`/proc/thread-self/schedstat`:
/// other load on the machine does not count; it is updated at scheduler ticks, so only its sum
/// over many items is precise).
struct Timing {
    items: usize,
    device_wall: Vec<f64>,
    server_wall: Vec<f64>,
    /// Mean thread CPU time per item (device, server).
    cpu: Option<(f64, f64)>,
}

/// This thread's CPU time in nanoseconds, from the scheduler's statistics (Linux).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len() as f64 - 1.0) * q).round().max(0.0) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// The item as core's device input: the PDQ hash of the original orientation and its margins.
fn hash_margins(item: &Item) -> HashMargins {
    let v = &item.variants[0];
    HashMargins {
        hash: v.bits.to_pdq(),
        margins: *v.margins,
    }
}

pub fn run(args: &EvalFuzzyArgs, corpus: &Corpus) -> Result<()> {
    let t = Instant::now();
    let layout = u8::try_from(args.bands)
        .ok()
        .zip(u8::try_from(args.band_bits).ok())
        .zip(u8::try_from(args.probes).ok())
        .and_then(|((l, b), p)| FuzzyLayout::new(l, b, p).ok())
        .ok_or_else(|| {
            Fail::msg(format!(
                "--protocol: L = {}, b = {}, P = {} is not a protocol layout (L 1–32, b 8–64, \
                 P 1–64, L·P ≤ 512)",
                args.bands, args.band_bits, args.probes
            ))
        })?;
    if args.dihedral != super::Dihedral::Off {
        return Err(Fail::msg(
            "--protocol: the protocol has no dihedral handling (--dihedral off)",
        ));
    }
    let pictures = &corpus.pictures;
    let (listed, unrelated): (Vec<usize>, Vec<usize>) = if args.list_all {
        ((0..pictures.len()).collect(), Vec::new())
    } else {
        (0..pictures.len()).partition(|i| i % 2 == 0)
    };
    let setup = setup(args, layout, corpus, &listed)?;
    eprintln!(
        "database: {} listed pictures + {} padding hashes, {} band keys, {} bytes, built in \
         {:.1} s",
        setup.listed_corpus, setup.padding, setup.entries, setup.db_bytes, setup.build_s
    );
    let queries = queries(corpus, &listed, &unrelated);
    let timing = timing(&setup, &queries, args.timing_items);
    eprintln!(
        "timed {} items one by one: device {:.2} ms, server {:.2} ms (wall-clock medians)",
        timing.items,
        median(&timing.device_wall),
        median(&timing.server_wall)
    );
    let t_bundles = Instant::now();
    let answers: Vec<(Answer, usize)> = queries
        .par_iter()
        .enumerate()
        .map(|(i, q)| answer(&setup, q, i as u64, args.min_quality))
        .collect::<Result<_>>()?;
    eprintln!(
        "{} bundles made and opened ({:.1} s)",
        answers.len(),
        t_bundles.elapsed().as_secs_f64()
    );
    let bundle_bytes = answers.iter().map(|(_, b)| *b).max().unwrap_or(0);
    let mut edits: Vec<Group> = corpus
        .edits
        .iter()
        .map(|e| Group {
            name: e.name(),
            ..Group::default()
        })
        .collect();
    let mut unrel = Group {
        name: "unrelated".into(),
        ..Group::default()
    };
    let mut synth = Group {
        name: "synthetic".into(),
        ..Group::default()
    };
    for (q, (a, _)) in queries.iter().zip(&answers) {
        match q.kind {
            Kind::Edit(e) => edits[e].add(q, a, args.min_quality),
            Kind::Unrelated => unrel.add(q, a, args.min_quality),
            Kind::Synthetic => synth.add(q, a, args.min_quality),
        }
    }
    let d = layout.open_count_pmf();
    let mixes = mixes(&corpus.edits, &edits, &d);
    let report = ProtocolReport {
        args,
        corpus,
        setup: &setup,
        listed: listed.len(),
        edits: &edits,
        unrelated: &unrel,
        synthetic: &synth,
        d: &d,
        mixes: &mixes,
        timing: &timing,
        bundle_bytes,
        elapsed: t.elapsed().as_secs_f64(),
    };
    if let Some(chart) = &args.chart {
        crate::files::write_atomic(chart, report.chart_svg().as_bytes(), false)?;
    }
    if let Some(path) = &args.json_file {
        crate::files::write_atomic(path, report.json()?.as_bytes(), false)?;
    }
    let mismatches: usize = edits.iter().chain([&unrel]).map(|g| g.mismatches).sum();
    if mismatches > 0 {
        eprintln!(
            "WARNING: {mismatches} bundles opened a different number of layers than the \
             plaintext matcher predicts"
        );
    }
    let text = if args.json {
        report.json()?
    } else {
        report.text()
    };
    crate::imaging::print_out(&text)
}

/// Build the database (listed pictures + padding) and both roles.
fn setup(
    args: &EvalFuzzyArgs,
    layout: FuzzyLayout,
    corpus: &Corpus,
    listed: &[usize],
) -> Result<Setup> {
    let bands =
        BandLayout::new(args.bands, args.band_bits).map_err(|e| Fail::msg(e.to_string()))?;
    let target = usize::try_from(args.protocol_list_size).unwrap_or(usize::MAX);
    let padding_count = target.saturating_sub(listed.len());
    let mut rng = ChaCha20Rng::seed_from_u64(PADDING_SEED);
    let padding: Vec<Bits256> = (0..padding_count)
        .map(|_| {
            Bits256([
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
            ])
        })
        .collect();
    let corpus_bits: Vec<Bits256> = listed
        .iter()
        .map(|&i| corpus.pictures[i].original.variants[0].bits)
        .collect();
    let layout_ref = &bands;
    let keys = |bits: &[Bits256]| -> HashSet<(usize, u64)> {
        bits.iter()
            .flat_map(|b| (0..layout_ref.bands()).map(move |j| (j, layout_ref.value(j, b))))
            .collect()
    };
    let mut corpus_map: HashMap<(usize, u64), Vec<u32>> = HashMap::new();
    for (i, b) in corpus_bits.iter().enumerate() {
        for j in 0..bands.bands() {
            corpus_map
                .entry((j, bands.value(j, b)))
                .or_default()
                .push(i as u32);
        }
    }
    let mut listed_set = keys(&padding);
    listed_set.extend(corpus_map.keys().copied());
    let hashes = corpus_bits
        .iter()
        .chain(&padding)
        .map(|b| MediaHash::new(HashKind::Pdq, &b.to_pdq().0))
        .collect::<blindmatch_core::Result<Vec<_>>>()
        .what("listed hashes")?;
    let server = ServerSecretKey::generate();
    let opts = BuildOptions {
        params: Params::default(),
        fuzzy: Some(layout),
        ..Default::default()
    };
    let t = Instant::now();
    let bytes = DatabaseBuilder::build(
        &server,
        &[SourceList {
            name: "eval-fuzzy".into(),
            hashes,
        }],
        &opts,
    )
    .what("building the fuzzy database")?;
    let build_s = t.elapsed().as_secs_f64();
    let db_bytes = bytes.len();
    let db = Arc::new(Database::open(bytes, &server.public(), None).what("database")?);
    let entries = db.manifest().entries;
    let client = Client::new(
        db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .what("client")?;
    let opener = Opener::new(&server, db.manifest()).what("opener")?;
    Ok(Setup {
        layout,
        bands,
        listed_set,
        corpus_map,
        corpus_bits,
        client,
        opener,
        db_bytes,
        entries,
        listed_corpus: listed.len(),
        padding: padding_count,
        build_s,
    })
}

/// Edited copies of the listed pictures, then the unrelated pictures (real, then forced
/// synthetic).
fn queries<'a>(corpus: &'a Corpus, listed: &[usize], unrelated: &[usize]) -> Vec<Query<'a>> {
    let p = &corpus.pictures;
    let mut out = Vec::new();
    for &i in listed {
        for (e, item) in p[i].edits.iter().enumerate() {
            out.push(Query {
                kind: Kind::Edit(e),
                item,
                original: Some(&p[i].original),
                near: false,
            });
        }
    }
    let listed_bits: Vec<Bits256> = listed
        .iter()
        .map(|&i| p[i].original.variants[0].bits)
        .collect();
    for kind in [Kind::Unrelated, Kind::Synthetic] {
        for &i in unrelated {
            let bits = &p[i].original.variants[0].bits;
            out.push(Query {
                kind,
                item: &p[i].original,
                original: None,
                near: listed_bits
                    .iter()
                    .any(|l| l.distance(bits) <= MATCH_DISTANCE),
            });
        }
    }
    out
}

fn choice(kind: Kind) -> SyntheticChoice {
    if kind == Kind::Synthetic {
        SyntheticChoice::Synthetic
    } else {
        SyntheticChoice::Real
    }
}

/// Make and open one bundle; the answer and the bundle's length.
fn answer(s: &Setup, q: &Query<'_>, seed: u64, min_quality: u32) -> Result<(Answer, usize)> {
    let mut a = Answer::default();
    if q.item.quality < min_quality {
        return Ok((a, 0));
    }
    a.eligible = true;
    a.compare = q.kind != Kind::Synthetic;
    let probed = Probed::new(q.item, 1, &s.bands, usize::from(s.layout.probes()));
    for (j, (&value, masks)) in probed.values.iter().zip(&probed.masks).enumerate() {
        for m in masks.iter().flatten() {
            let key = (j, value ^ m);
            a.predicted += u32::from(s.listed_set.contains(&key));
            if let Some(entries) = s.corpus_map.get(&key) {
                a.predicted_corpus += 1;
                let bits = &q.item.variants[0].bits;
                a.false_hits += entries
                    .iter()
                    .filter(|&&e| s.corpus_bits[e as usize].distance(bits) > MATCH_DISTANCE)
                    .count() as u32;
            }
        }
    }
    if let Some(o) = q.original {
        let own: Vec<u64> = (0..s.bands.bands())
            .map(|j| s.bands.value(j, &o.variants[0].bits))
            .collect();
        a.own = probed.hit_rank(&own, s.bands.bands()).is_some();
        let ident = |item: &Item| bundle_identity(&s.client, &hash_margins(item), WINDOW);
        a.same_identity = ident(q.item).is_some_and(|(_, i)| Some(i) == ident(o).map(|x| x.1));
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let bundle = bundle_with_choice(
        &s.client,
        &hash_margins(q.item),
        format!("q{seed}").as_bytes(),
        b"",
        WINDOW,
        choice(q.kind),
        &mut rng,
    )
    .what("bundle")?;
    let (outcome, layers) = s
        .opener
        .open_bundle(&bundle, ACCOUNT)
        .what("opening a bundle")?;
    a.opened = matches!(outcome, OpenOutcome::Opened(_));
    a.layers = layers;
    Ok((a, bundle.len()))
}

/// Device and server time per item, one item at a time on this thread, over `n` queries
/// spread evenly over the real ones (PDQ hashing excluded: the hashes are given).
fn timing(s: &Setup, queries: &[Query<'_>], n: usize) -> Timing {
    let real: Vec<&Query<'_>> = queries
        .iter()
        .filter(|q| q.kind != Kind::Synthetic)
        .collect();
    let n = n.min(real.len());
    let mut t = Timing {
        items: 0,
        device_wall: Vec::with_capacity(n),
        server_wall: Vec::with_capacity(n),
        cpu: None,
    };
    let mut cpu = Some((0u64, 0u64));
    for k in 0..n {
        let q = real[k * real.len() / n];
        let item = hash_margins(q.item);
        let mut rng = ChaCha20Rng::seed_from_u64(u64::MAX - k as u64);
        let (w0, c0) = (Instant::now(), thread_cpu_ns());
        let made = bundle_with_choice(
            &s.client,
            &item,
            b"timing",
            b"",
            WINDOW,
            SyntheticChoice::Real,
            &mut rng,
        );
        let (w1, c1) = (Instant::now(), thread_cpu_ns());
        let Ok(bundle) = made else { continue };
        let opened = s.opener.open_bundle(&bundle, ACCOUNT);
        let (w2, c2) = (Instant::now(), thread_cpu_ns());
        if opened.is_ok() {
            t.items += 1;
            t.device_wall.push((w1 - w0).as_secs_f64() * 1e3);
            t.server_wall.push((w2 - w1).as_secs_f64() * 1e3);
            cpu = match (cpu, c0, c1, c2) {
                (Some((d, sv)), Some(c0), Some(c1), Some(c2)) => {
                    Some((d + c1.saturating_sub(c0), sv + c2.saturating_sub(c1)))
                }
                _ => None,
            };
        }
    }
    let per_item = |ns: u64| ns as f64 / 1e6 / t.items.max(1) as f64;
    t.cpu = cpu
        .filter(|_| t.items > 0)
        .map(|(d, sv)| (per_item(d), per_item(sv)));
    t
}

/// The named mixes over the edits present, each an equal-weight mean of its edits' open-count
/// distributions (edits with no opened copy left out).
fn mixes(edits: &[Edit], groups: &[Group], d: &[f64]) -> Vec<Mix> {
    MIXES
        .iter()
        .filter_map(|&name| {
            let members: Vec<(&Edit, &Group)> = edits
                .iter()
                .zip(groups)
                .filter(|(e, g)| in_mix(name, **e) && g.hist.iter().sum::<u64>() > 0)
                .collect();
            if members.is_empty() {
                return None;
            }
            let len = members.iter().map(|(_, g)| g.hist.len()).max().unwrap_or(0);
            let mut hist = vec![0.0; len];
            for (_, g) in &members {
                for (h, p) in hist.iter_mut().zip(g.opened_hist()) {
                    *h += p / members.len() as f64;
                }
            }
            Some(Mix {
                name: name.to_string(),
                edits: members.iter().map(|(e, _)| e.name()).collect(),
                opened: members
                    .iter()
                    .map(|(_, g)| g.hist.iter().sum::<u64>())
                    .sum(),
                tv: total_variation(&hist, d),
                hist,
            })
        })
        .collect()
}

struct ProtocolReport<'a> {
    args: &'a EvalFuzzyArgs,
    corpus: &'a Corpus,
    setup: &'a Setup,
    listed: usize,
    edits: &'a [Group],
    unrelated: &'a Group,
    synthetic: &'a Group,
    d: &'a [f64],
    mixes: &'a [Mix],
    timing: &'a Timing,
    bundle_bytes: usize,
    elapsed: f64,
}

fn pct(n: usize, total: usize) -> f64 {
    100.0 * n as f64 / total.max(1) as f64
}

impl ProtocolReport<'_> {
    fn mismatches(&self) -> usize {
        self.edits
            .iter()
            .chain([self.unrelated])
            .map(|g| g.mismatches)
            .sum()
    }

    /// False band hits per unrelated picture (on listed pictures more than 31 bits away),
    /// scaled to a list of `--list-size` hashes distributed like the listed corpus.
    fn false_hits_scaled(&self) -> f64 {
        let u = self.unrelated;
        u.false_hits as f64 / u.eligible.max(1) as f64 * self.args.list_size as f64
            / self.listed.max(1) as f64
    }

    pub fn text(&self) -> String {
        let s0 = self.setup;
        let l = &s0.layout;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "through the real protocol: L = {} bands × b = {} bits, P = {} probes per band \
             (K = {} outer layers); {} of {} pictures listed (PDQ quality ≥ {}; {} below the \
             gate left out) + {} random padding hashes = {} listed hashes, {} band keys, \
             database {} bytes ({:.0} bytes per listed hash; built in {:.1} s); {} unrelated \
             pictures queried",
            l.bands(),
            l.band_bits(),
            l.probes(),
            l.layers(),
            self.listed,
            self.corpus.pictures.len(),
            self.args.min_quality,
            self.corpus.below_gate,
            s0.padding,
            s0.padding + self.listed,
            s0.entries,
            s0.db_bytes,
            s0.db_bytes as f64 / (s0.padding + self.listed).max(1) as f64,
            s0.build_s,
            self.unrelated.queries
        );
        let _ = writeln!(
            s,
            "\nrecall in % of the {} listed pictures (opened: the bundle opened on any listed \
             band key; own: a probe hits the original's band keys; identity: the copy has its \
             original's MinHash identity under the device key):",
            self.listed
        );
        let _ = writeln!(
            s,
            "{:<15} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9}",
            "edit", "pdq ≤31", "bands own", "plaintext", "private", "mismatch", "identity"
        );
        for g in self.edits {
            let _ = writeln!(
                s,
                "{:<15} {:>7.1}% {:>9.1}% {:>9.1}% {:>8.1}% {:>9} {:>8.1}%",
                g.name,
                pct(g.pdq_within, self.listed),
                pct(g.own, self.listed),
                pct(g.plaintext_opened, self.listed),
                pct(g.private_opened, self.listed),
                g.mismatches,
                pct(g.same_identity, self.listed)
            );
        }
        let u = self.unrelated;
        if u.queries > 0 {
            let _ = writeln!(
                s,
                "{:<15} {:>8} {:>10} {:>9.2}% {:>8.2}% {:>9}\n  unrelated pictures: {} of {} \
                 opened ({} have a listed picture within 31 bits; {} opened without one: \
                 {:.2}% false opens per image at this list); band-key hits per image {:.3} on \
                 listed pictures ({:.3} on pictures more than 31 bits away: false hits), {:.4} \
                 on padding; at a list of {} corpus-like hashes {:.2e} false hits per image",
                "unrelated",
                "-",
                "-",
                pct(u.plaintext_opened, u.eligible),
                pct(u.private_opened, u.eligible),
                u.mismatches,
                u.private_opened,
                u.eligible,
                u.near,
                u.false_opened,
                pct(u.false_opened, u.eligible - u.near.min(u.eligible)),
                u.corpus_hits as f64 / u.eligible.max(1) as f64,
                u.false_hits as f64 / u.eligible.max(1) as f64,
                (u.all_hits - u.corpus_hits) as f64 / u.eligible.max(1) as f64,
                self.args.list_size,
                self.false_hits_scaled()
            );
        }
        let _ = writeln!(
            s,
            "mismatches between the protocol's open counts and the plaintext matcher's: {} of \
             {} bundles",
            self.mismatches(),
            self.edits
                .iter()
                .chain([u])
                .map(|g| g.eligible)
                .sum::<usize>()
        );
        self.text_counts(&mut s);
        let t = self.timing;
        let cpu = t.cpu.map_or(String::new(), |(d, sv)| {
            format!("; thread CPU time per item (mean): device {d:.2} ms, server {sv:.2} ms")
        });
        let _ = writeln!(
            s,
            "\nbundle: {} bytes (K = {} layers, s_max = {}, empty associated data); device {:.2} \
             ms per item (median; p90 {:.2}), server {:.2} ms per item (open_bundle, median; \
             p90 {:.2}): wall-clock time, {} items one at a time on one thread, PDQ \
             excluded{cpu}",
            self.bundle_bytes,
            l.layers(),
            Params::default().s_max(),
            median(&t.device_wall),
            quantile(&t.device_wall, 0.9),
            median(&t.server_wall),
            quantile(&t.server_wall, 0.9),
            t.items,
        );
        let _ = writeln!(s, "({:.0} s in all)", self.elapsed);
        s
    }

    fn text_counts(&self, s: &mut String) {
        let l = self.d.len();
        let _ = writeln!(
            s,
            "\nopen counts: share (%) of opened bundles opening c layers (>{l}: more than one \
             probe of a band opened, on several listed pictures; D never does), vs the \
             synthetic distribution D; TV = total-variation distance to D (a server's advantage \
             in telling one real match from a synthetic bundle by its count)"
        );
        let _ = write!(s, "{:<15} {:>6}", "c =", "n");
        for c in 1..=l {
            let _ = write!(s, " {c:>5}");
        }
        let _ = writeln!(s, " {:>5} {:>6}", format!(">{l}"), "TV");
        let row = |s: &mut String, name: &str, n: u64, hist: &[f64]| {
            let _ = write!(s, "{name:<15} {n:>6}");
            for c in 0..l {
                let _ = write!(s, " {:>5.1}", 100.0 * hist.get(c).unwrap_or(&0.0));
            }
            let beyond = hist.iter().skip(l).fold(0.0, |a, b| a + b);
            let _ = writeln!(
                s,
                " {:>5.1} {:>6.3}",
                100.0 * beyond,
                total_variation(hist, self.d)
            );
        };
        row(s, "D", 0, self.d);
        for g in self.edits.iter().chain([self.synthetic]) {
            let n = g.hist.iter().sum();
            if n > 0 {
                row(s, &g.name, n, &g.opened_hist());
            }
        }
        for m in self.mixes {
            row(s, &format!("mix {}", m.name), m.opened, &m.hist);
        }
    }

    pub fn json(&self) -> Result<String> {
        let s0 = self.setup;
        let l = &s0.layout;
        let group = |g: &Group| {
            serde_json::json!({
                "name": g.name,
                "queries": g.queries,
                "eligible": g.eligible,
                "pdq_within_31": g.pdq_within,
                "bands_own": g.own,
                "identity_same": g.same_identity,
                "plaintext_opened": g.plaintext_opened,
                "private_opened": g.private_opened,
                "mismatches": g.mismatches,
                "open_counts": g.hist,
                "open_count_distribution": g.opened_hist(),
                "tv_to_d": total_variation(&g.opened_hist(), self.d),
            })
        };
        let u = self.unrelated;
        let t = self.timing;
        let v = serde_json::json!({
            "protocol": {
                "layout": {"bands": l.bands(), "band_bits": l.band_bits(), "probes": l.probes(), "layers": l.layers()},
                "pictures": self.corpus.pictures.len(),
                "below_quality_gate": self.corpus.below_gate,
                "min_quality": self.args.min_quality,
                "listed_pictures": self.listed,
                "padding_hashes": s0.padding,
                "band_keys": s0.entries,
                "database_bytes": s0.db_bytes,
                "build_seconds": s0.build_s,
                "bundle_bytes": self.bundle_bytes,
                "device_ms_median": median(&t.device_wall),
                "server_ms_median": median(&t.server_wall),
                "device_ms_p90": quantile(&t.device_wall, 0.9),
                "server_ms_p90": quantile(&t.server_wall, 0.9),
                "device_cpu_ms_mean": t.cpu.map(|c| c.0),
                "server_cpu_ms_mean": t.cpu.map(|c| c.1),
                "timed_items": t.items,
                "mismatches": self.mismatches(),
                "d": self.d,
                "edits": self.edits.iter().map(group).collect::<Vec<_>>(),
                "unrelated": {
                    "summary": group(u),
                    "near_listed": u.near,
                    "false_opened": u.false_opened,
                    "corpus_hits": u.corpus_hits,
                    "false_hits": u.false_hits,
                    "padding_hits": u.all_hits - u.corpus_hits,
                    "list_size": self.args.list_size,
                    "false_hits_per_image_at_list_size": self.false_hits_scaled(),
                },
                "synthetic": group(self.synthetic),
                "mixes": self.mixes.iter().map(|m| serde_json::json!({
                    "name": m.name, "edits": m.edits, "opened": m.opened,
                    "histogram": m.hist, "tv_to_d": m.tv,
                })).collect::<Vec<_>>(),
            }
        });
        let mut text = serde_json::to_string_pretty(&v).what("json")?;
        text.push('\n');
        Ok(text)
    }

    /// Bars per edit: PDQ ≤ 31, the plaintext band matcher (opened) and the private protocol
    /// (opened).
    pub fn chart_svg(&self) -> String {
        let bars: Vec<(String, [f64; 3])> = self
            .edits
            .iter()
            .map(|g| {
                let v = [g.pdq_within, g.plaintext_opened, g.private_opened];
                (g.name.clone(), v.map(|x| pct(x, self.listed)))
            })
            .collect();
        let l = &self.setup.layout;
        let legend = [
            "PDQ \u{2264} 31".to_string(),
            "plaintext bands".to_string(),
            format!(
                "private protocol L={} b={} P={} (K={})",
                l.bands(),
                l.band_bits(),
                l.probes(),
                l.layers()
            ),
        ];
        let title = format!(
            "Near-duplicate recall through the protocol ({} listed pictures)",
            self.listed
        );
        super::report::svg_bars(&title, &legend, &bars)
    }
}
