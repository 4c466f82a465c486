//! The probe-bundle format of fuzzy databases (`docs/PROTOCOL.md` §13.3): one item, K outer
//! layers (one per probe, shuffled per send), one inner layer.
//!
//! ```text
//! bundle = "BB" | version u8 = 1 | epoch u64 | window u64 | id_len u8 | id (64, zero-padded)
//!                                                                    (header, 84 bytes)
//!        | K u16
//!        | K × (Q_k (32) | τ_k (32) | rkey ⊕ pad_k (32))            (outer layers)
//!        | rct = AEAD_rkey(y ‖ x0 ‖ r_1..r_s ‖ adct)                 (inner layer,
//!              AAD = header ‖ K ‖ Q_1 ‖ … ‖ Q_K ‖ account_len u8 ‖ account)
//! ```
//!
//! Size: `214 + 96·K + 8·(s_max+1) + bucket` bytes.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::voucher::{AD_BUCKETS, HEADER_LEN, Outer, VoucherHeader};
use crate::encoding::Reader;
use crate::error::{Error, Field, Object, Param, Result};
use crate::kdf;
use sha2::{Digest, Sha256};

pub(crate) const MAGIC: &[u8; 2] = b"BB";
/// The bundle format version.
pub const BUNDLE_VERSION: u8 = 1;
/// Bytes of one outer layer: Q, τ, rkey ⊕ pad.
pub const LAYER_LEN: usize = 96;

/// Bundle length for a database's s_max, its K = L·P layers and an associated-data bucket.
pub const fn bundle_len(s_max: u32, layers: usize, bucket: usize) -> usize {
    214 + LAYER_LEN * layers + 8 * (s_max as usize + 1) + bucket
}

/// Whether bytes start like a bundle (its magic), so an opener can tell bundles from vouchers.
pub fn is_bundle(bytes: &[u8]) -> bool {
    bytes.get(..2) == Some(MAGIC.as_slice())
}

/// The public fields of a bundle (its header has the voucher header's fields).
///
/// # Errors
/// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`], or
/// [`Error::OutOfRange`] for [`Field::VoucherId`].
pub fn peek_bundle(bytes: &[u8]) -> Result<VoucherHeader> {
    VoucherHeader::read_as(
        &mut Reader::new(bytes, Object::Bundle),
        MAGIC,
        BUNDLE_VERSION,
    )
}

/// A parsed bundle: structure only, nothing opened.
pub(crate) struct Bundle<'a> {
    pub(crate) header: VoucherHeader,
    pub(crate) header_bytes: &'a [u8],
    pub(crate) layers: Vec<Outer>,
    pub(crate) rct: &'a [u8],
}

impl Bundle<'_> {
    /// Parse a bundle for a database with `epoch`, `s_max` and `layers` = K. Checked in
    /// order: header, epoch, K, length.
    pub(crate) fn parse(bytes: &[u8], epoch: u64, s_max: u32, layers: usize) -> Result<Bundle<'_>> {
        let header = peek_bundle(bytes)?;
        if header.epoch != epoch {
            return Err(Error::WrongEpoch {
                voucher: header.epoch,
                database: epoch,
            });
        }
        let mut r = Reader::new(bytes, Object::Bundle);
        let header_bytes = r.take(HEADER_LEN)?;
        if usize::from(r.u16()?) != layers {
            return Err(Error::OutOfRange {
                field: Field::BundleLayers,
            });
        }
        if !AD_BUCKETS
            .iter()
            .any(|b| bundle_len(s_max, layers, *b) == bytes.len())
        {
            return Err(Error::OutOfRange {
                field: Field::VoucherLength,
            });
        }
        let mut out = Vec::with_capacity(layers);
        for _ in 0..layers {
            out.push(Outer {
                q: r.array()?,
                tau: r.array()?,
                wrapped: r.array()?,
            });
        }
        Ok(Bundle {
            header,
            header_bytes,
            layers: out,
            rct: r.rest(),
        })
    }

    /// Write the header, K and the outer layers: everything before the inner layer.
    pub(crate) fn write_outer(header: &VoucherHeader, layers: &[Outer], out: &mut Vec<u8>) {
        header.encode_as(MAGIC, BUNDLE_VERSION, out);
        let k = u16::try_from(layers.len()).expect("at most 512 layers");
        out.extend_from_slice(&k.to_le_bytes());
        for l in layers {
            out.extend_from_slice(&l.q);
            out.extend_from_slice(&l.tau);
            out.extend_from_slice(&l.wrapped);
        }
    }
}

/// The inner layer's AAD: `header ‖ LE16(K) ‖ Q_1 ‖ … ‖ Q_K ‖ account_len u8 ‖ account`.
pub(crate) fn inner_aad(header: &[u8], layers: &[Outer], account: &[u8]) -> Result<Vec<u8>> {
    let len = u8::try_from(account.len()).map_err(|_| Error::InvalidParameter {
        param: Param::Account,
    })?;
    let k = u16::try_from(layers.len()).map_err(|_| Error::OutOfRange {
        field: Field::BundleLayers,
    })?;
    let mut aad = Vec::with_capacity(header.len() + 3 + 32 * layers.len() + account.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&k.to_le_bytes());
    for l in layers {
        aad.extend_from_slice(&l.q);
    }
    aad.push(len);
    aad.extend_from_slice(account);
    Ok(aad)
}

/// The bundle id: `SHA-256("blindmatch-v2 bundle id" ‖ LE16(K) ‖ Q_1 ‖ … ‖ Q_K)`. It takes
/// a voucher's Q's place in the record (idempotency, and the key of the associated data).
pub(crate) fn bundle_id(layers: &[Outer]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(kdf::BUNDLE_ID);
    h.update((layers.len() as u16).to_le_bytes());
    for l in layers {
        h.update(l.q);
    }
    h.finalize().into()
}
