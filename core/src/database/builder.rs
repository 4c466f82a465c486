//! Server setup: from hash lists to a signed database file.

use super::{FORMAT_VERSION, HEADER_LEN, MAGIC, Manifest, Source, signed_message, table_digest};
use crate::error::{Error, Result};
use crate::hash::{HashKind, MediaHash};
use crate::hash_to_group::{DEFAULT_DST, hash_media};
use crate::keys::ServerSecretKey;
use crate::okvs;
use crate::params::Params;
use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::Signer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One source's hash list.
#[derive(Clone, Debug)]
pub struct SourceList {
    /// The source (organisation) name, 1 to 64 bytes.
    pub name: String,
    /// Its hashes (duplicates allowed).
    pub hashes: Vec<MediaHash>,
}

/// Options for building a database.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// T, s_max and the synthetic rate.
    pub params: Params,
    /// Database epoch (vouchers are bound to it).
    pub epoch: u64,
    /// Keep only hashes listed by at least this many sources (≥ 1).
    pub min_sources: u8,
    /// OKVS expansion m/n.
    pub expansion: f64,
    /// Hash-to-group DST.
    pub dst: Vec<u8>,
    /// Creation time (Unix seconds); `None` = now.
    pub created_unix: Option<u64>,
    /// Seeds to try before giving up.
    pub max_attempts: u32,
    /// Kinds to list; `None` = the kinds present in the input (all kinds if it is empty).
    pub kinds: Option<Vec<HashKind>>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            params: Params::default(),
            epoch: 1,
            min_sources: 1,
            expansion: okvs::DEFAULT_EXPANSION,
            dst: DEFAULT_DST.to_vec(),
            created_unix: None,
            max_attempts: 32,
            kinds: None,
        }
    }
}

/// Builds database files.
pub struct DatabaseBuilder;

/// Progress callback: (hashes blinded so far, total).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

impl DatabaseBuilder {
    /// Build with no progress reporting.
    pub fn build(
        key: &ServerSecretKey,
        sources: &[SourceList],
        opts: &BuildOptions,
    ) -> Result<Vec<u8>> {
        DatabaseBuilder::build_with_progress(key, sources, opts, &|_, _| {})
    }

