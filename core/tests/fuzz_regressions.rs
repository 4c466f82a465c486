//! Replays the fuzz regression corpus, `fuzz/regressions/<target>/*`, through the same checks
//! as the cargo-fuzz targets (`fuzz/src/lib.rs`, included here as a module). No input may
//! panic; a file named `ok-*` must be accepted and one named `err-*` refused with a typed
//! error (other names may go either way).
//!
//! The seeds (`ok-*`, `err-*`) and the fixtures the `*_mutated` targets start from are written
//! by two ignored tests, in this order (the second uses the fixtures compiled into the first):
//!
//! ```text
//! cargo test -p blindmatch-core --test fuzz_regressions -- --ignored regenerate_fixtures
//! cargo test -p blindmatch-core --test fuzz_regressions -- --ignored write_seeds
//! ```
//!
//! Regenerating the fixtures invalidates any saved `*_mutated` crash input (a list of patches
//! to the old fixture).

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use blindmatch_core::VOUCHER_HEADER_LEN as HEADER_LEN;
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use checks::{FIXTURE_ACCOUNT as ACCOUNT, FIXTURE_WINDOW as WINDOW};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/fixtures");
/// The corpus stays small: it is replayed by every test run and lives in git.
const MAX_CORPUS_BYTES: u64 = 200 * 1024;

type Check = fn(&[u8]) -> checks::Verdict;

const TARGETS: &[(&str, Check)] = &[
    ("database", checks::database),
    ("database_mutated", checks::database_mutated),
    ("voucher", checks::voucher),
    ("voucher_mutated", checks::voucher_mutated),
    ("client_key", checks::client_key),
    ("device_state", checks::device_state),
    ("server_key", checks::server_key),
    ("opened_record", checks::opened_record),
    ("hash_list", checks::hash_list),
    ("pdq", checks::pdq),
    ("account", checks::account),
    ("bundle", checks::bundle),
];

/// Inputs that still crash a check because the bug in core is not fixed yet, as
/// `(target, file)`. Each is replayed but its panic is tolerated; remove the entry once fixed.
const KNOWN_CRASHES: &[(&str, &str)] = &[];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string panic".into())
}

