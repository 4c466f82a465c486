//! Decoding beyond s_max: collaborative decoding of interleaved Reed–Solomon codes.
//!
//! The s DHF rows of the real records are s codewords of one Reed–Solomon code (polynomials
//! of degree ≤ T − 2 evaluated at the records' x0); a synthetic record is an error in every row
//! at once (a column error). With k real and z synthetic records among n = k + z, the common
//! error locator Λ(X) = Π_{j synthetic}(X − x0_j) is the shortest linear recurrence shared by
//! the s syndrome sequences `S_{i,m} = Σ_j v_j x0_j^m r_{j,i}`, m = 0 … n − T, with
//! `v_j = 1 / Π_{l≠j}(x0_j − x0_l)` (Bleichenbacher–Kiayias–Yung 2003; Coppersmith–Sudan 2003;
//! Schmidt–Sidorenko–Bossert 2009). It is unique, and found, when
//! `z ≤ s(n − T + 1)/(s + 1)`, that is k ≥ T − 1 + z/s; with k ≤ T − 1 no set of T or more
//! consistent columns exists (except with probability about p^−s), so nothing is ever found.
//!
//! This implementation finds z as the rank of a block-Hankel syndrome matrix (doubling the
//! trial size), solves for Λ, takes its roots among the x0, and verifies the remaining columns
//! by interpolation. Cost O(e³ + s·n·e + n²) for e ≈ 2z; `max_errors` bounds it.

use super::dhf::{self, Fp};

/// Rows beyond the unknowns' count taken into each rank computation.
const MARGIN: usize = 8;

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// The indices of the real records: at least T, all consistent with one set of
    /// polynomials.
    Found(Vec<usize>),
    /// No decoding within the radius (more real records may still bring one).
    NotFound,
    /// More than `max_errors` synthetic records are present: no later call on a superset of
    /// these records can succeed within the same limit.
    BeyondLimit,
}

/// Find the real records among `x0` (distinct) and their DHF rows `r` (s values each) for
/// polynomials with `coefficients` = T − 1 coefficients, for at most `max_errors` synthetic
/// records.
pub(crate) fn decode(
    x0: &[Fp],
    r: &[&[Fp]],
    coefficients: usize,
    s: usize,
    max_errors: usize,
) -> Decoded {
    let n = x0.len();
    let t = coefficients + 1;
    if s == 0 || n < t {
        return Decoded::NotFound;
    }
    let syndromes_len = n - coefficients; // N = n − T + 1
    // The decoding radius: z ≤ s·N / (s + 1), capped by the limit.
    let radius_by_n = s * syndromes_len / (s + 1);
    let radius = radius_by_n.min(max_errors);
    let Some(v) = weights(x0) else {
        return Decoded::NotFound;
    };
    let mut e = 8.min(radius);
    loop {
        let Some(rows) = rows_for(e, s, syndromes_len) else {
            return Decoded::NotFound;
        };
        let (sequences, count) = extent(&rows, e);
        let syn = syndromes(x0, r, &v, sequences, count);
        let rank = rank(&hankel(&syn, &rows, e));
        // With z ≤ e the rank is z; with z > e it is min(rows, e + 1) = e + 1.
        if rank <= e
            && let Some(real) = locate(x0, r, &v, coefficients, s, rank)
        {
            return Decoded::Found(real);
        }
        if e >= radius {
            // At the limit (below the radius n allows) with a rank beyond it: more than
            // `max_errors` synthetic records, which only grow.
            return if rank > e && e == max_errors && radius_by_n > max_errors {
                Decoded::BeyondLimit
            } else {
                Decoded::NotFound
            };
        }
        e = (2 * e).max(1).min(radius);
    }
}

/// With `errors` synthetic records: solve for the monic locator Λ of that degree, take the
/// records where it does not vanish and check them.
fn locate(
    x0: &[Fp],
    r: &[&[Fp]],
    v: &[Fp],
    coefficients: usize,
    s: usize,
    errors: usize,
) -> Option<Vec<usize>> {
    let n = x0.len();
    let locator = if errors == 0 {
        vec![Fp::ONE]
    } else {
        let rows = rows_for(errors, s, n - coefficients)?;
        let (sequences, count) = extent(&rows, errors);
        let syn = syndromes(x0, r, v, sequences, count);
        monic_kernel_vector(hankel(&syn, &rows, errors))?
    };
    let real: Vec<usize> = (0..n)
        .filter(|&j| dhf::eval(&locator, x0[j]) != Fp::ZERO)
        .collect();
    let enough = real.len() > coefficients;
    (n - real.len() == errors && enough && consistent(x0, r, &real, coefficients, s))
        .then_some(real)
}

