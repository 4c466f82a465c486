//! Robustness, tested as an attacker would try it (issue #13, `docs/SECURITY.md` §7): no
//! membership oracle at opening, a reveal that crafted records and a second client key cannot
//! block, bounded account state, a device that refuses an unpinned or weakened database, crafted
//! table cells, and fresh randomness after `fork`.
// The fork test calls libc::fork; nothing else here is unsafe.
#![allow(unsafe_code)]

mod common;
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;
use std::sync::Arc;

fn make(c: &Client, x: &MediaHash, id: &str, choice: SyntheticChoice) -> Vec<u8> {
    voucher_with_choice(
        c,
        x,
        id.as_bytes(),
        id.as_bytes(),
        WINDOW,
        choice,
        &mut rand::rng(),
    )
    .unwrap()
}

fn open(o: &Opener, v: &[u8]) -> OpenedVoucher {
    match o.open(v, ACCOUNT).unwrap() {
        OpenOutcome::Opened(r) => r,
        OpenOutcome::NoMatch => panic!("expected the voucher to open"),
    }
}

fn ids(v: &[Vec<u8>]) -> Vec<String> {
    let mut s: Vec<String> = v
        .iter()
        .map(|i| String::from_utf8_lossy(i).into_owned())
        .collect();
    s.sort();
    s
}

fn real_ids(o: &Outcome) -> Vec<String> {
    match o {
        Outcome::Revealed { real, .. } => {
            ids(&real.iter().map(|m| m.id.clone()).collect::<Vec<_>>())
        }
        other => panic!("expected a reveal, got {other:?}"),
    }
}

/// A copy of `r` under a fresh Q, with its share and/or associated-data ciphertext replaced.
fn crafted(
    r: &OpenedVoucher,
    id: &[u8],
    q_tag: u8,
    share: Option<[u8; 32]>,
    adct: Option<&[u8]>,
) -> OpenedVoucher {
    let mut q = *r.q();
    q[0] ^= q_tag;
    OpenedVoucher::from_parts(
        r.window(),
        id,
        q,
        r.x0(),
        share.unwrap_or(r.share_bytes()),
        &r.dhf_values(),
        adct.unwrap_or(r.adct_bytes()),
    )
    .unwrap()
}

#[test]
fn an_inner_layer_failure_is_a_no_match_whether_the_item_is_listed_or_not() {
    // The attack: make a real voucher for a candidate hash, break one byte of its inner
    // layer, and watch the answer. Listed → the outer layer opens and the inner fails;
    // unlisted → the outer layer stays closed. Both must look the same to the sender.
    let params = Params::with_rate(3, 4, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(1));
    let listed = make(&c, &f.listed[0], "a", SyntheticChoice::Real);
    let unlisted = make(&c, &sha(9_999), "b", SyntheticChoice::Real);
    let broken = |v: &[u8]| {
        let mut v = v.to_vec();
        let at = v.len() - 20; // inside the inner ciphertext
        v[at] ^= 1;
        v
    };
    let before = o.malformed();
    let a = o.open(&broken(&listed), ACCOUNT);
    let b = o.open(&broken(&unlisted), ACCOUNT);
    assert_eq!(a, Ok(OpenOutcome::NoMatch));
    assert_eq!(b, Ok(OpenOutcome::NoMatch));
    // Only the operator's metric tells them apart.
    assert_eq!(o.malformed(), before + 1);
    // A batch with a broken voucher among good ones: every voucher gets its own answer.
    let batch = o.open_batch(
        &[
            listed.clone(),
            broken(&listed),
            unlisted.clone(),
            vec![0u8; 7],
        ],
        ACCOUNT,
    );
    assert!(matches!(batch[0], Ok(OpenOutcome::Opened(_))));
    assert_eq!(batch[1], Ok(OpenOutcome::NoMatch));
    assert_eq!(batch[2], Ok(OpenOutcome::NoMatch));
    assert!(
        batch[3].is_err(),
        "structural errors stay typed (they do not depend on the list)"
    );
}

