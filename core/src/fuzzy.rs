//! Near-duplicate matching of PDQ hashes: the band layout a fuzzy database is built with and a
//! device probes (`docs/PROTOCOL.md` §13).
//!
//! A fuzzy database lists, for every listed PDQ hash, one **band key** per band: the band's
//! index and the hash's bits at the band's positions. A device probes each band with the exact
//! value and with variants that flip the band's weakest bits, so a re-encoded or resized copy of
//! a listed picture hits a listed band key although its hash differs in a few bits. The layout
//! is public: the manifest carries (L, b, P) and the positions come from a fixed seed.

use crate::error::{Error, Field, Result};
use crate::media::pdq::PdqHash;
use sha2::{Digest, Sha256};

/// Kind id of a band key in [`band_key`]'s encoding: never a listed kind, so band keys and
/// media hashes never collide.
pub(crate) const BAND_KIND_ID: u8 = 5;
/// Length of a band key's encoding: `u8(5) ‖ u8(9) ‖ u8(band) ‖ LE64(value)`.
pub(crate) const BAND_KEY_LEN: usize = 11;
/// The seed of the band positions (a protocol constant, not a manifest field).
pub const LAYOUT_SEED: &[u8] = b"blindmatch fuzzy band layout v1";
/// Most bands a layout may have.
pub const MAX_BANDS: u8 = 32;
/// Most probes per band.
pub const MAX_PROBES: u8 = 64;
/// Most outer layers a bundle may have (L·P).
pub const MAX_LAYERS: usize = 512;
/// The flip rate of the synthetic open-count formula, as a fraction (numerator, denominator)
/// (`docs/PROTOCOL.md` §13.5): chosen with `blindmatch eval-fuzzy --protocol` to minimise the
/// distance between D and the real open counts of forwarded and lightly edited copies
/// (`docs/FUZZY.md`).
pub const RHO: (u32, u32) = (1, 1024);

/// The band layout of a fuzzy database: L bands of b bits, P probes per band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FuzzyLayout {
    bands: u8,
    band_bits: u8,
    probes: u8,
}

impl FuzzyLayout {
    /// The recommended layout, chosen with `blindmatch eval-fuzzy` (`docs/FUZZY.md`):
    /// L = 6 bands of b = 32 bits, P = 14 probes per band (K = 84 outer layers).
    pub const RECOMMENDED: FuzzyLayout = FuzzyLayout {
        bands: 6,
        band_bits: 32,
        probes: 14,
    };

    /// A layout of `bands` (1–32) bands of `band_bits` (8–64) bits with `probes` (1–64) probes
    /// per band, at most 512 probes in all.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] ([`Field::ManifestFuzzy`]) outside those ranges.
    pub fn new(bands: u8, band_bits: u8, probes: u8) -> Result<FuzzyLayout> {
        let ok = (1..=MAX_BANDS).contains(&bands)
            && (8..=64).contains(&band_bits)
            && (1..=MAX_PROBES).contains(&probes)
            && usize::from(bands) * usize::from(probes) <= MAX_LAYERS;
        if !ok {
            return Err(Error::OutOfRange {
                field: Field::ManifestFuzzy,
            });
        }
        Ok(FuzzyLayout {
            bands,
            band_bits,
            probes,
        })
    }

    /// L, the number of bands.
    pub fn bands(&self) -> u8 {
        self.bands
    }

    /// b, the bits per band.
    pub fn band_bits(&self) -> u8 {
        self.band_bits
    }

    /// P, the probes per band.
    pub fn probes(&self) -> u8 {
        self.probes
    }

    /// K = L·P, the outer layers of every bundle.
    pub fn layers(&self) -> usize {
        usize::from(self.bands) * usize::from(self.probes)
    }

    /// The manifest encoding: `u8(L) ‖ u8(b) ‖ u8(P) ‖ u8(dihedral = 0)`.
    pub(crate) fn encode(&self) -> [u8; 4] {
        [self.bands, self.band_bits, self.probes, 0]
    }

    /// Decode the manifest encoding.
    pub(crate) fn decode(b: [u8; 4]) -> Result<FuzzyLayout> {
        let [bands, band_bits, probes, dihedral] = b;
        if dihedral != 0 {
            return Err(Error::OutOfRange {
                field: Field::ManifestFuzzy,
            });
        }
        FuzzyLayout::new(bands, band_bits, probes)
    }

    /// The bit positions of every band, in the order they are packed into a band value.
    pub fn positions(&self) -> Vec<Vec<u8>> {
        let b = usize::from(self.band_bits);
        let l = usize::from(self.bands);
        if l * b <= 256 {
            let perm = permutation(u32::MAX);
            perm.chunks(b).take(l).map(<[u8]>::to_vec).collect()
        } else {
            (0..l)
                .map(|j| permutation(j as u32).get(..b).unwrap_or(&[]).to_vec())
                .collect()
        }
    }

