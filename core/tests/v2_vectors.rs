//! Protocol v2 test vectors (`docs/PROTOCOL.md` §10.2), from the fixed keys and files of the
//! fuzz fixture: `fuzz/fixtures/database.bmdb`, `fuzz/fixtures/voucher.bv`, the server and
//! client key bytes of `fuzz/src/lib.rs`, account `fuzz-account`, window 0.
//!
//! Every value is computed twice: once by a from-the-spec reimplementation in this file (HKDF,
//! HMAC, the ChaCha20 block function, F_p and the key schedule written out by hand from
//! PROTOCOL.md, never calling core's private code), and once through core's public API
//! (`Manifest::context`, `research::account_rate_ppm`, `research::simulated_record`, `Opener`,
//! `Account`). The two must agree, and both must equal `core/tests/data/v2-vectors.json`. The
//! test writes nothing; print fresh vectors (after an intended protocol change, or after
//! regenerating `fuzz/fixtures`, whose database seed and voucher are random) with
//!
//! ```text
//! cargo test -p blindmatch-core --test v2_vectors -- --ignored --nocapture print_v2_vectors
//! ```
//!
//! The vouchers "made by hand" are built here byte by byte from the spec with fixed β, γ and
//! rkey (small integers: test values, not secure ones) and opened by core's `Opener`: they
//! show that an independent device implementation interoperates.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use blindmatch_core::device::{Client, DevicePolicy};
use blindmatch_core::hazmat::okvs_lookup;
use blindmatch_core::research::{account_rate_ppm, hash_to_group, is_synthetic, simulated_record};
use blindmatch_core::server::{
    Account, Inserted, OpenOutcome, OpenedVoucher, Opener, Outcome, RevealedMatch, ServerSecretKey,
    assemble,
};
use blindmatch_core::{ClientKey, Database, Inspected, Manifest, MediaHash, Params, Schedule};
use chacha20poly1305::aead::{AeadInOut, KeyInit as _};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::{RistrettoPoint, Scalar};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::sync::Arc;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2-vectors.json");
const DB_FILE: &[u8] = include_bytes!("../../fuzz/fixtures/database.bmdb");
const VOUCHER_FILE: &[u8] = include_bytes!("../../fuzz/fixtures/voucher.bv");
const ACCOUNT: &[u8] = b"fuzz-account";
const WINDOW: u64 = 0;
/// The synthetic-rate range of the "rated" variant: the fixture manifest re-signed with this
/// range (a test-only range, far above what the device policy accepts), so that some items
/// come out synthetic.
const RATED_RANGE: (u32, u32) = (300_000, 600_000);

// ---------------------------------------------------------------------------------------------
// The spec, by hand.

/// F_p modulus 2^64 − 59.
const P: u64 = 0xFFFF_FFFF_FFFF_FFC5;

fn fp_mul(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(P)) as u64
}

fn fp_add(a: u64, b: u64) -> u64 {
    ((u128::from(a) + u128::from(b)) % u128::from(P)) as u64
}

/// fp(b): 16 bytes as a little-endian u128, reduced mod p.
fn fp16(b: &[u8]) -> u64 {
    (u128::from_le_bytes(b.try_into().unwrap()) % u128::from(P)) as u64
}

/// Horner, coefficients lowest degree first.
fn fp_eval(coeffs: &[u64], x: u64) -> u64 {
    coeffs
        .iter()
        .rev()
        .fold(0, |acc, c| fp_add(fp_mul(acc, x), *c))
}

/// wide(b): 64 bytes little-endian, reduced mod ℓ.
fn wide(b: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(b.try_into().unwrap())
}

fn scalar_u64(v: u64) -> Scalar {
    Scalar::from(v)
}

/// `(v · n) >> 64`.
fn scale(v: u64, n: u64) -> u64 {
    ((u128::from(v) * u128::from(n)) >> 64) as u64
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA256 (RFC 2104) written out.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(&[key]));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = vec![ipad.as_slice()];
    inner.extend_from_slice(parts);
    let ih = sha256(&inner);
    sha256(&[&opad, &ih])
}

/// HKDF-Extract (RFC 5869).
fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> [u8; 32] {
    hmac(salt, &[ikm])
}

/// HKDF-Expand (RFC 5869).
fn hkdf_expand(prk: &[u8; 32], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut prev: Vec<u8> = Vec::new();
    let mut i = 1u8;
    while out.len() < len {
        let t = hmac(prk, &[&prev, info, &[i]]);
        out.extend_from_slice(&t);
        prev = t.to_vec();
        i += 1;
    }
    out.truncate(len);
    out
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    hkdf_expand(&hkdf_extract(salt, ikm), info, len)
}

fn a32(v: Vec<u8>) -> [u8; 32] {
    v.try_into().unwrap()
}

