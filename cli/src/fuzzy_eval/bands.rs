//! The band layout (which bit positions each band reads) and band values, on core's protocol
//! layout ([`FuzzyLayout::positions`], seed [`LAYOUT_SEED`]); the multi-probe sequence of a band
//! is core's [`probe_masks`] (Lv et al., VLDB 2007).

pub use blindmatch_core::fuzzy::probe_masks;
use blindmatch_core::fuzzy::{FuzzyLayout, LAYOUT_SEED, MAX_BANDS};
use blindmatch_core::media::pdq::PdqHash;

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

    /// The inverse of [`Bits256::from_pdq`].
    pub fn to_pdq(self) -> PdqHash {
        let mut bytes = [0u8; 32];
        for k in 0..=255u8 {
            if self.bit(k) {
                bytes[31 - usize::from(k / 8)] |= 1 << (k % 8);
            }
        }
        PdqHash(bytes)
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
    /// More bands than the protocol's layout has streams for.
    TooManyBands(usize),
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::Bits(b) => write!(f, "band width {b}: must be 1..=64 bits"),
            LayoutError::NoBands => f.write_str("at least one band is needed"),
            LayoutError::TooManyBands(l) => write!(f, "{l} bands: at most {MAX_BANDS}"),
        }
    }
}

/// L bands of b bit positions each: the protocol's layout (`docs/PROTOCOL.md` §13), seed
/// [`LAYOUT_SEED`].
///
/// When `L·b ≤ 256` the bands are disjoint: consecutive runs of one seeded permutation of the
/// 256 positions. Otherwise band `j` is the first `b` entries of its own seeded permutation, so
/// bands overlap. For b ≥ 8 this is [`FuzzyLayout::positions`] itself; narrower bands (the
/// collision curve's b = 4) are disjoint runs of the same shared permutation, which the
/// 32 × 8-bit layout lists whole.
#[derive(Clone, Debug)]
pub struct BandLayout {
    positions: Vec<Vec<u8>>,
    masks: Vec<Bits256>,
}

/// The seed of the band positions (core's protocol constant).
pub fn seed() -> &'static str {
    std::str::from_utf8(LAYOUT_SEED).unwrap_or("")
}

impl BandLayout {
    pub fn new(bands: usize, bits: u32) -> Result<BandLayout, LayoutError> {
        if !(1..=64).contains(&bits) {
            return Err(LayoutError::Bits(bits));
        }
        if bands == 0 {
            return Err(LayoutError::NoBands);
        }
        let too_many = LayoutError::TooManyBands(bands);
        let l = u8::try_from(bands)
            .ok()
            .filter(|&l| l <= MAX_BANDS)
            .ok_or(too_many)?;
        let positions: Vec<Vec<u8>> = if bits >= 8 {
            FuzzyLayout::new(l, bits as u8, 1)
                .map_err(|_| too_many)?
                .positions()
        } else {
            // L ≤ 32 bands of at most 7 bits: always disjoint.
            let shared = FuzzyLayout::new(MAX_BANDS, 8, 1)
                .map_err(|_| too_many)?
                .positions()
                .concat();
            shared
                .chunks(bits as usize)
                .take(bands)
                .map(<[u8]>::to_vec)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_the_protocols() {
        let l = BandLayout::new(6, 32).unwrap();
        let core = FuzzyLayout::RECOMMENDED.positions();
        for (j, band) in core.iter().enumerate() {
            assert_eq!(l.positions(j), band.as_slice());
        }
        // Overlapping bands: band j is its own permutation's prefix, whatever L.
        let wide = BandLayout::new(8, 64).unwrap();
        assert_eq!(
            wide.positions(5),
            FuzzyLayout::new(6, 64, 1).unwrap().positions()[5].as_slice()
        );
        // Narrow bands are runs of the shared permutation, like the 8-bit ones.
        let narrow = BandLayout::new(32, 4).unwrap();
        let eight = BandLayout::new(3, 8).unwrap();
        assert_eq!(
            [narrow.positions(2), narrow.positions(3)].concat(),
            eight.positions(1)
        );
        assert_eq!(seed(), "blindmatch fuzzy band layout v1");
    }

    #[test]
    fn disjoint_layout_covers_each_position_once() {
        for (bands, bits) in [(8, 32), (32, 8), (32, 4), (3, 7)] {
            let layout = BandLayout::new(bands, bits).unwrap();
            let mut seen = [0u8; 256];
            for j in 0..layout.bands() {
                assert_eq!(layout.positions(j).len(), bits as usize);
                for &k in layout.positions(j) {
                    seen[usize::from(k)] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n <= 1));
            assert_eq!(
                seen.iter().filter(|&&n| n == 1).count(),
                bands * bits as usize
            );
        }
    }

    #[test]
    fn overlapping_layout_has_distinct_positions_per_band() {
        let layout = BandLayout::new(6, 64).unwrap();
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
        assert_eq!(BandLayout::new(1, 65).unwrap_err(), LayoutError::Bits(65));
        assert_eq!(BandLayout::new(0, 8).unwrap_err(), LayoutError::NoBands);
        assert_eq!(
            BandLayout::new(33, 8).unwrap_err(),
            LayoutError::TooManyBands(33)
        );
    }

    #[test]
    fn band_value_packs_the_band_bits_in_order() {
        let layout = BandLayout::new(4, 16).unwrap();
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
        let pdq = PdqHash::from_hex(hex).unwrap();
        let bits = Bits256::from_pdq(&pdq);
        for k in 0..=255u8 {
            assert_eq!(bits.bit(k), pdq.bit(k));
        }
        assert_eq!(bits.to_pdq(), pdq);
        assert_eq!(
            bits.distance(&Bits256::default()),
            pdq.hamming_distance(&PdqHash::ZERO)
        );
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
        assert_eq!(probe_masks(&[1.0; 8], 0), Vec::<Option<u64>>::new());
    }
}
