//! Drives the real `blindmatch` binary through every subcommand and its error paths.

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

struct Setup {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: PathBuf,
    db: PathBuf,
    root: String,
    media: Vec<PathBuf>,
}

/// Server key, 30 media files of which 6 are listed among 300 others, a database with T = 3.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["server", "keygen", "--out", p(&d.join("keys"))]);
    let key = d.join("keys/server.key");
    let public = d.join("keys/server.pub");
    let media: Vec<PathBuf> = (0..30)
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
    for f in &media[..6] {
        let line = ok(&["hash", "--kind", "sha256", p(f)]);
        plain.push_str(
            line.split_whitespace()
                .next()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
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
        &["--threshold", "3", "--smax", "6", "--synthetic-rate", "0"],
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
    let ck = s.dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&ck)]);
    assert_eq!(
        std::fs::metadata(&ck).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A group-readable secret key is refused, naming the file.
    std::fs::set_permissions(&s.key, std::fs::Permissions::from_mode(0o640)).unwrap();
    fails(
        &db_build(
            &s.key,
            &[p(&s.dir.path().join("a.txt"))],
            "sha256",
            &[],
            &s.dir.path().join("x.bmdb"),
        ),
        "server.key",
    );
    assert!(!s.dir.path().join("x.bmdb").exists());
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
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["db", "inspect", "--json", p(&s.db)])).unwrap();
    assert_eq!(json["root"], s.root.as_str());
    assert_eq!(json["manifest"]["entries"], 307);
    assert_eq!(json["manifest"]["params"]["threshold"], 3);
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
    let other = s.dir.path().join("other");
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
    let cut = s.dir.path().join("cut.bmdb");
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
        &["db", "inspect", p(&s.dir.path().join("missing.bmdb"))],
        "missing.bmdb",
    );
}

#[test]
fn bad_lists_name_the_line_and_leave_no_output() {
    let s = setup();
    let bad = s.dir.path().join("bad.txt");
    std::fs::write(&bad, "# ok\nd41d8cd98f00b204e9800998ecf8427e\nnot-hex\n").unwrap();
    let out = s.dir.path().join("never.bmdb");
    let build = |extra: &[&str]| db_build(&s.key, &[p(&bad)], "md5", extra, &out);
    fails(&build(&[]), "line 3");
    assert!(!out.exists());
    fails(&build(&["--threshold", "1"]), "line 3");
    std::fs::write(&bad, "d41d8cd98f00b204e9800998ecf8427e\n").unwrap();
    fails(&build(&["--threshold", "1"]), "threshold");
    fails(&build(&["--min-sources", "2"]), "min_sources");
    assert!(!out.exists());
}

fn vouchers(s: &Setup, client: &Path, files: &[PathBuf], out: &str) -> Vec<PathBuf> {
    let dir = s.dir.path().join(out);
    let mut args = vec![
        "client",
        "voucher",
        "--db",
        p(&s.db),
        "--server-pub",
        p(&s.public),
        "--client-key",
        p(client),
        "--root",
        &s.root,
        "--out",
        p(&dir),
        "--ad",
        "chat 7",
    ];
    args.extend(files.iter().map(|f| p(f)));
    ok(&args);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn open(s: &Setup, store: &Path, files: &[PathBuf]) -> serde_json::Value {
    let mut args = vec![
        "server",
        "open",
        "--server-key",
        p(&s.key),
        "--db",
        p(&s.db),
        "--store",
        p(store),
        "--account",
        "acct-1",
        "--json",
    ];
    args.extend(files.iter().map(|f| p(f)));
    serde_json::from_str(&ok(&args)).unwrap()
}

fn status(store: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&[
        "server",
        "status",
        "--store",
        p(store),
        "--account",
        "acct-1",
        "--json",
    ]))
    .unwrap()
}

#[test]
fn vouchers_open_and_reveal_exactly_at_the_threshold() {
    let s = setup();
    let client = s.dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&client)]);
    let store = s.dir.path().join("store.sqlite");
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
        status(&store),
        serde_json::json!({"state": "below_threshold", "opened": 2})
    );
    // Opening the same vouchers again changes nothing.
    let r = open(&s, &store, &v1);
    assert_eq!(r["new"], 0);
    assert_eq!(status(&store)["opened"], 2);
    // The third listed item crosses the threshold: exactly the three are revealed.
    let v2 = vouchers(&s, &client, &s.media[2..3], "v2");
    open(&s, &store, &v2);
    let st = status(&store);
    assert_eq!(st["state"], "revealed");
    let mut ids: Vec<String> = st["real"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["item00.bin", "item01.bin", "item02.bin"]);
    assert!(
        st["real"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["ad"] == "chat 7")
    );
    assert_eq!(st["synthetic"], serde_json::json!([]));
    let text = ok(&[
        "server",
        "status",
        "--store",
        p(&store),
        "--account",
        "acct-1",
    ]);
    assert!(text.contains("threshold reached: 3 real matches"));
    fails(
        &[
            "server",
            "status",
            "--store",
            p(&store),
            "--account",
            "nobody",
        ],
        "no account",
    );
}

