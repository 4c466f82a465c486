//! On-device media hashing: exact hashes (SHA-256, SHA-1, MD5) of bytes and streams, and the
//! PDQ perceptual hash ([`pdq`]).

pub mod pdq;

use crate::error::{Error, Result};
use crate::hash::{HashKind, MediaHash};
use sha2::Digest;
use std::io::Read;

/// Default PDQ quality gate: hashes of lower quality are not matched.
pub const DEFAULT_MIN_PDQ_QUALITY: u32 = 50;

/// Hash bytes with an exact hash kind (`Pdq` is an error: it needs decoded pixels).
pub fn hash_bytes(kind: HashKind, data: &[u8]) -> Result<MediaHash> {
    hash_reader(kind, data)
}

/// Hash a stream in constant memory (64 KiB buffer).
pub fn hash_reader(kind: HashKind, mut reader: impl Read) -> Result<MediaHash> {
    fn run<D: Digest>(kind: HashKind, reader: &mut dyn Read) -> Result<MediaHash> {
        let mut d = D::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            d.update(&buf[..n]);
        }
        MediaHash::new(kind, &d.finalize())
    }
    match kind {
        HashKind::Sha256 => run::<sha2::Sha256>(kind, &mut reader),
        HashKind::Sha1 => run::<sha1::Sha1>(kind, &mut reader),
        HashKind::Md5 => run::<md5::Md5>(kind, &mut reader),
        HashKind::Pdq => Err(Error::InvalidParameter {
            name: "kind",
            reason: "PDQ hashes decoded pixels; use media::pdq_media_hash".into(),
        }),
    }
}

/// Hash a file with an exact hash kind, streaming.
pub fn hash_file(kind: HashKind, path: impl AsRef<std::path::Path>) -> Result<MediaHash> {
    let f = std::fs::File::open(path)?;
    hash_reader(kind, std::io::BufReader::with_capacity(256 * 1024, f))
}

/// The outcome of perceptual hashing with a quality gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PdqOutcome {
    /// A hash of sufficient quality.
    Hash {
        /// The hash as a typed media hash.
        hash: MediaHash,
        /// Its quality (0–100).
        quality: u32,
    },
    /// The image is too flat or small to hash reliably; it is not matched.
    LowQuality {
        /// Its quality (0–100).
        quality: u32,
    },
}

/// PDQ of a decoded image buffer, with a quality gate.
pub fn pdq_media_hash(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: pdq::PixelFormat,
    min_quality: u32,
) -> Result<PdqOutcome> {
    let out =
        pdq::pdq_hash(pixels, width, height, format).map_err(|e| Error::InvalidParameter {
            name: "image",
            reason: e.to_string(),
        })?;
    if out.quality < min_quality {
        return Ok(PdqOutcome::LowQuality {
            quality: out.quality,
        });
    }
    Ok(PdqOutcome::Hash {
        hash: MediaHash::new(HashKind::Pdq, &out.hash.0)?,
        quality: out.quality,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hash_bytes(HashKind::Md5, b"").unwrap().to_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hash_bytes(HashKind::Sha1, b"abc").unwrap().to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hash_bytes(HashKind::Sha256, b"abc").unwrap().to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hash_bytes(HashKind::Pdq, b"abc").is_err());
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let a = hash_bytes(HashKind::Sha256, &data).unwrap();
        let b = hash_reader(HashKind::Sha256, std::io::Cursor::new(&data)).unwrap();
        assert_eq!(a, b);
    }
}
