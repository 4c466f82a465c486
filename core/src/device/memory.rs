//! The optional identity memory of a device on a fuzzy database (`docs/PROTOCOL.md` §13.4):
//! the PDQ hashes of the pictures it sent in the current window and the identity each bundle
//! used. A later picture within PDQ distance 31 of a remembered one reuses that identity, so
//! copies of one picture — a thumbnail and the full picture, a resized re-send — share one
//! column and one real/synthetic coin even when their own MinHash identities differ.
//!
//! Encoding (opaque to apps): `"BMIM" ‖ LE16(1) ‖ root (32) ‖ LE64(window) ‖ LE32(n) ‖
//! n × (PDQ hash (32) ‖ band key (11))`. It holds hashes of pictures the user sent: store it
//! like message data.

use crate::encoding::Reader;
use crate::error::{Error, Field, Object, Result};
use crate::fuzzy::{BAND_KEY_LEN, BAND_KIND_ID, MAX_BANDS};
use crate::media::pdq::PdqHash;
use zeroize::Zeroize;

const MAGIC: &[u8; 4] = b"BMIM";
const VERSION: u16 = 1;
/// Most pictures remembered per window; beyond it new pictures use their own identity.
pub const MEMORY_CAPACITY: usize = 4096;
/// A picture within this PDQ distance of a remembered one reuses its identity (the PDQ
/// reference's match threshold).
pub const MEMORY_RADIUS: u32 = 31;

/// Pictures sent in one window of one database, with the identity each used.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityMemory {
    root: [u8; 32],
    window: u64,
    entries: Vec<([u8; 32], [u8; BAND_KEY_LEN])>,
}

impl core::fmt::Debug for IdentityMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityMemory")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Drop for IdentityMemory {
    fn drop(&mut self) {
        for (h, k) in &mut self.entries {
            h.zeroize();
            k.zeroize();
        }
    }
}

impl Default for IdentityMemory {
    fn default() -> Self {
        IdentityMemory::new()
    }
}

impl IdentityMemory {
    /// An empty memory.
    pub fn new() -> IdentityMemory {
        IdentityMemory {
            root: [0; 32],
            window: u64::MAX,
            entries: Vec::new(),
        }
    }

    /// Pictures remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity for a picture with hash `hash` in window `window` of the database with
    /// `root`: a remembered picture's (the first within [`MEMORY_RADIUS`]) or `own`, which is
    /// then remembered. A memory of another window or database is cleared first.
    pub(crate) fn identity(
        &mut self,
        root: &[u8; 32],
        window: u64,
        hash: &PdqHash,
        own: [u8; BAND_KEY_LEN],
    ) -> [u8; BAND_KEY_LEN] {
        if self.root != *root || self.window != window {
            *self = IdentityMemory {
                root: *root,
                window,
                entries: Vec::new(),
            };
        }
        // Every entry is compared (the memory is the device's own; no early exit anyway).
        let mut found: Option<[u8; BAND_KEY_LEN]> = None;
        for (h, k) in &self.entries {
            if found.is_none() && hash.hamming_distance(&PdqHash(*h)) <= MEMORY_RADIUS {
                found = Some(*k);
            }
        }
        match found {
            Some(k) => k,
            None => {
                if self.entries.len() < MEMORY_CAPACITY {
                    self.entries.push((hash.0, own));
                }
                own
            }
        }
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(50 + self.entries.len() * (32 + BAND_KEY_LEN));
        v.extend_from_slice(MAGIC);
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(&self.root);
        v.extend_from_slice(&self.window.to_le_bytes());
        v.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (h, k) in &self.entries {
            v.extend_from_slice(h);
            v.extend_from_slice(k);
        }
        v
    }

    /// Decode an encoding.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`]; [`Error::OutOfRange`] ([`Field::MemoryEntries`]) for more
    /// than [`MEMORY_CAPACITY`] entries or an entry that is not a band key.
    pub fn from_bytes(bytes: &[u8]) -> Result<IdentityMemory> {
        let mut r = Reader::new(bytes, Object::IdentityMemory);
        r.expect_header(MAGIC, VERSION)?;
        let root = r.array()?;
        let window = r.u64()?;
        let n = r.u32()? as usize;
        let bad = Error::OutOfRange {
            field: Field::MemoryEntries,
        };
        if n > MEMORY_CAPACITY {
            return Err(bad);
        }
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let h: [u8; 32] = r.array()?;
            let k: [u8; BAND_KEY_LEN] = r.array()?;
            if k[0] != BAND_KIND_ID || k[1] != 9 || k[2] >= MAX_BANDS {
                return Err(bad);
            }
            entries.push((h, k));
        }
        r.finish()?;
        Ok(IdentityMemory {
            root,
            window,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_identity_of_a_near_picture_and_forgets_at_a_new_window() {
        let mut m = IdentityMemory::new();
        let a = PdqHash([0x55; 32]);
        let mut near = a;
        near.0[0] ^= 0xFF; // 8 bits away
        let far = PdqHash([0xAA; 32]);
        let (ka, kb, kc) = (
            [5, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            [5, 9, 1, 2, 0, 0, 0, 0, 0, 0, 0],
            [5, 9, 2, 3, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(m.identity(&[1; 32], 4, &a, ka), ka);
        assert_eq!(m.identity(&[1; 32], 4, &near, kb), ka);
        assert_eq!(m.identity(&[1; 32], 4, &far, kc), kc);
        assert_eq!(m.len(), 2);
        let back = IdentityMemory::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        // Another window (or database) starts afresh.
        assert_eq!(m.identity(&[1; 32], 5, &near, kb), kb);
        assert_eq!(m.len(), 1);
        assert_eq!(m.identity(&[2; 32], 5, &a, ka), ka);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn decoding_checks_every_field() {
        let mut m = IdentityMemory::new();
        m.identity(
            &[1; 32],
            0,
            &PdqHash([3; 32]),
            [5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let b = m.to_bytes();
        assert!(matches!(
            IdentityMemory::from_bytes(&b[..b.len() - 1]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            IdentityMemory::from_bytes(&[b.as_slice(), &[0]].concat()),
            Err(Error::TrailingBytes { .. })
        ));
        let mut bad = b.clone();
        let last_key = bad.len() - 11;
        bad[last_key] = 4;
        assert!(matches!(
            IdentityMemory::from_bytes(&bad),
            Err(Error::OutOfRange { .. })
        ));
        let mut many = b.clone();
        many[46..50].copy_from_slice(&(MEMORY_CAPACITY as u32 + 1).to_le_bytes());
        assert!(matches!(
            IdentityMemory::from_bytes(&many),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            IdentityMemory::from_bytes(b"BMDS"),
            Err(Error::BadMagic { .. })
        ));
    }
}
