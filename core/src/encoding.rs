//! The one cursor every decoder reads with, and the [`Codec`] trait that puts each wire type's
//! `encode` and `read` side by side. All integers are little-endian.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Field, Object, Result};

/// A cursor over untrusted bytes; every read is checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    object: Object,
}

/// A wire type: one `encode` and one `read`, side by side.
pub(crate) trait Codec: Sized {
    /// Append the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Read one value, checking every field.
    fn read(r: &mut Reader<'_>) -> Result<Self>;

    /// Encode into a fresh vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Decode exactly one value from `bytes` (nothing may trail).
    fn decode(bytes: &[u8], object: Object) -> Result<Self> {
        let mut r = Reader::new(bytes, object);
        let v = Self::read(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], object: Object) -> Self {
        Reader { buf, object }
    }

    /// The object being read (for errors raised by callers).
    pub(crate) fn object(&self) -> Object {
        self.object
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Truncated {
                object: self.object,
            });
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

    /// Bytes left to read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let all = self.buf;
        self.buf = &[];
        all
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
            _ => Err(Error::BadMagic {
                object: self.object,
            }),
        }
    }

    /// Magic bytes followed by a LE16 format version that must equal `version`.
    pub(crate) fn expect_header(&mut self, magic: &[u8], version: u16) -> Result<()> {
        self.expect_magic(magic)?;
        let found = self.u16()?;
        if found != version {
            return Err(Error::UnsupportedVersion {
                object: self.object,
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
                object: self.object,
                extra: self.buf.len(),
            })
        }
    }
}

/// Decode a canonical, non-identity ristretto255 point.
pub(crate) fn point(bytes: &[u8; 32], field: Field) -> Result<curve25519_dalek::RistrettoPoint> {
    use curve25519_dalek::traits::IsIdentity;
    let p = curve25519_dalek::ristretto::CompressedRistretto(*bytes)
        .decompress()
        .ok_or(Error::InvalidPoint { field })?;
    if p.is_identity() {
        return Err(Error::InvalidPoint { field });
    }
    Ok(p)
}

/// Decode a canonical scalar (zero allowed only if `allow_zero`).
pub(crate) fn scalar(
    bytes: [u8; 32],
    allow_zero: bool,
    field: Field,
) -> Result<curve25519_dalek::Scalar> {
    let s: Option<curve25519_dalek::Scalar> =
        curve25519_dalek::Scalar::from_canonical_bytes(bytes).into();
    match s {
        Some(s) if allow_zero || s != curve25519_dalek::Scalar::ZERO => Ok(s),
        _ => Err(Error::InvalidScalar { field }),
    }
}
