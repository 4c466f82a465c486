//! The pictures, their edits, and the PDQ hashes with margins of both (all eight dihedral
//! variants, from one DCT), with an optional on-disk cache so a sweep re-runs without re-hashing.

use super::bands::Bits256;
use crate::fail::{Fail, Result};
use crate::{files, imaging};
use blindmatch_core::media::pdq::{self, PdqHash};
use image::RgbImage;
use image::imageops::{self, FilterType};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// An edit applied to a listed picture to make a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// JPEG re-encode at this quality.
    Jpeg(u8),
    Grayscale,
    /// Resize to this percentage of each side (triangle filter).
    Resize(u8),
    /// Multiply every channel by (100 + N) % and clamp (PIL's `Brightness` enhancement).
    Brightness(i8),
    /// Remove this percentage of each side, half from each edge.
    Crop(u8),
    /// Left and right swapped.
    Mirror,
    /// Light blur (box approximation of a Gaussian, σ = 1 pixel).
    Blur,
    /// A quarter turn.
    Rotate90,
}

/// The default set.
pub const DEFAULT_EDITS: &str = "jpeg-q90,jpeg-q70,jpeg-q50,grayscale,resize-75%,resize-50%,\
resize-25%,brightness+20%,brightness-20%,crop-5%,crop-10%,blur,mirror";

impl Edit {
    pub fn name(self) -> String {
        match self {
            Edit::Jpeg(q) => format!("jpeg-q{q}"),
            Edit::Grayscale => "grayscale".into(),
            Edit::Resize(p) => format!("resize-{p}%"),
            Edit::Brightness(p) => format!("brightness{p:+}%"),
            Edit::Crop(p) => format!("crop-{p}%"),
            Edit::Mirror => "mirror".into(),
            Edit::Blur => "blur".into(),
            Edit::Rotate90 => "rotate-90deg".into(),
        }
    }

    /// The edits issue #14 sets the ≥ 90 % relative-recall goal for: JPEG q ≥ 50, grayscale,
    /// resize 75 %, brightness ±20 %.
    pub fn is_goal(self) -> bool {
        match self {
            Edit::Jpeg(q) => q >= 50,
            Edit::Grayscale => true,
            Edit::Resize(p) => p >= 75,
            Edit::Brightness(p) => p.unsigned_abs() <= 20,
            _ => false,
        }
    }

    pub fn apply(self, img: &RgbImage) -> image::ImageResult<RgbImage> {
        Ok(match self {
            Edit::Jpeg(q) => imaging::jpeg_roundtrip(img, q)?.0,
            Edit::Grayscale => image::DynamicImage::ImageLuma8(imageops::grayscale(img)).to_rgb8(),
            Edit::Resize(p) => {
                let side = |s: u32| (u64::from(s) * u64::from(p) / 100).max(1) as u32;
                imageops::resize(
                    img,
                    side(img.width()),
                    side(img.height()),
                    FilterType::Triangle,
                )
            }
            Edit::Brightness(p) => {
                let factor = 1.0 + f32::from(p) / 100.0;
                let mut out = img.clone();
                for v in out.iter_mut() {
                    *v = (f32::from(*v) * factor).round().clamp(0.0, 255.0) as u8;
                }
                out
            }
            Edit::Crop(p) => {
                let (w, h) = img.dimensions();
                let cut = |s: u32| {
                    ((u64::from(s) * u64::from(p) / 200) as u32).min(s.saturating_sub(1) / 2)
                };
                let (dx, dy) = (cut(w), cut(h));
                imageops::crop_imm(img, dx, dy, w - 2 * dx, h - 2 * dy).to_image()
            }
            Edit::Mirror => imageops::flip_horizontal(img),
            Edit::Blur => imageops::fast_blur(img, 1.0),
            Edit::Rotate90 => imageops::rotate90(img),
        })
    }
}

impl FromStr for Edit {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Edit, String> {
        let s = s.trim();
        let pct = |rest: &str| -> Option<u8> {
            rest.strip_suffix('%')
                .and_then(|n| n.parse().ok())
                .filter(|&n| (1..100).contains(&n))
        };
        let parsed = match s {
            "grayscale" => Some(Edit::Grayscale),
            "mirror" => Some(Edit::Mirror),
            "blur" => Some(Edit::Blur),
            "rotate-90deg" => Some(Edit::Rotate90),
            _ => {
                if let Some(q) = s.strip_prefix("jpeg-q") {
                    q.parse()
                        .ok()
                        .filter(|q| (1..=100).contains(q))
                        .map(Edit::Jpeg)
                } else if let Some(p) = s.strip_prefix("resize-") {
                    pct(p).map(Edit::Resize)
                } else if let Some(p) = s.strip_prefix("crop-") {
                    pct(p).map(Edit::Crop)
                } else if let Some(p) = s.strip_prefix("brightness") {
                    p.strip_suffix('%')
                        .and_then(|n| n.parse::<i8>().ok())
                        .filter(|n| (-99..=99).contains(n) && *n != 0)
                        .map(Edit::Brightness)
                } else {
                    None
                }
            }
        };
        parsed.ok_or_else(|| {
            format!(
                "unknown edit `{s}` (jpeg-qN, grayscale, resize-N%, brightness+N%, \
                 brightness-N%, crop-N%, mirror, blur, rotate-90deg)"
            )
        })
    }
}

