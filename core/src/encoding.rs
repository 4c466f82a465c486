//! Bounds-checked little-endian reading for every decoder.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};

/// A cursor over untrusted bytes; every read is checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Truncated { what: self.what });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn expect_magic(&mut self, magic: &[u8]) -> Result<()> {
        match self.take(magic.len()) {
            Ok(m) if m == magic => Ok(()),
            _ => Err(Error::BadMagic { what: self.what }),
        }
    }

    /// Magic bytes followed by a LE16 format version that must equal `version`.
    pub(crate) fn expect_header(&mut self, magic: &[u8], version: u16) -> Result<()> {
        self.expect_magic(magic)?;
        let found = self.u16()?;
        if found != version {
            return Err(Error::UnsupportedVersion {
                what: self.what,
                found,
            });
        }
        Ok(())
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what: self.what,
                extra: self.buf.len(),
            })
        }
    }
}

/// Decode a canonical, non-identity ristretto255 point.
pub(crate) fn point(
    bytes: &[u8; 32],
    what: &'static str,
) -> Result<curve25519_dalek::RistrettoPoint> {
    use curve25519_dalek::traits::IsIdentity;
    let p = curve25519_dalek::ristretto::CompressedRistretto(*bytes)
        .decompress()
        .ok_or(Error::InvalidPoint { what })?;
    if p.is_identity() {
        return Err(Error::InvalidPoint { what });
    }
    Ok(p)
}

/// Decode a canonical scalar (zero allowed only if `allow_zero`).
pub(crate) fn scalar(
    bytes: [u8; 32],
    allow_zero: bool,
    what: &'static str,
) -> Result<curve25519_dalek::Scalar> {
    let s: Option<curve25519_dalek::Scalar> =
        curve25519_dalek::Scalar::from_canonical_bytes(bytes).into();
    match s {
        Some(s) if allow_zero || s != curve25519_dalek::Scalar::ZERO => Ok(s),
        _ => Err(Error::InvalidScalar { what }),
    }
}
