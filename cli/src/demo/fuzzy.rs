//! The demo's second part: near-duplicates. A fuzzy database lists pictures' PDQ hashes as band
//! keys; the device sends re-encoded, resized and grey copies of listed pictures among unrelated
//! ones, one probe bundle per picture, and the server reveals the copies at the threshold.

use super::{ACCOUNT, RATE, S_MAX, THRESHOLD, section};
use crate::fail::{Context, Fail, Result};
use crate::files;
use crate::store::{SqliteStore, Store};
use blindmatch_core::device::*;
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::media::pdq::{HashMargins, PixelFormat, pdq_hash_with_margins};
use blindmatch_core::research::bundle_identity;
use blindmatch_core::server::*;
use blindmatch_core::*;
use rand::{Rng, RngExt};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listed pictures (the device sends an edited copy of each) and unrelated pictures.
const LISTED: usize = 14;
const UNRELATED: usize = 26;
/// Random PDQ hashes listed besides the pictures (a list of realistic size).
const PADDING: usize = 5_000;

/// A picture: a gradient with a few coloured rectangles and a little noise.
fn picture(rng: &mut impl Rng) -> image::RgbImage {
    let (w, h) = (320, 240);
    let base: [u8; 3] = rng.random();
    let mut img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            base[0].wrapping_add((x / 3) as u8),
            base[1].wrapping_add((y / 2) as u8),
            base[2],
        ])
    });
    for _ in 0..6 {
        let (x0, y0) = (rng.random_range(0..w - 40), rng.random_range(0..h - 40));
        let (rw, rh) = (rng.random_range(30..160), rng.random_range(30..120));
        let c: [u8; 3] = rng.random();
        for y in y0..(y0 + rh).min(h) {
            for x in x0..(x0 + rw).min(w) {
                img.put_pixel(x, y, image::Rgb(c));
            }
        }
    }
    for p in img.pixels_mut() {
        let n: i16 = rng.random_range(-6..=6);
        for c in &mut p.0 {
            *c = (i16::from(*c) + n).clamp(0, 255) as u8;
        }
    }
    img
}

/// The edit the device's copy of listed picture `i` went through.
fn edit(i: usize, img: &image::RgbImage) -> Result<(&'static str, image::RgbImage)> {
    Ok(match i % 3 {
        0 => {
            let mut buf = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 70)
                .encode_image(img)
                .what("jpeg")?;
            let copy = image::load_from_memory(&buf).what("jpeg")?.to_rgb8();
            ("jpeg-q70", copy)
        }
        1 => (
            "resize-75%",
            image::imageops::resize(img, 240, 180, image::imageops::FilterType::Triangle),
        ),
        _ => (
            "grayscale",
            image::DynamicImage::ImageLuma8(image::imageops::grayscale(img)).to_rgb8(),
        ),
    })
}

fn margins(img: &image::RgbImage) -> Result<HashMargins> {
    Ok(
        pdq_hash_with_margins(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb8)
            .what("pdq")?
            .original,
    )
}

