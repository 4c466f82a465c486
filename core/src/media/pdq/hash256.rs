//! The 256-bit hash value: the reference's `Hash256`, its hex text format,
//! bit numbering and Hamming distance.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::media::ImageError;

/// A 256-bit PDQ hash.
///
/// The bytes are the big-endian representation of the 256-bit integer whose
/// bit `k` is the reference's hash bit `k` (bit `k` corresponds to DCT
/// coefficient row `k / 16`, column `k % 16`). Bit `k` therefore lives in
/// byte `31 - k / 8` under mask `1 << (k % 8)`, and [`PdqHash::to_hex`] is
/// simply the bytes in order as lowercase hex — the reference's text format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    /// The all-zero hash (returned by the reference for images too small to
    /// hash).
    pub const ZERO: PdqHash = PdqHash([0u8; 32]);

    /// Formats the hash as 64 lowercase hexadecimal characters, identical to
    /// the reference's `Hash256::format()`.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for &byte in &self.0 {
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        out
    }

    /// Parses 64 hexadecimal characters (either case) in the format produced
    /// by [`PdqHash::to_hex`].
    ///
    /// # Errors
    ///
    /// [`Error::Image`] with [`ImageError::InvalidHex`] if the string is not
    /// exactly 64 ASCII hex digits.
    pub fn from_hex(s: &str) -> Result<PdqHash> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ImageError::InvalidHex.into());
        }
        let mut out = [0u8; 32];
        for (dst, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let &[hi, lo] = pair else {
                return Err(ImageError::InvalidHex.into());
            };
            let hi = hex_value(hi).ok_or(ImageError::InvalidHex)?;
            let lo = hex_value(lo).ok_or(ImageError::InvalidHex)?;
            *dst = (hi << 4) | lo;
        }
        Ok(PdqHash(out))
    }

    /// Number of differing bits between two hashes (0..=256).
    pub fn hamming_distance(&self, other: &PdqHash) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Returns bit `k` of the hash in the reference's numbering (see the
    /// type-level documentation).
    pub fn bit(&self, k: u8) -> bool {
        let k = usize::from(k);
        self.0
            .get(31 - k / 8)
            .is_some_and(|byte| byte & (1u8 << (k % 8)) != 0)
    }

    /// Sets bit `k` (`k < 256`; larger values are masked like the reference's
    /// `setBit`).
    pub(super) fn set_bit(&mut self, k: usize) {
        let k = k & 255;
        if let Some(byte) = self.0.get_mut(31 - k / 8) {
            *byte |= 1u8 << (k % 8);
        }
    }
}

/// Lowercase hex digit for a nibble (`0..=15`).
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({})", self.to_hex())
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for PdqHash {
    type Err = Error;

    /// As [`PdqHash::from_hex`].
    fn from_str(s: &str) -> Result<Self> {
        PdqHash::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let hex = "2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724";
        let hash = PdqHash::from_hex(hex).unwrap();
        assert_eq!(hash.0[0], 0x2d);
        assert_eq!(hash.0[31], 0x24);
        assert_eq!(hash.to_hex(), hex);
        assert_eq!(hash.to_string(), hex);
        assert_eq!(hex.parse::<PdqHash>().unwrap(), hash);
        assert_eq!(PdqHash::from_hex(&hex.to_uppercase()).unwrap(), hash);
        // Bit numbering: bit 0 is the least significant bit of the last byte.
        assert!(!hash.bit(0)); // 0x24 = 0b0010_0100
        assert!(hash.bit(2));
        assert!(hash.bit(5));
        assert!(!hash.bit(255)); // 0x2d top bit clear
        assert!(hash.bit(250)); // 0x2d = 0b0010_1101, bit 2 of top byte

        let invalid = Err(Error::Image(ImageError::InvalidHex));
        assert_eq!(PdqHash::from_hex(&hex[1..]), invalid);
        assert_eq!(PdqHash::from_hex(&format!("{hex}0")), invalid);
        let bad = format!("g{}", &hex[1..]);
        assert_eq!(PdqHash::from_hex(&bad), invalid);
        let non_ascii = format!("é{}", &hex[2..]);
        assert_eq!(PdqHash::from_hex(&non_ascii), invalid);
        assert_eq!(bad.parse::<PdqHash>(), invalid);
        assert_eq!(PdqHash::ZERO.to_hex(), "0".repeat(64));
    }

    #[test]
    fn hamming_distance() {
        let zero = PdqHash::ZERO;
        let ones = PdqHash([0xff; 32]);
        assert_eq!(zero.hamming_distance(&zero), 0);
        assert_eq!(zero.hamming_distance(&ones), 256);
        assert_eq!(ones.hamming_distance(&zero), 256);
        let mut one_bit = PdqHash::ZERO;
        one_bit.set_bit(77);
        assert_eq!(zero.hamming_distance(&one_bit), 1);
        let a =
            PdqHash::from_hex("2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724")
                .unwrap();
        let b =
            PdqHash::from_hex("4d6b12f3ad76cf29c79ca3d2506fa83494196c899edd04de0a26b851fc99b724")
                .unwrap();
        // Cross-check the byte-wise popcount against a bit-by-bit count.
        let by_bits = (0..=255u8).filter(|&k| a.bit(k) != b.bit(k)).count() as u32;
        assert_eq!(a.hamming_distance(&b), by_bits);
        assert_eq!(a.hamming_distance(&b), b.hamming_distance(&a));
        assert!(by_bits > 0 && by_bits < 32);
    }
}
