//! Step 6: one bit per DCT coefficient, set when the coefficient is strictly
//! greater than the median of all 256 (Torben Mogensen's median selection,
//! as in the reference's `torben.cpp`).

use super::{Dct16, PdqHash};

/// One bit per coefficient: set when strictly above the median.
pub(super) fn dct_to_hash(dct: &Dct16) -> PdqHash {
    dct_to_hash_with_margins(dct).0
}

/// [`dct_to_hash`] plus each bit's margin: `|coefficient - median|`, in bit
/// order (bit `k` is coefficient row `k / 16`, column `k % 16`).
pub(super) fn dct_to_hash_with_margins(dct: &Dct16) -> (PdqHash, [f32; 256]) {
    let flat: Vec<f32> = dct.iter().flatten().copied().collect();
    let median = torben_median(&flat);
    let mut hash = PdqHash::ZERO;
    let mut margins = [0f32; 256];
    for ((k, &v), margin) in flat.iter().enumerate().zip(margins.iter_mut()) {
        if v > median {
            hash.set_bit(k);
        }
        *margin = (v - median).abs();
    }
    (hash, margins)
}

/// Torben Mogensen's median selection, as in the reference's `torben.cpp`
/// (for an even count it returns the lower median).
fn torben_median(values: &[f32]) -> f32 {
    let Some((&first, rest)) = values.split_first() else {
        return 0.0;
    };
    let half = values.len().div_ceil(2);
    let (mut min, mut max) = (first, first);
    for &x in rest {
        if x < min {
            min = x;
        }
        if x > max {
            max = x;
        }
    }
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0usize, 0usize, 0usize);
        let (mut max_lt_guess, mut min_gt_guess) = (min, max);
        for &x in values {
            if x < guess {
                less += 1;
                if x > max_lt_guess {
                    max_lt_guess = x;
                }
            } else if x > guess {
                greater += 1;
                if x < min_gt_guess {
                    min_gt_guess = x;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_lt_guess
            } else if less + equal >= half {
                guess
            } else {
                min_gt_guess
            };
        }
        // Values are finite (derived from 8-bit pixels), so the bracket
        // always shrinks; this guard only protects against NaN.
        let (new_min, new_max) = if less > greater {
            (min, max_lt_guess)
        } else {
            (min_gt_guess, max)
        };
        if new_min == min && new_max == max {
            return guess;
        }
        min = new_min;
        max = new_max;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torben_is_lower_median() {
        let values: Vec<f32> = (0..256).map(|i| ((i * 37) % 256) as f32).collect();
        assert_eq!(torben_median(&values), 127.0);
        assert_eq!(torben_median(&[5.0; 256]), 5.0);
    }
}
