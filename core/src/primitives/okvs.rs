//! The oblivious key-value store: a 3-hash garbled cuckoo table over ristretto255.
//!
//! The table has m = 3·b cells in three segments of b. A typed hash x maps to one cell in each
//! segment (so its three cells are always distinct):
//! `d = SHA-256("blindmatch-v2 okvs" ‖ seed ‖ encode(x))`, `u_i = LE64(d[8i..8i+8])`,
//! `h_i(x) = i·b + ⌊u_i·b / 2^64⌋` for i = 0, 1, 2. Encoding solves
//! `T[h_0(x)] + T[h_1(x)] + T[h_2(x)] = V(x)` for every listed x by peeling the 3-hypergraph;
//! cells that peeling leaves free get independent uniformly random points.

use curve25519_dalek::RistrettoPoint;
use sha2::{Digest, Sha256};

/// Default expansion m/n.
pub(crate) const DEFAULT_EXPANSION: f64 = 1.25;
/// Smallest expansion accepted (the peeling threshold of random 3-hypergraphs is ≈ 1.222).
pub(crate) const MIN_EXPANSION: f64 = 1.23;
/// Largest expansion accepted.
pub(crate) const MAX_EXPANSION: f64 = 8.0;
/// Extra cells added to every table so small tables peel reliably.
pub(crate) const EXTRA_CELLS: u64 = 30;

/// Number of cells for `n` entries: `3·⌈(⌈e·n⌉ + 30) / 3⌉`.
pub(crate) fn table_cells(n: u64, expansion: f64) -> u64 {
    let base = (expansion * n as f64).ceil() as u64 + EXTRA_CELLS;
    3 * base.div_ceil(3)
}

/// The three cell indices of an item (`encode(x)`, or a band key) in a table of `m` cells (m a multiple of 3) under `seed`.
pub(crate) fn positions(seed: &[u8; 32], m: u64, item: &[u8]) -> [u64; 3] {
    let b = m / 3;
    let d = Sha256::new()
        .chain_update(crate::kdf::OKVS)
        .chain_update(seed)
        .chain_update(item)
        .finalize();
    let mut out = [0u64; 3];
    for (i, (o, c)) in out.iter_mut().zip(d.chunks_exact(8)).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let u = u64::from_le_bytes(w);
        *o = i as u64 * b + ((u as u128 * b as u128) >> 64) as u64;
    }
    out
}

/// Peel the hypergraph. Returns the peeling order as (entry, pivot cell) pairs, or `None`
/// if a 2-core remains (then the caller retries with a new seed).
pub(crate) fn peel(pos: &[[u64; 3]], m: u64) -> Option<Vec<(u32, u32)>> {
    let m = m as usize;
    let mut deg = vec![0u32; m];
    let mut xor = vec![0u32; m];
    for (e, ps) in pos.iter().enumerate() {
        for &p in ps {
            let p = p as usize;
            *deg.get_mut(p)? += 1;
            *xor.get_mut(p)? ^= e as u32;
        }
    }
    let mut stack: Vec<u32> = (0..m as u32).filter(|&c| deg[c as usize] == 1).collect();
    let mut order = Vec::with_capacity(pos.len());
    while let Some(c) = stack.pop() {
        if deg[c as usize] != 1 {
            continue;
        }
        let e = xor[c as usize];
        order.push((e, c));
        for &p in pos.get(e as usize)? {
            let p = p as usize;
            deg[p] -= 1;
            xor[p] ^= e;
            if deg[p] == 1 {
                stack.push(p as u32);
            }
        }
    }
    (order.len() == pos.len()).then_some(order)
}

/// Fill the table: `free` supplies the value of each cell that is no entry's pivot, then the
/// pivots are solved in reverse peeling order so every entry's three cells sum to its value.
pub(crate) fn solve(
    pos: &[[u64; 3]],
    values: &[RistrettoPoint],
    order: &[(u32, u32)],
    m: u64,
    mut free: impl FnMut(usize) -> RistrettoPoint,
) -> Vec<RistrettoPoint> {
    let m = m as usize;
    let mut is_pivot = vec![false; m];
    for &(_, c) in order {
        is_pivot[c as usize] = true;
    }
    let mut table: Vec<RistrettoPoint> = (0..m)
        .map(|c| {
            if is_pivot[c] {
                RistrettoPoint::default()
            } else {
                free(c)
            }
        })
        .collect();
    for &(e, c) in order.iter().rev() {
        let e = e as usize;
        let mut v = values[e];
        for &p in &pos[e] {
            if p as usize != c as usize {
                v -= table[p as usize];
            }
        }
        table[c as usize] = v;
    }
    table
}

/// Decode: the sum of the three cells.
pub(crate) fn decode(cells: [RistrettoPoint; 3]) -> RistrettoPoint {
    cells[0] + cells[1] + cells[2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{HashKind, MediaHash};
    use curve25519_dalek::Scalar;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;
    use proptest::prelude::*;

    fn h(i: u64) -> MediaHash {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&i.to_le_bytes());
        MediaHash::new(HashKind::Sha256, &b).unwrap()
    }

    #[test]
    fn positions_are_distinct_and_in_range() {
        let m = table_cells(1000, 1.25);
        assert_eq!(m % 3, 0);
        for i in 0..1000 {
            let p = positions(&[9; 32], m, &h(i).encode());
            assert!(p[0] < m / 3 && p[1] >= m / 3 && p[1] < 2 * m / 3 && p[2] < m);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn members_decode_to_their_values(n in 0u64..300, seed in any::<[u8; 32]>()) {
            let m = table_cells(n, 1.3);
            let keys: Vec<MediaHash> = (0..n).map(h).collect();
            let pos: Vec<[u64; 3]> = keys.iter().map(|k| positions(&seed, m, &k.encode())).collect();
            let rnd = |tag: u8, i: u64| G * Scalar::hash_from_bytes::<sha2::Sha512>(&[&[tag][..], &i.to_le_bytes()].concat());
            let vals: Vec<RistrettoPoint> = (0..n).map(|i| rnd(0, i)).collect();
            if let Some(order) = peel(&pos, m) {
                let t = solve(&pos, &vals, &order, m, |c| rnd(1, c as u64));
                for (p, v) in pos.iter().zip(&vals) {
                    prop_assert_eq!(decode([t[p[0] as usize], t[p[1] as usize], t[p[2] as usize]]), *v);
                }
                // A non-member decodes to a member's value only if it lands on exactly that
                // member's three cells (probability n/b³: ~10⁻¹¹ for a 1M-entry table).
                let other = positions(&seed, m, &h(1_000_000).encode());
                if !pos.contains(&other) {
                    let d = decode([t[other[0] as usize], t[other[1] as usize], t[other[2] as usize]]);
                    prop_assert!(!vals.contains(&d));
                }
            }
        }
    }

    #[test]
    fn an_unpeelable_graph_yields_no_order() {
        // Two entries on the same three cells form a 2-core.
        let pos = vec![[0, 1, 2], [0, 1, 2]];
        assert!(peel(&pos, 3).is_none());
    }
}
