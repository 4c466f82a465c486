//! The voucher format.
//!
//! ```text
//! voucher = "BV" | version u8 = 2 | epoch u64 | window u64 | id_len u8 | id (64, zero-padded)
//!                                                                    (header, 84 bytes)
//!         | Q (32)
//!         | ct  = τ (32) | rkey ⊕ pad (32)                        (outer layer)
//!         | rct = AEAD_rkey(y ‖ x0 ‖ r_1..r_s ‖ adct)               (inner layer,
//!                                       AAD = header ‖ Q ‖ account_len u8 ‖ account)
//! adct    = AEAD_{k_ad}(LE32(len) ‖ ad ‖ 0-padding to the bucket)
//! ```
//!
//! Size: `308 + 8·(s_max+1) + bucket` bytes, for buckets of 256 B, 1, 4, 16 and 64 KiB.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::encoding::{self, Codec, Reader};
use crate::error::{Error, Field, Object, Param, Result};
use crate::primitives::aead;
use crate::primitives::dhf::Fp;
use curve25519_dalek::Scalar;
use zeroize::Zeroizing;

const MAGIC: &[u8; 2] = b"BV";
/// The voucher format version.
pub const VERSION: u8 = 2;
/// Longest app id.
pub const MAX_ID_LEN: usize = 64;
/// Header length: magic, version, epoch, window, id length, padded id.
pub const HEADER_LEN: usize = 2 + 1 + 8 + 8 + 1 + MAX_ID_LEN;
/// Longest account id bound into a voucher.
pub const MAX_ACCOUNT_LEN: usize = 255;
/// Associated-data buckets: the padded size of the associated data (4 bytes of which hold
/// its length), so the voucher length reveals only the bucket.
pub const AD_BUCKETS: [usize; 5] = [256, 1024, 4096, 16384, 65536];
/// Largest associated data.
pub const MAX_AD_LEN: usize = 65536 - 4;
/// Largest sealed associated data (the largest bucket plus the AEAD's overhead).
pub(crate) const MAX_ADCT_LEN: usize = 65536 + aead::OVERHEAD;

/// Voucher length for a database's s_max and an associated-data bucket.
pub const fn voucher_len(s_max: u32, bucket: usize) -> usize {
    308 + 8 * (s_max as usize + 1) + bucket
}

/// The inner layer's AAD: `header ‖ Q ‖ account_len u8 ‖ account` (the account is not on
/// the wire; the server supplies the account it files the voucher under).
pub(crate) fn inner_aad(header_and_q: &[u8], account: &[u8]) -> Result<Vec<u8>> {
    let len = u8::try_from(account.len()).map_err(|_| Error::InvalidParameter {
        param: Param::Account,
    })?;
    Ok([header_and_q, &[len], account].concat())
}

/// The smallest bucket that holds `ad_len` bytes of associated data.
pub(crate) fn bucket_for(ad_len: usize) -> Result<usize> {
    AD_BUCKETS
        .into_iter()
        .find(|b| ad_len + 4 <= *b)
        .ok_or(Error::InvalidParameter {
            param: Param::AssociatedData,
        })
}

/// `LE32(len) ‖ ad ‖ zeros` to the bucket size.
pub(crate) fn pad_ad(ad: &[u8], bucket: usize) -> Zeroizing<Vec<u8>> {
    let mut padded = Zeroizing::new(Vec::with_capacity(bucket));
    let len = u32::try_from(ad.len()).expect("associated data is checked against its bucket");
    padded.extend_from_slice(&len.to_le_bytes());
    padded.extend_from_slice(ad);
    padded.resize(bucket, 0);
    padded
}

/// The associated data inside a padded bucket, or `None` if the length does not fit or the
/// padding is not all zero.
pub(crate) fn unpad_ad(padded: &[u8]) -> Option<Vec<u8>> {
    let (len, rest) = padded.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (ad, padding) = rest.split_at_checked(len)?;
    padding.iter().all(|b| *b == 0).then(|| ad.to_vec())
}

/// The public fields of a voucher, readable by anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoucherHeader {
    /// The database epoch the voucher was made for.
    pub epoch: u64,
    /// The counting window the voucher was made in.
    pub window: u64,
    /// The app's id for the item.
    pub id: Vec<u8>,
}

impl VoucherHeader {
    /// Read the header (magic, version, epoch, window, id) of a voucher — or of a probe
    /// bundle (`"BB"`, `docs/PROTOCOL.md` §13.3), whose header has the same fields — and check
    /// its padding.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`], or
    /// [`Error::OutOfRange`] for [`Field::VoucherId`].
    pub fn peek(bytes: &[u8]) -> Result<VoucherHeader> {
        if super::bundle::is_bundle(bytes) {
            return super::bundle::peek_bundle(bytes);
        }
        VoucherHeader::read(&mut Reader::new(bytes, Object::Voucher))
    }
}

impl VoucherHeader {
    /// Write the header under another object's magic and version (a bundle's, §13.3).
    pub(crate) fn encode_as(&self, magic: &[u8; 2], version: u8, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(magic);
        out.push(version);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.window.to_le_bytes());
        out.push(u8::try_from(self.id.len()).expect("ids are checked to be at most 64 bytes"));
        out.extend_from_slice(&self.id);
        out.resize(start + HEADER_LEN, 0);
    }

    /// Read a header under another object's magic and version.
    pub(crate) fn read_as(r: &mut Reader<'_>, magic: &[u8; 2], version: u8) -> Result<Self> {
        r.expect_magic(magic)?;
        let v = r.u8()?;
        if v != version {
            return Err(Error::UnsupportedVersion {
                object: r.object(),
                found: v.into(),
            });
        }
        let epoch = r.u64()?;
        let window = r.u64()?;
        let id_len = usize::from(r.u8()?);
        let id_field = r.take(MAX_ID_LEN)?;
        let bad_id = Error::OutOfRange {
            field: Field::VoucherId,
        };
        let (id, padding) = id_field.split_at_checked(id_len).ok_or(bad_id.clone())?;
        if padding.iter().any(|b| *b != 0) {
            return Err(bad_id);
        }
        Ok(VoucherHeader {
            epoch,
            window,
            id: id.to_vec(),
        })
    }
}

