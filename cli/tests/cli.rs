//! Drives the real `blindmatch` binary through every subcommand and its error paths.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt::Debug;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_blindmatch"))
}

fn run<S: AsRef<OsStr> + Debug>(args: &[S]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn ok<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A failure: non-zero exit, not a panic, one line on stderr that names `needle`.
fn fails<S: AsRef<OsStr> + Debug>(args: &[S], needle: &str) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{args:?} unexpectedly succeeded");
    assert_ne!(o.status.code(), Some(101), "{args:?} panicked: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: expected one line, got {err}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} does not mention {needle:?}"
    );
    err
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `db build --server-key KEY --list LIST… --kind KIND EXTRA… --out OUT`.
fn db_build(key: &Path, lists: &[&str], kind: &str, extra: &[&str], out: &Path) -> Vec<String> {
    let mut args = vec!["db", "build", "--server-key", p(key)];
    for l in lists {
        args.extend(["--list", l]);
    }
    args.extend(["--kind", kind]);
    args.extend(extra);
    args.extend(["--out", p(out)]);
    args.into_iter().map(String::from).collect()
}

/// The default window schedule: weekly windows from Monday 2026-01-05 (Unix seconds).
const ORIGIN: u64 = 1_767_571_200;
const WEEK: u64 = 7 * 86_400;
const DAY: u64 = 86_400;
const ACCOUNT: &str = "acct-1";

/// An hour into window `w` of the default schedule.
fn at(w: u64) -> u64 {
    ORIGIN + w * WEEK + 3600
}

/// The time every test runs at unless it is about windows: an hour into window 0.
const NOW: u64 = ORIGIN + 3600;

/// T = 3, s_max = 6, no synthetic vouchers: the database most tests use.
const T3: [&str; 6] = ["--threshold", "3", "--smax", "6", "--rate-range", "0..0"];

struct Setup {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: PathBuf,
    db: PathBuf,
    root: String,
    media: Vec<PathBuf>,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn client_key(&self) -> PathBuf {
        let ck = self.path("client.key");
        ok(&["client", "keygen", "--out", p(&ck)]);
        ck
    }
}

/// Server key, 30 media files of which 6 are listed among 300 others, a database with T = 3.
fn setup() -> Setup {
    setup_with(30, 6, &T3)
}

/// Server key, `n` media files of which the first `listed` are listed (source orgA, among 300
/// others; orgB lists one md5), a database built with `build`.
fn setup_with(n: usize, listed: usize, build: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["server", "keygen", "--out", p(&d.join("keys"))]);
    let key = d.join("keys/server.key");
    let public = d.join("keys/server.pub");
    let media: Vec<PathBuf> = (0..n)
        .map(|i| {
            let f = d.join(format!("item{i:02}.bin"));
            std::fs::write(&f, format!("media file number {i}").repeat(10 + i)).unwrap();
            f
        })
        .collect();
    let mut plain = String::from("# list A\n");
    for i in 0..300u32 {
        plain.push_str(&format!("{:064x}\n", 0xabc000 + i));
    }
    let mut hash = vec!["hash".to_string(), "--kind".into(), "sha256".into()];
    hash.extend(media[..listed].iter().map(|f| p(f).to_string()));
    for line in ok(&hash).lines() {
        let h = line.split_whitespace().next().unwrap();
        plain.push_str(h.trim_start_matches("sha256:"));
        plain.push('\n');
    }
    std::fs::write(d.join("a.txt"), plain).unwrap();
    std::fs::write(
        d.join("b.csv"),
        "kind,hash\nmd5,d41d8cd98f00b204e9800998ecf8427e\n",
    )
    .unwrap();
    let db = d.join("db.bmdb");
    let root = ok(&db_build(
        &key,
        &[
            &format!("orgA={}", p(&d.join("a.txt"))),
            &format!("orgB={}", p(&d.join("b.csv"))),
        ],
        "sha256",
        build,
        &db,
    ));
    let root = root.trim().to_string();
    assert_eq!(root.len(), 64);
    Setup {
        dir,
        key,
        public,
        db,
        root,
        media,
    }
}

fn strings<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    args.iter().map(|a| a.as_ref().to_string()).collect()
}

/// `client voucher --db DB --server-pub PUB --client-key CLIENT --account acct-1 --now NOW
/// --insecure-test-policy --out OUT EXTRA… FILES…` (T = 3 needs the test policy).
fn client_voucher(
    s: &Setup,
    db: &Path,
    client: &Path,
    now: u64,
    out: &Path,
    extra: &[&str],
    files: &[PathBuf],
) -> Vec<String> {
    let now = now.to_string();
    let mut args = strings(&[
        "client",
        "voucher",
        "--db",
        p(db),
        "--server-pub",
        p(&s.public),
        "--client-key",
        p(client),
        "--account",
        ACCOUNT,
        "--now",
        &now,
        "--insecure-test-policy",
        "--out",
        p(out),
    ]);
    args.extend(strings(extra));
    args.extend(files.iter().map(|f| p(f).to_string()));
    args
}

/// `server open --server-key KEY --db DB --store STORE --account acct-1 --now NOW EXTRA…
/// VOUCHERS…`.
fn server_open(
    key: &Path,
    db: &Path,
    store: &Path,
    now: u64,
    extra: &[&str],
    vouchers: &[PathBuf],
) -> Vec<String> {
    let now = now.to_string();
    let mut args = strings(&[
        "server",
        "open",
        "--server-key",
        p(key),
        "--db",
        p(db),
        "--store",
        p(store),
        "--account",
        ACCOUNT,
        "--now",
        &now,
    ]);
    args.extend(strings(extra));
    args.extend(vouchers.iter().map(|f| p(f).to_string()));
    args
}

/// The voucher files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Vouchers for `files` made at `now` with the setup's database (test policy, ad "chat 7").
fn vouchers_at(s: &Setup, client: &Path, now: u64, files: &[PathBuf], out: &str) -> Vec<PathBuf> {
    let dir = s.path(out);
    ok(&client_voucher(
        s,
        &s.db,
        client,
        now,
        &dir,
        &["--ad", "chat 7"],
        files,
    ));
    listing(&dir)
}

fn vouchers(s: &Setup, client: &Path, files: &[PathBuf], out: &str) -> Vec<PathBuf> {
    vouchers_at(s, client, NOW, files, out)
}

/// Open `files` at `now` with the setup's key and database; the JSON summary.
fn open_at(s: &Setup, store: &Path, now: u64, files: &[PathBuf]) -> serde_json::Value {
    let out = ok(&server_open(
        &s.key,
        &s.db,
        store,
        now,
        &["--json", "--audit"],
        files,
    ));
    serde_json::from_str(&out).unwrap()
}

fn open(s: &Setup, store: &Path, files: &[PathBuf]) -> serde_json::Value {
    open_at(s, store, NOW, files)
}

fn status_args(store: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = strings(&[
        "server",
        "status",
        "--store",
        p(store),
        "--account",
        ACCOUNT,
    ]);
    args.extend(strings(extra));
    args
}

/// `server status --json` (with `--audit` when `audit`).
fn status(store: &Path, audit: bool) -> serde_json::Value {
    let extra: &[&str] = if audit {
        &["--json", "--audit"]
    } else {
        &["--json"]
    };
    let v: serde_json::Value = serde_json::from_str(&ok(&status_args(store, extra))).unwrap();
    assert_eq!(v["account"], ACCOUNT);
    v
}

/// The opened count of window 0, as `--audit` shows it.
fn opened_in_window_0(store: &Path) -> u64 {
    let v = status(store, true);
    let w = &v["windows"][0];
    assert_eq!(w["window"], 0);
    w["opened"].as_u64().unwrap()
}

/// Without `--audit`, `server status` shows no below-threshold count, in text or JSON; every
/// window is listed.
fn assert_no_count(store: &Path) {
    let json = status(store, false);
    let windows = json["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    for w in windows {
        if w["state"] == "below_threshold" {
            let mut keys: Vec<&str> = w.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            keys.sort();
            assert_eq!(keys, ["state", "window"], "{w}");
        }
    }
    let text = ok(&status_args(store, &[]));
    assert_eq!(
        text.lines().filter(|l| l.starts_with("window ")).count(),
        windows.len(),
        "{text}"
    );
    for line in text.lines().filter(|l| l.contains("below threshold")) {
        let (_, rest) = line.split_once(':').unwrap();
        assert!(
            !rest.contains(|c: char| c.is_ascii_digit()) && !rest.contains("opened"),
            "a count without --audit: {line}"
        );
    }
}

