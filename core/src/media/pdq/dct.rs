//! Step 5: the 2-D DCT-II of the 64×64 image, restricted to the 16×16 lowest
//! non-DC frequencies (the reference's `dct64To16`).

use std::sync::OnceLock;

use super::{DCT_OUT, DOWNSAMPLED, Dct16, Image64};

/// The 16×64 DCT-II basis rows 1..=16, scaled by `sqrt(2/64)`; computed in
/// `f64` and rounded to `f32` exactly like the reference's `dct_matrix_64`.
fn dct_matrix() -> &'static [[f32; DOWNSAMPLED]; DCT_OUT] {
    static MATRIX: OnceLock<[[f32; DOWNSAMPLED]; DCT_OUT]> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / DOWNSAMPLED as f64).sqrt() as f32;
        let base = std::f64::consts::PI / 2.0 / DOWNSAMPLED as f64;
        let mut m = [[0f32; DOWNSAMPLED]; DCT_OUT];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, value) in row.iter_mut().enumerate() {
                let angle = base * (i + 1) as f64 * (2 * j + 1) as f64;
                *value = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        m
    })
}

/// `B = D A Dᵀ` restricted to the 16×16 low frequencies, accumulating in
/// `f32` in the same order as the reference's `dct64To16`.
pub(super) fn dct64_to_16(a: &Image64) -> Dct16 {
    let d = dct_matrix();
    // T = D A, each element summed over k = 0..64 in order.
    let mut t = [[0f32; DOWNSAMPLED]; DCT_OUT];
    for (t_row, d_row) in t.iter_mut().zip(d.iter()) {
        for (&dik, a_row) in d_row.iter().zip(a.iter()) {
            for (tij, &akj) in t_row.iter_mut().zip(a_row.iter()) {
                *tij += dik * akj;
            }
        }
    }
    // B = T Dᵀ.
    let mut b = [[0f32; DCT_OUT]; DCT_OUT];
    for (b_row, t_row) in b.iter_mut().zip(t.iter()) {
        for (bij, d_row) in b_row.iter_mut().zip(d.iter()) {
            let mut sum = 0f32;
            for (&tik, &djk) in t_row.iter().zip(d_row.iter()) {
                sum += tik * djk;
            }
            *bij = sum;
        }
    }
    b
}
