//! The blinded database: OKVS correctness, signatures, root hash, audit, provenance and
//! every way a database file can be wrong.

mod common;
use blindmatch_core::hazmat::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;

#[test]
fn members_decode_to_alpha_h_and_non_members_do_not() {
    let f = fixture(3000, Params::default(), 1);
    for x in f.listed.iter().step_by(7) {
        let want = f.server.blind(&hash_to_group(x, DEFAULT_DST).unwrap());
        assert_eq!(okvs_lookup(&f.db, x).unwrap(), want);
    }
    for i in 0..2000 {
        let x = sha(50_000 + i);
        let not = f.server.blind(&hash_to_group(&x, DEFAULT_DST).unwrap());
        assert_ne!(okvs_lookup(&f.db, &x).unwrap(), not);
    }
    let other_kind = MediaHash::new(HashKind::Md5, &[0; 16]).unwrap();
    assert!(matches!(
        okvs_lookup(&f.db, &other_kind),
        Err(Error::KindNotListed { .. })
    ));
}

#[test]
fn size_per_hash_is_at_most_42_bytes_and_verify_passes() {
    let f = fixture(100_000, Params::default(), 1);
    let per = f.bytes.len() as f64 / 100_000.0;
    assert!(per <= 42.0, "{per} bytes per hash");
    let report = f.db.verify().unwrap();
    assert_eq!(report.root, *f.db.root_hash());
    assert_eq!(report.cells, f.db.manifest().cells);
}

