//! Server-side opening: S' = α·Q → (τ, pad) → rkey → inner layer → (share, DHF values, adct).
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::key::ServerSecretKey;
use super::record::OpenedVoucher;
use crate::database::Manifest;
use crate::encoding;
use crate::error::{Error, Field, Result};
use crate::kdf;
use crate::params::Params;
use crate::primitives::aead;
use crate::window::Schedule;
use crate::wire::bundle::{self, Bundle, is_bundle};
use crate::wire::voucher::{Inner, Voucher, inner_aad};
use curve25519_dalek::{RistrettoPoint, Scalar};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// What the server learns from one voucher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenOutcome {
    /// Nothing to keep: the outer layer did not open (an unlisted item's real voucher, or a
    /// voucher filed under another account), or it opened and the inner layer did not (a
    /// crafted voucher). The two are one result on purpose: a sender must not learn from the
    /// outcome whether a tampered voucher's item is listed. Operators count the second kind
    /// with [`Opener::malformed`].
    NoMatch,
    /// The outer layer opened: a real match or a synthetic voucher, indistinguishable until
    /// the account crosses the threshold.
    Opened(OpenedVoucher),
}

/// The server's opener for one database: its blinding secret, epoch and parameters.
pub struct Opener {
    half_alpha: Scalar,
    epoch: u64,
    params: Params,
    schedule: Schedule,
    malformed: AtomicU64,
    /// K = L·P for a fuzzy database.
    layers: Option<usize>,
}

impl Drop for Opener {
    fn drop(&mut self) {
        self.half_alpha.zeroize();
    }
}

