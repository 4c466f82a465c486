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

/// One run: the single-core pool, the core count, this run's floors and the rows so far.
struct Bench {
    single: rayon::ThreadPool,
    cores: usize,
    floors: Floors,
    rows: Vec<Row>,
}

impl Bench {
    fn row(&mut self, operation: &'static str, us: f64, floor: f64, note: String) {
        self.rows.push(Row {
            operation,
            us_per_op: us,
            floor_us: floor,
            ratio: us / floor,
            note,
        });
    }
}

/// The database the later steps use: its key, listed hashes, parameters and file bytes.
struct Built {
    server: ServerSecretKey,
    public: ServerPublicKey,
    listed: Vec<MediaHash>,
    params: Params,
    bytes: Vec<u8>,
    cells: f64,
}

/// The device and server sides over the built database, and 1000 real vouchers to open.
struct Parties {
    client: Client,
    opener: Opener,
    vouchers: Vec<Vec<u8>>,
}

/// Vouchers per timed repetition.
const K: usize = 1000;

pub fn run(json: bool, entries: u64) -> Result<()> {
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .what("thread pool")?;
    let cores = rayon::current_num_threads();
    let floors = single.install(floors);
    let mut b = Bench {
        single,
        cores,
        floors,
        rows: Vec::new(),
    };
    let built = database_build(&mut b, entries)?;
    database_load(&mut b, &built, entries);
    let parties = parties(&built)?;
    voucher_making(&mut b, &parties.client, &built.listed);
    opening(&mut b, &parties);
    reveal(&mut b, built.params, &parties)?;
    print(&b, json)
}

/// Database build, single core and all cores.
fn database_build(b: &mut Bench, entries: u64) -> Result<Built> {
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
    let bytes = b
        .single
        .install(|| DatabaseBuilder::build(&server, &list, &opts))
        .what("build")?;
    let build_1 = t.elapsed().as_secs_f64() * 1e6 / entries as f64;
    let t = Instant::now();
    let bytes_par = DatabaseBuilder::build(&server, &list, &opts).what("build")?;
    let build_n = t.elapsed().as_secs_f64() * 1e6 / entries as f64;
    drop(bytes_par);
    let cells = Inspected::read(&bytes).what("inspect")?.manifest.cells as f64;
    let n = entries as f64;
    let f = &b.floors;
    let build_floor =
        f.h2g + f.var_mul + (cells / n) * f.batch_compress + ((cells - n) / n) * f.uniform_point;
    b.row(
        "db_build_entry",
        build_1,
        build_floor,
        format!(
            "{entries} entries, 1 core; floor = H2G + var-base mul + batch compress + random free cells"
        ),
    );
    let cores = b.cores;
    b.row(
        "db_build_entry_parallel",
        build_n,
        build_floor / cores as f64,
        format!(
            "{cores} cores: {:.0} entries/s, speed-up {:.2}×",
            1e6 / build_n,
            build_1 / build_n
        ),
    );
    Ok(Built {
        server,
        public,
        listed: list.into_iter().flat_map(|l| l.hashes).collect(),
        params,
        bytes,
        cells,
    })
}

/// Fast load of the same file, against hashing its table once.
fn database_load(b: &mut Bench, built: &Built, entries: u64) {
    let (public, bytes) = (&built.public, &built.bytes);
    let table_len = (built.cells as usize) * 32;
    let load = time_us(5, 1, || {
        black_box(Database::open(bytes.clone(), public, None).ok());
    });
    let digest_floor = time_us(5, 1, || {
        let tail = &bytes[bytes.len() - table_len..];
        black_box(table_digest(tail));
    });
    b.row(
        "db_load",
        load,
        digest_floor,
        format!(
            "{entries} entries ({:.1} MB); floor = table digest",
            bytes.len() as f64 / 1e6
        ),
    );
}

/// Open the database as a device, set up the opener, and make the vouchers to open.
fn parties(built: &Built) -> Result<Parties> {
    let db = Arc::new(Database::open(built.bytes.clone(), &built.public, None).what("open")?);
    let client = Client::new(db.clone(), &ClientKey::generate());
    let opener = Opener::new(&built.server, db.manifest()).what("opener")?;
    let mut rng = rand::rng();
    let vouchers: Vec<Vec<u8>> = built
        .listed
        .iter()
        .take(K)
        .map(|x| voucher_with_choice(&client, x, b"bench", b"ad", SyntheticChoice::Real, &mut rng))
        .collect::<std::result::Result<_, _>>()
        .what("voucher")?;
    Ok(Parties {
        client,
        opener,
        vouchers,
    })
}

