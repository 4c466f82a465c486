//! Plaintext band matching of one band layout over the corpus, for every probe count of a grid
//! at once (the probe order does not depend on P, so a smaller P is a prefix): recall of edited
//! copies, MinHash identity stability, false matches measured at the corpus and the
//! distance-model prediction of them.

use super::Dihedral;
use super::bands::{BandLayout, probe_masks};
use super::corpus::{Item, Picture};
use super::model::{DistanceModel, RatioTable};
use hmac::{Hmac, KeyInit, Mac};
use rayon::prelude::*;
use sha2::Sha256;
use std::collections::HashMap;

/// PDQ distance at or below which two hashes are the same picture.
pub const MATCH_DISTANCE: u32 = crate::imaging::PDQ_MATCH_DISTANCE;

/// False matches are reported by the distance of the pair: 32–47, 48–63, 64 and more bits.
pub const CLASS_FROM: [u32; 3] = [32, 48, 64];

/// The distance class of an unrelated pair (`d > 31`).
pub fn class(d: u32) -> usize {
    CLASS_FROM.iter().rposition(|&from| d >= from).unwrap_or(0)
}

/// The fixed key of the evaluation's identity PRF (a deployment keys it per account).
const IDENTITY_TEST_KEY: &[u8] = b"blindmatch eval-fuzzy identity test key";

/// The keyed PRF whose argmin over an item's probe keys is its identity (MinHash).
#[derive(Clone)]
pub struct IdentityPrf(Hmac<Sha256>);

impl IdentityPrf {
    pub fn test_key() -> IdentityPrf {
        // HMAC accepts keys of any length.
        IdentityPrf(
            <Hmac<Sha256> as KeyInit>::new_from_slice(IDENTITY_TEST_KEY)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        )
    }

    /// HMAC-SHA256(key, band as u16 ‖ value as u64, big-endian), first 16 bytes.
    pub fn eval(&self, band: usize, value: u64) -> u128 {
        let mut mac = self.0.clone();
        mac.update(&(band as u16).to_be_bytes());
        mac.update(&value.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut first = [0u8; 16];
        first.copy_from_slice(&tag[..16]);
        u128::from_be_bytes(first)
    }
}

/// One item's band values and probe masks, per (query variant, band): index `v * L + j`.
pub struct Probed {
    pub values: Vec<u64>,
    pub masks: Vec<Vec<Option<u64>>>,
}

impl Probed {
    pub fn new(item: &Item, variants: usize, layout: &BandLayout, probes: usize) -> Probed {
        let mut values = Vec::with_capacity(variants * layout.bands());
        let mut masks = Vec::with_capacity(variants * layout.bands());
        for v in &item.variants[..variants] {
            for j in 0..layout.bands() {
                values.push(layout.value(j, &v.bits));
                masks.push(probe_masks(&layout.margins(j, &v.margins), probes));
            }
        }
        Probed { values, masks }
    }

    /// The first probe rank at which any band hits one of `listed`'s band values (`listed`
    /// indexed `lv * L + j`), if any.
    pub fn hit_rank(&self, listed: &[u64], bands: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (slot, (&value, masks)) in self.values.iter().zip(&self.masks).enumerate() {
            let band = slot % bands;
            for lv in listed.iter().skip(band).step_by(bands) {
                let x = value ^ lv;
                let limit = best.unwrap_or(masks.len());
                if let Some(r) = masks[..limit].iter().position(|m| *m == Some(x)) {
                    best = Some(r);
                }
            }
        }
        best
    }

    /// The MinHash identity for each probe count in `grid`: the minimum PRF value over the
    /// item's first P probes of every band.
    pub fn identities(&self, bands: usize, prf: &IdentityPrf, grid: &[usize]) -> Vec<u128> {
        let mut best = vec![u128::MAX; grid.len()];
        for (slot, (&value, masks)) in self.values.iter().zip(&self.masks).enumerate() {
            let mut running = u128::MAX;
            let mut prefix = Vec::with_capacity(masks.len());
            for m in masks {
                if let Some(m) = m {
                    running = running.min(prf.eval(slot % bands, value ^ m));
                }
                prefix.push(running);
            }
            for (b, &p) in best.iter_mut().zip(grid) {
                if let Some(&v) = prefix.get(p.saturating_sub(1)) {
                    *b = (*b).min(v);
                }
            }
        }
        best
    }