/// One hashed image: its quality and its eight dihedral variants (hash and margins).
#[derive(Clone, Debug)]
pub struct Item {
    pub quality: u32,
    pub variants: Vec<Variant>,
}

/// One orientation's hash, as words for fast masking, with its per-bit margins.
#[derive(Clone, Debug)]
pub struct Variant {
    pub bits: Bits256,
    pub margins: Box<[f32; 256]>,
}

impl Item {
    fn hash(img: &RgbImage) -> Item {
        let out = pdq::pdq_hash_dihedral_with_margins(
            img.as_raw(),
            img.width(),
            img.height(),
            pdq::PixelFormat::Rgb8,
        );
        match out {
            Ok(d) => Item {
                quality: d.quality,
                variants: d
                    .variants
                    .iter()
                    .map(|v| Variant {
                        bits: Bits256::from_pdq(&v.hash),
                        margins: Box::new(v.margins),
                    })
                    .collect(),
            },
            // Dimensions beyond PDQ's limits: treat like an unhashable image.
            Err(_) => Item::unhashable(),
        }
    }

    fn unhashable() -> Item {
        Item {
            quality: 0,
            variants: (0..8)
                .map(|_| Variant {
                    bits: Bits256::from_pdq(&PdqHash::ZERO),
                    margins: Box::new([0.0; 256]),
                })
                .collect(),
        }
    }
}

/// A picture: its file name, the original's hashes and one item per edit (in the edit order).
#[derive(Clone, Debug)]
pub struct Picture {
    pub name: String,
    pub original: Item,
    pub edits: Vec<Item>,
}

/// Every decodable picture in `dir` (at most `max` of them, spread evenly over the sorted list),
/// hashed with its edits. Undecodable files are skipped with a note on stderr.
pub fn load(
    dir: &Path,
    edits: &[Edit],
    max: Option<usize>,
    cache: Option<&Path>,
) -> Result<Vec<Picture>> {
    let mut paths = imaging::list_images(dir)?;
    if let Some(max) = max.filter(|&m| m > 0 && m < paths.len()) {
        let n = paths.len();
        paths = (0..max).map(|i| paths[i * n / max].clone()).collect();
    }
    let key = cache_key(&paths, edits)?;
    if let Some(cached) = cache.and_then(|c| read_cache(c, &key, edits.len())) {
        eprintln!(
            "hashes read from {}",
            cache.map_or(String::new(), |c| c.display().to_string())
        );
        return Ok(cached);
    }
    let pictures: Vec<Option<Picture>> = paths.par_iter().map(|p| hash_picture(p, edits)).collect();
    let pictures: Vec<Picture> = pictures.into_iter().flatten().collect();
    if let Some(c) = cache {
        files::write_atomic(c, &encode_cache(&key, &pictures), false)?;
    }
    Ok(pictures)
}

fn hash_picture(path: &Path, edits: &[Edit]) -> Option<Picture> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let img = match image::open(path) {
        Ok(img) => img.to_rgb8(),
        Err(e) => {
            eprintln!("{}: skipped (cannot decode: {e})", path.display());
            return None;
        }
    };
    let original = Item::hash(&img);
    let edits = edits
        .iter()
        .map(|e| match e.apply(&img) {
            Ok(edited) => Item::hash(&edited),
            Err(_) => Item::unhashable(),
        })
        .collect();
    Some(Picture {
        name,
        original,
        edits,
    })
}

/// The cache is valid for the same files (names and sizes) and edits.
fn cache_key(paths: &[PathBuf], edits: &[Edit]) -> Result<String> {
    let mut key = format!("blindmatch eval-fuzzy cache v1\nedits {:?}\n", edits);
    for p in paths {
        let len = std::fs::metadata(p).map_err(|e| Fail::file(p, e))?.len();
        key.push_str(&format!("{}\t{len}\n", p.display()));
    }
    Ok(key)
}

const ITEM_BYTES: usize = 4 + 8 * (32 + 256 * 4);

