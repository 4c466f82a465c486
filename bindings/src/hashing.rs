//! Typed media hashes and on-device media hashing: SHA-256, SHA-1 and MD5 of bytes or a file,
//! and PDQ of a decoded RGB, RGBA or luma buffer, or of a PNG or JPEG file's bytes, with a
//! quality gate.

use crate::error::{Result, bad_input, guard};
use blindmatch_core::MediaHash;
use blindmatch_core::media::{self, ExactKind, PdqOutcome};

pub use blindmatch_core::HashKind;
pub use blindmatch_core::media::pdq::PixelFormat;

// Core's own enums, exported as they are (UniFFI remote types): the definitions below are
// checked against core's at compile time and are not emitted.

/// The kinds of media hash a database can list.
#[uniffi::remote(Enum)]
pub enum HashKind {
    /// SHA-256 of the file bytes (32 bytes).
    Sha256,
    /// SHA-1 of the file bytes (20 bytes).
    Sha1,
    /// MD5 of the file bytes (16 bytes).
    Md5,
    /// Meta's PDQ perceptual hash (32 bytes), matched exactly.
    Pdq,
}

/// Pixel layout of a decoded image buffer (tightly packed, row-major, top row first).
#[uniffi::remote(Enum)]
pub enum PixelFormat {
    /// Three bytes per pixel: red, green, blue.
    #[uniffi(name = "Rgb")]
    Rgb8,
    /// Four bytes per pixel: red, green, blue, alpha (alpha is ignored). Android's
    /// `Bitmap.Config.ARGB_8888` copied with `copyPixelsToBuffer` is in this order.
    #[uniffi(name = "Rgba")]
    Rgba8,
    /// One byte per pixel: luminance.
    #[uniffi(name = "Luma")]
    Luma8,
}

/// A media hash and its kind. The length is checked wherever a `TypedHash` is used
/// (`BadInput` if it does not fit the kind).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TypedHash {
    /// The hash kind.
    pub kind: HashKind,
    /// The hash bytes (32 for SHA-256 and PDQ, 20 for SHA-1, 16 for MD5).
    pub bytes: Vec<u8>,
}

impl TypedHash {
    pub(crate) fn to_core(&self) -> Result<MediaHash> {
        Ok(MediaHash::new(self.kind, &self.bytes)?)
    }
}

impl From<&MediaHash> for TypedHash {
    fn from(h: &MediaHash) -> Self {
        TypedHash {
            kind: h.kind(),
            bytes: h.as_bytes().to_vec(),
        }
    }
}

/// The result of PDQ hashing with a quality gate.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PdqResult {
    /// The hash, or `None` when the image's quality is below the gate (too flat or too small
    /// to hash reliably): such an image is not matched, so make no voucher for it.
    pub hash: Option<TypedHash>,
    /// The PDQ quality score, 0 to 100.
    pub quality: u32,
}

/// The default PDQ quality gate (as the PDQ documentation recommends).
#[uniffi::export]
pub fn default_min_pdq_quality() -> u32 {
    media::DEFAULT_MIN_PDQ_QUALITY
}

/// SHA-256 of `data`. Call off the main thread.
#[uniffi::export]
pub fn sha256(data: Vec<u8>) -> Result<TypedHash> {
    hash_bytes(HashKind::Sha256, data)
}

/// SHA-1 of `data`. Call off the main thread.
#[uniffi::export]
pub fn sha1(data: Vec<u8>) -> Result<TypedHash> {
    hash_bytes(HashKind::Sha1, data)
}

/// MD5 of `data`. Call off the main thread.
#[uniffi::export]
pub fn md5(data: Vec<u8>) -> Result<TypedHash> {
    hash_bytes(HashKind::Md5, data)
}

/// Hash `data` with an exact hash kind (`BadInput` for `Pdq`: it needs decoded pixels, see
/// `pdq_hash`). Call off the main thread.
#[uniffi::export]
pub fn hash_bytes(kind: HashKind, data: Vec<u8>) -> Result<TypedHash> {
    guard(|| {
        let hash = media::hash_bytes(ExactKind::try_from(kind)?, &data)?;
        Ok(TypedHash::from(&hash))
    })
}

/// Hash a file with an exact hash kind, streaming it in constant memory (`BadInput` for
/// `Pdq`, `Io` if the file cannot be opened or read). Call off the main thread.
#[uniffi::export]
pub fn hash_file(kind: HashKind, path: String) -> Result<TypedHash> {
    guard(|| {
        let kind = ExactKind::try_from(kind)?;
        // Core hashes any reader (64 KiB at a time) and does no I/O; the file is ours to open.
        let file = std::fs::File::open(path)?;
        Ok(TypedHash::from(&media::hash_reader(kind, file)?))
    })
}

