//! `blindmatch eval-hash`: how each hasher holds up under common image edits.
//!
//! Every PNG/JPEG image in a folder is edited eight ways (JPEG re-encode at quality 90 and 50,
//! 50% resize, 5% crop, 3° and 90° rotation, mirror, grayscale). The exact hashes (SHA-256,
//! SHA-1, MD5) are taken of the edited image's encoded file bytes (JPEG for the JPEG edits, PNG
//! otherwise; the original's own file bytes for the original); PDQ of its decoded RGB pixels.
//! Reported per edit: the share of images whose hash equals the original's, for PDQ also the
//! share within Hamming distance 31, and overall the smallest PDQ distance between two distinct
//! originals (the collision margin) and the originals' PDQ quality.

use crate::fail::{Context, Fail, Result};
use crate::files;
use blindmatch_core::media::ExactKind;
use blindmatch_core::media::{self, pdq};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::{self, FilterType};
use image::{ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// PDQ Hamming distance at or below which two hashes are taken to be the same image.
pub const PDQ_MATCH_DISTANCE: u32 = 31;

/// The exact hashes, taken of file bytes.
const EXACT: [ExactKind; 3] = [ExactKind::Sha256, ExactKind::Sha1, ExactKind::Md5];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    None,
    Jpeg90,
    Jpeg50,
    Resize50,
    Crop5,
    Rotate3,
    Rotate90,
    Mirror,
    Grayscale,
}

impl Edit {
    const ALL: [Edit; 9] = [
        Edit::None,
        Edit::Jpeg90,
        Edit::Jpeg50,
        Edit::Resize50,
        Edit::Crop5,
        Edit::Rotate3,
        Edit::Rotate90,
        Edit::Mirror,
        Edit::Grayscale,
    ];

    fn name(self) -> &'static str {
        match self {
            Edit::None => "none",
            Edit::Jpeg90 => "jpeg-q90",
            Edit::Jpeg50 => "jpeg-q50",
            Edit::Resize50 => "resize-50%",
            Edit::Crop5 => "crop-5%",
            Edit::Rotate3 => "rotate-3deg",
            Edit::Rotate90 => "rotate-90deg",
            Edit::Mirror => "mirror",
            Edit::Grayscale => "grayscale",
        }
    }

    /// The edited image and its encoded file bytes.
    fn apply(
        self,
        img: &RgbImage,
        original_bytes: &[u8],
    ) -> image::ImageResult<(RgbImage, Vec<u8>)> {
        let png = |img: RgbImage| -> image::ImageResult<(RgbImage, Vec<u8>)> {
            let bytes = encode_png(&img)?;
            Ok((img, bytes))
        };
        match self {
            Edit::None => Ok((img.clone(), original_bytes.to_vec())),
            Edit::Jpeg90 => jpeg_roundtrip(img, 90),
            Edit::Jpeg50 => jpeg_roundtrip(img, 50),
            Edit::Resize50 => png(imageops::resize(
                img,
                (img.width() / 2).max(1),
                (img.height() / 2).max(1),
                FilterType::Triangle,
            )),
            Edit::Crop5 => {
                let (w, h) = img.dimensions();
                // 2.5% off each side; never crop an image away entirely.
                let dx = ((f64::from(w) * 0.025).round() as u32).min(w.saturating_sub(1) / 2);
                let dy = ((f64::from(h) * 0.025).round() as u32).min(h.saturating_sub(1) / 2);
                png(imageops::crop_imm(img, dx, dy, w - 2 * dx, h - 2 * dy).to_image())
            }
            Edit::Rotate3 => png(rotate_bilinear(img, 3.0)),
            Edit::Rotate90 => png(imageops::rotate90(img)),
            Edit::Mirror => png(imageops::flip_horizontal(img)),
            Edit::Grayscale => {
                let luma = imageops::grayscale(img);
                png(image::DynamicImage::ImageLuma8(luma).to_rgb8())
            }
        }
    }
}

fn encode_png(img: &RgbImage) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Encode as JPEG at `quality` and decode it back.
pub(crate) fn jpeg_roundtrip(
    img: &RgbImage,
    quality: u8,
) -> image::ImageResult<(RgbImage, Vec<u8>)> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    )?;
    let back = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)?.to_rgb8();
    Ok((back, bytes))
}

