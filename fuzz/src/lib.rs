//! The checks behind the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, one per function here).
//!
//! Each check feeds untrusted bytes to one of blindmatch-core's decoders, asserts cheap
//! properties (round trips, agreement between related entry points) and returns the decoder's
//! verdict. A check must never panic: a panic is a bug in core (or a broken property).
//!
//! The regression test `core/tests/fuzz_regressions.rs` includes this file as a module and
//! replays `fuzz/regressions/<target>/*` through the same functions, so keep it free of
//! anything but `blindmatch-core` and the crates core itself depends on.
//!
//! The `*_mutated` targets start from the valid objects in `fuzz/fixtures/` (a small database
//! signed by [`server_secret_bytes`] and a voucher for it made with [`client_key_bytes`]);
//! they are files rather than built at start-up because building a database picks a random
//! OKVS seed, and a crash input is a list of patches that only reproduces on the same base.
//! Regenerate them with
//! `cargo test -p blindmatch-core --test fuzz_regressions -- --ignored regenerate`
//! (which invalidates saved `*_mutated` crash inputs).
#![allow(clippy::missing_panics_doc)]

use blindmatch_core::device::{Client, DevicePolicy, DeviceState};
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::hazmat::okvs_lookup;
use blindmatch_core::media::pdq::{self, HashMargins, PdqHash, PixelFormat};
use blindmatch_core::research::{SyntheticChoice, hash_to_group, voucher_with_choice};
use blindmatch_core::server::{
    Account, Inserted, OpenOutcome, OpenedVoucher, Opener, Outcome, ServerSecretKey, assemble,
};
use blindmatch_core::{
    ClientKey, Database, Error, HashKind, Inspected, Manifest, MediaHash, Params, ServerPublicKey,
    VoucherHeader, parse_hash_list,
};
use std::sync::{Arc, OnceLock};

/// The F_p modulus, 2^64 − 59 (docs/PROTOCOL.md §1).
const P: u64 = 0xFFFF_FFFF_FFFF_FFC5;

/// Why a decoder refused an input (the typed error it returned).
#[derive(Debug)]
pub enum Rejection {
    /// A blindmatch-core error.
    Core(Error),
    /// Opened as "no match" although the outer layer opened: the inner layer was refused
    /// (counted by the opener's `malformed` metric, invisible to the sender).
    MalformedInner,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Core(e) => write!(f, "{e}"),
            Rejection::MalformedInner => f.write_str("inner layer refused (reported as no match)"),
        }
    }
}

/// `Ok` if the decoder accepted the input, otherwise its typed error.
pub type Verdict = Result<(), Rejection>;

// ---------------------------------------------------------------------------------------------
// Fixed keys and the fixture database and voucher.

/// The fixture server key: `BMSK ‖ 1 ‖ α = 0x11…11 01 (canonical) ‖ Ed25519 seed 0x22…`.
pub fn server_secret_bytes() -> Vec<u8> {
    let mut v = b"BMSK\x01\x00".to_vec();
    v.extend_from_slice(&[0x11; 31]);
    v.push(0x01);
    v.extend_from_slice(&[0x22; 32]);
    v
}

/// The fixture client key: `BMCK ‖ 1 ‖ seed 0x33…`.
pub fn client_key_bytes() -> Vec<u8> {
    let mut v = b"BMCK\x01\x00".to_vec();
    v.extend_from_slice(&[0x33; 32]);
    v
}

/// The fixture database's parameters: T = 3, s_max = 4, no synthetic vouchers.
pub fn fixture_params() -> Params {
    Params::new(3, 4, 0, 0).expect("valid parameters")
}

/// The fixture database's epoch.
pub const FIXTURE_EPOCH: u64 = 7;
/// The account the fixture voucher is made for.
pub const FIXTURE_ACCOUNT: &[u8] = b"fuzz-account";
/// The window the fixture voucher is made in.
pub const FIXTURE_WINDOW: u64 = 0;

/// The hashes the fixture database lists: six SHA-256, one MD5, one PDQ.
pub fn listed() -> Vec<MediaHash> {
    let mut v: Vec<MediaHash> = (0..6u64)
        .filter_map(|i| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&i.to_le_bytes());
            b[8] = 0xAB;
            MediaHash::new(HashKind::Sha256, &b).ok()
        })
        .collect();
    v.extend(MediaHash::new(HashKind::Md5, &[0x5A; 16]).ok());
    v.extend(MediaHash::new(HashKind::Pdq, &[0xC3; 32]).ok());
    v
}

