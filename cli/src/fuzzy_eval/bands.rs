//! The band layout (which bit positions each band reads), band values, and the multi-probe
//! sequence of a band (Lv et al., VLDB 2007).

use sha2::{Digest, Sha256};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A 256-bit hash as four words: bit `k` is `(words[k / 64] >> (k % 64)) & 1`, in
/// [`PdqHash::bit`](blindmatch_core::media::pdq::PdqHash::bit)'s numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Bits256(pub [u64; 4]);

impl Bits256 {
    pub fn from_pdq(hash: &blindmatch_core::media::pdq::PdqHash) -> Bits256 {
        let mut words = [0u64; 4];
        for k in 0..=255u8 {
            if hash.bit(k) {
                words[usize::from(k / 64)] |= 1 << (k % 64);
            }
        }
        Bits256(words)
    }

    pub fn bit(&self, k: u8) -> bool {
        (self.0[usize::from(k / 64)] >> (k % 64)) & 1 == 1
    }

    pub fn distance(&self, other: &Bits256) -> u32 {
        self.0
            .iter()
            .zip(other.0)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// True when `self` and `other` agree on every bit set in `mask`.
    pub fn agree_on(&self, other: &Bits256, mask: &Bits256) -> bool {
        (0..4).all(|w| (self.0[w] ^ other.0[w]) & mask.0[w] == 0)
    }
}

/// Why a band layout cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// Band width outside 1..=64 (a band value is one 64-bit word).
    Bits(u32),
    /// Zero bands.
    NoBands,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::Bits(b) => write!(f, "band width {b}: must be 1..=64 bits"),
            LayoutError::NoBands => f.write_str("at least one band is needed"),
        }
    }
}

/// L bands of b bit positions each.
///
/// When `L·b ≤ 256` the bands are disjoint: consecutive runs of one seeded permutation of the
/// 256 positions. Otherwise band `j` is the first `b` entries of its own seeded permutation, so
/// bands overlap. Permutations are Fisher–Yates with `j = u64(SHA-256(seed ‖ stream ‖ i)[..8])
/// mod (i + 1)` for `i` = 255 down to 1 (stream = 0xFFFF_FFFF for the shared permutation, else
/// the band index; all integers big-endian), so the layout is public and reproducible anywhere.
#[derive(Clone, Debug)]
pub struct BandLayout {
    positions: Vec<Vec<u8>>,
    masks: Vec<Bits256>,
}

/// Stream id of the one permutation shared by disjoint bands.
const SHARED_STREAM: u32 = u32::MAX;

impl BandLayout {
    pub fn new(bands: usize, bits: u32, seed: &str) -> Result<BandLayout, LayoutError> {
        if !(1..=64).contains(&bits) {
            return Err(LayoutError::Bits(bits));
        }
        if bands == 0 {
            return Err(LayoutError::NoBands);
        }
        let b = bits as usize;
        let positions: Vec<Vec<u8>> = if bands * b <= 256 {
            let perm = permutation(seed, SHARED_STREAM);
            perm.chunks(b).take(bands).map(<[u8]>::to_vec).collect()
        } else {
            (0..bands)
                .map(|j| permutation(seed, j as u32)[..b].to_vec())
                .collect()
        };
        let masks = positions
            .iter()
            .map(|band| {
                let mut m = Bits256::default();
                for &k in band {
                    m.0[usize::from(k / 64)] |= 1 << (k % 64);
                }
                m
            })
            .collect();
        Ok(BandLayout { positions, masks })
    }

    pub fn bands(&self) -> usize {
        self.positions.len()
    }

    pub fn bits(&self) -> usize {
        self.positions.first().map_or(0, Vec::len)
    }

    /// The band's bit positions, in the order they are packed into the band value.
    #[cfg(test)]
    pub fn positions(&self, band: usize) -> &[u8] {
        &self.positions[band]
    }

    /// The band's positions as a 256-bit mask.
    pub fn mask(&self, band: usize) -> &Bits256 {
        &self.masks[band]
    }