/// Rotate by `degrees` (counter-clockwise as displayed) about the centre, bilinear, on a canvas
/// of the same size; what falls outside the source is black.
fn rotate_bilinear(img: &RgbImage, degrees: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let cx = (f64::from(w) - 1.0) / 2.0;
    let cy = (f64::from(h) - 1.0) / 2.0;
    // Source pixel, black outside the image.
    let at = |x: i64, y: i64| -> [f64; 3] {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            return [0.0; 3];
        }
        let p = img.get_pixel(x as u32, y as u32).0;
        [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
    };
    RgbImage::from_fn(w, h, |x, y| {
        // Inverse map: the destination pixel, rotated back, lands here in the source
        // (y points down, so a counter-clockwise turn on screen is a clockwise one in maths).
        let dx = f64::from(x) - cx;
        let dy = f64::from(y) - cy;
        let sx = cos * dx - sin * dy + cx;
        let sy = sin * dx + cos * dy + cy;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let (p00, p10, p01, p11) = (
            at(x0, y0),
            at(x0 + 1, y0),
            at(x0, y0 + 1),
            at(x0 + 1, y0 + 1),
        );
        let mut out = [0u8; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let top = p00[c] * (1.0 - fx) + p10[c] * fx;
            let bottom = p01[c] * (1.0 - fx) + p11[c] * fx;
            *o = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        Rgb(out)
    })
}

/// What one edit did to one image.
struct EditResult {
    exact: [bool; 3],
    pdq_distance: u32,
    dihedral_distance: u32,
    quality: u32,
}

struct ImageResult {
    name: String,
    width: u32,
    height: u32,
    sha256: Vec<u8>,
    pdq: pdq::PdqHash,
    quality: u32,
    edits: Vec<EditResult>,
}

fn pdq_of(img: &RgbImage, path: &Path) -> Result<pdq::PdqOutput> {
    pdq::pdq_hash(
        img.as_raw(),
        img.width(),
        img.height(),
        pdq::PixelFormat::Rgb8,
    )
    .at(path)
}

fn exact_hashes(bytes: &[u8], path: &Path) -> Result<[Vec<u8>; 3]> {
    let h = |k: ExactKind| -> Result<Vec<u8>> {
        Ok(media::hash_bytes(k, bytes).at(path)?.as_bytes().to_vec())
    };
    Ok([h(EXACT[0])?, h(EXACT[1])?, h(EXACT[2])?])
}

fn evaluate_image(path: &Path) -> Result<ImageResult> {
    let bytes = files::read(path)?;
    let img = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Fail::file(path, e))?
        .decode()
        .map_err(|e| Fail::at(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    let original = pdq_of(&img, path)?;
    let dihedral = pdq::pdq_hash_dihedral(
        img.as_raw(),
        img.width(),
        img.height(),
        pdq::PixelFormat::Rgb8,
    )
    .at(path)?;
    let exact = exact_hashes(&bytes, path)?;
    let edits = Edit::ALL
        .iter()
        .map(|&edit| {
            let (edited, encoded) = edit
                .apply(&img, &bytes)
                .map_err(|e| Fail::at(path, format!("{}: {e}", edit.name())))?;
            let hashes = exact_hashes(&encoded, path)?;
            let out = pdq_of(&edited, path)?;
            Ok(EditResult {
                exact: [0, 1, 2].map(|i| hashes[i] == exact[i]),
                pdq_distance: out.hash.hamming_distance(&original.hash),
                dihedral_distance: dihedral
                    .hashes
                    .iter()
                    .map(|h| h.hamming_distance(&out.hash))
                    .min()
                    .unwrap_or(256),
                quality: out.quality,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(ImageResult {
        name,
        width: img.width(),
        height: img.height(),
        sha256: exact[0].clone(),
        pdq: original.hash,
        quality: original.quality,
        edits,
    })
}

/// The PNG and JPEG files directly in `dir`, sorted; notes the others on stderr.
pub(crate) fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Fail::file(dir, e))? {
        let path = entry.map_err(|e| Fail::file(dir, e))?.path();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let is_image = matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"));
        if path.is_dir() {
            eprintln!("{}: skipped (a folder; not recursive)", path.display());
        } else if is_image {
            images.push(path);
        } else {
            eprintln!("{}: skipped (not .png, .jpg or .jpeg)", path.display());
        }
    }
    if images.is_empty() {
        return Err(Fail::at(dir, "no PNG or JPEG images in this folder"));
    }
    images.sort();
    Ok(images)
}

/// One row of the report.
struct Row {
    edit: Edit,
    exact_pct: [f64; 3],
    any_exact_pct: f64,
    pdq_exact_pct: f64,
    pdq_within_pct: f64,
    pdq_dihedral_within_pct: f64,
    pdq_mean_distance: f64,
    pdq_max_distance: u32,
    pdq_mean_quality: f64,
}

fn pct(n: usize, total: usize) -> f64 {
    100.0 * n as f64 / total.max(1) as f64
}

fn summarize(results: &[ImageResult]) -> Vec<Row> {
    let n = results.len();
    Edit::ALL
        .iter()
        .enumerate()
        .map(|(e, &edit)| {
            let rs: Vec<&EditResult> = results.iter().map(|r| &r.edits[e]).collect();
            let count = |f: &dyn Fn(&EditResult) -> bool| rs.iter().filter(|r| f(r)).count();
            Row {
                edit,
                exact_pct: [0, 1, 2].map(|i| pct(count(&|r| r.exact[i]), n)),
                any_exact_pct: pct(count(&|r| r.exact.iter().any(|&x| x)), n),
                pdq_exact_pct: pct(count(&|r| r.pdq_distance == 0), n),
                pdq_within_pct: pct(count(&|r| r.pdq_distance <= PDQ_MATCH_DISTANCE), n),
                pdq_dihedral_within_pct: pct(
                    count(&|r| r.dihedral_distance <= PDQ_MATCH_DISTANCE),
                    n,
                ),
                pdq_mean_distance: rs.iter().map(|r| f64::from(r.pdq_distance)).sum::<f64>()
                    / n.max(1) as f64,
                pdq_max_distance: rs.iter().map(|r| r.pdq_distance).max().unwrap_or(0),
                pdq_mean_quality: rs.iter().map(|r| f64::from(r.quality)).sum::<f64>()
                    / n.max(1) as f64,
            }
        })
        .collect()
}

/// The closest pair of distinct originals (different SHA-256) by PDQ distance.
fn collision_margin(results: &[ImageResult]) -> Option<(u32, &str, &str)> {
    let mut best: Option<(u32, &str, &str)> = None;
    for (i, a) in results.iter().enumerate() {
        for b in &results[i + 1..] {
            if a.sha256 == b.sha256 {
                continue;
            }
            let d = a.pdq.hamming_distance(&b.pdq);
            if best.is_none_or(|(bd, _, _)| d < bd) {
                best = Some((d, &a.name, &b.name));
            }
        }
    }
    best
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A grouped bar chart: per edit, "exact (any cryptographic hash)" and "PDQ ≤ 31".
const LEFT: f64 = 70.0;
const TOP: f64 = 60.0;
const PLOT_H: f64 = 300.0;
const GROUP_W: f64 = 84.0;
const BAR_W: f64 = 28.0;
const COLORS: [&str; 2] = ["#c0504d", "#4f81bd"];
const LEGEND: [&str; 2] = ["exact (any cryptographic hash)", "PDQ \u{2264} 31"];

fn chart_svg(rows: &[Row], images: usize) -> String {
    let plot_w = GROUP_W * rows.len() as f64;
    let width = LEFT + plot_w + 30.0;
    let height = TOP + PLOT_H + 90.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Hash robustness under common edits ({images} image{})</text>"#,
        width / 2.0,
        if images == 1 { "" } else { "s" }
    );
    chart_axes(&mut s, plot_w);
    chart_bars(&mut s, rows);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">edit applied to each image</text>"#,
        LEFT + plot_w / 2.0,
        TOP + PLOT_H + 50.0
    );
    s.push_str("</svg>\n");
    s
}

fn chart_y(p: f64) -> f64 {
    TOP + PLOT_H * (1.0 - p / 100.0)
}

/// The legend, the grid and the y axis.
fn chart_axes(s: &mut String, plot_w: f64) {
    let y = chart_y;
    let mut lx = LEFT;
    for (label, color) in LEGEND.iter().zip(COLORS) {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="36" width="12" height="12" fill="{color}"/><text x="{}" y="46">{}</text>"#,
            lx + 16.0,
            xml_escape(label)
        );
        lx += 16.0 + 8.0 * label.chars().count() as f64 + 20.0;
    }
    // Grid and y axis.
    for p in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/><text x="{2}" y="{3}" text-anchor="end">{p}</text>"##,
            y(p),
            LEFT + plot_w,
            LEFT - 6.0,
            y(p) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{0}" stroke="black"/><line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="black"/>"#,
        TOP + PLOT_H,
        LEFT + plot_w
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{0}" text-anchor="middle" transform="rotate(-90 20 {0})">images still matching the original (%)</text>"#,
        TOP + PLOT_H / 2.0
    );
}

/// One group of bars per edit.
fn chart_bars(s: &mut String, rows: &[Row]) {
    let y = chart_y;
    for (i, row) in rows.iter().enumerate() {
        let gx = LEFT + GROUP_W * i as f64;
        let bars = [row.any_exact_pct, row.pdq_within_pct];
        for (j, (&v, color)) in bars.iter().zip(COLORS).enumerate() {
            let x = gx + (GROUP_W - 2.0 * BAR_W) / 2.0 + BAR_W * j as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{:.1}" width="{BAR_W}" height="{:.1}" fill="{color}"><title>{}: {} {v:.0}%</title></rect><text x="{}" y="{:.1}" text-anchor="middle" font-size="10">{v:.0}</text>"#,
                y(v),
                PLOT_H * v / 100.0,
                xml_escape(row.edit.name()),
                xml_escape(LEGEND[j]),
                x + BAR_W / 2.0,
                y(v) - 3.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            gx + GROUP_W / 2.0,
            TOP + PLOT_H + 18.0,
            xml_escape(row.edit.name())
        );
    }
}

/// PDQ quality over the images: min, mean, max, the gate, how many are below it.
struct QualitySummary {
    min: u32,
    mean: f64,
    max: u32,
    gate: u32,
    below_gate: usize,
}

type Margin<'a> = Option<(u32, &'a str, &'a str)>;

pub fn eval_hash(dir: &Path, chart: &Path, json: bool) -> Result<()> {
    let paths = list_images(dir)?;
    let t = std::time::Instant::now();
    let mut results = paths
        .par_iter()
        .map(|p| evaluate_image(p))
        .collect::<Result<Vec<_>>>()?;
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let rows = summarize(&results);
    let margin = collision_margin(&results);
    let qualities: Vec<u32> = results.iter().map(|r| r.quality).collect();
    let gate = media::DEFAULT_MIN_PDQ_QUALITY;
    let q = QualitySummary {
        min: qualities.iter().copied().min().unwrap_or(0),
        max: qualities.iter().copied().max().unwrap_or(0),
        mean: qualities.iter().map(|&q| f64::from(q)).sum::<f64>() / qualities.len() as f64,
        gate,
        below_gate: qualities.iter().filter(|&&q| q < gate).count(),
    };
    files::write_atomic(chart, chart_svg(&rows, results.len()).as_bytes(), false)?;
    if json {
        return json_report(&rows, &results, &q, margin, chart);
    }
    text_report(&rows, results.len(), &q, margin)?;
    eprintln!(
        "chart written to {} ({:.2} s)",
        chart.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn json_report(
    rows: &[Row],
    results: &[ImageResult],
    q: &QualitySummary,
    margin: Margin<'_>,
    chart: &Path,
) -> Result<()> {
    let edits: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "edit": r.edit.name(),
                "sha256_exact_pct": r.exact_pct[0],
                "sha1_exact_pct": r.exact_pct[1],
                "md5_exact_pct": r.exact_pct[2],
                "pdq_exact_pct": r.pdq_exact_pct,
                "pdq_within_31_pct": r.pdq_within_pct,
                "pdq_dihedral_within_31_pct": r.pdq_dihedral_within_pct,
                "pdq_mean_distance": r.pdq_mean_distance,
                "pdq_max_distance": r.pdq_max_distance,
                "pdq_mean_quality": r.pdq_mean_quality,
            })
        })
        .collect();
    let images: Vec<_> = results.iter().map(image_json).collect();
    let v = serde_json::json!({
        "images": results.len(),
        "pdq_match_distance": PDQ_MATCH_DISTANCE,
        "edits": edits,
        "pdq_quality": {
            "min": q.min, "mean": q.mean, "max": q.max,
            "gate": q.gate, "below_gate": q.below_gate,
        },
        "collision_margin": margin.map(|(d, a, b)| serde_json::json!({"distance": d, "a": a, "b": b})),
        "per_image": images,
        "chart": chart.display().to_string(),
    });
    let mut text = serde_json::to_string_pretty(&v).what("json")?;
    text.push('\n');
    print_out(&text)
}

