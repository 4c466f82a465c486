//! `blindmatch demo`: the whole protocol on real files, with real keys, a real signed database
//! on disk (memory-mapped by the device) and the SQLite account store.

use crate::fail::{Context, Fail, Result};
use crate::files;
use crate::store::{SqliteStore, Store};
use blindmatch_core::device::*;
use blindmatch_core::media;
use blindmatch_core::research::*;
use blindmatch_core::server::*;
use blindmatch_core::*;
use rand::{Rng, RngExt};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod fuzzy;

const ITEMS: usize = 300;
const MATCHING: usize = 14;
const THRESHOLD: u32 = 10;
const S_MAX: u32 = 30;
const RATE: (f64, f64) = (0.02, 0.04);

fn write_media(dir: &Path, n: usize) -> Result<Vec<PathBuf>> {
    files::ensure_dir(dir)?;
    let mut rng = rand::rng();
    (0..n)
        .map(|i| {
            let (w, h) = (48 + (i % 5) as u32 * 8, 40);
            let seed: u8 = rng.random();
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([
                    (x * 5) as u8 ^ seed,
                    (y * 6) as u8,
                    (x + y + i as u32) as u8,
                ])
            });
            let path = dir.join(format!("IMG_{:04}.png", i + 1));
            img.save(&path).map_err(|e| Fail::at(&path, e))?;
            Ok(path)
        })
        .collect()
}

fn section(title: &str) {
    println!("\n== {title}");
}

/// The account the demo plays.
const ACCOUNT: &str = "alice@example";

/// The device's media files, their hashes, and which of them are on the list.
struct Media {
    files: Vec<PathBuf>,
    hashes: Vec<MediaHash>,
    on_list: Vec<usize>,
}

/// The signed database on disk: where, its root hash and its parameters.
struct Built {
    path: PathBuf,
    root: [u8; 32],
    params: Params,
}

/// The server side: the opener, the SQLite account store and the database's parameters.
struct ServerSide {
    opener: Opener,
    store: Box<dyn Store>,
    store_path: PathBuf,
    params: Params,
    context: [u8; 32],
}

/// What the device sent (recorded only to check the server's result) and what it cost.
#[derive(Default)]
struct Tally {
    sent_real_matches: Vec<String>,
    synthetic_ids: Vec<String>,
    voucher_time: Duration,
    open_time: Duration,
    voucher_len: usize,
}

pub fn run(dir: Option<PathBuf>, listed: u64) -> Result<()> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            files::ensure_dir(&d)?;
            d
        }
        None => {
            tmp = tempfile::tempdir().what("temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    println!(
        "blindmatch end-to-end demo (working directory {})",
        dir.display()
    );
    println!(
        "threshold T = {THRESHOLD}, s_max = {S_MAX}, synthetic rate drawn per account and week in {}..{}; {ITEMS} media items of which {MATCHING} are on the list",
        RATE.0, RATE.1
    );

    section("server: keys and the blinded database");
    let (server, public) = server_keys(&dir)?;
    let (media, list) = media_and_list(&dir, listed)?;
    let built = build_database(&dir, &server, list)?;

    section("device: load the database, make vouchers");
    let (db, client) = load_device(&dir, &public, &built)?;
    let store_path = dir.join("accounts.sqlite");
    let mut server_side = ServerSide {
        opener: Opener::new(&server, db.manifest()).what("opener")?,
        store: Box::new(SqliteStore::open(&store_path).at(&store_path)?),
        store_path,
        params: built.params,
        context: db.context(),
    };
    let tally = play_account(&media, &client, &mut server_side)?;
    summary(&tally, &server_side.store_path);
    fuzzy::run(&dir, &server, &public)?;
    Ok(())
}

/// The server's key pair, written to `dir`.
fn server_keys(dir: &Path) -> Result<(ServerSecretKey, ServerPublicKey)> {
    let server = ServerSecretKey::generate();
    let public = server.public();
    files::write_atomic(&dir.join("server.key"), &server.to_bytes(), true)?;
    files::write_atomic(&dir.join("server.pub"), &public.to_bytes(), false)?;
    println!(
        "server key written (secret 0600), public fingerprint {}",
        public.fingerprint()
    );
    Ok((server, public))
}

/// The media files, and the list: `listed` random hashes plus the media items put on it
/// (spread over the whole sequence), also written to `dir` as text.
fn media_and_list(dir: &Path, listed: u64) -> Result<(Media, Vec<MediaHash>)> {
    let files = write_media(&dir.join("media"), ITEMS)?;
    let mut rng = rand::rng();
    let on_list: Vec<usize> = (0..MATCHING).map(|k| k * ITEMS / MATCHING + 3).collect();
    let hashes: Vec<MediaHash> = files
        .iter()
        .map(|p| crate::files::hash_file(media::ExactKind::Sha256, p))
        .collect::<Result<_>>()?;
    let mut list: Vec<MediaHash> = (0..listed)
        .map(|_| {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            MediaHash::new(HashKind::Sha256, &b)
        })
        .collect::<std::result::Result<_, _>>()
        .what("hash")?;
    list.extend(on_list.iter().map(|&i| hashes[i].clone()));
    let list_text: String = list.iter().map(|h| format!("{}\n", h.to_hex())).collect();
    files::write_atomic(
        &dir.join("list-ncmec-demo.txt"),
        list_text.as_bytes(),
        false,
    )?;
    let media = Media {
        files,
        hashes,
        on_list,
    };
    Ok((media, list))
}

