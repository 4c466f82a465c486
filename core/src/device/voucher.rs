//! Voucher creation: the device's one job. See [`crate::wire::voucher`] for the format.

use super::keys::DeviceKeys;
use crate::database::Database;
use crate::error::{Error, Param, Result};
use crate::hash::MediaHash;
use crate::hash_to_group::hash_media;
use crate::kdf;
use crate::keys::ClientKey;
use crate::primitives::aead;
use crate::primitives::dhf::Fp;
use crate::wire::voucher::{
    HEADER_LEN, Inner, MAX_ID_LEN, Outer, Voucher, VoucherHeader, bucket_for, pad_ad, voucher_len,
};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::traits::MultiscalarMul;
use curve25519_dalek::{RistrettoPoint, Scalar};
use rand::CryptoRng;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Whether a voucher is real or synthetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntheticChoice {
    /// Decide with the database's synthetic rate (what apps use).
    ByRate,
    /// Always real (simulations and tests, through [`crate::research`]).
    Real,
    /// Always synthetic (simulations and tests, through [`crate::research`]).
    Synthetic,
}

/// The device side: a verified database plus the account's derived keys.
/// Immutable and `Send + Sync`.
pub struct Client {
    db: Arc<Database>,
    keys: DeviceKeys,
    inv2: Scalar,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Derive the account's keys for this database's parameters.
    pub fn new(db: Arc<Database>, key: &ClientKey) -> Client {
        let keys = DeviceKeys::derive(key, db.params());
        Client {
            db,
            keys,
            inv2: Scalar::from(2u8).invert(),
        }
    }

    /// The database.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Make a voucher for media hash `x`, app id `id` (≤ 64 bytes) and associated data `ad`
    /// (≤ 65532 bytes), synthetic with the database's rate. Uses the OS CSPRNG.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an id over 64 bytes ([`Param::Id`]) or associated
    /// data over 65532 bytes ([`Param::AssociatedData`]); [`Error::KindNotListed`] when the
    /// database does not list `x`'s kind; [`Error::InvalidPoint`] if a table cell the lookup
    /// needs is not a valid point (a database that passed only the fast load).
    pub fn voucher(&self, x: &MediaHash, id: &[u8], ad: &[u8]) -> Result<Vec<u8>> {
        self.make(x, id, ad, SyntheticChoice::ByRate, &mut rand::rng())
    }

    /// As [`voucher`](Client::voucher) with an explicit real/synthetic choice and RNG.
    pub(crate) fn make<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        id: &[u8],
        ad: &[u8],
        choice: SyntheticChoice,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        if id.len() > MAX_ID_LEN {
            return Err(Error::InvalidParameter { param: Param::Id });
        }
        let bucket = bucket_for(ad.len())?;
        self.db.check_kind(x)?;
        let params = self.db.params();
        let synthetic = match choice {
            SyntheticChoice::Real => false,
            SyntheticChoice::Synthetic => true,
            SyntheticChoice::ByRate => {
                rng.next_u32() % crate::params::RATE_SCALE < params.synthetic_rate_ppm()
            }
        };
        let (q, s) = self.q_and_s(x, synthetic, rng)?;

        let header = VoucherHeader {
            epoch: self.db.epoch(),
            id: id.to_vec(),
        };
        let s_max = params.s_max();
        let mut out = Vec::with_capacity(voucher_len(s_max, bucket));
        // Outer layer: a one-time key wrap of rkey under (τ, pad) from S.
        let mut rkey = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(rkey.as_mut());
        let (tau, pad) = kdf::outer_keys(&q, &s);
        let mut wrapped = [0u8; 32];
        for ((w, k), p) in wrapped.iter_mut().zip(rkey.iter()).zip(pad.iter()) {
            *w = k ^ p;
        }
        Voucher::write_outer(&header, &Outer { q, tau, wrapped }, &mut out);

        let inner = if synthetic {
            self.synthetic_inner(s_max, bucket, rng)
        } else {
            self.real_inner(x, &q, id, &pad_ad(ad, bucket))
        };
        let mut pt = Zeroizing::new(Vec::with_capacity(
            32 + 8 * (s_max as usize + 1) + bucket + aead::OVERHEAD,
        ));
        inner.encode(&mut pt);
        let aad = Voucher::inner_aad_of(&out).to_vec();
        debug_assert_eq!(aad.len(), HEADER_LEN + 32);
        aead::seal_into(&rkey, kdf::RCT, &aad, &pt, &mut out);
        debug_assert_eq!(out.len(), voucher_len(s_max, bucket));
        Ok(out)
    }

    /// (enc(Q), enc(S)): β·H(x) + γ·G and β·P(x) + γ·L for a real voucher, β·G and β·L for a
    /// synthetic one. Halved points, so one batched double-and-compress yields both.
    fn q_and_s<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        synthetic: bool,
        rng: &mut R,
    ) -> Result<([u8; 32], Zeroizing<[u8; 32]>)> {
        let mut half_beta = Scalar::random(rng) * self.inv2;
        let (q_half, s_half) = if synthetic {
            (
                RistrettoPoint::mul_base(&half_beta),
                self.db.l_table() * &half_beta,
            )
        } else {
            let h = hash_media(x, &self.db.manifest().dst)?;
            let p = self.db.lookup(x)?;
            let mut half_gamma = Scalar::random(rng) * self.inv2;
            let l = self.db.server_key().blinding_point();
            let qs = (
                RistrettoPoint::multiscalar_mul(
                    [half_beta, half_gamma],
                    [h, RISTRETTO_BASEPOINT_POINT],
                ),
                RistrettoPoint::multiscalar_mul([half_beta, half_gamma], [p, *l]),
            );
            half_gamma.zeroize();
            qs
        };
        half_beta.zeroize();
        let qs = RistrettoPoint::double_and_compress_batch(&[q_half, s_half]);
        let [q, s] = qs.as_slice() else {
            unreachable!("two points in, two encodings out")
        };
        Ok((q.to_bytes(), Zeroizing::new(s.to_bytes())))
    }

    fn real_inner(&self, x: &MediaHash, q: &[u8; 32], id: &[u8], padded: &[u8]) -> Inner {
        let x0 = self.keys.prf_x0(x);
        let k_ad = kdf::adct_key(self.keys.adkey(), q);
        let mut adct = Vec::with_capacity(padded.len() + aead::OVERHEAD);
        aead::seal_into(&k_ad, kdf::ADCT, &kdf::adct_aad(id), padded, &mut adct);
        Inner {
            share: self.keys.share(x0),
            x0,
            dhf: self.keys.dhf_values(x0),
            adct,
        }
    }

    /// A uniformly random scalar, s+1 uniform F_p values and random bytes in place of the
    /// adct: it never opens.
    fn synthetic_inner<R: CryptoRng + ?Sized>(
        &self,
        s_max: u32,
        bucket: usize,
        rng: &mut R,
    ) -> Inner {
        let mut adct = vec![0u8; bucket + aead::OVERHEAD];
        rng.fill_bytes(&mut adct);
        Inner {
            share: Scalar::random(rng),
            x0: random_fp(rng),
            dhf: (0..s_max).map(|_| random_fp(rng)).collect(),
            adct,
        }
    }
}

fn random_fp<R: CryptoRng + ?Sized>(rng: &mut R) -> Fp {
    let mut w = [0u8; 16];
    rng.fill_bytes(&mut w);
    Fp::from_wide(&w)
}
