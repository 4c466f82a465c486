//! `blindmatch eval-fuzzy` on the four PDQ reference images, through the real binary: the
//! plaintext sweep and the real-protocol mode (and `simulate --fuzzy` on its histograms).

use std::path::Path;
use std::process::Command;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/data/pdq");
const IMAGES: [&str; 4] = ["astronaut.png", "camera.png", "text.png", "rocket.png"];

#[test]
fn reference_images_json_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let images = reference_folder(dir.path());
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

/// The four reference images in a fresh folder.
fn reference_folder(dir: &Path) -> std::path::PathBuf {
    let images = dir.join("images");
    std::fs::create_dir(&images).unwrap();
    for name in IMAGES {
        std::fs::copy(Path::new(REFERENCE).join(name), images.join(name)).unwrap();
    }
    images
}

#[test]
fn protocol_mode_opens_exactly_what_the_plaintext_matcher_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let images = reference_folder(dir.path());
    let json_file = dir.path().join("protocol.json");
    let chart = dir.path().join("protocol.svg");
    let o = Command::new(env!("CARGO_BIN_EXE_blindmatch"))
        .arg("eval-fuzzy")
        .arg(&images)
        .args([
            "--protocol",
            "--protocol-list-size",
            "1000",
            "--timing-items",
            "4",
        ])
        .args([
            "--edits",
            "jpeg-q70,resize-50%,mirror",
            "--json",
            "--json-file",
        ])
        .arg(&json_file)
        .arg("--chart")
        .arg(&chart)
        .output()
        .expect("binary runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let p = &v["protocol"];
    // Astronaut and rocket are listed (even positions), camera and text are the unrelated half.
    assert_eq!(p["listed_pictures"], 2);
    assert_eq!(p["padding_hashes"], 998);
    assert_eq!(p["layout"]["layers"], 84);
    // Private recall is the plaintext band matcher's, bundle by bundle.
    assert_eq!(p["mismatches"], 0);
    let edits = p["edits"].as_array().unwrap();
    for e in edits {
        assert_eq!(e["private_opened"], e["plaintext_opened"], "{}", e["name"]);
        assert_eq!(e["mismatches"], 0);
    }
    assert_eq!(edits[0]["name"], "jpeg-q70");
    assert_eq!(edits[0]["private_opened"], 2);
    assert_eq!(
        edits[2]["private_opened"], 0,
        "mirror needs dihedral handling"
    );
    // Every opened real bundle opens between 1 and K layers; the JPEG copies open every band.
    assert_eq!(edits[0]["open_counts"].as_array().unwrap().len(), 6);
    assert_eq!(edits[0]["open_counts"][5], 2);
    let unrelated = &p["unrelated"]["summary"];
    assert_eq!(unrelated["private_opened"], unrelated["plaintext_opened"]);
    assert_eq!(unrelated["private_opened"], 0);
    // Synthetic bundles always open, with a count from D (1..=L).
    let synthetic = &p["synthetic"];
    assert_eq!(synthetic["private_opened"], 2);
    assert!(synthetic["open_counts"].as_array().unwrap().len() <= 6);
    assert!(p["bundle_bytes"].as_u64().unwrap() > 84 * 96);
    assert!(p["device_ms_median"].as_f64().unwrap() > 0.0);
    assert!(p["server_ms_median"].as_f64().unwrap() > 0.0);
    assert!(
        p["mixes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "goal")
    );
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("private protocol"));

    // The account-level advantage reads the histograms back.
    let sim = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_blindmatch"))
            .args([
                "simulate",
                "--fuzzy",
                "--fuzzy-trials",
                "300",
                "--fuzzy-matches",
                "1,5",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let from_file: serde_json::Value = serde_json::from_slice(&sim(&[
        "--json",
        "--fuzzy-histograms",
        json_file.to_str().unwrap(),
    ]))
    .unwrap();
    let mixes = from_file["mixes"].as_array().unwrap();
    assert!(!mixes.is_empty());
    for m in mixes {
        for cell in m["by_matches"].as_array().unwrap() {
            let a = cell["advantage"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a));
        }
    }
    // The built-in histograms (the reference images) need no file.
    let table = String::from_utf8(sim(&[])).unwrap();
    assert!(
        table.contains("goal") && table.contains("count only"),
        "{table}"
    );
}

#[test]
fn protocol_mode_refuses_layouts_the_protocol_does_not_have() {
    let o = Command::new(env!("CARGO_BIN_EXE_blindmatch"))
        .args(["eval-fuzzy", REFERENCE, "--protocol", "--probes", "85"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a protocol layout"));
}