/// `server records --audit --json` (optionally `--window W`): the records, checked for shape.
fn records(store: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = strings(&[
        "server",
        "records",
        "--audit",
        "--store",
        p(store),
        "--account",
        ACCOUNT,
        "--json",
    ]);
    args.extend(strings(extra));
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(v["account"], ACCOUNT);
    let recs = v["records"].as_array().unwrap().clone();
    for r in &recs {
        let x0 = r["x0"].as_str().unwrap();
        assert!(x0.len() == 16 && u64::from_str_radix(x0, 16).is_ok(), "{r}");
        let id = r["id"].as_str().unwrap();
        assert_eq!(r["id_hex"].as_str().unwrap(), hex(id.as_bytes()), "{r}");
        assert!(r["window"].is_u64() && r["arrival"].is_u64(), "{r}");
    }
    recs
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How many records each window holds.
fn per_window(recs: &[serde_json::Value]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for r in recs {
        *m.entry(r["window"].as_u64().unwrap()).or_default() += 1;
    }
    m
}

#[test]
fn keys_are_written_with_the_right_modes() {
    let s = setup();
    assert_eq!(
        std::fs::metadata(&s.key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&s.public).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let ck = s.client_key();
    assert_eq!(
        std::fs::metadata(&ck).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A group-readable secret key is refused, naming the file.
    std::fs::set_permissions(&s.key, std::fs::Permissions::from_mode(0o640)).unwrap();
    fails(
        &db_build(
            &s.key,
            &[p(&s.path("a.txt"))],
            "sha256",
            &[],
            &s.path("x.bmdb"),
        ),
        "server.key",
    );
    assert!(!s.path("x.bmdb").exists());
}

#[test]
fn inspect_and_verify() {
    let s = setup();
    let text = ok(&["db", "inspect", p(&s.db)]);
    assert!(text.contains(&s.root));
    assert!(
        text.contains("orgA (306 hashes)") && text.contains("orgB (1 hashes)"),
        "{text}"
    );
    assert!(text.contains("synthetic rate   0..0"), "{text}");
    assert!(
        text.contains(&format!("windows          520 of 604800 s from {ORIGIN}")),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["db", "inspect", "--json", p(&s.db)])).unwrap();
    assert_eq!(json["root"], s.root.as_str());
    let m = &json["manifest"];
    assert_eq!(m["entries"], 307);
    assert_eq!(
        m["params"],
        serde_json::json!({"threshold": 3, "s_max": 6, "rate_lo_ppm": 0, "rate_hi_ppm": 0})
    );
    assert_eq!(
        m["schedule"],
        serde_json::json!({"origin": ORIGIN, "length": WEEK, "count": 520})
    );
    let out = ok(&[
        "db",
        "verify",
        p(&s.db),
        "--server-pub",
        p(&s.public),
        "--root",
        &s.root,
    ]);
    assert!(out.starts_with("OK"));
    let mut wrong = s.root.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    fails(
        &[
            "db",
            "verify",
            p(&s.db),
            "--server-pub",
            p(&s.public),
            "--root",
            std::str::from_utf8(&wrong).unwrap(),
        ],
        "root hash",
    );
    let other = s.path("other");
    ok(&["server", "keygen", "--out", p(&other)]);
    fails(
        &[
            "db",
            "verify",
            p(&s.db),
            "--server-pub",
            p(&other.join("server.pub")),
        ],
        "different server key",
    );
    // A truncated and a corrupted database.
    let bytes = std::fs::read(&s.db).unwrap();
    let cut = s.path("cut.bmdb");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    fails(
        &["db", "verify", p(&cut), "--server-pub", p(&s.public)],
        "cut.bmdb",
    );
    fails(&["db", "inspect", p(&cut)], "truncated");
    let mut flipped = bytes.clone();
    let n = flipped.len() - 100;
    flipped[n] ^= 1;
    std::fs::write(&cut, &flipped).unwrap();
    fails(
        &["db", "verify", p(&cut), "--server-pub", p(&s.public)],
        "digest",
    );
    fails(
        &["db", "inspect", p(&s.path("missing.bmdb"))],
        "missing.bmdb",
    );
}

#[test]
fn build_flags_default_to_core_and_bad_ones_leave_no_output() {
    let s = setup();
    let list = s.path("a.txt");
    let out = s.path("built.bmdb");
    let build = |extra: &[&str]| db_build(&s.key, &[p(&list)], "sha256", extra, &out);
    // Omitted flags take core's defaults; the schedule flags are written as given.
    let schedule = [
        "--window-origin",
        "1000000",
        "--window-length",
        "3600",
        "--window-count",
        "24",
    ];
    ok(&build(&schedule));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["db", "inspect", "--json", p(&out)])).unwrap();
    let m = &json["manifest"];
    assert_eq!(
        m["params"],
        serde_json::json!({"threshold": 30, "s_max": 250, "rate_lo_ppm": 5_000, "rate_hi_ppm": 15_000})
    );
    assert_eq!(
        m["schedule"],
        serde_json::json!({"origin": 1_000_000, "length": 3600, "count": 24})
    );
    std::fs::remove_file(&out).unwrap();
    fails(&build(&["--rate-range", "0.01"]), "--rate-range");
    fails(&build(&["--rate-range", "a..b"]), "--rate-range");
    fails(&build(&["--rate-range", "0.02..0.01"]), "parameters");
    fails(&build(&["--rate-range", "0..1"]), "parameters");
    fails(&build(&["--window-length", "10"]), "window schedule");
    fails(&build(&["--window-count", "0"]), "window schedule");
    assert!(!out.exists());
}

#[test]
fn bad_lists_name_the_line_and_leave_no_output() {
    let s = setup();
    let bad = s.path("bad.txt");
    std::fs::write(&bad, "# ok\nd41d8cd98f00b204e9800998ecf8427e\nnot-hex\n").unwrap();
    let out = s.path("never.bmdb");
    let build = |extra: &[&str]| db_build(&s.key, &[p(&bad)], "md5", extra, &out);
    fails(&build(&[]), "line 3");
    assert!(!out.exists());
    fails(&build(&["--threshold", "1"]), "line 3");
    std::fs::write(&bad, "d41d8cd98f00b204e9800998ecf8427e\n").unwrap();
    fails(&build(&["--threshold", "1"]), "threshold");
    fails(&build(&["--min-sources", "2"]), "min_sources");
    assert!(!out.exists());
}

#[test]
fn vouchers_open_and_reveal_exactly_at_the_threshold() {
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    // Two listed items and ten unlisted ones: below T = 3.
    let mut first: Vec<PathBuf> = s.media[..2].to_vec();
    first.extend(s.media[10..20].iter().cloned());
    let v1 = vouchers(&s, &client, &first, "v1");
    assert_eq!(v1.len(), 12);
    let r = open(&s, &store, &v1);
    assert_eq!(
        (r["opened"].as_u64(), r["no_match"].as_u64()),
        (Some(2), Some(10))
    );
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 0, "state": "below_threshold", "opened": 2}])
    );
    assert_eq!(
        status(&store, false)["windows"],
        serde_json::json!([{"window": 0, "state": "below_threshold"}])
    );
    assert_no_count(&store);
    let audit = ok(&status_args(&store, &["--audit"]));
    assert!(
        audit.contains("window 0: below threshold: 2 opened"),
        "{audit}"
    );
    // Opening the same vouchers again changes nothing.
    let r = open(&s, &store, &v1);
    assert_eq!(r["new"], 0);
    assert_eq!(opened_in_window_0(&store), 2);
    // The third listed item crosses the threshold: exactly the three are revealed.
    let v2 = vouchers(&s, &client, &s.media[2..3], "v2");
    open(&s, &store, &v2);
    let st = status(&store, false);
    let windows = st["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1);
    let w = &windows[0];
    assert_eq!(
        (&w["window"], &w["state"]),
        (&serde_json::json!(0), &serde_json::json!("revealed"))
    );
    let mut ids: Vec<String> = w["real"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["item00.bin", "item01.bin", "item02.bin"]);
    assert!(
        w["real"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["ad"] == "chat 7" && m["ad_hex"] == hex(b"chat 7"))
    );
    assert_eq!(w["synthetic"], serde_json::json!([]));
    let text = ok(&status_args(&store, &[]));
    assert!(
        text.contains("window 0: threshold reached: 3 real matches"),
        "{text}"
    );
    fails(
        &[
            "server",
            "status",
            "--store",
            p(&store),
            "--account",
            "nobody",
        ],
        "no such account",
    );
}

#[test]
fn hash_voucher_by_hex_and_kinds() {
    let s = setup();
    let client = s.client_key();
    let out = ok(&["hash", "--kind", "md5", p(&s.media[0])]);
    assert!(out.starts_with("md5:") && out.split_whitespace().next().unwrap().len() == 4 + 32);
    let sha1 = ok(&["hash", "--kind", "sha1", p(&s.media[0])]);
    assert_eq!(sha1.split_whitespace().next().unwrap().len(), 5 + 40);
    let dir = s.path("vh");
    let made = ok(&client_voucher(
        &s,
        &s.db,
        &client,
        NOW,
        &dir,
        &["--hash", "md5:d41d8cd98f00b204e9800998ecf8427e"],
        &[],
    ));
    assert!(
        made.contains("1 vouchers written") && made.contains("(window 0)"),
        "{made}"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    fails(
        &client_voucher(&s, &s.db, &client, NOW, &dir, &["--hash", "pdq:00"], &[]),
        "--hash",
    );
    fails(
        &["hash", "--kind", "blake3", p(&s.media[0])],
        "unknown hash kind",
    );
}

#[test]
fn pdq_hash_of_a_reference_image_matches_the_reference() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/pdq");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("expected.json")).unwrap())
            .unwrap();
    let entries = expected
        .as_array()
        .cloned()
        .or_else(|| expected.as_object().map(|o| o.values().cloned().collect()))
        .unwrap();
    let mut checked = 0;
    for e in entries.iter() {
        let (Some(file), Some(hash)) = (
            e["file"].as_str().or(e["image"].as_str()),
            e["pdq"].as_str(),
        ) else {
            continue;
        };
        if e["quality"].as_u64().unwrap_or(0) < 50 {
            continue;
        }
        let out = ok(&["hash", "--kind", "pdq", p(&data.join(file))]);
        assert!(out.starts_with(&format!("pdq:{hash}")), "{file}: {out}");
        checked += 1;
    }
    assert!(checked > 0, "no reference entries checked");
    fails(
        &["hash", "--kind", "pdq", p(&data.join("expected.json"))],
        "cannot decode image",
    );
}

