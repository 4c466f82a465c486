//! The subcommands.

use crate::fail::{Context, Fail, Result};
use crate::files;
use blindmatch_core::device::*;
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::media::pdq::HashMargins;
use blindmatch_core::media::{self, PdqOutcome};
use blindmatch_core::server::*;
use blindmatch_core::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn load_server_key(path: &Path) -> Result<ServerSecretKey> {
    ServerSecretKey::from_bytes(&files::read_secret(path)?).at(path)
}

pub fn load_server_pub(path: &Path) -> Result<ServerPublicKey> {
    ServerPublicKey::from_bytes(&files::read(path)?).at(path)
}

pub fn load_client_key(path: &Path) -> Result<ClientKey> {
    ClientKey::import(&files::read_secret(path)?).at(path)
}

fn parse_root(root: Option<&str>) -> Result<Option<[u8; 32]>> {
    root.map(|r| {
        hex::decode(r.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| Fail::msg("--root: expected 64 hex digits"))
    })
    .transpose()
}

/// Refuse to replace an existing key file unless `force`: a replaced key silently splits an
/// account (a new client key's records never combine with the old one's) or orphans a
/// database (a new server key cannot open its vouchers).
fn refuse_overwrite(path: &Path, force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(Fail::at(
            path,
            "a key file is already there; keep it, or pass --force to replace it",
        ));
    }
    Ok(())
}

pub fn server_keygen(out: &Path, force: bool) -> Result<()> {
    files::ensure_dir(out)?;
    let key = ServerSecretKey::generate();
    let sk = out.join("server.key");
    let pk = out.join("server.pub");
    refuse_overwrite(&sk, force)?;
    files::write_atomic(&sk, &key.to_bytes(), true)?;
    files::write_atomic(&pk, &key.public().to_bytes(), false)?;
    println!(
        "secret key: {} (mode 0600; never leaves the server)",
        sk.display()
    );
    println!(
        "public key: {} (fingerprint {})",
        pk.display(),
        key.public().fingerprint()
    );
    Ok(())
}

pub fn client_keygen(out: &Path, force: bool) -> Result<()> {
    refuse_overwrite(out, force)?;
    files::write_atomic(out, &ClientKey::generate().export(), true)?;
    println!("client key: {} (mode 0600)", out.display());
    Ok(())
}

/// `blindmatch db build` arguments.
#[derive(clap::Args)]
pub struct DbBuild {
    /// The server's secret key file (mode 0600).
    #[arg(long)]
    server_key: PathBuf,
    /// A hash list, optionally named by its source: `SOURCE=FILE` (repeatable).
    #[arg(long = "list", required = true)]
    lists: Vec<String>,
    /// Kind of bare (one-hash-per-line) entries; CSV lines carry their own.
    #[arg(long)]
    kind: Option<String>,
    /// T: distinct real matches an account needs in one window before anything is revealed
    /// (2–256) [default: core's, 30].
    #[arg(long)]
    threshold: Option<u32>,
    /// The synthetic-rate range LO..HI (probabilities in [0, 1)): each account draws its
    /// secret rate for each window in it [default: core's, 0.005..0.015].
    #[arg(long)]
    rate_range: Option<String>,
    /// s_max: synthetic records per account and window that elimination tolerates (≤ 1024;
    /// beyond it the decoder delays a reveal) [default: core's, 250].
    #[arg(long)]
    smax: Option<u32>,
    /// Start of the window schedule (Unix seconds) [default: core's, Monday 2026-01-05].
    #[arg(long)]
    window_origin: Option<u64>,
    /// Length of a counting window in seconds [default: core's, one week].
    #[arg(long)]
    window_length: Option<u64>,
    /// Number of windows in the schedule [default: core's, 520].
    #[arg(long)]
    window_count: Option<u32>,
    /// Keep only hashes listed by at least this many of the --list sources.
    #[arg(long, default_value_t = 1)]
    min_sources: u8,
    /// Database epoch; vouchers are bound to it.
    #[arg(long, default_value_t = 1)]
    epoch: u64,
    /// OKVS cells per listed hash (1.23–8) [default: core's, 1.25].
    #[arg(long)]
    expansion: Option<f64>,
    /// Build a fuzzy database: PDQ hashes are listed as band keys, so re-encoded and resized
    /// copies of a listed picture match (devices send probe bundles; format version 3).
    #[arg(long)]
    fuzzy: bool,
    /// Fuzzy: number of bands L (1–32) [default: 6].
    #[arg(long, requires = "fuzzy")]
    bands: Option<u8>,
    /// Fuzzy: bits per band b (8–64) [default: 32].
    #[arg(long, requires = "fuzzy")]
    band_bits: Option<u8>,
    /// Fuzzy: probes per band P (1–64; L·P ≤ 512) [default: 14].
    #[arg(long, requires = "fuzzy")]
    probes: Option<u8>,
    /// The database file to write.
    #[arg(long)]
    out: PathBuf,
}

