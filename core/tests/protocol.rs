//! The protocol end to end: vouchers open exactly for members, nothing is revealed below the
//! threshold, exactly the real matches are revealed at it.

mod common;
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;
use rayon::prelude::*;

fn params(t: u32, s: u32) -> Params {
    Params::new(t, s, 0, 0).unwrap()
}

fn real(c: &Client, x: &MediaHash, id: &str, ad: &[u8]) -> Vec<u8> {
    voucher_with_choice(
        c,
        x,
        id.as_bytes(),
        ad,
        WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .unwrap()
}

fn synth(c: &Client, x: &MediaHash, id: &str) -> Vec<u8> {
    voucher_with_choice(
        c,
        x,
        id.as_bytes(),
        b"private",
        WINDOW,
        SyntheticChoice::Synthetic,
        &mut rand::rng(),
    )
    .unwrap()
}

fn open(o: &Opener, v: &[u8]) -> OpenOutcome {
    o.open(v, ACCOUNT).unwrap()
}

#[test]
fn members_open_and_non_members_do_not() {
    let f = fixture(500, params(3, 6), 7);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let o = f.opener();
    for x in &f.listed[..50] {
        assert!(matches!(
            open(&o, &real(&c, x, "m", b"ad")),
            OpenOutcome::Opened(_)
        ));
    }
    // Synthetic vouchers always open, member or not.
    assert!(matches!(
        open(&o, &synth(&c, &sha(10_000_000), "s")),
        OpenOutcome::Opened(_)
    ));
    assert_eq!(
        open(&o, &real(&c, &sha(10_000_000), "n", b"ad")),
        OpenOutcome::NoMatch
    );
}

#[test]
fn one_hundred_thousand_non_members_never_open() {
    let f = fixture(2000, params(3, 4), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let o = f.opener();
    let opened: usize = (0..200u64)
        .into_par_iter()
        .map(|chunk| {
            let vs: Vec<Vec<u8>> = (0..500)
                .map(|i| real(&c, &sha(1_000_000 + chunk * 500 + i), "n", b""))
                .collect();
            o.open_batch(&vs, ACCOUNT)
                .into_iter()
                .filter(|r| !matches!(r, Ok(OpenOutcome::NoMatch)))
                .count()
        })
        .sum();
    assert_eq!(opened, 0);
}

#[test]
fn voucher_size_is_fixed_per_bucket_and_within_budget() {
    let f = fixture(10, params(30, 60), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    for (ad_len, bucket) in [(0, 256), (252, 256), (253, 1024), (65532, 65536)] {
        let ad = vec![1u8; ad_len];
        let r = real(&c, &f.listed[0], "id", &ad);
        let s = voucher_with_choice(
            &c,
            &f.listed[0],
            b"a-longer-identifier",
            &ad,
            WINDOW,
            SyntheticChoice::Synthetic,
            &mut rand::rng(),
        )
        .unwrap();
        assert_eq!(r.len(), voucher_len(60, bucket));
        assert_eq!(s.len(), r.len());
    }
    assert!(
        c.voucher(&f.listed[0], b"id", &vec![0u8; 65533], NOW)
            .is_err()
    );
    assert!(c.voucher(&f.listed[0], &[0u8; 65], b"", NOW).is_err());
}

#[test]
fn two_vouchers_of_one_item_are_unlinkable_bytes() {
    let f = fixture(10, params(3, 4), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let a = real(&c, &f.listed[0], "x", b"same");
    let b = real(&c, &f.listed[0], "x", b"same");
    // Every byte after the header differs in distribution; check no 32-byte field repeats.
    for off in (VOUCHER_HEADER_LEN..a.len() - 32).step_by(32) {
        assert_ne!(
            a[off..off + 32],
            b[off..off + 32],
            "field at {off} repeated"
        );
    }
}

fn account_with(f: &Fixture, vouchers: &[Vec<u8>]) -> Account {
    let o = f.opener();
    let mut acc = Account::new(*f.db.params(), WINDOW);
    for v in vouchers {
        if let OpenOutcome::Opened(r) = o.open(v, ACCOUNT).unwrap() {
            acc.insert(r).unwrap();
        }
    }
    acc
}

#[test]
fn below_threshold_nothing_is_revealed() {
    let (t, s) = (5, 10);
    let f = fixture(100, params(t, s), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let mut vs: Vec<Vec<u8>> = (0..t as usize - 1)
        .map(|i| real(&c, &f.listed[i], &format!("r{i}"), b"secret"))
        .collect();
    vs.extend((0..s as usize).map(|i| synth(&c, &sha(5_000 + i as u64), &format!("s{i}"))));
    // Non-members and re-sends of the same real item add nothing.
    vs.extend((0..20).map(|i| real(&c, &sha(9_000 + i), "n", b"")));
    vs.extend((0..5).map(|_| real(&c, &f.listed[0], "again", b"secret")));
    let mut acc = account_with(&f, &vs);
    assert_eq!(acc.opened(), t as usize - 1 + s as usize + 5);
    assert_eq!(
        acc.evaluate(),
        Outcome::BelowThreshold {
            opened: acc.opened()
        }
    );
}

#[test]
fn at_threshold_exactly_the_real_matches_are_revealed() {
    for (t, s, synthetics) in [(3, 4, 0), (3, 4, 4), (5, 10, 7), (30, 60, 60)] {
        let f = fixture(200, params(t, s), 1);
        let c = Client::new(
            f.db.clone(),
            &ClientKey::generate(),
            ACCOUNT,
            &DevicePolicy::permissive_for_tests(),
        )
        .unwrap();
        let mut vs: Vec<Vec<u8>> = (0..t as usize)
            .map(|i| {
                real(
                    &c,
                    &f.listed[i],
                    &format!("real{i}"),
                    format!("ad{i}").as_bytes(),
                )
            })
            .collect();
        vs.extend((0..synthetics).map(|i| synth(&c, &f.listed[50 + i], &format!("syn{i}"))));
        vs.extend((0..10).map(|i| real(&c, &sha(7_000 + i), "nomatch", b"")));
        let mut acc = account_with(&f, &vs);
        match acc.evaluate() {
            Outcome::Revealed {
                real, synthetic, ..
            } => {
                let mut want: Vec<RevealedMatch> = (0..t as usize)
                    .map(|i| RevealedMatch {
                        id: format!("real{i}").into(),
                        ad: format!("ad{i}").into(),
                    })
                    .collect();
                let mut got = real.clone();
                want.sort_by(|a, b| a.id.cmp(&b.id));
                got.sort_by(|a, b| a.id.cmp(&b.id));
                assert_eq!(got, want, "T={t} s={s} synthetic={synthetics}");
                let mut syn: Vec<String> = synthetic
                    .iter()
                    .map(|i| String::from_utf8(i.clone()).unwrap())
                    .collect();
                syn.sort();
                let mut want_syn: Vec<String> =
                    (0..synthetics).map(|i| format!("syn{i}")).collect();
                want_syn.sort();
                assert_eq!(syn, want_syn);
            }
            other => panic!("expected a reveal for T={t}, got {other:?}"),
        }
    }
}

#[test]
fn a_resent_item_counts_once() {
    let t = 4;
    let f = fixture(50, params(t, 4), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let mut vs: Vec<Vec<u8>> = (0..t as usize - 1)
        .map(|i| real(&c, &f.listed[i], "r", b""))
        .collect();
    vs.extend((0..10).map(|_| real(&c, &f.listed[0], "again", b"")));
    let mut acc = account_with(&f, &vs);
    assert!(matches!(acc.evaluate(), Outcome::BelowThreshold { .. }));
    // One more distinct item crosses it, and every copy of the re-sent item is revealed.
    let mut acc = acc;
    let o = f.opener();
    if let OpenOutcome::Opened(r) = o
        .open(&real(&c, &f.listed[40], "last", b""), ACCOUNT)
        .unwrap()
    {
        acc.insert(r).unwrap();
    }
    match acc.evaluate() {
        Outcome::Revealed {
            real, synthetic, ..
        } => {
            assert_eq!(real.len(), t as usize - 1 + 10 + 1);
            assert!(synthetic.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn opening_the_same_voucher_twice_is_idempotent() {
    let f = fixture(20, params(2, 2), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let v = real(&c, &f.listed[0], "a", b"");
    let o = f.opener();
    let mut acc = Account::new(*f.db.params(), WINDOW);
    let OpenOutcome::Opened(r) = o.open(&v, ACCOUNT).unwrap() else {
        panic!()
    };
    assert_eq!(acc.insert(r.clone()).unwrap(), Inserted::New);
    assert_eq!(acc.insert(r).unwrap(), Inserted::Duplicate);
    assert_eq!(acc.opened(), 1);
}

#[test]
fn vouchers_under_another_client_key_never_combine() {
    let t = 4;
    let f = fixture(100, params(t, 8), 1);
    let a = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let b = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    // T−1 from each key: nothing, even though 2T−2 ≥ T real matches are present.
    let mut vs: Vec<Vec<u8>> = (0..t as usize - 1)
        .map(|i| real(&a, &f.listed[i], "a", b"A"))
        .collect();
    vs.extend((0..t as usize - 1).map(|i| real(&b, &f.listed[20 + i], "b", b"B")));
    let mut acc = account_with(&f, &vs);
    assert!(matches!(acc.evaluate(), Outcome::BelowThreshold { .. }));
    // T from A: only A's are revealed; B's are named as not real.
    vs.push(real(&a, &f.listed[50], "a", b"A"));
    let mut acc = account_with(&f, &vs);
    match acc.evaluate() {
        Outcome::Revealed {
            real, synthetic, ..
        } => {
            assert_eq!(real.len(), t as usize);
            assert!(real.iter().all(|m| m.id == b"a" && m.ad == b"A"));
            assert_eq!(synthetic.len(), t as usize - 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_synthetics_is_a_typed_outcome_not_a_wrong_reveal() {
    let t = 3;
    let f = fixture(100, params(t, 2), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let mut vs: Vec<Vec<u8>> = (0..t as usize)
        .map(|i| real(&c, &f.listed[i], "r", b"x"))
        .collect();
    vs.extend((0..6).map(|i| synth(&c, &sha(8_000 + i), "s")));
    let mut acc = account_with(&f, &vs);
    match acc.evaluate() {
        Outcome::BelowThreshold { .. } => {}
        Outcome::Revealed { real, .. } => {
            // If detection still isolates the real ones, the reveal must be exactly right.
            assert_eq!(real.len(), t as usize);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn flipping_any_byte_never_opens_and_never_panics() {
    let f = fixture(50, params(3, 4), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let o = f.opener();
    let v = real(&c, &f.listed[0], "flip", b"payload");
    assert!(matches!(
        o.open(&v, ACCOUNT).unwrap(),
        OpenOutcome::Opened(_)
    ));
    for i in 0..v.len() {
        for bit in [0x01u8, 0x80] {
            let mut w = v.clone();
            w[i] ^= bit;
            match o.open(&w, ACCOUNT) {
                Ok(OpenOutcome::Opened(_)) => panic!("flipped byte {i} still opened"),
                Ok(OpenOutcome::NoMatch) | Err(_) => {}
            }
        }
    }
    for len in 0..v.len() {
        assert!(o.open(&v[..len], ACCOUNT).is_err(), "truncated to {len}");
    }
}

#[test]
fn a_voucher_for_another_epoch_or_server_is_typed() {
    let f1 = fixture(20, params(3, 4), 1);
    let f2 = fixture(20, params(3, 4), 2);
    let c1 = Client::new(
        f1.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let v = real(&c1, &f1.listed[0], "e", b"");
    assert_eq!(
        f2.opener().open(&v, ACCOUNT),
        Err(Error::WrongEpoch {
            voucher: 1,
            database: 2
        })
    );
    // Same epoch, another server: the outer layer stays closed.
    let f3 = fixture(20, params(3, 4), 1);
    assert_eq!(f3.opener().open(&v, ACCOUNT), Ok(OpenOutcome::NoMatch));
    assert!(matches!(
        Opener::new(&f3.server, f1.db.manifest()),
        Err(Error::WrongSecretKey)
    ));
}

#[test]
fn opened_records_round_trip_and_reject_damage() {
    let f = fixture(20, params(3, 4), 1);
    let c = Client::new(
        f.db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let OpenOutcome::Opened(r) = f
        .opener()
        .open(&real(&c, &f.listed[0], "rec", b"ad"), ACCOUNT)
        .unwrap()
    else {
        panic!()
    };
    let b = r.to_bytes();
    assert_eq!(OpenedVoucher::from_bytes(&b).unwrap(), r);
    for len in 0..b.len() {
        assert!(OpenedVoucher::from_bytes(&b[..len]).is_err());
    }
    let mut long = b.clone();
    long.push(0);
    assert!(matches!(
        OpenedVoucher::from_bytes(&long),
        Err(Error::TrailingBytes { .. })
    ));
}

#[test]
fn secrets_do_not_print() {
    let f = fixture(5, params(3, 4), 1);
    let k = ClientKey::generate();
    let dbg = format!(
        "{:?} {:?} {:?}",
        f.server,
        k,
        Client::new(
            f.db.clone(),
            &k,
            ACCOUNT,
            &DevicePolicy::permissive_for_tests()
        )
        .unwrap()
    );
    assert!(!dbg.contains(&hex::encode(&f.server.to_bytes()[6..38])));
    assert!(!dbg.contains(&hex::encode(&k.export()[6..])));
    assert!(dbg.contains("ServerSecretKey { .. }"));
}

/// The reveal does not depend on the order records arrive in: every permutation of the same
/// opened records reveals the same real set and the same synthetic ids.
#[test]
fn the_reveal_is_the_same_whatever_the_order_of_records() {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let (t, s) = (4, 5);
    let f = fixture(60, params(t, s), 1);
    let c = Client::new(
        f.db.clone(),
        &seeded_client_key(9),
        ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let o = f.opener();
    let mut records: Vec<OpenedVoucher> = Vec::new();
    let mut push = |v: Vec<u8>| {
        if let OpenOutcome::Opened(r) = open(&o, &v) {
            records.push(r);
        }
    };
    for i in 0..t as usize + 2 {
        push(real(&c, &f.listed[i], &format!("real{i}"), b"ad"));
    }
    push(real(&c, &f.listed[0], "resent", b"ad"));
    for i in 0..s as usize {
        push(synth(&c, &f.listed[30 + i], &format!("syn{i}")));
    }
    let summary = |out: Outcome| match out {
        Outcome::Revealed {
            mut real,
            mut synthetic,
            ..
        } => {
            real.sort_by(|a, b| a.id.cmp(&b.id));
            synthetic.sort();
            (real, synthetic)
        }
        other => panic!("expected a reveal, got {other:?}"),
    };
    let want = summary(
        Account::with_records(params(t, s), WINDOW, records.clone())
            .unwrap()
            .evaluate(),
    );
    assert_eq!(want.0.len(), t as usize + 3);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    for _ in 0..24 {
        records.shuffle(&mut rng);
        let got = Account::with_records(params(t, s), WINDOW, records.clone())
            .unwrap()
            .evaluate();
        assert_eq!(summary(got), want);
    }
}