/// `server open --json` (no `--audit`): what anyone who sees the server's answer sees.
fn open_plain(
    s: &Setup,
    db: &Path,
    store: &Path,
    now: u64,
    files: &[PathBuf],
) -> serde_json::Value {
    serde_json::from_str(&ok(&server_open(
        &s.key,
        db,
        store,
        now,
        &["--json"],
        files,
    )))
    .unwrap()
}

/// A copy of voucher `v` at `name` with `edit` applied to its bytes.
fn edited(s: &Setup, v: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut b = std::fs::read(v).unwrap();
    edit(&mut b);
    let out = s.path(name);
    std::fs::write(&out, b).unwrap();
    out
}

#[test]
fn bad_vouchers_and_wrong_epochs_are_refused_one_by_one() {
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    let v = vouchers(&s, &client, &s.media[..1], "v");
    open(&s, &store, &v);
    let before = records(&store, &[]);
    assert_eq!(before.len(), 1);
    // A truncated voucher next to a good one: the bad one is counted as refused, the good
    // one is stored, the exit code is 0.
    let bad = edited(&s, &v[0], "bad.bmv", |b| {
        b.pop();
    });
    let good = vouchers(&s, &client, &s.media[1..2], "g");
    let r = open_plain(&s, &s.db, &store, NOW, &[good[0].clone(), bad.clone()]);
    assert_eq!(
        r,
        serde_json::json!({"vouchers": 2, "refused": 1, "late": 0, "pruned": 0})
    );
    let after = records(&store, &[]);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0]);
    assert_eq!(after[1]["id"], "item01.bin");
    assert_eq!(opened_in_window_0(&store), 2);
    // The bad one alone changes nothing.
    assert_eq!(open_plain(&s, &s.db, &store, NOW, &[bad])["refused"], 1);
    assert_eq!(records(&store, &[]), after);
    // An unreadable voucher file is the operator's problem: an error naming it, and nothing
    // of the batch is stored.
    let three = vouchers(&s, &client, &s.media[2..3], "three");
    fails(
        &server_open(
            &s.key,
            &s.db,
            &store,
            NOW,
            &[],
            &[three[0].clone(), s.path("missing.bmv")],
        ),
        "missing.bmv",
    );
    assert_eq!(records(&store, &[]), after);
    // Vouchers are bound to their account: filed under another one, a listed item's voucher
    // stays closed like any non-match (no error an uploader could tell apart), and nothing is
    // stored for either account.
    let mut args = server_open(&s.key, &s.db, &store, NOW, &["--json", "--audit"], &three);
    let at = args.iter().position(|a| a == ACCOUNT).unwrap();
    args[at] = "acct-2".into();
    let r: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(
        (&r["opened"], &r["no_match"], &r["refused"]),
        (
            &serde_json::json!(0),
            &serde_json::json!(1),
            &serde_json::json!(0)
        )
    );
    assert_eq!(records(&store, &[]), after);
    fails(
        &[
            "server",
            "status",
            "--store",
            p(&store),
            "--account",
            "acct-2",
        ],
        "no such account",
    );
    // A database of another epoch: the epoch-1 voucher is refused, the run succeeds.
    let db2 = s.path("db2.bmdb");
    ok(&db_build(
        &s.key,
        &[p(&s.path("a.txt"))],
        "sha256",
        &["--threshold", "3", "--smax", "6", "--epoch", "2"],
        &db2,
    ));
    assert_eq!(
        open_plain(&s, &db2, &store, NOW, &v[..1]),
        serde_json::json!({"vouchers": 1, "refused": 1, "late": 0, "pruned": 0})
    );
    assert_eq!(records(&store, &[]), after);
    // The wrong server key for the database.
    let other = s.path("other");
    ok(&["server", "keygen", "--out", p(&other)]);
    fails(
        &server_open(&other.join("server.key"), &s.db, &store, NOW, &[], &v[..1]),
        "db.bmdb",
    );
    // A corrupted client key.
    let ck = s.path("broken.key");
    std::fs::write(&ck, b"BMCK").unwrap();
    std::fs::set_permissions(&ck, std::fs::Permissions::from_mode(0o600)).unwrap();
    fails(
        &client_voucher(&s, &s.db, &ck, NOW, &s.path("zz"), &[], &s.media[..1]),
        "broken.key",
    );
    assert!(!s.path("zz").exists());
    assert_eq!(records(&store, &[]), after);
    assert_eq!(opened_in_window_0(&store), 2);
}

#[test]
fn a_batch_with_malformed_vouchers_among_good_ones_stores_the_good_ones() {
    let s = setup();
    let client = s.client_key();
    // Three listed items (T = 3: they reveal) and two unlisted ones.
    let mut items = s.media[..3].to_vec();
    items.extend(s.media[10..12].iter().cloned());
    let good = vouchers(&s, &client, &items, "good");
    let v = &good[0];
    let header = 2 + 1 + 8 + 8 + 1 + 64;
    let garbage = [
        edited(&s, v, "cut.bmv", |b| b.truncate(b.len() - 1)),
        edited(&s, v, "header-only.bmv", |b| b.truncate(header)),
        edited(&s, v, "empty.bmv", Vec::clear),
        edited(&s, v, "magic.bmv", |b| b[0] = b'X'),
        edited(&s, v, "version.bmv", |b| b[2] = 1),
        edited(&s, v, "epoch.bmv", |b| b[3] ^= 0x02),
        edited(&s, v, "noise.bmv", |b| {
            for (i, x) in b.iter_mut().enumerate() {
                *x = (i * 37 % 251) as u8;
            }
        }),
    ];
    // The garbage interleaved with the good vouchers.
    let mut batch = Vec::new();
    for (i, g) in good.iter().enumerate() {
        batch.push(g.clone());
        if let Some(bad) = garbage.get(i) {
            batch.push(bad.clone());
        }
    }
    batch.extend(garbage[good.len()..].iter().cloned());
    assert_eq!(batch.len(), good.len() + garbage.len());
    let mixed = s.path("mixed.sqlite");
    let out = run(&server_open(
        &s.key,
        &s.db,
        &mixed,
        NOW,
        &["--json"],
        &batch,
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({"vouchers": 12, "refused": 7, "late": 0, "pruned": 0})
    );
    // The same store as from the good vouchers alone.
    let clean = s.path("clean.sqlite");
    let r = open(&s, &clean, &good);
    assert_eq!(
        (&r["opened"], &r["no_match"]),
        (&serde_json::json!(3), &serde_json::json!(2))
    );
    assert_eq!(records(&mixed, &[]), records(&clean, &[]));
    assert_eq!(status(&mixed, false), status(&clean, false));
    let st = status(&mixed, false);
    assert_eq!(st["windows"][0]["state"], "revealed");
    assert_eq!(st["windows"][0]["real"].as_array().unwrap().len(), 3);
    // With --audit: the refused ones are not counted as opened or as non-matches.
    let r = open(&s, &s.path("audit.sqlite"), &batch);
    assert_eq!(
        r,
        serde_json::json!({"vouchers": 12, "opened": 3, "new": 3, "dropped": 0, "other_database": 0, "no_match": 2, "malformed_inner": 0, "refused": 7, "late": 0, "pruned": 0})
    );
    // A batch of garbage only: exit 0, everything refused, nothing stored.
    let none = s.path("none.sqlite");
    assert_eq!(
        open_plain(&s, &s.db, &none, NOW, &garbage),
        serde_json::json!({"vouchers": 7, "refused": 7, "late": 0, "pruned": 0})
    );
    fails(&status_args(&none, &[]), "no such account");
}

/// A refusal by the argument parser: exit code 2, no panic, stderr naming `needle`.
fn refused_by_the_parser<S: AsRef<OsStr> + Debug>(args: &[S], needle: &str) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains("required arguments were not provided") && err.contains(needle),
        "{args:?}: {err:?} does not mention {needle:?}"
    );
    assert!(o.stdout.is_empty());
}

/// `client_voucher` without `--insecure-test-policy` (the device policy applies).
fn policy_voucher(
    s: &Setup,
    db: &Path,
    client: &Path,
    out: &Path,
    extra: &[&str],
    files: &[PathBuf],
) -> Vec<String> {
    let mut args = client_voucher(s, db, client, NOW, out, extra, files);
    args.retain(|a| a != "--insecure-test-policy");
    args
}

#[test]
fn the_device_policy_refuses_a_weak_database_without_the_test_switch() {
    let s = setup();
    let client = s.client_key();
    let out = s.path("never");
    // T = 3, s_max = 6, no synthetic vouchers: refused with its own root pinned, and with
    // the pin waived; only the test switch accepts it.
    let refusal = "device policy refuses this database: threshold below";
    fails(
        &policy_voucher(
            &s,
            &s.db,
            &client,
            &out,
            &["--root", &s.root],
            &s.media[..1],
        ),
        refusal,
    );
    fails(
        &policy_voucher(
            &s,
            &s.db,
            &client,
            &out,
            &["--allow-unpinned-database"],
            &s.media[..1],
        ),
        refusal,
    );
    assert!(!out.exists());
    ok(&client_voucher(
        &s,
        &s.db,
        &client,
        NOW,
        &out,
        &[],
        &s.media[..1],
    ));
    assert_eq!(listing(&out).len(), 1);
}