/// Parse `LO..HI`.
pub fn parse_range(text: &str) -> Result<(f64, f64)> {
    let bad = || Fail::msg("--rate-range: expected LO..HI, e.g. 0.005..0.015");
    let (lo, hi) = text.split_once("..").ok_or_else(bad)?;
    Ok((
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    ))
}

/// The build options: every flag not given takes core's default.
fn build_options(a: &DbBuild) -> Result<BuildOptions> {
    let d = BuildOptions::default();
    let (lo, hi) = match &a.rate_range {
        Some(r) => parse_range(r)?,
        None => d.params.rate_range(),
    };
    let params = Params::with_rate_range(
        a.threshold.unwrap_or(d.params.threshold()),
        a.smax.unwrap_or(d.params.s_max()),
        lo,
        hi,
    )
    .what("parameters")?;
    let schedule = Schedule::new(
        a.window_origin.unwrap_or(d.schedule.origin()),
        a.window_length.unwrap_or(d.schedule.length()),
        a.window_count.unwrap_or(d.schedule.count()),
    )
    .what("window schedule")?;
    let fuzzy = if a.fuzzy {
        let r = FuzzyLayout::RECOMMENDED;
        Some(
            FuzzyLayout::new(
                a.bands.unwrap_or(r.bands()),
                a.band_bits.unwrap_or(r.band_bits()),
                a.probes.unwrap_or(r.probes()),
            )
            .what("--bands/--band-bits/--probes")?,
        )
    } else {
        None
    };
    Ok(BuildOptions {
        params,
        schedule,
        fuzzy,
        epoch: a.epoch,
        min_sources: a.min_sources,
        expansion: a.expansion.unwrap_or(d.expansion),
        ..d
    })
}

pub fn read_lists(specs: &[String], kind: Option<HashKind>) -> Result<Vec<SourceList>> {
    specs
        .iter()
        .map(|spec| {
            let (name, path) = match spec.split_once('=') {
                Some((n, p)) if !n.is_empty() => (n.to_string(), PathBuf::from(p)),
                _ => {
                    let p = PathBuf::from(spec);
                    let n = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| spec.clone());
                    (n, p)
                }
            };
            let text = String::from_utf8(files::read(&path)?)
                .map_err(|_| Fail::at(&path, "not UTF-8 text"))?;
            let hashes = parse_hash_list(&text, kind).at(&path)?;
            Ok(SourceList { name, hashes })
        })
        .collect()
}

