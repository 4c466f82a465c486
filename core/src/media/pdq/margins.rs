//! Per-bit margins: how far each bit's DCT coefficient lies from the median
//! it was thresholded at.
//!
//! A PDQ bit is `coefficient > median`. A coefficient close to the median is
//! the one a re-encode, resize or brightness change pushes across it, so the
//! bits with the smallest margins are the ones an edit flips first. A
//! near-duplicate matcher that probes variants of a hash (multi-probe LSH)
//! flips those bits first. The hashes returned here are bit-identical to
//! [`pdq_hash`](super::pdq_hash); the margins come from the same DCT.

use super::{Blur64, PdqHash, PixelFormat, dihedral, median, quality_and_dct};
use crate::error::Result;

/// A PDQ hash and the margin of each of its 256 bits.
#[derive(Debug, Clone, PartialEq)]
pub struct HashMargins {
    /// The hash.
    pub hash: PdqHash,
    /// `margins[k]` is `|c_k - median|` (≥ 0) for bit `k` in [`PdqHash::bit`]'s
    /// numbering, where `c_k` is DCT coefficient row `k / 16`, column
    /// `k % 16` and `median` is the median the hash was thresholded at. Units
    /// are the DCT's (luminance 0–255 scale); compare margins within one
    /// hash, not across images.
    pub margins: [f32; 256],
}

impl HashMargins {
    /// The 256 bit indices ordered by increasing margin (ties by index): the
    /// bits an edit is most likely to flip come first.
    pub fn weakest_first(&self) -> [u8; 256] {
        let mut order: [u8; 256] = std::array::from_fn(|k| k as u8);
        order.sort_by(|&a, &b| {
            self.margins[usize::from(a)]
                .total_cmp(&self.margins[usize::from(b)])
                .then(a.cmp(&b))
        });
        order
    }

    fn zero() -> HashMargins {
        HashMargins {
            hash: PdqHash::ZERO,
            margins: [0.0; 256],
        }
    }
}

/// Result of [`pdq_hash_with_margins`].
#[derive(Debug, Clone, PartialEq)]
pub struct PdqWithMargins {
    /// Quality score, 0..=100, as [`PdqOutput::quality`](super::PdqOutput::quality).
    pub quality: u32,
    /// The hash (identical to [`pdq_hash`](super::pdq_hash)'s) and its margins.
    pub original: HashMargins,
}

/// Result of [`pdq_hash_dihedral_with_margins`].
#[derive(Debug, Clone, PartialEq)]
pub struct PdqDihedralWithMargins {
    /// Quality score, 0..=100, shared by the eight variants.
    pub quality: u32,
    /// The eight orientations in [`PdqDihedral`](super::PdqDihedral)'s order,
    /// each with its own margins (every variant has its own median).
    pub variants: [HashMargins; 8],
}

/// The PDQ hash and quality of an image, as [`pdq_hash`](super::pdq_hash),
/// plus each bit's margin (see [`HashMargins::margins`]).
///
/// Images with a side shorter than 5 pixels give the zero hash, zero margins
/// and quality 0.
///
/// # Errors
///
/// As [`pdq_hash`](super::pdq_hash).
pub fn pdq_hash_with_margins(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: PixelFormat,
) -> Result<PdqWithMargins> {
    let Some((quality, dct)) = quality_and_dct(pixels, width, height, format, Blur64::Skip)? else {
        return Ok(PdqWithMargins {
            quality: 0,
            original: HashMargins::zero(),
        });
    };
    let (hash, margins) = median::dct_to_hash_with_margins(&dct);
    Ok(PdqWithMargins {
        quality,
        original: HashMargins { hash, margins },
    })
}

/// The eight dihedral hashes of an image with their margins, from one DCT
/// (the transforms only permute and negate coefficients, so this costs little
/// more than [`pdq_hash_with_margins`]).
///
/// `variants[0]` is bit-identical to [`pdq_hash`](super::pdq_hash). The
/// luminance preparation is [`pdq_hash`](super::pdq_hash)'s, so for the one
/// input size where the two reference entry points differ (exactly 64×64,
/// which [`pdq_hash_dihedral`](super::pdq_hash_dihedral) blurs and
/// [`pdq_hash`](super::pdq_hash) does not) these variants follow
/// [`pdq_hash`](super::pdq_hash); for every other size they equal
/// [`pdq_hash_dihedral`](super::pdq_hash_dihedral)'s hashes.
///
/// # Errors
///
/// As [`pdq_hash`](super::pdq_hash).
pub fn pdq_hash_dihedral_with_margins(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: PixelFormat,
) -> Result<PdqDihedralWithMargins> {
    let Some((quality, dct)) = quality_and_dct(pixels, width, height, format, Blur64::Skip)? else {
        return Ok(PdqDihedralWithMargins {
            quality: 0,
            variants: std::array::from_fn(|_| HashMargins::zero()),
        });
    };
    let variants = dihedral::DIHEDRAL_TRANSFORMS.map(|t| {
        let (hash, margins) = median::dct_to_hash_with_margins(&t.apply(&dct));
        HashMargins { hash, margins }
    });
    Ok(PdqDihedralWithMargins { quality, variants })
}

