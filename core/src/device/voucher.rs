//! Voucher creation: the device's one job. See [`crate::wire::voucher`] for the format.

use super::bundle::Bands;
use super::keys::{DeviceKeys, Plan, SyntheticValues, window_context};
use super::policy::DevicePolicy;
use super::state::{DeviceState, Used};
use crate::database::Database;
use crate::error::{Error, Param, Result};
use crate::hash::MediaHash;
use crate::hash_to_group::hash_media;
use crate::kdf;
use crate::keys::ClientKey;
use crate::primitives::aead;
use crate::wire::voucher::{
    Inner, MAX_ACCOUNT_LEN, MAX_ID_LEN, Outer, Voucher, VoucherHeader, bucket_for, inner_aad,
    pad_ad, voucher_len,
};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::traits::MultiscalarMul;
use curve25519_dalek::{RistrettoPoint, Scalar};
use hmac::{Hmac, KeyInit, Mac};
use rand::CryptoRng;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use subtle::{Choice, ConditionallySelectable};
use zeroize::{Zeroize, Zeroizing};

/// One simulated send's inner layer (see [`Client::simulated_inner`]).
pub(crate) struct SimulatedInner {
    pub(crate) real: bool,
    pub(crate) q: [u8; 32],
    pub(crate) inner: Inner,
}

/// Whether a voucher is real or synthetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntheticChoice {
    /// Decide per item, with the account's secret rate for the window (what apps use).
    ByRate,
    /// Always real (simulations and tests, through [`crate::research`]).
    Real,
    /// Always synthetic (simulations and tests, through [`crate::research`]).
    Synthetic,
}

/// The device side for one account: a verified database, the account's client key and id.
/// Immutable and `Send + Sync`; the keys of the current window are derived once and cached.
pub struct Client {
    db: Arc<Database>,
    key: ClientKey,
    hedge: Zeroizing<[u8; 32]>,
    account: Vec<u8>,
    ctx: [u8; 32],
    keys: Mutex<Option<(u64, Arc<DeviceKeys>)>>,
    inv2: Scalar,
    bands: Option<Bands>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `account` (at most 255 bytes; the id the server files its vouchers under)
    /// on a verified database, after checking the database against `policy`.
    ///
    /// # Errors
    /// [`Error::PolicyRefused`] for a database the policy refuses; [`Error::InvalidParameter`]
    /// ([`Param::Account`]) for an account id over 255 bytes.
    pub fn new(
        db: Arc<Database>,
        key: &ClientKey,
        account: &[u8],
        policy: &DevicePolicy,
    ) -> Result<Client> {
        policy.check(db.manifest(), db.root_hash())?;
        if account.len() > MAX_ACCOUNT_LEN {
            return Err(Error::InvalidParameter {
                param: Param::Account,
            });
        }
        let bands = db.manifest().fuzzy.map(Bands::new);
        Ok(Client {
            bands,
            ctx: db.context(),
            hedge: kdf::hkdf32(kdf::client::SALT, key.seed(), &[kdf::client::HEDGE]),
            db,
            key: key.clone(),
            account: account.to_vec(),
            keys: Mutex::new(None),
            inv2: Scalar::from(2u8).invert(),
        })
    }

    /// The database.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The counting window of a time.
    ///
    /// # Errors
    /// [`Error::OutsideSchedule`] for a time outside the database's schedule (beyond the slack).
    pub fn window_at(&self, now_unix: u64) -> Result<u64> {
        self.db.schedule().window_at(now_unix)
    }

    /// For apps that keep the device state: check that the window of `now_unix` may be used
    /// with this database and record it. Call it before making vouchers; store
    /// `state.to_bytes()` afterwards.
    ///
    /// # Errors
    /// [`Error::OutsideSchedule`], [`Error::StaleWindow`], [`Error::ManifestChanged`].
    pub fn check_state(&self, state: &mut DeviceState, now_unix: u64) -> Result<u64> {
        let w = self.window_at(now_unix)?;
        let schedule = self.db.schedule();
        state.advance(Used {
            window: w,
            start: schedule.start(w),
            end: schedule.start(w.saturating_add(1)),
            root: *self.db.root_hash(),
        })?;
        Ok(w)
    }