#[test]
fn the_device_policy_bounds_are_checked_one_by_one() {
    let s = setup();
    let client = s.client_key();
    // Exactly at every bound: T = 10, s_max = 16, rates 0.2 % to 0.7 % (0.5 points wide),
    // one-hour windows; then each bound crossed by one step.
    let edge = [
        "--threshold",
        "10",
        "--smax",
        "16",
        "--rate-range",
        "0.002..0.007",
        "--window-length",
        "3600",
    ];
    let with = |flag: &str, value: &str| {
        let mut v: Vec<String> = strings(&edge);
        let at = v.iter().position(|a| a == flag).unwrap();
        v[at + 1] = value.to_string();
        v
    };
    let cases: Vec<(Vec<String>, Option<&str>)> = vec![
        (strings(&edge), None),
        (with("--rate-range", "0.095..0.1"), None),
        (with("--window-length", &(31 * DAY).to_string()), None),
        (with("--threshold", "9"), Some("threshold below")),
        (with("--smax", "15"), Some("s_max below")),
        (
            with("--rate-range", "0.0019..0.0069"),
            Some("synthetic-rate range"),
        ),
        (
            with("--rate-range", "0.002..0.0069"),
            Some("synthetic-rate range"),
        ),
        (
            with("--rate-range", "0.095..0.1001"),
            Some("synthetic-rate range"),
        ),
        (with("--window-length", "3599"), Some("window length")),
        (
            with("--window-length", &(31 * DAY + 1).to_string()),
            Some("window length"),
        ),
    ];
    for (i, (build, refusal)) in cases.iter().enumerate() {
        let db = s.path(&format!("db{i}.bmdb"));
        let build: Vec<&str> = build.iter().map(String::as_str).collect();
        let root = ok(&db_build(
            &s.key,
            &[p(&s.path("a.txt"))],
            "sha256",
            &build,
            &db,
        ));
        let out = s.path(&format!("out{i}"));
        let args = policy_voucher(
            &s,
            &db,
            &client,
            &out,
            &["--root", root.trim()],
            &s.media[..1],
        );
        match refusal {
            None => {
                ok(&args);
                assert_eq!(listing(&out).len(), 1, "{build:?}");
            }
            Some(why) => {
                let err = fails(&args, "device policy refuses this database");
                assert!(err.contains(why), "{build:?}: {err}");
                assert!(!out.exists(), "{build:?}");
            }
        }
    }
}

#[test]
fn client_vouchers_need_the_database_root_or_an_explicit_opt_out() {
    let s = setup();
    let client = s.client_key();
    // A database with the default parameters, which the default device policy accepts.
    let db = s.path("default.bmdb");
    let root = ok(&db_build(
        &s.key,
        &[p(&s.path("a.txt"))],
        "sha256",
        &[],
        &db,
    ));
    let root = root.trim();
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&["db", "inspect", "--json", p(&db)])).unwrap();
    assert_eq!(inspected["root"], root);
    let out = s.path("out");
    // Neither a root nor an opt-out: refused by the argument parser, nothing written.
    refused_by_the_parser(
        &policy_voucher(&s, &db, &client, &out, &[], &s.media[..1]),
        "--root",
    );
    assert!(!out.exists());
    // A root that is not the database's: refused, nothing written.
    let mut wrong = root.to_string().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    fails(
        &policy_voucher(&s, &db, &client, &out, &["--root", &wrong], &s.media[..1]),
        "root hash",
    );
    // Another database's root (signed by the same key) is refused too.
    fails(
        &policy_voucher(&s, &db, &client, &out, &["--root", &s.root], &s.media[..1]),
        "root hash",
    );
    fails(
        &policy_voucher(&s, &db, &client, &out, &["--root", "abcd"], &s.media[..1]),
        "--root",
    );
    // A pinned root with the test policy, which would ignore it: refused.
    fails(
        &client_voucher(
            &s,
            &db,
            &client,
            NOW,
            &out,
            &["--root", root],
            &s.media[..1],
        ),
        "--root and --insecure-test-policy together",
    );
    assert!(!out.exists());
    // The right root: vouchers are made, and the listed item's voucher opens on the server.
    ok(&policy_voucher(
        &s,
        &db,
        &client,
        &out,
        &["--root", root],
        &s.media[..2],
    ));
    let made = listing(&out);
    assert_eq!(made.len(), 2);
    let r: serde_json::Value = serde_json::from_str(&ok(&server_open(
        &s.key,
        &db,
        &s.path("store.sqlite"),
        NOW,
        &["--json", "--audit"],
        &made,
    )))
    .unwrap();
    assert_eq!(
        (&r["opened"], &r["refused"]),
        (&serde_json::json!(2), &serde_json::json!(0))
    );
    // The explicit opt-out works without a root.
    let unpinned = s.path("unpinned");
    ok(&policy_voucher(
        &s,
        &db,
        &client,
        &unpinned,
        &["--allow-unpinned-database"],
        &s.media[..1],
    ));
    assert_eq!(listing(&unpinned).len(), 1);
}

#[test]
fn keygen_refuses_to_replace_a_key_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    // Client key.
    let ck = dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&ck)]);
    let first = std::fs::read(&ck).unwrap();
    fails(&["client", "keygen", "--out", p(&ck)], "--force");
    assert_eq!(std::fs::read(&ck).unwrap(), first);
    ok(&["client", "keygen", "--out", p(&ck), "--force"]);
    let second = std::fs::read(&ck).unwrap();
    assert_ne!(second, first);
    assert_eq!(mode(&ck), 0o600);
    // Server key: both files kept on refusal; replaced together with --force.
    let keys = dir.path().join("keys");
    let (sk, pk) = (keys.join("server.key"), keys.join("server.pub"));
    ok(&["server", "keygen", "--out", p(&keys)]);
    let (sk1, pk1) = (std::fs::read(&sk).unwrap(), std::fs::read(&pk).unwrap());
    let err = fails(&["server", "keygen", "--out", p(&keys)], "--force");
    assert!(err.contains("server.key"), "{err}");
    assert_eq!(
        (std::fs::read(&sk).unwrap(), std::fs::read(&pk).unwrap()),
        (sk1.clone(), pk1.clone())
    );
    ok(&["server", "keygen", "--out", p(&keys), "--force"]);
    let (sk2, pk2) = (std::fs::read(&sk).unwrap(), std::fs::read(&pk).unwrap());
    assert!(sk2 != sk1 && pk2 != pk1);
    assert_eq!((mode(&sk), mode(&pk)), (0o600, 0o644));
}

#[test]
fn a_forced_server_key_no_longer_opens_the_old_database() {
    let s = setup();
    let client = s.client_key();
    let v = vouchers(&s, &client, &s.media[..1], "v");
    let keys = s.key.parent().unwrap();
    fails(&["server", "keygen", "--out", p(keys)], "--force");
    // The refusal kept the key: the database still opens.
    let store = s.path("store.sqlite");
    assert_eq!(open(&s, &store, &v)["opened"], 1);
    ok(&["server", "keygen", "--out", p(keys), "--force"]);
    fails(&server_open(&s.key, &s.db, &store, NOW, &[], &v), "db.bmdb");
}