/// `v_j = 1 / Π_{l≠j}(x_j − x_l)` (the dual code's column multipliers).
fn weights(x0: &[Fp]) -> Option<Vec<Fp>> {
    let mut v = Vec::with_capacity(x0.len());
    for (j, xj) in x0.iter().enumerate() {
        let mut d = Fp::ONE;
        for (l, xl) in x0.iter().enumerate() {
            if l != j {
                d = d.mul(xj.sub(*xl));
            }
        }
        if d == Fp::ZERO {
            return None;
        }
        v.push(d);
    }
    batch_invert(&mut v);
    Some(v)
}

fn batch_invert(v: &mut [Fp]) {
    let mut prefix = Vec::with_capacity(v.len());
    let mut acc = Fp::ONE;
    for x in v.iter() {
        prefix.push(acc);
        acc = acc.mul(*x);
    }
    let mut inv = acc.inv();
    for (x, p) in v.iter_mut().zip(prefix).rev() {
        let xi = inv.mul(p);
        inv = inv.mul(*x);
        *x = xi;
    }
}

/// The rows (sequence i, shift a) of the trial system for `e` errors: sequence by sequence,
/// every shift a = 0 … N − 1 − e of sequence 0, then of sequence 1, …; `e + 1 + MARGIN` of them,
/// or all there are. Taking all shifts of few sequences (rather than a few shifts of all of
/// them) keeps the syndromes to compute at O(n · (e + N)) instead of O(n · s · e). `None` if
/// there are fewer than e (beyond the radius).
fn rows_for(e: usize, s: usize, syndromes_len: usize) -> Option<Vec<(usize, usize)>> {
    let per_sequence = syndromes_len.checked_sub(e)?;
    let want = e + 1 + MARGIN;
    let rows: Vec<(usize, usize)> = (0..s)
        .flat_map(|i| (0..per_sequence).map(move |a| (i, a)))
        .take(want)
        .collect();
    (rows.len() >= e.max(1)).then_some(rows)
}

/// `S[i][m] = Σ_j v_j x_j^m r_{j,i}` for m < `count`, for the sequences i < `sequences` (the
/// others are left empty: the trial rows never use them).
fn syndromes(x0: &[Fp], r: &[&[Fp]], v: &[Fp], sequences: usize, count: usize) -> Vec<Vec<Fp>> {
    let mut syn = vec![vec![Fp::ZERO; count]; sequences];
    for ((x, rj), vj) in x0.iter().zip(r).zip(v) {
        let mut w = *vj;
        for m in 0..count {
            for (i, seq) in syn.iter_mut().enumerate() {
                seq[m] = seq[m].add(w.mul(rj[i]));
            }
            w = w.mul(*x);
        }
    }
    syn
}

/// The sequences and syndrome length the trial rows need.
fn extent(rows: &[(usize, usize)], e: usize) -> (usize, usize) {
    let sequences = rows.iter().map(|(i, _)| i + 1).max().unwrap_or(0);
    let count = rows.iter().map(|(_, a)| a + e + 1).max().unwrap_or(0);
    (sequences, count)
}

/// The trial matrix: row (i, a), column b ∈ 0..=e, entry S[i][a + b].
fn hankel(syn: &[Vec<Fp>], rows: &[(usize, usize)], e: usize) -> Vec<Vec<Fp>> {
    rows.iter()
        .map(|&(i, a)| syn[i][a..=a + e].to_vec())
        .collect()
}

/// Gaussian elimination to row echelon form; returns the pivot columns.
fn echelon(m: &mut [Vec<Fp>]) -> Vec<usize> {
    let cols = m.first().map_or(0, Vec::len);
    let mut pivots = Vec::new();
    let mut row = 0;
    for col in 0..cols {
        let Some(sel) = (row..m.len()).find(|&i| m[i][col] != Fp::ZERO) else {
            continue;
        };
        m.swap(row, sel);
        let inv = m[row][col].inv();
        for v in m[row].iter_mut().skip(col) {
            *v = v.mul(inv);
        }
        let (head, tail) = m.split_at_mut(row);
        let (pivot_row, tail) = tail.split_first_mut().expect("row < m.len()");
        let pivot_row = &*pivot_row;
        for other in head.iter_mut().chain(tail.iter_mut()) {
            let f = other[col];
            if f != Fp::ZERO {
                for (o, p) in other.iter_mut().zip(pivot_row).skip(col) {
                    *o = o.sub(f.mul(*p));
                }
            }
        }
        pivots.push(col);
        row += 1;
        if row == m.len() {
            break;
        }
    }
    pivots
}