fn image_json(r: &ImageResult) -> serde_json::Value {
    let per_edit = |f: fn(&EditResult) -> u32| -> serde_json::Map<String, serde_json::Value> {
        Edit::ALL
            .iter()
            .zip(&r.edits)
            .map(|(e, x)| (e.name().to_string(), f(x).into()))
            .collect()
    };
    serde_json::json!({
        "file": r.name,
        "width": r.width,
        "height": r.height,
        "pdq": r.pdq.to_hex(),
        "pdq_quality": r.quality,
        "pdq_distance": per_edit(|x| x.pdq_distance),
        "pdq_dihedral_distance": per_edit(|x| x.dihedral_distance),
    })
}

fn text_report(rows: &[Row], images: usize, q: &QualitySummary, margin: Margin<'_>) -> Result<()> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "edit", "sha256 =", "sha1 =", "md5 =", "pdq =", "pdq ≤31", "pdq mean"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<14} {:>8.0}% {:>8.0}% {:>8.0}% {:>8.0}% {:>8.0}% {:>9.1}",
            r.edit.name(),
            r.exact_pct[0],
            r.exact_pct[1],
            r.exact_pct[2],
            r.pdq_exact_pct,
            r.pdq_within_pct,
            r.pdq_mean_distance
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{images} images; PDQ quality min {} / mean {:.1} / max {} ({} below the gate of {})",
        q.min, q.mean, q.max, q.below_gate, q.gate
    );
    match margin {
        Some((d, a, b)) => writeln!(
            out,
            "collision margin: the closest distinct originals are {a} and {b}, PDQ distance {d} (match threshold {PDQ_MATCH_DISTANCE})"
        ),
        None => writeln!(out, "collision margin: needs at least two distinct images"),
    }
    .ok();
    print_out(&out)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Fail::msg(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 7 + y) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8])
        })
    }

    #[test]
    fn rotation_by_zero_is_identity() {
        let img = sample(33, 20);
        assert_eq!(rotate_bilinear(&img, 0.0), img);
    }

    #[test]
    fn rotation_by_right_angles_matches_exact_rotations() {
        // On a square canvas the quarter turns land on pixel centres: no interpolation.
        let img = sample(21, 21);
        assert_eq!(rotate_bilinear(&img, 90.0), imageops::rotate270(&img));
        assert_eq!(rotate_bilinear(&img, -90.0), imageops::rotate90(&img));
        assert_eq!(rotate_bilinear(&img, 180.0), imageops::rotate180(&img));
    }

    #[test]
    fn small_rotation_keeps_size_and_blackens_corners() {
        let img = RgbImage::from_pixel(200, 100, Rgb([200, 100, 50]));
        let r = rotate_bilinear(&img, 3.0);
        assert_eq!(r.dimensions(), img.dimensions());
        assert_eq!(r.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(r.get_pixel(199, 99).0, [0, 0, 0]);
        assert_eq!(r.get_pixel(100, 50).0, [200, 100, 50]);
    }

    #[test]
    fn crop_takes_two_and_a_half_percent_per_side() {
        let img = sample(400, 200);
        let (edited, bytes) = Edit::Crop5.apply(&img, &[]).unwrap();
        assert_eq!(edited.dimensions(), (380, 190));
        assert_eq!(edited.get_pixel(0, 0), img.get_pixel(10, 5));
        assert!(bytes.starts_with(b"\x89PNG"));
        let (tiny, _) = Edit::Crop5.apply(&sample(1, 1), &[]).unwrap();
        assert_eq!(tiny.dimensions(), (1, 1));
    }

    #[test]
    fn jpeg_edits_are_jpeg_files() {
        let (edited, bytes) = Edit::Jpeg50.apply(&sample(40, 30), &[]).unwrap();
        assert_eq!(edited.dimensions(), (40, 30));
        assert!(bytes.starts_with(&[0xFF, 0xD8]));
    }

    #[test]
    fn svg_names_every_edit_and_escapes() {
        let svg = chart_svg(&[], 0);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(xml_escape("a<&>\""), "a&lt;&amp;&gt;&quot;");
    }
}