#[cfg(test)]
mod tests {
    use super::super::{pdq_hash, pdq_hash_dihedral};
    use super::*;
    use std::path::PathBuf;

    const REFERENCE: [&str; 12] = [
        "astronaut.png",
        "astronaut-half.png",
        "astronaut-small37x23.png",
        "camera.png",
        "camera-half.png",
        "camera-small37x23.png",
        "rocket.png",
        "rocket-half.png",
        "rocket-small37x23.png",
        "text.png",
        "text-half.png",
        "text-small37x23.png",
    ];

    /// A reference image as packed RGB.
    fn load(name: &str) -> (Vec<u8>, u32, u32) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/pdq")
            .join(name);
        let img = image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        let (w, h) = img.dimensions();
        (img.into_raw(), w, h)
    }

    #[test]
    fn hashes_equal_pdq_hash_on_reference_images() {
        for name in REFERENCE {
            let (px, w, h) = load(name);
            let plain = pdq_hash(&px, w, h, PixelFormat::Rgb8).unwrap();
            let with = pdq_hash_with_margins(&px, w, h, PixelFormat::Rgb8).unwrap();
            assert_eq!(with.original.hash, plain.hash, "{name}");
            assert_eq!(with.quality, plain.quality, "{name}");
            let dih = pdq_hash_dihedral(&px, w, h, PixelFormat::Rgb8).unwrap();
            let dih_m = pdq_hash_dihedral_with_margins(&px, w, h, PixelFormat::Rgb8).unwrap();
            assert_eq!(dih_m.quality, dih.quality, "{name}");
            for (m, h) in dih_m.variants.iter().zip(dih.hashes) {
                assert_eq!(m.hash, h, "{name}");
            }
            assert_eq!(dih_m.variants[0], with.original, "{name}");
        }
    }

    #[test]
    fn margins_are_distances_from_the_median() {
        for name in ["astronaut.png", "camera-half.png", "text-small37x23.png"] {
            let (px, w, h) = load(name);
            let m = pdq_hash_with_margins(&px, w, h, PixelFormat::Rgb8)
                .unwrap()
                .original;
            assert!(m.margins.iter().all(|&x| x >= 0.0 && x.is_finite()));
            // Torben's lower median is one of the coefficients: margin 0, bit clear.
            let weakest = m.weakest_first();
            assert_eq!(m.margins[usize::from(weakest[0])], 0.0, "{name}");
            assert!(!m.hash.bit(weakest[0]), "{name}");
            // Set bits are strictly above the median: positive margins.
            for k in 0..=255u8 {
                if m.hash.bit(k) {
                    assert!(m.margins[usize::from(k)] > 0.0, "{name} bit {k}");
                }
            }
            for pair in weakest.windows(2) {
                assert!(m.margins[usize::from(pair[0])] <= m.margins[usize::from(pair[1])]);
            }
        }
    }

    #[test]
    fn median_adjacent_coefficients_have_the_smallest_margins() {
        let (px, w, h) = load("camera.png");
        let (_, dct16) = quality_and_dct(&px, w, h, PixelFormat::Rgb8, Blur64::Skip)
            .unwrap()
            .unwrap();
        let coefficients: Vec<f32> = dct16.iter().flatten().copied().collect();
        let mut by_value: Vec<usize> = (0..256).collect();
        by_value.sort_by(|&a, &b| coefficients[a].total_cmp(&coefficients[b]));
        let m = pdq_hash_with_margins(&px, w, h, PixelFormat::Rgb8)
            .unwrap()
            .original;
        let weakest = m.weakest_first();
        // The lower median (rank 127) comes first; the next weakest is a rank
        // neighbour (126 or 128), then the other neighbour or one further out.
        assert_eq!(usize::from(weakest[0]), by_value[127]);
        assert!([by_value[126], by_value[128]].contains(&usize::from(weakest[1])));
        let near: Vec<usize> = (124..=130).map(|r| by_value[r]).collect();
        for &k in &weakest[..4] {
            assert!(
                near.contains(&usize::from(k)),
                "bit {k} is not median-adjacent"
            );
        }
        // And the strongest bit is an extreme coefficient.
        assert!([by_value[0], by_value[255]].contains(&usize::from(weakest[255])));
    }

    #[test]
    fn tiny_and_64x64_inputs() {
        let tiny = pdq_hash_with_margins(&[9u8; 4 * 4], 4, 4, PixelFormat::Luma8).unwrap();
        assert_eq!(tiny.original.hash, PdqHash::ZERO);
        assert_eq!(tiny.quality, 0);
        assert!(tiny.original.margins.iter().all(|&x| x == 0.0));
        // Exactly 64x64: pdq_hash's path (no blur), so variant 0 is pdq_hash.
        let img = super::super::tests::test_image(64, 64);
        let plain = pdq_hash(&img, 64, 64, PixelFormat::Rgb8).unwrap();
        let dih = pdq_hash_dihedral_with_margins(&img, 64, 64, PixelFormat::Rgb8).unwrap();
        assert_eq!(dih.variants[0].hash, plain.hash);
    }
}