pub(super) fn run(dir: &Path, server: &ServerSecretKey, public: &ServerPublicKey) -> Result<()> {
    section("near-duplicates: a fuzzy database of pictures");
    let mut rng = rand::rng();
    let originals: Vec<image::RgbImage> =
        (0..LISTED + UNRELATED).map(|_| picture(&mut rng)).collect();
    let mut list: Vec<MediaHash> = Vec::new();
    for img in &originals[..LISTED] {
        list.push(MediaHash::new(HashKind::Pdq, &margins(img)?.hash.0).what("pdq")?);
    }
    for _ in 0..PADDING {
        let b: [u8; 32] = rng.random();
        list.push(MediaHash::new(HashKind::Pdq, &b).what("pdq")?);
    }
    let layout = FuzzyLayout::RECOMMENDED;
    let params = Params::with_rate_range(THRESHOLD, S_MAX, RATE.0, RATE.1).what("parameters")?;
    let opts = BuildOptions {
        params,
        epoch: 1,
        fuzzy: Some(layout),
        ..Default::default()
    };
    let t = Instant::now();
    let bytes = DatabaseBuilder::build(
        server,
        &[SourceList {
            name: "demo-pictures".into(),
            hashes: list,
        }],
        &opts,
    )
    .what("fuzzy database")?;
    let path = dir.join("pictures.bmdb");
    files::write_atomic(&path, &bytes, false)?;
    let db = Arc::new(Database::open(bytes.clone(), public, None).at(&path)?);
    println!(
        "built {} PDQ hashes ({LISTED} pictures + {PADDING} others) as {} band keys (L = {}, b = {}, P = {}) in {:.2} s; file {:.1} MB, format 3",
        LISTED + PADDING,
        db.manifest().entries,
        layout.bands(),
        layout.band_bits(),
        layout.probes(),
        t.elapsed().as_secs_f64(),
        bytes.len() as f64 / 1e6
    );
    let client = Client::new(
        db.clone(),
        &ClientKey::generate(),
        ACCOUNT.as_bytes(),
        &DevicePolicy::default().pin_root(*db.root_hash()),
    )
    .what("device policy")?;
    let now = crate::commands::now_unix();
    let window = client.window_at(now).what("window")?;
    // The device's pictures: an edited copy of every listed picture among unrelated ones,
    // interleaved, half of each in each round (so the first round stays below T = 10).
    let mut copies = Vec::new();
    for (i, original) in originals[..LISTED].iter().enumerate() {
        let (what, copy) = edit(i, original)?;
        copies.push((format!("listed-{i:02}-{what}.jpg"), margins(&copy)?, true));
    }
    let mut others = Vec::new();
    for (i, original) in originals[LISTED..].iter().enumerate() {
        others.push((format!("photo-{i:02}.jpg"), margins(original)?, false));
    }
    let mut sends: Vec<(String, HashMargins, bool)> = Vec::new();
    for half in 0..2 {
        let (c, o) = (
            &copies[half * LISTED / 2..(half + 1) * LISTED / 2],
            &others[half * UNRELATED / 2..(half + 1) * UNRELATED / 2],
        );
        let mut round: Vec<_> = c.iter().chain(o).cloned().collect();
        round.sort_by_key(|(id, _, _)| id.chars().rev().collect::<String>());
        sends.extend(round);
    }
    let store_path = dir.join("pictures.sqlite");
    let mut store: Box<dyn Store> = Box::new(SqliteStore::open(&store_path).at(&store_path)?);
    let opener = Opener::new(server, db.manifest()).what("opener")?;
    let (mut make, mut open) = (Duration::ZERO, Duration::ZERO);
    let mut layers: BTreeMap<u32, usize> = BTreeMap::new();
    let (mut want_real, mut bundle_len) = (Vec::new(), 0);
    let half = sends.len() / 2;
    for (round, range) in [(1, 0..half), (2, half..sends.len())] {
        let mut opened = Vec::new();
        for (id, item, listed) in &sends[range.clone()] {
            let t = Instant::now();
            let b = client
                .bundle(item, id.as_bytes(), format!("sent as {id}").as_bytes(), now)
                .what("bundle")?;
            make += t.elapsed();
            bundle_len = b.len();
            let t = Instant::now();
            let (outcome, n) = opener.open_bundle(&b, ACCOUNT.as_bytes()).what("open")?;
            open += t.elapsed();
            let synthetic = bundle_identity(&client, item, window).is_some_and(|(s, _)| s);
            if let OpenOutcome::Opened(rec) = outcome {
                *layers.entry(n).or_default() += 1;
                if *listed && !synthetic {
                    want_real.push(id.clone());
                }
                opened.push(rec);
            }
        }
        store
            .add(ACCOUNT, &params, &db.context(), &opened, now)
            .at(&store_path)?;
        let loaded = store
            .load(ACCOUNT, window)
            .at(&store_path)?
            .ok_or_else(|| Fail::msg("account missing"))?;
        let outcome = Account::with_records(
            loaded.params,
            window,
            loaded.records.into_iter().map(|s| s.record),
        )
        .what("evaluate")?
        .evaluate();
        println!(
            "round {round}: {} bundles sent, {} opened (copies and synthetic bundles alike)",
            range.len(),
            opened.len()
        );
        match &outcome {
            Outcome::Revealed { real, .. } => {
                let mut got: Vec<String> = real
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.id).into_owned())
                    .collect();
                got.sort();
                let mut want = want_real.clone();
                want.sort();
                println!(
                    "account {ACCOUNT}: threshold reached — {} copies of listed pictures revealed:",
                    got.len()
                );
                for id in &got {
                    println!("  {id}");
                }
                if got != want {
                    return Err(Fail::msg(
                        "demo check failed: the reveal differs from the copies sent as real bundles",
                    ));
                }
            }
            _ if round == 2 && want_real.len() >= THRESHOLD as usize => {
                return Err(Fail::msg(
                    "demo check failed: threshold crossed but nothing revealed",
                ));
            }
            _ => println!("account {ACCOUNT}: below the threshold — nothing is revealed"),
        }
    }
    let n = sends.len() as f64;
    println!(
        "bundle {bundle_len} bytes (K = {} outer layers); making {:.1} ms and opening {:.1} ms per picture (one core)",
        layout.layers(),
        make.as_secs_f64() * 1e3 / n,
        open.as_secs_f64() * 1e3 / n
    );
    println!(
        "layers opened per opened bundle (what the server sees; synthetic bundles draw theirs): {}",
        layers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("account store           {}", store_path.display());
    Ok(())
}