pub fn db_build(a: &DbBuild) -> Result<()> {
    let key = load_server_key(&a.server_key)?;
    let kind = a
        .kind
        .as_deref()
        .map(HashKind::from_name)
        .transpose()
        .what("--kind")?;
    let lists = read_lists(&a.lists, kind)?;
    let opts = build_options(a)?;
    let show = std::io::stderr().is_terminal();
    let progress = move |done: u64, total: u64| {
        if show && total >= 50_000 {
            let pct = done * 100 / total.max(1);
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\rblinding [{bar:<25}] {pct:3}% ({done}/{total})");
        }
    };
    let t = std::time::Instant::now();
    let bytes =
        DatabaseBuilder::build_with_progress(&key, &lists, &opts, &progress).what("build")?;
    if show {
        eprintln!();
    }
    files::write_atomic(&a.out, &bytes, false)?;
    let info = Inspected::read(&bytes).at(&a.out)?;
    eprintln!(
        "built {} entries into {} cells ({} bytes, {:.1} bytes/hash) in {:.2} s",
        info.manifest.entries,
        info.manifest.cells,
        bytes.len(),
        bytes.len() as f64 / info.manifest.entries.max(1) as f64,
        t.elapsed().as_secs_f64()
    );
    println!("{}", hex::encode(info.root));
    Ok(())
}

fn inspect_file(path: &Path) -> Result<Inspected> {
    Inspected::read(&files::read(path)?).at(path)
}