    /// Deduplicate, apply `min_sources`, blind every hash (in parallel), encode the OKVS,
    /// sign the manifest and return the database file's bytes.
    pub fn build_with_progress(
        key: &ServerSecretKey,
        sources: &[SourceList],
        opts: &BuildOptions,
        progress: Progress<'_>,
    ) -> Result<Vec<u8>> {
        let (entries, source_meta, present) = select(sources, opts)?;
        let kinds = match &opts.kinds {
            Some(k) => {
                let mut k = k.clone();
                k.sort();
                k.dedup();
                if entries.iter().any(|e| !k.contains(&e.kind())) {
                    return Err(Error::InvalidParameter {
                        name: "kinds",
                        reason: "the lists hold hashes of a kind not listed".into(),
                    });
                }
                k
            }
            None if present.is_empty() => HashKind::ALL.to_vec(),
            None => present,
        };
        if !(okvs::MIN_EXPANSION..=okvs::MAX_EXPANSION).contains(&opts.expansion) {
            return Err(Error::InvalidParameter {
                name: "expansion",
                reason: format!(
                    "must be between {} and {}",
                    okvs::MIN_EXPANSION,
                    okvs::MAX_EXPANSION
                ),
            });
        }
        let n = entries.len() as u64;
        let m = okvs::table_cells(n, opts.expansion);
        if m > super::MAX_CELLS {
            return Err(Error::InvalidParameter {
                name: "lists",
                reason: "too many hashes".into(),
            });
        }

        // Blind: V(x) = (α/2)·H(x); the final doubling during compression gives α·H(x).
        let half_alpha = Scalar::from(2u8).invert() * key.alpha();
        let done = AtomicU64::new(0);
        let values: Vec<RistrettoPoint> = entries
            .par_chunks(1024)
            .map(|chunk| {
                let v = chunk
                    .iter()
                    .map(|x| hash_media(x, &opts.dst).map(|h| h * half_alpha))
                    .collect::<Result<Vec<_>>>();
                let d = done.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                progress(d, n);
                v
            })
            .collect::<Result<Vec<Vec<_>>>>()?
            .concat();

        let mut rng = rand::rng();
        let mut attempt = 0;
        let (seed, pos, order) = loop {
            if attempt == opts.max_attempts {
                return Err(Error::EncodingFailed { attempts: attempt });
            }
            attempt += 1;
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            let pos: Vec<[u64; 3]> = entries
                .par_iter()
                .map(|x| okvs::positions(&seed, m, x))
                .collect();
            if let Some(order) = okvs::peel(&pos, m) {
                break (seed, pos, order);
            }
        };

        // Uniformly random points for the cells peeling left free.
        let free_count = (m - n) as usize;
        let chunk_seeds: Vec<[u8; 32]> = (0..free_count.div_ceil(4096))
            .map(|_| {
                let mut s = [0u8; 32];
                rng.fill_bytes(&mut s);
                s
            })
            .collect();
        let free_points: Vec<RistrettoPoint> = chunk_seeds
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, s)| {
                let mut r = ChaCha20Rng::from_seed(*s);
                let len = 4096.min(free_count - i * 4096);
                (0..len)
                    .map(move |_| {
                        let mut u = [0u8; 64];
                        r.fill_bytes(&mut u);
                        RistrettoPoint::from_uniform_bytes(&u)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut free_iter = free_points.into_iter();
        let table = okvs::solve(&pos, &values, &order, m, |_| {
            free_iter.next().unwrap_or_default()
        });
        drop(values);

        let compressed: Vec<u8> = table
            .par_chunks(4096)
            .flat_map_iter(|c| RistrettoPoint::double_and_compress_batch(c).into_iter())
            .flat_map_iter(|c| c.to_bytes())
            .collect();
        drop(table);

        let created_unix = opts.created_unix.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let public = key.public();
        let manifest = Manifest {
            epoch: opts.epoch,
            created_unix,
            cells: m,
            entries: n,
            seed,
            blinding_point: *public.blinding_point_bytes(),
            verifying_key: *public.verifying_key().as_bytes(),
            params: opts.params,
            kinds,
            dst: opts.dst.clone(),
            table_digest: [0; 32],
            min_sources: opts.min_sources,
            sources: source_meta,
        };
        DatabaseBuilder::assemble(key, manifest, &compressed)
    }

    /// Sign a manifest over a table and lay out the file: fills in the table digest, the
    /// server's public keys, then signs. The builder's last step; also how tests play a
    /// malicious or careless server that publishes a crafted table.
    pub fn assemble(
        key: &ServerSecretKey,
        mut manifest: Manifest,
        table: &[u8],
    ) -> Result<Vec<u8>> {
        if table.len() as u64 != manifest.cells.saturating_mul(32) {
            return Err(Error::InvalidParameter {
                name: "table",
                reason: "length is not cells × 32".into(),
            });
        }
        let public = key.public();
        manifest.blinding_point = *public.blinding_point_bytes();
        manifest.verifying_key = *public.verifying_key().as_bytes();
        manifest.table_digest = table_digest(table);
        manifest.check()?;
        let mbytes = manifest.encode();
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&(mbytes.len() as u32).to_le_bytes());
        let signature = key.signing().sign(&signed_message(&header, &mbytes));
        let mut file = Vec::with_capacity(header.len() + mbytes.len() + 64 + table.len());
        file.extend_from_slice(&header);
        file.extend_from_slice(&mbytes);
        file.extend_from_slice(&signature.to_bytes());
        file.extend_from_slice(table);
        Ok(file)
    }
}

type Selected = (Vec<MediaHash>, Vec<Source>, Vec<HashKind>);

/// Deduplicate within and across sources and keep hashes listed by ≥ min_sources sources.
fn select(sources: &[SourceList], opts: &BuildOptions) -> Result<Selected> {
    if sources.len() > super::MAX_SOURCES {
        return Err(Error::InvalidParameter {
            name: "lists",
            reason: "more than 64 sources".into(),
        });
    }
    if opts.min_sources == 0 || opts.min_sources as usize > sources.len().max(1) {
        return Err(Error::InvalidParameter {
            name: "min_sources",
            reason: format!(
                "must be between 1 and the number of lists ({})",
                sources.len()
            ),
        });
    }
    let mut names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w.first() == w.last()) {
        return Err(Error::InvalidParameter {
            name: "lists",
            reason: "source names must be distinct".into(),
        });
    }
    let mut seen: HashMap<&MediaHash, (u8, usize)> = HashMap::new();
    let mut meta = Vec::with_capacity(sources.len());
    let mut present: Vec<HashKind> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        if s.name.is_empty() || s.name.len() > super::manifest::MAX_SOURCE_NAME {
            return Err(Error::InvalidParameter {
                name: "source name",
                reason: "must be 1 to 64 bytes".into(),
            });
        }
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