    /// [`check_state`](Client::check_state) and [`voucher`](Client::voucher) at one time: what
    /// an app that keeps the device state calls (store `state.to_bytes()` afterwards).
    ///
    /// # Errors
    /// As both.
    pub fn voucher_with_state(
        &self,
        state: &mut DeviceState,
        x: &MediaHash,
        id: &[u8],
        ad: &[u8],
        now_unix: u64,
    ) -> Result<Vec<u8>> {
        let w = self.check_state(state, now_unix)?;
        self.make(x, id, ad, w, SyntheticChoice::ByRate, &mut os_rng())
    }

    /// Make a voucher for media hash `x`, app id `id` (≤ 64 bytes) and associated data `ad`
    /// (≤ 65532 bytes) at time `now_unix`: real or synthetic by the item and the account's
    /// secret rate for the window. Uses the OS CSPRNG for the per-send values (β, γ, rkey).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an id over 64 bytes ([`Param::Id`]) or associated
    /// data over 65532 bytes ([`Param::AssociatedData`]); [`Error::OutsideSchedule`];
    /// [`Error::KindNotListed`] when the database does not list `x`'s kind. (A table cell that
    /// is not a point is no error: it counts as the identity, so the item does not match.)
    pub fn voucher(&self, x: &MediaHash, id: &[u8], ad: &[u8], now_unix: u64) -> Result<Vec<u8>> {
        let w = self.window_at(now_unix)?;
        self.make(x, id, ad, w, SyntheticChoice::ByRate, &mut os_rng())
    }

    /// Whether the database is a fuzzy one: PDQ items then go into probe bundles
    /// ([`Client::bundle`]) instead of vouchers.
    pub fn is_fuzzy(&self) -> bool {
        self.bands.is_some()
    }

    pub(crate) fn bands(&self) -> Option<&Bands> {
        self.bands.as_ref()
    }

    pub(crate) fn account(&self) -> &[u8] {
        &self.account
    }

    pub(crate) fn inv2(&self) -> Scalar {
        self.inv2
    }

    /// The keys of window `w`, derived once per window.
    pub(crate) fn keys(&self, w: u64) -> Arc<DeviceKeys> {
        let mut cache = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.as_ref() {
            Some((cw, k)) if *cw == w => k.clone(),
            _ => {
                let k = Arc::new(DeviceKeys::derive(
                    &self.key,
                    self.db.params(),
                    &window_context(&self.ctx, w),
                ));
                *cache = Some((w, k.clone()));
                k
            }
        }
    }

