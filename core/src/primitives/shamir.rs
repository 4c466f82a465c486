//! Shamir secret sharing over the ristretto255 scalar field: f(0) = k0, degree T−1.

use curve25519_dalek::Scalar;

/// Evaluate f at x (coefficients lowest degree first).
pub(crate) fn eval(coeffs: &[Scalar], x: &Scalar) -> Scalar {
    coeffs.iter().rev().fold(Scalar::ZERO, |acc, c| acc * x + c)
}

#[cfg(test)]
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

/// Decode the secret f(0) from points (x_i, y_i) of which some may be wrong (Berlekamp–Welch).
/// Tries e = 0, 1, 2, 4, … up to `max_errors` wrong points (and at most (n − t)/2), each time with the first
/// t + 2e points (a solution exists, and gives f, once the first t + 2e points hold at most e
/// wrong ones); every candidate f(0) is passed to `accept`, and the first accepted one is
/// returned. With E wrong points among n, f is found once n ≥ t + 2E, that is once the right
/// points number at least t + E. Two points may share an abscissa (a crafted share beside
/// the genuine one): the locator then vanishes there, one error position for both.
pub(crate) fn decode_secret(
    points: &[(Scalar, Scalar)],
    t: usize,
    max_errors: usize,
    mut accept: impl FnMut(&Scalar) -> bool,
) -> Option<Scalar> {
    let most = max_errors.min(points.len().checked_sub(t)? / 2);
    let mut e = 0;
    loop {
        let used = points.get(..t + 2 * e)?;
        if let Some(f) = berlekamp_welch(used, t, e)
            && let Some(k0) = f.first()
            && accept(k0)
        {
            return Some(*k0);
        }
        if e >= most {
            return None;
        }
        e = (2 * e).max(1).min(most);
    }
}

/// The polynomial of degree < t agreeing with all but at most e of `points`, if any: solve
/// Q(x_i) = y_i·E(x_i) with E monic of degree e and deg Q < t + e, then f = Q / E.
fn berlekamp_welch(points: &[(Scalar, Scalar)], t: usize, e: usize) -> Option<Vec<Scalar>> {
    let unknowns = t + 2 * e;
    let rows: Vec<Vec<Scalar>> = points
        .iter()
        .map(|(x, y)| {
            let mut row = Vec::with_capacity(unknowns + 1);
            let mut pw = Scalar::ONE;
            for _ in 0..t + e {
                row.push(pw);
                pw *= x;
            }
            let mut pw = Scalar::ONE;
            for _ in 0..e {
                row.push(-(y * pw));
                pw *= x;
            }
            row.push(y * pw); // y·x^e, the monic term moved to the right-hand side
            row
        })
        .collect();
    let sol = solve(rows, unknowns)?;
    let (q, e_low) = sol.split_at(t + e);
    let mut locator = e_low.to_vec();
    locator.push(Scalar::ONE);
    let (f, remainder) = divide(q, &locator);
    let agree = points.iter().filter(|(x, y)| eval(&f, x) == *y).count();
    (remainder.iter().all(|r| *r == Scalar::ZERO) && agree + e >= points.len()).then_some(f)
}

/// One solution of the linear system (rows: coefficients then right-hand side), free
/// variables 0; `None` if it has none.
fn solve(mut m: Vec<Vec<Scalar>>, unknowns: usize) -> Option<Vec<Scalar>> {
    let mut pivots = Vec::new();
    let mut row = 0;
    for col in 0..unknowns {
        let Some(sel) = (row..m.len()).find(|&i| m[i][col] != Scalar::ZERO) else {
            continue;
        };
        m.swap(row, sel);
        let inv = m[row][col].invert();
        for v in m[row].iter_mut().skip(col) {
            *v *= inv;
        }
        let pivot_row = m[row].clone();
        for (i, other) in m.iter_mut().enumerate() {
            let f = other[col];
            if i != row && f != Scalar::ZERO {
                for (o, p) in other.iter_mut().zip(&pivot_row).skip(col) {
                    *o -= f * p;
                }
            }
        }
        pivots.push(col);
        row += 1;
        if row == m.len() {
            break;
        }
    }
    // Inconsistent: a zero row with a non-zero right-hand side.
    if m.iter().skip(row).any(|r| r[unknowns] != Scalar::ZERO) {
        return None;
    }
    let mut sol = vec![Scalar::ZERO; unknowns];
    for (k, &c) in pivots.iter().enumerate() {
        sol[c] = m[k][unknowns];
    }
    Some(sol)
}

/// Divide `num` by the monic `den` (coefficients lowest degree first): (quotient, remainder).
fn divide(num: &[Scalar], den: &[Scalar]) -> (Vec<Scalar>, Vec<Scalar>) {
    let d = den.len() - 1;
    if num.len() <= d {
        return (Vec::new(), num.to_vec());
    }
    let mut rem = num.to_vec();
    let mut quot = vec![Scalar::ZERO; num.len() - d];
    for k in (0..quot.len()).rev() {
        let c = rem[k + d];
        quot[k] = c;
        for (j, dj) in den.iter().enumerate() {
            rem[k + j] -= c * dj;
        }
    }
    rem.truncate(d);
    (quot, rem)
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// With `bad` wrong shares anywhere among t + bad + `more` right ones, Berlekamp–Welch
        /// recovers the secret once the right ones number t + bad; one short, it does not.
        #[test]
        fn wrong_shares_are_corrected(
            seed in any::<[u8; 32]>(), t in 2usize..10, bad in 0usize..6, more in 0usize..3, place in any::<u64>(),
        ) {
            let s = |i: u16| Scalar::hash_from_bytes::<sha2::Sha512>(&[&seed[..], &i.to_le_bytes()].concat());
            let coeffs: Vec<Scalar> = (0..t as u16).map(s).collect();
            let n = t + 2 * bad + more;
            let mut pts: Vec<(Scalar, Scalar)> = (0..n as u16)
                .map(|i| { let x = s(1000 + i); (x, eval(&coeffs, &x)) }).collect();
            for k in 0..bad {
                let i = ((place >> (8 * (k % 8))) as usize + k * 7) % n;
                pts[i].1 += Scalar::ONE + Scalar::from(k as u64);
            }
            let wrong = pts.iter().filter(|(x, y)| eval(&coeffs, x) != *y).count();
            let got = decode_secret(&pts, t, 64, |k| *k == coeffs[0]);
            if n >= t + 2 * wrong {
                prop_assert_eq!(got, Some(coeffs[0]));
            }
            // Whatever it proposes agrees with at least t of the points' polynomial… and an
            // accept that refuses everything gets nothing.
            prop_assert_eq!(decode_secret(&pts, t, 64, |_| false), None);
        }
    }

    #[test]
    fn t_minus_one_right_shares_give_no_candidate_equal_to_the_secret() {
        let s = |i: u16| Scalar::hash_from_bytes::<sha2::Sha512>(&i.to_le_bytes());
        let t = 5;
        let coeffs: Vec<Scalar> = (0..t as u16).map(s).collect();
        let mut pts: Vec<(Scalar, Scalar)> = (0..(t + 2) as u16)
            .map(|i| {
                let x = s(100 + i);
                (x, eval(&coeffs, &x))
            })
            .collect();
        // three wrong among seven: right ones number 4 < t + 3.
        for p in pts.iter_mut().take(3) {
            p.1 += Scalar::ONE;
        }
        let mut seen = Vec::new();
        let _ = decode_secret(&pts, t, 8, |k| {
            seen.push(*k);
            false
        });
        assert!(!seen.contains(&coeffs[0]));
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
