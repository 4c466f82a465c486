//! What the server keeps per opened voucher, valid once decoded: a canonical share, x0 and
//! DHF values below p, an id of at most 64 bytes.
//!
//! Storage encoding: `BMOR ‖ v2 ‖ window u64 ‖ id_len u8 ‖ id ‖ Q ‖ x0 u64 ‖ y ‖ s u16 ‖
//! r_i u64… ‖ adct_len u32 ‖ adct`.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::encoding::{self, Codec, Reader};
use crate::error::{Error, Field, Object, Result};
use crate::params::MAX_SMAX;
use crate::primitives::dhf::Fp;
use crate::wire::voucher::{MAX_ADCT_LEN, MAX_ID_LEN, read_fp};
use curve25519_dalek::Scalar;

const RECORD_MAGIC: &[u8; 4] = b"BMOR";
const RECORD_VERSION: u8 = 2;

/// An opened voucher: what the server keeps per account. Fields are private and valid by
/// construction; decode stored records with [`OpenedVoucher::from_bytes`].
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedVoucher {
    window: u64,
    id: Vec<u8>,
    q: [u8; 32],
    x0: Fp,
    share: Scalar,
    dhf: Vec<Fp>,
    adct: Vec<u8>,
}

impl core::fmt::Debug for OpenedVoucher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedVoucher")
            .field("id_len", &self.id.len())
            .finish_non_exhaustive()
    }
}

impl OpenedVoucher {
    pub(crate) fn new(
        id: Vec<u8>,
        window: u64,
        q: [u8; 32],
        x0: Fp,
        share: Scalar,
        dhf: Vec<Fp>,
        adct: Vec<u8>,
    ) -> Self {
        OpenedVoucher {
            window,
            id,
            q,
            x0,
            share,
            dhf,
            adct,
        }
    }

    /// The counting window the voucher was made in.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The app's id.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The voucher's Q (unique per voucher; keys the associated-data encryption).
    pub fn q(&self) -> &[u8; 32] {
        &self.q
    }

    /// The DHF input x0 (the share abscissa is derived from it), as its canonical value.
    pub fn x0(&self) -> u64 {
        self.x0.value()
    }

    /// Build a record from its parts, checking each as the decoder does (an id of at most 64
    /// bytes, a canonical share, x0 and DHF values below p, at most 1024 DHF values, an adct
    /// no longer than the largest bucket). For simulations and tools that make records.
    ///
    /// # Errors
    /// As [`OpenedVoucher::from_bytes`].
    pub fn from_parts(
        window: u64,
        id: &[u8],
        q: [u8; 32],
        x0: u64,
        share: [u8; 32],
        dhf: &[u64],
        adct: &[u8],
    ) -> Result<OpenedVoucher> {
        let fp = |v: u64| {
            Fp::new(v).ok_or(Error::OutOfRange {
                field: Field::DhfValue,
            })
        };
        if id.len() > MAX_ID_LEN {
            return Err(Error::OutOfRange {
                field: Field::VoucherId,
            });
        }
        if dhf.len() > MAX_SMAX as usize {
            return Err(Error::OutOfRange {
                field: Field::DhfCount,
            });
        }
        if adct.len() > MAX_ADCT_LEN {
            return Err(Error::OutOfRange {
                field: Field::AdLength,
            });
        }
        Ok(OpenedVoucher {
            window,
            id: id.to_vec(),
            q,
            x0: fp(x0)?,
            share: encoding::scalar(share, true, Field::Share)?,
            dhf: dhf.iter().map(|v| fp(*v)).collect::<Result<_>>()?,
            adct: adct.to_vec(),
        })
    }

    /// The Shamir share y, encoded.
    pub fn share_bytes(&self) -> [u8; 32] {
        self.share.to_bytes()
    }

    /// The DHF values r_1..r_s.
    pub fn dhf_values(&self) -> Vec<u64> {
        self.dhf.iter().map(|v| v.value()).collect()
    }

    /// The sealed, padded associated data.
    pub fn adct_bytes(&self) -> &[u8] {
        &self.adct
    }

    pub(crate) fn x0_fp(&self) -> Fp {
        self.x0
    }

    pub(crate) fn share(&self) -> &Scalar {
        &self.share
    }

    pub(crate) fn dhf(&self) -> &[Fp] {
        &self.dhf
    }

    pub(crate) fn adct(&self) -> &[u8] {
        &self.adct
    }

    /// The number of DHF values (s_max of the database it was opened under).
    pub fn dhf_len(&self) -> usize {
        self.dhf.len()
    }

    /// The storage encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_vec()
    }

    /// Decode a stored record, checking every field.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`]; [`Error::OutOfRange`] for an id over 64 bytes, more than
    /// 1024 DHF values, an adct over the largest bucket, or an F_p value not below p;
    /// [`Error::InvalidScalar`] for a non-canonical share.
    pub fn from_bytes(bytes: &[u8]) -> Result<OpenedVoucher> {
        OpenedVoucher::decode(bytes, Object::OpenedRecord)
    }
}

impl Codec for OpenedVoucher {
    fn encode(&self, v: &mut Vec<u8>) {
        v.reserve(90 + self.id.len() + 8 * self.dhf.len() + self.adct.len());
        v.extend_from_slice(RECORD_MAGIC);
        v.push(RECORD_VERSION);
        v.extend_from_slice(&self.window.to_le_bytes());
        v.push(u8::try_from(self.id.len()).expect("ids are at most 64 bytes"));
        v.extend_from_slice(&self.id);
        v.extend_from_slice(&self.q);
        v.extend_from_slice(&self.x0.value().to_le_bytes());
        v.extend_from_slice(self.share.as_bytes());
        let s = u16::try_from(self.dhf.len()).expect("s_max is at most 1024");
        v.extend_from_slice(&s.to_le_bytes());
        for r in &self.dhf {
            v.extend_from_slice(&r.value().to_le_bytes());
        }
        let al = u32::try_from(self.adct.len()).expect("adct fits the largest bucket");
        v.extend_from_slice(&al.to_le_bytes());
        v.extend_from_slice(&self.adct);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.expect_magic(RECORD_MAGIC)?;
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(Error::UnsupportedVersion {
                object: r.object(),
                found: v.into(),
            });
        }
        let window = r.u64()?;
        let idl = usize::from(r.u8()?);
        if idl > MAX_ID_LEN {
            return Err(Error::OutOfRange {
                field: Field::VoucherId,
            });
        }
        let id = r.take(idl)?.to_vec();
        let q = r.array()?;
        let x0 = read_fp(r)?;
        let share = encoding::scalar(r.array()?, true, Field::Share)?;
        let s = r.u16()?;
        if u32::from(s) > MAX_SMAX {
            return Err(Error::OutOfRange {
                field: Field::DhfCount,
            });
        }
        let dhf = (0..s).map(|_| read_fp(r)).collect::<Result<Vec<_>>>()?;
        let al = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
        if al > MAX_ADCT_LEN {
            return Err(Error::OutOfRange {
                field: Field::AdLength,
            });
        }
        let adct = r.take(al)?.to_vec();
        Ok(OpenedVoucher {
            window,
            id,
            q,
            x0,
            share,
            dhf,
            adct,
        })
    }
}