    /// As [`voucher`](Client::voucher) in window `w`, with an explicit real/synthetic choice
    /// and RNG (a forced choice uses the item's own synthetic values).
    pub(crate) fn make<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        id: &[u8],
        ad: &[u8],
        w: u64,
        choice: SyntheticChoice,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        if id.len() > MAX_ID_LEN {
            return Err(Error::InvalidParameter { param: Param::Id });
        }
        let bucket = bucket_for(ad.len())?;
        self.db.check_kind(x)?;
        if self.bands.is_some() && x.kind() == crate::hash::HashKind::Pdq {
            // A fuzzy database lists PDQ hashes only as band keys: a voucher would never open.
            return Err(Error::InvalidParameter {
                param: Param::PdqNeedsBundle,
            });
        }
        if !self.db.schedule().contains(w) {
            return Err(Error::OutsideSchedule);
        }
        let keys = self.keys(w);
        // Constant work: the coin, the synthetic values and (below) both inner layers are
        // computed for every item; the choice only selects.
        let (by_rate, values) = keys.item(&x.encode());
        let synthetic = match choice {
            SyntheticChoice::ByRate => by_rate,
            SyntheticChoice::Real => false,
            SyntheticChoice::Synthetic => true,
        };
        let header = VoucherHeader {
            epoch: self.db.epoch(),
            window: w,
            id: id.to_vec(),
        };
        let mut header_bytes = Vec::new();
        crate::encoding::Codec::encode(&header, &mut header_bytes);
        // Hedged per-send randomness: the OS RNG's output keyed with the device's hedge key and
        // bound to this send, so a repeated RNG state (a forked process, a restored VM
        // snapshot) still gives fresh β, γ, rkey for any other item, id or associated data.
        let mut rng = self.hedged_rng(x, id, ad, w, rng);
        let (q, s) = self.q_and_s(x, synthetic, &mut rng)?;
        let s_max = self.db.params().s_max();
        let mut out = Vec::with_capacity(voucher_len(s_max, bucket));
        // Outer layer: a one-time key wrap of rkey under (τ, pad) from S, bound to the header.
        let mut rkey = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(rkey.as_mut());
        let (tau, pad) = kdf::outer_keys(&header_bytes, &self.account, &q, &s);
        let mut wrapped = [0u8; 32];
        for ((w, k), p) in wrapped.iter_mut().zip(rkey.iter()).zip(pad.iter()) {
            *w = k ^ p;
        }
        Voucher::write_outer(&header, &Outer { q, tau, wrapped }, &mut out);
        // Constant work: both inner layers are computed for every item and one is kept, so
        // making a voucher takes the same steps whatever the item.
        let real = real_inner(&keys, x, &q, id, &pad_ad(ad, bucket));
        let fake = synthetic_inner(&values, bucket, &mut rng);
        let inner = if synthetic { fake } else { real };
        let mut pt = Zeroizing::new(Vec::with_capacity(
            32 + 8 * (s_max as usize + 1) + bucket + aead::OVERHEAD,
        ));
        inner.encode(&mut pt);
        let aad = inner_aad(Voucher::header_and_q_of(&out), &self.account)?;
        aead::seal_into(&rkey, kdf::RCT, &aad, &pt, &mut out);
        debug_assert_eq!(out.len(), voucher_len(s_max, bucket));
        Ok(out)
    }

    /// What one send of `x` in window `w` puts in the inner layer, without the group
    /// operations: `None` for a real voucher of an unlisted item (its outer layer never
    /// opens), else whether it is real, a random Q, and the inner layer keyed by that Q. The
    /// record-level simulation in [`crate::research`] is built on it.
    pub(crate) fn simulated_inner<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        listed: bool,
        id: &[u8],
        ad: &[u8],
        w: u64,
        rng: &mut R,
    ) -> Result<Option<SimulatedInner>> {
        let bucket = bucket_for(ad.len())?;
        let keys = self.keys(w);
        let mut q = [0u8; 32];
        rng.fill_bytes(&mut q);
        let plan = keys.plan(&x.encode());
        let real = matches!(plan, Plan::Real);
        let inner = match plan {
            Plan::Synthetic(v) => synthetic_inner(&v, bucket, rng),
            Plan::Real if listed => real_inner(&keys, x, &q, id, &pad_ad(ad, bucket)),
            Plan::Real => return Ok(None),
        };
        Ok(Some(SimulatedInner { real, q, inner }))
    }

    /// Whether the device makes `x` synthetic in window `w`.
    pub(crate) fn is_synthetic(&self, x: &MediaHash, w: u64) -> bool {
        matches!(self.keys(w).plan(&x.encode()), Plan::Synthetic(_))
    }

    /// The account's secret synthetic rate for window `w`, in ppm (simulations measure the
    /// count leak with it).
    pub(crate) fn rate_ppm(&self, w: u64) -> u32 {
        self.keys(w).rate_ppm()
    }

    /// The per-send RNG: ChaCha20 keyed by HMAC(hedge key, 32 bytes of `rng` ‖ encode(x) ‖
    /// LE64(w) ‖ u8(|id|) ‖ id ‖ LE32(|ad|) ‖ ad).
    pub(crate) fn hedged_rng<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        id: &[u8],
        ad: &[u8],
        w: u64,
        rng: &mut R,
    ) -> ChaCha20Rng {
        let mut fresh = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(fresh.as_mut());
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.hedge.as_ref())
            .expect("HMAC accepts keys of any length");
        let id_len = u8::try_from(id.len()).expect("ids are checked to be at most 64 bytes");
        let ad_len = u32::try_from(ad.len()).expect("associated data is checked");
        for part in [
            fresh.as_slice(),
            &x.encode(),
            &w.to_le_bytes(),
            &[id_len],
            id,
            &ad_len.to_le_bytes(),
            ad,
        ] {
            mac.update(part);
        }
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(mac.finalize().into_bytes().into());
        ChaCha20Rng::from_seed(*seed)
    }

    /// (enc(Q), enc(S)) = (β·H(x) + γ·G, β·P(x) + γ·L), with β = 0 for a synthetic voucher
    /// (then γ plays the synthetic β: Q = γ·G, S = γ·L). The same steps for every item —
    /// hash to group, table lookup, two two-term multiplications — so the work does not depend
    /// on the choice. Halved points, so one batched double-and-compress yields both.
    fn q_and_s<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        synthetic: bool,
        rng: &mut R,
    ) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
        let h = hash_media(x, &self.db.manifest().dst)?;
        let p = self.db.lookup(x)?;
        let mut drawn = Scalar::random(rng) * self.inv2;
        let mut half_beta =
            Scalar::conditional_select(&drawn, &Scalar::ZERO, Choice::from(u8::from(synthetic)));
        drawn.zeroize();
        let mut half_gamma = Scalar::random(rng) * self.inv2;
        let l = self.db.server_key().blinding_point();
        let (q_half, s_half) = (
            RistrettoPoint::multiscalar_mul(
                [half_beta, half_gamma],
                [h, RISTRETTO_BASEPOINT_POINT],
            ),
            RistrettoPoint::multiscalar_mul([half_beta, half_gamma], [p, *l]),
        );
        half_gamma.zeroize();
        half_beta.zeroize();
        let qs = RistrettoPoint::double_and_compress_batch(&[q_half, s_half]);
        let [q, s] = qs.as_slice() else {
            unreachable!("two points in, two encodings out")
        };
        Ok((q.to_bytes(), Zeroizing::new(s.to_bytes())))
    }
}

