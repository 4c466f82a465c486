//! Server-side opening: S' = α·Q → (τ, pad) → rkey → inner layer → (share, DHF values, adct).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::aead;
use crate::database::Manifest;
use crate::dhf::Fp;
use crate::encoding::{self, Reader};
use crate::error::{Error, Result};
use crate::keys::ServerSecretKey;
use crate::params::Params;
use crate::voucher::{self, LABEL_RCT};
use curve25519_dalek::{RistrettoPoint, Scalar};
use rayon::prelude::*;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// What the server learns from one voucher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenOutcome {
    /// The outer layer did not open: the item is not on the list (and the voucher is real).
    NoMatch,
    /// The outer layer opened: a real match or a synthetic voucher, indistinguishable until
    /// the account crosses the threshold.
    Opened(OpenedVoucher),
}

/// An opened voucher: what the server keeps per account.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedVoucher {
    /// The app's id.
    pub id: Vec<u8>,
    /// The voucher's Q (unique per voucher; keys the associated-data encryption).
    pub q: [u8; 32],
    /// The DHF input x0 (the share abscissa is derived from it).
    pub x0: u64,
    /// The Shamir share value y = f(x_s).
    pub share: [u8; 32],
    /// The DHF values r_1..r_s.
    pub dhf: Vec<u64>,
    /// The encrypted, padded associated data.
    pub adct: Vec<u8>,
}

impl core::fmt::Debug for OpenedVoucher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedVoucher")
            .field("id_len", &self.id.len())
            .finish_non_exhaustive()
    }
}

const RECORD_MAGIC: &[u8; 4] = b"BMOR";
const RECORD_VERSION: u8 = 1;

impl OpenedVoucher {
    /// Storage encoding: `BMOR ‖ v1 ‖ id_len u8 ‖ id ‖ Q ‖ x0 u64 ‖ y ‖ s u16 ‖ r_i u64… ‖ adct_len u32 ‖ adct`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(90 + self.id.len() + 8 * self.dhf.len() + self.adct.len());
        v.extend_from_slice(RECORD_MAGIC);
        v.push(RECORD_VERSION);
        v.push(self.id.len() as u8);
        v.extend_from_slice(&self.id);
        v.extend_from_slice(&self.q);
        v.extend_from_slice(&self.x0.to_le_bytes());
        v.extend_from_slice(&self.share);
        v.extend_from_slice(&(self.dhf.len() as u16).to_le_bytes());
        for r in &self.dhf {
            v.extend_from_slice(&r.to_le_bytes());
        }
        v.extend_from_slice(&(self.adct.len() as u32).to_le_bytes());
        v.extend_from_slice(&self.adct);
        v
    }

    /// Decode a stored record, checking every field.
    pub fn from_bytes(bytes: &[u8]) -> Result<OpenedVoucher> {
        let what = "opened-voucher record";
        let mut r = Reader::new(bytes, what);
        r.expect_magic(RECORD_MAGIC)?;
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(Error::UnsupportedVersion {
                what,
                found: v as u16,
            });
        }
        let idl = r.u8()? as usize;
        if idl > voucher::MAX_ID_LEN {
            return Err(Error::OutOfRange {
                what,
                reason: "id longer than 64 bytes",
            });
        }
        let id = r.take(idl)?.to_vec();
        let q = r.array()?;
        let x0 = r.u64()?;
        let share = r.array()?;
        let s = r.u16()? as usize;
        if s > crate::params::MAX_SMAX as usize {
            return Err(Error::OutOfRange {
                what,
                reason: "too many DHF values",
            });
        }
        let mut dhf = Vec::with_capacity(s);
        for _ in 0..s {
            dhf.push(r.u64()?);
        }
        let al = r.u32()? as usize;
        if al > voucher::MAX_AD_LEN + 4 + aead::OVERHEAD {
            return Err(Error::OutOfRange {
                what,
                reason: "associated data too long",
            });
        }
        let adct = r.take(al)?.to_vec();
        r.finish()?;
        let rec = OpenedVoucher {
            id,
            q,
            x0,
            share,
            dhf,
            adct,
        };
        rec.check()?;
        Ok(rec)
    }

    fn check(&self) -> Result<()> {
        let what = "opened voucher";
        encoding::scalar(self.share, true, what)?;
        if Fp::new(self.x0).is_none() || self.dhf.iter().any(|v| Fp::new(*v).is_none()) {
            return Err(Error::OutOfRange {
                what,
                reason: "DHF value not below p",
            });
        }
        Ok(())
    }

    pub(crate) fn share_scalar(&self) -> Scalar {
        Scalar::from_canonical_bytes(self.share).unwrap_or(Scalar::ZERO)
    }
}

