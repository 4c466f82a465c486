//! Server setup: from hash lists to a signed database file, in steps — select the hashes,
//! blind them, find a peelable seed, fill the free cells, solve, sign.

use super::key::ServerSecretKey;
use crate::database::{self, MAX_CELLS, MAX_SOURCE_NAME, MAX_SOURCES, Manifest, Source};
use crate::error::{Error, Param, Result};
use crate::fuzzy::FuzzyLayout;
use crate::hash::{HashKind, MediaHash};
use crate::hash_to_group::hash_item;
use crate::kdf::DEFAULT_DST;
use crate::media::pdq::PdqHash;
use crate::params::Params;
use crate::window::Schedule;

/// Default window schedule: weekly windows from Monday 2026-01-05 00:00 UTC, 520 of them
/// (ten years).
pub const DEFAULT_SCHEDULE: (u64, u64, u32) = (1_767_571_200, 7 * 86_400, 520);
use crate::primitives::okvs;
use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::Signer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default OKVS expansion m/n.
pub const DEFAULT_EXPANSION: f64 = okvs::DEFAULT_EXPANSION;
/// Smallest OKVS expansion accepted (the peeling threshold of random 3-hypergraphs ≈ 1.222).
pub const MIN_EXPANSION: f64 = okvs::MIN_EXPANSION;
/// Largest OKVS expansion accepted.
pub const MAX_EXPANSION: f64 = okvs::MAX_EXPANSION;

/// One source's hash list.
#[derive(Clone, Debug)]
pub struct SourceList {
    /// The source (organisation) name, 1 to 64 bytes.
    pub name: String,
    /// Its hashes (duplicates allowed).
    pub hashes: Vec<MediaHash>,
}

/// Options for building a database. Start from [`BuildOptions::default`].
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// T, s_max and the synthetic-rate range.
    pub params: Params,
    /// The counting-window schedule.
    pub schedule: Schedule,
    /// Database epoch (vouchers are bound to it).
    pub epoch: u64,
    /// Keep only hashes listed by at least this many sources (≥ 1).
    pub min_sources: u8,
    /// OKVS expansion m/n, between [`MIN_EXPANSION`] and [`MAX_EXPANSION`].
    pub expansion: f64,
    /// Hash-to-group DST.
    pub dst: Vec<u8>,
    /// Creation time (Unix seconds); `None` = now.
    pub created_unix: Option<u64>,
    /// Seeds to try before giving up.
    pub max_attempts: u32,
    /// Kinds to list; `None` = the kinds present in the input (all kinds if it is empty).
    pub kinds: Option<Vec<HashKind>>,
    /// Build a fuzzy database (format version 3) with this band layout: every listed PDQ hash
    /// enters as its L band keys instead of itself (`docs/PROTOCOL.md` §13.2). `None` = exact.
    pub fuzzy: Option<FuzzyLayout>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            params: Params::default(),
            schedule: Schedule::new(DEFAULT_SCHEDULE.0, DEFAULT_SCHEDULE.1, DEFAULT_SCHEDULE.2)
                .expect("the default schedule is valid"),
            epoch: 1,
            min_sources: 1,
            expansion: DEFAULT_EXPANSION,
            dst: DEFAULT_DST.to_vec(),
            created_unix: None,
            max_attempts: 32,
            kinds: None,
            fuzzy: None,
        }
    }
}

/// Builds database files.
pub struct DatabaseBuilder;

/// Progress callback: (hashes blinded so far, total).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

impl DatabaseBuilder {
    /// Build with no progress reporting (see [`DatabaseBuilder::build_with_progress`]).
    ///
    /// # Errors
    /// As [`DatabaseBuilder::build_with_progress`].
    pub fn build(
        key: &ServerSecretKey,
        sources: &[SourceList],
        opts: &BuildOptions,
    ) -> Result<Vec<u8>> {
        DatabaseBuilder::build_with_progress(key, sources, opts, &|_, _| {})
    }