fn rank(m: &[Vec<Fp>]) -> usize {
    echelon(&mut m.to_vec()).len()
}

/// The kernel vector with last coefficient 1, when the kernel is one-dimensional and the last
/// column is free.
fn monic_kernel_vector(mut m: Vec<Vec<Fp>>) -> Option<Vec<Fp>> {
    let cols = m.first()?.len();
    let pivots = echelon(&mut m);
    if pivots.len() + 1 != cols || pivots.contains(&(cols - 1)) {
        return None;
    }
    // Reduced echelon form: pivot column c of row k has λ_c = −m[k][last].
    let mut lambda = vec![Fp::ZERO; cols];
    lambda[cols - 1] = Fp::ONE;
    for (k, &c) in pivots.iter().enumerate() {
        lambda[c] = Fp::ZERO.sub(m[k][cols - 1]);
    }
    Some(lambda)
}

/// Every real column agrees, in all s rows, with the polynomials of degree ≤ T − 2 through the
/// first T − 1 real columns.
pub(crate) fn consistent(
    x0: &[Fp],
    r: &[&[Fp]],
    real: &[usize],
    coefficients: usize,
    s: usize,
) -> bool {
    let (base, rest) = real.split_at(coefficients.min(real.len()));
    let xs: Vec<Fp> = base.iter().map(|&j| x0[j]).collect();
    rest.iter().all(|&j| {
        let l = lagrange_at(&xs, x0[j]);
        (0..s).all(|i| {
            let y = base
                .iter()
                .zip(&l)
                .fold(Fp::ZERO, |acc, (&b, lb)| acc.add(lb.mul(r[b][i])));
            y == r[j][i]
        })
    })
}

/// The Lagrange basis values ℓ_k(x) for nodes `xs`.
fn lagrange_at(xs: &[Fp], x: Fp) -> Vec<Fp> {
    xs.iter()
        .enumerate()
        .map(|(k, xk)| {
            let (mut num, mut den) = (Fp::ONE, Fp::ONE);
            for (l, xl) in xs.iter().enumerate() {
                if l != k {
                    num = num.mul(x.sub(*xl));
                    den = den.mul(xk.sub(*xl));
                }
            }
            num.mul(den.inv())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::dhf::tests::columns;
    use super::*;
    use proptest::prelude::*;

    fn run(seed: u64, t: usize, s: usize, k: usize, z: usize) -> (Option<Vec<usize>>, Vec<bool>) {
        let (x0, rows, real) = columns(seed, t, s, k, z);
        let refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
        let got = match decode(&x0, &refs, t - 1, s, 4096) {
            Decoded::Found(v) => Some(v),
            _ => None,
        };
        (got, real)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Within the radius (k ≥ T − 1 + ⌈z/s⌉, k ≥ T) the decoder returns exactly the real
        /// records, however many more synthetic records than s there are; with k ≤ T − 1 it
        /// returns nothing.
        #[test]
        fn decodes_within_the_radius_and_never_below_t(
            seed in any::<u64>(), t in 2usize..6, s in 1usize..5, z in 0usize..30, extra in 0usize..3,
        ) {
            let k = (t - 1 + z.div_ceil(s)).max(t) + extra;
            let (got, real) = run(seed, t, s, k, z);
            let want: Vec<usize> = (0..real.len()).filter(|&j| real[j]).collect();
            prop_assert_eq!(got, Some(want));
            let (below, _) = run(seed, t, s, t - 1, z);
            prop_assert_eq!(below, None);
        }
    }

    #[test]
    fn more_synthetic_records_than_the_limit_are_reported_as_beyond_it() {
        // T = 4, s = 3, 40 real and 30 synthetic records: decodable with a limit of 32, and
        // beyond a limit of 16 (which stays so as records are added).
        let (x0, rows, real) = columns(7, 4, 3, 40, 30);
        let refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
        let want: Vec<usize> = (0..real.len()).filter(|&j| real[j]).collect();
        assert_eq!(decode(&x0, &refs, 3, 3, 32), Decoded::Found(want));
        assert_eq!(decode(&x0, &refs, 3, 3, 16), Decoded::BeyondLimit);
    }

    #[test]
    fn one_short_of_the_radius_finds_nothing() {
        for seed in 0..20 {
            // T = 4, s = 3, z = 9: the radius needs k ≥ 3 + 3 = 6.
            assert_eq!(run(seed, 4, 3, 5, 9).0, None, "seed {seed}");
            assert!(run(seed, 4, 3, 6, 9).0.is_some(), "seed {seed}");
        }
    }
}
