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

/// The account bench vouchers are made for.
const ACCOUNT: &[u8] = b"bench";

/// Vouchers per timed repetition.
const K: usize = 1000;

pub fn run(json: bool, entries: u64, smax_costs: &[u32]) -> Result<()> {
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
    fuzzy(&mut b, &built)?;
    account_costs(&mut b, smax_costs)?;
    account_insert_100k(&mut b)?;
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
    let params = Params::default();
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
    let client = Client::new(
        db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::default().pin_root(*db.root_hash()),
    )
    .what("client")?;
    let opener = Opener::new(&built.server, db.manifest()).what("opener")?;
    let mut rng = rand::rng();
    let vouchers: Vec<Vec<u8>> = built
        .listed
        .iter()
        .take(K)
        .map(|x| {
            voucher_with_choice(
                &client,
                x,
                b"bench",
                b"ad",
                0,
                SyntheticChoice::Real,
                &mut rng,
            )
        })
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
            black_box(
                voucher_with_choice(client, x, b"bench", b"", 0, choice, &mut rand::rng()).ok(),
            );
        }
    })
}

/// Real and synthetic vouchers, single core, measured alternately (three rounds each, the
/// median kept) so that drift on a noisy machine hits both alike.
fn voucher_making(b: &mut Bench, client: &Client, listed: &[MediaHash]) {
    let f = &b.floors;
    let real_floor = f.h2g + 3.0 * f.decompress + 2.0 * f.multiscalar2 + 2.0 * f.batch_compress;
    let (mut real, mut synth) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        real.push(
            b.single
                .install(|| time_vouchers(client, listed, SyntheticChoice::Real)),
        );
        synth.push(
            b.single
                .install(|| time_vouchers(client, listed, SyntheticChoice::Synthetic)),
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (real, synth) = (median(&mut real), median(&mut synth));
    b.row(
        "voucher_real",
        real,
        real_floor,
        "floor = H2G + 3 decompress + 2 two-term multiscalar + 2 batch compress".into(),
    );
    // Constant work: the ratio column is synthetic / real, measured side by side.
    b.row(
        "voucher_synthetic",
        synth,
        real,
        "constant work: floor = voucher_real of this run, so ratio = synthetic / real".into(),
    );
}

/// Opening one by one, batched on one core, and batched on all cores.
fn opening(b: &mut Bench, p: &Parties) {
    let (opener, vouchers) = (&p.opener, &p.vouchers);
    let f = &b.floors;
    let open_floor = f.decompress + f.var_mul + f.batch_compress;
    let open1 = time_us(5, K, || {
        for v in vouchers {
            black_box(opener.open(v, ACCOUNT).ok());
        }
    });
    b.row(
        "open",
        open1,
        open_floor,
        "floor = decompress + var-base mul + compress".into(),
    );
    let open_b1 = b.single.install(|| {
        time_us(5, K, || {
            drop(black_box(opener.open_batch(vouchers, ACCOUNT)))
        })
    });
    b.row(
        "open_batch",
        open_b1,
        open_floor,
        "1 core, batched compression".into(),
    );
    let open_bn = time_us(5, K, || {
        drop(black_box(opener.open_batch(vouchers, ACCOUNT)))
    });
    let cores = b.cores;
    b.row(
        "open_batch_parallel",
        open_bn,
        open_floor / cores as f64,
        format!("{cores} cores: {:.0} vouchers/s", 1e6 / open_bn),
    );
}

/// Probe bundles on a fuzzy database of the recommended layout (K = 84 layers): making a
/// real and a synthetic bundle (single core, alternately) and opening one (single core).
/// The items are synthetic PDQ hashes with pseudo-random margins; half of them are listed.
fn fuzzy(b: &mut Bench, built: &Built) -> Result<()> {
    use blindmatch_core::fuzzy::FuzzyLayout;
    use blindmatch_core::media::pdq::{HashMargins, PdqHash};
    let layout = FuzzyLayout::RECOMMENDED;
    let k = layout.layers() as f64;
    let n = 64u8;
    let items: Vec<HashMargins> = (0..n)
        .map(|i| HashMargins {
            hash: PdqHash(std::array::from_fn(|j| {
                (j as u8).wrapping_mul(131) ^ i.wrapping_mul(59)
            })),
            margins: std::array::from_fn(|m| ((m * 37 + usize::from(i) * 11) % 97) as f32),
        })
        .collect();
    let listed: Vec<MediaHash> = items
        .iter()
        .step_by(2)
        .map(|m| MediaHash::new(HashKind::Pdq, &m.hash.0))
        .collect::<std::result::Result<_, _>>()
        .what("pdq")?;
    let opts = BuildOptions {
        params: built.params,
        fuzzy: Some(layout),
        ..Default::default()
    };
    let bytes = DatabaseBuilder::build(
        &built.server,
        &[SourceList {
            name: "bench".into(),
            hashes: listed,
        }],
        &opts,
    )
    .what("fuzzy database")?;
    let db = Arc::new(Database::open(bytes, &built.public, None).what("open")?);
    let client = Client::new(
        db.clone(),
        &ClientKey::generate(),
        ACCOUNT,
        &DevicePolicy::default().pin_root(*db.root_hash()),
    )
    .what("client")?;
    let opener = Opener::new(&built.server, db.manifest()).what("opener")?;
    let make = |choice| {
        time_us(3, items.len(), || {
            for m in &items {
                black_box(
                    bundle_with_choice(&client, m, b"bench", b"", 0, choice, &mut rand::rng()).ok(),
                );
            }
        })
    };
    let (mut real, mut synth) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        real.push(b.single.install(|| make(SyntheticChoice::Real)));
        synth.push(b.single.install(|| make(SyntheticChoice::Synthetic)));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (real, synth) = (median(&mut real), median(&mut synth));
    let (h2g, dec, ms2, bc, vm) = (
        b.floors.h2g,
        b.floors.decompress,
        b.floors.multiscalar2,
        b.floors.batch_compress,
        b.floors.var_mul,
    );
    let per_layer = h2g + 3.0 * dec + 2.0 * ms2 + 2.0 * bc;
    b.row(
        "bundle_real",
        real,
        k * per_layer,
        format!("K = {k} layers; floor = K × (H2G + 3 decompress + 2 two-term multiscalar + 2 batch compress)"),
    );
    b.row(
        "bundle_synthetic",
        synth,
        real,
        "constant work: floor = bundle_real of this run, so ratio = synthetic / real".into(),
    );
    let mut rng = rand::rng();
    let bundles: Vec<Vec<u8>> = items
        .iter()
        .map(|m| {
            bundle_with_choice(
                &client,
                m,
                b"bench",
                b"ad",
                0,
                SyntheticChoice::Real,
                &mut rng,
            )
        })
        .collect::<std::result::Result<_, _>>()
        .what("bundle")?;
    let len = bundles.first().map_or(0, Vec::len);
    let open = b.single.install(|| {
        time_us(3, bundles.len(), || {
            for v in &bundles {
                black_box(opener.open_bundle(v, ACCOUNT).ok());
            }
        })
    });
    b.row(
        "bundle_open",
        open,
        k * (dec + vm + bc),
        format!("1 core, all K layers tried; floor = K × (decompress + var-base mul + compress); {len} bytes per bundle"),
    );
    Ok(())
}

/// An account at the default T and s_max: T real + s_max synthetic opened vouchers.
fn full_account(params: Params, p: &Parties) -> Result<Account> {
    let mut rng = rand::rng();
    let mut account = Account::new(params, 0);
    for v in p.vouchers.iter().take(params.threshold() as usize) {
        if let Ok(OpenOutcome::Opened(r)) = p.opener.open(v, ACCOUNT) {
            account.insert(r).what("account")?;
        }
    }
    for x in hashes(u64::from(params.s_max()), 9).iter() {
        let v = voucher_with_choice(
            &p.client,
            x,
            b"s",
            b"",
            0,
            SyntheticChoice::Synthetic,
            &mut rng,
        )
        .what("voucher")?;
        if let Ok(OpenOutcome::Opened(r)) = p.opener.open(&v, ACCOUNT) {
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

/// Reveal with the default T and s_max: T real + s_max synthetic opened vouchers.
fn reveal(b: &mut Bench, params: Params, p: &Parties) -> Result<()> {
    let account = full_account(params, p)?;
    let reveal = time_us(5, 1, || {
        black_box(account.clone().evaluate());
    });
    let lagrange = lagrange_floor();
    b.row(
        "reveal",
        reveal,
        lagrange,
        format!(
            "T = {}, s_max = {}, {} opened; floor = Lagrange scalar work",
            params.threshold(),
            params.s_max(),
            account.opened()
        ),
    );
    Ok(())
}

/// `(T − 1 + s)²` multiply-adds modulo p = 2^64 − 59: the floor of one elimination step.
fn fp_step_floor(rows: usize) -> f64 {
    const P: u128 = 0xFFFF_FFFF_FFFF_FFC5;
    let v: Vec<u64> = (0..rows as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    time_us(5, 1, || {
        let mut acc = 1u128;
        for a in &v {
            for c in &v {
                acc = (acc * u128::from(*a) + u128::from(*c)) % P;
            }
        }
        black_box(acc);
    })
}

/// A client and an opener over a small database with `params` listing `items`.
fn small_world(params: Params, items: &[MediaHash]) -> Result<(Client, Opener)> {
    let server = ServerSecretKey::generate();
    let opts = BuildOptions {
        params,
        ..Default::default()
    };
    let list = [SourceList {
        name: "bench".into(),
        hashes: items.to_vec(),
    }];
    let bytes = DatabaseBuilder::build(&server, &list, &opts).what("build")?;
    let db = Arc::new(Database::open(bytes, &server.public(), None).what("open")?);
    let opener = Opener::new(&server, db.manifest()).what("opener")?;
    let policy = DevicePolicy::permissive_for_tests();
    let client = Client::new(db, &ClientKey::generate(), ACCOUNT, &policy).what("client")?;
    Ok((client, opener))
}

/// Records as the server stores them, from the record-level simulation of listed items.
fn simulated_records(params: Params, n: u64) -> Result<Vec<OpenedVoucher>> {
    let items = hashes(n, 11);
    let (client, _) = small_world(params, &items)?;
    let mut rng = rand::rng();
    let mut out = Vec::new();
    for x in &items {
        let r = simulated_record(&client, x, true, b"b", b"", 0, &mut rng).what("record")?;
        out.extend(r.map(|r| r.record));
    }
    Ok(out)
}

/// The server's cost per inserted record (one elimination step) at s_max 60, 250 and 1000,
/// measured on a full basis.
fn account_costs(b: &mut Bench, smax: &[u32]) -> Result<()> {
    for &s in smax {
        let name: &'static str = match s {
            60 => "account_insert_s60",
            250 => "account_insert_s250",
            1000 => "account_insert_s1000",
            _ => "account_insert",
        };
        // Synthetic records (rate ≈ 1) cost the most: they reduce against every basis vector.
        let params = Params::new(30, s, 999_999, 999_999).what("params")?;
        let rows = 29 + s as usize;
        let recs = simulated_records(params, rows as u64 + 120)?;
        let (head, tail) = recs.split_at(rows.min(recs.len()));
        let mut acc = Account::with_records(params, 0, head.to_vec()).what("account")?;
        let t = Instant::now();
        for r in tail {
            acc.insert(r.clone()).what("account")?;
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / tail.len().max(1) as f64;
        let note = format!(
            "T = 30, s_max = {s}, synthetic records on a full basis; floor = (T-1+s)² mul-adds mod p"
        );
        b.row(name, per, fp_step_floor(rows), note);
    }
    decoding(b)
}

/// Decoding beyond s_max: T = 30, s_max = 60, 180 synthetic records and the 32 real ones a
/// reveal then needs (T − 1 + 180/60): one evaluation, against one elimination step.
fn decoding(b: &mut Bench) -> Result<()> {
    let params = Params::new(30, 60, 0, 0).what("params")?;
    let items = hashes(32, 12);
    let (client, opener) = small_world(params, &items)?;
    let mut acc = Account::new(params, 0);
    let mut rng = rand::rng();
    let synthetic = hashes(180, 13);
    let sends = items
        .iter()
        .map(|x| (x, SyntheticChoice::Real))
        .chain(synthetic.iter().map(|x| (x, SyntheticChoice::Synthetic)));
    for (x, choice) in sends {
        let v = voucher_with_choice(&client, x, b"d", b"", 0, choice, &mut rng).what("voucher")?;
        if let OpenOutcome::Opened(r) = opener.open(&v, ACCOUNT).what("open")? {
            acc.insert(r).what("account")?;
        }
    }
    let revealed = matches!(acc.clone().evaluate(), Outcome::Revealed { .. });
    let t = time_us(3, 1, || {
        black_box(acc.clone().evaluate());
    });
    b.row(
        "evaluate_decode_beyond_smax",
        t,
        fp_step_floor(89),
        format!("T = 30, s_max = 60, 32 real + 180 synthetic; revealed: {revealed}; floor = one elimination step"),
    );
    Ok(())
}

/// A misbehaving device's worst case for the server: 100,000 vouchers that always open (all
/// synthetic) into one account (T = 30, s_max = 250), evaluated after every 100 inserts as a
/// server does per batch — the capacity, the decoder's checkpoints and its limit included.
/// Total time (the row's value, in µs) against 100,000 elimination steps, and the peak
/// resident memory of the process during the run.
fn account_insert_100k(b: &mut Bench) -> Result<()> {
    const N: u64 = 100_000;
    let params = Params::new(30, 250, 999_999, 999_999).what("params")?;
    let items = hashes(N, 21);
    let (client, _) = small_world(params, &items[..1])?;
    let mut rng = rand::rng();
    let rss_before = rss_kib("VmRSS");
    reset_peak_rss();
    let mut acc = Account::new(params, 0);
    let mut spent = std::time::Duration::ZERO;
    let mut dropped = 0u64;
    for (i, x) in items.iter().enumerate() {
        let Some(r) =
            simulated_record(&client, x, false, b"flood", b"", 0, &mut rng).what("record")?
        else {
            continue;
        };
        let t = Instant::now();
        if acc.insert(r.record).what("insert")? == Inserted::Dropped {
            dropped += 1;
        }
        if i % 100 == 99 {
            black_box(acc.evaluate());
        }
        spent += t.elapsed();
    }
    let peak = rss_kib("VmHWM").saturating_sub(rss_before) as f64 / 1024.0;
    let total = spent.as_secs_f64() * 1e6;
    b.row(
        "account_insert_100k",
        total,
        fp_step_floor(279) * N as f64,
        format!(
            "total µs for 100,000 always-opening vouchers into one account (T = 30, s_max = 250), evaluated every 100; held {}, dropped {dropped} at capacity {}; peak memory +{peak:.1} MiB over the process before; floor = 100,000 elimination steps",
            acc.opened(),
            acc.capacity()
        ),
    );
    Ok(())
}

/// A `/proc/self/status` field in KiB (0 where there is none).
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Reset the process's peak resident size (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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
