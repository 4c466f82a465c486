//! What the server stores below the threshold, tested as a curious server would look at it:
//! re-sends, several devices, windows, re-signed manifests, large volumes, and decoding
//! beyond s_max (`docs/SECURITY.md` §2, `docs/PROTOCOL.md` §6–§9).

mod common;
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;
use rand::SeedableRng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

fn opened(o: &Opener, v: &[u8]) -> Option<OpenedVoucher> {
    match o.open(v, ACCOUNT).unwrap() {
        OpenOutcome::Opened(r) => Some(r),
        OpenOutcome::NoMatch => None,
    }
}

#[test]
fn every_opened_item_sent_twice_opens_to_the_same_x0_real_and_synthetic_alike() {
    // T = 50 (nothing can be revealed), rate 0.5: about half of the unlisted items open too.
    let params = Params::with_rate(50, 8, 0.5).unwrap();
    let f = fixture(30, params, 1);
    let o = f.opener();
    let key = seeded_client_key(21);
    // Two devices of the account, one send each: the device's state plays no part.
    let (phone, tablet) = (client(&f.db, &key), client(&f.db, &key));
    let unlisted: Vec<MediaHash> = (1_000..1_030).map(sha).collect();
    let mut by_x0: HashMap<u64, Vec<OpenedVoucher>> = HashMap::new();
    for (i, x) in f.listed.iter().chain(&unlisted).enumerate() {
        for device in [&phone, &tablet] {
            let v = device
                .voucher(x, format!("m{i}").as_bytes(), b"ad", NOW)
                .unwrap();
            if let Some(r) = opened(&o, &v) {
                by_x0.entry(r.x0()).or_default().push(r);
            }
        }
    }
    // 30 listed items always open (real or synthetic); of the unlisted, the synthetic ones.
    assert!(
        by_x0.len() >= 30 && by_x0.len() < 60,
        "{} distinct",
        by_x0.len()
    );
    for (x0, sends) in &by_x0 {
        assert_eq!(sends.len(), 2, "x0 {x0:#x} opened {} times", sends.len());
        let (a, b) = (&sends[0], &sends[1]);
        assert_eq!(a.id(), b.id());
        assert_eq!(a.dhf_values(), b.dhf_values());
        assert_eq!(a.share_bytes(), b.share_bytes());
        // Per send: Q and the associated-data ciphertext are fresh.
        assert_ne!(a.q(), b.q());
        assert_ne!(a.adct_bytes(), b.adct_bytes());
    }
    let mut acc = Account::new(params, WINDOW);
    for r in by_x0.into_values().flatten() {
        acc.insert(r).unwrap();
    }
    assert!(matches!(acc.evaluate(), Outcome::BelowThreshold { .. }));
}

#[test]
fn windows_never_combine() {
    let params = Params::with_rate(3, 4, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(22));
    let week = f.db.schedule().length();
    // The same item in two windows: unrelated records.
    let a = opened(&o, &c.voucher(&f.listed[0], b"a", b"", NOW).unwrap()).unwrap();
    let b = opened(&o, &c.voucher(&f.listed[0], b"a", b"", NOW + week).unwrap()).unwrap();
    assert_eq!((a.window(), b.window()), (0, 1));
    assert_ne!(a.x0(), b.x0());
    // An account of window 0 refuses a record of window 1.
    let mut acc = Account::new(params, 0);
    assert_eq!(
        acc.insert(b.clone()),
        Err(Error::WrongWindow {
            record: 1,
            account: 0
        })
    );
    // T − 1 matches in window 0 and one in window 1 reveal nothing in either.
    acc.insert(a).unwrap();
    acc.insert(opened(&o, &c.voucher(&f.listed[1], b"b", b"", NOW).unwrap()).unwrap())
        .unwrap();
    let mut next = Account::new(params, 1);
    next.insert(b).unwrap();
    assert!(matches!(
        acc.evaluate(),
        Outcome::BelowThreshold { opened: 2 }
    ));
    assert!(matches!(
        next.evaluate(),
        Outcome::BelowThreshold { opened: 1 }
    ));
    // A third match in window 0 reveals window 0 only.
    acc.insert(opened(&o, &c.voucher(&f.listed[2], b"c", b"", NOW).unwrap()).unwrap())
        .unwrap();
    assert!(matches!(acc.evaluate(), Outcome::Revealed { .. }));
    // A time outside the schedule (beyond the slack) makes no voucher.
    let end = f.db.schedule().end();
    assert_eq!(
        c.voucher(&f.listed[0], b"a", b"", end + CLOCK_SLACK_SECS),
        Err(Error::OutsideSchedule)
    );
}