#[test]
fn two_processes_opening_into_one_store_do_not_corrupt_it() {
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    let a = vouchers(&s, &client, &s.media[..3], "a");
    let b = vouchers(&s, &client, &s.media[3..6], "b");
    let spawn = |files: &[PathBuf]| {
        bin()
            .args(server_open(&s.key, &s.db, &store, NOW, &[], files))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut children: Vec<_> = (0..6)
        .map(|i| spawn(if i % 2 == 0 { &a } else { &b }))
        .collect();
    for c in children.iter_mut() {
        assert!(c.wait().unwrap().success());
    }
    let st = status(&store, false);
    assert_eq!(st["windows"].as_array().unwrap().len(), 1);
    assert_eq!(st["windows"][0]["state"], "revealed");
    assert_eq!(st["windows"][0]["real"].as_array().unwrap().len(), 6);
    assert_eq!(records(&store, &[]).len(), 6);
}

#[test]
fn help_names_every_subcommand() {
    let h = ok(&["--help"]);
    for c in [
        "server",
        "db",
        "client",
        "hash",
        "demo",
        "bench",
        "simulate",
        "eval-hash",
    ] {
        assert!(h.contains(c), "{c} missing from --help");
    }
    let h = ok(&["server", "--help"]);
    for c in ["keygen", "open", "status", "records"] {
        assert!(h.contains(c), "{c} missing from server --help");
    }
    let h = ok(&["client", "voucher", "--help"]);
    for c in ["--account", "--now", "--state", "--insecure-test-policy"] {
        assert!(h.contains(c), "{c} missing from client voucher --help");
    }
    let h = ok(&["db", "build", "--help"]);
    for c in [
        "--rate-range",
        "--window-origin",
        "--window-length",
        "--window-count",
    ] {
        assert!(h.contains(c), "{c} missing from db build --help");
    }
    assert!(!h.contains("--synthetic-rate"));
}

#[test]
fn demo_runs_end_to_end_and_checks_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["demo", "--listed", "3000", "--dir", p(dir.path())]);
    assert!(out.contains("below the threshold"), "{out}");
    assert!(out.contains("check: revealed exactly the"), "{out}");
    assert!(dir.path().join("demo.bmdb").exists() && dir.path().join("accounts.sqlite").exists());
    assert_eq!(
        std::fs::metadata(dir.path().join("server.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn bench_json_has_every_operation() {
    let out = ok(&["bench", "--json", "--entries", "300", "--smax-costs", "60"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let row = |op: &str| {
        rows.iter()
            .find(|r| r["operation"] == op)
            .unwrap_or_else(|| panic!("{op} missing"))
    };
    for op in [
        "db_build_entry",
        "db_build_entry_parallel",
        "voucher_real",
        "voucher_synthetic",
        "open",
        "open_batch",
        "open_batch_parallel",
        "reveal",
        "db_load",
        "account_insert_s60",
        "evaluate_decode_beyond_smax",
        "account_insert_100k",
    ] {
        let r = row(op);
        for k in ["us_per_op", "floor_us", "ratio"] {
            assert!(r[k].as_f64().unwrap() > 0.0, "{op}.{k}");
        }
    }
    // Constant work: the synthetic voucher is measured against this run's real one, so its
    // ratio is synthetic / real.
    let (real, synthetic) = (row("voucher_real"), row("voucher_synthetic"));
    assert_eq!(synthetic["floor_us"], real["us_per_op"]);
    let ratio = synthetic["us_per_op"].as_f64().unwrap() / real["us_per_op"].as_f64().unwrap();
    assert!(
        (synthetic["ratio"].as_f64().unwrap() - ratio).abs() < 1e-9 * ratio,
        "{synthetic}"
    );
}

// What a curious server sees, through the CLI.

#[test]
fn every_item_sent_twice_opens_twice_to_one_x0_and_one_id_real_and_synthetic_alike() {
    // T = 50 (nothing can be revealed), synthetic rate 0.5: about half the unlisted items open.
    let s = setup_with(
        60,
        30,
        &[
            "--threshold",
            "50",
            "--rate-range",
            "0.5..0.5",
            "--smax",
            "8",
        ],
    );
    let client = s.client_key();
    let store = s.path("store.sqlite");
    // Two separate sends of the same 60 files (30 listed, 30 unlisted).
    let mut sent = vouchers(&s, &client, &s.media, "first");
    let second = vouchers(&s, &client, &s.media, "second");
    assert_eq!((sent.len(), second.len()), (60, 60));
    sent.extend(second);
    let r = open(&s, &store, &sent);
    let recs = records(&store, &[]);
    assert_eq!(r["opened"].as_u64(), Some(recs.len() as u64));
    assert_eq!(r["new"].as_u64(), Some(recs.len() as u64));
    let mut by_x0: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for rec in &recs {
        assert_eq!(rec["window"], 0, "{rec}");
        assert_eq!(rec["arrival"], NOW, "{rec}");
        by_x0
            .entry(rec["x0"].as_str().unwrap().to_string())
            .or_default()
            .push(rec);
    }
    // Every opened item, real or synthetic: exactly two records, one x0, one id.
    let mut ids = BTreeSet::new();
    for (x0, sends) in &by_x0 {
        assert_eq!(sends.len(), 2, "x0 {x0} stored {} times", sends.len());
        assert_eq!(sends[0]["id"], sends[1]["id"], "x0 {x0}");
        assert_eq!(sends[0]["id_hex"], sends[1]["id_hex"], "x0 {x0}");
        assert!(
            ids.insert(sends[0]["id"].as_str().unwrap().to_string()),
            "two x0 for one id"
        );
    }
    // The 30 listed items always open; of the unlisted, the synthetic ones (rate 0.5).
    let listed: BTreeSet<String> = (0..30).map(|i| format!("item{i:02}.bin")).collect();
    assert!(
        listed.is_subset(&ids),
        "a listed item did not open: {ids:?}"
    );
    let synthetic = ids.len() - listed.len();
    assert!(
        (1..30).contains(&synthetic),
        "{synthetic} unlisted items opened"
    );
    // Below the threshold: `server records` needs --audit; `server status` shows no count.
    let mut no_audit = strings(&[
        "server",
        "records",
        "--store",
        p(&store),
        "--account",
        ACCOUNT,
    ]);
    fails(&no_audit, "needs the explicit --audit switch");
    no_audit.push("--json".into());
    fails(&no_audit, "--audit");
    assert_no_count(&store);
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 0, "state": "below_threshold", "opened": recs.len()}])
    );
    // The text listing holds the same records.
    let text = ok(&[
        "server",
        "records",
        "--audit",
        "--store",
        p(&store),
        "--account",
        ACCOUNT,
    ]);
    assert!(
        text.trim_end()
            .ends_with(&format!("{} records", recs.len())),
        "{text}"
    );
    for x0 in by_x0.keys() {
        assert_eq!(text.matches(&format!("x0 {x0}")).count(), 2, "{x0}: {text}");
    }
}

#[test]
fn windows_never_combine_late_vouchers_are_counted_closed_windows_are_pruned() {
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    // Two listed items (and an unlisted one) in window 0, two other listed items in window 1:
    // four distinct matches, T = 3, but below T in each window.
    let mut files = s.media[..2].to_vec();
    files.push(s.media[10].clone());
    let w0 = vouchers_at(&s, &client, at(0), &files, "w0");
    let w1 = vouchers_at(&s, &client, at(1), &s.media[2..4], "w1");
    assert_eq!(open_at(&s, &store, at(0), &w0)["opened"], 2);
    let r = open_at(&s, &store, at(1), &w1);
    assert_eq!(
        (r["opened"].as_u64(), r["pruned"].as_u64()),
        (Some(2), Some(0))
    );
    let recs = records(&store, &[]);
    assert_eq!(per_window(&recs), BTreeMap::from([(0, 2), (1, 2)]));
    assert!(
        recs.iter()
            .all(|r| r["arrival"] == at(r["window"].as_u64().unwrap()))
    );
    let only1 = records(&store, &["--window", "1"]);
    assert_eq!(per_window(&only1), BTreeMap::from([(1, 2)]));
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([
            {"window": 0, "state": "below_threshold", "opened": 2},
            {"window": 1, "state": "below_threshold", "opened": 2},
        ])
    );
    assert_no_count(&store);

    // A voucher for a window beyond the next one: counted as outside the accepted windows,
    // not stored, the run succeeds.
    let early = vouchers_at(&s, &client, at(3), &s.media[4..5], "early");
    assert_eq!(
        open_plain(&s, &s.db, &store, at(1), &early),
        serde_json::json!({"vouchers": 1, "refused": 0, "late": 1, "pruned": 0})
    );
    assert_eq!(records(&store, &[]), recs);
    // So is one whose window lies outside the schedule (520 windows).
    let beyond = edited(&s, &early[0], "beyond.bmv", |b| {
        b[11..19].copy_from_slice(&10_000u64.to_le_bytes())
    });
    let r = open_at(&s, &store, at(1), &[beyond]);
    assert_eq!(
        (&r["opened"], &r["refused"], &r["late"]),
        (
            &serde_json::json!(0),
            &serde_json::json!(0),
            &serde_json::json!(1)
        )
    );
    assert_eq!(records(&store, &[]), recs);

    // After window 1's grace, a window-0 voucher is late: counted, not stored; and window 0's
    // below-threshold records are gone (closed), window 1's kept.
    let late = vouchers_at(&s, &client, at(0), &s.media[4..5], "late");
    let after_grace = ORIGIN + WEEK + 2 * DAY;
    assert_eq!(
        open_plain(&s, &s.db, &store, after_grace, &late),
        serde_json::json!({"vouchers": 1, "refused": 0, "late": 1, "pruned": 2})
    );
    let text = ok(&server_open(&s.key, &s.db, &store, after_grace, &[], &late));
    assert!(
        text.contains("1 vouchers filed (0 refused as malformed, 1 outside the accepted windows)"),
        "{text}"
    );
    let recs = records(&store, &[]);
    assert_eq!(per_window(&recs), BTreeMap::from([(1, 2)]));
    // A late voucher next to a current one (window 1: a new voucher for an item it holds,
    // so still two distinct matches): the current one is stored.
    let current = vouchers_at(&s, &client, after_grace, &s.media[2..3], "current");
    let r = open_at(
        &s,
        &store,
        after_grace,
        &[late[0].clone(), current[0].clone()],
    );
    assert_eq!(
        (&r["opened"], &r["new"], &r["late"], &r["pruned"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0)
        )
    );
    assert_eq!(per_window(&records(&store, &[])), BTreeMap::from([(1, 3)]));
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 1, "state": "below_threshold", "opened": 3}])
    );

    // In window 2 (within its grace) window 1 is the previous window: kept.
    let w2 = vouchers_at(&s, &client, at(2), &s.media[4..5], "w2");
    let r = open_at(&s, &store, at(2), &w2);
    assert_eq!(
        (r["opened"].as_u64(), r["pruned"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        per_window(&records(&store, &[])),
        BTreeMap::from([(1, 3), (2, 1)])
    );
    assert!(records(&store, &["--window", "0"]).is_empty());
    // Past window 2's grace, window 1 goes too.
    let r = open_at(&s, &store, at(2) + 2 * DAY, &w2);
    assert_eq!(
        (r["new"].as_u64(), r["pruned"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(per_window(&records(&store, &[])), BTreeMap::from([(2, 1)]));
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 2, "state": "below_threshold", "opened": 1}])
    );

    // A window that revealed is kept after it closes.
    let more = vouchers_at(&s, &client, at(2), &s.media[..2], "more");
    open_at(&s, &store, at(2) + 2 * DAY, &more);
    let w4 = vouchers_at(&s, &client, at(4), &s.media[5..6], "w4");
    let r = open_at(&s, &store, at(4) + 2 * DAY, &w4);
    assert_eq!(r["pruned"], 0);
    assert_eq!(
        per_window(&records(&store, &[])),
        BTreeMap::from([(2, 3), (4, 1)])
    );
    let st = status(&store, false);
    assert_eq!(st["windows"][0]["state"], "revealed");
    assert_eq!(st["windows"][0]["real"].as_array().unwrap().len(), 3);
    assert_eq!(
        st["windows"][1],
        serde_json::json!({"window": 4, "state": "below_threshold"})
    );
}