#[test]
fn load_checks_key_signature_digest_and_root() {
    let f = fixture(200, Params::default(), 3);
    let root = *f.db.root_hash();
    assert!(Database::open(f.bytes.clone(), &f.public, Some(&root)).is_ok());
    let mut wrong_root = root;
    wrong_root[0] ^= 1;
    assert_eq!(
        Database::open(f.bytes.clone(), &f.public, Some(&wrong_root)).unwrap_err(),
        Error::RootHashMismatch
    );
    let other = ServerSecretKey::generate().public();
    assert_eq!(
        Database::open(f.bytes.clone(), &other, None).unwrap_err(),
        Error::ServerKeyMismatch
    );
    // A flipped table byte: digest mismatch (or a bad signature, never a load).
    let mut t = f.bytes.clone();
    let last = t.len() - 5;
    t[last] ^= 0x40;
    assert_eq!(
        Database::open(t, &f.public, None).unwrap_err(),
        Error::TableDigestMismatch
    );
    // A flipped signature byte.
    let info = Inspected::read(&f.bytes).unwrap();
    let sig_at = 12 + info.manifest.encode().len();
    let mut s = f.bytes.clone();
    s[sig_at + 3] ^= 1;
    assert_eq!(
        Database::open(s, &f.public, None).unwrap_err(),
        Error::BadSignature
    );
    // The epoch field inside the signed manifest.
    let mut e = f.bytes.clone();
    e[12] ^= 1;
    assert_eq!(
        Database::open(e, &f.public, None).unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn every_truncation_and_every_header_flip_is_a_typed_error() {
    let f = fixture(20, Params::new(3, 4, 0, 0).unwrap(), 1);
    let b = &f.bytes;
    for len in 0..b.len() {
        assert!(
            Database::open(b[..len].to_vec(), &f.public, None).is_err(),
            "len {len}"
        );
        assert!(Inspected::read(&b[..len]).is_err() || len == b.len());
    }
    let mut long = b.clone();
    long.extend_from_slice(&[0; 32]);
    assert!(matches!(
        Database::open(long, &f.public, None),
        Err(Error::TrailingBytes { .. })
    ));
    let mut magic = b.clone();
    magic[0] = b'X';
    assert!(matches!(
        Database::open(magic, &f.public, None),
        Err(Error::BadMagic { .. })
    ));
    let mut ver = b.clone();
    ver[4..6].copy_from_slice(&(FUZZY_FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        Database::open(ver, &f.public, None),
        Err(Error::UnsupportedVersion { found: 4, .. })
    ));
    // Version 3 (fuzzy) expects the band layout after the sources: an exact manifest under a
    // version-3 header is truncated.
    let mut v3 = b.clone();
    v3[4..6].copy_from_slice(&FUZZY_FORMAT_VERSION.to_le_bytes());
    assert!(matches!(
        Database::open(v3, &f.public, None),
        Err(Error::Truncated { .. })
    ));
    // A version-1 database (the format before counting windows) names its version.
    let mut v1 = b.clone();
    v1[4..6].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(
        Database::open(v1, &f.public, None).err(),
        Some(Error::UnsupportedVersion {
            object: Object::Database,
            found: 1
        })
    );
    let mut big = b.clone();
    big[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Database::open(big, &f.public, None),
        Err(Error::OutOfRange { .. })
    ));
    for i in 0..b.len() {
        let mut w = b.clone();
        w[i] ^= 0x10;
        assert!(
            Database::open(w, &f.public, None).is_err(),
            "flip at {i} still loads"
        );
    }
}

#[test]
fn out_of_range_manifest_fields_are_rejected_even_when_signed() {
    let f = fixture(20, Params::new(3, 4, 0, 0).unwrap(), 1);
    let info = Inspected::read(&f.bytes).unwrap();
    let table = &f.bytes[f.bytes.len() - info.manifest.cells as usize * 32..];
    type Change = Box<dyn Fn(&mut Manifest)>;
    let cases: Vec<Change> = vec![
        Box::new(|m| m.dst.clear()),
        Box::new(|m| m.kinds.clear()),
        Box::new(|m| m.entries = m.cells + 1),
        Box::new(|m| m.min_sources = 9),
    ];
    for (i, change) in cases.iter().enumerate() {
        let mut m = info.manifest.clone();
        change(&mut m);
        // The builder refuses to sign it …
        assert!(assemble(&f.server, m.clone(), table).is_err(), "case {i}");
        // … and a file carrying it is refused on load.
        let bytes = with_manifest_bytes(&f.bytes, &m.encode());
        assert!(
            Database::open(bytes, &f.public, None).is_err(),
            "case {i} loaded"
        );
    }
    // Out-of-range parameters cannot be represented as `Params` at all; patched into the
    // encoded manifest (T at bytes 128..132, s_max at 132..136, the rate at 136..140) they are
    // refused by the decoder.
    for (off, v) in [(128, 1u32), (128, 100_000), (132, 5000), (136, 1_000_000)] {
        let mut mb = info.manifest.encode();
        mb[off..off + 4].copy_from_slice(&v.to_le_bytes());
        assert!(matches!(
            Manifest::decode(&mb, 2),
            Err(Error::OutOfRange {
                field: Field::ManifestParams
            })
        ));
        let bytes = with_manifest_bytes(&f.bytes, &mb);
        assert!(Inspected::read(&bytes).is_err());
        assert!(Database::open(bytes, &f.public, None).is_err());
    }
}

/// A database file with its manifest bytes replaced (the signature then no longer matches,
/// so this also checks that decoding fails before or at the signature).
fn with_manifest_bytes(file: &[u8], manifest: &[u8]) -> Vec<u8> {
    let good_len = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
    let mut out = file[..8].to_vec();
    out.extend_from_slice(&(manifest.len() as u32).to_le_bytes());
    out.extend_from_slice(manifest);
    out.extend_from_slice(&file[12 + good_len..]);
    out
}

#[test]
fn audit_finds_crafted_cells_that_a_fast_load_accepts() {
    let f = fixture(200, Params::default(), 1);
    let info = Inspected::read(&f.bytes).unwrap();
    let cells = info.manifest.cells as usize;
    let table = f.bytes[f.bytes.len() - cells * 32..].to_vec();
    // An identity cell.
    let mut t = table.clone();
    t[5 * 32..6 * 32].fill(0);
    let db = Database::open(
        assemble(&f.server, info.manifest.clone(), &t).unwrap(),
        &f.public,
        None,
    )
    .unwrap();
    assert!(matches!(
        db.verify(),
        Err(Error::AuditFailed { cell: 5, .. })
    ));
    // A non-canonical encoding.
    let mut t = table.clone();
    t[7 * 32..8 * 32].fill(0xff);
    let db = Database::open(
        assemble(&f.server, info.manifest.clone(), &t).unwrap(),
        &f.public,
        None,
    )
    .unwrap();
    assert!(matches!(
        db.verify(),
        Err(Error::AuditFailed { cell: 7, .. })
    ));
    // Two equal cells.
    let mut t = table;
    let c: Vec<u8> = t[..32].to_vec();
    t[9 * 32..10 * 32].copy_from_slice(&c);
    let db = Database::open(
        assemble(&f.server, info.manifest.clone(), &t).unwrap(),
        &f.public,
        None,
    )
    .unwrap();
    assert!(matches!(
        db.verify(),
        Err(Error::AuditFailed {
            problem: AuditProblem::Duplicate,
            ..
        })
    ));
}

#[test]
fn min_sources_keeps_hashes_listed_by_enough_sources() {
    let key = ServerSecretKey::generate();
    let a: Vec<MediaHash> = (0..100).map(sha).collect();
    let b: Vec<MediaHash> = (50..150).chain(50..60).map(sha).collect();
    let c: Vec<MediaHash> = (90..200).map(sha).collect();
    let lists = vec![
        SourceList {
            name: "org-a".into(),
            hashes: a,
        },
        SourceList {
            name: "org-b".into(),
            hashes: b,
        },
        SourceList {
            name: "org-c".into(),
            hashes: c,
        },
    ];
    let opts = BuildOptions {
        min_sources: 2,
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(&key, &lists, &opts).unwrap();
    let db = Database::open(bytes, &key.public(), None).unwrap();
    let m = db.manifest();
    // Listed by ≥ 2: 50..150 (a∩b = 50..100, b∩c = 90..150, a∩c = 90..100).
    assert_eq!(m.entries, 100);
    assert_eq!(m.min_sources, 2);
    let counts: Vec<(&str, u64)> = m
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.count))
        .collect();
    assert_eq!(counts, vec![("org-a", 100), ("org-b", 100), ("org-c", 110)]);
    for i in [50u64, 99, 149] {
        assert_eq!(
            okvs_lookup(&db, &sha(i)).unwrap(),
            key.blind(&hash_to_group(&sha(i), DEFAULT_DST).unwrap())
        );
    }
    for i in [0u64, 49, 150, 199] {
        assert_ne!(
            okvs_lookup(&db, &sha(i)).unwrap(),
            key.blind(&hash_to_group(&sha(i), DEFAULT_DST).unwrap())
        );
    }
    let bad = BuildOptions {
        min_sources: 4,
        ..Default::default()
    };
    assert!(matches!(
        DatabaseBuilder::build(&key, &lists, &bad),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn encoding_failure_is_typed_and_yields_no_table() {
    let key = ServerSecretKey::generate();
    let lists = [SourceList {
        name: "x".into(),
        hashes: (0..10).map(sha).collect(),
    }];
    let opts = BuildOptions {
        max_attempts: 0,
        ..Default::default()
    };
    assert_eq!(
        DatabaseBuilder::build(&key, &lists, &opts),
        Err(Error::EncodingFailed { attempts: 0 })
    );
    let opts = BuildOptions {
        expansion: 1.1,
        ..Default::default()
    };
    assert!(matches!(
        DatabaseBuilder::build(&key, &lists, &opts),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn an_empty_list_builds_a_valid_database() {
    let key = ServerSecretKey::generate();
    let bytes = DatabaseBuilder::build(&key, &[], &BuildOptions::default()).unwrap();
    let db = Database::open(bytes, &key.public(), None).unwrap();
    assert_eq!(db.manifest().entries, 0);
    db.verify().unwrap();
}

#[test]
fn any_owned_byte_container_loads_the_same() {
    // Core does no I/O: a Vec, a boxed slice or a caller's memory map all load alike.
    let f = fixture(500, Params::default(), 1);
    let boxed: Box<[u8]> = f.bytes.clone().into_boxed_slice();
    let other = Database::open(boxed, &f.public, Some(f.db.root_hash())).unwrap();
    for x in f.listed.iter().take(20) {
        assert_eq!(
            okvs_lookup(&other, x).unwrap(),
            okvs_lookup(&f.db, x).unwrap()
        );
    }
}

#[test]
fn key_decoders_reject_bad_input() {
    let k = ServerSecretKey::generate();
    let sk = k.to_bytes();
    let pk = k.public().to_bytes();
    assert!(ServerSecretKey::from_bytes(&sk).is_ok());
    assert_eq!(ServerPublicKey::from_bytes(&pk).unwrap(), k.public());
    for len in 0..sk.len() {
        assert!(ServerSecretKey::from_bytes(&sk[..len]).is_err());
        assert!(ServerPublicKey::from_bytes(&pk[..len]).is_err());
    }
    let mut zero = sk.to_vec();
    zero[6..38].fill(0);
    assert!(matches!(
        ServerSecretKey::from_bytes(&zero),
        Err(Error::InvalidScalar { .. })
    ));
    let mut noncanon = sk.to_vec();
    noncanon[6..38].fill(0xff);
    assert!(matches!(
        ServerSecretKey::from_bytes(&noncanon),
        Err(Error::InvalidScalar { .. })
    ));
    let mut ident = pk.clone();
    ident[6..38].fill(0);
    assert!(matches!(
        ServerPublicKey::from_bytes(&ident),
        Err(Error::InvalidPoint { .. })
    ));
    let mut noncanon_l = pk.clone();
    noncanon_l[6..38].fill(0xff);
    assert!(matches!(
        ServerPublicKey::from_bytes(&noncanon_l),
        Err(Error::InvalidPoint { .. })
    ));
    let mut v = pk.clone();
    v[4] = 7;
    assert!(matches!(
        ServerPublicKey::from_bytes(&v),
        Err(Error::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        ServerSecretKey::from_bytes(&pk),
        Err(Error::BadMagic { .. })
    ));
    let mut trailing = sk.to_vec();
    trailing.push(1);
    assert!(matches!(
        ServerSecretKey::from_bytes(&trailing),
        Err(Error::TrailingBytes { .. })
    ));
}