impl core::fmt::Debug for Opener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opener")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener for the database described by `manifest`; the key must be the one that
    /// made it.
    ///
    /// # Errors
    /// [`Error::WrongSecretKey`] if the manifest's L is not this key's.
    pub fn new(key: &ServerSecretKey, manifest: &Manifest) -> Result<Opener> {
        let public = key.public();
        if manifest.blinding_point != *public.blinding_point_bytes() {
            return Err(Error::WrongSecretKey);
        }
        Ok(Opener {
            half_alpha: key.alpha() * Scalar::from(2u8).invert(),
            epoch: manifest.epoch,
            params: manifest.params,
            schedule: manifest.schedule,
            malformed: AtomicU64::new(0),
            layers: manifest.fuzzy.map(|f| f.layers()),
        })
    }

    /// Vouchers whose outer layer opened and whose inner layer did not (reported as
    /// [`OpenOutcome::NoMatch`]): an operator metric, never for senders.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// The database parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The window schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    fn prepare<'a>(&self, bytes: &'a [u8]) -> Result<(Voucher<'a>, RistrettoPoint)> {
        let parsed = Voucher::parse(bytes, self.epoch, self.params.s_max())?;
        if !self.schedule.contains(parsed.header.window) {
            return Err(Error::OutOfRange {
                field: Field::Window,
            });
        }
        let q = encoding::point(&parsed.outer.q, Field::VoucherQ)?;
        Ok((parsed, q * self.half_alpha))
    }

    fn finish(&self, v: Voucher<'_>, s: &[u8; 32], account: &[u8]) -> Result<OpenOutcome> {
        let outer = kdf::Outer::extract(&v.outer.q, s);
        if !bool::from(outer.tau(v.header_bytes, account).ct_eq(&v.outer.tau)) {
            return Ok(OpenOutcome::NoMatch);
        }
        let pad = outer.pad(v.header_bytes, account);
        let mut rkey = Zeroizing::new([0u8; 32]);
        for ((k, w), p) in rkey.iter_mut().zip(v.outer.wrapped.iter()).zip(pad.iter()) {
            *k = w ^ p;
        }
        let aad = inner_aad(v.header_and_q, account)?;
        let inner = aead::open(&rkey, kdf::RCT, &aad, v.rct)
            .and_then(|pt| Inner::read(&pt, self.params.s_max()).ok());
        let Some(mut inner) = inner else {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return Ok(OpenOutcome::NoMatch);
        };
        Ok(OpenOutcome::Opened(OpenedVoucher::new(
            v.header.id,
            v.header.window,
            v.outer.q,
            inner.x0,
            inner.share,
            std::mem::take(&mut inner.dhf),
            std::mem::take(&mut inner.adct),
        )))
    }

    /// Open one voucher filed under `account` (the id its device was made for).
    ///
    /// # Errors
    /// A typed structural error for a malformed voucher ([`Error::BadMagic`],
    /// [`Error::UnsupportedVersion`], [`Error::Truncated`], [`Error::OutOfRange`],
    /// [`Error::InvalidPoint`]); [`Error::WrongEpoch`] for another epoch;
    /// [`Error::OutOfRange`] ([`Field::Window`]) for a window outside the schedule. These
    /// depend on the voucher's structure only, never on the list. `Ok(NoMatch)` when the
    /// outer layer stays closed and when the inner layer does not open or parse (counted in
    /// [`Opener::malformed`]).
    pub fn open(&self, voucher: &[u8], account: &[u8]) -> Result<OpenOutcome> {
        check_account(account)?;
        if is_bundle(voucher) {
            return self.open_bundle(voucher, account).map(|(o, _)| o);
        }
        let (p, s_half) = self.prepare(voucher)?;
        let s = RistrettoPoint::double_and_compress_batch(&[s_half]);
        let s = s
            .first()
            .expect("one point in, one encoding out")
            .to_bytes();
        self.finish(p, &s, account)
    }

    /// Open many vouchers on all cores, batching the point compressions. The result for
    /// each voucher is at the same index as the voucher; errors as for [`Opener::open`].
    pub fn open_batch<V: AsRef<[u8]> + Sync>(
        &self,
        vouchers: &[V],
        account: &[u8],
    ) -> Vec<Result<OpenOutcome>> {
        if let Err(e) = check_account(account) {
            return vouchers.iter().map(|_| Err(e.clone())).collect();
        }
        vouchers
            .par_chunks(64)
            .flat_map_iter(|chunk| {
                if chunk.iter().any(|v| is_bundle(v.as_ref())) {
                    // Bundles batch their own K layers.
                    return chunk
                        .iter()
                        .map(|v| self.open(v.as_ref(), account))
                        .collect::<Vec<_>>();
                }
                let prepared: Vec<Result<(Voucher<'_>, RistrettoPoint)>> =
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
                            .expect("one encoding per prepared voucher")
                            .to_bytes();
                        self.finish(pending, &s, account)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Opener {
    /// Open a probe bundle (`docs/PROTOCOL.md` §13.6) filed under `account`, and say how many
    /// of its K outer layers opened (0 for [`OpenOutcome::NoMatch`] by a closed bundle). Every
    /// layer is tried: the count is what the server learns besides the outcome, and what the
    /// synthetic open counts are built to hide.
    ///
    /// # Errors
    /// As [`Opener::open`]; [`Error::OutOfRange`] ([`Field::BundleLayers`]) when the database
    /// is not fuzzy or the bundle's K is not its L·P.
    pub fn open_bundle(&self, bundle: &[u8], account: &[u8]) -> Result<(OpenOutcome, u32)> {
        check_account(account)?;
        let layers = self.layers.ok_or(Error::OutOfRange {
            field: Field::BundleLayers,
        })?;
        let b = Bundle::parse(bundle, self.epoch, self.params.s_max(), layers)?;
        if !self.schedule.contains(b.header.window) {
            return Err(Error::OutOfRange {
                field: Field::Window,
            });
        }
        let halves = b
            .layers
            .iter()
            .map(|l| encoding::point(&l.q, Field::VoucherQ).map(|q| q * self.half_alpha))
            .collect::<Result<Vec<_>>>()?;
        let encoded = RistrettoPoint::double_and_compress_batch(&halves);
        let mut opened = 0u32;
        let mut rkey: Option<Zeroizing<[u8; 32]>> = None;
        for (l, s) in b.layers.iter().zip(&encoded) {
            let s = Zeroizing::new(s.to_bytes());
            let outer = kdf::Outer::extract(&l.q, &s);
            if bool::from(outer.tau(b.header_bytes, account).ct_eq(&l.tau)) {
                opened += 1;
                if rkey.is_none() {
                    let pad = outer.pad(b.header_bytes, account);
                    let mut k = Zeroizing::new([0u8; 32]);
                    for ((k, w), p) in k.iter_mut().zip(l.wrapped.iter()).zip(pad.iter()) {
                        *k = w ^ p;
                    }
                    rkey = Some(k);
                }
            }
        }
        let Some(rkey) = rkey else {
            return Ok((OpenOutcome::NoMatch, 0));
        };
        let aad = bundle::inner_aad(b.header_bytes, &b.layers, account)?;
        let inner = aead::open(&rkey, kdf::BUNDLE_RCT, &aad, b.rct)
            .and_then(|pt| Inner::read(&pt, self.params.s_max()).ok());
        let Some(mut inner) = inner else {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return Ok((OpenOutcome::NoMatch, opened));
        };
        Ok((
            OpenOutcome::Opened(OpenedVoucher::new(
                b.header.id,
                b.header.window,
                bundle::bundle_id(&b.layers),
                inner.x0,
                inner.share,
                std::mem::take(&mut inner.dhf),
                std::mem::take(&mut inner.adct),
            )),
            opened,
        ))
    }
}

/// The account id must fit the inner AAD's length byte; checked before any opening, so the
/// answer does not depend on the voucher.
fn check_account(account: &[u8]) -> Result<()> {
    if account.len() > crate::wire::voucher::MAX_ACCOUNT_LEN {
        return Err(Error::InvalidParameter {
            param: crate::error::Param::Account,
        });
    }
    Ok(())
}

/// Open `voucher`'s layers with the server key, let `patch` edit `header ‖ Q ‖ inner
/// plaintext` (keeping its length), and seal it again under the same rkey, τ and the key wrap
/// recomputed from the patched Q — so the outer layer opens and a fuzzer reaches the inner
/// decoder. `None` if the voucher's inner layer does not open or the patch changed the length.
#[cfg(feature = "hazmat")]
pub fn reseal_voucher(
    key: &ServerSecretKey,
    voucher: &[u8],
    account: &[u8],
    patch: impl FnOnce(&mut Vec<u8>),
) -> Option<Vec<u8>> {
    let s_of = |q: &[u8; 32]| -> [u8; 32] {
        curve25519_dalek::ristretto::CompressedRistretto(*q)
            .decompress()
            .map_or([0; 32], |q| (q * key.alpha()).compress().to_bytes())
    };
    let (head, outer, rct) = Voucher::split(voucher)?;
    let header = head.get(..head.len() - 32)?;
    check_account(account).ok()?;
    let (_, pad) = kdf::outer_keys(header, account, &outer.q, &s_of(&outer.q));
    let mut rkey = Zeroizing::new([0u8; 32]);
    for ((k, w), p) in rkey.iter_mut().zip(outer.wrapped.iter()).zip(pad.iter()) {
        *k = w ^ p;
    }
    let pt = aead::open(&rkey, kdf::RCT, &inner_aad(head, account).ok()?, rct)?;
    let mut plain = [head, pt.as_slice()].concat();
    let len = plain.len();
    patch(&mut plain);
    if plain.len() != len {
        return None;
    }
    let (head, pt) = plain.split_at_checked(head.len())?;
    let q: [u8; 32] = head.get(head.len() - 32..)?.try_into().ok()?;
    let (tau, pad) = kdf::outer_keys(head.get(..head.len() - 32)?, account, &q, &s_of(&q));
    let mut out = head.to_vec();
    out.extend_from_slice(&tau);
    out.extend(rkey.iter().zip(pad.iter()).map(|(k, p)| k ^ p));
    aead::seal_into(
        &rkey,
        kdf::RCT,
        &inner_aad(head, account).ok()?,
        pt,
        &mut out,
    );
    Some(out)
}