/// The ids of a revealed window's real matches, sorted.
fn real_ids(window: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = window["real"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_revealed_window_stays_revealed_whatever_arrives_later() {
    // T = 3 and s_max = 2 with a 10 % synthetic rate: 20 listed items reveal (about 18 real,
    // 2 synthetic); then 800 unlisted items bring about 80 synthetic records, far more than
    // the decoder can see through (it needs k ≥ T − 1 + ⌈z/s_max⌉ real records among z
    // synthetic ones), and garbage arrives with them.
    let s = setup_with(
        20,
        20,
        &[
            "--threshold",
            "3",
            "--smax",
            "2",
            "--rate-range",
            "0.1..0.1",
        ],
    );
    let client = s.client_key();
    let store = s.path("store.sqlite");
    let listed = vouchers(&s, &client, &s.media, "listed");
    assert_eq!(open(&s, &store, &listed)["opened"], 20);
    let st = status(&store, false);
    let w = &st["windows"][0];
    assert_eq!(w["state"], "revealed", "{w}");
    let real = real_ids(w);
    assert!(real.len() >= 3, "{w}");
    let synthetic_before = w["synthetic"].as_array().unwrap().len();
    assert_eq!(real.len() + synthetic_before, 20);

    // The flood: unlisted hashes given directly, and garbage copies of some of them.
    let flood = s.path("flood");
    let mut args = client_voucher(&s, &s.db, &client, NOW, &flood, &[], &[]);
    for i in 0..800u32 {
        args.push("--hash".into());
        args.push(format!("sha256:{:064x}", 0xf100d000_u64 + u64::from(i)));
    }
    ok(&args);
    let mut batch = listing(&flood);
    assert_eq!(batch.len(), 800);
    for (i, v) in batch.clone().iter().take(20).enumerate() {
        batch.push(edited(&s, v, &format!("garbage{i}.bmv"), |b| {
            b.truncate(b.len() / 2)
        }));
    }
    let r = open(&s, &store, &batch);
    assert_eq!(
        (&r["refused"], &r["late"]),
        (&serde_json::json!(20), &serde_json::json!(0))
    );
    // Beyond what the decoder sees through: z > s_max · (k − T + 1) for any k ≤ 20.
    let opened = r["opened"].as_u64().unwrap() as usize;
    assert!(
        opened > 2 * (20 - 2),
        "only {opened} synthetic vouchers opened"
    );

    // Still revealed: the same real matches, every later record listed as synthetic.
    let st = status(&store, false);
    let w = &st["windows"][0];
    assert_eq!(w["state"], "revealed");
    assert_eq!(real_ids(w), real);
    let synthetic = w["synthetic"].as_array().unwrap();
    assert_eq!(synthetic.len(), synthetic_before + opened);
    let synthetic_hex: Vec<String> = synthetic
        .iter()
        .map(|id| hex(id.as_str().unwrap().as_bytes()))
        .collect();
    assert_eq!(w["synthetic_hex"], serde_json::json!(synthetic_hex));
    assert_eq!(w["rejected_hex"], serde_json::json!([]));
    assert_eq!(records(&store, &[]).len(), 20 + opened);
    let text = ok(&status_args(&store, &[]));
    assert!(
        text.contains(&format!(
            "window 0: threshold reached: {} real matches, {} synthetic vouchers, 0 rejected records",
            real.len(),
            synthetic.len()
        )),
        "{text}"
    );
    // What keeps it revealed is the key its reveal found: the same records evaluated afresh
    // (all the vouchers opened at once into a new store, the listed ones spread out so that no
    // run of arrivals holds T of them and the decoder cannot see through the synthetic ones)
    // reveal nothing.
    let afresh = s.path("afresh.sqlite");
    let mut all = Vec::new();
    let mut rest = batch.into_iter();
    for l in &listed {
        all.push(l.clone());
        all.extend(rest.by_ref().take(40));
    }
    all.extend(rest);
    assert_eq!(open(&s, &afresh, &all)["opened"], 20 + opened);
    assert_eq!(
        status(&afresh, true)["windows"],
        serde_json::json!([{"window": 0, "state": "below_threshold", "opened": 20 + opened}])
    );
}

/// `client voucher` arguments for `n` vouchers of hashes `hash(0)`, …, `hash(n - 1)` (given
/// directly with `--hash`), written to `out`.
fn hash_vouchers(
    s: &Setup,
    client: &Path,
    out: &Path,
    n: u32,
    hash: impl Fn(u32) -> String,
) -> Vec<String> {
    let mut args = client_voucher(s, &s.db, client, NOW, out, &[], &[]);
    for i in 0..n {
        args.push("--hash".into());
        args.push(hash(i));
    }
    args
}

#[test]
fn an_account_holds_at_most_4096_records_per_window_and_says_when_it_is_over() {
    // 4,100 vouchers of one listed item (each send is a new record of one distinct item, so
    // T = 3 is never reached): no honest device sends that many in one window.
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    let listed = ok(&["hash", "--kind", "sha256", p(&s.media[0])]);
    let listed = listed.split_whitespace().next().unwrap().to_string();
    let flood = s.path("flood");
    ok(&hash_vouchers(&s, &client, &flood, 4100, |_| {
        listed.clone()
    }));
    let sent = listing(&flood);
    assert_eq!(sent.len(), 4100);
    let r = open(&s, &store, &sent);
    assert_eq!(
        (&r["opened"], &r["new"]),
        (&serde_json::json!(4100), &serde_json::json!(4096))
    );
    assert_eq!(records(&store, &[]).len(), 4096);
    // The state is shown without --audit (a misbehaving device); the count only with it.
    assert_eq!(
        status(&store, false)["windows"],
        serde_json::json!([{"window": 0, "state": "over_capacity"}])
    );
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 0, "state": "over_capacity", "dropped": 4}])
    );
    assert_eq!(
        ok(&status_args(&store, &[])),
        "window 0: over capacity (a misbehaving device); nothing is revealed\n"
    );
    let audit = ok(&status_args(&store, &["--audit"]));
    assert!(
        audit.starts_with(
            "window 0: over capacity: 4 opened vouchers beyond the account's capacity were dropped"
        ),
        "{audit}"
    );
    // Two more listed items would reach T = 3, but the window is full: they are dropped.
    let more = vouchers(&s, &client, &s.media[1..3], "more");
    assert_eq!(open(&s, &store, &more)["new"], 0);
    assert_eq!(records(&store, &[]).len(), 4096);
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 0, "state": "over_capacity", "dropped": 6}])
    );
}

#[test]
fn an_account_with_more_synthetic_records_than_the_decoder_handles_is_undecodable() {
    // A 95 % synthetic rate: about 1,330 of 1,400 unlisted items open as synthetic vouchers,
    // beyond the decode limit (1,024 synthetic records; with s_max = 16, 1,330 distinct
    // records are enough for the decoder to tell); no honest device does that.
    let s = setup_with(
        3,
        3,
        &[
            "--threshold",
            "3",
            "--smax",
            "16",
            "--rate-range",
            "0.95..0.95",
        ],
    );
    let client = s.client_key();
    let store = s.path("store.sqlite");
    let flood = s.path("flood");
    ok(&hash_vouchers(&s, &client, &flood, 1400, |i| {
        format!("sha256:{:064x}", 0xf100d000_u64 + u64::from(i))
    }));
    let r = open(&s, &store, &listing(&flood));
    assert!(r["opened"].as_u64().unwrap() > 1024 + 2, "{r}");
    // Shown without --audit, with no count either way.
    for audit in [false, true] {
        assert_eq!(
            status(&store, audit)["windows"],
            serde_json::json!([{"window": 0, "state": "undecodable"}])
        );
    }
    let text = ok(&status_args(&store, &[]));
    assert!(text.starts_with("window 0: undecodable: "), "{text}");
    assert!(
        !text.contains(|c: char| c.is_ascii_digit() && c != '0'),
        "{text}"
    );
}