#[test]
fn a_resigned_manifest_with_another_rate_relinks_nothing() {
    let key = ServerSecretKey::generate();
    let listed: Vec<MediaHash> = (0..40).map(sha).collect();
    let build = |lo: f64, hi: f64| {
        let opts = BuildOptions {
            params: Params::with_rate_range(30, 8, lo, hi).unwrap(),
            ..Default::default()
        };
        let list = [SourceList {
            name: "list".into(),
            hashes: listed.clone(),
        }];
        let bytes = DatabaseBuilder::build(&key, &list, &opts).unwrap();
        Arc::new(Database::open(bytes, &key.public(), None).unwrap())
    };
    let (a, b) = (build(0.2, 0.3), build(0.4, 0.5));
    let ck = seeded_client_key(23);
    let x0s = |db: &Arc<Database>| -> HashSet<u64> {
        let o = Opener::new(&key, db.manifest()).unwrap();
        let c = client(db, &ck);
        listed
            .iter()
            .chain(&(500..600).map(sha).collect::<Vec<_>>())
            .filter_map(|x| opened(&o, &c.voucher(x, b"i", b"", NOW).unwrap()))
            .map(|r| r.x0())
            .collect()
    };
    let (xa, xb) = (x0s(&a), x0s(&b));
    assert!(xa.len() >= 40 && xb.len() >= 40);
    assert!(xa.is_disjoint(&xb), "a re-signed manifest relinked items");
    // A device that keeps its state refuses the second manifest in a window it has used …
    let mut state = DeviceState::new();
    client(&a, &ck).check_state(&mut state, NOW).unwrap();
    let stored = state.to_bytes();
    let mut state = DeviceState::from_bytes(&stored).unwrap();
    assert_eq!(
        client(&b, &ck).check_state(&mut state, NOW),
        Err(Error::ManifestChanged { window: 0 })
    );
    // … and an older window; the next window may use the new manifest.
    let week = a.schedule().length();
    client(&b, &ck).check_state(&mut state, NOW + week).unwrap();
    assert_eq!(
        client(&b, &ck).check_state(&mut state, NOW),
        Err(Error::StaleWindow {
            window: 0,
            newest: 1
        })
    );
}

#[test]
fn two_hundred_thousand_unlisted_items_never_error_and_reveal_nothing() {
    // T = 30, s_max = 60, the rate drawn in [0.5 %, 1.5 %]: about 2,000 synthetic records,
    // far more than s_max. Detection must not error and must not reveal.
    let params = Params::with_rate_range(30, 60, 0.005, 0.015).unwrap();
    let f = fixture(10, params, 1);
    let c = client(&f.db, &seeded_client_key(24));
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(24);
    let mut acc = Account::new(params, WINDOW);
    acc.set_decode_limit(256);
    let mut synthetic = 0;
    for i in 0..200_000u64 {
        let x = sha(1_000_000 + i);
        if let Some(s) = simulated_record(&c, &x, false, b"m", b"", WINDOW, &mut rng).unwrap() {
            assert!(!s.real);
            acc.insert(s.record).unwrap();
            synthetic += 1;
        }
    }
    let rate = account_rate_ppm(&c, WINDOW) as f64 / 1e6;
    assert!((0.005..=0.015).contains(&rate));
    let want = 200_000.0 * rate;
    assert!(
        (synthetic as f64 - want).abs() < 6.0 * want.sqrt(),
        "{synthetic} vs {want}"
    );
    // More synthetic records than the decode limit (256 here): nothing revealed, no error,
    // and the state says detection cannot proceed.
    assert_eq!(acc.evaluate(), Outcome::Undecodable { opened: synthetic });
}

#[test]
fn beyond_s_max_a_reveal_waits_for_t_minus_1_plus_z_over_s_matches_and_not_before() {
    // T = 4, s_max = 3, z = 12 synthetic records: a reveal needs k ≥ 3 + ⌈12/3⌉ = 7.
    let params = Params::with_rate(4, 3, 0.0).unwrap();
    let f = fixture(40, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(25));
    let mut acc = Account::new(params, WINDOW);
    let mut rng = rand::rng();
    for i in 0..12 {
        let v = voucher_with_choice(
            &c,
            &sha(900 + i),
            format!("syn{i}").as_bytes(),
            b"",
            WINDOW,
            SyntheticChoice::Synthetic,
            &mut rng,
        )
        .unwrap();
        acc.insert(opened(&o, &v).unwrap()).unwrap();
    }
    for k in 1..=8usize {
        let id = format!("real{k}");
        let v = c
            .voucher(&f.listed[k], id.as_bytes(), id.as_bytes(), NOW)
            .unwrap();
        acc.insert(opened(&o, &v).unwrap()).unwrap();
        // A live account decodes at checkpoints (every eighth more distinct records), so it
        // reveals at k = 7 or at the next checkpoint; an account evaluated afresh decodes at
        // once and shows the radius exactly.
        let live = acc.evaluate();
        let live = matches!(live, Outcome::Revealed { .. });
        assert!(!live || k >= 7, "live account revealed at k = {k}");
        assert!(live || k < 8, "live account not revealed at k = {k}");
        let mut fresh = Account::with_records(params, WINDOW, acc.records().cloned()).unwrap();
        match fresh.evaluate() {
            Outcome::BelowThreshold { .. } => assert!(k < 7, "no reveal at k = {k}"),
            Outcome::OverCapacity { .. } | Outcome::Undecodable { .. } => {
                panic!("far below capacity and the decode limit")
            }
            Outcome::Revealed {
                real, synthetic, ..
            } => {
                assert!(k >= 7, "revealed at k = {k}");
                let mut ids: Vec<Vec<u8>> = real.iter().map(|m| m.id.clone()).collect();
                ids.sort();
                let mut want: Vec<Vec<u8>> =
                    (1..=k).map(|j| format!("real{j}").into_bytes()).collect();
                want.sort();
                assert_eq!(ids, want);
                assert!(real.iter().all(|m| m.id == m.ad));
                assert_eq!(synthetic.len(), 12);
            }
        }
    }
}