/// Blind the list into a signed database file and show its size, speed and root hash.
fn build_database(dir: &Path, server: &ServerSecretKey, list: Vec<MediaHash>) -> Result<Built> {
    let params = Params::with_rate_range(THRESHOLD, S_MAX, RATE.0, RATE.1).what("parameters")?;
    let opts = BuildOptions {
        params,
        epoch: 1,
        ..Default::default()
    };
    let t = Instant::now();
    let db_bytes = DatabaseBuilder::build(
        server,
        &[SourceList {
            name: "demo-list".into(),
            hashes: list,
        }],
        &opts,
    )
    .what("database build")?;
    let build = t.elapsed();
    let db_path = dir.join("demo.bmdb");
    files::write_atomic(&db_path, &db_bytes, false)?;
    let info = Inspected::read(&db_bytes).at(&db_path)?;
    println!(
        "built {} hashes into {} cells in {:.2} s ({:.0} entries/s); file {:.1} MB = {:.1} bytes per listed hash",
        info.manifest.entries,
        info.manifest.cells,
        build.as_secs_f64(),
        info.manifest.entries as f64 / build.as_secs_f64(),
        db_bytes.len() as f64 / 1e6,
        db_bytes.len() as f64 / info.manifest.entries as f64
    );
    println!(
        "root hash {}  (devices display it; auditors compare it out of band)",
        hex::encode(info.root)
    );
    Ok(Built {
        path: db_path,
        root: info.root,
        params,
    })
}