    /// Deduplicate, apply `min_sources`, blind every hash (in parallel), encode the OKVS,
    /// sign the manifest and return the database file's bytes.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bad options or lists ([`Param::Lists`],
    /// [`Param::MinSources`], [`Param::Kinds`], [`Param::Expansion`],
    /// [`Param::TooManyHashes`], [`Param::ExpandMessage`] for an empty DST); the manifest's
    /// range errors; [`Error::EncodingFailed`] if no seed peels.
    pub fn build_with_progress(
        key: &ServerSecretKey,
        sources: &[SourceList],
        opts: &BuildOptions,
        progress: Progress<'_>,
    ) -> Result<Vec<u8>> {
        let (entries, source_meta, present) = select(sources, opts)?;
        let mut kinds = listed_kinds(opts, &entries, present)?;
        if opts.fuzzy.is_some() && !kinds.contains(&HashKind::Pdq) {
            kinds.push(HashKind::Pdq);
            kinds.sort();
        }
        let entries = items(&entries, opts.fuzzy.as_ref());
        if !(okvs::MIN_EXPANSION..=okvs::MAX_EXPANSION).contains(&opts.expansion) {
            return Err(Error::InvalidParameter {
                param: Param::Expansion,
            });
        }
        let n = entries.len() as u64;
        let m = okvs::table_cells(n, opts.expansion);
        if m > MAX_CELLS {
            return Err(Error::InvalidParameter {
                param: Param::TooManyHashes,
            });
        }
        let values = blind(key, &entries, &opts.dst, progress)?;
        let mut rng = rand::rng();
        let (seed, pos, order) = find_seed(&entries, m, opts.max_attempts, &mut rng)?;
        let free = free_points(usize::try_from(m - n).unwrap_or(0), &mut rng);
        let mut free_iter = free.into_iter();
        let table = okvs::solve(&pos, &values, &order, m, |_| {
            free_iter
                .next()
                .expect("one random point per cell peeling left free")
        });
        drop(values);
        let compressed: Vec<u8> = table
            .par_chunks(4096)
            .flat_map_iter(|c| RistrettoPoint::double_and_compress_batch(c).into_iter())
            .flat_map_iter(|c| c.to_bytes())
            .collect();
        drop(table);
        let public = key.public();
        let manifest = Manifest {
            epoch: opts.epoch,
            created_unix: opts.created_unix.unwrap_or_else(now_unix),
            cells: m,
            entries: n,
            seed,
            blinding_point: *public.blinding_point_bytes(),
            verifying_key: *public.verifying_key().as_bytes(),
            params: opts.params,
            schedule: opts.schedule,
            kinds,
            dst: opts.dst.clone(),
            table_digest: [0; 32],
            min_sources: opts.min_sources,
            sources: source_meta,
            fuzzy: opts.fuzzy,
        };
        assemble(key, manifest, &compressed)
    }
}

