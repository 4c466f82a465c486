//! The device's key schedule for one (client key, context, window): the Shamir polynomial f
//! with f(0) = k0, the associated-data key, the PRF key, the DHF polynomials, the synthetic
//! key and the account's secret rate for the window — and, per item, the plan: real or
//! synthetic, and a synthetic item's values. Labels are in [`crate::kdf::client`];
//! `docs/PROTOCOL.md` §6 is normative.
//!
//! Everything about an item's choice is a function of (client key, context, window, item)
//! only: never of device state, of the send, or of anything a reveal discloses (the synthetic
//! key is its own HKDF output, not derived from k0, f, the DHF or adkey).

use crate::kdf::{self, client as label};
use crate::keys::ClientKey;
use crate::params::{Params, RATE_SCALE};
use crate::primitives::dhf::{self, Fp};
use crate::primitives::shamir;
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use curve25519_dalek::Scalar;
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The window context `ctx ‖ LE64(w)` every client derivation is bound to.
pub(crate) type WindowContext = [u8; 40];

/// `ctx ‖ LE64(w)`.
pub(crate) fn window_context(ctx: &[u8; 32], window: u64) -> WindowContext {
    let mut w = [0u8; 40];
    w[..32].copy_from_slice(ctx);
    w[32..].copy_from_slice(&window.to_le_bytes());
    w
}

/// The device's keys for one window. Zeroized on drop; never printed.
pub(crate) struct DeviceKeys {
    params: Params,
    shamir: Vec<Scalar>,
    adkey: Zeroizing<[u8; 32]>,
    fkey: Zeroizing<[u8; 32]>,
    skey: Zeroizing<[u8; 32]>,
    rate_ppm: u32,
    dhf: Vec<Fp>,
}

impl Drop for DeviceKeys {
    fn drop(&mut self) {
        self.shamir.zeroize();
        self.dhf.zeroize();
        self.rate_ppm.zeroize();
    }
}

impl ZeroizeOnDrop for DeviceKeys {}

impl core::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DeviceKeys {{ params: {:?}, .. }}", self.params)
    }
}

/// The keyed MinHash function of one window (see [`DeviceKeys::minhash`]).
pub(crate) struct MinHash(hmac::Hmac<Sha256>);

impl MinHash {
    /// `HMAC(fkey, MINHASH ‖ key)`.
    pub(crate) fn of(&self, key: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac = self.0.clone();
        mac.update(key);
        Zeroizing::new(mac.finalize().into_bytes().into())
    }
}

/// What a device does with one item in one window.
pub(crate) enum Plan {
    /// A real voucher.
    Real,
    /// A synthetic voucher with these per-item values.
    Synthetic(SyntheticValues),
}

/// A synthetic item's record values: functions of (key, context, window, item) only.
pub(crate) struct SyntheticValues {
    pub(crate) x0: Fp,
    pub(crate) share: Scalar,
    pub(crate) dhf: Vec<Fp>,
}

impl Drop for SyntheticValues {
    fn drop(&mut self) {
        self.x0.zeroize();
        self.share.zeroize();
        self.dhf.zeroize();
    }
}

fn info(label: &[u8], wctx: &WindowContext, index: Option<u32>) -> Vec<u8> {
    let mut info = Vec::with_capacity(label.len() + 44);
    info.extend_from_slice(label);
    info.extend_from_slice(wctx);
    if let Some(i) = index {
        info.extend_from_slice(&i.to_le_bytes());
    }
    info
}

fn expand(hk: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) {
    hk.expand(info, out)
        .expect("at most 16·255 bytes, within HKDF-SHA256's output limit");
}

fn wide_scalar(hk: &Hkdf<Sha256>, info: &[u8]) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    expand(hk, info, wide.as_mut());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn fp16(bytes: &[u8]) -> Fp {
    Fp::from_wide(bytes.try_into().expect("16-byte chunks"))
}

/// `(v · n) >> 64`: a uniform u64 scaled to `[0, n)`.
fn scale(v: u64, n: u64) -> u64 {
    ((u128::from(v) * u128::from(n)) >> 64) as u64
}