/// The ChaCha20 block function (RFC 8439 §2.3) written out.
fn chacha20_block(key: &[u8; 32], counter: u32, nonce: &[u8; 12]) -> [u8; 64] {
    let w = |b: &[u8], i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
    let mut s = [0u32; 16];
    s[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for i in 0..8 {
        s[4 + i] = w(key, i);
    }
    s[12] = counter;
    for i in 0..3 {
        s[13 + i] = w(nonce, i);
    }
    let mut x = s;
    let qr = |x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize| {
        x[a] = x[a].wrapping_add(x[b]);
        x[d] = (x[d] ^ x[a]).rotate_left(16);
        x[c] = x[c].wrapping_add(x[d]);
        x[b] = (x[b] ^ x[c]).rotate_left(12);
        x[a] = x[a].wrapping_add(x[b]);
        x[d] = (x[d] ^ x[a]).rotate_left(8);
        x[c] = x[c].wrapping_add(x[d]);
        x[b] = (x[b] ^ x[c]).rotate_left(7);
    };
    for _ in 0..10 {
        qr(&mut x, 0, 4, 8, 12);
        qr(&mut x, 1, 5, 9, 13);
        qr(&mut x, 2, 6, 10, 14);
        qr(&mut x, 3, 7, 11, 15);
        qr(&mut x, 0, 5, 10, 15);
        qr(&mut x, 1, 6, 11, 12);
        qr(&mut x, 2, 7, 8, 13);
        qr(&mut x, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for i in 0..16 {
        out[4 * i..4 * i + 4].copy_from_slice(&x[i].wrapping_add(s[i]).to_le_bytes());
    }
    out
}

/// `len` bytes of ChaCha20 keystream, nonce 0^12, block counter from 0.
fn chacha20_stream(key: &[u8; 32], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&chacha20_block(key, counter, &[0; 12]));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// The key-committing AEAD (§1.3): (enc key, commitment).
fn aead_keys(k: &[u8; 32], label: &[u8]) -> ([u8; 32], [u8; 32]) {
    let prk = hkdf_extract(b"blindmatch-v2 aead", k);
    let enc = a32(hkdf_expand(&prk, &[label, b" enc"].concat(), 32));
    let commit = a32(hkdf_expand(&prk, &[label, b" commit"].concat(), 32));
    (enc, commit)
}

fn seal(k: &[u8; 32], label: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let (enc, commit) = aead_keys(k, label);
    let mut body = pt.to_vec();
    let tag = ChaCha20Poly1305::new(&Key::from(enc))
        .encrypt_inout_detached(&Nonce::default(), aad, body.as_mut_slice().into())
        .unwrap();
    [&commit[..], &body, &tag[..]].concat()
}

fn open_sealed(k: &[u8; 32], label: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (enc, commit) = aead_keys(k, label);
    if sealed.len() < 48 || sealed[..32] != commit {
        return None;
    }
    let (body, tag) = sealed[32..].split_at(sealed.len() - 48);
    let mut buf = body.to_vec();
    ChaCha20Poly1305::new(&Key::from(enc))
        .decrypt_inout_detached(
            &Nonce::default(),
            aad,
            buf.as_mut_slice().into(),
            &Tag::try_from(tag).ok()?,
        )
        .ok()?;
    Some(buf)
}

/// The manifest's fields as §5.2 lays them out, parsed by hand.
struct ManifestFields {
    epoch: u64,
    created: u64,
    cells: u64,
    entries: u64,
    seed: [u8; 32],
    l: [u8; 32],
    vk: [u8; 32],
    t: u32,
    s: u32,
    lo: u32,
    hi: u32,
    origin: u64,
    length: u64,
    count: u32,
    kinds: Vec<u8>,
    dst: Vec<u8>,
    table_digest: [u8; 32],
    min_sources: u8,
    sources: Vec<(String, u64)>,
}

fn parse_manifest(b: &[u8]) -> ManifestFields {
    let mut at = 0usize;
    let mut take = |n: usize| {
        let v = &b[at..at + n];
        at += n;
        v
    };
    let u64le = |v: &[u8]| u64::from_le_bytes(v.try_into().unwrap());
    let u32le = |v: &[u8]| u32::from_le_bytes(v.try_into().unwrap());
    let epoch = u64le(take(8));
    let created = u64le(take(8));
    let cells = u64le(take(8));
    let entries = u64le(take(8));
    let seed = take(32).try_into().unwrap();
    let l = take(32).try_into().unwrap();
    let vk = take(32).try_into().unwrap();
    let (t, s, lo, hi) = (
        u32le(take(4)),
        u32le(take(4)),
        u32le(take(4)),
        u32le(take(4)),
    );
    let (origin, length, count) = (u64le(take(8)), u64le(take(8)), u32le(take(4)));
    let nk = take(1)[0] as usize;
    let kinds = take(nk).to_vec();
    let dl = take(1)[0] as usize;
    let dst = take(dl).to_vec();
    let table_digest = take(32).try_into().unwrap();
    let min_sources = take(1)[0];
    let ns = take(1)[0] as usize;
    let mut sources = Vec::new();
    for _ in 0..ns {
        let nl = take(1)[0] as usize;
        let name = String::from_utf8(take(nl).to_vec()).unwrap();
        sources.push((name, u64le(take(8))));
    }
    assert_eq!(at, b.len(), "no trailing manifest bytes");
    ManifestFields {
        epoch,
        created,
        cells,
        entries,
        seed,
        l,
        vk,
        t,
        s,
        lo,
        hi,
        origin,
        length,
        count,
        kinds,
        dst,
        table_digest,
        min_sources,
        sources,
    }
}

/// ctx (§6.1).
fn context(m: &ManifestFields, root: &[u8; 32]) -> [u8; 32] {
    sha256(&[
        b"blindmatch-v2 context",
        &2u16.to_le_bytes(),
        &m.l,
        &m.vk,
        &m.t.to_le_bytes(),
        &m.s.to_le_bytes(),
        &m.lo.to_le_bytes(),
        &m.hi.to_le_bytes(),
        &m.origin.to_le_bytes(),
        &m.length.to_le_bytes(),
        &m.count.to_le_bytes(),
        &[m.kinds.len() as u8],
        &m.kinds,
        &[m.dst.len() as u8],
        &m.dst,
        root,
    ])
}

fn window_context(ctx: &[u8; 32], w: u64) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(ctx);
    out[32..].copy_from_slice(&w.to_le_bytes());
    out
}

/// The client key schedule of one window (§6.2).
struct Keys {
    s: usize,
    prk: [u8; 32],
    shamir: Vec<Scalar>,
    fkey: [u8; 32],
    skey: [u8; 32],
    rate_bytes: [u8; 8],
    rate_ppm: u32,
    dhf: Vec<Vec<u64>>,
    adkey: [u8; 32],
}

fn derive(seed: &[u8; 32], m: &ManifestFields, wctx: &[u8; 40]) -> Keys {
    let prk = hkdf_extract(b"blindmatch-v2 client key", seed);
    let info = |label: &[u8], i: Option<u32>| {
        let mut v = [label, &wctx[..]].concat();
        if let Some(i) = i {
            v.extend_from_slice(&i.to_le_bytes());
        }
        v
    };
    let mut shamir = vec![wide(&hkdf_expand(&prk, &info(b"k0", None), 64))];
    for i in 1..m.t {
        shamir.push(wide(&hkdf_expand(&prk, &info(b"shamir", Some(i)), 64)));
    }
    let fkey = a32(hkdf_expand(&prk, &info(b"prf", None), 32));
    let skey = a32(hkdf_expand(&prk, &info(b"synthetic", None), 32));
    let rate_bytes: [u8; 8] = hkdf_expand(&prk, &info(b"rate", None), 8)
        .try_into()
        .unwrap();
    let rate_ppm = m.lo + scale(u64::from_le_bytes(rate_bytes), u64::from(m.hi - m.lo) + 1) as u32;
    let dhf = (0..m.s)
        .map(|i| {
            hkdf_expand(&prk, &info(b"dhf", Some(i)), 16 * (m.t as usize - 1))
                .chunks_exact(16)
                .map(fp16)
                .collect()
        })
        .collect();
    let adkey = a32(hkdf(
        b"blindmatch-v2 adkey",
        shamir[0].as_bytes(),
        b"adkey",
        32,
    ));
    Keys {
        s: m.s as usize,
        prk,
        shamir,
        fkey,
        skey,
        rate_bytes,
        rate_ppm,
        dhf,
        adkey,
    }
}

/// x_s (§6.3).
fn share_abscissa(x0: u64) -> Scalar {
    let d: [u8; 64] = Sha512::new()
        .chain_update(b"blindmatch-v2 share abscissa")
        .chain_update(x0.to_le_bytes())
        .finalize()
        .into();
    let s = wide(&d);
    if s == Scalar::ZERO { Scalar::ONE } else { s }
}

fn shamir_eval(a: &[Scalar], x: &Scalar) -> Scalar {
    a.iter().rev().fold(Scalar::ZERO, |acc, c| acc * x + c)
}

fn lagrange_at_zero(points: &[(Scalar, Scalar)]) -> Scalar {
    let mut acc = Scalar::ZERO;
    for (j, (xj, yj)) in points.iter().enumerate() {
        let mut l = Scalar::ONE;
        for (m, (xm, _)) in points.iter().enumerate() {
            if m != j {
                l *= xm * (xm - xj).invert();
            }
        }
        acc += yj * l;
    }
    acc
}

/// One item under one window's keys (§6.3): its stream, coin and values.
struct ItemPlan {
    item_key: [u8; 32],
    stream: Vec<u8>,
    coin: u64,
    coin_ppm: u64,
    synthetic: bool,
    prf_x0: u64,
    /// (x0, y, r) the inner plaintext carries.
    x0: u64,
    y: Scalar,
    r: Vec<u64>,
}

fn plan(k: &Keys, x: &MediaHash) -> ItemPlan {
    let enc = x.encode();
    let item_key = hmac(&k.skey, &[b"blindmatch-v2 item", &enc]);
    let stream = chacha20_stream(&item_key, 88 + 16 * k.s);
    let coin = u64::from_le_bytes(stream[..8].try_into().unwrap());
    let coin_ppm = scale(coin, 1_000_000);
    let synthetic = coin_ppm < u64::from(k.rate_ppm);
    let prf_x0 = fp16(&hmac(&k.fkey, &[b"blindmatch-v2 prf", &enc])[..16]);
    let (x0, y, r) = if synthetic {
        synthetic_values(k, &stream)
    } else {
        real_values(k, prf_x0)
    };
    ItemPlan {
        item_key,
        stream,
        coin,
        coin_ppm,
        synthetic,
        prf_x0,
        x0,
        y,
        r,
    }
}

fn synthetic_values(k: &Keys, stream: &[u8]) -> (u64, Scalar, Vec<u64>) {
    let x0 = fp16(&stream[8..24]);
    let y = wide(&stream[24..88]);
    let r = stream[88..88 + 16 * k.s]
        .chunks_exact(16)
        .map(fp16)
        .collect();
    (x0, y, r)
}

fn real_values(k: &Keys, x0: u64) -> (u64, Scalar, Vec<u64>) {
    let y = shamir_eval(&k.shamir, &share_abscissa(x0));
    let r = k.dhf.iter().map(|p| fp_eval(p, x0)).collect();
    (x0, y, r)
}

/// The three OKVS positions (§4).
fn positions(seed: &[u8; 32], m: u64, x: &MediaHash) -> [u64; 3] {
    let d = sha256(&[b"blindmatch-v2 okvs", seed, &x.encode()]);
    let b = m / 3;
    let mut out = [0u64; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let u = u64::from_le_bytes(d[8 * i..8 * i + 8].try_into().unwrap());
        *o = i as u64 * b + scale(u, b);
    }
    out
}

fn point(b: &[u8]) -> RistrettoPoint {
    CompressedRistretto(b.try_into().unwrap())
        .decompress()
        .unwrap()
}

fn enc(p: &RistrettoPoint) -> [u8; 32] {
    p.compress().to_bytes()
}

fn header(epoch: u64, window: u64, id: &[u8]) -> Vec<u8> {
    let mut h = b"BV\x02".to_vec();
    h.extend_from_slice(&epoch.to_le_bytes());
    h.extend_from_slice(&window.to_le_bytes());
    h.push(id.len() as u8);
    h.extend_from_slice(id);
    h.resize(84, 0);
    h
}

/// (τ, pad) of the outer layer (§7.3).
fn outer(header: &[u8], q: &[u8; 32], s: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let ikm = [&q[..], &s[..]].concat();
    let prk = hkdf_extract(b"blindmatch-v2 outer", &ikm);
    let account = [&[ACCOUNT.len() as u8][..], ACCOUNT].concat();
    (
        a32(hkdf_expand(
            &prk,
            &[&b"tau"[..], header, &account].concat(),
            32,
        )),
        a32(hkdf_expand(
            &prk,
            &[&b"pad"[..], header, &account].concat(),
            32,
        )),
    )
}

fn inner_aad(header_and_q: &[u8], account: &[u8]) -> Vec<u8> {
    [header_and_q, &[account.len() as u8], account].concat()
}

fn pad_ad(ad: &[u8], bucket: usize) -> Vec<u8> {
    let mut v = (ad.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(ad);
    v.resize(bucket, 0);
    v
}

fn k_ad(adkey: &[u8; 32], q: &[u8; 32]) -> [u8; 32] {
    a32(hkdf(b"blindmatch-v2 adct", adkey, q, 32))
}

fn xor32(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut o = [0u8; 32];
    for i in 0..32 {
        o[i] = a[i] ^ b[i];
    }
    o
}

/// Everything opening a voucher by hand produces (§8).
struct HandOpened {
    epoch: u64,
    window: u64,
    id: Vec<u8>,
    q: [u8; 32],
    s: [u8; 32],
    tau: [u8; 32],
    pad: [u8; 32],
    rkey: [u8; 32],
    aad: Vec<u8>,
    plaintext: Vec<u8>,
    y: [u8; 32],
    x0: u64,
    r: Vec<u64>,
    adct: Vec<u8>,
}

fn open_by_hand(v: &[u8], alpha: &Scalar, s_max: usize, account: &[u8]) -> Option<HandOpened> {
    assert_eq!(&v[..3], b"BV\x02");
    let epoch = u64::from_le_bytes(v[3..11].try_into().unwrap());
    let window = u64::from_le_bytes(v[11..19].try_into().unwrap());
    let id_len = v[19] as usize;
    assert!(id_len <= 64 && v[20 + id_len..84].iter().all(|b| *b == 0));
    let id = v[20..20 + id_len].to_vec();
    let q: [u8; 32] = v[84..116].try_into().unwrap();
    let s = enc(&(point(&q) * alpha));
    let (tau, pad) = outer(&v[..84], &q, &s);
    if tau[..] != v[116..148] {
        return None;
    }
    let rkey = xor32(&v[148..180], &pad);
    let aad = inner_aad(&v[..116], account);
    let plaintext = open_sealed(&rkey, b"blindmatch-v2 rct", &aad, &v[180..])?;
    let y: [u8; 32] = plaintext[..32].try_into().unwrap();
    let word = |i: usize| u64::from_le_bytes(plaintext[32 + 8 * i..40 + 8 * i].try_into().unwrap());
    let x0 = word(0);
    let r: Vec<u64> = (1..=s_max).map(word).collect();
    assert!(x0 < P && r.iter().all(|v| *v < P));
    let adct = plaintext[40 + 8 * s_max..].to_vec();
    Some(HandOpened {
        epoch,
        window,
        id,
        q,
        s,
        tau,
        pad,
        rkey,
        aad,
        plaintext,
        y,
        x0,
        r,
        adct,
    })
}

/// A hand voucher with its item, id, associated data and whether it is synthetic.
type Made<'a> = (HandVoucher, &'a MediaHash, &'a [u8], &'a [u8], bool);

/// A voucher made by hand (§7), with fixed β, γ, rkey and (synthetic) adct bytes.
struct HandVoucher {
    bytes: Vec<u8>,
    beta: Scalar,
    gamma: Option<Scalar>,
    rkey: [u8; 32],
}

#[allow(clippy::too_many_arguments)]
fn make_by_hand(
    db: &Database,
    m: &ManifestFields,
    keys: &Keys,
    x: &MediaHash,
    id: &[u8],
    ad: &[u8],
    force_synthetic: bool,
    n: u64,
) -> HandVoucher {
    let table = &DB_FILE[DB_FILE.len() - 32 * m.cells as usize..];
    let l = point(&m.l);
    let p = plan(keys, x);
    let synthetic = p.synthetic || force_synthetic;
    let beta = scalar_u64(1000 + n);
    let gamma = scalar_u64(2000 + n);
    let rkey = [0x40 + n as u8; 32];
    let (q, s) = if synthetic {
        (RistrettoPoint::mul_base(&beta), l * beta)
    } else {
        let h = hash_to_group(x, &m.dst).unwrap();
        let px: RistrettoPoint = positions(&m.seed, m.cells, x)
            .iter()
            .map(|&i| point(&table[32 * i as usize..32 * i as usize + 32]))
            .sum();
        assert_eq!(Some(px), okvs_lookup(db, x).ok());
        (h * beta + G * gamma, px * beta + l * gamma)
    };
    let (q, s) = (enc(&q), enc(&s));
    let head = header(m.epoch, WINDOW, id);
    let (tau, pad) = outer(&head, &q, &s);
    let mut v = [&head[..], &q, &tau, &xor32(&rkey, &pad)].concat();
    let bucket = 256;
    let (x0, y, r) = if synthetic {
        synthetic_values(keys, &p.stream)
    } else {
        (p.x0, p.y, p.r.clone())
    };
    let adct = if synthetic {
        (0..bucket + 48).map(|i| (i as u8) ^ 0xA5).collect()
    } else {
        let aad = [&[id.len() as u8][..], id].concat();
        seal(
            &k_ad(&keys.adkey, &q),
            b"blindmatch-v2 adct",
            &aad,
            &pad_ad(ad, bucket),
        )
    };
    let mut pt = y.to_bytes().to_vec();
    pt.extend_from_slice(&x0.to_le_bytes());
    for ri in &r {
        pt.extend_from_slice(&ri.to_le_bytes());
    }
    pt.extend_from_slice(&adct);
    let aad = inner_aad(&v[..116], ACCOUNT);
    v.extend_from_slice(&seal(&rkey, b"blindmatch-v2 rct", &aad, &pt));
    assert_eq!(v.len(), 308 + 8 * (keys.s + 1) + bucket);
    HandVoucher {
        bytes: v,
        beta,
        gamma: (!synthetic).then_some(gamma),
        rkey,
    }
}

// ---------------------------------------------------------------------------------------------
// The vectors.

fn hx(b: impl AsRef<[u8]>) -> String {
    hex::encode(b)
}

fn dec(v: u64) -> String {
    v.to_string()
}

fn decs(v: &[u64]) -> Vec<String> {
    v.iter().map(|x| dec(*x)).collect()
}

fn client(db: Arc<Database>) -> Client {
    let key = ClientKey::import(&checks::client_key_bytes()).unwrap();
    Client::new(db, &key, ACCOUNT, &DevicePolicy::permissive_for_tests()).unwrap()
}

fn opened(o: &Opener, v: &[u8]) -> OpenedVoucher {
    match o.open(v, ACCOUNT).unwrap() {
        OpenOutcome::Opened(r) => r,
        OpenOutcome::NoMatch => panic!("expected the voucher to open"),
    }
}

fn items() -> Vec<(MediaHash, bool)> {
    let mut v: Vec<(MediaHash, bool)> = checks::listed().into_iter().map(|x| (x, true)).collect();
    v.extend(checks::unlisted().into_iter().map(|x| (x, false)));
    v
}

/// The item vectors under one database, cross-checked with `research::simulated_record`.
fn item_vectors(
    c: &Client,
    keys: &Keys,
    kinds: &[u8],
    with_okvs: Option<(&ManifestFields, &Database)>,
) -> Vec<Value> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x7632);
    items()
        .iter()
        .filter(|(x, _)| kinds.contains(&x.kind().id()))
        .map(|(x, listed)| {
            let p = plan(keys, x);
            assert_eq!(is_synthetic(c, x, WINDOW), p.synthetic);
            // The library agrees: a listed or synthetic item gives this record; an unlisted real
            // item gives none (its voucher never opens).
            let sim = simulated_record(c, x, *listed, b"v", b"", WINDOW, &mut rng).unwrap();
            let record = if p.synthetic || *listed {
                let s = sim.expect("a record");
                assert_eq!(s.real, !p.synthetic);
                assert_eq!(s.record.x0(), p.x0);
                assert_eq!(s.record.share_bytes(), p.y.to_bytes());
                assert_eq!(s.record.dhf_values(), p.r);
                json!({"x0": dec(p.x0), "y": hx(p.y.to_bytes()), "r": decs(&p.r)})
            } else {
                assert!(sim.is_none());
                Value::Null
            };
            let mut o = json!({
                "kind": x.kind().name(),
                "hash": x.to_hex(),
                "listed": listed,
                "encode": hx(x.encode()),
                "item_key": hx(p.item_key),
                "stream_first_88": hx(&p.stream[..88]),
                "coin": dec(p.coin),
                "coin_ppm": p.coin_ppm,
                "synthetic": p.synthetic,
                "prf_x0": dec(p.prf_x0),
                "record": record,
            });
            if !p.synthetic {
                o["share_abscissa"] = json!(hx(share_abscissa(p.x0).to_bytes()));
            }
            if let Some((m, db)) = with_okvs {
                let pos = positions(&m.seed, m.cells, x);
                let h = hash_to_group(x, &m.dst).unwrap();
                o["H"] = json!(hx(enc(&h)));
                o["okvs_positions"] = json!(pos);
                let px = okvs_lookup(db, x).unwrap();
                o["P"] = json!(hx(enc(&px)));
                let key = ServerSecretKey::from_bytes(&checks::server_secret_bytes()).unwrap();
                assert_eq!(px == key.blind(&h), *listed);
            }
            o
        })
        .collect()
}

