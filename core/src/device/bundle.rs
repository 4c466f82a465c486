//! Probe bundles for fuzzy databases (`docs/PROTOCOL.md` §13): one PDQ item, K = L·P outer
//! layers (one per probe of each band), one inner layer bound to every layer's Q.
//!
//! Every bundle is made by the same steps whatever the item: all K probes are hashed, looked
//! up and blinded, both inner layers are computed, and the real/synthetic choice and which
//! layers a synthetic bundle opens only select (in constant time) among computed values.

use super::keys::DeviceKeys;
use super::voucher::{Client, SyntheticChoice, real_inner_for, synthetic_inner};
use crate::error::{Error, Param, Result};
use crate::fuzzy::{self, BAND_KEY_LEN, FuzzyLayout};
use crate::hash::{HashKind, MediaHash};
use crate::hash_to_group::hash_item;
use crate::kdf;
use crate::media::pdq::HashMargins;
use crate::primitives::aead;
use crate::wire::bundle::{
    BUNDLE_VERSION, Bundle, MAGIC as BUNDLE_MAGIC, bundle_id, bundle_len, inner_aad,
};
use crate::wire::voucher::{MAX_ID_LEN, Outer, VoucherHeader, bucket_for, pad_ad};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::traits::MultiscalarMul;
use curve25519_dalek::{RistrettoPoint, Scalar};
use rand::{CryptoRng, Rng};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
use zeroize::{Zeroize, Zeroizing};

/// A fuzzy database's band layout as a device uses it: positions and the open-count CDF.
#[derive(Debug)]
pub(crate) struct Bands {
    pub(crate) layout: FuzzyLayout,
    positions: Vec<Vec<u8>>,
    cdf: Vec<u64>,
}

impl Bands {
    pub(crate) fn new(layout: FuzzyLayout) -> Bands {
        Bands {
            positions: layout.positions(),
            cdf: layout.open_count_cdf(),
            layout,
        }
    }

    /// The item's K probe keys in probe order (band by band, P per band), and whether each
    /// is a padding probe (one that cannot match).
    pub(crate) fn probe_keys(&self, item: &HashMargins) -> Vec<([u8; BAND_KEY_LEN], bool)> {
        let p = usize::from(self.layout.probes());
        let mut out = Vec::with_capacity(self.layout.layers());
        let mut padding = 0u64;
        for (j, pos) in self.positions.iter().enumerate() {
            let value = fuzzy::band_value(pos, &item.hash);
            // A margin that is not a finite number ≥ 0 counts as 0 (§13.4).
            let margins: Vec<f32> = pos
                .iter()
                .map(|&k| item.margins.get(usize::from(k)).copied().unwrap_or(0.0))
                .map(|m| if m.is_finite() && m >= 0.0 { m } else { 0.0 })
                .collect();
            for mask in fuzzy::probe_masks(&margins, p) {
                match mask {
                    Some(m) => out.push((fuzzy::band_key(j as u8, value ^ m), false)),
                    None => {
                        // Band 0xFF is never listed.
                        out.push((fuzzy::band_key(0xFF, padding), true));
                        padding += 1;
                    }
                }
            }
        }
        out
    }

    /// The number of layers a synthetic bundle opens for a 64-bit draw: the smallest c ≥ 1
    /// with `draw < cdf[c − 1]`, computed without branching on the draw.
    fn open_count(&self, draw: u64) -> u32 {
        let mut below = 0u32;
        for t in &self.cdf {
            // c = 1 + the number of thresholds the draw is at or above.
            below += u32::from(!bool::from(draw.ct_lt(t)));
        }
        (1 + below).min(u32::from(self.layout.bands()))
    }
}

/// The identity of an item (§13.4): the probe key with the smallest MinHash value among its
/// non-padding probes, so most re-encoded copies of one picture share it. Constant time: every
/// probe's value is computed and compared, and the running minimum is selected without
/// branching on secrets (which probe is the identity depends on fkey).
fn identity(keys: &DeviceKeys, probes: &[([u8; BAND_KEY_LEN], bool)]) -> [u8; BAND_KEY_LEN] {
    let mut best_value = Zeroizing::new([0xFFu8; 32]);
    let mut best_key = [0u8; BAND_KEY_LEN];
    let mut found = Choice::from(0);
    let minhash = keys.minhash();
    for (key, pad) in probes {
        let v = minhash.of(key);
        let take = !Choice::from(u8::from(*pad)) & (!found | ct_lt_bytes(&v, &best_value));
        for (b, x) in best_value.iter_mut().zip(v.iter()) {
            b.conditional_assign(x, take);
        }
        for (b, x) in best_key.iter_mut().zip(key.iter()) {
            b.conditional_assign(x, take);
        }
        found |= take;
    }
    // Band 0's exact probe is never a padding probe, so one was always taken.
    best_key
}

/// `a < b` for 32-byte big-endian strings, in constant time.
fn ct_lt_bytes(a: &[u8; 32], b: &[u8; 32]) -> Choice {
    let mut lt = Choice::from(0);
    let mut eq = Choice::from(1);
    for (x, y) in a.iter().zip(b.iter()) {
        lt |= eq & x.ct_lt(y);
        eq &= x.ct_eq(y);
    }
    lt
}