    /// The synthetic open-count distribution D as cumulative thresholds: a synthetic bundle
    /// whose 64-bit draw u satisfies `u < cdf[c − 1]` (and not for c − 1) opens c layers.
    /// `cdf` has L entries, the last `u64::MAX` (`docs/PROTOCOL.md` §13.5).
    pub fn open_count_cdf(&self) -> Vec<u64> {
        let pmf = self.open_count_pmf();
        let mut acc = 0.0f64;
        let mut out = Vec::with_capacity(pmf.len());
        for (i, p) in pmf.iter().enumerate() {
            acc += p;
            if i + 1 == pmf.len() {
                out.push(u64::MAX);
            } else {
                // 2^64 · acc, saturating (binary64; informative precision, see §13.5).
                let v = acc * 18_446_744_073_709_551_616.0;
                out.push(if v >= 18_446_744_073_709_551_615.0 {
                    u64::MAX
                } else {
                    v as u64
                });
            }
        }
        out
    }

    /// D as probabilities of opening 1 … L layers: Binomial(L, π) conditioned on at least one,
    /// with `π = (1 − ρ)^(b − w)`, `w = ⌊log2 P⌋`, ρ = [`RHO`]; every power by repeated
    /// multiplication in binary64, exactly as `docs/PROTOCOL.md` §13.5 writes it.
    pub fn open_count_pmf(&self) -> Vec<f64> {
        let l = u32::from(self.bands);
        let w = u32::from(self.probes).ilog2();
        let rho = f64::from(RHO.0) / f64::from(RHO.1);
        let pi = pow(1.0 - rho, u32::from(self.band_bits) - w);
        let none = pow(1.0 - pi, l);
        (1..=l)
            .map(|c| binomial(l, c) * pow(pi, c) * pow(1.0 - pi, l - c) / (1.0 - none))
            .collect()
    }
}

/// A set of band bits to flip (bit `r`: the `r`-th weakest), scored by its total margin.
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    score: f64,
    set: u64,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.set.cmp(&other.set))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A band's `count` probes as XOR masks over the band value, given the margins of the band's
/// bits in band order: the exact value first (`Some(0)`), then flips of the band's weakest
/// bits in non-decreasing total flipped margin (Lv et al.'s shift/expand generation, VLDB 2007;
/// each subset once, ties by the subset's bits), padded with `None` (a probe that cannot
/// match) when the band has fewer than `count` subsets. Always exactly `count` long.
pub fn probe_masks(margins: &[f32], count: usize) -> Vec<Option<u64>> {
    use std::cmp::Reverse;
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    out.push(Some(0));
    let mut order: Vec<usize> = (0..margins.len().min(64)).collect();
    order.sort_by(|&a, &b| {
        let (ma, mb) = (margins.get(a), margins.get(b));
        ma.zip(mb)
            .map_or(core::cmp::Ordering::Equal, |(x, y)| x.total_cmp(y))
            .then(a.cmp(&b))
    });
    let sorted: Vec<f64> = order
        .iter()
        .filter_map(|&i| margins.get(i).map(|m| f64::from(*m)))
        .collect();
    // A set's score: the binary64 sum of its margins in increasing rank, computed afresh.
    let score = |set: u64| -> f64 {
        sorted
            .iter()
            .enumerate()
            .filter(|&(r, _)| set >> r & 1 == 1)
            .fold(0.0, |acc, (_, m)| acc + m)
    };
    let to_mask = |set: u64| -> u64 {
        order
            .iter()
            .enumerate()
            .filter(|&(r, _)| set >> r & 1 == 1)
            .fold(0, |m, (_, &i)| m | 1 << i)
    };
    let mut heap = std::collections::BinaryHeap::new();
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
        if top + 1 < sorted.len() {
            let shifted = c.set & !(1 << top) | 1 << (top + 1);
            let expanded = c.set | 1 << (top + 1);
            heap.push(Reverse(Candidate {
                score: score(shifted),
                set: shifted,
            }));
            heap.push(Reverse(Candidate {
                score: score(expanded),
                set: expanded,
            }));
        }
    }
    out.resize(count, None);
    out
}

/// x^n by n − 1 multiplications from the left (1 for n = 0).
fn pow(x: f64, n: u32) -> f64 {
    (0..n).fold(1.0, |acc, _| acc * x)
}