/// A hash of each kind that the fixture database does not list.
pub fn unlisted() -> Vec<MediaHash> {
    HashKind::ALL
        .into_iter()
        .filter_map(|k| MediaHash::new(k, &vec![0xEE; k.len()]).ok())
        .collect()
}

static DB_FILE: &[u8] = include_bytes!("../fixtures/database.bmdb");
static FUZZY_DB_FILE: &[u8] = include_bytes!("../fixtures/fuzzy.bmdb");
static BUNDLE_FILE: &[u8] = include_bytes!("../fixtures/bundle.bb");
static VOUCHER_FILE: &[u8] = include_bytes!("../fixtures/voucher.bv");

/// Everything the checks share, built once per process from the fixture files.
pub struct Fixture {
    /// The fixed server key.
    pub key: ServerSecretKey,
    /// Its public half (the pinned key).
    pub public: ServerPublicKey,
    /// The fixture database file.
    pub db_bytes: &'static [u8],
    /// The fixture database, opened.
    pub db: Arc<Database>,
    /// The server's opener for it.
    pub opener: Opener,
    /// A real voucher for `listed()[0]` made with the fixed client key.
    pub voucher: &'static [u8],
}

const STALE: &str = "fuzz/fixtures are stale or corrupt: regenerate them with \
    `cargo test -p blindmatch-core --test fuzz_regressions -- --ignored regenerate`";

/// The shared fixture. Panics (with instructions) if the fixture files no longer load.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = ServerSecretKey::from_bytes(&server_secret_bytes()).expect(STALE);
        let public = key.public();
        let db = Arc::new(Database::open(DB_FILE, &public, None).expect(STALE));
        let opener = Opener::new(&key, db.manifest()).expect(STALE);
        assert!(
            matches!(
                opener.open(VOUCHER_FILE, FIXTURE_ACCOUNT),
                Ok(OpenOutcome::Opened(_))
            ),
            "{STALE}"
        );
        let f = Fixture {
            key,
            public,
            db_bytes: DB_FILE,
            db,
            opener,
            voucher: VOUCHER_FILE,
        };
        // The re-sealing helper must reproduce the voucher it starts from.
        assert_eq!(
            reseal_voucher(&f, &[]).as_deref(),
            Some(VOUCHER_FILE),
            "{STALE}"
        );
        f
    })
}

/// The fuzzy fixture's band layout: small, so bundles stay short (K = 4).
pub fn fuzzy_layout() -> FuzzyLayout {
    FuzzyLayout::new(2, 16, 2).expect("a valid layout")
}

/// The PDQ items the fuzzy fixture lists, with fixed margins (a device's input).
pub fn fuzzy_items() -> Vec<HashMargins> {
    (0..4u8)
        .map(|i| HashMargins {
            hash: PdqHash(std::array::from_fn(|j| {
                (j as u8).wrapping_mul(29) ^ i.wrapping_mul(101)
            })),
            margins: std::array::from_fn(|k| ((k * 37 + usize::from(i)) % 101) as f32),
        })
        .collect()
}

/// The fuzzy fixture: a format-3 database listing [`fuzzy_items`] and a real bundle for the
/// first, made with the fixed client key.
pub struct FuzzyFixture {
    /// The server's opener for it.
    pub opener: Opener,
    /// A real bundle for `fuzzy_items()[0]`.
    pub bundle: &'static [u8],
}