#[test]
fn a_record_with_a_bad_associated_data_ciphertext_is_skipped_and_reported() {
    let params = Params::with_rate(4, 3, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(2));
    let real: Vec<OpenedVoucher> = (0..4)
        .map(|i| {
            open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            )
        })
        .collect();
    // The crafted copy of item 0 arrives first (the old "first record per x0 wins" rule let it
    // block the reveal for good).
    let junk = vec![0x5Au8; real[0].adct_bytes().len()];
    let mut acc = Account::new(params, WINDOW);
    acc.insert(crafted(&real[0], b"evil", 1, None, Some(&junk)))
        .unwrap();
    for r in &real {
        acc.insert(r.clone()).unwrap();
    }
    let out = acc.evaluate();
    assert_eq!(real_ids(&out), ["r0", "r1", "r2", "r3"]);
    let Outcome::Revealed {
        rejected,
        synthetic,
        ..
    } = out
    else {
        unreachable!()
    };
    assert_eq!(ids(&rejected), ["evil"]);
    assert!(synthetic.is_empty());
}

#[test]
fn wrong_shares_are_corrected_once_the_right_ones_reach_t_plus_e() {
    let params = Params::with_rate(4, 3, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(3));
    let real: Vec<OpenedVoucher> = (0..6)
        .map(|i| {
            open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            )
        })
        .collect();
    let mut acc = Account::new(params, WINDOW);
    // A copy of item 0 with a wrong share arrives first: one wrong point.
    let mut bad_share = [0u8; 32];
    bad_share[0] = 7;
    acc.insert(crafted(&real[0], b"evil", 1, Some(bad_share), None))
        .unwrap();
    for (k, r) in real.iter().enumerate() {
        acc.insert(r.clone()).unwrap();
        let out = acc.evaluate();
        // T = 4 and e = 1: a reveal needs T + e = 5 right shares.
        if k + 1 < 5 {
            assert!(
                matches!(out, Outcome::BelowThreshold { .. }),
                "k = {}: {out:?}",
                k + 1
            );
        } else {
            let Outcome::Revealed {
                real: got,
                rejected,
                ..
            } = &out
            else {
                panic!("k = {}: {out:?}", k + 1)
            };
            assert_eq!(got.len(), k + 1);
            // The crafted copy carries the genuine associated-data ciphertext (bound to Q and
            // id, so it does not open under its new Q and id): it is rejected, not revealed.
            assert_eq!(ids(rejected), ["evil"]);
        }
    }
}

#[test]
fn a_conflicting_record_for_a_real_x0_acts_like_a_synthetic_one() {
    let params = Params::with_rate(4, 3, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(4));
    let real: Vec<OpenedVoucher> = (0..4)
        .map(|i| {
            open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            )
        })
        .collect();
    let r0 = &real[0];
    let other: Vec<u64> = r0.dhf_values().iter().map(|v| v ^ 1).collect();
    let conflicting = OpenedVoucher::from_parts(
        r0.window(),
        b"evil",
        [9u8; 32],
        r0.x0(),
        r0.share_bytes(),
        &other,
        r0.adct_bytes(),
    )
    .unwrap();
    let mut acc = Account::new(params, WINDOW);
    acc.insert(conflicting).unwrap();
    for r in &real {
        acc.insert(r.clone()).unwrap();
    }
    assert_eq!(
        acc.distinct(),
        5,
        "the conflicting values are a column of their own"
    );
    assert_eq!(real_ids(&acc.evaluate()), ["r0", "r1", "r2", "r3"]);
}

#[test]
fn two_client_keys_in_one_account_reveal_each_on_its_own() {
    // A reinstall that lost the key, or a second device with its own key: the two keys'
    // records must not block each other. Key A reaches T, key B stays below, then reaches T.
    let params = Params::with_rate(4, 6, 0.0).unwrap();
    let f = fixture(40, params, 1);
    let o = f.opener();
    let (a, b) = (
        client(&f.db, &seeded_client_key(5)),
        client(&f.db, &seeded_client_key(6)),
    );
    let mut acc = Account::new(params, WINDOW);
    for i in 0..3 {
        acc.insert(open(
            &o,
            &make(
                &b,
                &f.listed[20 + i],
                &format!("b{i}"),
                SyntheticChoice::Real,
            ),
        ))
        .unwrap();
    }
    for i in 0..2 {
        acc.insert(open(
            &o,
            &make(
                &a,
                &sha(5_000 + i),
                &format!("s{i}"),
                SyntheticChoice::Synthetic,
            ),
        ))
        .unwrap();
    }
    for i in 0..4 {
        acc.insert(open(
            &o,
            &make(&a, &f.listed[i], &format!("a{i}"), SyntheticChoice::Real),
        ))
        .unwrap();
    }
    let out = acc.evaluate();
    assert_eq!(real_ids(&out), ["a0", "a1", "a2", "a3"]);
    let Outcome::Revealed { synthetic, .. } = &out else {
        unreachable!()
    };
    assert_eq!(ids(synthetic), ["b0", "b1", "b2", "s0", "s1"]);
    acc.insert(open(
        &o,
        &make(&b, &f.listed[23], "b3", SyntheticChoice::Real),
    ))
    .unwrap();
    assert_eq!(
        real_ids(&acc.evaluate()),
        ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
    );
}

