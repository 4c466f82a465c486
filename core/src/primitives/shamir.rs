//! Shamir secret sharing over the ristretto255 scalar field: f(0) = k0, degree T−1.

use curve25519_dalek::Scalar;

/// Evaluate f at x (coefficients lowest degree first).
pub(crate) fn eval(coeffs: &[Scalar], x: &Scalar) -> Scalar {
    coeffs.iter().rev().fold(Scalar::ZERO, |acc, c| acc * x + c)
}

/// Lagrange interpolation at 0 from points with distinct, non-zero abscissas.
/// Returns `None` if two abscissas coincide or one is zero.
pub(crate) fn interpolate_at_zero(points: &[(Scalar, Scalar)]) -> Option<Scalar> {
    let n = points.len();
    // λ_j = Π_{m≠j} x_m / (x_m − x_j); invert all denominators in one batch.
    let mut denoms = Vec::with_capacity(n);
    for (j, (xj, _)) in points.iter().enumerate() {
        if *xj == Scalar::ZERO {
            return None;
        }
        let mut d = Scalar::ONE;
        for (m, (xm, _)) in points.iter().enumerate() {
            if m != j {
                let diff = xm - xj;
                if diff == Scalar::ZERO {
                    return None;
                }
                d *= diff;
            }
        }
        denoms.push(d);
    }
    Scalar::invert_batch_alloc(&mut denoms);
    let prod_all: Scalar = points.iter().map(|(x, _)| *x).product();
    let mut acc = Scalar::ZERO;
    for ((xj, yj), dinv) in points.iter().zip(denoms.iter()) {
        // Π_{m≠j} x_m = prod_all / x_j
        acc += yj * prod_all * xj.invert() * dinv;
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn any_t_points_recover_the_secret(seed in any::<[u8; 32]>(), t in 2usize..12, extra in 0usize..4) {
            let s = |i: u8| Scalar::hash_from_bytes::<sha2::Sha512>(&[&seed[..], &[i]].concat());
            let coeffs: Vec<Scalar> = (0..t as u8).map(s).collect();
            let pts: Vec<(Scalar, Scalar)> = (0..(t + extra) as u8)
                .map(|i| { let x = s(100 + i); (x, eval(&coeffs, &x)) }).collect();
            prop_assert_eq!(interpolate_at_zero(&pts[extra..]), Some(coeffs[0]));
            // T−1 points give something else (with overwhelming probability).
            prop_assert_ne!(interpolate_at_zero(&pts[..t - 1]), Some(coeffs[0]));
        }
    }

    #[test]
    fn duplicate_abscissas_are_refused() {
        let x = Scalar::from(5u8);
        assert_eq!(
            interpolate_at_zero(&[(x, Scalar::ONE), (x, Scalar::ONE)]),
            None
        );
        assert_eq!(interpolate_at_zero(&[(Scalar::ZERO, Scalar::ONE)]), None);
    }
}