#[test]
fn records_of_another_database_never_join_an_account_window() {
    let s = setup();
    let client = s.client_key();
    let store = s.path("store.sqlite");
    open(&s, &store, &vouchers(&s, &client, &s.media[..2], "v"));
    let before = records(&store, &[]);
    // The same key and list rebuilt with another rate range: another database (client
    // context). A third listed item's voucher made for it opens, but is not filed into the
    // window, which holds the first database's records: the run succeeds, nothing changes,
    // and the window stays below T = 3.
    let db2 = s.path("db2.bmdb");
    ok(&db_build(
        &s.key,
        &[p(&s.path("a.txt"))],
        "sha256",
        &[
            "--threshold",
            "3",
            "--smax",
            "6",
            "--rate-range",
            "0.1..0.1",
        ],
        &db2,
    ));
    let out = s.path("v2");
    ok(&client_voucher(
        &s,
        &db2,
        &client,
        NOW,
        &out,
        &[],
        &s.media[2..3],
    ));
    let r: serde_json::Value = serde_json::from_str(&ok(&server_open(
        &s.key,
        &db2,
        &store,
        NOW,
        &["--json", "--audit"],
        &listing(&out),
    )))
    .unwrap();
    assert_eq!(
        (&r["opened"], &r["new"], &r["refused"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(0)
        )
    );
    assert_eq!(records(&store, &[]), before);
    assert_eq!(
        status(&store, true)["windows"],
        serde_json::json!([{"window": 0, "state": "below_threshold", "opened": 2}])
    );
}

#[test]
fn device_state_refuses_a_second_database_in_a_window_and_going_back() {
    let s = setup();
    let client = s.client_key();
    // The same server key and list, rebuilt with another rate range: another root hash.
    let db2 = s.path("db2.bmdb");
    let root2 = ok(&db_build(
        &s.key,
        &[p(&s.path("a.txt"))],
        "sha256",
        &[
            "--threshold",
            "3",
            "--smax",
            "6",
            "--rate-range",
            "0.1..0.1",
        ],
        &db2,
    ));
    assert_ne!(root2.trim(), s.root);
    let state = s.path("device.state");
    let state_arg = ["--state", p(&state)];
    let make = |db: &Path, now: u64, out: &str| {
        client_voucher(
            &s,
            db,
            &client,
            now,
            &s.path(out),
            &state_arg,
            &s.media[..1],
        )
    };
    ok(&make(&s.db, at(0), "a"));
    let saved = std::fs::read(&state).unwrap();
    // A second database in the same window: refused, nothing written, the state unchanged.
    fails(
        &make(&db2, at(0) + 60, "b"),
        "a different database was already used in window 0",
    );
    assert!(!s.path("b").exists());
    assert_eq!(std::fs::read(&state).unwrap(), saved);
    // The first database again in that window: fine.
    ok(&make(&s.db, at(0) + 120, "a2"));
    // In the next window the second database works.
    ok(&make(&db2, at(1), "c"));
    assert_eq!(listing(&s.path("c")).len(), 1);
    // Going back to an older window fails, with either database.
    fails(&make(&db2, at(0), "d"), "window 0 is older than window 1");
    fails(&make(&s.db, at(0), "d"), "window 0 is older than window 1");
    // And the first database is now the second one in window 1.
    fails(
        &make(&s.db, at(1) + 60, "d"),
        "a different database was already used in window 1",
    );
    assert!(!s.path("d").exists());
    // Without the state file the device keeps no memory (the app's choice).
    let mut stateless = make(&s.db, at(0), "e");
    stateless.retain(|a| a != "--state" && a != p(&state));
    ok(&stateless);
    // A corrupt state file is refused, naming it.
    std::fs::write(&state, b"junk").unwrap();
    fails(&make(&db2, at(1), "f"), "device.state");
    assert!(!s.path("f").exists());
}

#[test]
fn v1_files_are_refused_with_a_version_message() {
    let s = setup();
    let client = s.client_key();
    // A v1 database: the format version (bytes 4..6, little-endian) rewritten to 1.
    let mut bytes = std::fs::read(&s.db).unwrap();
    assert_eq!(&bytes[4..6], &2u16.to_le_bytes());
    bytes[4..6].copy_from_slice(&1u16.to_le_bytes());
    let v1 = s.path("v1.bmdb");
    std::fs::write(&v1, &bytes).unwrap();
    let needle = "unsupported format version 1";
    let err = fails(&["db", "inspect", p(&v1)], needle);
    assert!(err.contains("v1.bmdb"), "{err}");
    fails(
        &["db", "verify", p(&v1), "--server-pub", p(&s.public)],
        needle,
    );
    fails(
        &client_voucher(&s, &v1, &client, NOW, &s.path("never"), &[], &s.media[..1]),
        needle,
    );
    assert!(!s.path("never").exists());
    let v = vouchers(&s, &client, &s.media[..1], "v");
    let store = s.path("store.sqlite");
    fails(&server_open(&s.key, &v1, &store, NOW, &[], &v), needle);
    // A store of schema version 1 (protocol v1 records): refused, never reinterpreted.
    open(&s, &store, &v);
    assert!(!s.path("store.sqlite-wal").exists(), "WAL not checkpointed");
    let mut db = std::fs::read(&store).unwrap();
    // SQLite's header holds the user version at offset 60 (big-endian).
    assert_eq!(&db[60..64], &STORE_SCHEMA.to_be_bytes());
    db[60..64].copy_from_slice(&1u32.to_be_bytes());
    let old = s.path("old.sqlite");
    std::fs::write(&old, &db).unwrap();
    fails(&status_args(&old, &[]), "schema version 1");
    fails(
        &server_open(&s.key, &s.db, &old, NOW, &[], &v),
        "schema version 1",
    );
    // A store of a newer schema than this build's is refused too.
    db[60..64].copy_from_slice(&(STORE_SCHEMA + 1).to_be_bytes());
    let newer = s.path("newer.sqlite");
    std::fs::write(&newer, &db).unwrap();
    fails(
        &status_args(&newer, &[]),
        &format!("schema version {}", STORE_SCHEMA + 1),
    );
}

/// The account store's schema version (`PRAGMA user_version`).
const STORE_SCHEMA: u32 = 5;

/// The account store's schema version 2 (before reveal keys and capacity), as released.
const SCHEMA_V2: &str = "
    CREATE TABLE accounts (
        account TEXT NOT NULL,
        window INTEGER NOT NULL,
        threshold INTEGER NOT NULL,
        s_max INTEGER NOT NULL,
        rate_lo_ppm INTEGER NOT NULL,
        rate_hi_ppm INTEGER NOT NULL,
        context BLOB NOT NULL,
        revealed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, window)
    );
    CREATE TABLE opened (
        account TEXT NOT NULL,
        window INTEGER NOT NULL,
        q BLOB NOT NULL,
        record BLOB NOT NULL,
        arrival INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (account, window, q)
    );
    CREATE INDEX opened_by_seq ON opened(account, window, seq);
    PRAGMA user_version = 2;";