/// The device loads the database against the pinned key and root, and gets its account key.
fn load_device(
    dir: &Path,
    public: &ServerPublicKey,
    built: &Built,
) -> Result<(Arc<Database>, Client)> {
    let t = Instant::now();
    let db_path = &built.path;
    let db = Arc::new(
        Database::open(crate::files::read(db_path)?, public, Some(&built.root)).at(db_path)?,
    );
    println!(
        "loaded and verified against the pinned server key and root hash in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let client_key = ClientKey::generate();
    files::write_atomic(&dir.join("account.key"), &client_key.export(), true)?;
    // The app's default device policy accepts this database (T ≥ 10, s_max ≥ 16, rates in
    // [0.2 %, 10 %], weekly windows) with the root hash pinned (an app ships it or checks it
    // against a transparency log; here the demo built the database itself).
    let client = Client::new(
        db.clone(),
        &client_key,
        ACCOUNT.as_bytes(),
        &DevicePolicy::default().pin_root(built.root),
    )
    .what("device policy")?;
    Ok((db, client))
}

/// The account sends its media in two rounds; after each the server opens the vouchers and
/// evaluates the account. The first round must stay below the threshold; after the second
/// the reveal must be exactly what the device sent.
fn play_account(media: &Media, client: &Client, server: &mut ServerSide) -> Result<Tally> {
    let mut tally = Tally::default();
    let halves = [(0, ITEMS / 2), (ITEMS / 2, ITEMS)];
    for (round, (from, to)) in halves.into_iter().enumerate() {
        let batch = make_vouchers(media, client, from..to, &mut tally)?;
        let heading = format!("server: round {} — items {}..{}", round + 1, from + 1, to);
        let outcome = serve_round(server, &heading, &batch, &mut tally)?;
        if round == 0 && matches!(outcome, Outcome::Revealed { .. }) {
            return Err(Fail::msg("demo check failed: revealed below the threshold"));
        }
        if round == 1 {
            check(&outcome, &tally.sent_real_matches, &tally.synthetic_ids)?;
        }
    }
    Ok(tally)
}

/// The device's vouchers for the media `items`, made as an app makes them. The device decides
/// real/synthetic itself, per item and with the account's secret rate for the week; the demo
/// asks the research API for those decisions only to check the server's result.
fn make_vouchers(
    media: &Media,
    client: &Client,
    items: Range<usize>,
    tally: &mut Tally,
) -> Result<Vec<Vec<u8>>> {
    let now = crate::commands::now_unix();
    let window = client.window_at(now).what("window")?;
    let mut batch = Vec::new();
    for i in items {
        let id = media.files[i]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ad = format!("message #{} in chat 42", 1000 + i);
        let synthetic = is_synthetic(client, &media.hashes[i], window);
        let t = Instant::now();
        let v = client
            .voucher(&media.hashes[i], id.as_bytes(), ad.as_bytes(), now)
            .what("voucher")?;
        tally.voucher_time += t.elapsed();
        tally.voucher_len = v.len();
        if synthetic {
            tally.synthetic_ids.push(id);
        } else if media.on_list.contains(&i) {
            tally.sent_real_matches.push(id);
        }
        batch.push(v);
    }
    Ok(batch)
}

/// The server opens a round's vouchers, records the opened ones (then prints `heading`) and
/// evaluates the account.
fn serve_round(
    server: &mut ServerSide,
    heading: &str,
    batch: &[Vec<u8>],
    tally: &mut Tally,
) -> Result<Outcome> {
    let t = Instant::now();
    let results = server.opener.open_batch(batch, ACCOUNT.as_bytes());
    tally.open_time += t.elapsed();
    let mut opened = Vec::new();
    for r in results {
        if let OpenOutcome::Opened(rec) = r.what("open")? {
            opened.push(rec);
        }
    }
    let closed = batch.len() - opened.len();
    let store_path = &server.store_path;
    let now = crate::commands::now_unix();
    server
        .store
        .add(ACCOUNT, &server.params, &server.context, &opened, now)
        .at(store_path)?;
    let window = opened.first().map_or(0, OpenedVoucher::window);
    section(heading);
    println!(
        "{} vouchers: {} outer layers opened (real matches and synthetic vouchers look the same), {} stayed closed",
        batch.len(),
        opened.len(),
        closed
    );
    let loaded = server
        .store
        .load(ACCOUNT, window)
        .at(store_path)?
        .ok_or_else(|| Fail::msg("account missing"))?;
    let t = Instant::now();
    let outcome = Account::with_records(
        loaded.params,
        window,
        loaded.records.into_iter().map(|s| s.record),
    )
    .what("evaluate")?
    .evaluate();
    print_outcome(&outcome, t.elapsed());
    Ok(outcome)
}

/// The account's state after a round; `eval` is how long the evaluation took.
fn print_outcome(outcome: &Outcome, eval: Duration) {
    match outcome {
        Outcome::BelowThreshold { opened } => {
            println!(
                "account {ACCOUNT}: below the threshold with {opened} opened vouchers — nothing is revealed"
            )
        }
        Outcome::OverCapacity { dropped, .. } => {
            println!("account {ACCOUNT}: over capacity, {dropped} vouchers dropped")
        }
        Outcome::Undecodable { .. } => {
            println!(
                "account {ACCOUNT}: undecodable (more synthetic records than the decode limit)"
            )
        }
        Outcome::Revealed {
            real,
            synthetic,
            rejected,
        } => {
            println!(
                "account {ACCOUNT}: threshold reached ({:.2} ms) — {} real matches revealed, {} vouchers identified as synthetic",
                eval.as_secs_f64() * 1e3,
                real.len(),
                synthetic.len()
            );
            crate::server::print_matches(real, synthetic, rejected);
        }
    }
}

/// Sizes and per-item costs, and the result of the check.
fn summary(tally: &Tally, store_path: &Path) {
    section("summary");
    println!(
        "voucher size            {} bytes (= 308 + 8·(s_max+1) + 256-byte bucket)",
        tally.voucher_len
    );
    println!(
        "voucher creation        {:.1} µs per item (single core)",
        tally.voucher_time.as_secs_f64() * 1e6 / ITEMS as f64
    );
    println!(
        "server opening (batch)  {:.1} µs per voucher (all cores)",
        tally.open_time.as_secs_f64() * 1e6 / ITEMS as f64
    );
    println!("account store           {}", store_path.display());
    println!(
        "check: revealed exactly the {} listed items sent as real vouchers, and named all {} synthetic ones — OK",
        tally.sent_real_matches.len(),
        tally.synthetic_ids.len()
    );
}

fn check(outcome: &Outcome, want_real: &[String], want_synth: &[String]) -> Result<()> {
    let Outcome::Revealed {
        real, synthetic, ..
    } = outcome
    else {
        if want_real.len() < THRESHOLD as usize {
            println!(
                "(fewer than T listed items were sent as real vouchers this run; nothing revealed, as designed)"
            );
            return Ok(());
        }
        return Err(Fail::msg(
            "demo check failed: threshold crossed but nothing revealed",
        ));
    };
    let mut got: Vec<String> = real
        .iter()
        .map(|m| String::from_utf8_lossy(&m.id).into_owned())
        .collect();
    let mut want = want_real.to_vec();
    got.sort();
    want.sort();
    let mut gs: Vec<String> = synthetic
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let mut ws = want_synth.to_vec();
    gs.sort();
    ws.sort();
    if got != want || gs != ws {
        return Err(Fail::msg(
            "demo check failed: the reveal differs from what the device sent",
        ));
    }
    Ok(())
}
