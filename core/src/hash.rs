//! Typed media hashes: a hash is a (kind, bytes) pair, and the kind is bound into every
//! derivation so that hashes of different kinds never collide.

use crate::error::{Error, HashProblem, Result};
use core::fmt;

/// The kinds of media hash a database can list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HashKind {
    /// SHA-256 of the file bytes (32 bytes).
    Sha256 = 1,
    /// SHA-1 of the file bytes (20 bytes).
    Sha1 = 2,
    /// MD5 of the file bytes (16 bytes).
    Md5 = 3,
    /// Meta's PDQ perceptual hash (256 bits), matched exactly.
    Pdq = 4,
}

impl HashKind {
    /// Every kind, in wire-id order.
    pub const ALL: [HashKind; 4] = [
        HashKind::Sha256,
        HashKind::Sha1,
        HashKind::Md5,
        HashKind::Pdq,
    ];

    /// Length in bytes of a hash of this kind.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(self) -> usize {
        match self {
            HashKind::Sha256 | HashKind::Pdq => 32,
            HashKind::Sha1 => 20,
            HashKind::Md5 => 16,
        }
    }

    /// The lower-case name used in hash lists, CLIs and docs.
    pub const fn name(self) -> &'static str {
        match self {
            HashKind::Sha256 => "sha256",
            HashKind::Sha1 => "sha1",
            HashKind::Md5 => "md5",
            HashKind::Pdq => "pdq",
        }
    }

    /// The one-byte wire id.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// Look a kind up by wire id.
    pub fn from_id(id: u8) -> Result<Self> {
        HashKind::ALL
            .into_iter()
            .find(|k| k.id() == id)
            .ok_or(Error::InvalidHash {
                problem: HashProblem::UnknownKind,
            })
    }

    /// Look a kind up by name (case-insensitive; `sha-256` style accepted).
    pub fn from_name(name: &str) -> Result<Self> {
        let n = name.trim().to_ascii_lowercase().replace('-', "");
        HashKind::ALL
            .into_iter()
            .find(|k| k.name() == n)
            .ok_or(Error::InvalidHash {
                problem: HashProblem::UnknownKind,
            })
    }
}

impl fmt::Display for HashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for HashKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        HashKind::from_name(s)
    }
}

/// A media hash of a known kind; its length is checked on construction.
///
/// `Debug` does not print the hash bytes (a media hash identifies content a user holds).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaHash {
    kind: HashKind,
    bytes: [u8; 32],
}

impl MediaHash {
    /// Make a typed hash, checking the length for the kind.
    pub fn new(kind: HashKind, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != kind.len() {
            return Err(Error::InvalidHash {
                problem: HashProblem::WrongLength,
            });
        }
        let mut b = [0u8; 32];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(MediaHash { kind, bytes: b })
    }

    /// Parse hex (upper or lower case) as a hash of `kind`.
    pub fn from_hex(kind: HashKind, text: &str) -> Result<Self> {
        let raw = hex::decode(text.trim()).map_err(|_| Error::InvalidHash {
            problem: HashProblem::NotHex,
        })?;
        MediaHash::new(kind, &raw)
    }

    /// Parse `kind:hex`.
    pub fn from_typed_hex(text: &str) -> Result<Self> {
        let (k, h) = text.split_once(':').ok_or(Error::InvalidHash {
            problem: HashProblem::NotTyped,
        })?;
        MediaHash::from_hex(HashKind::from_name(k)?, h)
    }

    /// The kind.
    pub fn kind(&self) -> HashKind {
        self.kind
    }

    /// The hash bytes (length = `kind().len()`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.kind.len()]
    }

    /// Lower-case hex of the bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// The canonical encoding bound into every derivation: `kind id ‖ length ‖ bytes`.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(2 + self.kind.len());
        v.push(self.kind.id());
        v.push(self.kind.len() as u8);
        v.extend_from_slice(self.as_bytes());
        v
    }
}

impl fmt::Debug for MediaHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaHash({}, ..)", self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_enforced() {
        assert!(MediaHash::new(HashKind::Sha256, &[0; 31]).is_err());
        assert!(MediaHash::new(HashKind::Md5, &[0; 32]).is_err());
        assert!(MediaHash::new(HashKind::Sha1, &[0; 20]).is_ok());
    }

    #[test]
    fn kinds_are_bound_into_the_encoding() {
        let a = MediaHash::new(HashKind::Sha256, &[7; 32]).unwrap();
        let b = MediaHash::new(HashKind::Pdq, &[7; 32]).unwrap();
        assert_ne!(a.encode(), b.encode());
        assert!(!format!("{a:?}").contains("07"));
    }

    #[test]
    fn typed_hex_round_trip() {
        let h = MediaHash::from_typed_hex("md5:00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(h.kind(), HashKind::Md5);
        assert_eq!(h.to_hex(), "00112233445566778899aabbccddeeff");
        assert!(MediaHash::from_typed_hex("md5:0011").is_err());
        assert!(MediaHash::from_typed_hex("blake3:00").is_err());
    }
}
