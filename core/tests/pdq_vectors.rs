//! Bit-exact conformance of `blindmatch_core::media::pdq` against reference
//! vectors produced by Meta's C++ PDQ implementation (via the `pdqhash`
//! Python binding). See `core/tests/data/pdq/README.md`.

use std::path::{Path, PathBuf};

use blindmatch_core::media::pdq::{PdqHash, PixelFormat, pdq_hash, pdq_hash_dihedral};

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdq");
    assert!(
        dir.join("expected.json").is_file(),
        "PDQ test vectors not found: expected {}/expected.json",
        dir.display()
    );
    dir
}

struct Vector {
    file: String,
    width: u32,
    height: u32,
    pdq: String,
    quality: u32,
    dihedral: Vec<String>,
}

fn load_vectors(dir: &Path) -> Vec<Vector> {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    let entries = json
        .as_array()
        .unwrap_or_else(|| panic!("{} is not a JSON array", path.display()));
    entries
        .iter()
        .map(|e| {
            let str_field = |name: &str| -> String {
                e[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("entry {e}: missing string field `{name}`"))
                    .to_owned()
            };
            let u32_field = |name: &str| -> u32 {
                e[name]
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or_else(|| panic!("entry {e}: missing integer field `{name}`"))
            };
            let dihedral = e["dihedral"]
                .as_array()
                .unwrap_or_else(|| panic!("entry {e}: missing array field `dihedral`"))
                .iter()
                .map(|h| {
                    h.as_str()
                        .unwrap_or_else(|| panic!("entry {e}: non-string dihedral hash"))
                        .to_owned()
                })
                .collect();
            Vector {
                file: str_field("file"),
                width: u32_field("width"),
                height: u32_field("height"),
                pdq: str_field("pdq"),
                quality: u32_field("quality"),
                dihedral,
            }
        })
        .collect()
}

const DIHEDRAL_NAMES: [&str; 8] = [
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipX",
    "flipY",
    "flipPlus1",
    "flipMinus1",
];

#[test]
fn pdq_matches_reference_vectors() {
    let dir = data_dir();
    let vectors = load_vectors(&dir);
    assert!(!vectors.is_empty(), "expected.json has no entries");

    let mut failures = Vec::new();
    for v in &vectors {
        let found = check_vector(&dir, v);
        println!(
            "{:<28} {}",
            v.file,
            if found.is_empty() { "ok" } else { "FAIL" }
        );
        failures.extend(found);
    }

    assert!(
        failures.is_empty(),
        "{} mismatch(es) against the PDQ reference vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Hashes one reference image both ways and lists every mismatch with `v`.
fn check_vector(dir: &Path, v: &Vector) -> Vec<String> {
    let path = dir.join(&v.file);
    let img = image::open(&path)
        .unwrap_or_else(|e| panic!("cannot decode {}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(
        (img.width(), img.height()),
        (v.width, v.height),
        "{}: decoded size differs from expected.json",
        v.file
    );
    let (w, h) = (img.width(), img.height());
    let pixels = img.as_raw();

    let single = pdq_hash(pixels, w, h, PixelFormat::Rgb8)
        .unwrap_or_else(|e| panic!("{}: pdq_hash failed: {e}", v.file));
    let dihedral = pdq_hash_dihedral(pixels, w, h, PixelFormat::Rgb8)
        .unwrap_or_else(|e| panic!("{}: pdq_hash_dihedral failed: {e}", v.file));

    // The expected strings must themselves round-trip through the parser.
    let expected_hash = PdqHash::from_hex(&v.pdq)
        .unwrap_or_else(|e| panic!("{}: bad expected hash {:?}: {e}", v.file, v.pdq));
    assert_eq!(expected_hash.to_hex(), v.pdq.to_ascii_lowercase());

    let mut failures = Vec::new();
    if single.hash.to_hex() != v.pdq {
        failures.push(format!(
            "{}: pdq hash {} != expected {} (distance {})",
            v.file,
            single.hash,
            v.pdq,
            single.hash.hamming_distance(&expected_hash)
        ));
    }
    if single.quality != v.quality {
        failures.push(format!(
            "{}: quality {} != expected {}",
            v.file, single.quality, v.quality
        ));
    }
    if dihedral.quality != v.quality {
        failures.push(format!(
            "{}: dihedral quality {} != expected {}",
            v.file, dihedral.quality, v.quality
        ));
    }
    if v.dihedral.len() != 8 {
        failures.push(format!(
            "{}: expected.json lists {} dihedral hashes, not 8",
            v.file,
            v.dihedral.len()
        ));
    }
    for ((name, got), want) in DIHEDRAL_NAMES
        .iter()
        .zip(dihedral.hashes.iter())
        .zip(v.dihedral.iter())
    {
        if got.to_hex() != *want {
            failures.push(format!(
                "{}: dihedral {name} {got} != expected {want}",
                v.file
            ));
        }
    }
    failures
}