use rand::SeedableRng;

fn keys_json(k: &Keys) -> Value {
    json!({
        "prk": hx(k.prk),
        "k0": hx(k.shamir[0].to_bytes()),
        "shamir": k.shamir[1..].iter().map(|a| hx(a.to_bytes())).collect::<Vec<_>>(),
        "fkey": hx(k.fkey),
        "skey": hx(k.skey),
        "rate_bytes": hx(k.rate_bytes),
        "rate_ppm": k.rate_ppm,
        "dhf": k.dhf.iter().map(|p| decs(p)).collect::<Vec<_>>(),
        "adkey": hx(k.adkey),
    })
}

fn compute() -> Value {
    let server = ServerSecretKey::from_bytes(&checks::server_secret_bytes()).unwrap();
    let public = server.public();
    let alpha = wide(&[&checks::server_secret_bytes()[6..38], &[0u8; 32][..]].concat());
    assert_eq!(
        enc(&RistrettoPoint::mul_base(&alpha)),
        *public.blinding_point_bytes()
    );
    let seed: [u8; 32] = checks::client_key_bytes()[6..].try_into().unwrap();

    // The database, by hand.
    let mlen = u32::from_le_bytes(DB_FILE[8..12].try_into().unwrap()) as usize;
    let head = &DB_FILE[..12];
    let mbytes = &DB_FILE[12..12 + mlen];
    let signature = &DB_FILE[12 + mlen..76 + mlen];
    let table = &DB_FILE[76 + mlen..];
    let m = parse_manifest(mbytes);
    assert_eq!(&head[..6], b"BMDB\x02\x00");
    assert_eq!(table.len() as u64, 32 * m.cells);
    let digest = sha256(&[
        b"blindmatch-v2 table",
        &m.cells.to_le_bytes(),
        &table
            .chunks(32 * 32768)
            .flat_map(|c| sha256(&[c]))
            .collect::<Vec<u8>>(),
    ]);
    assert_eq!(digest, m.table_digest);
    let root = sha256(&[b"blindmatch-v2 root", head, mbytes]);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&m.vk).unwrap();
    vk.verify_strict(
        &[&b"blindmatch-v2 manifest"[..], head, mbytes].concat(),
        &ed25519_dalek::Signature::from_slice(signature).unwrap(),
    )
    .unwrap();
    let ctx = context(&m, &root);
    let wctx = window_context(&ctx, WINDOW);

    // The library agrees.
    let ins = Inspected::read(DB_FILE).unwrap();
    assert_eq!(ins.root, root);
    assert_eq!(ins.manifest.context(&ins.root), ctx);
    assert_eq!(Manifest::decode(mbytes, 2).unwrap().encode(), mbytes);
    let db = Arc::new(Database::open(DB_FILE, &public, Some(&root)).unwrap());
    let c = client(db.clone());
    let keys = derive(&seed, &m, &wctx);
    assert_eq!(account_rate_ppm(&c, WINDOW), keys.rate_ppm);
    let sched = Schedule::new(m.origin, m.length, m.count).unwrap();
    let end = m.origin + m.length * u64::from(m.count);
    let cases: Vec<Value> = [
        m.origin - 601,
        m.origin - 600,
        m.origin,
        m.origin + m.length - 1,
        m.origin + m.length,
        end - 1,
        end + 599,
        end + 600,
    ]
    .iter()
    .map(|&now| json!({"now": now, "window": sched.window_at(now).ok()}))
    .collect();

    // The fixture voucher, opened by hand and by the library.
    let opener = Opener::new(&server, db.manifest()).unwrap();
    let h = open_by_hand(VOUCHER_FILE, &alpha, m.s as usize, ACCOUNT).expect("opens");
    let rec = opened(&opener, VOUCHER_FILE);
    assert_eq!(
        (
            rec.id(),
            rec.window(),
            rec.q(),
            rec.x0(),
            rec.share_bytes(),
            rec.dhf_values(),
            rec.adct_bytes()
        ),
        (
            h.id.as_slice(),
            h.window,
            &h.q,
            h.x0,
            h.y,
            h.r.clone(),
            h.adct.as_slice()
        )
    );
    let listed = checks::listed();
    let p0 = plan(&keys, &listed[0]);
    assert!(!p0.synthetic);
    assert_eq!((h.x0, h.y, &h.r), (p0.x0, p0.y.to_bytes(), &p0.r));
    let kad = k_ad(&keys.adkey, &h.q);
    let padded = open_sealed(
        &kad,
        b"blindmatch-v2 adct",
        &[&[h.id.len() as u8][..], &h.id].concat(),
        &h.adct,
    )
    .expect("the adct opens");
    let ad_len = u32::from_le_bytes(padded[..4].try_into().unwrap()) as usize;
    let ad = &padded[4..4 + ad_len];
    assert!(padded[4 + ad_len..].iter().all(|b| *b == 0));
    // The record a server stores (BMOR v2), by hand.
    let mut bmor = b"BMOR\x02".to_vec();
    bmor.extend_from_slice(&h.window.to_le_bytes());
    bmor.push(h.id.len() as u8);
    bmor.extend_from_slice(&h.id);
    bmor.extend_from_slice(&h.q);
    bmor.extend_from_slice(&h.x0.to_le_bytes());
    bmor.extend_from_slice(&h.y);
    bmor.extend_from_slice(&(m.s as u16).to_le_bytes());
    for r in &h.r {
        bmor.extend_from_slice(&r.to_le_bytes());
    }
    bmor.extend_from_slice(&(h.adct.len() as u32).to_le_bytes());
    bmor.extend_from_slice(&h.adct);
    assert_eq!(rec.to_bytes(), bmor);

    // Vouchers made by hand open in the library; with the fixture voucher they cross T = 3.
    let made: Vec<Made<'_>> = [
        (&listed[1], &b"hand-1"[..], &b"ad one"[..], false, 1),
        (&listed[3], b"hand-syn", b"", true, 2),
        (&listed[2], b"hand-2", b"ad two", false, 3),
        (&listed[1], b"hand-1-again", b"ad one, again", false, 4),
    ]
    .into_iter()
    .map(|(x, id, ad, syn, n)| {
        (
            make_by_hand(&db, &m, &keys, x, id, ad, syn, n),
            x,
            id,
            ad,
            syn,
        )
    })
    .collect();
    let mut records = vec![rec.clone()];
    let mut hand_json = Vec::new();
    for (hv, x, id, ad, syn) in &made {
        let r = opened(&opener, &hv.bytes);
        let ho = open_by_hand(&hv.bytes, &alpha, m.s as usize, ACCOUNT).unwrap();
        assert_eq!((r.x0(), r.share_bytes()), (ho.x0, ho.y));
        records.push(r);
        hand_json.push(json!({
            "item": x.to_hex(),
            "id": String::from_utf8(id.to_vec()).unwrap(),
            "ad": String::from_utf8(ad.to_vec()).unwrap(),
            "synthetic": syn,
            "beta": hx(hv.beta.to_bytes()),
            "gamma": hv.gamma.map(|g| hx(g.to_bytes())),
            "rkey": hx(hv.rkey),
            "voucher": hx(&hv.bytes),
        }));
    }
    let mut account = Account::new(*db.params(), WINDOW);
    for r in &records {
        assert_eq!(account.insert(r.clone()).unwrap(), Inserted::New);
    }
    // Opening the same voucher twice is a no-op.
    assert_eq!(
        account.insert(records[1].clone()).unwrap(),
        Inserted::Duplicate
    );
    let reveal_points: Vec<(Scalar, Scalar)> = [0usize, 1, 3]
        .iter()
        .map(|&i| {
            let r = &records[i];
            let y = Option::from(Scalar::from_canonical_bytes(r.share_bytes())).unwrap();
            (share_abscissa(r.x0()), y)
        })
        .collect();
    assert_eq!(lagrange_at_zero(&reveal_points), keys.shamir[0]);
    let Outcome::Revealed {
        real,
        synthetic,
        rejected,
    } = account.evaluate()
    else {
        panic!("three distinct real records cross T = 3")
    };
    let m_ = |id: &[u8], ad: &[u8]| RevealedMatch {
        id: id.to_vec(),
        ad: ad.to_vec(),
    };
    assert_eq!(
        real,
        vec![
            m_(b"item-0", b"associated data"),
            m_(b"hand-1", b"ad one"),
            m_(b"hand-2", b"ad two"),
            m_(b"hand-1-again", b"ad one, again"),
        ]
    );
    assert_eq!(synthetic, vec![b"hand-syn".to_vec()]);
    assert!(rejected.is_empty());

    // The "rated" variant: the fixture manifest with another rate range, re-signed.
    let mut rated_manifest = ins.manifest.clone();
    rated_manifest.params = Params::new(m.t, m.s, RATED_RANGE.0, RATED_RANGE.1).unwrap();
    let rated_bytes = assemble(&server, rated_manifest, table).unwrap();
    let rated_db = Arc::new(Database::open(rated_bytes, &public, None).unwrap());
    let rc = client(rated_db.clone());
    let rm = parse_manifest(&rated_db.manifest().encode());
    assert_eq!((rm.lo, rm.hi), RATED_RANGE);
    let rctx = context(&rm, rated_db.root_hash());
    assert_eq!(rated_db.context(), rctx);
    let rwctx = window_context(&rctx, WINDOW);
    let rkeys = derive(&seed, &rm, &rwctx);
    assert_eq!(account_rate_ppm(&rc, WINDOW), rkeys.rate_ppm);
    let rated_items = item_vectors(&rc, &rkeys, &rm.kinds, None);
    assert!(
        rated_items
            .iter()
            .any(|i| i["synthetic"] == json!(true) && i["listed"] == json!(true))
    );
    assert!(
        rated_items
            .iter()
            .any(|i| i["synthetic"] == json!(true) && i["listed"] == json!(false))
    );
    assert!(
        rated_items
            .iter()
            .any(|i| i["synthetic"] == json!(false) && i["listed"] == json!(true))
    );
    // A re-signed manifest with only another rate range relinks nothing: every key differs.
    assert_ne!(rkeys.shamir[0], keys.shamir[0]);

    // The ChaCha20 written out here is RFC 8439's (cross-check with the crate).
    {
        use chacha20::cipher::{KeyIvInit, StreamCipher};
        let k = p0.item_key;
        let mut s = vec![0u8; 200];
        chacha20::ChaCha20::new(&k.into(), &[0u8; 12].into()).apply_keystream(&mut s);
        assert_eq!(s, chacha20_stream(&k, 200));
    }

    json!({
        "description": "blindmatch protocol v2 test vectors (docs/PROTOCOL.md §10.2). Hex is lower case; 64-bit values (F_p elements, coins) are decimal strings; scalars are 32-byte little-endian hex; points are 32-byte ristretto255 encodings.",
        "notes": {
            "keys": "the account's key schedule for window 0 of the fixture database (§6.2); shamir = a_1..a_{T-1}; dhf[i][j] = coefficient j of p_i",
            "items": "every listed and unlisted fixture item of a listed kind under the fixture database (rate 0: all real); record = the (x0, y, r) a server stores, null when the voucher would not open (a real voucher of an unlisted item); stream_first_88 = the item stream's first 88 bytes; okvs_positions, H = H(x), P = the OKVS value of x",
            "rated": "the fixture manifest with the rate range replaced and re-signed (the table and everything else unchanged): the same items, now some synthetic",
            "hand_vouchers": "vouchers built from the spec alone with beta = 1000 + n, gamma = 2000 + n, rkey = 32 bytes of 0x40 + n (n = 1, 2, 3, 4); a synthetic one carries the item's synthetic values and, in place of random bytes, the adct bytes (i mod 256) XOR 0xA5 for i = 0..303 (its single scalar is listed as beta, as in the real-voucher table: Q = beta·G); every one opens under the fixture server key for the account",
            "reveal": "an account of window 0 holding the fixture voucher and the hand vouchers in that arrival order (T = 3): k0 is the Lagrange interpolation at 0 over the first T real records' (x_s, y)",
            "schedule": "window_at(now) for the fixture schedule (null: outside the schedule)",
        },
        "inputs": {
            "server_secret_key_file": hx(checks::server_secret_bytes()),
            "client_key_file": hx(checks::client_key_bytes()),
            "account": String::from_utf8(ACCOUNT.to_vec()).unwrap(),
            "window": WINDOW,
            "database_file_sha256": hx(sha256(&[DB_FILE])),
            "voucher_file": hx(VOUCHER_FILE),
        },
        "server_key": {
            "alpha": hx(alpha.to_bytes()),
            "L": hx(m.l),
            "verifying_key": hx(m.vk),
            "public_key_file": hx(public.to_bytes()),
        },
        "database": {
            "header": hx(head),
            "manifest": hx(mbytes),
            "epoch": m.epoch,
            "created": m.created,
            "cells": m.cells,
            "entries": m.entries,
            "seed": hx(m.seed),
            "T": m.t,
            "s_max": m.s,
            "rate_lo_ppm": m.lo,
            "rate_hi_ppm": m.hi,
            "origin": m.origin,
            "length": m.length,
            "count": m.count,
            "kinds": m.kinds,
            "dst": String::from_utf8(m.dst.clone()).unwrap(),
            "min_sources": m.min_sources,
            "sources": m.sources.iter().map(|(n, c)| json!({"name": n, "count": c})).collect::<Vec<_>>(),
            "table_digest": hx(m.table_digest),
            "signature": hx(signature),
            "root": hx(root),
            "context": hx(ctx),
        },
        "schedule": cases,
        "window_context": hx(wctx),
        "keys": keys_json(&keys),
        "items": item_vectors(&c, &keys, &m.kinds, Some((&m, &db))),
        "voucher": {
            "epoch": h.epoch,
            "window": h.window,
            "id": String::from_utf8(h.id.clone()).unwrap(),
            "Q": hx(h.q),
            "S": hx(h.s),
            "tau": hx(h.tau),
            "pad": hx(h.pad),
            "rkey": hx(h.rkey),
            "inner_aad": hx(&h.aad),
            "inner_plaintext": hx(&h.plaintext),
            "y": hx(h.y),
            "x0": dec(h.x0),
            "r": decs(&h.r),
            "adct": hx(&h.adct),
            "k_ad": hx(kad),
            "ad_len": ad_len,
            "ad": String::from_utf8(ad.to_vec()).unwrap(),
            "stored_record": hx(&bmor),
        },
        "hand_vouchers": hand_json,
        "reveal": {
            "arrival_order": records.iter().map(|r| String::from_utf8(r.id().to_vec()).unwrap()).collect::<Vec<_>>(),
            "interpolated_from": ["item-0", "hand-1", "hand-2"],
            "k0": hx(lagrange_at_zero(&reveal_points).to_bytes()),
            "real": real.iter().map(|r| json!({"id": String::from_utf8(r.id.clone()).unwrap(), "ad": String::from_utf8(r.ad.clone()).unwrap()})).collect::<Vec<_>>(),
            "synthetic": ["hand-syn"],
        },
        "rated": {
            "rate_lo_ppm": RATED_RANGE.0,
            "rate_hi_ppm": RATED_RANGE.1,
            "context": hx(rctx),
            "window_context": hx(rwctx),
            "rate_bytes": hx(rkeys.rate_bytes),
            "rate_ppm": rkeys.rate_ppm,
            "skey": hx(rkeys.skey),
            "items": rated_items,
        },
    })
}

#[test]
fn v2_vectors_match_the_spec_and_the_library() {
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(VECTORS).expect("vectors present")).unwrap();
    let got = compute();
    for (k, v) in got.as_object().unwrap() {
        assert_eq!(Some(v), want.get(k), "vector section {k} differs");
    }
    assert_eq!(got, want);
}

#[test]
#[ignore = "prints fresh vectors; run by hand after an intended protocol change"]
fn print_v2_vectors() {
    println!("{}", serde_json::to_string_pretty(&compute()).unwrap());
}