#[test]
fn replay_regression_corpus() {
    let root = Path::new(REGRESSIONS);
    // Every directory belongs to a target.
    for e in std::fs::read_dir(root).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} matches no target"
        );
    }
    let mut failures = Vec::new();
    let mut total = 0u64;
    for (target, check) in TARGETS {
        let paths = files(&root.join(target));
        assert!(!paths.is_empty(), "no regression inputs for {target}");
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).unwrap();
            total += data.len() as u64;
            let known = KNOWN_CRASHES.contains(&(*target, name.as_str()));
            match catch_unwind(AssertUnwindSafe(|| check(&data))) {
                Err(p) if known => eprintln!(
                    "TODO: {target}/{name} still panics (known, unfixed): {}",
                    panic_message(p.as_ref())
                ),
                Err(p) => failures.push(format!(
                    "{target}/{name}: panicked: {}",
                    panic_message(p.as_ref())
                )),
                Ok(verdict) => {
                    if known {
                        eprintln!("{target}/{name} no longer panics: remove it from KNOWN_CRASHES");
                    }
                    if let (true, Err(e)) = (name.starts_with("ok-"), &verdict) {
                        failures.push(format!("{target}/{name}: refused: {e}"));
                    }
                    if name.starts_with("err-") && verdict.is_ok() {
                        failures.push(format!("{target}/{name}: accepted"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        total <= MAX_CORPUS_BYTES,
        "fuzz/regressions holds {total} bytes; keep it under {MAX_CORPUS_BYTES}"
    );
}

#[test]
fn fixtures_load() {
    let f = checks::fixture();
    assert_eq!(f.db.epoch(), checks::FIXTURE_EPOCH);
    assert_eq!(f.db.params(), &checks::fixture_params());
    assert!(f.db.verify().is_ok());
}

// ---------------------------------------------------------------------------------------------
// Writing the fixtures and seeds (ignored: run by hand, see the module docs).

#[test]
#[ignore = "writes fuzz/fixtures/{fuzzy.bmdb,bundle.bb}; run by hand"]
fn regenerate_fuzzy() {
    let key = ServerSecretKey::from_bytes(&checks::server_secret_bytes()).unwrap();
    let items = checks::fuzzy_items();
    let opts = BuildOptions {
        params: checks::fixture_params(),
        epoch: checks::FIXTURE_EPOCH,
        created_unix: Some(1_700_000_000),
        fuzzy: Some(checks::fuzzy_layout()),
        ..Default::default()
    };
    let hashes = items
        .iter()
        .map(|m| MediaHash::new(HashKind::Pdq, &m.hash.0).unwrap())
        .collect();
    let sources = [SourceList {
        name: "alpha".into(),
        hashes,
    }];
    let db_bytes = DatabaseBuilder::build(&key, &sources, &opts).unwrap();
    let db = Arc::new(Database::open(db_bytes.clone(), &key.public(), None).unwrap());
    let client = Client::new(
        db,
        &ClientKey::import(&checks::client_key_bytes()).unwrap(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let bundle = bundle_with_choice(
        &client,
        &items[0],
        b"item-0",
        b"associated data",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let dir = Path::new(FIXTURES);
    std::fs::write(dir.join("fuzzy.bmdb"), &db_bytes).unwrap();
    std::fs::write(dir.join("bundle.bb"), &bundle).unwrap();
    let seeds = Path::new(REGRESSIONS).join("bundle");
    std::fs::create_dir_all(&seeds).unwrap();
    let patch = |op: u8, off: usize, val: u8| {
        let o = (off as u16).to_le_bytes();
        vec![op, o[0], o[1], val]
    };
    let with = |mode: u8, p: Vec<u8>| [vec![mode], p].concat();
    for (name, bytes) in [
        ("ok-fixture", vec![1]),
        ("ok-raw", [&[0u8][..], &bundle].concat()),
        ("ok-wrong-tau", with(1, patch(0, 86 + 32, 1))),
        ("err-empty", vec![0]),
        ("err-layers", with(1, patch(0, 84, 1))),
        ("err-truncated", with(1, patch(2, bundle.len() - 1, 0))),
        ("err-version", with(1, patch(4, 2, 2))),
        ("err-epoch", with(1, patch(0, 3, 1))),
        (
            "err-q-identity",
            with(1, (0..32).flat_map(|i| patch(4, 86 + i, 0)).collect()),
        ),
        ("err-corrupt-inner", with(1, patch(0, bundle.len() - 1, 1))),
        (
            "err-fuzzy-database-as-bundle",
            [&[0u8][..], &db_bytes[..200]].concat(),
        ),
    ] {
        std::fs::write(seeds.join(name), bytes).unwrap();
    }
    // A fuzzy database is a seed of the database target too (the fixture key signed it).
    std::fs::write(
        Path::new(REGRESSIONS)
            .join("database")
            .join("ok-fuzzy.bmdb"),
        &db_bytes,
    )
    .unwrap();
}

#[test]
#[ignore = "writes fuzz/fixtures; run by hand"]
fn regenerate_fixtures() {
    let key = ServerSecretKey::from_bytes(&checks::server_secret_bytes()).unwrap();
    let listed = checks::listed();
    let half = listed.len() / 2;
    let opts = BuildOptions {
        params: checks::fixture_params(),
        epoch: checks::FIXTURE_EPOCH,
        created_unix: Some(1_700_000_000),
        ..Default::default()
    };
    let sources = [
        SourceList {
            name: "alpha".into(),
            hashes: listed[..half].to_vec(),
        },
        SourceList {
            name: "beta".into(),
            hashes: listed[half - 1..].to_vec(),
        },
    ];
    let db_bytes = DatabaseBuilder::build(&key, &sources, &opts).unwrap();
    let db = Arc::new(Database::open(db_bytes.clone(), &key.public(), None).unwrap());
    let client = Client::new(
        db,
        &ClientKey::import(&checks::client_key_bytes()).unwrap(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let voucher = voucher_with_choice(
        &client,
        &listed[0],
        b"item-0",
        b"associated data",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let dir = Path::new(FIXTURES);
    std::fs::write(dir.join("database.bmdb"), &db_bytes).unwrap();
    std::fs::write(dir.join("voucher.bv"), &voucher).unwrap();
}

fn patch(op: u8, off: usize, val: u8) -> [u8; 4] {
    let o = (off as u16).to_le_bytes();
    [op, o[0], o[1], val]
}

fn with(base: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = base.to_vec();
    edit(&mut v);
    v
}

fn opened(o: &Opener, v: &[u8]) -> OpenedVoucher {
    match o.open(v, ACCOUNT).unwrap() {
        OpenOutcome::Opened(r) => r,
        OpenOutcome::NoMatch => panic!("expected an opened voucher"),
    }
}

#[test]
#[ignore = "writes fuzz/regressions seeds; run by hand after regenerate_fixtures"]
fn write_seeds() {
    let f = checks::fixture();
    let db = f.db_bytes;
    let v = f.voucher;
    let mlen = u32::from_le_bytes(db[8..12].try_into().unwrap()) as usize;
    let table = 12 + mlen + 64;
    let client = Client::new(
        f.db.clone(),
        &ClientKey::import(&checks::client_key_bytes()).unwrap(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let listed = checks::listed();
    let make = |x: &MediaHash, choice| {
        voucher_with_choice(&client, x, b"seed", b"ad", WINDOW, choice, &mut rand::rng()).unwrap()
    };
    let synthetic = make(&listed[1], SyntheticChoice::Synthetic);
    let non_member = make(&checks::unlisted()[0], SyntheticChoice::Real);
    let record = opened(&f.opener, v).to_bytes();
    let sk = f.key.to_bytes().to_vec();
    let pk = f.public.to_bytes();
    let ck = checks::client_key_bytes();
    let cat = |parts: &[&[u8]]| parts.concat();
    let mut state = DeviceState::new();
    client
        .check_state(&mut state, f.db.schedule().start(WINDOW) + 60)
        .unwrap();
    let used_state = state.to_bytes();

    let mut seeds: Vec<(&str, &str, Vec<u8>)> = vec![
        ("database", "ok-valid.bmdb", db.to_vec()),
        ("database", "err-empty", vec![]),
        ("database", "err-truncated-header", db[..10].to_vec()),
        (
            "database",
            "err-truncated-table",
            db[..db.len() - 1].to_vec(),
        ),
        ("database", "err-trailing-byte", cat(&[db, &[0]])),
        ("database", "err-version", with(db, |b| b[4] = 3)),
        ("database", "err-version-1", with(db, |b| b[4] = 1)),
        (
            "database",
            "err-bad-signature",
            with(db, |b| b[12 + 8] ^= 1),
        ),
        ("database", "err-table-digest", with(db, |b| b[table] ^= 1)),
        ("database_mutated", "ok-unchanged", vec![]),
        ("database_mutated", "ok-resealed", vec![1]),
        (
            "database_mutated",
            "ok-resealed-bad-cell",
            cat(&[&[1], &patch(4, db.len() - 1, 0xFF)]),
        ),
        (
            "database_mutated",
            "ok-resealed-duplicate-cell",
            cat(&[
                &[1],
                &(0..32)
                    .flat_map(|i| patch(4, table + 32 + i, db[table + i]))
                    .collect::<Vec<u8>>(),
            ]),
        ),
        (
            "database_mutated",
            "err-flip-manifest",
            cat(&[&[0], &patch(0, 12 + 8, 1)]),
        ),
        (
            "database_mutated",
            "err-resealed-cells",
            cat(&[&[1], &patch(4, 12 + 16, 0x33)]),
        ),
        ("voucher", "ok-member.bv", v.to_vec()),
        ("voucher", "ok-synthetic.bv", synthetic.clone()),
        ("voucher", "ok-non-member.bv", non_member),
        (
            "voucher",
            "ok-wrong-tau",
            with(v, |b| b[HEADER_LEN + 32] ^= 1),
        ),
        ("voucher", "err-empty", vec![]),
        ("voucher", "err-truncated", v[..v.len() - 1].to_vec()),
        ("voucher", "err-version", with(v, |b| b[2] = 3)),
        ("voucher", "err-version-1", with(v, |b| b[2] = 1)),
        (
            "voucher",
            "err-window-outside-schedule",
            with(v, |b| b[11..19].fill(0xFF)),
        ),
        ("voucher", "err-wrong-epoch", with(v, |b| b[3] ^= 1)),
        (
            "voucher",
            "err-id-padding",
            with(v, |b| b[HEADER_LEN - 1] = 1),
        ),
        ("voucher", "err-id-length", with(v, |b| b[19] = 65)),
        (
            "voucher",
            "err-q-identity",
            with(v, |b| b[HEADER_LEN..HEADER_LEN + 32].fill(0)),
        ),
        (
            "voucher",
            "err-corrupt-inner",
            with(v, |b| *b.last_mut().unwrap() ^= 1),
        ),
        ("voucher_mutated", "ok-unchanged", vec![]),
        ("voucher_mutated", "ok-resealed", vec![1]),
        (
            "voucher_mutated",
            "ok-resealed-other-id",
            cat(&[&[1], &patch(4, 20, b'X')]),
        ),
        (
            "voucher_mutated",
            "ok-resealed-adct",
            cat(&[&[1], &patch(0, HEADER_LEN + 32 + 80, 0x55)]),
        ),
        (
            "voucher_mutated",
            "err-resealed-share-noncanonical",
            cat(&[&[1], &patch(4, HEADER_LEN + 32 + 31, 0xFF)]),
        ),
        (
            "voucher_mutated",
            "err-resealed-x0-above-p",
            cat(&[
                &[1],
                &(32..40)
                    .flat_map(|i| patch(4, HEADER_LEN + 32 + i, 0xFF))
                    .collect::<Vec<u8>>(),
            ]),
        ),
        (
            "voucher_mutated",
            "flip-q",
            cat(&[&[0], &patch(0, HEADER_LEN, 4)]),
        ),
        ("device_state", "ok-empty", DeviceState::new().to_bytes()),
        ("device_state", "ok-used", used_state.clone()),
        (
            "device_state",
            "err-truncated",
            used_state[..used_state.len() - 1].to_vec(),
        ),
        ("device_state", "err-flag", with(&used_state, |b| b[6] = 2)),
        (
            "device_state",
            "err-version",
            with(&used_state, |b| b[4] = 2),
        ),
        ("client_key", "ok-valid", ck.clone()),
        ("client_key", "err-empty", vec![]),
        ("client_key", "err-truncated", ck[..ck.len() - 1].to_vec()),
        ("client_key", "err-trailing", cat(&[&ck, &[0]])),
        ("client_key", "err-version", with(&ck, |b| b[4] = 2)),
        ("client_key", "err-magic", with(&ck, |b| b[0] = b'X')),
        ("server_key", "ok-secret", sk.clone()),
        ("server_key", "ok-public", pk.clone()),
        (
            "server_key",
            "err-secret-zero-alpha",
            with(&sk, |b| b[6..38].fill(0)),
        ),
        (
            "server_key",
            "err-secret-noncanonical-alpha",
            with(&sk, |b| b[6..38].fill(0xFF)),
        ),
        ("server_key", "err-secret-trailing", cat(&[&sk, &[0]])),
        (
            "server_key",
            "err-public-identity",
            with(&pk, |b| b[6..38].fill(0)),
        ),
        (
            "server_key",
            "err-public-truncated",
            pk[..pk.len() - 1].to_vec(),
        ),
        ("opened_record", "ok-member", record.clone()),
        (
            "opened_record",
            "ok-synthetic",
            opened(&f.opener, &synthetic).to_bytes(),
        ),
        ("opened_record", "err-empty", vec![]),
        (
            "opened_record",
            "err-truncated",
            record[..record.len() - 1].to_vec(),
        ),
        (
            "opened_record",
            "err-long-id",
            with(&record, |b| b[13] = 65),
        ),
    ];
    // Field offsets in the record: BMOR(4) v(1) window(8) idl(1) id Q(32) x0(8) y(32) s(2).
    let id_len = record[13] as usize;
    let x0 = 14 + id_len + 32;
    seeds.extend([
        (
            "opened_record",
            "err-x0-not-below-p",
            with(&record, |b| b[x0..x0 + 8].fill(0xFF)),
        ),
        (
            "opened_record",
            "err-share-noncanonical",
            with(&record, |b| b[x0 + 8 + 31] = 0xFF),
        ),
        (
            "opened_record",
            "err-too-many-dhf",
            with(&record, |b| {
                b[x0 + 40..x0 + 42].copy_from_slice(&1025u16.to_le_bytes())
            }),
        ),
    ]);
    let pdq_hex = "c3".repeat(32);
    let sha_hex = listed[0].to_hex();
    let gradient = |n: usize| (0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>();
    seeds.extend([
        ("hash_list", "ok-empty", vec![]),
        (
            "hash_list",
            "ok-plain.txt",
            format!(
                "# pdq list\n{pdq_hex}\n\n{}  # two\n",
                pdq_hex.to_uppercase()
            )
            .into_bytes(),
        ),
        (
            "hash_list",
            "ok-csv.txt",
            format!(
                "kind,hash\nsha256,{sha_hex}\nmd5 , {} ,extra\nSHA-1,{}\npdq,{pdq_hex}\n",
                "5a".repeat(16),
                "00".repeat(20)
            )
            .into_bytes(),
        ),
        (
            "hash_list",
            "err-unknown-kind.txt",
            format!("whirlpool,{sha_hex}\n").into_bytes(),
        ),
        (
            "hash_list",
            "err-bad-hex.txt",
            format!("sha256,{}\n", &sha_hex[1..]).into_bytes(),
        ),
        (
            "hash_list",
            "err-wrong-length.txt",
            format!("md5,{sha_hex}\n").into_bytes(),
        ),
        ("hash_list", "err-long-line.txt", vec![b'a'; 4097]),
        (
            "pdq",
            "ok-luma-64x64",
            cat(&[&[2, 64, 64], &gradient(4096)]),
        ),
        ("pdq", "ok-luma-3x3", vec![2, 3, 3, 9]),
        ("pdq", "ok-rgb-96x50", cat(&[&[0, 96, 50], &gradient(999)])),
        ("pdq", "ok-rgba-33x80-flat", vec![1, 33, 80]),
        ("pdq", "err-zero-width", vec![2, 0, 10, 1, 2, 3]),
        (
            "pdq",
            "err-exact-short-buffer",
            cat(&[&[0x82], &8u32.to_le_bytes(), &8u32.to_le_bytes(), &[0; 63]]),
        ),
        (
            "pdq",
            "err-exact-huge",
            cat(&[&[0x80], &u32::MAX.to_le_bytes(), &u32::MAX.to_le_bytes()]),
        ),
    ]);
    let root = Path::new(REGRESSIONS);
    for (target, name, bytes) in seeds {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The device values of PROTOCOL.md §13.8's fixture, re-derived by the spec-only checks: the
/// fixture item's identity and x0 under the fixture client key and database.
#[test]
fn fuzzy_fixture_device_values_match_the_spec_vector() {
    let key = ServerSecretKey::from_bytes(&checks::server_secret_bytes()).unwrap();
    let db_bytes = std::fs::read(Path::new(FIXTURES).join("fuzzy.bmdb")).unwrap();
    let db = Arc::new(Database::open(db_bytes, &key.public(), None).unwrap());
    assert_eq!(
        hex::encode(db.root_hash()),
        "bb70b92a064d81caad7b31979215465f41d075b258d077a2168094969eee674a"
    );
    assert_eq!(
        hex::encode(db.context()),
        "562b93422f9912f771126099ca064ca77f60dc84068858be7891c3bb121a5b5f"
    );
    let client = Client::new(
        db.clone(),
        &ClientKey::import(&checks::client_key_bytes()).unwrap(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let item = &checks::fuzzy_items()[0];
    let (synthetic, identity) = bundle_identity(&client, item, WINDOW).unwrap();
    assert!(!synthetic);
    assert_eq!(hex::encode(identity), "05090033c3000000000000");
    let b = bundle_with_choice(
        &client,
        item,
        b"item-0",
        b"associated data",
        WINDOW,
        SyntheticChoice::ByRate,
        &mut rand::rng(),
    )
    .unwrap();
    let opener = Opener::new(&key, db.manifest()).unwrap();
    let (OpenOutcome::Opened(rec), layers) = opener.open_bundle(&b, ACCOUNT).unwrap() else {
        panic!("the fixture item's bundle opens")
    };
    assert_eq!((rec.x0(), layers), (14_860_373_753_980_842_690, 2));
}