impl Client {
    /// Whether the item's bundle is synthetic in window `w`, and its identity (research only).
    pub(crate) fn bundle_identity(&self, item: &HashMargins, w: u64) -> Option<(bool, [u8; 11])> {
        let bands = self.bands()?;
        let keys = self.keys(w);
        let ident = identity(&keys, &bands.probe_keys(item));
        let (synthetic, _) = keys.item(&ident);
        Some((synthetic, ident))
    }

    /// Make a probe bundle for a picture's PDQ hash and margins (from
    /// [`pdq_hash_with_margins`](crate::media::pdq::pdq_hash_with_margins)) on a fuzzy
    /// database, for app id `id` and associated data `ad` at time `now_unix`.
    ///
    /// # Errors
    /// As [`Client::voucher`]; [`Error::InvalidParameter`] ([`Param::NotFuzzy`]) when the
    /// database is not a fuzzy one.
    pub fn bundle(
        &self,
        item: &HashMargins,
        id: &[u8],
        ad: &[u8],
        now_unix: u64,
    ) -> Result<Vec<u8>> {
        let w = self.window_at(now_unix)?;
        self.make_bundle(
            item,
            id,
            ad,
            w,
            SyntheticChoice::ByRate,
            &mut super::voucher::os_rng(),
        )
    }

    /// [`check_state`](Client::check_state) and [`bundle`](Client::bundle) at one time.
    ///
    /// # Errors
    /// As both.
    pub fn bundle_with_state(
        &self,
        state: &mut super::DeviceState,
        item: &HashMargins,
        id: &[u8],
        ad: &[u8],
        now_unix: u64,
    ) -> Result<Vec<u8>> {
        let w = self.check_state(state, now_unix)?;
        self.make_bundle(
            item,
            id,
            ad,
            w,
            SyntheticChoice::ByRate,
            &mut super::voucher::os_rng(),
        )
    }

    /// As [`bundle`](Client::bundle) in window `w` with an explicit choice and RNG.
    pub(crate) fn make_bundle<R: CryptoRng + ?Sized>(
        &self,
        item: &HashMargins,
        id: &[u8],
        ad: &[u8],
        w: u64,
        choice: SyntheticChoice,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let Some(bands) = self.bands() else {
            return Err(Error::InvalidParameter {
                param: Param::NotFuzzy,
            });
        };
        if id.len() > MAX_ID_LEN {
            return Err(Error::InvalidParameter { param: Param::Id });
        }
        let bucket = bucket_for(ad.len())?;
        if !self.database().schedule().contains(w) {
            return Err(Error::OutsideSchedule);
        }
        let x = MediaHash::new(HashKind::Pdq, &item.hash.0)?;
        let x_enc = x.encode();
        let keys = self.keys(w);
        let probes = bands.probe_keys(item);
        let ident = identity(&keys, &probes);
        let (by_rate, values) = keys.item(&ident);
        let synthetic = match choice {
            SyntheticChoice::ByRate => by_rate,
            SyntheticChoice::Real => false,
            SyntheticChoice::Synthetic => true,
        };
        let opens = bands.open_count(keys.open_count_draw(&x_enc));
        let header = VoucherHeader {
            epoch: self.database().epoch(),
            window: w,
            id: id.to_vec(),
        };
        let mut header_bytes = Vec::new();
        header.encode_as(BUNDLE_MAGIC, BUNDLE_VERSION, &mut header_bytes);
        let mut rng = self.hedged_rng(&x, id, ad, w, rng);
        let mut rkey = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(rkey.as_mut());
        let layers = self.layers(&probes, synthetic, opens, &header_bytes, &rkey, &mut rng)?;
        let s_max = self.database().params().s_max();
        let k = layers.len();
        let mut out = Vec::with_capacity(bundle_len(s_max, k, bucket));
        Bundle::write_outer(&header, &layers, &mut out);
        let bid = bundle_id(&layers);
        let real = real_inner_for(&keys, &ident, &bid, id, &pad_ad(ad, bucket));
        let fake = synthetic_inner(&values, bucket, &mut rng);
        let inner = if synthetic { fake } else { real };
        let mut pt = Zeroizing::new(Vec::with_capacity(
            32 + 8 * (s_max as usize + 1) + bucket + aead::OVERHEAD,
        ));
        inner.encode(&mut pt);
        let aad = inner_aad(&header_bytes, &layers, self.account())?;
        aead::seal_into(&rkey, kdf::BUNDLE_RCT, &aad, &pt, &mut out);
        debug_assert_eq!(out.len(), bundle_len(s_max, k, bucket));
        Ok(out)
    }

