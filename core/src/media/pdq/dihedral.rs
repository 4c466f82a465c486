//! The seven rotations and reflections of the image, computed in the DCT
//! domain from the original's coefficients (the reference's
//! `dct16OriginalTo*` functions) rather than by re-hashing transformed pixels.

use super::{DCT_OUT, Dct16};

/// A dihedral transform expressed in the DCT domain: optional transpose plus
/// a sign pattern depending on coefficient parity.
#[derive(Clone, Copy)]
pub(super) struct DihedralTransform {
    transpose: bool,
    /// Negate coefficients whose source row index is even.
    negate_even_row: bool,
    /// Negate coefficients whose source column index is even.
    negate_even_col: bool,
    /// Negate coefficients whose source `row + col` is odd.
    negate_odd_sum: bool,
}

impl DihedralTransform {
    const fn new(transpose: bool, even_row: bool, even_col: bool, odd_sum: bool) -> Self {
        DihedralTransform {
            transpose,
            negate_even_row: even_row,
            negate_even_col: even_col,
            negate_odd_sum: odd_sum,
        }
    }

    pub(super) fn apply(&self, a: &Dct16) -> Dct16 {
        let mut b = [[0f32; DCT_OUT]; DCT_OUT];
        for (i, a_row) in a.iter().enumerate() {
            for (j, &v) in a_row.iter().enumerate() {
                let negate = (self.negate_even_row && i % 2 == 0)
                    || (self.negate_even_col && j % 2 == 0)
                    || (self.negate_odd_sum && (i + j) % 2 == 1);
                let v = if negate { -v } else { v };
                let (row, col) = if self.transpose { (j, i) } else { (i, j) };
                if let Some(slot) = b.get_mut(row).and_then(|r| r.get_mut(col)) {
                    *slot = v;
                }
            }
        }
        b
    }
}

/// The eight transforms in output order (see [`super::PdqDihedral`]), matching the
/// reference's `dct16OriginalTo*` functions.
pub(super) const DIHEDRAL_TRANSFORMS: [DihedralTransform; 8] = [
    // original
    DihedralTransform::new(false, false, false, false),
    // rotate 90: transpose, negate even columns
    DihedralTransform::new(true, false, true, false),
    // rotate 180: negate odd i+j
    DihedralTransform::new(false, false, false, true),
    // rotate 270: transpose, negate even rows
    DihedralTransform::new(true, true, false, false),
    // flip X: negate even rows
    DihedralTransform::new(false, true, false, false),
    // flip Y: negate even columns
    DihedralTransform::new(false, false, true, false),
    // flip +1: transpose
    DihedralTransform::new(true, false, false, false),
    // flip -1: transpose, negate odd i+j
    DihedralTransform::new(true, false, false, true),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A DCT block with distinct, sign-varied entries.
    fn sample() -> Dct16 {
        let mut a = [[0f32; DCT_OUT]; DCT_OUT];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (i * DCT_OUT + j) as f32 - 100.5;
            }
        }
        a
    }

    #[test]
    fn transforms_compose_like_the_dihedral_group() {
        let [id, rot90, rot180, rot270, flip_x, flip_y, flip_p1, flip_m1] = DIHEDRAL_TRANSFORMS;
        let a = sample();
        assert_eq!(id.apply(&a), a);
        assert_eq!(rot90.apply(&rot90.apply(&a)), rot180.apply(&a));
        assert_eq!(rot270.apply(&rot90.apply(&a)), a);
        assert_eq!(rot180.apply(&rot180.apply(&a)), a);
        assert_eq!(flip_x.apply(&flip_y.apply(&a)), rot180.apply(&a));
        assert_eq!(flip_p1.apply(&flip_m1.apply(&a)), rot180.apply(&a));
        for t in [flip_x, flip_y, flip_p1, flip_m1] {
            assert_eq!(t.apply(&t.apply(&a)), a);
        }
    }
}
