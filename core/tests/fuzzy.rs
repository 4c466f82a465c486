//! Near-duplicate matching through the real protocol: fuzzy databases, probe bundles, opening
//! and the threshold, on the pictures in `tests/data/pdq`.

mod common;

use blindmatch_core::device::Client;
use blindmatch_core::fuzzy::FuzzyLayout;
use blindmatch_core::media::pdq::{HashMargins, PixelFormat, pdq_hash_with_margins};
use blindmatch_core::research::{SyntheticChoice, bundle_with_choice};
use blindmatch_core::server::*;
use blindmatch_core::*;
use common::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

fn picture(name: &str) -> image::RgbImage {
    let path = format!("{}/tests/data/pdq/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(path).unwrap().to_rgb8()
}

fn margins(img: &image::RgbImage) -> HashMargins {
    pdq_hash_with_margins(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb8)
        .unwrap()
        .original
}

fn jpeg(img: &image::RgbImage, quality: u8) -> image::RgbImage {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(img)
        .unwrap();
    image::load_from_memory(&buf).unwrap().to_rgb8()
}

fn resize(img: &image::RgbImage, percent: u32) -> image::RgbImage {
    image::imageops::resize(
        img,
        img.width() * percent / 100,
        img.height() * percent / 100,
        image::imageops::FilterType::Triangle,
    )
}

struct Fuzzy {
    server: ServerSecretKey,
    db: Arc<Database>,
}

fn fuzzy_db(listed: &[&str], params: Params) -> Fuzzy {
    let server = ServerSecretKey::generate();
    let hashes = listed
        .iter()
        .map(|n| MediaHash::new(HashKind::Pdq, &margins(&picture(n)).hash.0).unwrap())
        .collect();
    let db = fuzzy_db_of(&server, hashes, FuzzyLayout::RECOMMENDED, params);
    assert_eq!(db.manifest().format_version(), FUZZY_FORMAT_VERSION);
    Fuzzy { server, db }
}

fn open(f: &Fuzzy, bundle: &[u8]) -> (OpenOutcome, u32) {
    Opener::new(&f.server, f.db.manifest())
        .unwrap()
        .open_bundle(bundle, ACCOUNT)
        .unwrap()
}

fn real(c: &Client, item: &HashMargins, id: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    bundle_with_choice(c, item, id, b"ad", WINDOW, SyntheticChoice::Real, &mut rng).unwrap()
}

#[test]
fn a_jpeg_copy_of_a_listed_picture_opens_and_an_unrelated_picture_does_not() {
    let f = fuzzy_db(
        &["astronaut.png", "rocket.png"],
        Params::new(3, 4, 0, 0).unwrap(),
    );
    let c = client(&f.db, &seeded_client_key(1));
    let astronaut = picture("astronaut.png");
    for (name, copy) in [
        ("jpeg q70", jpeg(&astronaut, 70)),
        ("jpeg q50", jpeg(&astronaut, 50)),
        ("resize 75%", resize(&astronaut, 75)),
    ] {
        let item = margins(&copy);
        let (outcome, layers) = open(&f, &real(&c, &item, b"copy", 1));
        assert!(matches!(outcome, OpenOutcome::Opened(_)), "{name}");
        assert!(layers >= 1, "{name}");
    }
    let (outcome, layers) = open(&f, &real(&c, &margins(&picture("camera.png")), b"x", 2));
    assert_eq!((outcome, layers), (OpenOutcome::NoMatch, 0));
}

#[test]
fn bundle_size_and_layer_count_do_not_depend_on_the_item() {
    let f = fuzzy_db(&["astronaut.png"], Params::new(3, 4, 0, 0).unwrap());
    let c = client(&f.db, &seeded_client_key(2));
    let k = FuzzyLayout::RECOMMENDED.layers();
    let expect = bundle_len(4, k, 256);
    for (name, choice) in [
        ("astronaut.png", SyntheticChoice::Real),
        ("camera.png", SyntheticChoice::Real),
        ("astronaut.png", SyntheticChoice::Synthetic),
        ("camera.png", SyntheticChoice::Synthetic),
    ] {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let b = bundle_with_choice(
            &c,
            &margins(&picture(name)),
            b"id",
            b"ad",
            WINDOW,
            choice,
            &mut rng,
        )
        .unwrap();
        assert_eq!(b.len(), expect, "{name} {choice:?}");
        assert_eq!(u16::from_le_bytes([b[84], b[85]]) as usize, k);
    }
    // The outer layers stay within the 8 KiB budget.
    assert!(k * BUNDLE_LAYER_LEN <= 8192);
}

#[test]
fn one_items_many_opened_probes_count_once_and_re_sends_are_idempotent_by_bundle_id() {
    let f = fuzzy_db(&["astronaut.png"], Params::new(3, 4, 0, 0).unwrap());
    let c = client(&f.db, &seeded_client_key(3));
    let item = margins(&picture("astronaut.png"));
    let first = real(&c, &item, b"a", 10);
    let (o1, layers) = open(&f, &first);
    // The original hits its own band keys: every band's exact probe opens.
    assert_eq!(layers, u32::from(FuzzyLayout::RECOMMENDED.bands()));
    let OpenOutcome::Opened(r1) = o1 else {
        panic!()
    };
    let mut account = Account::new(*f.db.params(), WINDOW);
    assert_eq!(account.insert(r1.clone()).unwrap(), Inserted::New);
    // The same bundle opened again is a no-op (idempotency by the bundle id).
    assert_eq!(account.insert(r1.clone()).unwrap(), Inserted::Duplicate);
    // A re-send (fresh Q's, so another bundle id) of the same picture joins its column.
    let OpenOutcome::Opened(r2) = open(&f, &real(&c, &item, b"a", 11)).0 else {
        panic!()
    };
    assert_ne!(r1.q(), r2.q());
    assert_eq!(r1.x0(), r2.x0());
    assert_eq!(account.insert(r2).unwrap(), Inserted::New);
    assert_eq!(account.distinct(), 1);
}

#[test]
fn synthetic_bundles_open_the_same_number_of_layers_on_every_re_send() {
    let f = fuzzy_db(&["astronaut.png"], Params::new(3, 4, 0, 0).unwrap());
    let c = client(&f.db, &seeded_client_key(4));
    for name in ["camera.png", "rocket.png", "text.png", "astronaut.png"] {
        let item = margins(&picture(name));
        let per_send: Vec<u32> = (0..4)
            .map(|s| {
                let mut rng = ChaCha20Rng::seed_from_u64(100 + s);
                let b = bundle_with_choice(
                    &c,
                    &item,
                    b"s",
                    b"",
                    WINDOW,
                    SyntheticChoice::Synthetic,
                    &mut rng,
                )
                .unwrap();
                let (o, n) = open(&f, &b);
                assert!(matches!(o, OpenOutcome::Opened(_)), "{name}");
                n
            })
            .collect();
        assert!(
            per_send.iter().all(|n| *n == per_send[0]),
            "{name}: {per_send:?}"
        );
        assert!((1..=6).contains(&per_send[0]));
    }
}

#[test]
fn synthetic_open_counts_follow_the_published_distribution() {
    // K = 12 layers (L = 6, P = 2) keeps this fast; D depends on (L, b, P) only.
    let server = ServerSecretKey::generate();
    let layout = FuzzyLayout::new(6, 32, 2).unwrap();
    let listed = vec![MediaHash::new(HashKind::Pdq, &[7; 32]).unwrap()];
    let db = fuzzy_db_of(&server, listed, layout, Params::new(3, 4, 0, 0).unwrap());
    let c = client(&db, &seeded_client_key(9));
    let opener = Opener::new(&server, db.manifest()).unwrap();
    let n = 200;
    let mut hist = [0usize; 7];
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    for i in 0..n {
        let item = HashMargins {
            hash: blindmatch_core::media::pdq::PdqHash(rand::RngExt::random(&mut rng)),
            margins: std::array::from_fn(|k| ((k * 31 + i * 17) % 89) as f32),
        };
        let b = bundle_with_choice(
            &c,
            &item,
            b"s",
            b"",
            WINDOW,
            SyntheticChoice::Synthetic,
            &mut rng,
        )
        .unwrap();
        let (o, opened) = opener.open_bundle(&b, ACCOUNT).unwrap();
        assert!(matches!(o, OpenOutcome::Opened(_)));
        hist[opened as usize] += 1;
    }
    assert_eq!(hist[0], 0);
    for (count, p) in (1..=6).zip(layout.open_count_pmf()) {
        let expect = p * n as f64;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt().max(1.0);
        let got = hist[count] as f64;
        assert!(
            (got - expect).abs() <= 5.0 * sigma,
            "{count} layers: {got} opened, {expect:.1} expected ({hist:?})"
        );
    }
}

#[test]
fn a_bundle_filed_under_another_account_or_tampered_does_not_open() {
    let f = fuzzy_db(&["astronaut.png"], Params::new(3, 4, 0, 0).unwrap());
    let c = client(&f.db, &seeded_client_key(5));
    let b = real(&c, &margins(&picture("astronaut.png")), b"a", 5);
    let opener = Opener::new(&f.server, f.db.manifest()).unwrap();
    assert_eq!(
        opener.open_bundle(&b, b"mallory").unwrap(),
        (OpenOutcome::NoMatch, 0)
    );
    // A flipped byte in the inner layer: the outer layers open, the result is still NoMatch.
    let mut t = b.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    let (o, n) = opener.open_bundle(&t, ACCOUNT).unwrap();
    assert_eq!(o, OpenOutcome::NoMatch);
    assert!(n >= 1);
    assert_eq!(opener.malformed(), 1);
    // Swapping two layers changes the inner AAD: NoMatch.
    let mut s = b.clone();
    let (a, z) = (86, 86 + 96);
    let tmp: Vec<u8> = s[a..a + 96].to_vec();
    s.copy_within(z..z + 96, a);
    s[z..z + 96].copy_from_slice(&tmp);
    assert_eq!(
        opener.open_bundle(&s, ACCOUNT).unwrap().0,
        OpenOutcome::NoMatch
    );
    // An exact voucher opener refuses bundles structurally; bundles need K = L·P.
    let mut wrong_k = b.clone();
    wrong_k[84] ^= 1;
    assert!(matches!(
        opener.open_bundle(&wrong_k, ACCOUNT),
        Err(Error::OutOfRange { .. })
    ));
}

#[test]
fn variants_of_a_listed_picture_reveal_at_the_threshold_through_the_account() {
    let f = fuzzy_db(
        &["astronaut.png", "camera.png", "rocket.png", "text.png"],
        Params::new(3, 4, 0, 0).unwrap(),
    );
    let c = client(&f.db, &seeded_client_key(6));
    let mut account = Account::new(*f.db.params(), WINDOW);
    let opener = Opener::new(&f.server, f.db.manifest()).unwrap();
    for (i, name) in ["astronaut.png", "camera.png", "rocket.png"]
        .iter()
        .enumerate()
    {
        let copy = jpeg(&picture(name), 70);
        let b = c
            .bundle(
                &margins(&copy),
                format!("id{i}").as_bytes(),
                name.as_bytes(),
                NOW,
            )
            .unwrap();
        if let OpenOutcome::Opened(r) = opener.open(&b, ACCOUNT).unwrap() {
            account.insert(r).unwrap();
        }
    }
    match account.evaluate() {
        Outcome::Revealed { real, .. } => {
            let mut ads: Vec<Vec<u8>> = real.into_iter().map(|m| m.ad).collect();
            ads.sort();
            assert_eq!(
                ads,
                vec![
                    b"astronaut.png".to_vec(),
                    b"camera.png".to_vec(),
                    b"rocket.png".to_vec()
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_exact_database_refuses_bundles_on_both_sides() {
    let fx = fixture(4, Params::new(3, 4, 0, 0).unwrap(), 1);
    let c = client(&fx.db, &seeded_client_key(7));
    let item = margins(&picture("astronaut.png"));
    assert!(!c.is_fuzzy());
    // And a fuzzy database refuses an exact PDQ voucher (it would never open).
    let fz = fuzzy_db(&["rocket.png"], Params::new(3, 4, 0, 0).unwrap());
    let pdq = MediaHash::new(HashKind::Pdq, &item.hash.0).unwrap();
    assert_eq!(
        client(&fz.db, &seeded_client_key(7)).voucher(&pdq, b"i", b"", NOW),
        Err(Error::InvalidParameter {
            param: Param::PdqNeedsBundle
        })
    );
    assert!(matches!(
        c.bundle(&item, b"i", b"", NOW),
        Err(Error::InvalidParameter { .. })
    ));
    let f = fuzzy_db(&["astronaut.png"], Params::new(3, 4, 0, 0).unwrap());
    let b = real(&client(&f.db, &seeded_client_key(7)), &item, b"i", 1);
    let exact = fx.opener();
    // Another epoch would be reported first; same epoch here: the layer count is refused.
    assert!(exact.open_bundle(&b, ACCOUNT).is_err());
}

/// A fuzzy database of `layout` listing `hashes`, under `server`.
fn fuzzy_db_of(
    server: &ServerSecretKey,
    hashes: Vec<MediaHash>,
    layout: FuzzyLayout,
    params: Params,
) -> Arc<Database> {
    let opts = BuildOptions {
        params,
        fuzzy: Some(layout),
        ..Default::default()
    };
    let sources = [SourceList {
        name: "t".into(),
        hashes,
    }];
    let bytes = DatabaseBuilder::build(server, &sources, &opts).unwrap();
    Arc::new(Database::open(bytes, &server.public(), None).unwrap())
}

#[test]
fn the_default_device_policy_refuses_narrow_bands_and_large_layouts() {
    let server = ServerSecretKey::generate();
    let item = margins(&picture("astronaut.png"));
    let hashes = vec![MediaHash::new(HashKind::Pdq, &item.hash.0).unwrap()];
    let key = seeded_client_key(8);
    let policy_for =
        |db: &Database| blindmatch_core::device::DevicePolicy::default().pin_root(*db.root_hash());
    // Bands too narrow, too many bands, too many probes.
    for (bands, bits, probes) in [(6, 16, 4), (9, 28, 4), (8, 32, 17)] {
        let layout = FuzzyLayout::new(bands, bits, probes).unwrap();
        let db = fuzzy_db_of(&server, hashes.clone(), layout, Params::default());
        let policy = policy_for(&db);
        assert_eq!(
            Client::new(db, &key, ACCOUNT, &policy).unwrap_err(),
            Error::PolicyRefused {
                param: Param::PolicyFuzzy
            },
            "{bands} {bits} {probes}"
        );
    }
    let layout = FuzzyLayout::new(6, blindmatch_core::device::MIN_BAND_BITS, 4).unwrap();
    let wide = fuzzy_db_of(&server, hashes, layout, Params::default());
    let policy = policy_for(&wide);
    assert!(
        Client::new(wide, &key, ACCOUNT, &policy)
            .unwrap()
            .is_fuzzy()
    );
}