#[test]
fn hash_voucher_by_hex_and_kinds() {
    let s = setup();
    let client = s.dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&client)]);
    let out = ok(&["hash", "--kind", "md5", p(&s.media[0])]);
    assert!(out.starts_with("md5:") && out.split_whitespace().next().unwrap().len() == 4 + 32);
    let sha1 = ok(&["hash", "--kind", "sha1", p(&s.media[0])]);
    assert_eq!(sha1.split_whitespace().next().unwrap().len(), 5 + 40);
    let dir = s.dir.path().join("vh");
    ok(&[
        "client",
        "voucher",
        "--db",
        p(&s.db),
        "--server-pub",
        p(&s.public),
        "--client-key",
        p(&client),
        "--out",
        p(&dir),
        "--hash",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ]);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    fails(
        &[
            "client",
            "voucher",
            "--db",
            p(&s.db),
            "--server-pub",
            p(&s.public),
            "--client-key",
            p(&client),
            "--out",
            p(&dir),
            "--hash",
            "pdq:00",
        ],
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

#[test]
fn bad_vouchers_and_wrong_epochs_change_nothing() {
    let s = setup();
    let client = s.dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&client)]);
    let store = s.dir.path().join("store.sqlite");
    let v = vouchers(&s, &client, &s.media[..1], "v");
    open(&s, &store, &v);
    let before = std::fs::read(&store).ok();
    let _ = before;
    // Truncated voucher: the whole batch is refused, naming the file; the store is unchanged.
    let bad = s.dir.path().join("bad.bmv");
    let bytes = std::fs::read(&v[0]).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 1]).unwrap();
    let good = vouchers(&s, &client, &s.media[1..2], "g");
    let mut args = vec![
        "server",
        "open",
        "--server-key",
        p(&s.key),
        "--db",
        p(&s.db),
        "--store",
        p(&store),
        "--account",
        "acct-1",
    ];
    args.push(p(&good[0]));
    args.push(p(&bad));
    fails(&args, "bad.bmv");
    assert_eq!(status(&store)["opened"], 1);
    // A database of another epoch.
    let db2 = s.dir.path().join("db2.bmdb");
    ok(&db_build(
        &s.key,
        &[p(&s.dir.path().join("a.txt"))],
        "sha256",
        &["--threshold", "3", "--smax", "6", "--epoch", "2"],
        &db2,
    ));
    fails(
        &[
            "server",
            "open",
            "--server-key",
            p(&s.key),
            "--db",
            p(&db2),
            "--store",
            p(&store),
            "--account",
            "acct-1",
            p(&v[0]),
        ],
        "epoch 1",
    );
    assert_eq!(status(&store)["opened"], 1);
    // The wrong server key for the database.
    let other = s.dir.path().join("other");
    ok(&["server", "keygen", "--out", p(&other)]);
    fails(
        &[
            "server",
            "open",
            "--server-key",
            p(&other.join("server.key")),
            "--db",
            p(&s.db),
            "--store",
            p(&store),
            "--account",
            "acct-1",
            p(&v[0]),
        ],
        "db.bmdb",
    );
    // A corrupted client key.
    let ck = s.dir.path().join("broken.key");
    std::fs::write(&ck, b"BMCK").unwrap();
    std::fs::set_permissions(&ck, std::fs::Permissions::from_mode(0o600)).unwrap();
    fails(
        &[
            "client",
            "voucher",
            "--db",
            p(&s.db),
            "--server-pub",
            p(&s.public),
            "--client-key",
            p(&ck),
            "--out",
            p(&s.dir.path().join("zz")),
            p(&s.media[0]),
        ],
        "broken.key",
    );
    assert!(!s.dir.path().join("zz").exists());
}

#[test]
fn two_processes_opening_into_one_store_do_not_corrupt_it() {
    let s = setup();
    let client = s.dir.path().join("client.key");
    ok(&["client", "keygen", "--out", p(&client)]);
    let store = s.dir.path().join("store.sqlite");
    let a = vouchers(&s, &client, &s.media[..3], "a");
    let b = vouchers(&s, &client, &s.media[3..6], "b");
    let spawn = |files: &Vec<PathBuf>| {
        let mut c = bin();
        c.args([
            "server",
            "open",
            "--server-key",
            p(&s.key),
            "--db",
            p(&s.db),
            "--store",
            p(&store),
            "--account",
            "acct-1",
        ]);
        c.args(files.iter().map(|f| p(f)));
        c.spawn().unwrap()
    };
    let mut children: Vec<_> = (0..6)
        .map(|i| spawn(if i % 2 == 0 { &a } else { &b }))
        .collect();
    for c in children.iter_mut() {
        assert!(c.wait().unwrap().success());
    }
    let st = status(&store);
    assert_eq!(st["state"], "revealed");
    assert_eq!(st["real"].as_array().unwrap().len(), 6);
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
        "eval-hash",
    ] {
        assert!(h.contains(c), "{c} missing from --help");
    }
    let h = ok(&["server", "--help"]);
    for c in ["keygen", "open", "status"] {
        assert!(h.contains(c));
    }
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
    let out = ok(&["bench", "--json", "--entries", "300"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    for op in [
        "db_build_entry",
        "voucher_real",
        "voucher_synthetic",
        "open",
        "reveal",
        "db_load",
    ] {
        let r = rows
            .iter()
            .find(|r| r["operation"] == op)
            .unwrap_or_else(|| panic!("{op} missing"));
        for k in ["us_per_op", "floor_us", "ratio"] {
            assert!(r[k].as_f64().unwrap() > 0.0, "{op}.{k}");
        }
    }
}
