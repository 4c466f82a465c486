//! `blindmatch eval-hash` on the four PDQ reference images, through the real binary.

use std::path::Path;
use std::process::{Command, Output};

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/pdq");
const IMAGES: [&str; 4] = ["astronaut.png", "camera.png", "text.png", "rocket.png"];
const EDITS: [&str; 9] = [
    "none",
    "jpeg-q90",
    "jpeg-q50",
    "resize-50%",
    "crop-5%",
    "rotate-3deg",
    "rotate-90deg",
    "mirror",
    "grayscale",
];

fn eval_hash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blindmatch"))
        .arg("eval-hash")
        .args(args)
        .output()
        .expect("binary runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn reference_images() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for name in IMAGES {
        std::fs::copy(Path::new(REFERENCE).join(name), images.join(name)).unwrap();
    }
    // Not an image: skipped with a note, not an error.
    std::fs::write(images.join("notes.txt"), "not an image").unwrap();
    let chart = dir.path().join("chart.svg");

    let o = eval_hash(&[p(&images), "--chart", p(&chart), "--json"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "eval-hash failed: {stderr}");
    assert!(
        stderr.contains("notes.txt"),
        "no note for the skipped file: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    check_summary(&v);
    check_chart(&chart);

    // The written chart is the only file left beside the images: no temporary files.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    // The table names every edit too.
    let o = eval_hash(&[p(&images), "--chart", p(&chart)]);
    assert!(o.status.success());
    let table = String::from_utf8(o.stdout).unwrap();
    for edit in EDITS {
        assert!(
            table.lines().any(|l| l.starts_with(edit)),
            "table lacks {edit}"
        );
    }
}

/// The `--json` summary of the four reference images.
fn check_summary(v: &serde_json::Value) {
    assert_eq!(v["images"], 4);
    let edits = v["edits"].as_array().unwrap();
    let names: Vec<&str> = edits.iter().map(|e| e["edit"].as_str().unwrap()).collect();
    assert_eq!(names, EDITS);
    let row = |name: &str| edits.iter().find(|e| e["edit"] == name).unwrap();
    let num = |name: &str, key: &str| {
        row(name)[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}.{key} missing"))
    };

    for edit in EDITS {
        for key in ["sha256_exact_pct", "sha1_exact_pct", "md5_exact_pct"] {
            let want = if edit == "none" { 100.0 } else { 0.0 };
            assert_eq!(num(edit, key), want, "{edit}: {key}");
        }
    }
    // The unedited image is its own hash.
    assert_eq!(num("none", "pdq_exact_pct"), 100.0);
    assert_eq!(num("none", "pdq_mean_distance"), 0.0);
    // What PDQ is for: re-compression, scaling and colour loss keep it within 31 bits.
    for edit in ["jpeg-q90", "jpeg-q50", "resize-50%", "grayscale"] {
        assert_eq!(num(edit, "pdq_within_31_pct"), 100.0, "{edit}");
        assert!(num(edit, "pdq_mean_distance") <= 31.0, "{edit}");
    }
    // Lossy edits do change some bits: a stub that copies the original hash would show 0.
    assert!(num("jpeg-q50", "pdq_mean_distance") > 0.0);
    assert!(num("resize-50%", "pdq_mean_distance") > 0.0);
    // PDQ is not flip or quarter-turn invariant without the dihedral hashes: about half the
    // bits change (an implementation that forgot to apply the edit would show 0).
    for edit in ["mirror", "rotate-90deg"] {
        assert!(num(edit, "pdq_within_31_pct") <= 25.0, "{edit}");
        assert!(num(edit, "pdq_mean_distance") > 90.0, "{edit}");
    }
    // ...but the dihedral hashes of the original catch the mirror image.
    assert_eq!(num("mirror", "pdq_dihedral_within_31_pct"), 100.0);
    // Geometry edits move the hash further than re-compression.
    assert!(num("rotate-3deg", "pdq_mean_distance") > num("jpeg-q50", "pdq_mean_distance"));
    assert!(num("crop-5%", "pdq_mean_distance") > num("jpeg-q50", "pdq_mean_distance"));

    // Distinct images are far apart: well beyond the match distance, and at most 256 bits.
    let margin = v["collision_margin"]["distance"].as_u64().unwrap();
    assert!((32..=256).contains(&margin), "collision margin {margin}");
    assert_ne!(v["collision_margin"]["a"], v["collision_margin"]["b"]);
    // The reference images are all high quality.
    assert!(v["pdq_quality"]["min"].as_u64().unwrap() >= 50);
    assert_eq!(v["per_image"].as_array().unwrap().len(), 4);
}

/// The SVG chart names every edit and is well formed.
fn check_chart(chart: &Path) {
    let svg = std::fs::read_to_string(chart).unwrap();
    assert!(svg.starts_with("<svg"), "{svg:.80}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    for edit in EDITS {
        assert!(svg.contains(&format!(">{edit}<")), "chart lacks {edit}");
    }
    assert!(svg.contains("exact (any cryptographic hash)"));
}

#[test]
fn failures_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart.svg");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let missing = dir.path().join("missing");

    for (d, needle) in [
        (&empty, "empty"),
        (&bad, "broken.png"),
        (&missing, "missing"),
    ] {
        let o = eval_hash(&[p(d), "--chart", p(&chart)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{d:?} succeeded");
        assert_ne!(o.status.code(), Some(101), "panicked: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        assert!(o.stdout.is_empty());
    }
    assert!(!chart.exists(), "a failed run wrote the chart");
}
