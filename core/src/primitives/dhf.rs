//! The detectable hash function (Apple PSI §4.3) over F_p, p = 2^64 − 59.
//!
//! A device's DHF key is s_max polynomials p_1..p_s of degree ≤ T−2. A real voucher carries
//! r = (x0, p_1(x0), …, p_s(x0)); a synthetic one carries random values. Given the distinct
//! records an account holds, the server forms the (T−1+s) × n matrix whose column j is
//! (1, x0_j, …, x0_j^{T−2}, r_{j,1}, …, r_{j,s}). Any T real columns are linearly dependent
//! (the Vandermonde rows have rank T−1 and the r rows follow from them), while up to s random
//! columns add full rank. So the union of the supports of the kernel is exactly the set of
//! real records once there are at least T of them and at most s synthetic ones, and it is
//! empty below T.

/// The field modulus, 2^64 − 59 (prime).
pub(crate) const P: u64 = 0xFFFF_FFFF_FFFF_FFC5;
const C: u64 = 59; // 2^64 mod P

/// An element of F_p, always reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, zeroize::Zeroize)]
pub(crate) struct Fp(u64);

#[allow(clippy::should_implement_trait)]
impl Fp {
    /// Zero.
    pub(crate) const ZERO: Fp = Fp(0);
    /// One.
    pub(crate) const ONE: Fp = Fp(1);

    /// A canonical value (< p), or `None`.
    pub(crate) fn new(v: u64) -> Option<Fp> {
        (v < P).then_some(Fp(v))
    }

    /// Reduce 16 uniform bytes mod p (bias < 2^-64).
    pub(crate) fn from_wide(bytes: &[u8; 16]) -> Fp {
        Fp::reduce128(u128::from_le_bytes(*bytes))
    }

    /// The canonical value.
    pub(crate) fn value(self) -> u64 {
        self.0
    }

    fn reduce128(x: u128) -> Fp {
        // x = hi·2^64 + lo ≡ hi·59 + lo (mod p); two folds bring it below 2^64 + small.
        let lo = x as u64;
        let hi = (x >> 64) as u64;
        let t = (hi as u128) * (C as u128) + lo as u128;
        let lo2 = t as u64;
        let hi2 = (t >> 64) as u64; // < 60
        let (s, carry) = lo2.overflowing_add(hi2 * C);
        let s = if carry { s.wrapping_add(C) } else { s };
        Fp(if s >= P { s - P } else { s })
    }

    /// a + b.
    pub(crate) fn add(self, o: Fp) -> Fp {
        let (s, carry) = self.0.overflowing_add(o.0);
        let s = if carry { s.wrapping_add(C) } else { s };
        Fp(if s >= P { s - P } else { s })
    }

    /// a − b.
    pub(crate) fn sub(self, o: Fp) -> Fp {
        if self.0 >= o.0 {
            Fp(self.0 - o.0)
        } else {
            Fp(self.0.wrapping_sub(o.0).wrapping_sub(C))
        }
    }

    /// a · b.
    pub(crate) fn mul(self, o: Fp) -> Fp {
        Fp::reduce128(self.0 as u128 * o.0 as u128)
    }

    /// a^-1 (Fermat); zero maps to zero.
    pub(crate) fn inv(self) -> Fp {
        let mut e = P - 2;
        let mut base = self;
        let mut acc = Fp::ONE;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.mul(base);
            }
            base = base.mul(base);
            e >>= 1;
        }
        acc
    }
}

/// Evaluate a polynomial (coefficients lowest degree first) at x by Horner's rule.
pub(crate) fn eval(coeffs: &[Fp], x: Fp) -> Fp {
    coeffs
        .iter()
        .rev()
        .fold(Fp::ZERO, |acc, c| acc.mul(x).add(*c))
}