/// PDQ of a decoded image: `pixels` holds exactly `width × height` pixels in `format`.
/// Images below `min_quality` (by default `default_min_pdq_quality()`) yield `hash = None`.
/// Call off the main thread.
///
/// The buffer is copied across the FFI: downscale large images first (PDQ works on a 64×64
/// reduction; the reference tools hash at most 512×512).
#[uniffi::export(default(min_quality = None))]
pub fn pdq_hash(
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    format: PixelFormat,
    min_quality: Option<u32>,
) -> Result<PdqResult> {
    guard(|| {
        let gate = min_quality.unwrap_or(media::DEFAULT_MIN_PDQ_QUALITY);
        Ok(
            match media::pdq_media_hash(&pixels, width, height, format, gate)? {
                PdqOutcome::Hash { hash, quality } => PdqResult {
                    hash: Some(TypedHash::from(&hash)),
                    quality,
                },
                PdqOutcome::LowQuality { quality } => PdqResult {
                    hash: None,
                    quality,
                },
            },
        )
    })
}

/// PDQ of an image file's bytes (PNG or JPEG): decoded to 8-bit RGB (alpha dropped, colour
/// values kept; no EXIF rotation), then hashed as `pdq_hash` hashes an RGB buffer, with the
/// same quality gate. `BadInput` for bytes that are not a PNG or JPEG image, a corrupt or
/// truncated one, or one beyond the decoder's limits (a side over 32768 pixels, or more than
/// 512 MiB to decode). Call off the main thread.
#[uniffi::export(default(min_quality = None))]
pub fn pdq_hash_image(image: Vec<u8>, min_quality: Option<u32>) -> Result<PdqResult> {
    guard(|| {
        let rgb = decode_rgb(&image)?;
        let (width, height) = rgb.dimensions();
        pdq_hash(
            rgb.into_raw(),
            width,
            height,
            PixelFormat::Rgb8,
            min_quality,
        )
    })
}

/// Decode a PNG or JPEG file's bytes to 8-bit RGB, alpha dropped (as `image`'s `to_rgb8`):
/// what `pdq_hash_image` and `VoucherMaker::create_voucher_for_image` hash. Errors are
/// `BadInput` with a fixed reason by category (the decoder's own message is not forwarded).
pub(crate) fn decode_rgb(bytes: &[u8]) -> Result<image::RgbImage> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(media::pdq::MAX_DIMENSION);
    limits.max_image_height = Some(media::pdq::MAX_DIMENSION);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| bad_input("the image could not be read"))?;
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| {
        bad_input(match e {
            image::ImageError::Unsupported(_) => {
                "not a PNG or JPEG image (or an unsupported variant)"
            }
            image::ImageError::Limits(_) => {
                "the image exceeds the decoder's limits (a side over 32768 pixels, or over 512 MiB)"
            }
            image::ImageError::Decoding(_) => {
                "the image could not be decoded (corrupt or truncated)"
            }
            _ => "the image could not be decoded",
        })
    })?;
    Ok(decoded.into_rgb8())
}

/// Parse a hash from hex (upper or lower case) as `kind`.
#[uniffi::export]
pub fn hash_from_hex(kind: HashKind, hex: String) -> Result<TypedHash> {
    guard(|| Ok(TypedHash::from(&MediaHash::from_hex(kind, &hex)?)))
}

/// Parse `kind:hex`, e.g. `sha256:ba78…`.
#[uniffi::export]
pub fn parse_typed_hash(text: String) -> Result<TypedHash> {
    guard(|| Ok(TypedHash::from(&MediaHash::from_typed_hex(&text)?)))
}

/// `kind:hex` of a hash (checks the length for the kind).
#[uniffi::export]
pub fn typed_hash_to_string(hash: TypedHash) -> Result<String> {
    guard(|| {
        let h = hash.to_core()?;
        Ok(format!("{}:{}", h.kind(), h.to_hex()))
    })
}

/// Parse a hash list: one hex hash per line (of `default_kind`), or CSV lines `kind,hash`.
/// `#` starts a comment; blank lines are skipped. A bad line is `BadInput` with its 1-based
/// `line` set; the error names the line, never its content.
#[uniffi::export(default(default_kind = None))]
pub fn parse_hash_list(text: String, default_kind: Option<HashKind>) -> Result<Vec<TypedHash>> {
    guard(|| {
        let hashes = blindmatch_core::parse_hash_list(&text, default_kind)?;
        Ok(hashes.iter().map(TypedHash::from).collect())
    })
}