/// The columns of a store table.
fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_schema_version_2_store_is_migrated_on_open() {
    let s = setup();
    let client = s.client_key();
    // Two listed items (T = 3) opened into a current store, copied into a version-2 store.
    let v = vouchers(&s, &client, &s.media[..2], "v");
    let current = s.path("current.sqlite");
    open(&s, &current, &v);
    let old = s.path("v2.sqlite");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(SCHEMA_V2).unwrap();
        conn.execute("ATTACH DATABASE ?1 AS cur", [p(&current)])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO accounts SELECT account, window, threshold, s_max, rate_lo_ppm,
                 rate_hi_ppm, context, revealed FROM cur.accounts;
             INSERT INTO opened SELECT account, window, q, record, arrival, seq FROM cur.opened;
             DETACH DATABASE cur;",
        )
        .unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        assert!(!columns(&conn, "accounts").contains(&"reveal_keys".to_string()));
    }
    // Read as it was: the same records and state.
    assert_eq!(records(&old, &[]), records(&current, &[]));
    assert_eq!(opened_in_window_0(&old), 2);
    // Now of the current version, with the tables and columns of a new store; no reveal
    // keys, nothing dropped, the records held counted.
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        let fresh = rusqlite::Connection::open(&current).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, STORE_SCHEMA);
        for table in ["accounts", "opened"] {
            let (mut got, mut want) = (columns(&conn, table), columns(&fresh, table));
            got.sort();
            want.sort();
            assert_eq!(got, want, "{table}");
        }
        let tables = |c: &rusqlite::Connection| -> Vec<String> {
            let mut stmt = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(tables(&conn), tables(&fresh));
        let (keys, dropped, held): (Vec<u8>, i64, i64) = conn
            .query_row("SELECT reveal_keys, dropped, held FROM accounts", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((keys.len(), dropped, held), (0, 0, 2));
    }
    // And it works on: the third listed item reveals, and the reveal's key is kept.
    let third = vouchers(&s, &client, &s.media[2..3], "third");
    assert_eq!(open(&s, &old, &third)["new"], 1);
    let st = status(&old, false);
    assert_eq!(st["windows"][0]["state"], "revealed");
    assert_eq!(st["windows"][0]["real"].as_array().unwrap().len(), 3);
    let conn = rusqlite::Connection::open(&old).unwrap();
    let (keys, revealed): (Vec<u8>, i64) = conn
        .query_row("SELECT reveal_keys, revealed FROM accounts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((keys.len(), revealed), (32, 1));
}

#[test]
fn simulate_reports_reveal_probability_and_advantage_by_matches() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("sim.svg");
    let out = ok(&[
        "simulate",
        "--threshold",
        "5",
        "--smax",
        "4",
        "--rate",
        "0.01",
        "--items",
        "300",
        "--matches",
        "0..6",
        "--trials",
        "20",
        "--json",
        "--chart",
        p(&chart),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let params = &v["params"];
    assert_eq!(params["threshold"], 5);
    assert_eq!(params["s_max"], 4);
    assert_eq!(params["rate_range"], serde_json::json!([0.01, 0.01]));
    assert_eq!(
        (params["items"].as_u64(), params["trials"].as_u64()),
        (Some(300), Some(20))
    );
    let rows = v["by_matches"].as_array().unwrap();
    let matches: Vec<u64> = rows
        .iter()
        .map(|r| r["matches"].as_u64().unwrap())
        .collect();
    assert_eq!(matches, (0..=6).collect::<Vec<_>>());
    let unit = |x: &serde_json::Value, what: &str| {
        let f = x.as_f64().unwrap_or_else(|| panic!("{what} missing"));
        assert!((0.0..=1.0).contains(&f), "{what} = {f}");
        f
    };
    let mut last_exact = -1.0;
    for r in rows {
        let m = r["matches"].as_u64().unwrap();
        let p_reveal = unit(&r["p_reveal"], "p_reveal");
        if m < 5 {
            assert_eq!(p_reveal, 0.0, "revealed below T with {m} matches");
        }
        // Listed items always open (as real or synthetic records).
        assert!(r["opened_mean"].as_f64().unwrap() >= m as f64, "{r}");
        let adv = &r["advantage_vs_zero"];
        let exact = unit(&adv["count_exact"], "count_exact");
        assert!(exact >= last_exact, "count advantage fell at {m}");
        last_exact = exact;
        let sampled = &adv["sampled"];
        let stat = unit(&sampled["statistic"], "statistic");
        let (lo, hi) = (
            unit(&sampled["ci95"][0], "ci95[0]"),
            unit(&sampled["ci95"][1], "ci95[1]"),
        );
        assert!(lo <= stat && stat <= hi, "{sampled}");
        assert_eq!(unit(&sampled["lower_bound_95"], "lower_bound_95"), lo);
    }
    assert_eq!(
        rows[0]["advantage_vs_zero"]["count_exact"].as_f64(),
        Some(0.0)
    );
    assert_eq!(rows[4]["p_reveal"].as_f64(), Some(0.0));
    assert!(rows[6]["p_reveal"].as_f64().unwrap() > 0.0, "{}", rows[6]);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    assert!(svg.contains("P(reveal)") && svg.contains("<polyline"));
    // The table, and a bad range.
    let table = ok(&[
        "simulate",
        "--threshold",
        "5",
        "--smax",
        "4",
        "--rate",
        "0.01",
        "--items",
        "50",
        "--matches",
        "0..1",
        "--trials",
        "2",
    ]);
    assert!(table.contains("P(reveal)"), "{table}");
    fails(&["simulate", "--matches", "6..0"], "--matches");
}

#[test]
fn a_voucher_with_a_broken_inner_layer_is_filed_like_a_closed_one() {
    // A device that breaks its own voucher's inner layer must not learn from the server's
    // answer whether the outer layer opened (whether the item is listed): without --audit,
    // what the server prints and its exit code are the same for a listed item's broken
    // voucher, an unlisted item's broken voucher and an unlisted item's intact one, and
    // nothing is stored for any of them.
    let s = setup();
    let client = s.client_key();
    let listed = vouchers(&s, &client, &s.media[..1], "listed");
    let unlisted = vouchers(&s, &client, &s.media[10..11], "unlisted");
    let broken = |v: &Path, name: &str| {
        let mut b = std::fs::read(v).unwrap();
        *b.last_mut().unwrap() ^= 1;
        let out = s.path(name);
        std::fs::write(&out, b).unwrap();
        out
    };
    let a = broken(&listed[0], "a.bmv");
    let b = broken(&unlisted[0], "b.bmv");
    // What the sender's side sees (exit code, stdout, stderr), each into a fresh store.
    let seen = |voucher: &Path, extra: &[&str], store: &str| {
        let o = run(&server_open(
            &s.key,
            &s.db,
            &s.path(store),
            NOW,
            extra,
            &[voucher.to_path_buf()],
        ));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (o.status.code(), o.stdout, o.stderr)
    };
    for extra in [&[][..], &["--json"][..]] {
        let plain_a = seen(&a, extra, "a.sqlite");
        let plain_b = seen(&b, extra, "b.sqlite");
        let closed = seen(&unlisted[0], extra, "c.sqlite");
        assert_eq!(plain_a, plain_b, "{extra:?}");
        assert_eq!(plain_a, closed, "{extra:?}");
    }
    let json = seen(&a, &["--json"], "a.sqlite").1;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
        serde_json::json!({"vouchers": 1, "refused": 0, "late": 0, "pruned": 0})
    );
    // Nothing was stored: the store has no such account.
    for store in ["a.sqlite", "b.sqlite"] {
        fails(&status_args(&s.path(store), &[]), "no such account");
    }
    // Only --audit tells them apart, and only as a count.
    let store = s.path("store.sqlite");
    let r = open(&s, &store, &[a, b]);
    assert_eq!(
        r,
        serde_json::json!({"vouchers": 2, "opened": 0, "new": 0, "dropped": 0, "other_database": 0, "no_match": 2, "malformed_inner": 1, "refused": 0, "late": 0, "pruned": 0})
    );
    let text = ok(&server_open(
        &s.key,
        &s.db,
        &store,
        NOW,
        &["--audit"],
        std::slice::from_ref(&s.path("a.bmv")),
    ));
    assert!(
        text.contains("0 opened (0 new, 0 dropped at capacity, 0 of another database's window), 1 not opened (of which 1 with a broken inner layer)"),
        "{text}"
    );
}

/// A picture of the repository's PDQ test data.
fn test_picture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data/pdq")
        .join(name)
}

#[test]
fn a_jpeg_copy_of_a_listed_picture_opens_through_a_fuzzy_database_and_an_unrelated_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["server", "keygen", "--out", p(&d.join("keys"))]);
    let key = d.join("keys/server.key");
    let listed = ["astronaut.png", "camera.png", "rocket.png"];
    // The list: the originals' PDQ hashes, as `blindmatch hash --kind pdq` prints them.
    let mut hash = strings(&["hash", "--kind", "pdq"]);
    hash.extend(listed.iter().map(|n| p(&test_picture(n)).to_string()));
    let mut list = String::new();
    for line in ok(&hash).lines() {
        let h = line.split_whitespace().next().unwrap();
        list.push_str(h.trim_start_matches("pdq:"));
        list.push('\n');
    }
    std::fs::write(d.join("list.txt"), list).unwrap();
    let db = d.join("fuzzy.bmdb");
    let mut build = db_build(&key, &[p(&d.join("list.txt"))], "pdq", &T3, &db);
    build.insert(build.len() - 2, "--fuzzy".into());
    ok(&build);
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["db", "inspect", "--json", p(&db)])).unwrap();
    assert_eq!(
        info["manifest"]["fuzzy"],
        serde_json::json!({"bands": 6, "band_bits": 32, "probes": 14})
    );
    // JPEG quality-70 copies of the listed pictures, and an unrelated picture.
    let mut media = Vec::new();
    for n in listed {
        let img = image::open(test_picture(n)).unwrap().to_rgb8();
        let out = d.join(n.replace(".png", "-q70.jpg"));
        let mut f = std::fs::File::create(&out).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 70)
            .encode_image(&img)
            .unwrap();
        media.push(out);
    }
    media.push(test_picture("text.png"));
    let public = d.join("keys/server.pub");
    let s = Setup {
        dir,
        key,
        public,
        db: db.clone(),
        root: String::new(),
        media: media.clone(),
    };
    let client = s.client_key();
    // No --kind: the database is fuzzy, so the files are pictures and get probe bundles.
    let bundles = vouchers(&s, &client, &media, "bundles");
    assert_eq!(bundles.len(), 4);
    let sizes: Vec<u64> = bundles
        .iter()
        .map(|b| std::fs::metadata(b).unwrap().len())
        .collect();
    assert!(sizes.iter().all(|l| *l == sizes[0]), "{sizes:?}");
    assert_eq!(&std::fs::read(&bundles[0]).unwrap()[..3], b"BB\x01");
    let store = s.path("store.sqlite");
    let r = open(&s, &store, &bundles);
    assert_eq!(
        (r["opened"].as_u64(), r["no_match"].as_u64()),
        (Some(3), Some(1)),
        "{r}"
    );
    let st = status(&store, false);
    let w = &st["windows"][0];
    assert_eq!(w["state"], "revealed", "{st}");
    let mut ids: Vec<&str> = w["real"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["astronaut-q70.jpg", "camera-q70.jpg", "rocket-q70.jpg"]
    );
    // A bare PDQ hash has no margins to probe with: refused with a clear message.
    fails(
        &client_voucher(
            &s,
            &db,
            &client,
            NOW,
            &s.path("bare"),
            &["--hash", &format!("pdq:{}", "ab".repeat(32))],
            &[],
        ),
        "probe bundles need the picture",
    );
}