/// Find which records are real. `x0[j]` and `r[j]` (s values each) describe record j; all
/// x0 must be distinct. `coefficients` = T−1. Returns the indices of records in the support
/// of the kernel, in increasing order (empty when fewer than T records are real).
#[cfg(test)]
pub(crate) fn detect_real(x0: &[Fp], r: &[&[Fp]], coefficients: usize, s: usize) -> Vec<usize> {
    let n = x0.len();
    let rows = coefficients + s;
    if n == 0 {
        return Vec::new();
    }
    // Column-major input, row-major matrix.
    let mut m = vec![vec![Fp::ZERO; n]; rows];
    for j in 0..n {
        let mut pw = Fp::ONE;
        for row in m.iter_mut().take(coefficients) {
            row[j] = pw;
            pw = pw.mul(x0[j]);
        }
        for (i, row) in m.iter_mut().skip(coefficients).enumerate() {
            row[j] = *r[j].get(i).expect("every record carries s values");
        }
    }
    // Reduced row echelon form.
    let mut pivot_cols = Vec::new();
    let mut prow = 0;
    for col in 0..n {
        if prow == rows {
            break;
        }
        let Some(sel) = (prow..rows).find(|&i| m[i][col] != Fp::ZERO) else {
            continue;
        };
        m.swap(prow, sel);
        let inv = m[prow][col].inv();
        for v in m[prow].iter_mut() {
            *v = v.mul(inv);
        }
        let pivot_row = m[prow].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != prow && row[col] != Fp::ZERO {
                let f = row[col];
                for (v, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                    *v = v.sub(f.mul(*p));
                }
            }
        }
        pivot_cols.push(col);
        prow += 1;
    }
    let mut is_pivot = vec![false; n];
    for &c in &pivot_cols {
        is_pivot[c] = true;
    }
    let free: Vec<usize> = (0..n).filter(|&c| !is_pivot[c]).collect();
    let mut real = vec![false; n];
    for &f in &free {
        real[f] = true;
    }
    for (row, &pc) in pivot_cols.iter().enumerate() {
        if free.iter().any(|&f| m[row][f] != Fp::ZERO) {
            real[pc] = true;
        }
    }
    (0..n).filter(|&j| real[j]).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_mul(a: u64, b: u64) -> u64 {
        ((a as u128 * b as u128) % P as u128) as u64
    }

    proptest! {
        #[test]
        fn field_ops_match_naive(a in 0..P, b in 0..P) {
            let (x, y) = (Fp(a), Fp(b));
            prop_assert_eq!(x.mul(y).0, naive_mul(a, b));
            prop_assert_eq!(x.add(y).0, ((a as u128 + b as u128) % P as u128) as u64);
            prop_assert_eq!(x.sub(y).add(y), x);
            if a != 0 { prop_assert_eq!(x.mul(x.inv()), Fp::ONE); }
        }
    }

    /// Degree ≤ T−2 polynomials' values at distinct x0 (real columns) and random columns
    /// (synthetic), shuffled together.
    pub(crate) fn columns(
        seed: u64,
        t: usize,
        s: usize,
        k: usize,
        z: usize,
    ) -> (Vec<Fp>, Vec<Vec<Fp>>, Vec<bool>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let mut fp = || Fp::reduce128(rng.next_u64() as u128 | ((rng.next_u64() as u128) << 64));
        let polys: Vec<Vec<Fp>> = (0..s).map(|_| (0..t - 1).map(|_| fp()).collect()).collect();
        let mut cols: Vec<(Fp, Vec<Fp>, bool)> = Vec::new();
        for _ in 0..k {
            let x = fp();
            cols.push((x, polys.iter().map(|p| eval(p, x)).collect(), true));
        }
        for _ in 0..z {
            cols.push((fp(), (0..s).map(|_| fp()).collect(), false));
        }
        let mut order: Vec<usize> = (0..cols.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (fp().value() % (i as u64 + 1)) as usize);
        }
        let mut x0 = Vec::new();
        let mut rows = Vec::new();
        let mut real = Vec::new();
        for i in order {
            let (x, r, is_real) = cols[i].clone();
            x0.push(x);
            rows.push(r);
            real.push(is_real);
        }
        (x0, rows, real)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// With at least T real columns and at most s_max synthetic ones, detection returns
        /// exactly the real columns; below T it returns nothing.
        #[test]
        fn detection_returns_exactly_the_real_columns(
            seed in any::<u64>(), t in 2usize..7, s in 0usize..7, k in 0usize..10, zf in 0.0f64..=1.0,
        ) {
            let z = (zf * s as f64).floor() as usize;
            let (x0, rows, real) = columns(seed, t, s, k, z);
            let refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
            let got = detect_real(&x0, &refs, t - 1, s);
            let want: Vec<usize> = if k >= t {
                (0..real.len()).filter(|&j| real[j]).collect()
            } else {
                Vec::new()
            };
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn reduction_edges() {
        assert_eq!(Fp::reduce128(u128::MAX).0, (u128::MAX % P as u128) as u64);
        assert_eq!(Fp(P - 1).add(Fp(P - 1)).0, P - 2);
        assert_eq!(Fp(0).sub(Fp(1)).0, P - 1);
    }
}