pub fn db_inspect(path: &Path, json: bool) -> Result<()> {
    let info = inspect_file(path)?;
    let m = &info.manifest;
    if json {
        let v = serde_json::json!({
            "root": hex::encode(info.root),
            "file_bytes": info.file_len,
            "manifest": m,
        });
        println!("{}", serde_json::to_string_pretty(&v).what("json")?);
        return Ok(());
    }
    println!("root hash        {}", hex::encode(info.root));
    println!("epoch            {}", m.epoch);
    println!("created (unix)   {}", m.created_unix);
    println!("entries          {}", m.entries);
    println!(
        "cells            {} ({:.3}× entries)",
        m.cells,
        m.cells as f64 / m.entries.max(1) as f64
    );
    println!("file size        {} bytes", info.file_len);
    println!("threshold T      {}", m.params.threshold());
    println!("s_max            {}", m.params.s_max());
    let (lo, hi) = m.params.rate_range();
    println!("synthetic rate   {lo}..{hi} (each account's secret rate per window)");
    let sc = &m.schedule;
    println!(
        "windows          {} of {} s from {} (Unix s)",
        sc.count(),
        sc.length(),
        sc.origin()
    );
    println!(
        "hash kinds       {}",
        m.kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("DST              {}", String::from_utf8_lossy(&m.dst));
    println!("signing key      {}", hex::encode(m.verifying_key));
    println!("L = α·G          {}", hex::encode(m.blinding_point));
    println!("min sources      {}", m.min_sources);
    for s in &m.sources {
        println!("source           {} ({} hashes)", s.name, s.count);
    }
    println!("(not verified: use `blindmatch db verify` with the server's public key)");
    Ok(())
}

pub fn db_verify(path: &Path, server_pub: &Path, root: Option<&str>) -> Result<()> {
    let pk = load_server_pub(server_pub)?;
    let root = parse_root(root)?;
    let t = std::time::Instant::now();
    let db = Database::open(crate::files::read(path)?, &pk, root.as_ref()).at(path)?;
    let load = t.elapsed();
    let report = db.verify().at(path)?;
    println!(
        "OK: signature, table digest{}, {} cells canonical, non-identity and distinct",
        if root.is_some() { ", root hash" } else { "" },
        report.cells
    );
    println!("root hash {}", hex::encode(report.root));
    eprintln!(
        "fast load {:.1} ms, full audit {:.2} s",
        load.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `blindmatch client voucher` arguments.
#[derive(clap::Args)]
pub struct VoucherArgs {
    /// The blinded database file.
    #[arg(long)]
    db: PathBuf,
    /// The pinned server public key file.
    #[arg(long)]
    server_pub: PathBuf,
    /// The account's client key file (mode 0600).
    #[arg(long)]
    client_key: PathBuf,
    /// The database's root hash (hex), obtained independently of the server (shipped with
    /// the app, or from a transparency log). Required unless --allow-unpinned-database.
    #[arg(long, required_unless_present_any = ["allow_unpinned_database", "insecure_test_policy"])]
    root: Option<String>,
    /// Accept any database the pinned server key signed, whatever its root: for tests and
    /// demos only (a server could give one user a database of its own).
    #[arg(long)]
    allow_unpinned_database: bool,
    /// Folder for the voucher files (one per item).
    #[arg(long)]
    out: PathBuf,
    /// Associated data attached to every voucher.
    #[arg(long, default_value = "")]
    ad: String,
    /// Kind used to hash FILEs [default: from the database: pdq for a fuzzy database (FILEs are
    /// pictures and each gets a probe bundle), else the first it lists of sha256, sha1, md5,
    /// pdq].
    #[arg(long)]
    kind: Option<String>,
    /// A media hash given directly as KIND:HEX (repeatable).
    #[arg(long = "hash")]
    hashes: Vec<String>,
    /// The account the vouchers are made for (the id the server files them under).
    #[arg(long)]
    account: String,
    /// The time to make the vouchers at (Unix seconds) [default: now].
    #[arg(long)]
    now: Option<u64>,
    /// The device state file (created if missing): refuses an older window or a second
    /// database in a window already used.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Accept any valid database (small T, no synthetic vouchers): for tests and demos
    /// only, never for an app.
    #[arg(long)]
    insecure_test_policy: bool,
    /// Media files.
    files: Vec<PathBuf>,
}

/// The current time (Unix seconds).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One item to make a voucher for: a media hash, or a picture's PDQ hash with its margins
/// (a probe bundle on a fuzzy database).
enum Item {
    Hash(MediaHash),
    Picture(Box<HashMargins>),
}

/// The kind FILEs are hashed with: `--kind`, else from the database — pdq for a fuzzy
/// database, else the first it lists of sha256, sha1, md5, pdq (wire-id order).
fn file_kind(flag: Option<&str>, client: &Client) -> Result<HashKind> {
    if let Some(k) = flag {
        return HashKind::from_name(k).what("--kind");
    }
    if client.is_fuzzy() {
        return Ok(HashKind::Pdq);
    }
    let kinds = &client.database().manifest().kinds;
    HashKind::ALL
        .into_iter()
        .find(|k| kinds.contains(k))
        .ok_or_else(|| Fail::msg("the database lists no kind: give --kind"))
}

/// A picture's PDQ hash and per-bit margins (for a probe bundle), behind the quality gate.
pub fn pdq_margins_file(path: &Path, gate: bool) -> Result<Option<Box<HashMargins>>> {
    let img = image::open(path)
        .map_err(|e| Fail::at(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    let out = media::pdq::pdq_hash_with_margins(
        img.as_raw(),
        img.width(),
        img.height(),
        media::pdq::PixelFormat::Rgb8,
    )
    .at(path)?;
    let min = if gate {
        media::DEFAULT_MIN_PDQ_QUALITY
    } else {
        0
    };
    if out.quality < min {
        eprintln!(
            "{}: PDQ quality {} is below the gate ({min}); not hashed",
            path.display(),
            out.quality
        );
        return Ok(None);
    }
    Ok(Some(Box::new(out.original)))
}

/// Hash a media file with `kind`; PDQ decodes the image and applies the quality gate.
pub fn hash_file(
    kind: HashKind,
    path: &Path,
    gate: bool,
) -> Result<Option<(MediaHash, Option<u32>)>> {
    if let Ok(exact) = media::ExactKind::try_from(kind) {
        return Ok(Some((crate::files::hash_file(exact, path)?, None)));
    }
    let img = image::open(path)
        .map_err(|e| Fail::at(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    let min = if gate {
        media::DEFAULT_MIN_PDQ_QUALITY
    } else {
        0
    };
    match media::pdq_media_hash(
        img.as_raw(),
        img.width(),
        img.height(),
        media::pdq::PixelFormat::Rgb8,
        min,
    )
    .at(path)?
    {
        PdqOutcome::Hash { hash, quality } => Ok(Some((hash, Some(quality)))),
        PdqOutcome::LowQuality { quality } => {
            eprintln!(
                "{}: PDQ quality {quality} is below the gate ({}); not hashed",
                path.display(),
                min
            );
            Ok(None)
        }
    }
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn truncate_id(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn client_voucher(a: &VoucherArgs) -> Result<()> {
    if a.files.is_empty() && a.hashes.is_empty() {
        return Err(Fail::msg("give media FILEs or --hash KIND:HEX"));
    }
    let pk = load_server_pub(&a.server_pub)?;
    let key = load_client_key(&a.client_key)?;
    let root = parse_root(a.root.as_deref())?;
    let db = Arc::new(Database::open(crate::files::read(&a.db)?, &pk, root.as_ref()).at(&a.db)?);
    let policy = match (a.insecure_test_policy, root, a.allow_unpinned_database) {
        (true, Some(_), _) => {
            return Err(Fail::msg(
                "--root and --insecure-test-policy together: the test policy would ignore the pin; give one of them",
            ));
        }
        (true, None, _) => DevicePolicy::permissive_for_tests(),
        (false, Some(r), _) => DevicePolicy::default().pin_root(r),
        (false, None, _) => DevicePolicy::default().allow_unpinned_database(),
    };
    let client = Client::new(db, &key, a.account.as_bytes(), &policy).at(&a.db)?;
    let now = a.now.unwrap_or_else(now_unix);
    let state = match &a.state {
        Some(path) => {
            let mut st = match std::fs::read(path) {
                Ok(b) => DeviceState::from_bytes(&b).at(path)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => DeviceState::new(),
                Err(e) => return Err(Fail::file(path, e)),
            };
            client.check_state(&mut st, now).at(path)?;
            Some((path, st))
        }
        None => None,
    };
    let kind = file_kind(a.kind.as_deref(), &client)?;
    let fuzzy = client.is_fuzzy() && kind == HashKind::Pdq;
    let mut items: Vec<(String, Item)> = Vec::new();
    for (i, h) in a.hashes.iter().enumerate() {
        let h = MediaHash::from_typed_hex(h).what("--hash")?;
        if client.is_fuzzy() && h.kind() == HashKind::Pdq {
            return Err(Fail::msg(
                "--hash pdq:HEX on a fuzzy database: probe bundles need the picture (its bits' margins), give the image FILE",
            ));
        }
        items.push((format!("hash-{i}"), Item::Hash(h)));
    }
    for f in &a.files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let item = if fuzzy {
            pdq_margins_file(f, true)?.map(Item::Picture)
        } else {
            hash_file(kind, f, true)?.map(|(h, _)| Item::Hash(h))
        };
        if let Some(item) = item {
            items.push((truncate_id(&name).to_string(), item));
        }
    }
    // Make every voucher first, then write: an error leaves no voucher files behind.
    let mut made = Vec::with_capacity(items.len());
    for (id, item) in &items {
        let v = match item {
            Item::Hash(h) => client.voucher(h, id.as_bytes(), a.ad.as_bytes(), now),
            Item::Picture(m) => client.bundle(m, id.as_bytes(), a.ad.as_bytes(), now),
        }
        .what(&format!("voucher for {id}"))?;
        made.push((id, v));
    }
    files::ensure_dir(&a.out)?;
    for (i, (id, v)) in made.iter().enumerate() {
        let path = a.out.join(format!("{i:05}-{}.bmv", sanitize(id)));
        files::write_atomic(&path, v, false)?;
    }
    if let Some((path, st)) = state {
        files::write_atomic(path, &st.to_bytes(), false)?;
    }
    println!(
        "{} vouchers written to {} (window {})",
        made.len(),
        a.out.display(),
        client.window_at(now).what("--now")?
    );
    Ok(())
}

pub fn hash(kind: &str, gate: bool, paths: &[PathBuf]) -> Result<()> {
    let kind = HashKind::from_name(kind).what("--kind")?;
    for p in paths {
        if let Some((h, q)) = hash_file(kind, p, gate)? {
            match q {
                Some(q) => println!("{}:{}  quality={q}  {}", kind, h.to_hex(), p.display()),
                None => println!("{}:{}  {}", kind, h.to_hex(), p.display()),
            }
        }
    }
    Ok(())
}
