//! On-device media hashing: exact hashes (SHA-256, SHA-1, MD5) of bytes and streams, and the
//! PDQ perceptual hash ([`pdq`]).

pub mod pdq;

use crate::error::{Error, Param, Result};
use crate::hash::{HashKind, MediaHash};
use sha2::Digest;
use std::io::Read;

/// Default PDQ quality gate: hashes of lower quality are not matched.
pub const DEFAULT_MIN_PDQ_QUALITY: u32 = 50;

/// Why an image could not be hashed, or a PDQ hash string could not be parsed.
///
/// Carried by [`Error::Image`]. Messages name the dimensions or lengths involved, never pixel
/// or hash data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Width or height is zero or larger than [`pdq::MAX_DIMENSION`], or the pixel count
    /// exceeds [`pdq::MAX_PIXELS`].
    #[error(
        "unsupported image dimensions {width}x{height} (each side must be 1..={max_side} and \
         width*height at most {max_pixels})",
        max_side = pdq::MAX_DIMENSION,
        max_pixels = pdq::MAX_PIXELS
    )]
    BadDimensions {
        /// Width that was passed.
        width: u32,
        /// Height that was passed.
        height: u32,
    },
    /// The pixel buffer does not hold exactly `width * height * bytes_per_pixel` bytes.
    #[error("pixel buffer length mismatch: expected {expected} bytes, got {actual}")]
    BufferLength {
        /// Byte count implied by the dimensions and pixel format.
        expected: usize,
        /// Byte count actually supplied.
        actual: usize,
    },
    /// A PDQ hash string was not exactly 64 hexadecimal characters.
    #[error("invalid PDQ hash string: expected 64 hexadecimal characters")]
    InvalidHex,
}

/// The exact (cryptographic) hash kinds: the ones computed over a file's bytes.
///
/// [`HashKind::Pdq`] is deliberately absent: PDQ hashes decoded pixels (see
/// [`pdq_media_hash`]), so the byte-hashing functions take this type and cannot be asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExactKind {
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-1 (20 bytes).
    Sha1,
    /// MD5 (16 bytes).
    Md5,
}

impl From<ExactKind> for HashKind {
    fn from(kind: ExactKind) -> HashKind {
        match kind {
            ExactKind::Sha256 => HashKind::Sha256,
            ExactKind::Sha1 => HashKind::Sha1,
            ExactKind::Md5 => HashKind::Md5,
        }
    }
}

impl TryFrom<HashKind> for ExactKind {
    type Error = Error;

    /// # Errors
    ///
    /// [`Error::InvalidParameter`] with [`Param::NotExact`] for [`HashKind::Pdq`].
    fn try_from(kind: HashKind) -> Result<ExactKind> {
        match kind {
            HashKind::Sha256 => Ok(ExactKind::Sha256),
            HashKind::Sha1 => Ok(ExactKind::Sha1),
            HashKind::Md5 => Ok(ExactKind::Md5),
            HashKind::Pdq => Err(Error::InvalidParameter {
                param: Param::NotExact,
            }),
        }
    }
}

/// Hash bytes with an exact hash kind.
///
/// # Errors
///
/// None in practice: reading from a slice cannot fail and the digest always has the kind's
/// length. The `Result` mirrors [`hash_reader`].
pub fn hash_bytes(kind: ExactKind, data: &[u8]) -> Result<MediaHash> {
    hash_reader(kind, data)
}

/// Hash a stream in constant memory (64 KiB buffer).
///
/// # Errors
///
/// [`Error::Io`] if reading fails (reads interrupted by a signal are retried).
pub fn hash_reader(kind: ExactKind, mut reader: impl Read) -> Result<MediaHash> {
    fn run<D: Digest>(kind: ExactKind, reader: &mut dyn Read) -> Result<MediaHash> {
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
        MediaHash::new(kind.into(), &d.finalize())
    }
    match kind {
        ExactKind::Sha256 => run::<sha2::Sha256>(kind, &mut reader),
        ExactKind::Sha1 => run::<sha1::Sha1>(kind, &mut reader),
        ExactKind::Md5 => run::<md5::Md5>(kind, &mut reader),
    }
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
///
/// # Errors
///
/// As [`pdq::pdq_hash`]: [`Error::Image`] with [`ImageError::BadDimensions`] or
/// [`ImageError::BufferLength`].
pub fn pdq_media_hash(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: pdq::PixelFormat,
    min_quality: u32,
) -> Result<PdqOutcome> {
    let out = pdq::pdq_hash(pixels, width, height, format)?;
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
            hash_bytes(ExactKind::Md5, b"").unwrap().to_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hash_bytes(ExactKind::Sha1, b"abc").unwrap().to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hash_bytes(ExactKind::Sha256, b"abc").unwrap().to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for kind in [ExactKind::Sha256, ExactKind::Sha1, ExactKind::Md5] {
            assert_eq!(
                hash_bytes(kind, b"abc").unwrap().kind(),
                HashKind::from(kind)
            );
        }
    }

    #[test]
    fn exact_kind_conversions() {
        for kind in [ExactKind::Sha256, ExactKind::Sha1, ExactKind::Md5] {
            assert_eq!(ExactKind::try_from(HashKind::from(kind)), Ok(kind));
        }
        for kind in HashKind::ALL {
            let exact = ExactKind::try_from(kind);
            assert_eq!(exact.is_ok(), kind != HashKind::Pdq, "{kind}");
            if let Ok(exact) = exact {
                assert_eq!(HashKind::from(exact), kind);
            }
        }
        // PDQ is not an exact hash: it needs decoded pixels.
        let err = ExactKind::try_from(HashKind::Pdq).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidParameter {
                param: Param::NotExact
            }
        );
        assert!(
            err.to_string().contains("PDQ is not an exact hash"),
            "{err}"
        );
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let a = hash_bytes(ExactKind::Sha256, &data).unwrap();
        let b = hash_reader(ExactKind::Sha256, std::io::Cursor::new(&data)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_failing_reader_is_an_io_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::PermissionDenied.into())
            }
        }
        assert_eq!(
            hash_reader(ExactKind::Md5, Broken).unwrap_err(),
            Error::Io {
                kind: std::io::ErrorKind::PermissionDenied
            }
        );
    }

    #[test]
    fn pdq_media_hash_propagates_image_errors() {
        let err = pdq_media_hash(&[0u8; 10], 2, 2, pdq::PixelFormat::Rgb8, 0).unwrap_err();
        assert_eq!(
            err,
            Error::Image(ImageError::BufferLength {
                expected: 12,
                actual: 10
            })
        );
        assert_eq!(
            err.to_string(),
            "image: pixel buffer length mismatch: expected 12 bytes, got 10"
        );
        let err = pdq_media_hash(&[], 0, 7, pdq::PixelFormat::Luma8, 0).unwrap_err();
        assert_eq!(
            err,
            Error::Image(ImageError::BadDimensions {
                width: 0,
                height: 7
            })
        );
    }

    #[test]
    fn pdq_media_hash_gates_on_quality() {
        // A flat image has quality 0 and is never matched.
        let flat = [128u8; 100 * 80];
        assert_eq!(
            pdq_media_hash(&flat, 100, 80, pdq::PixelFormat::Luma8, 1).unwrap(),
            PdqOutcome::LowQuality { quality: 0 }
        );
        match pdq_media_hash(&flat, 100, 80, pdq::PixelFormat::Luma8, 0).unwrap() {
            PdqOutcome::Hash { hash, quality } => {
                assert_eq!(hash.kind(), HashKind::Pdq);
                assert_eq!(quality, 0);
            }
            other => panic!("{other:?}"),
        }
    }
}