/// `K` vouchers of each choice over listed hashes, timed per voucher.
fn time_vouchers(client: &Client, listed: &[MediaHash], choice: SyntheticChoice) -> f64 {
    time_us(5, K, || {
        for x in listed.iter().take(K) {
            black_box(voucher_with_choice(client, x, b"bench", b"", choice, &mut rand::rng()).ok());
        }
    })
}

/// Real vouchers (single core) and synthetic ones.
fn voucher_making(b: &mut Bench, client: &Client, listed: &[MediaHash]) {
    let f = &b.floors;
    let real_floor = f.h2g + 3.0 * f.decompress + 2.0 * f.multiscalar2 + 2.0 * f.batch_compress;
    let synth_floor = 2.0 * f.fixed_base + 2.0 * f.batch_compress;
    let real = b
        .single
        .install(|| time_vouchers(client, listed, SyntheticChoice::Real));
    b.row(
        "voucher_real",
        real,
        real_floor,
        "floor = H2G + 3 decompress + 2 two-term multiscalar + 2 batch compress".into(),
    );
    let synth = time_vouchers(client, listed, SyntheticChoice::Synthetic);
    b.row(
        "voucher_synthetic",
        synth,
        synth_floor,
        "floor = 2 fixed-base mul + 2 batch compress".into(),
    );
}

/// Opening one by one, batched on one core, and batched on all cores.
fn opening(b: &mut Bench, p: &Parties) {
    let (opener, vouchers) = (&p.opener, &p.vouchers);
    let f = &b.floors;
    let open_floor = f.decompress + f.var_mul + f.batch_compress;
    let open1 = time_us(5, K, || {
        for v in vouchers {
            black_box(opener.open(v).ok());
        }
    });
    b.row(
        "open",
        open1,
        open_floor,
        "floor = decompress + var-base mul + compress".into(),
    );
    let open_b1 = b
        .single
        .install(|| time_us(5, K, || drop(black_box(opener.open_batch(vouchers)))));
    b.row(
        "open_batch",
        open_b1,
        open_floor,
        "1 core, batched compression".into(),
    );
    let open_bn = time_us(5, K, || drop(black_box(opener.open_batch(vouchers))));
    let cores = b.cores;
    b.row(
        "open_batch_parallel",
        open_bn,
        open_floor / cores as f64,
        format!("{cores} cores: {:.0} vouchers/s", 1e6 / open_bn),
    );
}

/// An account at T = 30, s_max = 60: 30 real + 60 synthetic opened vouchers.
fn full_account(params: Params, p: &Parties) -> Result<Account> {
    let mut rng = rand::rng();
    let mut account = Account::new(params);
    for v in p.vouchers.iter().take(30) {
        if let Ok(OpenOutcome::Opened(r)) = p.opener.open(v) {
            account.insert(r).what("account")?;
        }
    }
    for x in hashes(60, 9).iter() {
        let v = voucher_with_choice(
            &p.client,
            x,
            b"s",
            b"",
            SyntheticChoice::Synthetic,
            &mut rng,
        )
        .what("voucher")?;
        if let Ok(OpenOutcome::Opened(r)) = p.opener.open(&v) {
            account.insert(r).what("account")?;
        }
    }
    Ok(account)
}

/// The reveal's floor: the Lagrange coefficients (T² scalar products and T inversions) — the
/// only group-order arithmetic in the reveal.
fn lagrange_floor() -> f64 {
    let mut rng = rand::rng();
    let sc: Vec<Scalar> = (0..30).map(|_| Scalar::random(&mut rng)).collect();
    time_us(5, 1, || {
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
    })
}

/// Reveal with T = 30, s_max = 60: 30 real + 60 synthetic opened vouchers.
fn reveal(b: &mut Bench, params: Params, p: &Parties) -> Result<()> {
    let account = full_account(params, p)?;
    let reveal = time_us(5, 1, || {
        black_box(account.evaluate().ok());
    });
    let lagrange = lagrange_floor();
    b.row(
        "reveal",
        reveal,
        lagrange,
        "T = 30, s_max = 60, 90 opened; floor = Lagrange scalar work".into(),
    );
    Ok(())
}

/// The rows as JSON, or the raw floors and a table.
fn print(b: &Bench, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&b.rows).what("json")?);
        return Ok(());
    }
    let f = &b.floors;
    println!(
        "blindmatch bench — {} cores; floors measured in this run (curve25519-dalek)",
        b.cores
    );
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
    for r in &b.rows {
        println!(
            "{:<24} {:>12.2} {:>12.2} {:>7.2}  {}",
            r.operation, r.us_per_op, r.floor_us, r.ratio, r.note
        );
    }
    Ok(())
}
