//! Step 1: the single-precision luminance plane.
//!
//! RGB follows the `pdqhash` Python binding (which produced the reference
//! vectors): `0.299 R + 0.587 G + 0.114 B` evaluated in `f64` and rounded once
//! to `f32`. Greyscale bytes are used as is (the reference's
//! `fillFloatLumaFromGrey`).

use super::PixelFormat;

/// Luminance of one RGB pixel: evaluated in `f64` left to right and rounded
/// once to `f32`, as the `pdqhash` binding does with NumPy before handing the
/// plane to the reference C++ code.
#[cfg(test)]
fn rgb_luma(r: u8, g: u8, b: u8) -> f32 {
    (f64::from(r) * 0.299 + f64::from(g) * 0.587 + f64::from(b) * 0.114) as f32
}

/// Per-channel products `v * coefficient` in `f64` for every byte value.
///
/// Looking the products up gives bit-identical results to multiplying (the
/// product of two given doubles is fully determined) while avoiding three
/// conversions and multiplications per pixel.
struct LumaTables {
    r: [f64; 256],
    g: [f64; 256],
    b: [f64; 256],
}

impl LumaTables {
    fn new() -> LumaTables {
        let mut t = LumaTables {
            r: [0.0; 256],
            g: [0.0; 256],
            b: [0.0; 256],
        };
        for (v, ((r, g), b)) in
            t.r.iter_mut()
                .zip(t.g.iter_mut())
                .zip(t.b.iter_mut())
                .enumerate()
        {
            let v = v as f64;
            *r = v * 0.299;
            *g = v * 0.587;
            *b = v * 0.114;
        }
        t
    }

    #[inline]
    fn luma(&self, r: u8, g: u8, b: u8) -> f32 {
        // A u8 always indexes a 256-entry table; `get` keeps clippy's
        // indexing lint quiet; the bounds check is optimised away.
        let lookup = |table: &[f64; 256], v: u8| table.get(usize::from(v)).copied().unwrap_or(0.0);
        (lookup(&self.r, r) + lookup(&self.g, g) + lookup(&self.b, b)) as f32
    }
}

/// Converts a validated buffer into a row-major `f32` luminance plane of
/// `count` pixels.
pub(super) fn luma_plane(pixels: &[u8], format: PixelFormat, count: usize) -> Vec<f32> {
    let mut luma = Vec::with_capacity(count);
    match format {
        PixelFormat::Luma8 => luma.extend(pixels.iter().map(|&v| f32::from(v))),
        PixelFormat::Rgb8 => {
            let t = LumaTables::new();
            luma.extend(pixels.chunks_exact(3).map(|p| match *p {
                [r, g, b] => t.luma(r, g, b),
                _ => 0.0,
            }));
        }
        PixelFormat::Rgba8 => {
            let t = LumaTables::new();
            luma.extend(pixels.chunks_exact(4).map(|p| match *p {
                [r, g, b, _alpha] => t.luma(r, g, b),
                _ => 0.0,
            }));
        }
    }
    luma
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_tables_match_direct_formula() {
        let t = LumaTables::new();
        let mut state: u32 = 7;
        for _ in 0..100_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let [r, g, b, _] = state.to_le_bytes();
            assert_eq!(t.luma(r, g, b).to_bits(), rgb_luma(r, g, b).to_bits());
        }
        for v in 0..=255u8 {
            assert_eq!(rgb_luma(v, v, v), f32::from(v));
        }
    }
}
