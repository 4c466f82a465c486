//! Incremental elimination for DHF detection: one reduction step per distinct record.
//!
//! Record j is the column `(1, x0_j, …, x0_j^{T−2}, r_{j,1}, …, r_{j,s})` of length
//! R = T − 1 + s. The eliminator keeps at most R basis vectors in echelon form (each zero at
//! the pivots of the earlier ones), each with its expression as a combination of the columns
//! that created them. A new column either adds a basis vector or reduces to zero; then it is a
//! combination of earlier columns, one vector of the kernel, and the columns with non-zero
//! coefficients (and the new one) are in the kernel's support. These dependencies form a basis
//! of the kernel, so the union of their supports is the union of the supports of all kernel
//! vectors: exactly the real records while at most s synthetic ones are present
//! (`docs/PROTOCOL.md` §9.2). Each step costs O(R²) field operations and the state O(R²)
//! field elements.

use super::dhf::Fp;

#[derive(Clone)]
struct BasisVector {
    /// The reduced vector, with a 1 at `pivot`.
    v: Vec<Fp>,
    pivot: usize,
    /// The vector as a combination of basis columns: coefficient k belongs to the column that
    /// created basis vector k.
    combo: Vec<Fp>,
}

/// The state of incremental elimination over an account's distinct records.
#[derive(Clone)]
pub(crate) struct Eliminator {
    coefficients: usize,
    len: usize,
    basis: Vec<BasisVector>,
    /// For basis vector k, the index of the column that created it.
    basis_column: Vec<usize>,
    /// Per column: in the support of some kernel vector.
    real: Vec<bool>,
}

impl Eliminator {
    /// An empty eliminator for T − 1 = `coefficients` and s = `s`.
    pub(crate) fn new(coefficients: usize, s: usize) -> Eliminator {
        Eliminator {
            coefficients,
            len: coefficients + s,
            basis: Vec::new(),
            basis_column: Vec::new(),
            real: Vec::new(),
        }
    }

    /// Columns inserted.
    #[cfg(test)]
    pub(crate) fn columns(&self) -> usize {
        self.real.len()
    }

    /// Whether the basis spans the whole space: then every further column is dependent, and
    /// detection is exact only while at most s records are synthetic (the decoder takes over).
    pub(crate) fn saturated(&self) -> bool {
        self.basis.len() == self.len
    }

    /// Insert the next column: its x0 and its s DHF values. When it depends on earlier
    /// columns, returns the support of that dependency (the new column's index and those of
    /// the earlier columns it combines, in increasing order).
    pub(crate) fn insert(&mut self, x0: Fp, r: &[Fp]) -> Option<Vec<usize>> {
        let col = self.real.len();
        self.real.push(false);
        let mut c = Vec::with_capacity(self.len);
        let mut pw = Fp::ONE;
        for _ in 0..self.coefficients {
            c.push(pw);
            pw = pw.mul(x0);
        }
        c.extend_from_slice(r);
        c.resize(self.len, Fp::ZERO);
        let mut combo = vec![Fp::ZERO; self.basis.len() + 1];
        for (k, b) in self.basis.iter().enumerate() {
            let f = c[b.pivot];
            if f == Fp::ZERO {
                continue;
            }
            for (ci, bi) in c.iter_mut().zip(&b.v).skip(b.pivot) {
                *ci = ci.sub(f.mul(*bi));
            }
            // c ← c − f·b, and b = Σ combo_b · columns, so the combination gains −f·combo_b.
            for (ki, bi) in combo.iter_mut().zip(&b.combo).take(k + 1) {
                *ki = ki.sub(f.mul(*bi));
            }
        }
        match c.iter().position(|v| *v != Fp::ZERO) {
            Some(pivot) => {
                let inv = c[pivot].inv();
                for v in c.iter_mut().skip(pivot) {
                    *v = v.mul(inv);
                }
                let k = self.basis.len();
                if let Some(last) = combo.last_mut() {
                    *last = Fp::ONE;
                }
                for v in combo.iter_mut() {
                    *v = v.mul(inv);
                }
                debug_assert_eq!(combo.len(), k + 1);
                self.basis.push(BasisVector { v: c, pivot, combo });
                self.basis_column.push(col);
                None
            }
            None => {
                // column = −Σ combo_k · basis column k: a kernel vector.
                self.real[col] = true;
                let mut support = Vec::new();
                for (k, coeff) in combo.iter().enumerate().take(self.basis.len()) {
                    if *coeff != Fp::ZERO {
                        self.real[self.basis_column[k]] = true;
                        support.push(self.basis_column[k]);
                    }
                }
                support.sort_unstable();
                support.push(col);
                Some(support)
            }
        }
    }

    /// The columns in the support of the kernel, in increasing order.
    pub(crate) fn real_columns(&self) -> Vec<usize> {
        (0..self.real.len()).filter(|&j| self.real[j]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::dhf::{detect_real, tests::columns};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Incremental elimination finds the same kernel support as the batch reduction.
        #[test]
        fn agrees_with_batch_detection(
            seed in any::<u64>(), t in 2usize..7, s in 0usize..7, k in 0usize..10, z in 0usize..10,
        ) {
            let (x0, rows, _) = columns(seed, t, s, k, z);
            let refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
            let mut e = Eliminator::new(t - 1, s);
            for (x, r) in x0.iter().zip(&rows) {
                e.insert(*x, r);
            }
            prop_assert_eq!(e.real_columns(), detect_real(&x0, &refs, t - 1, s));
            prop_assert_eq!(e.columns(), x0.len());
        }
    }
}