fn hmac32(key: &[u8; 32], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

fn synthetic_values(stream: &[u8]) -> SyntheticValues {
    let wide: &[u8; 64] = stream[24..88].try_into().expect("64 bytes");
    SyntheticValues {
        x0: fp16(&stream[8..24]),
        share: Scalar::from_bytes_mod_order_wide(wide),
        dhf: stream[88..].chunks_exact(16).map(fp16).collect(),
    }
}

impl DeviceKeys {
    /// Derive the keys of `key` for `params` in the window context `wctx`.
    pub(crate) fn derive(key: &ClientKey, params: &Params, wctx: &WindowContext) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(label::SALT), key.seed());
        let t = params.threshold();
        let mut shamir = Vec::with_capacity(t as usize);
        shamir.push(wide_scalar(&hk, &info(label::K0, wctx, None)));
        for i in 1..t {
            shamir.push(wide_scalar(&hk, &info(label::SHAMIR, wctx, Some(i))));
        }
        let mut fkey = Zeroizing::new([0u8; 32]);
        expand(&hk, &info(label::PRF_KEY, wctx, None), fkey.as_mut());
        let mut skey = Zeroizing::new([0u8; 32]);
        expand(&hk, &info(label::SYNTHETIC, wctx, None), skey.as_mut());
        let mut rate = Zeroizing::new([0u8; 8]);
        expand(&hk, &info(label::RATE, wctx, None), rate.as_mut());
        let (lo, hi) = params.rate_range_ppm();
        let drawn = scale(u64::from_le_bytes(*rate), u64::from(hi - lo) + 1);
        let rate_ppm = lo + u32::try_from(drawn).expect("below hi - lo + 1");
        let coeffs = params.dhf_coefficients();
        let mut dhf = Vec::with_capacity(params.s_max() as usize * coeffs);
        let mut buf = Zeroizing::new(vec![0u8; 16 * coeffs]);
        for i in 0..params.s_max() {
            expand(&hk, &info(label::DHF, wctx, Some(i)), &mut buf);
            dhf.extend(buf.chunks_exact(16).map(fp16));
        }
        let adkey = kdf::adkey(shamir.first().expect("T ≥ 2 coefficients"));
        DeviceKeys {
            params: *params,
            shamir,
            adkey,
            fkey,
            skey,
            rate_ppm,
            dhf,
        }
    }

    /// The account's secret synthetic rate for this window, in ppm.
    pub(crate) fn rate_ppm(&self) -> u32 {
        self.rate_ppm
    }

    /// Real or synthetic, and a synthetic item's values, from the item's stream:
    /// `ChaCha20(key = HMAC(skey, ITEM ‖ encode(x)), nonce = 0)`, bytes 0..8 the coin,
    /// 8..24 x0, 24..88 the share, then 16 bytes per DHF value.
    pub(crate) fn plan(&self, x: &[u8]) -> Plan {
        let stream = self.item_stream(x);
        let coin = u64::from_le_bytes(stream[..8].try_into().expect("8 bytes"));
        if scale(coin, u64::from(RATE_SCALE)) >= u64::from(self.rate_ppm) {
            return Plan::Real;
        }
        Plan::Synthetic(synthetic_values(&stream))
    }

    /// Whether the item's coin says synthetic, and its synthetic values whatever the coin
    /// says: the same work for every item (voucher creation selects afterwards).
    pub(crate) fn item(&self, x: &[u8]) -> (bool, SyntheticValues) {
        let stream = self.item_stream(x);
        let coin = u64::from_le_bytes(stream[..8].try_into().expect("8 bytes"));
        let synthetic = scale(coin, u64::from(RATE_SCALE)) < u64::from(self.rate_ppm);
        (synthetic, synthetic_values(&stream))
    }

    fn item_stream(&self, x: &[u8]) -> Zeroizing<Vec<u8>> {
        let ikey = hmac32(&self.skey, &[label::ITEM, x]);
        let s = self.params.s_max() as usize;
        let mut stream = Zeroizing::new(vec![0u8; 88 + 16 * s]);
        ChaCha20::new(&(*ikey).into(), &[0u8; 12].into()).apply_keystream(&mut stream);
        stream
    }

    /// PRF(fkey, x): the DHF input x0 of a real item. Deterministic, so re-sending one item
    /// gives the same share and counts once.
    pub(crate) fn prf_x0(&self, x: &[u8]) -> Fp {
        let out = hmac32(&self.fkey, &[label::PRF_INPUT, x]);
        fp16(&out[..16])
    }

    /// The MinHash function of probe keys: `key ↦ HMAC(fkey, MINHASH ‖ key)` (§13.4), keyed
    /// once (the HMAC state after the key and the label) and applied to every probe. The
    /// probe key with the smallest value is the bundle's identity.
    pub(crate) fn minhash(&self) -> MinHash {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.fkey.as_ref())
            .expect("HMAC accepts keys of any length");
        mac.update(label::MINHASH);
        MinHash(mac)
    }

    /// A synthetic bundle's open-count draw: `LE64` of the first 8 bytes of
    /// `HMAC(skey, OPEN_COUNT ‖ encode(x))` for the exact item x (§13.5).
    pub(crate) fn open_count_draw(&self, x: &[u8]) -> u64 {
        let out = hmac32(&self.skey, &[label::OPEN_COUNT, x]);
        u64::from_le_bytes(out[..8].try_into().expect("8 bytes"))
    }

    /// The Shamir share f(x_s) at the abscissa derived from x0.
    pub(crate) fn share(&self, x0: Fp) -> Scalar {
        shamir::eval(&self.shamir, &kdf::share_abscissa(x0))
    }

    /// The DHF values (p_1(x0), …, p_s(x0)).
    pub(crate) fn dhf_values(&self, x0: Fp) -> Vec<Fp> {
        self.dhf
            .chunks(self.params.dhf_coefficients())
            .map(|c| dhf::eval(c, x0))
            .collect()
    }

    /// The associated-data key.
    pub(crate) fn adkey(&self) -> &[u8; 32] {
        &self.adkey
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::MediaHash;

    fn keys(k: &ClientKey, p: &Params, w: u64) -> DeviceKeys {
        DeviceKeys::derive(k, p, &window_context(&[7; 32], w))
    }

    #[test]
    fn derivations_are_bound_to_context_and_window() {
        let k = ClientKey::generate();
        let p = Params::new(3, 5, 0, 0).unwrap();
        let a = keys(&k, &p, 0);
        let b = DeviceKeys::derive(&k, &p, &window_context(&[8; 32], 0));
        let c = keys(&k, &p, 1);
        assert_ne!(a.shamir[0], b.shamir[0]);
        assert_ne!(a.shamir[0], c.shamir[0]);
        assert_eq!(a.dhf_values(Fp::ONE).len(), 5);
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.shamir[0])));
    }

    #[test]
    fn the_plan_is_a_function_of_the_item_and_the_rate_is_in_range() {
        let k = ClientKey::generate();
        let p = Params::new(3, 4, 200_000, 400_000).unwrap();
        let a = keys(&k, &p, 3);
        let b = keys(&k, &p, 3);
        assert!((200_000..=400_000).contains(&a.rate_ppm()));
        let mut synthetic = 0;
        for i in 0..2000u32 {
            let x = MediaHash::new(
                crate::hash::HashKind::Md5,
                &[i.to_le_bytes(), [0; 4], [1; 4], [2; 4]].concat(),
            )
            .unwrap();
            match (a.plan(&x.encode()), b.plan(&x.encode())) {
                (Plan::Real, Plan::Real) => {}
                (Plan::Synthetic(u), Plan::Synthetic(v)) => {
                    assert_eq!((u.x0, u.share, &u.dhf), (v.x0, v.share, &v.dhf));
                    assert_eq!(u.dhf.len(), 4);
                    synthetic += 1;
                }
                _ => panic!("two derivations disagree on an item"),
            }
        }
        // 2000 items at the drawn rate: within 6 standard deviations.
        let want = 2000.0 * f64::from(a.rate_ppm()) / 1e6;
        assert!((f64::from(synthetic) - want).abs() < 6.0 * (want * 0.8).sqrt());
    }
}