/// C(n, k) as binary64: the product of (n − i)/(i + 1) for i = 0 … k − 1, from the left.
fn binomial(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

/// A seeded permutation of 0..=255: Fisher–Yates with
/// `j = BE64(SHA-256(seed ‖ BE32(stream) ‖ BE32(i))[..8]) mod (i + 1)` for i = 255 … 1.
fn permutation(stream: u32) -> Vec<u8> {
    let mut perm: Vec<u8> = (0..=255).collect();
    for i in (1..256usize).rev() {
        let digest = Sha256::new()
            .chain_update(LAYOUT_SEED)
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

/// The hash's bits at a band's positions: position `i` of the band is bit `i` of the value.
pub(crate) fn band_value(positions: &[u8], hash: &PdqHash) -> u64 {
    positions
        .iter()
        .enumerate()
        .fold(0, |v, (i, &k)| v | (u64::from(hash.bit(k)) << i))
}

/// The encoding of band key (band, value): the item every per-probe derivation uses.
pub(crate) fn band_key(band: u8, value: u64) -> [u8; BAND_KEY_LEN] {
    let mut k = [0u8; BAND_KEY_LEN];
    k[0] = BAND_KIND_ID;
    k[1] = 9;
    k[2] = band;
    k[3..].copy_from_slice(&value.to_le_bytes());
    k
}

/// The band keys of a listed hash: what a fuzzy database lists for it.
pub(crate) fn listed_keys(layout: &[Vec<u8>], hash: &PdqHash) -> Vec<[u8; BAND_KEY_LEN]> {
    layout
        .iter()
        .enumerate()
        .map(|(j, pos)| band_key(j as u8, band_value(pos, hash)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disjoint_layout_covers_distinct_positions() {
        let l = FuzzyLayout::RECOMMENDED.positions();
        assert_eq!(l.len(), 6);
        let mut all: Vec<u8> = l.concat();
        assert_eq!(all.len(), 192);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 192);
        // Overlapping layout: distinct positions within each band.
        let o = FuzzyLayout::new(8, 64, 2).unwrap().positions();
        for band in &o {
            let mut b = band.clone();
            b.sort_unstable();
            b.dedup();
            assert_eq!(b.len(), 64);
        }
    }

    #[test]
    fn layout_ranges_are_checked() {
        for (l, b, p) in [
            (0, 32, 1),
            (33, 32, 1),
            (6, 7, 1),
            (6, 65, 1),
            (6, 32, 0),
            (6, 32, 65),
            (16, 32, 64),
        ] {
            assert!(FuzzyLayout::new(l, b, p).is_err(), "{l} {b} {p}");
        }
        assert!(FuzzyLayout::decode([6, 32, 14, 1]).is_err());
        assert_eq!(
            FuzzyLayout::decode([6, 32, 14, 0]).unwrap(),
            FuzzyLayout::RECOMMENDED
        );
    }

    #[test]
    fn open_count_distribution_is_a_distribution_over_one_to_l() {
        let d = FuzzyLayout::RECOMMENDED;
        let pmf = d.open_count_pmf();
        assert_eq!(pmf.len(), 6);
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let cdf = d.open_count_cdf();
        assert!(cdf.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*cdf.last().unwrap(), u64::MAX);
    }

    #[test]
    fn probes_start_exact_then_flip_in_increasing_margin() {
        // Band bits 0..4 with margins: bit 2 weakest, then 0, 3, 1.
        let probes = probe_masks(&[2.0, 9.0, 1.0, 4.0], 8);
        let expect = [0, 0b0100, 0b0001, 0b0101, 0b1000, 0b1100, 0b1001, 0b1101];
        assert_eq!(probes, expect.map(Some).to_vec());
        assert_eq!(
            probe_masks(&[1.0, 2.0], 6),
            vec![Some(0), Some(1), Some(2), Some(3), None, None]
        );
        assert_eq!(probe_masks(&[1.0; 8], 1), vec![Some(0)]);
    }

    /// The vectors of `docs/PROTOCOL.md` §13.8.
    #[test]
    fn layout_and_band_key_vectors() {
        let pos = FuzzyLayout::RECOMMENDED.positions();
        assert_eq!(&pos[0][..8], &[140, 144, 180, 120, 10, 63, 211, 92]);
        assert_eq!(&pos[5][..8], &[81, 119, 115, 247, 17, 98, 78, 212]);
        let o = FuzzyLayout::new(8, 64, 2).unwrap().positions();
        assert_eq!(&o[1][..8], &[205, 184, 196, 16, 95, 228, 59, 170]);
        assert_eq!(
            FuzzyLayout::RECOMMENDED.open_count_cdf(),
            [
                0x0000_01aa_4060_f501,
                0x0000_9281_4b4c_ef42,
                0x001a_d234_82a4_5a9b,
                0x02c7_d381_54e1_d0c0,
                0x2805_da78_bf79_ca00,
                u64::MAX
            ]
        );
        let h =
            PdqHash::from_hex("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
                .unwrap();
        let keys: Vec<String> = listed_keys(&pos, &h).iter().map(hex::encode).collect();
        assert_eq!(
            keys,
            [
                "0509008e8b729200000000",
                "050901ac80bff900000000",
                "05090261b119fb00000000",
                "0509039a16c0a600000000",
                "05090471bb99d900000000",
                "050905ad6f5a3e00000000",
            ]
        );
    }

    #[test]
    fn band_keys_pack_bits_in_band_order() {
        let mut h = PdqHash::ZERO;
        h.0[31 - 17 / 8] |= 1 << (17 % 8);
        h.0[31 - 200 / 8] |= 1 << (200 % 8);
        assert_eq!(band_value(&[3, 17, 200, 4], &h), 0b0110);
        let k = band_key(2, 0b0110);
        assert_eq!(&k[..3], &[5, 9, 2]);
        assert_eq!(k[3], 0b0110);
    }
}