/// Sign a manifest over a table and lay out the file: fills in the table digest and the
/// server's public keys, then signs. The builder's last step. Under `hazmat` it is public,
/// which is how tests play a malicious or careless server that publishes a crafted table.
///
/// # Errors
/// [`Error::InvalidParameter`] ([`Param::Table`]) when the table is not cells × 32 bytes;
/// the manifest's range errors.
#[cfg_attr(not(feature = "hazmat"), allow(unreachable_pub))]
pub fn assemble(key: &ServerSecretKey, mut manifest: Manifest, table: &[u8]) -> Result<Vec<u8>> {
    if table.len() as u64 != manifest.cells.saturating_mul(32) {
        return Err(Error::InvalidParameter {
            param: Param::Table,
        });
    }
    let public = key.public();
    manifest.blinding_point = *public.blinding_point_bytes();
    manifest.verifying_key = *public.verifying_key().as_bytes();
    manifest.table_digest = database::table_digest(table);
    manifest.check()?;
    Ok(database::lay_out(&manifest, table, |msg| {
        key.signing().sign(msg).to_bytes()
    }))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The kinds the manifest lists: the option's (sorted, deduplicated, covering every entry) or
/// those present (all kinds for an empty input).
fn listed_kinds(
    opts: &BuildOptions,
    entries: &[MediaHash],
    present: Vec<HashKind>,
) -> Result<Vec<HashKind>> {
    match &opts.kinds {
        Some(k) => {
            let mut k = k.clone();
            k.sort();
            k.dedup();
            if entries.iter().any(|e| !k.contains(&e.kind())) {
                return Err(Error::InvalidParameter {
                    param: Param::Kinds,
                });
            }
            Ok(k)
        }
        None if present.is_empty() => Ok(HashKind::ALL.to_vec()),
        None => Ok(present),
    }
}

/// V(x) = (α/2)·H(x) for every entry, in parallel; the final doubling during compression
/// gives α·H(x).
fn blind(
    key: &ServerSecretKey,
    entries: &[Vec<u8>],
    dst: &[u8],
    progress: Progress<'_>,
) -> Result<Vec<RistrettoPoint>> {
    let n = entries.len() as u64;
    let half_alpha = zeroize::Zeroizing::new(Scalar::from(2u8).invert() * key.alpha());
    let done = AtomicU64::new(0);
    Ok(entries
        .par_chunks(1024)
        .map(|chunk| {
            let v = chunk
                .iter()
                .map(|x| hash_item(x, dst).map(|h| h * *half_alpha))
                .collect::<Result<Vec<_>>>();
            let d = done.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            progress(d, n);
            v
        })
        .collect::<Result<Vec<Vec<_>>>>()?
        .concat())
}

type Peeled = ([u8; 32], Vec<[u64; 3]>, Vec<(u32, u32)>);

/// Fresh random seeds until the 3-hypergraph peels.
fn find_seed(entries: &[Vec<u8>], m: u64, attempts: u32, rng: &mut impl Rng) -> Result<Peeled> {
    for _ in 0..attempts {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let pos: Vec<[u64; 3]> = entries
            .par_iter()
            .map(|x| okvs::positions(&seed, m, x))
            .collect();
        if let Some(order) = okvs::peel(&pos, m) {
            return Ok((seed, pos, order));
        }
    }
    Err(Error::EncodingFailed { attempts })
}

/// Uniformly random points for the cells peeling leaves free, in parallel chunks.
fn free_points(count: usize, rng: &mut impl Rng) -> Vec<RistrettoPoint> {
    let chunk_seeds: Vec<[u8; 32]> = (0..count.div_ceil(4096))
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();
    chunk_seeds
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, s)| {
            let mut r = ChaCha20Rng::from_seed(*s);
            let len = 4096.min(count - i * 4096);
            (0..len)
                .map(move |_| {
                    let mut u = [0u8; 64];
                    r.fill_bytes(&mut u);
                    RistrettoPoint::from_uniform_bytes(&u)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The table's items: `encode(x)` of every entry, except that in a fuzzy database a PDQ hash
/// enters as its band keys (deduplicated: listed hashes may share a band value).
fn items(entries: &[MediaHash], fuzzy: Option<&FuzzyLayout>) -> Vec<Vec<u8>> {
    let Some(layout) = fuzzy else {
        return entries.iter().map(MediaHash::encode).collect();
    };
    let positions = layout.positions();
    let mut out: Vec<Vec<u8>> = entries
        .par_iter()
        .flat_map_iter(|x| match x.kind() {
            HashKind::Pdq => {
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(x.as_bytes());
                let hash = PdqHash(bytes);
                crate::fuzzy::listed_keys(&positions, &hash)
                    .into_iter()
                    .map(|k| k.to_vec())
                    .collect::<Vec<_>>()
            }
            _ => vec![x.encode()],
        })
        .collect();
    out.par_sort_unstable();
    out.dedup();
    out
}

type Selected = (Vec<MediaHash>, Vec<Source>, Vec<HashKind>);

/// Deduplicate within and across sources and keep hashes listed by ≥ min_sources sources.
fn select(sources: &[SourceList], opts: &BuildOptions) -> Result<Selected> {
    let bad = |param| Err(Error::InvalidParameter { param });
    if sources.len() > MAX_SOURCES {
        return bad(Param::Lists);
    }
    if opts.min_sources == 0 || opts.min_sources as usize > sources.len().max(1) {
        return bad(Param::MinSources);
    }
    let mut names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w.first() == w.last())
        || sources
            .iter()
            .any(|s| s.name.is_empty() || s.name.len() > MAX_SOURCE_NAME)
    {
        return bad(Param::Lists);
    }
    let mut seen: HashMap<&MediaHash, (u8, usize)> = HashMap::new();
    let mut meta = Vec::with_capacity(sources.len());
    let mut present: Vec<HashKind> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        let mut count = 0u64;
        for h in &s.hashes {
            if !present.contains(&h.kind()) {
                present.push(h.kind());
            }
            let e = seen.entry(h).or_insert((0, usize::MAX));
            if e.1 != si {
                e.0 = e.0.saturating_add(1);
                e.1 = si;
                count += 1;
            }
        }
        meta.push(Source {
            name: s.name.clone(),
            count,
        });
    }
    present.sort();
    let mut entries: Vec<MediaHash> = seen
        .into_iter()
        .filter(|(_, (c, _))| *c >= opts.min_sources)
        .map(|(h, _)| h.clone())
        .collect();
    entries.par_sort_unstable();
    Ok((entries, meta, present))
}