#[test]
fn once_revealed_an_account_stays_revealed_whatever_arrives_later() {
    // T = 3, s_max = 2: after the reveal, 200 synthetic records (far beyond what decoding
    // can see through) arrive; the reveal stands, and a later real match is revealed too.
    let params = Params::with_rate(3, 2, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(7));
    let mut acc = Account::new(params, WINDOW);
    acc.set_decode_limit(16);
    for i in 0..3 {
        acc.insert(open(
            &o,
            &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
        ))
        .unwrap();
    }
    assert_eq!(real_ids(&acc.evaluate()), ["r0", "r1", "r2"]);
    for i in 0..200 {
        acc.insert(open(
            &o,
            &make(
                &c,
                &sha(7_000 + i),
                &format!("s{i}"),
                SyntheticChoice::Synthetic,
            ),
        ))
        .unwrap();
    }
    acc.insert(open(
        &o,
        &make(&c, &f.listed[3], "r3", SyntheticChoice::Real),
    ))
    .unwrap();
    assert_eq!(real_ids(&acc.evaluate()), ["r0", "r1", "r2", "r3"]);
    // The key survives a store round trip: a fresh account over the same records, given the
    // kept key, reveals the same without detection.
    let keys = acc.reveal_keys().to_vec();
    let mut again = Account::with_records(params, WINDOW, acc.records().cloned()).unwrap();
    again.set_decode_limit(16);
    for k in keys {
        again.add_reveal_key(RevealKey::from_bytes(&k.to_bytes()));
    }
    assert_eq!(real_ids(&again.evaluate()), ["r0", "r1", "r2", "r3"]);
    assert_eq!(format!("{:?}", acc.reveal_keys()[0]), "RevealKey(..)");
}

#[test]
fn an_account_at_capacity_drops_further_vouchers_and_says_so() {
    let params = Params::with_rate(3, 2, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(8));
    let mut acc = Account::new(params, WINDOW);
    acc.set_capacity(30);
    let mut dropped = 0;
    for i in 0..40 {
        let r = open(
            &o,
            &make(
                &c,
                &sha(8_000 + i),
                &format!("s{i}"),
                SyntheticChoice::Synthetic,
            ),
        );
        if acc.insert(r).unwrap() == Inserted::Dropped {
            dropped += 1;
        }
    }
    assert_eq!(dropped, 10);
    assert_eq!(acc.opened(), 30);
    assert_eq!(
        acc.evaluate(),
        Outcome::OverCapacity {
            opened: 30,
            dropped: 10
        }
    );
}

#[test]
fn decoding_runs_at_checkpoints_and_stops_for_good_beyond_the_limit() {
    // T = 3, s_max = 2, decode limit 8: 40 synthetic records are beyond the limit; 30 real
    // ones later do not make decoding run again (it cannot succeed), and nothing is revealed.
    let params = Params::with_rate(3, 2, 0.0).unwrap();
    let f = fixture(40, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(9));
    let mut acc = Account::new(params, WINDOW);
    acc.set_decode_limit(8);
    for i in 0..40 {
        acc.insert(open(
            &o,
            &make(
                &c,
                &sha(9_000 + i),
                &format!("s{i}"),
                SyntheticChoice::Synthetic,
            ),
        ))
        .unwrap();
        let out = acc.evaluate();
        assert!(
            matches!(
                out,
                Outcome::BelowThreshold { .. } | Outcome::Undecodable { .. }
            ),
            "{out:?}"
        );
    }
    // Beyond the limit the state is visible to the operator, and stays so.
    assert!(matches!(acc.evaluate(), Outcome::Undecodable { .. }));
    assert!(acc.evaluation_state().beyond_limit);
    for i in 0..30 {
        acc.insert(open(
            &o,
            &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
        ))
        .unwrap();
        assert!(matches!(acc.evaluate(), Outcome::Undecodable { .. }));
    }
    // A store that rebuilds the account keeps the schedule with the evaluation state.
    let state = acc.evaluation_state();
    let mut rebuilt = Account::with_records(params, WINDOW, acc.records().cloned()).unwrap();
    rebuilt.set_decode_limit(8);
    rebuilt.set_evaluation_state(state);
    assert!(matches!(rebuilt.evaluate(), Outcome::Undecodable { .. }));
    // With a limit that covers them, the same records reveal.
    let mut fresh = Account::with_records(params, WINDOW, acc.records().cloned()).unwrap();
    fresh.set_decode_limit(64);
    assert_eq!(real_ids(&fresh.evaluate()).len(), 30);
}