fn encode_cache(key: &str, pictures: &[Picture]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, key.as_bytes());
    out.extend_from_slice(&(pictures.len() as u64).to_le_bytes());
    for p in pictures {
        put_bytes(&mut out, p.name.as_bytes());
        for item in std::iter::once(&p.original).chain(&p.edits) {
            out.extend_from_slice(&item.quality.to_le_bytes());
            for v in &item.variants {
                for w in v.bits.0 {
                    out.extend_from_slice(&w.to_le_bytes());
                }
                for m in v.margins.iter() {
                    out.extend_from_slice(&m.to_le_bytes());
                }
            }
        }
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over the cache file; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&[u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
}

/// The cached pictures, or `None` when the cache is missing, stale or malformed.
fn read_cache(path: &Path, key: &str, edits: usize) -> Option<Vec<Picture>> {
    let data = std::fs::read(path).ok()?;
    let mut r = Reader(&data);
    if r.bytes()? != key.as_bytes() {
        eprintln!("{}: stale cache, hashing again", path.display());
        return None;
    }
    let count = usize::try_from(r.u64()?).ok()?;
    let mut pictures = Vec::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let name = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        let mut items = (0..=edits)
            .map(|_| read_item(&mut r))
            .collect::<Option<Vec<Item>>>()?;
        let edits = items.split_off(1);
        let original = items.pop()?;
        pictures.push(Picture {
            name,
            original,
            edits,
        });
    }
    r.0.is_empty().then_some(pictures)
}

fn read_item(r: &mut Reader<'_>) -> Option<Item> {
    if r.0.len() < ITEM_BYTES {
        return None;
    }
    let quality = r.u32()?;
    let variants = (0..8)
        .map(|_| {
            let mut words = [0u64; 4];
            for w in &mut words {
                *w = r.u64()?;
            }
            let mut margins = Box::new([0f32; 256]);
            for m in margins.iter_mut() {
                *m = f32::from_bits(r.u32()?);
            }
            Some(Variant {
                bits: Bits256(words),
                margins,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Item { quality, variants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_names_round_trip() {
        for name in DEFAULT_EDITS
            .split(',')
            .chain(["rotate-90deg", "jpeg-q100"])
        {
            let edit: Edit = name.parse().unwrap();
            assert_eq!(edit.name(), name);
        }
        for bad in ["jpeg-q0", "resize-100%", "crop-5", "brightness+0%", "sepia"] {
            assert!(bad.parse::<Edit>().is_err(), "{bad}");
        }
        let goals: Vec<String> = DEFAULT_EDITS
            .split(',')
            .map(|n| n.parse::<Edit>().unwrap())
            .filter(|e| e.is_goal())
            .map(Edit::name)
            .collect();
        assert_eq!(
            goals,
            [
                "jpeg-q90",
                "jpeg-q70",
                "jpeg-q50",
                "grayscale",
                "resize-75%",
                "brightness+20%",
                "brightness-20%"
            ]
        );
    }

    #[test]
    fn edits_change_size_and_pixels_as_named() {
        let img = RgbImage::from_fn(200, 100, |x, y| image::Rgb([x as u8, y as u8, 100]));
        assert_eq!(Edit::Resize(25).apply(&img).unwrap().dimensions(), (50, 25));
        assert_eq!(Edit::Crop(10).apply(&img).unwrap().dimensions(), (180, 90));
        let bright = Edit::Brightness(20).apply(&img).unwrap();
        assert_eq!(bright.get_pixel(100, 50).0, [120, 60, 120]);
        let dark = Edit::Brightness(-20).apply(&img).unwrap();
        assert_eq!(dark.get_pixel(100, 50).0, [80, 40, 80]);
        let mirror = Edit::Mirror.apply(&img).unwrap();
        assert_eq!(mirror.get_pixel(0, 7), img.get_pixel(199, 7));
    }

    #[test]
    fn cache_round_trips_and_refuses_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * y) as u8, x as u8, y as u8]));
        let picture = Picture {
            name: "p.png".into(),
            original: Item::hash(&img),
            edits: vec![Item::hash(&Edit::Mirror.apply(&img).unwrap())],
        };
        let key = "blindmatch eval-fuzzy cache v1\nedits [Mirror]\n";
        std::fs::write(&path, encode_cache(key, std::slice::from_ref(&picture))).unwrap();
        let back = read_cache(&path, key, 1).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name, "p.png");
        assert_eq!(
            back[0].edits[0].variants[3].bits,
            picture.edits[0].variants[3].bits
        );
        assert_eq!(
            back[0].original.variants[0].margins,
            picture.original.variants[0].margins
        );
        assert!(read_cache(&path, "another key", 1).is_none());
        assert!(read_cache(&path, key, 2).is_none());
    }
}