/// The operating system's generator, read afresh for every voucher: unlike a user-space
/// generator it is not duplicated by `fork` (the hedge in `hedged_rng` covers a restored VM
/// snapshot and a broken generator).
pub(crate) fn os_rng() -> rand_core::UnwrapErr<rand::rngs::SysRng> {
    rand_core::UnwrapErr(rand::rngs::SysRng)
}

fn real_inner(keys: &DeviceKeys, x: &MediaHash, q: &[u8; 32], id: &[u8], padded: &[u8]) -> Inner {
    real_inner_for(keys, &x.encode(), q, id, padded)
}

/// A real inner layer for the encoded item `item` (x0 = PRF(item)), its associated data keyed
/// by `tag` (a voucher's Q, a bundle's id).
pub(crate) fn real_inner_for(
    keys: &DeviceKeys,
    item: &[u8],
    tag: &[u8; 32],
    id: &[u8],
    padded: &[u8],
) -> Inner {
    let x0 = keys.prf_x0(item);
    let k_ad = kdf::adct_key(keys.adkey(), tag);
    let mut adct = Vec::with_capacity(padded.len() + aead::OVERHEAD);
    aead::seal_into(&k_ad, kdf::ADCT, &kdf::adct_aad(id), padded, &mut adct);
    Inner {
        share: keys.share(x0),
        x0,
        dhf: keys.dhf_values(x0),
        adct,
    }
}

/// The item's synthetic values, and random bytes (fresh per send) in place of the adct: it
/// never opens.
pub(crate) fn synthetic_inner<R: CryptoRng + ?Sized>(
    v: &SyntheticValues,
    bucket: usize,
    rng: &mut R,
) -> Inner {
    let mut adct = vec![0u8; bucket + aead::OVERHEAD];
    rng.fill_bytes(&mut adct);
    Inner {
        share: v.share,
        x0: v.x0,
        dhf: v.dhf.clone(),
        adct,
    }
}