#[test]
fn the_default_device_policy_needs_the_pinned_root() {
    let f = fixture(20, Params::default(), 1);
    let key = seeded_client_key(10);
    let with = |p: DevicePolicy| Client::new(f.db.clone(), &key, ACCOUNT, &p).map(|_| ());
    let refused = Err(Error::PolicyRefused {
        param: Param::PolicyRoot,
    });
    assert_eq!(with(DevicePolicy::default()), refused);
    assert_eq!(with(DevicePolicy::default().pin_root([7; 32])), refused);
    assert_eq!(
        with(DevicePolicy::default().pin_root(*f.db.root_hash())),
        Ok(())
    );
    assert_eq!(
        with(DevicePolicy::default().allow_unpinned_database()),
        Ok(())
    );
    // The pin does not waive the other bounds.
    let weak = fixture(20, Params::with_rate(2, 4, 0.01).unwrap(), 1);
    assert_eq!(
        Client::new(
            weak.db.clone(),
            &key,
            ACCOUNT,
            &DevicePolicy::default().pin_root(*weak.db.root_hash())
        )
        .map(|_| ()),
        Err(Error::PolicyRefused {
            param: Param::PolicyThreshold
        })
    );
}

#[test]
fn crafted_table_cells_make_plain_non_matches_not_failures() {
    // A server signs a table whose even cells are not points (only the full audit refuses it):
    // a device that did the fast load still makes every voucher, and items whose lookup
    // touches a crafted cell simply do not match.
    let params = Params::with_rate(3, 2, 0.0).unwrap();
    let f = fixture(60, params, 1);
    let info = Inspected::read(&f.bytes).unwrap();
    let cells = info.manifest.cells as usize;
    let mut table = f.bytes[f.bytes.len() - cells * 32..].to_vec();
    for (i, cell) in table.chunks_exact_mut(32).enumerate() {
        if i % 2 == 0 {
            cell.fill(if i % 4 == 0 { 0xff } else { 0 });
        }
    }
    let bytes = assemble(&f.server, info.manifest.clone(), &table).unwrap();
    let db = Arc::new(Database::open(bytes, &f.public, None).unwrap());
    assert!(db.verify().is_err());
    let o = Opener::new(&f.server, db.manifest()).unwrap();
    let c = client(&db, &seeded_client_key(11));
    let mut opened = 0;
    for (i, x) in f.listed.iter().enumerate() {
        let v = make(&c, x, &format!("r{i}"), SyntheticChoice::Real);
        if matches!(o.open(&v, ACCOUNT).unwrap(), OpenOutcome::Opened(_)) {
            opened += 1;
        }
    }
    // Only items whose three cells are all intact (odd cells) match: (1/2)³ of them.
    assert!(opened < 30, "{opened} of 60 opened");
}

