//! `blindmatch bench`: each operation and, in the same run, its floor — the raw
//! curve25519-dalek (and SHA-256) operations it is made of — so the ratio is meaningful on a
//! noisy machine. Single-threaded unless the name says otherwise.

use crate::fail::{Context, Result};
use blindmatch_core::device::*;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use curve25519_dalek::constants::{RISTRETTO_BASEPOINT_POINT, RISTRETTO_BASEPOINT_TABLE};
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::traits::MultiscalarMul;
use curve25519_dalek::{RistrettoPoint, Scalar};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

#[derive(serde::Serialize)]
struct Row {
    operation: &'static str,
    us_per_op: f64,
    floor_us: f64,
    ratio: f64,
    note: String,
}

/// Median of `reps` runs of `f` (each doing `per` operations), in µs per operation.
fn time_us(reps: usize, per: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6 / per as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn hashes(n: u64, salt: u8) -> Vec<MediaHash> {
    (0..n)
        .map(|i| {
            let mut b = [salt; 32];
            b[..8].copy_from_slice(&i.to_le_bytes());
            MediaHash::new(HashKind::Sha256, &b).unwrap_or_else(|_| unreachable!())
        })
        .collect()
}

struct Floors {
    h2g: f64,
    var_mul: f64,
    multiscalar2: f64,
    fixed_base: f64,
    decompress: f64,
    batch_compress: f64,
    uniform_point: f64,
}

fn floors() -> Floors {
    let mut rng = rand::rng();
    let n = 2000;
    let xs = hashes(n as u64, 7);
    let pts: Vec<RistrettoPoint> = (0..n).map(|_| RistrettoPoint::random(&mut rng)).collect();
    let scalars: Vec<Scalar> = (0..n).map(|_| Scalar::random(&mut rng)).collect();
    let comp: Vec<CompressedRistretto> = pts.iter().map(|p| p.compress()).collect();
    let uniform: Vec<[u8; 64]> = (0..n)
        .map(|_| {
            let mut u = [0u8; 64];
            rand::Rng::fill_bytes(&mut rng, &mut u);
            u
        })
        .collect();
    let reps = 7;
    Floors {
        h2g: time_us(reps, n, || {
            for x in &xs {
                black_box(hash_to_group(x, DEFAULT_DST).ok());
            }
        }),
        var_mul: time_us(reps, n, || {
            for (p, s) in pts.iter().zip(&scalars) {
                black_box(p * s);
            }
        }),
        multiscalar2: time_us(reps, n, || {
            for (i, p) in pts.iter().enumerate() {
                black_box(RistrettoPoint::multiscalar_mul(
                    [scalars[i], scalars[(i + 1) % n]],
                    [*p, RISTRETTO_BASEPOINT_POINT],
                ));
            }
        }),
        fixed_base: time_us(reps, n, || {
            for s in &scalars {
                black_box(RISTRETTO_BASEPOINT_TABLE * s);
            }
        }),
        decompress: time_us(reps, n, || {
            for c in &comp {
                black_box(c.decompress());
            }
        }),
        batch_compress: time_us(reps, n, || {
            black_box(RistrettoPoint::double_and_compress_batch(&pts));
        }),
        uniform_point: time_us(reps, n, || {
            for u in &uniform {
                black_box(RistrettoPoint::from_uniform_bytes(u));
            }
        }),
    }
}

pub fn run(json: bool, entries: u64) -> Result<()> {
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .what("thread pool")?;
    let cores = rayon::current_num_threads();
    let f = single.install(floors);
    let mut rows = Vec::new();
    let mut row = |operation, us: f64, floor: f64, note: String| {
        rows.push(Row {
            operation,
            us_per_op: us,
            floor_us: floor,
            ratio: us / floor,
            note,
        });
    };

    // Database build, single core and all cores.
    let server = ServerSecretKey::generate();
    let public = server.public();
    let list = vec![SourceList {
        name: "bench".into(),
        hashes: hashes(entries, 1),
    }];
    let params = Params::new(30, 60, 10_000).what("params")?;
    let opts = BuildOptions {
        params,
        ..Default::default()
    };
    let t = Instant::now();
    let bytes = single
        .install(|| DatabaseBuilder::build(&server, &list, &opts))
        .what("build")?;
    let build_1 = t.elapsed().as_secs_f64() * 1e6 / entries as f64;
    let t = Instant::now();
    let bytes_par = DatabaseBuilder::build(&server, &list, &opts).what("build")?;
    let build_n = t.elapsed().as_secs_f64() * 1e6 / entries as f64;
    drop(bytes_par);
    let cells = Inspected::read(&bytes).what("inspect")?.manifest.cells as f64;
    let n = entries as f64;
    let build_floor =
        f.h2g + f.var_mul + (cells / n) * f.batch_compress + ((cells - n) / n) * f.uniform_point;
    row(
        "db_build_entry",
        build_1,
        build_floor,
        format!(
            "{entries} entries, 1 core; floor = H2G + var-base mul + batch compress + random free cells"
        ),
    );
    row(
        "db_build_entry_parallel",
        build_n,
        build_floor / cores as f64,
        format!(
            "{cores} cores: {:.0} entries/s, speed-up {:.2}×",
            1e6 / build_n,
            build_1 / build_n
        ),
    );

    // Fast load of the same file, against hashing its table once.
    let table_len = (cells as usize) * 32;
    let load = time_us(5, 1, || {
        black_box(Database::open(bytes.clone(), &public, None).ok());
    });
    let digest_floor = time_us(5, 1, || {
        let tail = &bytes[bytes.len() - table_len..];
        black_box(table_digest(tail));
    });
    row(
        "db_load",
        load,
        digest_floor,
        format!(
            "{entries} entries ({:.1} MB); floor = table digest",
            bytes.len() as f64 / 1e6
        ),
    );

    let db = Arc::new(Database::open(bytes.clone(), &public, None).what("open")?);
    let client = Client::new(db.clone(), &ClientKey::generate());
    let listed = &list[0].hashes;
    let mut rng = rand::rng();
    let k = 1000usize;
    let real_floor = f.h2g + 3.0 * f.decompress + 2.0 * f.multiscalar2 + 2.0 * f.batch_compress;
    let real = single.install(|| {
        time_us(5, k, || {
            for x in listed.iter().take(k) {
                black_box(
                    voucher_with_choice(
                        &client,
                        x,
                        b"bench",
                        b"",
                        SyntheticChoice::Real,
                        &mut rand::rng(),
                    )
                    .ok(),
                );
            }
        })
    });
    row(
        "voucher_real",
        real,
        real_floor,
        "floor = H2G + 3 decompress + 2 two-term multiscalar + 2 batch compress".into(),
    );
    let synth_floor = 2.0 * f.fixed_base + 2.0 * f.batch_compress;
    let synth = time_us(5, k, || {
        for x in listed.iter().take(k) {
            black_box(
                voucher_with_choice(
                    &client,
                    x,
                    b"bench",
                    b"",
                    SyntheticChoice::Synthetic,
                    &mut rand::rng(),
                )
                .ok(),
            );
        }
    });
    row(
        "voucher_synthetic",
        synth,
        synth_floor,
        "floor = 2 fixed-base mul + 2 batch compress".into(),
    );

    let opener = Opener::new(&server, db.manifest()).what("opener")?;
    let vouchers: Vec<Vec<u8>> = listed
        .iter()
        .take(k)
        .map(|x| voucher_with_choice(&client, x, b"bench", b"ad", SyntheticChoice::Real, &mut rng))
        .collect::<std::result::Result<_, _>>()
        .what("voucher")?;
    let open_floor = f.decompress + f.var_mul + f.batch_compress;
    let open1 = time_us(5, k, || {
        for v in &vouchers {
            black_box(opener.open(v).ok());
        }
    });
    row(
        "open",
        open1,
        open_floor,
        "floor = decompress + var-base mul + compress".into(),
    );
    let open_b1 =
        single.install(|| time_us(5, k, || drop(black_box(opener.open_batch(&vouchers)))));
    row(
        "open_batch",
        open_b1,
        open_floor,
        "1 core, batched compression".into(),
    );
    let open_bn = time_us(5, k, || drop(black_box(opener.open_batch(&vouchers))));
    row(
        "open_batch_parallel",
        open_bn,
        open_floor / cores as f64,
        format!("{cores} cores: {:.0} vouchers/s", 1e6 / open_bn),
    );

    // Reveal with T = 30, s_max = 60: 30 real + 60 synthetic opened vouchers.
    let mut account = Account::new(params);
    for v in vouchers.iter().take(30) {
        if let Ok(OpenOutcome::Opened(r)) = opener.open(v) {
            account.insert(r).what("account")?;
        }
    }
    for x in hashes(60, 9).iter() {
        let v = voucher_with_choice(&client, x, b"s", b"", SyntheticChoice::Synthetic, &mut rng)
            .what("voucher")?;
        if let Ok(OpenOutcome::Opened(r)) = opener.open(&v) {
            account.insert(r).what("account")?;
        }
    }
    let reveal = time_us(5, 1, || {
        black_box(account.evaluate().ok());
    });
    // Floor: the Lagrange coefficients (T² scalar products and T inversions) — the only
    // group-order arithmetic in the reveal.
    let sc: Vec<Scalar> = (0..30).map(|_| Scalar::random(&mut rng)).collect();
    let lagrange = time_us(5, 1, || {
        let mut acc = Scalar::ONE;
        for a in &sc {
            for b in &sc {
                acc *= a - b + Scalar::ONE;
            }
        }
        let mut inv = sc.clone();
        black_box(Scalar::invert_batch_alloc(&mut inv));
        for s in &sc {
            black_box(s.invert());
        }
        black_box(acc);
    });
    row(
        "reveal",
        reveal,
        lagrange,
        "T = 30, s_max = 60, 90 opened; floor = Lagrange scalar work".into(),
    );

    if json {
        println!("{}", serde_json::to_string_pretty(&rows).what("json")?);
        return Ok(());
    }
    println!("blindmatch bench — {cores} cores; floors measured in this run (curve25519-dalek)");
    println!(
        "raw: H2G {:.1} µs, var-base mul {:.1}, 2-term multiscalar {:.1}, fixed-base {:.1}, decompress {:.1}, batch compress {:.2}, uniform point {:.1}",
        f.h2g,
        f.var_mul,
        f.multiscalar2,
        f.fixed_base,
        f.decompress,
        f.batch_compress,
        f.uniform_point
    );
    println!(
        "{:<24} {:>12} {:>12} {:>7}  note",
        "operation", "µs/op", "floor µs", "ratio"
    );
    for r in &rows {
        println!(
            "{:<24} {:>12.2} {:>12.2} {:>7.2}  {}",
            r.operation, r.us_per_op, r.floor_us, r.ratio, r.note
        );
    }
    Ok(())
}