#[test]
fn a_second_database_with_the_same_parameters_relinks_nothing() {
    // The server builds a second database — same key, parameters and schedule, another list
    // (only decoys) — and serves it to a second device of the account. Its records must not
    // tell which of the first database's records are synthetic: the root is in the context.
    let key = ServerSecretKey::generate();
    let params = Params::with_rate(30, 8, 0.3).unwrap();
    let build = |hashes: Vec<MediaHash>, epoch: u64| {
        let opts = BuildOptions {
            params,
            epoch,
            ..Default::default()
        };
        let list = [SourceList {
            name: "list".into(),
            hashes,
        }];
        let bytes = DatabaseBuilder::build(&key, &list, &opts).unwrap();
        Arc::new(Database::open(bytes, &key.public(), None).unwrap())
    };
    let items: Vec<MediaHash> = (0..60).map(sha).collect();
    let one = build(items[..30].to_vec(), 1);
    let two = build((5_000..5_030).map(sha).collect(), 2);
    let ck = seeded_client_key(26);
    let opened_x0 = |db: &Arc<Database>| -> HashSet<u64> {
        let o = Opener::new(&key, db.manifest()).unwrap();
        let c = client(db, &ck);
        items
            .iter()
            .filter_map(|x| opened(&o, &c.voucher(x, b"i", b"", NOW).unwrap()))
            .map(|r| r.x0())
            .collect()
    };
    let (a, b) = (opened_x0(&one), opened_x0(&two));
    assert!(a.len() >= 30 && !b.is_empty());
    assert!(a.is_disjoint(&b), "a second database relinked records");
}

#[test]
fn a_voucher_filed_under_another_account_stays_closed() {
    // Not an error an uploader could tell from a non-match: the outer layer is bound to the
    // account.
    let params = Params::with_rate(3, 4, 0.0).unwrap();
    let f = fixture(10, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(27));
    let v = c.voucher(&f.listed[0], b"i", b"", NOW).unwrap();
    assert!(matches!(o.open(&v, ACCOUNT), Ok(OpenOutcome::Opened(_))));
    assert_eq!(o.open(&v, b"mallory"), Ok(OpenOutcome::NoMatch));
    assert_eq!(
        o.open_batch(&[&v], b"mallory"),
        vec![Ok(OpenOutcome::NoMatch)]
    );
    assert!(matches!(
        o.open(&v, &[b'a'; 256]),
        Err(Error::InvalidParameter {
            param: Param::Account
        })
    ));
}

#[test]
fn a_repeated_rng_state_still_gives_fresh_per_send_values() {
    // A forked process or a restored VM snapshot repeats the RNG: the per-send values are
    // hedged with the device's key and the send, so only a byte-identical send repeats.
    let params = Params::with_rate(3, 4, 0.0).unwrap();
    let f = fixture(10, params, 1);
    let c = client(&f.db, &seeded_client_key(28));
    let make = |x: &MediaHash, id: &[u8]| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(99);
        voucher_with_choice(&c, x, id, b"ad", WINDOW, SyntheticChoice::Real, &mut rng).unwrap()
    };
    let q = |v: &[u8]| v[VOUCHER_HEADER_LEN..VOUCHER_HEADER_LEN + 32].to_vec();
    let a = make(&f.listed[0], b"one");
    assert_eq!(a, make(&f.listed[0], b"one"));
    assert_ne!(q(&a), q(&make(&f.listed[0], b"two")));
    assert_ne!(q(&a), q(&make(&f.listed[1], b"one")));
    // Real and synthetic vouchers are made by the same steps and look alike in size.
    let mut rng = rand::rng();
    let s = voucher_with_choice(
        &c,
        &f.listed[0],
        b"one",
        b"ad",
        WINDOW,
        SyntheticChoice::Synthetic,
        &mut rng,
    )
    .unwrap();
    assert_eq!(s.len(), a.len());
}