    /// The hash's bits at the band's positions: position `i` of the band is bit `i` of the value.
    pub fn value(&self, band: usize, hash: &Bits256) -> u64 {
        self.positions[band]
            .iter()
            .enumerate()
            .fold(0, |v, (i, &k)| v | (u64::from(hash.bit(k)) << i))
    }

    /// The margins of the band's bits, in the band's order.
    pub fn margins(&self, band: usize, margins: &[f32; 256]) -> Vec<f32> {
        self.positions[band]
            .iter()
            .map(|&k| margins[usize::from(k)])
            .collect()
    }
}

/// A seeded permutation of 0..=255 (see [`BandLayout`]).
fn permutation(seed: &str, stream: u32) -> Vec<u8> {
    let mut perm: Vec<u8> = (0..=255).collect();
    for i in (1..256usize).rev() {
        let digest = Sha256::new()
            .chain_update(seed.as_bytes())
            .chain_update(stream.to_be_bytes())
            .chain_update((i as u32).to_be_bytes())
            .finalize();
        let mut word = [0u8; 8];
        word.copy_from_slice(&digest[..8]);
        let j = (u64::from_be_bytes(word) % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    perm
}

/// A set of band bits to flip, over the bits sorted by margin, scored by its total margin.
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    score: f64,
    /// Bit `r` set: flip the `r`-th weakest bit.
    set: u64,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.set.cmp(&other.set))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The band's `count` probes as XOR masks over the band value, in probe order: the exact value
/// first (`Some(0)`), then flips of the band's weakest bits in increasing order of total flipped
/// margin (Lv et al.'s shift/expand generation, each subset once), padded with `None` (a probe
/// that cannot match) when the band has fewer than `count` subsets. Always exactly `count` long.
pub fn probe_masks(margins: &[f32], count: usize) -> Vec<Option<u64>> {
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    out.push(Some(0));
    let mut order: Vec<usize> = (0..margins.len().min(64)).collect();
    order.sort_by(|&a, &b| margins[a].total_cmp(&margins[b]).then(a.cmp(&b)));
    let sorted: Vec<f64> = order.iter().map(|&i| f64::from(margins[i])).collect();
    let to_mask = |set: u64| -> u64 {
        order
            .iter()
            .enumerate()
            .filter(|&(r, _)| set >> r & 1 == 1)
            .fold(0, |m, (_, &i)| m | 1 << i)
    };
    let mut heap = BinaryHeap::new();
    if let Some(&first) = sorted.first() {
        heap.push(Reverse(Candidate {
            score: first,
            set: 1,
        }));
    }
    while out.len() < count {
        let Some(Reverse(c)) = heap.pop() else { break };
        out.push(Some(to_mask(c.set)));
        let top = 63 - c.set.leading_zeros() as usize;
        if let Some(&next) = sorted.get(top + 1) {
            let shifted = c.set & !(1 << top) | 1 << (top + 1);
            heap.push(Reverse(Candidate {
                score: c.score - sorted[top] + next,
                set: shifted,
            }));
            heap.push(Reverse(Candidate {
                score: c.score + next,
                set: c.set | 1 << (top + 1),
            }));
        }
    }
    out.resize(count, None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_layout_covers_each_position_once() {
        let layout = BandLayout::new(8, 32, "seed").unwrap();
        let mut seen = [0u8; 256];
        for j in 0..layout.bands() {
            assert_eq!(layout.positions(j).len(), 32);
            for &k in layout.positions(j) {
                seen[usize::from(k)] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Deterministic, and the seed matters.
        let again = BandLayout::new(8, 32, "seed").unwrap();
        assert_eq!(again.positions(3), layout.positions(3));
        let other = BandLayout::new(8, 32, "other seed").unwrap();
        assert_ne!(other.positions(0), layout.positions(0));
    }

    #[test]
    fn overlapping_layout_has_distinct_positions_per_band() {
        let layout = BandLayout::new(6, 64, "seed").unwrap();
        for j in 0..6 {
            let mut p = layout.positions(j).to_vec();
            p.sort_unstable();
            p.dedup();
            assert_eq!(p.len(), 64);
            assert_eq!(
                layout.mask(j).0.iter().map(|w| w.count_ones()).sum::<u32>(),
                64
            );
        }
        assert_eq!(
            BandLayout::new(1, 65, "s").unwrap_err(),
            LayoutError::Bits(65)
        );
        assert_eq!(
            BandLayout::new(0, 8, "s").unwrap_err(),
            LayoutError::NoBands
        );
    }

    #[test]
    fn band_value_packs_the_band_bits_in_order() {
        let layout = BandLayout::new(4, 16, "seed").unwrap();
        let band = layout.positions(2).to_vec();
        let mut h = Bits256::default();
        // Set the band's 1st and 4th positions and a position outside the band.
        for k in [band[0], band[3]] {
            h.0[usize::from(k / 64)] |= 1 << (k % 64);
        }
        let outside = (0..=255u8).find(|k| !band.contains(k)).unwrap();
        h.0[usize::from(outside / 64)] |= 1 << (outside % 64);
        assert_eq!(layout.value(2, &h), 0b1001);
        let mut other = h;
        other.0[usize::from(outside / 64)] ^= 1 << (outside % 64);
        assert!(h.agree_on(&other, layout.mask(2)));
        assert_eq!(layout.value(2, &other), 0b1001);
    }

    #[test]
    fn bits256_matches_pdq_numbering() {
        let hex = "2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724";
        let pdq = blindmatch_core::media::pdq::PdqHash::from_hex(hex).unwrap();
        let bits = Bits256::from_pdq(&pdq);
        for k in 0..=255u8 {
            assert_eq!(bits.bit(k), pdq.bit(k));
        }
        assert_eq!(
            bits.distance(&Bits256::default()),
            pdq.hamming_distance(&blindmatch_core::media::pdq::PdqHash::ZERO)
        );
    }

    #[test]
    fn probes_start_exact_then_flip_in_increasing_margin() {
        // Band bits 0..4 with margins: bit 2 weakest, then 0, 3, 1.
        let margins = [2.0, 9.0, 1.0, 4.0];
        let probes = probe_masks(&margins, 8);
        assert_eq!(probes.len(), 8);
        // Scores: {} 0, {2} 1, {0} 2, {2,0} 3, {3} 4, {2,3} 5, {0,3} 6, {2,0,3} 7.
        let expect = [0, 0b0100, 0b0001, 0b0101, 0b1000, 0b1100, 0b1001, 0b1101];
        assert_eq!(probes, expect.map(Some).to_vec());
    }

    #[test]
    fn probes_are_distinct_and_nondecreasing_in_score() {
        let margins: Vec<f32> = (0..24).map(|i| ((i * 37) % 11) as f32 + 0.5).collect();
        let probes = probe_masks(&margins, 300);
        let score = |m: u64| -> f64 {
            (0..24)
                .filter(|&i| m >> i & 1 == 1)
                .map(|i| f64::from(margins[i]))
                .sum()
        };
        let masks: Vec<u64> = probes.iter().map(|p| p.unwrap()).collect();
        for w in masks.windows(2) {
            assert!(score(w[0]) <= score(w[1]) + 1e-9, "{:b} {:b}", w[0], w[1]);
        }
        let mut unique = masks.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), masks.len());
        // Every single-bit flip cheaper than the 300th probe is among the probes.
        let last = score(*masks.last().unwrap());
        for (i, &m) in margins.iter().enumerate() {
            if f64::from(m) < last {
                assert!(masks.contains(&(1 << i)), "bit {i}");
            }
        }
    }

    #[test]
    fn probes_are_padded_to_exactly_p() {
        // Two bits: only four subsets exist.
        let probes = probe_masks(&[1.0, 2.0], 6);
        assert_eq!(probes, vec![Some(0), Some(1), Some(2), Some(3), None, None]);
        assert_eq!(probe_masks(&[1.0; 8], 0), Vec::<Option<u64>>::new());
        assert_eq!(probe_masks(&[1.0; 8], 1), vec![Some(0)]);
    }
}
