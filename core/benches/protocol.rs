//! Criterion benches for every protocol operation (the CLI's `blindmatch bench` prints the
//! same operations next to their curve25519-dalek floors).
#![allow(missing_docs)]

use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;

/// The account the benches' vouchers are made for.
const ACCOUNT: &[u8] = b"bench";
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn hashes(n: u64, salt: u8) -> Vec<MediaHash> {
    (0..n)
        .map(|i| {
            let mut b = [salt; 32];
            b[..8].copy_from_slice(&i.to_le_bytes());
            MediaHash::new(HashKind::Sha256, &b).unwrap()
        })
        .collect()
}

struct Setup {
    server: ServerSecretKey,
    bytes: Vec<u8>,
    db: Arc<Database>,
    client: Client,
    listed: Vec<MediaHash>,
}

fn setup(n: u64) -> Setup {
    let server = ServerSecretKey::generate();
    let listed = hashes(n, 1);
    let opts = BuildOptions {
        params: Params::new(30, 60, 10_000, 10_000).unwrap(),
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(
        &server,
        &[SourceList {
            name: "b".into(),
            hashes: listed.clone(),
        }],
        &opts,
    )
    .unwrap();
    let db = Arc::new(Database::open(bytes.clone(), &server.public(), None).unwrap());
    let client = Client::new(
        db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::default(),
    )
    .unwrap();
    Setup {
        server,
        bytes,
        db,
        client,
        listed,
    }
}

fn benches(c: &mut Criterion) {
    let s = setup(100_000);
    let mut g = c.benchmark_group("protocol");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500));

    g.bench_function("hash_to_group", |b| {
        b.iter(|| hash_to_group(black_box(&s.listed[0]), DEFAULT_DST).unwrap())
    });

    let list = vec![SourceList {
        name: "b".into(),
        hashes: hashes(10_000, 2),
    }];
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("db_build_10k_entries", |b| {
        b.iter(|| DatabaseBuilder::build(&s.server, &list, &BuildOptions::default()).unwrap())
    });
    g.throughput(Throughput::Elements(1));

    let mut rng = rand::rng();
    g.bench_function("voucher_real", |b| {
        b.iter(|| {
            voucher_with_choice(
                &s.client,
                &s.listed[7],
                b"id",
                b"ad",
                0,
                SyntheticChoice::Real,
                &mut rng,
            )
            .unwrap()
        })
    });
    g.bench_function("voucher_synthetic", |b| {
        b.iter(|| {
            voucher_with_choice(
                &s.client,
                &s.listed[7],
                b"id",
                b"ad",
                0,
                SyntheticChoice::Synthetic,
                &mut rng,
            )
            .unwrap()
        })
    });

    let opener = Opener::new(&s.server, s.db.manifest()).unwrap();
    let v = voucher_with_choice(
        &s.client,
        &s.listed[3],
        b"id",
        b"ad",
        0,
        SyntheticChoice::Real,
        &mut rng,
    )
    .unwrap();
    g.bench_function("open", |b| {
        b.iter(|| opener.open(black_box(&v), ACCOUNT).unwrap())
    });
    let batch: Vec<Vec<u8>> = s
        .listed
        .iter()
        .take(1000)
        .map(|x| {
            voucher_with_choice(
                &s.client,
                x,
                b"id",
                b"ad",
                0,
                SyntheticChoice::Real,
                &mut rng,
            )
            .unwrap()
        })
        .collect();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("open_batch_1000", |b| {
        b.iter(|| opener.open_batch(black_box(&batch), ACCOUNT))
    });
    g.throughput(Throughput::Elements(1));

    let mut account = Account::new(*s.db.params(), 0);
    for v in batch.iter().take(30) {
        if let OpenOutcome::Opened(r) = opener.open(v, ACCOUNT).unwrap() {
            account.insert(r).expect("same s_max");
        }
    }
    for x in hashes(60, 9) {
        let v = voucher_with_choice(
            &s.client,
            &x,
            b"s",
            b"",
            0,
            SyntheticChoice::Synthetic,
            &mut rng,
        )
        .unwrap();
        if let OpenOutcome::Opened(r) = opener.open(&v, ACCOUNT).unwrap() {
            account.insert(r).expect("same s_max");
        }
    }
    assert!(matches!(
        account.clone().evaluate(),
        Outcome::Revealed { .. }
    ));
    // A fresh evaluation each time (a clone: a revealed account keeps its key).
    g.bench_function("reveal_t30_s60", |b| b.iter(|| account.clone().evaluate()));

    let public = s.server.public();
    g.bench_function("db_fast_load_100k", |b| {
        b.iter_batched(
            || s.bytes.clone(),
            |bytes| Database::open(bytes, &public, None).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.sample_size(10);
    g.bench_function("db_verify_100k", |b| b.iter(|| s.db.verify().unwrap()));
    g.finish();
}

criterion_group!(protocol, benches);
criterion_main!(protocol);