    /// For each probe count in `grid`, how many probes (over every variant and band) flip `s`
    /// bits, indexed by `s`.
    fn flip_profile(&self, grid: &[usize], variant: usize, bands: usize) -> Vec<Vec<u32>> {
        grid.iter()
            .map(|&p| {
                let mut counts = Vec::new();
                for masks in &self.masks[variant * bands..(variant + 1) * bands] {
                    for m in masks[..p.min(masks.len())].iter().flatten() {
                        let s = m.count_ones() as usize;
                        if counts.len() <= s {
                            counts.resize(s + 1, 0);
                        }
                        counts[s] += 1;
                    }
                }
                counts
            })
            .collect()
    }
}

/// The listed side: every eligible picture's band values for its listed variants, and one map
/// per band from band value to the list entries holding it.
struct ListIndex {
    /// Per picture: values indexed `lv * L + j`.
    values: Vec<Vec<u64>>,
    /// Per band: value → (picture, listed variant).
    maps: Vec<HashMap<u64, Vec<(u32, u8)>>>,
}

impl ListIndex {
    fn new(pictures: &[Picture], layout: &BandLayout, list_variants: usize) -> ListIndex {
        let values: Vec<Vec<u64>> = pictures
            .iter()
            .map(|p| {
                p.original.variants[..list_variants]
                    .iter()
                    .flat_map(|v| (0..layout.bands()).map(|j| layout.value(j, &v.bits)))
                    .collect()
            })
            .collect();
        let mut maps = vec![HashMap::<u64, Vec<(u32, u8)>>::new(); layout.bands()];
        for (i, vals) in values.iter().enumerate() {
            for (slot, &v) in vals.iter().enumerate() {
                let (lv, j) = (slot / layout.bands(), slot % layout.bands());
                maps[j].entry(v).or_default().push((i as u32, lv as u8));
            }
        }
        ListIndex { values, maps }
    }
}

/// What one layout gave, for each probe count of the grid.
pub struct LayoutOutcome {
    /// `[edit][p]`: edited copies matching their original.
    pub recall: Vec<Vec<usize>>,
    /// `[edit][p]`: edited copies whose identity equals their original's.
    pub identity_same: Vec<Vec<usize>>,
    /// `[p][class]`: (query, band, probe, listed entry) hits on unrelated entries (distance
    /// > 31), by distance class.
    pub false_hits: Vec<[u64; 3]>,
    /// `[p]`: queries with at least one such hit.
    pub false_images: Vec<usize>,
    /// `[p][query][class]`: the distance model's expected false hits of each query at the
    /// corpus.
    pub model_hits: Vec<Vec<[f64; 3]>>,
}

/// Per-picture results, summed into a [`LayoutOutcome`].
struct PictureOutcome {
    edit_rank: Vec<Option<usize>>,
    identity_same: Vec<Vec<bool>>,
    false_rank_counts: Vec<[u64; 3]>,
    false_min_rank: Option<usize>,
    model_hits: Vec<[f64; 3]>,
}

/// The evaluation context shared by every picture of one layout.
pub struct Evaluation<'a> {
    pub pictures: &'a [Picture],
    pub layout: &'a BandLayout,
    pub dihedral: Dihedral,
    pub grid: &'a [usize],
    pub min_quality: u32,
    pub prf: &'a IdentityPrf,
    pub model: &'a DistanceModel,
    pub ratios: &'a RatioTable,
}