/// The shared fuzzy fixture (regenerated with
/// `cargo test -p blindmatch-core --test fuzz_regressions -- --ignored regenerate_fuzzy`).
pub fn fuzzy_fixture() -> &'static FuzzyFixture {
    static F: OnceLock<FuzzyFixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = ServerSecretKey::from_bytes(&server_secret_bytes()).expect(STALE);
        let db = Database::open(FUZZY_DB_FILE, &key.public(), None).expect(STALE);
        let opener = Opener::new(&key, db.manifest()).expect(STALE);
        assert!(
            matches!(
                opener.open_bundle(BUNDLE_FILE, FIXTURE_ACCOUNT),
                Ok((OpenOutcome::Opened(_), n)) if n >= 1
            ),
            "{STALE}"
        );
        FuzzyFixture {
            opener,
            bundle: BUNDLE_FILE,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Patches: how the *_mutated targets read their input.

/// Apply patches: the input is read in 4-byte groups `[op, offset lo, offset hi, value]`; op
/// mod 8 is 0 xor, 1 insert `value`, 2 truncate at the offset, 3 remove one byte, 4–7 set.
/// Offsets wrap modulo the length. With `fixed_len`, only xor and set are applied.
pub fn apply_patches(buf: &mut Vec<u8>, patches: &[u8], fixed_len: bool) {
    for p in patches.chunks_exact(4) {
        let (op, off, val) = (p[0] % 8, u16::from_le_bytes([p[1], p[2]]) as usize, p[3]);
        match op {
            1..=3 if fixed_len => {}
            1 => buf.insert(off % (buf.len() + 1), val),
            2 => buf.truncate(off % (buf.len() + 1)),
            3 if !buf.is_empty() => {
                buf.remove(off % buf.len());
            }
            0 if !buf.is_empty() => {
                let i = off % buf.len();
                buf[i] ^= val;
            }
            4..=7 if !buf.is_empty() => {
                let i = off % buf.len();
                buf[i] = val;
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Databases.

/// `Database::open` against the pinned fixture key, and `database::inspect`, on arbitrary
/// bytes. If it loads: `verify()` and lookups.
pub fn database(data: &[u8]) -> Verdict {
    let f = fixture();
    let inspected = Inspected::read(data);
    if let Ok(ins) = &inspected {
        check_inspected(data, ins);
    }
    let opened = Database::open(data.to_vec(), &f.public, None);
    match (&opened, &inspected) {
        (Ok(db), Ok(ins)) => {
            assert_eq!(db.root_hash(), &ins.root);
            assert_eq!(db.manifest(), &ins.manifest);
            exercise(db, data == f.db_bytes);
            // The expected-root check agrees with the computed root.
            assert!(Database::open(data.to_vec(), &f.public, Some(&ins.root)).is_ok());
            let mut wrong = ins.root;
            wrong[0] ^= 1;
            assert_eq!(
                Database::open(data.to_vec(), &f.public, Some(&wrong)).err(),
                Some(Error::RootHashMismatch)
            );
        }
        (Ok(_), Err(e)) => panic!("open accepted a file inspect rejects: {e}"),
        _ => {}
    }
    opened.map(|_| ()).map_err(Rejection::Core)
}

fn check_inspected(data: &[u8], ins: &Inspected) {
    assert_eq!(ins.file_len, data.len() as u64);
    // The manifest decoder is canonical: it re-encodes to the bytes it was read from.
    let mlen = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes")) as usize;
    let version = u16::from_le_bytes(data[4..6].try_into().expect("2 bytes"));
    assert_eq!(ins.manifest.encode(), &data[12..12 + mlen]);
    assert_eq!(ins.manifest.format_version(), version);
    assert_eq!(
        Manifest::decode(&data[12..12 + mlen], version).as_ref(),
        Ok(&ins.manifest)
    );
}

fn exercise(db: &Database, pristine: bool) {
    let audit = db.verify();
    if let Ok(a) = &audit {
        assert_eq!(a.cells, db.manifest().cells);
        assert_eq!(&a.root, db.root_hash());
    }
    for x in listed().iter().chain(unlisted().iter()) {
        let r = okvs_lookup(db, x);
        let kind_listed = db.manifest().kinds.contains(&x.kind());
        if !kind_listed {
            assert!(matches!(r, Err(Error::KindNotListed { .. })));
        } else if audit.is_ok() {
            // Every cell is a valid point, so every lookup decodes.
            assert!(r.is_ok(), "lookup failed on an audited table: {r:?}");
        }
        if pristine && listed().contains(x) {
            // The OKVS decodes a listed hash to α·H(x).
            let h = hash_to_group(x, &db.manifest().dst).expect("hash to group");
            assert_eq!(r.ok(), Some(fixture().key.blind(&h)));
        }
    }
}

/// The fixture database with patches applied (see [`apply_patches`]). The first input byte is
/// a mode: if odd, the result is re-signed with the fixture key and its table digest fixed
/// (when the patched manifest still decodes and matches the table length), so that signed
/// garbage reaches `verify()` and `lookup`.
pub fn database_mutated(data: &[u8]) -> Verdict {
    let f = fixture();
    let mut bytes = f.db_bytes.to_vec();
    let (mode, patches) = data.split_first().map_or((0, &[][..]), |(m, p)| (*m, p));
    apply_patches(&mut bytes, patches, false);
    if mode & 1 == 1
        && let Some(resealed) = reseal_database(&f.key, &bytes)
    {
        bytes = resealed;
    }
    database(&bytes)
}

/// Re-sign a (patched) database file as a malicious server would: decode the manifest where
/// the header says it is, and assemble it with the table that follows the signature.
pub fn reseal_database(key: &ServerSecretKey, bytes: &[u8]) -> Option<Vec<u8>> {
    let mlen = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize;
    let version = u16::from_le_bytes(bytes.get(4..6)?.try_into().ok()?);
    let manifest = Manifest::decode(bytes.get(12..12 + mlen)?, version).ok()?;
    let table = bytes.get(12 + mlen + 64..)?;
    assemble(key, manifest, table).ok()
}

// ---------------------------------------------------------------------------------------------
// Vouchers.

/// `Opener::open` (and `open_batch`, `VoucherHeader::peek`) for the fixture database on
/// arbitrary bytes.
pub fn voucher(data: &[u8]) -> Verdict {
    let before = fixture().opener.malformed();
    let out = open_voucher(data).map_err(Rejection::Core)?;
    // A refused inner layer is reported as no match, and counted (twice: open and open_batch).
    if matches!(out, OpenOutcome::NoMatch) && fixture().opener.malformed() > before {
        return Err(Rejection::MalformedInner);
    }
    Ok(())
}

fn open_voucher(data: &[u8]) -> Result<OpenOutcome, Error> {
    let f = fixture();
    let header = VoucherHeader::peek(data);
    let out = f.opener.open(data, FIXTURE_ACCOUNT);
    let batch = f.opener.open_batch(&[data], FIXTURE_ACCOUNT);
    assert_eq!(batch.as_slice(), std::slice::from_ref(&out));
    if out.is_ok() {
        assert!(
            header.is_ok(),
            "opened a voucher whose header does not parse"
        );
    }
    if let Ok(OpenOutcome::Opened(rec)) = &out {
        let h = header.as_ref().expect("header");
        assert_eq!(rec.id(), h.id.as_slice());
        assert_eq!(h.epoch, f.opener.epoch());
        assert_eq!(rec.dhf_len(), f.opener.params().s_max() as usize);
        // The storage encoding round-trips.
        let stored = rec.to_bytes();
        assert_eq!(OpenedVoucher::from_bytes(&stored).as_ref(), Ok(rec));
    }
    out
}

/// The fixture voucher with patches applied. The first input byte is a mode: if even, the
/// patches apply to the voucher bytes; if odd, they apply to `header ‖ Q ‖ inner plaintext`
/// (xor and set only) and the voucher is re-sealed (τ, the key wrap and the inner AEAD
/// recomputed with the server key), so the outer layer opens and inner decoding is reached.
pub fn voucher_mutated(data: &[u8]) -> Verdict {
    let f = fixture();
    let (mode, patches) = data.split_first().map_or((0, &[][..]), |(m, p)| (*m, p));
    if mode & 1 == 0 {
        let mut bytes = f.voucher.to_vec();
        apply_patches(&mut bytes, patches, false);
        return voucher(&bytes);
    }
    let bytes = reseal_voucher(f, patches).expect("the fixture voucher opens");
    let before = f.opener.malformed();
    let out = open_voucher(&bytes);
    // τ was recomputed from α·Q, so a re-sealed voucher's outer layer opens: "no match" here
    // means the inner layer was refused, and the opener counted it.
    if matches!(out, Ok(OpenOutcome::NoMatch)) {
        assert!(
            f.opener.malformed() > before,
            "a no-match the opener did not count"
        );
        return Err(Rejection::MalformedInner);
    }
    out.map(|_| ()).map_err(Rejection::Core)
}

/// Open the fixture voucher's layers with the server key, patch `header ‖ Q ‖ plaintext`
/// (xor and set only), and seal it again under the same rkey (core's `hazmat` tool).
pub fn reseal_voucher(f: &Fixture, patches: &[u8]) -> Option<Vec<u8>> {
    blindmatch_core::server::reseal_voucher(&f.key, f.voucher, FIXTURE_ACCOUNT, |plain| {
        apply_patches(plain, patches, true);
    })
}

// ---------------------------------------------------------------------------------------------
// Probe bundles.

/// `Opener::open_bundle` (and `open`, `open_batch`, the header peek) for the fuzzy fixture on
/// arbitrary bytes. The first input byte is a mode: if odd, the rest is a list of patches to
/// the fixture bundle; if even, the rest is the bundle.
pub fn bundle(data: &[u8]) -> Verdict {
    let f = fuzzy_fixture();
    let (mode, rest) = data.split_first().map_or((0, &[][..]), |(m, p)| (*m, p));
    let bytes = if mode & 1 == 1 {
        let mut b = f.bundle.to_vec();
        apply_patches(&mut b, rest, false);
        b
    } else {
        rest.to_vec()
    };
    let before = f.opener.malformed();
    let header = VoucherHeader::peek(&bytes);
    let counted = f.opener.open_bundle(&bytes, FIXTURE_ACCOUNT);
    let out = f.opener.open(&bytes, FIXTURE_ACCOUNT);
    let batch = f.opener.open_batch(&[&bytes], FIXTURE_ACCOUNT);
    assert_eq!(batch.as_slice(), std::slice::from_ref(&out));
    if bytes.get(..2) == Some(b"BB") {
        assert_eq!(counted.as_ref().map(|(o, _)| o), out.as_ref());
    }
    match &counted {
        Ok((OpenOutcome::Opened(rec), n)) => {
            assert!(*n >= 1, "opened with no layer open");
            assert!(*n as usize <= fuzzy_layout().layers());
            let h = header.as_ref().expect("an opened bundle's header parses");
            assert_eq!(rec.id(), h.id.as_slice());
            assert_eq!(rec.dhf_len(), f.opener.params().s_max() as usize);
            let stored = rec.to_bytes();
            assert_eq!(OpenedVoucher::from_bytes(&stored).as_ref(), Ok(rec));
        }
        Ok((OpenOutcome::NoMatch, n)) if *n >= 1 => {
            assert!(
                f.opener.malformed() > before,
                "a no-match the opener did not count"
            );
            return Err(Rejection::MalformedInner);
        }
        _ => {}
    }
    counted.map(|_| ()).map_err(Rejection::Core)
}

/// A device client for `key` on the fixture database, under the fixture account.
fn fixture_client(key: &ClientKey) -> Client {
    Client::new(
        fixture().db.clone(),
        key,
        FIXTURE_ACCOUNT,
        &DevicePolicy::permissive_for_tests(),
    )
    .expect("the fixture database")
}

// ---------------------------------------------------------------------------------------------
// Accounts under crafted records.

/// Records for the account target: key A's real records for the six listed SHA-256 items, key
/// B's real records for the same items, and key A's synthetic records for eight other items.
struct Pool {
    a: Vec<OpenedVoucher>,
    b: Vec<OpenedVoucher>,
    synthetic: Vec<OpenedVoucher>,
}

fn pool() -> &'static Pool {
    static P: OnceLock<Pool> = OnceLock::new();
    P.get_or_init(|| {
        use rand::SeedableRng;
        let f = fixture();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key_a = ClientKey::import(&client_key_bytes()).expect(STALE);
        let mut b_bytes = client_key_bytes();
        if let Some(last) = b_bytes.last_mut() {
            *last ^= 0x55;
        }
        let key_b = ClientKey::import(&b_bytes).expect(STALE);
        let mut records =
            |key: &ClientKey, tag: &str, items: &[MediaHash], choice| -> Vec<OpenedVoucher> {
                let c = fixture_client(key);
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let id = format!("{tag}{i}");
                        let v = voucher_with_choice(
                            &c,
                            x,
                            id.as_bytes(),
                            id.as_bytes(),
                            FIXTURE_WINDOW,
                            choice,
                            &mut rng,
                        )
                        .expect(STALE);
                        match f.opener.open(&v, FIXTURE_ACCOUNT) {
                            Ok(OpenOutcome::Opened(r)) => r,
                            _ => panic!("{STALE}"),
                        }
                    })
                    .collect()
            };
        let sha: Vec<MediaHash> = listed()
            .into_iter()
            .filter(|h| h.kind() == HashKind::Sha256)
            .collect();
        let others: Vec<MediaHash> = (0..8u8)
            .filter_map(|i| MediaHash::new(HashKind::Sha256, &[0xD0 ^ i; 32]).ok())
            .collect();
        Pool {
            a: records(&key_a, "a", &sha, SyntheticChoice::Real),
            b: records(&key_b, "b", &sha, SyntheticChoice::Real),
            synthetic: records(&key_a, "s", &others, SyntheticChoice::Synthetic),
        }
    })
}

/// A copy of `r` under a new Q with its share or one adct byte changed.
fn crafted(r: &OpenedVoucher, n: u32, share: Option<u8>, adct_flip: Option<u8>) -> OpenedVoucher {
    let mut q = *r.q();
    q[..4].copy_from_slice(&n.to_le_bytes());
    q[31] ^= 0x80;
    let mut y = r.share_bytes();
    if let Some(b) = share {
        y = [0u8; 32];
        y[0] = b;
    }
    let mut adct = r.adct_bytes().to_vec();
    if let (Some(b), Some(first)) = (adct_flip, adct.first_mut()) {
        *first ^= b | 1;
    }
    OpenedVoucher::from_parts(r.window(), b"crafted", q, r.x0(), y, &r.dhf_values(), &adct)
        .expect("valid parts")
}

/// An account fed genuine, synthetic, second-key and crafted records in an order the input
/// chooses, evaluated at points it chooses. Properties: only genuine records are ever revealed,
/// never with fewer than T distinct genuine real items of one key inserted; a revealed account
/// stays revealed; nothing panics.
pub fn account(data: &[u8]) -> Verdict {
    let p = pool();
    let params = fixture_params();
    let t = params.threshold() as usize;
    let mut acc = Account::new(params, FIXTURE_WINDOW);
    acc.set_capacity(48);
    let (mut a_seen, mut b_seen) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    let mut revealed = false;
    let mut n = 0u32;
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        let i = usize::from(op >> 3);
        n += 1;
        let rec = match op & 7 {
            0..=2 => {
                a_seen.insert(i % p.a.len());
                p.a[i % p.a.len()].clone()
            }
            3 => p.synthetic[i % p.synthetic.len()].clone(),
            4 => {
                b_seen.insert(i % p.b.len());
                p.b[i % p.b.len()].clone()
            }
            5 => crafted(
                &p.a[i % p.a.len()],
                n,
                Some(bytes.next().unwrap_or(1)),
                None,
            ),
            6 => crafted(
                &p.a[i % p.a.len()],
                n,
                None,
                Some(bytes.next().unwrap_or(1)),
            ),
            _ => {
                let out = acc.evaluate();
                match &out {
                    Outcome::Revealed { real, .. } => {
                        for m in real {
                            assert!(
                                m.id.first().is_some_and(|c| *c == b'a' || *c == b'b'),
                                "revealed a crafted or synthetic record"
                            );
                            assert_eq!(
                                m.id, m.ad,
                                "revealed associated data that is not the record's"
                            );
                        }
                        assert!(a_seen.len() >= t || b_seen.len() >= t, "revealed below T");
                        revealed = true;
                    }
                    _ => assert!(
                        !revealed,
                        "a revealed account went back below the threshold"
                    ),
                }
                continue;
            }
        };
        acc.insert(rec).map_err(Rejection::Core)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Keys.

/// `ClientKey::import`; a key that imports exports to the same bytes and derives keys.
pub fn client_key(data: &[u8]) -> Verdict {
    let key = ClientKey::import(data).map_err(Rejection::Core)?;
    assert_eq!(key.export().as_slice(), data);
    // The key derives keys for the fixture database and makes a real voucher that opens.
    let f = fixture();
    let client = fixture_client(&key);
    let v = voucher_with_choice(
        &client,
        &listed()[0],
        b"k",
        b"",
        FIXTURE_WINDOW,
        SyntheticChoice::Real,
        &mut rand::rng(),
    )
    .expect("a voucher for a listed kind");
    assert!(matches!(
        f.opener.open(&v, FIXTURE_ACCOUNT),
        Ok(OpenOutcome::Opened(_))
    ));
    Ok(())
}

/// `ServerSecretKey::from_bytes` and `ServerPublicKey::from_bytes`; decoded keys re-encode
/// to the same bytes.
pub fn server_key(data: &[u8]) -> Verdict {
    let f = fixture();
    let secret = ServerSecretKey::from_bytes(data);
    let public = ServerPublicKey::from_bytes(data);
    assert!(!(secret.is_ok() && public.is_ok()));
    if let Ok(sk) = &secret {
        assert_eq!(sk.to_bytes().as_slice(), data);
        let pk = sk.public();
        assert_eq!(
            ServerPublicKey::from_bytes(&pk.to_bytes()).as_ref(),
            Ok(&pk)
        );
        let same = pk.blinding_point_bytes() == f.public.blinding_point_bytes();
        assert_eq!(Opener::new(sk, f.db.manifest()).is_ok(), same);
    }
    if let Ok(pk) = &public {
        assert_eq!(pk.to_bytes(), data);
        assert_eq!(pk.fingerprint().len(), 32);
        if Database::open(f.db_bytes, pk, None).is_ok() {
            assert_eq!(pk, &f.public);
        }
    }
    match (secret, public) {
        (Ok(_), _) | (_, Ok(_)) => Ok(()),
        (Err(e), Err(_)) => Err(Rejection::Core(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Opened-voucher records and threshold evaluation.

/// `OpenedVoucher::from_bytes`; a record that decodes re-encodes to the same bytes and is
/// evaluated in an `Account` alone, re-sent, and with a few copies under distinct x0.
pub fn opened_record(data: &[u8]) -> Verdict {
    let rec = OpenedVoucher::from_bytes(data).map_err(Rejection::Core)?;
    assert_eq!(rec.to_bytes(), data);
    assert!(rec.id().len() <= 64);
    let s = rec.dhf_len() as u32;
    let copy = |i: u64, same_x0: bool| {
        let mut q = *rec.q();
        q[0] ^= i as u8;
        q[1] ^= (i >> 8) as u8 ^ u8::from(same_x0);
        let (x0, dhf) = if same_x0 {
            (rec.x0(), rec.dhf_values())
        } else {
            let x0 = rec.x0().wrapping_add(i);
            let x0 = if x0 >= P { i } else { x0 };
            (x0, rec.dhf_values().iter().map(|v| (v ^ i) % P).collect())
        };
        OpenedVoucher::from_parts(
            rec.window(),
            rec.id(),
            q,
            x0,
            rec.share_bytes(),
            &dhf,
            rec.adct_bytes(),
        )
        .expect("valid parts")
    };
    for t in [2u32, 3] {
        let params = Params::new(t, s, 0, 0).expect("valid params");
        let mut account = Account::new(params, rec.window());
        // One record is always below any threshold; the same record again is a no-op.
        assert_eq!(account.insert(rec.clone()), Ok(Inserted::New));
        assert_eq!(account.insert(rec.clone()), Ok(Inserted::Duplicate));
        // Re-sent copies (same x0, other Q) count once.
        for i in 1..=u64::from(t) {
            assert_eq!(account.insert(copy(i, true)), Ok(Inserted::New));
        }
        assert_eq!(
            account.evaluate(),
            Outcome::BelowThreshold {
                opened: t as usize + 1
            }
        );
        // Distinct x0: evaluation returns a typed result, never a panic.
        let mut distinct = Account::new(params, rec.window());
        for i in 0..=u64::from(t) {
            distinct.insert(copy(i + 1000, false)).expect("same s_max");
        }
        let _ = distinct.evaluate();
    }
    // A record whose DHF length differs from s_max is refused.
    if s < 1024 {
        let params = Params::new(2, s + 1, 0, 0).expect("valid params");
        assert!(Account::new(params, rec.window()).insert(rec).is_err());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Device state.

/// `DeviceState::from_bytes`; a state that decodes re-encodes to the same bytes, and the
/// fixture client checks it at a time in window 0 without panicking.
pub fn device_state(data: &[u8]) -> Verdict {
    let mut state = DeviceState::from_bytes(data).map_err(Rejection::Core)?;
    assert_eq!(state.to_bytes(), data);
    let f = fixture();
    let client =
        fixture_client(&ClientKey::import(&client_key_bytes()).expect("the fixture client key"));
    let now = f.db.schedule().start(FIXTURE_WINDOW) + 60;
    if client.check_state(&mut state, now).is_ok() {
        assert_eq!(state.newest_window(), Some(FIXTURE_WINDOW));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hash lists.

/// `hashlist::parse` with and without a default kind (chosen by the first byte) on arbitrary
/// text, plus `MediaHash::from_typed_hex` and `HashKind::from_name`.
pub fn hash_list(data: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(data);
    let kind = HashKind::ALL[data.first().map_or(0, |b| *b as usize % 4)];
    let bare = parse_hash_list(&text, None);
    let with_kind = parse_hash_list(&text, Some(kind));
    if let Ok(v) = &bare {
        // A list that needs no default kind parses the same with one.
        assert_eq!(with_kind.as_ref(), Ok(v));
    }
    for h in bare.iter().chain(with_kind.iter()).flatten() {
        assert_eq!(h.as_bytes().len(), h.kind().len());
        let typed = format!("{}:{}", h.kind(), h.to_hex());
        assert_eq!(MediaHash::from_typed_hex(&typed).as_ref(), Ok(h));
    }
    for line in text.lines().take(8) {
        if let Ok(h) = MediaHash::from_typed_hex(line) {
            assert_eq!(h.as_bytes().len(), h.kind().len());
        }
        if let Ok(k) = HashKind::from_name(line) {
            assert_eq!(HashKind::from_name(k.name()).ok(), Some(k));
        }
    }
    with_kind.map(|_| ()).map_err(Rejection::Core)
}

// ---------------------------------------------------------------------------------------------
// PDQ.

/// `pdq_hash` (and `pdq_hash_dihedral`) with a fuzzer-chosen size and format.
///
/// Byte 0 picks the format (mod 3). If its top bit is clear, bytes 1 and 2 give width and
/// height (mod 97) and the rest, repeated, fills a buffer of exactly the right length. If it
/// is set, bytes 1–4 and 5–8 give width and height as u32 and the rest is the buffer as is.
pub fn pdq(data: &[u8]) -> Verdict {
    let Some((&flags, rest)) = data.split_first() else {
        return Ok(());
    };
    let format = [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Luma8][flags as usize % 3];
    let exact = flags & 0x80 != 0;
    let (w, h, pixels) = if exact {
        if rest.len() < 8 {
            return Ok(());
        }
        let (dims, px) = rest.split_at(8);
        let w = u32::from_le_bytes(dims[..4].try_into().expect("4 bytes"));
        let h = u32::from_le_bytes(dims[4..].try_into().expect("4 bytes"));
        (w, h, px.to_vec())
    } else {
        let [w, h, px @ ..] = rest else {
            return Ok(());
        };
        let (w, h) = (u32::from(*w % 97), u32::from(*h % 97));
        let len = (w * h) as usize * format.bytes_per_pixel();
        let px: Vec<u8> = if px.is_empty() {
            vec![0; len]
        } else {
            px.iter().copied().cycle().take(len).collect()
        };
        (w, h, px)
    };
    let out = pdq::pdq_hash(&pixels, w, h, format);
    let dihedral = pdq::pdq_hash_dihedral(&pixels, w, h, format);
    match (&out, &dihedral) {
        (Ok(o), Ok(d)) => {
            assert!(o.quality <= 100);
            assert_eq!(o.quality, d.quality);
            if w < 5 || h < 5 {
                assert_eq!(o.hash, PdqHash::ZERO);
                assert_eq!(o.quality, 0);
            }
            if (w, h) != (64, 64) {
                assert_eq!(o.hash, d.hashes[0]);
            }
            assert_eq!(PdqHash::from_hex(&o.hash.to_hex()), Ok(o.hash));
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("pdq_hash and pdq_hash_dihedral disagree: {out:?} / {dihedral:?}"),
    }
    if !exact && w > 0 && h > 0 {
        assert!(out.is_ok(), "a well-formed image was refused: {out:?}");
    }
    out.map(|_| ()).map_err(Rejection::Core)
}