/// The server's opener for one database: its secret key, epoch and parameters.
pub struct Opener {
    key: ServerSecretKey,
    half_alpha: Scalar,
    epoch: u64,
    params: Params,
}

impl core::fmt::Debug for Opener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opener")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

struct Pending<'a> {
    parsed: voucher::Parsed<'a>,
}

impl Opener {
    /// An opener for the database described by `manifest`; the key must be the one that
    /// made it.
    pub fn new(key: ServerSecretKey, manifest: &Manifest) -> Result<Opener> {
        let public = key.public();
        if manifest.blinding_point != *public.blinding_point_bytes() {
            return Err(Error::WrongSecretKey);
        }
        let half_alpha = key.alpha() * Scalar::from(2u8).invert();
        Ok(Opener {
            key,
            half_alpha,
            epoch: manifest.epoch,
            params: manifest.params,
        })
    }

    /// The database parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The secret key.
    pub fn secret_key(&self) -> &ServerSecretKey {
        &self.key
    }

    fn prepare<'a>(&self, bytes: &'a [u8]) -> Result<(Pending<'a>, RistrettoPoint)> {
        let parsed = voucher::parse(bytes, self.epoch, self.params.s_max)?;
        let q = encoding::point(&parsed.q, "voucher Q")?;
        Ok((Pending { parsed }, q * self.half_alpha))
    }

    fn finish(&self, p: Pending<'_>, s: [u8; 32]) -> Result<OpenOutcome> {
        let v = p.parsed;
        let (tau, pad) = voucher::outer_keys(&v.q, &s);
        if !bool::from(tau.ct_eq(&v.tau)) {
            return Ok(OpenOutcome::NoMatch);
        }
        let mut rkey = Zeroizing::new([0u8; 32]);
        for ((k, w), p) in rkey.iter_mut().zip(v.wrapped.iter()).zip(pad.iter()) {
            *k = w ^ p;
        }
        let aad = [v.header_bytes, v.q.as_slice()].concat();
        let pt = aead::open(&rkey, LABEL_RCT, &aad, v.rct).ok_or(Error::CorruptVoucher)?;
        let s_max = self.params.s_max as usize;
        let mut r = Reader::new(&pt, "voucher inner layer");
        let share = r.array::<32>()?;
        let x0 = r.u64()?;
        let mut dhf = Vec::with_capacity(s_max);
        for _ in 0..s_max {
            dhf.push(r.u64()?);
        }
        let adct = r.take(r.remaining())?.to_vec();
        let rec = OpenedVoucher {
            id: v.header.id,
            q: v.q,
            x0,
            share,
            dhf,
            adct,
        };
        rec.check().map_err(|_| Error::CorruptVoucher)?;
        Ok(OpenOutcome::Opened(rec))
    }

    /// Open one voucher. `NoMatch` when the outer layer stays closed; a typed error for a
    /// malformed voucher, one for another epoch, and `CorruptVoucher` when the outer layer
    /// opens but the inner one does not.
    pub fn open(&self, voucher: &[u8]) -> Result<OpenOutcome> {
        let (p, s_half) = self.prepare(voucher)?;
        let s = RistrettoPoint::double_and_compress_batch(&[s_half]);
        let s = s
            .first()
            .map(|c| c.to_bytes())
            .ok_or(Error::CorruptVoucher)?;
        self.finish(p, s)
    }

    /// Open many vouchers on all cores, batching the point compressions. The result for
    /// each voucher is at the same index as the voucher.
    pub fn open_batch<V: AsRef<[u8]> + Sync>(&self, vouchers: &[V]) -> Vec<Result<OpenOutcome>> {
        vouchers
            .par_chunks(64)
            .flat_map_iter(|chunk| {
                let prepared: Vec<Result<(Pending<'_>, RistrettoPoint)>> =
                    chunk.iter().map(|v| self.prepare(v.as_ref())).collect();
                let points: Vec<RistrettoPoint> = prepared
                    .iter()
                    .filter_map(|p| p.as_ref().ok().map(|(_, s)| *s))
                    .collect();
                let mut compressed = RistrettoPoint::double_and_compress_batch(&points).into_iter();
                prepared
                    .into_iter()
                    .map(|p| {
                        let (pending, _) = p?;
                        let s = compressed
                            .next()
                            .map(|c| c.to_bytes())
                            .ok_or(Error::CorruptVoucher)?;
                        self.finish(pending, s)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
