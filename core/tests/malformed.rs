//! The malformed-input suite for the Rust API: every decoder gets every truncation, seeded
//! random bit flips, trailing bytes, a wrong version, wrong magic and empty input. Every case
//! must be a typed error (or, for flips the format cannot detect, a clean non-opening result),
//! never a panic. Run with `--nocapture` to see the case counts per decoder.

mod common;
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;
use rand::{Rng, SeedableRng};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Feed `decode` every malformed variant of `good`; returns how many cases ran.
/// `must_fail(case)` says whether that variant has to be rejected.
fn suite(
    name: &str,
    good: &[u8],
    version_at: Option<usize>,
    mut decode: impl FnMut(&[u8]) -> bool,
) -> usize {
    let mut cases = 0;
    let mut check = |bytes: &[u8], must_fail: bool, what: &str| {
        let ok = catch_unwind(AssertUnwindSafe(|| decode(bytes)))
            .unwrap_or_else(|_| panic!("{name}: panic on {what}"));
        if must_fail {
            assert!(!ok, "{name}: {what} was accepted");
        }
        cases += 1;
    };
    check(good, false, "the valid input");
    check(&[], true, "empty input");
    for len in 0..good.len() {
        check(&good[..len], true, "a truncation");
    }
    let mut long = good.to_vec();
    long.push(0);
    check(&long, true, "one trailing byte");
    long.extend_from_slice(&[0xAA; 64]);
    check(&long, true, "trailing bytes");
    let mut magic = good.to_vec();
    magic[0] ^= 0xFF;
    check(&magic, true, "wrong magic");
    if let Some(at) = version_at {
        let mut v = good.to_vec();
        v[at] = v[at].wrapping_add(1);
        check(&v, true, "a wrong version");
    }
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0xB11D);
    for _ in 0..2000 {
        let mut f = good.to_vec();
        let flips = 1 + (rng.next_u32() % 4) as usize;
        for _ in 0..flips {
            let i = rng.next_u32() as usize % f.len();
            f[i] ^= 1 << (rng.next_u32() % 8);
        }
        // Random flips in unauthenticated slack (e.g. a key's seed) can be valid; only demand
        // "no panic" here. Authenticated objects are checked for rejection in their own tests.
        check(&f, false, "random bit flips");
    }
    eprintln!("{name}: {cases} malformed cases, 0 panics");
    cases
}

#[test]
fn every_decoder_rejects_malformed_input_without_panicking() {
    let f = fixture_with_key(
        seeded_server_key(1),
        40,
        Params::new(3, 4, 0, 0).unwrap(),
        5,
    );
    let mut total = 0;

    let public = f.public.clone();
    total += suite("database", &f.bytes, Some(4), |b| {
        Database::open(b.to_vec(), &public, None).is_ok()
    });
    total += suite("database inspect", &f.bytes, Some(4), |b| {
        Inspected::read(b).is_ok()
    });

    let c = Client::new(
        f.db.clone(),
        &seeded_client_key(3),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let v = voucher_with_choice(
        &c,
        &f.listed[0],
        b"id",
        b"ad",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let opener = f.opener();
    total += suite("voucher", &v, Some(2), |b| {
        matches!(opener.open(b, ACCOUNT), Ok(OpenOutcome::Opened(_)))
    });

    let sk = f.server.to_bytes();
    total += suite("server secret key", &sk, Some(4), |b| {
        ServerSecretKey::from_bytes(b).is_ok()
    });
    total += suite("server public key", &f.public.to_bytes(), Some(4), |b| {
        ServerPublicKey::from_bytes(b).is_ok()
    });
    total += suite("client key", &seeded_client_key(3).export(), Some(4), |b| {
        ClientKey::import(b).is_ok()
    });

    let OpenOutcome::Opened(rec) = opener.open(&v, ACCOUNT).unwrap() else {
        panic!()
    };
    total += suite("opened record", &rec.to_bytes(), Some(4), |b| {
        OpenedVoucher::from_bytes(b).is_ok()
    });
    eprintln!("Rust API: {total} malformed cases in all, 0 panics");
}

#[test]
fn authenticated_objects_reject_every_single_bit_flip() {
    let f = fixture_with_key(
        seeded_server_key(2),
        20,
        Params::new(3, 4, 0, 0).unwrap(),
        1,
    );
    let c = Client::new(
        f.db.clone(),
        &seeded_client_key(3),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let v = voucher_with_choice(
        &c,
        &f.listed[0],
        b"id",
        b"ad",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let opener = f.opener();
    let mut n = 0;
    for i in 0..v.len() {
        for bit in 0..8 {
            let mut w = v.clone();
            w[i] ^= 1 << bit;
            assert!(
                !matches!(opener.open(&w, ACCOUNT), Ok(OpenOutcome::Opened(_))),
                "voucher bit {bit} of byte {i}"
            );
            n += 1;
        }
    }
    // The database: header, manifest, signature (the table is covered by the digest test).
    let table_start = f.bytes.len() - f.db.manifest().cells as usize * 32;
    for i in (0..table_start).chain((table_start..f.bytes.len()).step_by(97)) {
        let mut w = f.bytes.clone();
        w[i] ^= 0x04;
        assert!(
            Database::open(w, &f.public, None).is_err(),
            "database byte {i}"
        );
        n += 1;
    }
    eprintln!("single-bit flips of authenticated objects: {n} cases, all rejected");
}

#[test]
fn wrong_hash_kinds_identity_points_and_oversized_fields() {
    let f = fixture_with_key(
        seeded_server_key(2),
        20,
        Params::new(3, 4, 0, 0).unwrap(),
        1,
    );
    let c = Client::new(
        f.db.clone(),
        &seeded_client_key(3),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    // Kinds the database does not list.
    let md5 = MediaHash::new(HashKind::Md5, &[1; 16]).unwrap();
    assert!(matches!(
        c.voucher(&md5, b"x", b"", NOW),
        Err(Error::KindNotListed { .. })
    ));
    assert!(MediaHash::new(HashKind::Sha1, &[0; 32]).is_err());
    // Oversized id and associated data.
    assert!(matches!(
        c.voucher(&f.listed[0], &[b'a'; 65], b"", NOW),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        c.voucher(&f.listed[0], b"a", &vec![0; 70_000], NOW),
        Err(Error::InvalidParameter { .. })
    ));
    // A voucher whose Q is the identity or non-canonical.
    let v = voucher_with_choice(
        &c,
        &f.listed[0],
        b"id",
        b"",
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap();
    let opener = f.opener();
    for q in [[0u8; 32], [0xFF; 32]] {
        let mut w = v.clone();
        w[VOUCHER_HEADER_LEN..VOUCHER_HEADER_LEN + 32].copy_from_slice(&q);
        assert!(matches!(
            opener.open(&w, ACCOUNT),
            Err(Error::InvalidPoint { .. })
        ));
    }
    // An id length field over 64, and non-zero id padding.
    let mut w = v.clone();
    w[19] = 65;
    assert!(matches!(
        opener.open(&w, ACCOUNT),
        Err(Error::OutOfRange { .. })
    ));
    let mut w = v.clone();
    w[VOUCHER_HEADER_LEN - 1] = 1;
    assert!(matches!(
        opener.open(&w, ACCOUNT),
        Err(Error::OutOfRange { .. })
    ));
    // A database manifest length field far beyond the file.
    let mut d = f.bytes.clone();
    d[8..12].copy_from_slice(&60_000u32.to_le_bytes());
    assert!(Database::open(d, &f.public, None).is_err());
}