impl Evaluation<'_> {
    pub fn run(&self) -> LayoutOutcome {
        let index = ListIndex::new(self.pictures, self.layout, self.dihedral.list_variants());
        let per_picture: Vec<PictureOutcome> = (0..self.pictures.len())
            .into_par_iter()
            .map(|i| self.picture(i, &index))
            .collect();
        self.sum(&per_picture)
    }

    fn pmax(&self) -> usize {
        self.grid.iter().copied().max().unwrap_or(1)
    }

    fn probed(&self, item: &Item) -> Probed {
        Probed::new(
            item,
            self.dihedral.query_variants(),
            self.layout,
            self.pmax(),
        )
    }

    fn picture(&self, i: usize, index: &ListIndex) -> PictureOutcome {
        let picture = &self.pictures[i];
        let bands = self.layout.bands();
        let original = self.probed(&picture.original);
        let original_id = original.identities(bands, self.prf, self.grid);
        let mut edit_rank = Vec::with_capacity(picture.edits.len());
        let mut identity_same = Vec::with_capacity(picture.edits.len());
        for item in &picture.edits {
            if item.quality < self.min_quality {
                edit_rank.push(None);
                identity_same.push(vec![false; self.grid.len()]);
                continue;
            }
            let q = self.probed(item);
            edit_rank.push(q.hit_rank(&index.values[i], bands));
            let ids = q.identities(bands, self.prf, self.grid);
            identity_same.push(ids.iter().zip(&original_id).map(|(a, b)| a == b).collect());
        }
        let (false_rank_counts, false_min_rank) = self.false_hits(i, &original, index);
        PictureOutcome {
            edit_rank,
            identity_same,
            false_rank_counts,
            false_min_rank,
            model_hits: self.model_hits(i, &original),
        }
    }

    /// The original as a query against every other listed picture: band hits on entries more
    /// than 31 bits away, counted by probe rank.
    fn false_hits(
        &self,
        i: usize,
        q: &Probed,
        index: &ListIndex,
    ) -> (Vec<[u64; 3]>, Option<usize>) {
        let bands = self.layout.bands();
        let mut counts = vec![[0u64; 3]; self.pmax()];
        let mut min_rank = None;
        let query = &self.pictures[i].original.variants;
        for (slot, (&value, masks)) in q.values.iter().zip(&q.masks).enumerate() {
            let (qv, j) = (slot / bands, slot % bands);
            for (r, m) in masks.iter().enumerate() {
                let Some(m) = m else { continue };
                let Some(entries) = index.maps[j].get(&(value ^ m)) else {
                    continue;
                };
                for &(k, lv) in entries {
                    let listed = &self.pictures[k as usize].original.variants[usize::from(lv)];
                    let d = query[qv].bits.distance(&listed.bits);
                    if k as usize != i && d > MATCH_DISTANCE {
                        counts[r][class(d)] += 1;
                        min_rank = Some(min_rank.map_or(r, |x: usize| x.min(r)));
                    }
                }
            }
        }
        (counts, min_rank)
    }

    /// The distance model's expected false hits of the original against the corpus list.
    fn model_hits(&self, i: usize, q: &Probed) -> Vec<[f64; 3]> {
        let bands = self.layout.bands();
        let mut out = vec![[0.0; 3]; self.grid.len()];
        for qv in 0..self.dihedral.query_variants() {
            let profile = q.flip_profile(self.grid, qv, bands);
            for (o, counts) in out.iter_mut().zip(&profile) {
                let e = self.model.expected_hits(i, qv, self.ratios, counts);
                o.iter_mut().zip(e).for_each(|(a, b)| *a += b);
            }
        }
        out
    }

    fn sum(&self, per_picture: &[PictureOutcome]) -> LayoutOutcome {
        let edits = per_picture.first().map_or(0, |p| p.edit_rank.len());
        let grid = self.grid;
        let recall = (0..edits)
            .map(|e| {
                grid.iter()
                    .map(|&p| {
                        per_picture
                            .iter()
                            .filter(|o| o.edit_rank[e].is_some_and(|r| r < p))
                            .count()
                    })
                    .collect()
            })
            .collect();
        let identity_same = (0..edits)
            .map(|e| {
                (0..grid.len())
                    .map(|g| per_picture.iter().filter(|o| o.identity_same[e][g]).count())
                    .collect()
            })
            .collect();
        let false_hits = grid
            .iter()
            .map(|&p| {
                let mut sum = [0u64; 3];
                for o in per_picture {
                    for counts in &o.false_rank_counts[..p] {
                        sum.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
                    }
                }
                sum
            })
            .collect();
        let false_images = grid
            .iter()
            .map(|&p| {
                per_picture
                    .iter()
                    .filter(|o| o.false_min_rank.is_some_and(|r| r < p))
                    .count()
            })
            .collect();
        let model_hits = (0..grid.len())
            .map(|g| per_picture.iter().map(|o| o.model_hits[g]).collect())
            .collect();
        LayoutOutcome {
            recall,
            identity_same,
            false_hits,
            false_images,
            model_hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rank_finds_the_first_probe_that_reaches_the_listed_value() {
        let probed = Probed {
            values: vec![0b1010, 0b0000],
            masks: vec![
                vec![Some(0), Some(0b0001), Some(0b0100), None],
                vec![Some(0), Some(0b1000), None, None],
            ],
        };
        // Band 0 listed 0b1110 (reached by the third probe), band 1 listed 0b1000 (second).
        assert_eq!(probed.hit_rank(&[0b1110, 0b1000], 2), Some(1));
        assert_eq!(probed.hit_rank(&[0b1110, 0b0110], 2), Some(2));
        assert_eq!(probed.hit_rank(&[0b0111, 0b0110], 2), None);
    }

    #[test]
    fn distance_classes() {
        assert_eq!([32, 47, 48, 63, 64, 256].map(class), [0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn identity_is_the_min_over_the_probe_prefix() {
        let prf = IdentityPrf::test_key();
        let probed = Probed {
            values: vec![5, 9],
            masks: vec![
                vec![Some(0), Some(1), None],
                vec![Some(0), Some(2), Some(4)],
            ],
        };
        let ids = probed.identities(2, &prf, &[1, 3]);
        let min = |keys: &[(usize, u64)]| keys.iter().map(|&(b, v)| prf.eval(b, v)).min().unwrap();
        assert_eq!(ids[0], min(&[(0, 5), (1, 9)]));
        assert_eq!(ids[1], min(&[(0, 5), (0, 4), (1, 9), (1, 11), (1, 13)]));
        assert_ne!(prf.eval(0, 5), prf.eval(1, 5));
    }
}
