//! `blindmatch eval-fuzzy` on the four PDQ reference images, through the real binary.

use std::path::Path;
use std::process::Command;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/pdq");
const IMAGES: [&str; 4] = ["astronaut.png", "camera.png", "text.png", "rocket.png"];

#[test]
fn reference_images_json_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for name in IMAGES {
        std::fs::copy(Path::new(REFERENCE).join(name), images.join(name)).unwrap();
    }
    let chart = dir.path().join("chart.svg");
    let cache = dir.path().join("hashes.bin");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_blindmatch"))
            .arg("eval-fuzzy")
            .arg(&images)
            .args(["--edits", "jpeg-q70,mirror", "--json", "--chart"])
            .arg(&chart)
            .arg("--cache")
            .arg(&cache)
            .output()
            .expect("binary runs")
    };
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["pictures"], 4);
    let row = &v["rows"][0];
    let edits = row["edits"].as_array().unwrap();
    assert_eq!(edits[0]["edit"], "jpeg-q70");
    // Every JPEG-q70 copy matches its original; no mirrored copy does without dihedral.
    assert_eq!(edits[0]["recall_pct"], 100.0);
    assert_eq!(edits[1]["recall_pct"], 0.0);
    // The four pictures are unrelated: no false match.
    assert_eq!(row["false_images_corpus"], 0);
    assert!(v["collision_curve"]["points"].as_array().unwrap().len() > 4);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("jpeg-q70"));

    // A second run reads the cache and gives the same report.
    assert!(cache.is_file());
    let again = run();
    assert!(String::from_utf8_lossy(&again.stderr).contains("hashes read from"));
    assert_eq!(again.stdout, o.stdout);
}

#[test]
fn unknown_edit_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_blindmatch"))
        .args(["eval-fuzzy", REFERENCE, "--edits", "sepia"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown edit"));
}