#[cfg(unix)]
#[test]
fn a_forked_process_makes_a_different_voucher_for_the_same_send() {
    // Parent and child share every byte of user-space state after fork; each voucher still
    // draws from the operating system, so the same item, id and associated data give
    // different vouchers (different β, γ, rkey) in the two processes.
    let params = Params::with_rate(3, 2, 0.0).unwrap();
    let f = fixture(4, params, 1);
    let c = client(&f.db, &seeded_client_key(12));
    let x = &f.listed[0];
    // Warm the thread-local generator before forking so that its state is shared.
    let _ = c.voucher(x, b"id", b"ad", NOW).unwrap();
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    let v = c.voucher(x, b"id", b"ad", NOW).unwrap();
    if pid == 0 {
        let n = unsafe { libc::write(fds[1], v.as_ptr().cast(), v.len()) };
        unsafe { libc::_exit(if n == v.len() as isize { 0 } else { 1 }) };
    }
    let mut theirs = vec![0u8; v.len()];
    let mut got = 0;
    while got < theirs.len() {
        let n = unsafe {
            libc::read(
                fds[0],
                theirs[got..].as_mut_ptr().cast(),
                theirs.len() - got,
            )
        };
        assert!(n > 0, "child wrote nothing");
        got += n as usize;
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0);
    assert_ne!(v, theirs);
    // Both are valid vouchers of the same item.
    let o = f.opener();
    assert!(matches!(
        o.open(&v, ACCOUNT).unwrap(),
        OpenOutcome::Opened(_)
    ));
    assert!(matches!(
        o.open(&theirs, ACCOUNT).unwrap(),
        OpenOutcome::Opened(_)
    ));
}

/// F_p arithmetic for forging records (p = 2^64 − 59).
const P: u64 = 0xFFFF_FFFF_FFFF_FFC5;
fn fp_mul(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(P)) as u64
}
fn fp_eval(c: &[u64], x: u64) -> u64 {
    c.iter().rev().fold(0u64, |acc, ci| {
        ((u128::from(fp_mul(acc, x)) + u128::from(*ci)) % u128::from(P)) as u64
    })
}

/// T records forming one consistent group (a made-up client key: its own DHF polynomials and
/// shares), with random associated-data ciphertexts — what a device that knows only public
/// values can file under an account (synthetic-shaped vouchers open for anyone).
fn forged_group(params: Params, seed: u64, n: usize) -> Vec<OpenedVoucher> {
    let t = params.threshold() as usize;
    let s = params.s_max() as usize;
    let v = |i: u64| {
        let mut h =
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03);
        h ^= h >> 31;
        h % P
    };
    let polys: Vec<Vec<u64>> = (0..s)
        .map(|i| (0..t - 1).map(|j| v(1000 + (i * 64 + j) as u64)).collect())
        .collect();
    (0..n)
        .map(|k| {
            let x0 = v(50_000 + k as u64);
            let dhf: Vec<u64> = polys.iter().map(|p| fp_eval(p, x0)).collect();
            let mut q = [0u8; 32];
            q[..8].copy_from_slice(&seed.to_le_bytes());
            q[8..16].copy_from_slice(&(k as u64).to_le_bytes());
            let mut share = [0u8; 32];
            share[..8].copy_from_slice(&v(90_000 + k as u64).to_le_bytes());
            OpenedVoucher::from_parts(WINDOW, b"forged", q, x0, share, &dhf, &[0x5A; 304]).unwrap()
        })
        .collect()
}

#[test]
fn forged_groups_filed_first_do_not_hide_the_genuine_one() {
    // Four, then nine, made-up "client keys" of T records each arrive before the genuine
    // records (the earlier code kept only the first four groups, for good). Every group is
    // tried — at most MAX_GROUP_ATTEMPTS per evaluation, none twice unchanged — so the genuine
    // one reveals, at the latest one evaluation later.
    for forged_keys in [4u64, 9] {
        let params = Params::with_rate(4, 40, 0.0).unwrap();
        let f = fixture(20, params, 1);
        let o = f.opener();
        let c = client(&f.db, &seeded_client_key(13));
        let mut acc = Account::new(params, WINDOW);
        for k in 0..forged_keys {
            for r in forged_group(params, 100 + k, 4) {
                acc.insert(r).unwrap();
            }
        }
        for i in 0..4 {
            acc.insert(open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            ))
            .unwrap();
        }
        let first = acc.evaluate();
        let out = if matches!(first, Outcome::Revealed { .. }) {
            first
        } else {
            acc.evaluate()
        };
        assert_eq!(
            real_ids(&out),
            ["r0", "r1", "r2", "r3"],
            "{forged_keys} forged keys"
        );
        let Outcome::Revealed { synthetic, .. } = out else {
            unreachable!()
        };
        assert_eq!(synthetic.len(), 4 * forged_keys as usize);
    }
}