    /// The K outer layers, shuffled. Layer i (in probe order) of a real bundle wraps rkey
    /// under its probe's (Q, S); of a synthetic bundle, the first `opens` layers are
    /// synthetic-shaped (Q = γ·G, S = γ·L: they open) and the rest carry random bytes in
    /// place of τ and the wrap (they never open, even for a listed probe).
    fn layers<R: CryptoRng + ?Sized>(
        &self,
        probes: &[([u8; BAND_KEY_LEN], bool)],
        synthetic: bool,
        opens: u32,
        header: &[u8],
        rkey: &[u8; 32],
        rng: &mut R,
    ) -> Result<Vec<Outer>> {
        let dst = &self.database().manifest().dst;
        let l = self.database().server_key().blinding_point();
        let inv2 = self.inv2();
        let syn = Choice::from(u8::from(synthetic));
        let mut halves = Vec::with_capacity(2 * probes.len());
        let mut closed = Vec::with_capacity(probes.len());
        for (i, (key, _)) in probes.iter().enumerate() {
            let h = hash_item(key, dst)?;
            let p = self.database().lookup_item(key)?;
            let within = (i as u32).ct_lt(&opens);
            // Synthetic-shaped: β = 0 (then γ is the synthetic β); closed: random bytes below.
            let synth_layer = syn & within;
            closed.push(syn & !within);
            let mut drawn = Scalar::random(rng) * inv2;
            let mut half_beta = Scalar::conditional_select(&drawn, &Scalar::ZERO, synth_layer);
            let mut half_gamma = Scalar::random(rng) * inv2;
            halves.push(RistrettoPoint::multiscalar_mul(
                [half_beta, half_gamma],
                [h, RISTRETTO_BASEPOINT_POINT],
            ));
            halves.push(RistrettoPoint::multiscalar_mul(
                [half_beta, half_gamma],
                [p, *l],
            ));
            drawn.zeroize();
            half_beta.zeroize();
            half_gamma.zeroize();
        }
        let encoded = RistrettoPoint::double_and_compress_batch(&halves);
        let mut layers = Vec::with_capacity(probes.len());
        for (pair, closed) in encoded.chunks_exact(2).zip(closed) {
            let [q, s] = pair else {
                unreachable!("chunks of two")
            };
            let q = q.to_bytes();
            let s = Zeroizing::new(s.to_bytes());
            let (mut tau, pad) = kdf::outer_keys(header, self.account(), &q, &s);
            let mut wrapped = [0u8; 32];
            for ((w, k), p) in wrapped.iter_mut().zip(rkey.iter()).zip(pad.iter()) {
                *w = k ^ p;
            }
            let mut noise = [0u8; 64];
            rng.fill_bytes(&mut noise);
            for (t, n) in tau.iter_mut().zip(&noise[..32]) {
                t.conditional_assign(n, closed);
            }
            for (w, n) in wrapped.iter_mut().zip(&noise[32..]) {
                w.conditional_assign(n, closed);
            }
            layers.push(Outer { q, tau, wrapped });
        }
        // Shuffle (Fisher–Yates) so a layer's position says nothing about its probe.
        for i in (1..layers.len()).rev() {
            // ⌊u·(i+1)/2^64⌋ for a uniform u64: bias below 2^-54 for i < 512.
            let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
            layers.swap(i, j);
        }
        Ok(layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    #[test]
    fn identity_is_the_smallest_minhash_among_non_padding_probes() {
        let key = crate::keys::ClientKey::generate();
        let keys = DeviceKeys::derive(
            &key,
            &Params::new(3, 4, 0, 0).unwrap(),
            &super::super::keys::window_context(&[9; 32], 0),
        );
        for seed in 0..20u64 {
            let probes: Vec<([u8; BAND_KEY_LEN], bool)> = (0..30u64)
                .map(|i| (fuzzy::band_key((i % 6) as u8, seed * 1000 + i), i % 7 == 3))
                .collect();
            let naive = probes
                .iter()
                .filter(|(_, pad)| !pad)
                .min_by(|a, b| {
                    keys.minhash()
                        .of(&a.0)
                        .as_slice()
                        .cmp(keys.minhash().of(&b.0).as_slice())
                })
                .unwrap()
                .0;
            assert_eq!(identity(&keys, &probes), naive);
        }
    }

    /// The probe vector of `docs/PROTOCOL.md` §13.8: fractional margins exercise the heap's
    /// order and the scores.
    #[test]
    fn probe_key_vector() {
        let hash = crate::media::pdq::PdqHash::from_hex(
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        )
        .unwrap();
        let item = HashMargins {
            hash,
            margins: std::array::from_fn(|k| ((k * 37) % 101) as f32 / 7.0),
        };
        let keys: Vec<String> = Bands::new(FuzzyLayout::RECOMMENDED)
            .probe_keys(&item)
            .iter()
            .take(6)
            .map(|(k, _)| hex::encode(k))
            .collect();
        assert_eq!(
            keys,
            [
                "0509008e8b729200000000",
                "0509008e8b729300000000",
                "050900ae8b729200000000",
                "0509008e8b629200000000",
                "0509008e8b728200000000",
                "050900ae8b729300000000",
            ]
        );
    }

    #[test]
    fn ct_lt_bytes_is_lexicographic() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        assert!(!bool::from(ct_lt_bytes(&a, &b)));
        b[31] = 1;
        assert!(bool::from(ct_lt_bytes(&a, &b)));
        a[0] = 1;
        assert!(!bool::from(ct_lt_bytes(&a, &b)));
    }
}