impl Codec for VoucherHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_as(MAGIC, VERSION, out);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        VoucherHeader::read_as(r, MAGIC, VERSION)
    }
}

/// The outer layer: Q and the one-time key wrap τ ‖ rkey ⊕ pad.
pub(crate) struct Outer {
    /// enc(Q).
    pub(crate) q: [u8; 32],
    /// τ, the wrap's tag and key commitment.
    pub(crate) tau: [u8; 32],
    /// rkey ⊕ pad.
    pub(crate) wrapped: [u8; 32],
}

/// A parsed voucher: structure only, nothing opened.
pub(crate) struct Voucher<'a> {
    pub(crate) header: VoucherHeader,
    /// The header bytes (bound into the outer layer's derivation).
    pub(crate) header_bytes: &'a [u8],
    /// Bytes 0..HEADER_LEN + 32 (header ‖ Q): the start of the inner layer's AAD.
    pub(crate) header_and_q: &'a [u8],
    pub(crate) outer: Outer,
    pub(crate) rct: &'a [u8],
}

impl Voucher<'_> {
    /// Parse a voucher for a database with `epoch` and `s_max`. The epoch is checked before
    /// the length, so a voucher for another database epoch is reported as such.
    pub(crate) fn parse(bytes: &[u8], epoch: u64, s_max: u32) -> Result<Voucher<'_>> {
        let header = VoucherHeader::peek(bytes)?;
        if header.epoch != epoch {
            return Err(Error::WrongEpoch {
                voucher: header.epoch,
                database: epoch,
            });
        }
        if !AD_BUCKETS
            .iter()
            .any(|b| voucher_len(s_max, *b) == bytes.len())
        {
            return Err(Error::OutOfRange {
                field: Field::VoucherLength,
            });
        }
        let mut r = Reader::new(bytes, Object::Voucher);
        let header_and_q = r.take(HEADER_LEN + 32)?;
        let mut q = Reader::new(header_and_q, Object::Voucher);
        let header_bytes = q.take(HEADER_LEN)?;
        let outer = Outer {
            q: q.array()?,
            tau: r.array()?,
            wrapped: r.array()?,
        };
        Ok(Voucher {
            header,
            header_bytes,
            header_and_q,
            outer,
            rct: r.rest(),
        })
    }

    /// Split any voucher-shaped bytes into (header ‖ Q, outer layer, rct) without checking
    /// the header, epoch or length (for the `hazmat` re-sealing tool).
    #[cfg(feature = "hazmat")]
    pub(crate) fn split(bytes: &[u8]) -> Option<(&[u8], Outer, &[u8])> {
        let mut r = Reader::new(bytes, Object::Voucher);
        let head = r.take(HEADER_LEN + 32).ok()?;
        let q = head.get(HEADER_LEN..)?.try_into().ok()?;
        let outer = Outer {
            q,
            tau: r.array().ok()?,
            wrapped: r.array().ok()?,
        };
        Some((head, outer, r.rest()))
    }

    /// Write the header and the outer layer: everything before the inner layer.
    pub(crate) fn write_outer(header: &VoucherHeader, outer: &Outer, out: &mut Vec<u8>) {
        header.encode(out);
        out.extend_from_slice(&outer.q);
        out.extend_from_slice(&outer.tau);
        out.extend_from_slice(&outer.wrapped);
    }

    /// The header ‖ Q of a voucher being written (what [`Voucher::write_outer`] wrote).
    pub(crate) fn header_and_q_of(written: &[u8]) -> &[u8] {
        written
            .get(..HEADER_LEN + 32)
            .expect("write_outer wrote the header and Q")
    }
}

/// The inner layer's plaintext: `y ‖ LE64(x0) ‖ LE64(r_i)… ‖ adct`.
pub(crate) struct Inner {
    pub(crate) share: Scalar,
    pub(crate) x0: Fp,
    pub(crate) dhf: Vec<Fp>,
    pub(crate) adct: Vec<u8>,
}

impl Inner {
    /// Append the plaintext to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.share.as_bytes());
        out.extend_from_slice(&self.x0.value().to_le_bytes());
        for v in &self.dhf {
            out.extend_from_slice(&v.value().to_le_bytes());
        }
        out.extend_from_slice(&self.adct);
    }

    /// Read a plaintext with `s_max` DHF values; the rest is the adct.
    pub(crate) fn read(plaintext: &[u8], s_max: u32) -> Result<Inner> {
        let mut r = Reader::new(plaintext, Object::VoucherInnerLayer);
        let share = encoding::scalar(r.array()?, true, Field::Share)?;
        let x0 = read_fp(&mut r)?;
        let dhf = (0..s_max)
            .map(|_| read_fp(&mut r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Inner {
            share,
            x0,
            dhf,
            adct: r.rest().to_vec(),
        })
    }
}

/// An F_p element: a canonical LE64 below p.
pub(crate) fn read_fp(r: &mut Reader<'_>) -> Result<Fp> {
    Fp::new(r.u64()?).ok_or(Error::OutOfRange {
        field: Field::DhfValue,
    })
}

impl Drop for Inner {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.share.zeroize();
        self.x0.zeroize();
        self.dhf.zeroize();
    }
}