#[test]
fn a_column_carrying_many_wrong_shares_costs_one_record_not_the_reveal() {
    // 34 copies of a real record with 34 different wrong shares (more than Berlekamp–Welch
    // corrects) arrive first. A column with two different shares gives no point, so the reveal
    // needs one more right share, not 35.
    let params = Params::with_rate(4, 3, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(14));
    let real: Vec<OpenedVoucher> = (0..5)
        .map(|i| {
            open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            )
        })
        .collect();
    let mut acc = Account::new(params, WINDOW);
    for k in 0..34u8 {
        let mut y = [0u8; 32];
        y[0] = k + 1;
        acc.insert(crafted(&real[0], b"evil", k + 1, Some(y), None))
            .unwrap();
    }
    for (k, r) in real.iter().enumerate() {
        acc.insert(r.clone()).unwrap();
        let out = acc.evaluate();
        if k + 1 < 5 {
            assert!(
                matches!(out, Outcome::BelowThreshold { .. }),
                "k = {}: {out:?}",
                k + 1
            );
        } else {
            assert_eq!(real_ids(&out), ["r0", "r1", "r2", "r3", "r4"]);
        }
    }
}

#[test]
fn a_store_that_rebuilds_accounts_still_reaches_the_genuine_group() {
    // Nine forged groups first, then the genuine records; the account is rebuilt from its
    // records for every evaluation (as the CLI and the service do), carrying only the
    // evaluation state. Key searches rotate through the groups, so the genuine one is reached
    // within a few checkpoints as records keep arriving.
    let params = Params::with_rate(4, 40, 0.0).unwrap();
    let f = fixture(20, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(15));
    let mut records: Vec<OpenedVoucher> = (0..9u64)
        .flat_map(|k| forged_group(params, 200 + k, 4))
        .collect();
    records.extend((0..4).map(|i| {
        open(
            &o,
            &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
        )
    }));
    let mut state = EvaluationState::default();
    let mut revealed_at = None;
    for round in 0..40u64 {
        let mut acc = Account::with_records(params, WINDOW, records.clone()).unwrap();
        acc.set_evaluation_state(state);
        if matches!(acc.evaluate(), Outcome::Revealed { .. }) {
            revealed_at = Some(round);
            break;
        }
        state = acc.evaluation_state();
        records.push(open(
            &o,
            &make(
                &c,
                &sha(11_000 + round),
                &format!("s{round}"),
                SyntheticChoice::Synthetic,
            ),
        ));
    }
    assert!(revealed_at.is_some(), "never revealed");
}

#[test]
fn made_up_keys_filed_in_bulk_do_not_blind_the_decoder() {
    // T = 10, s_max = 16: 20 random records and two made-up keys of 50 records each, filed
    // before the genuine ones. As errors, a made-up key's records lie in a low-rank space that
    // collaborative decoding cannot see through; the account finds such keys first (dense runs
    // of arrivals) and decodes the rest. The genuine group reveals about when it would among
    // 120 random records.
    let params = Params::with_rate(10, 16, 0.0).unwrap();
    let f = fixture(80, params, 1);
    let o = f.opener();
    let c = client(&f.db, &seeded_client_key(16));
    let genuine: Vec<OpenedVoucher> = (0..70)
        .map(|i| {
            open(
                &o,
                &make(&c, &f.listed[i], &format!("r{i}"), SyntheticChoice::Real),
            )
        })
        .collect();
    let reveal_at = |noise: Vec<OpenedVoucher>| {
        let mut acc = Account::new(params, WINDOW);
        for r in noise {
            acc.insert(r).unwrap();
        }
        for (k, r) in genuine.iter().enumerate() {
            acc.insert(r.clone()).unwrap();
            if matches!(acc.evaluate(), Outcome::Revealed { .. }) {
                return Some(k + 1);
            }
        }
        None
    };
    let random: Vec<OpenedVoucher> = (0..120u64)
        .flat_map(|i| forged_group(params, 10_000 + i, 1))
        .collect();
    let mut forged: Vec<OpenedVoucher> = (0..20u64)
        .flat_map(|i| forged_group(params, 20_000 + i, 1))
        .collect();
    forged.extend(forged_group(params, 301, 50));
    forged.extend(forged_group(params, 302, 50));
    let control = reveal_at(random).expect("the control reveals");
    let attacked = reveal_at(forged).expect("the genuine group reveals under made-up keys");
    assert!(
        attacked <= control + 8,
        "control {control}, attacked {attacked}"
    );
}
