//! Per-voucher cost in Rust, the baseline for the same measurement from Python
//! (`examples/python/voucher_timing.py`) and Kotlin (`examples/kotlin/VoucherTiming.kt`).
//! `scripts/bench-bindings.sh` runs the three side by side.
//!
//! Protocol shared by all three: a database of 1000 SHA-256 hashes (T = 30, s_max = 60,
//! synthetic rate 0, so every voucher is real and costs the same; rate 0 is below the device
//! policy's floor, so the maker uses the insecure test policy), core's default window schedule
//! and a fixed time in its first window (the measurement does not depend on the clock); 200
//! warm-up vouchers; then
//! `ROUNDS` rounds of `N` vouchers for listed hashes, 16-byte ids, 32 bytes of associated
//! data. Prints the median and the minimum of the per-round mean, in µs per voucher, for
//! one `create_voucher` call per voucher and for `create_vouchers` batches of 100.
//!
//! Run: `cargo run --release -p blindmatch-bindings --example voucher_timing -- [N] [ROUNDS]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use blindmatch::{
    BuildOptions, ClientKey, Database, HashList, ServerKey, VoucherMaker, VoucherRequest, sha256,
};
use std::time::Instant;

fn stats(mut per_round: Vec<f64>) -> (f64, f64) {
    per_round.sort_by(|a, b| a.total_cmp(b));
    (per_round[per_round.len() / 2], per_round[0])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1000, |a| a.parse().expect("N"));
    let rounds: usize = args.next().map_or(7, |a| a.parse().expect("ROUNDS"));

    let server = ServerKey::generate();
    let hashes: Vec<_> = (0..1000)
        .map(|i| sha256(format!("item {i}").into_bytes()).unwrap())
        .collect();
    let options = BuildOptions::new(30, 60, 0, 0).unwrap().with_epoch(1);
    let bytes = server
        .build_database(
            vec![HashList {
                name: "bench".into(),
                hashes: hashes.clone(),
            }],
            options,
        )
        .unwrap();
    let db = Database::from_bytes(bytes.clone(), server.public_key(), None).unwrap();
    let key = ClientKey::generate();
    let account = b"bench-account".to_vec();
    let maker =
        VoucherMaker::new_with_insecure_test_policy(db.clone(), key.clone(), account.clone())
            .unwrap();
    let now = db.window_start(0);
    let ad = vec![0x5a_u8; 32];
    let id = b"0123456789abcdef".to_vec();

    // The bindings crate's API called from Rust: the same function the FFI calls, minus the FFI.
    for i in 0..200 {
        maker
            .create_voucher(hashes[i % 1000].clone(), id.clone(), ad.clone(), now)
            .unwrap();
    }
    let mut via_bindings = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..n {
            let v = maker
                .create_voucher(hashes[i % 1000].clone(), id.clone(), ad.clone(), now)
                .unwrap();
            std::hint::black_box(v);
        }
        via_bindings.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }

    // The batch call, 100 vouchers per call.
    let requests: Vec<VoucherRequest> = (0..n)
        .map(|i| VoucherRequest {
            hash: hashes[i % 1000].clone(),
            id: id.clone(),
            associated_data: ad.clone(),
        })
        .collect();
    let mut batched = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for chunk in requests.chunks(100) {
            std::hint::black_box(maker.create_vouchers(chunk.to_vec(), now).unwrap());
        }
        batched.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }

    // blindmatch-core directly.
    let core_key = blindmatch_core::ClientKey::import(&key.export()).unwrap();
    let core_db = blindmatch_core::Database::open(
        bytes,
        &blindmatch_core::ServerPublicKey::from_bytes(&server.public_key()).unwrap(),
        None,
    )
    .unwrap();
    let client = blindmatch_core::device::Client::new(
        std::sync::Arc::new(core_db),
        &core_key,
        &account,
        &blindmatch_core::device::DevicePolicy::permissive_for_tests(),
    )
    .unwrap();
    let core_hashes: Vec<_> = hashes
        .iter()
        .map(|h| blindmatch_core::MediaHash::new(h.kind, &h.bytes).unwrap())
        .collect();
    for i in 0..200 {
        client
            .voucher(&core_hashes[i % 1000], &id, &ad, now)
            .unwrap();
    }
    let mut via_core = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..n {
            std::hint::black_box(
                client
                    .voucher(&core_hashes[i % 1000], &id, &ad, now)
                    .unwrap(),
            );
        }
        via_core.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }

    let (med, min) = stats(via_core);
    println!("rust-core      n={n} rounds={rounds} median_us={med:.1} min_us={min:.1}");
    let (med, min) = stats(via_bindings);
    println!("rust-bindings  n={n} rounds={rounds} median_us={med:.1} min_us={min:.1}");
    let (med, min) = stats(batched);
    println!("rust-batch100  n={n} rounds={rounds} median_us={med:.1} min_us={min:.1}");
}
