//! Vouchers: what a device attaches to each media item it sends.
//!
//! ```text
//! voucher = "BV" | version u8 = 1 | epoch u64 | id_len u8 | id (64, zero-padded)   (header, 76 bytes)
//!         | Q (32)
//!         | ct  = τ (32) | rkey ⊕ pad (32)                        (outer layer)
//!         | rct = AEAD_rkey(y ‖ x0 ‖ r_1..r_s ‖ adct)               (inner layer)
//! adct    = AEAD_{k_ad}(LE32(len) ‖ ad ‖ 0-padding to the bucket)
//! ```
//!
//! Size: `300 + 8·(s_max+1) + bucket` bytes, for buckets of 256 B, 1, 4, 16 and 64 KiB.

use crate::aead;
use crate::database::Database;
use crate::dhf::Fp;
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::hash::MediaHash;
use crate::hash_to_group::hash_media;
use crate::keys::{ClientKey, DeviceKeys};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::traits::MultiscalarMul;
use curve25519_dalek::{RistrettoPoint, Scalar};
use hkdf::Hkdf;
use rand::CryptoRng;
use sha2::Sha256;
use std::sync::Arc;
use zeroize::Zeroizing;

pub(crate) const MAGIC: &[u8; 2] = b"BV";
/// The voucher format version.
pub const VERSION: u8 = 1;
/// Longest app id.
pub const MAX_ID_LEN: usize = 64;
/// Header length: magic, version, epoch, id length, padded id.
pub const HEADER_LEN: usize = 2 + 1 + 8 + 1 + MAX_ID_LEN;
/// Associated-data buckets: the padded size of the associated data (4 bytes of which hold
/// its length), so the voucher length reveals only the bucket.
pub const AD_BUCKETS: [usize; 5] = [256, 1024, 4096, 16384, 65536];
/// Largest associated data.
pub const MAX_AD_LEN: usize = 65536 - 4;

pub(crate) const LABEL_RCT: &[u8] = b"blindmatch-v1 rct";
pub(crate) const LABEL_ADCT: &[u8] = b"blindmatch-v1 adct";

/// Voucher length for a database's s_max and an associated-data bucket.
pub const fn voucher_len(s_max: u32, bucket: usize) -> usize {
    300 + 8 * (s_max as usize + 1) + bucket
}

/// The smallest bucket that holds `ad_len` bytes of associated data.
pub fn bucket_for(ad_len: usize) -> Result<usize> {
    AD_BUCKETS
        .into_iter()
        .find(|b| ad_len + 4 <= *b)
        .ok_or(Error::InvalidParameter {
            name: "associated data",
            reason: format!("at most {MAX_AD_LEN} bytes"),
        })
}

/// (τ, pad) = HKDF-SHA256(salt = "blindmatch-v1 outer", ikm = Q ‖ S), info "tau" / "pad".
pub(crate) fn outer_keys(q: &[u8; 32], s: &[u8; 32]) -> ([u8; 32], Zeroizing<[u8; 32]>) {
    let hk = Hkdf::<Sha256>::new(
        Some(b"blindmatch-v1 outer"),
        &[q.as_slice(), s.as_slice()].concat(),
    );
    let mut tau = [0u8; 32];
    let mut pad = Zeroizing::new([0u8; 32]);
    let _ = hk.expand(b"tau", &mut tau);
    let _ = hk.expand(b"pad", pad.as_mut());
    (tau, pad)
}

/// k_ad for one voucher = HKDF-SHA256(salt = "blindmatch-v1 adct", ikm = adkey), info = Q.
pub(crate) fn adct_key(adkey: &[u8; 32], q: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(b"blindmatch-v1 adct"), adkey);
    let mut k = Zeroizing::new([0u8; 32]);
    let _ = hk.expand(q, k.as_mut());
    k
}

/// The associated data the adct is bound to: `id_len u8 ‖ id`.
pub(crate) fn adct_aad(id: &[u8]) -> Vec<u8> {
    [&[id.len() as u8][..], id].concat()
}

/// The public fields of a voucher, readable by anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoucherHeader {
    /// The database epoch the voucher was made for.
    pub epoch: u64,
    /// The app's id for the item.
    pub id: Vec<u8>,
}

/// A parsed voucher (structure only; nothing opened).
pub(crate) struct Parsed<'a> {
    pub header: VoucherHeader,
    pub header_bytes: &'a [u8],
    pub q: [u8; 32],
    pub tau: [u8; 32],
    pub wrapped: [u8; 32],
    pub rct: &'a [u8],
}

impl VoucherHeader {
    /// Read the header (magic, version, epoch, id) and check its padding.
    pub fn peek(bytes: &[u8]) -> Result<VoucherHeader> {
        let what = "voucher";
        let mut r = Reader::new(bytes, what);
        r.expect_magic(MAGIC)?;
        let v = r.u8()?;
        if v != VERSION {
            return Err(Error::UnsupportedVersion {
                what,
                found: v as u16,
            });
        }
        let epoch = r.u64()?;
        let id_len = r.u8()? as usize;
        let id_field = r.take(MAX_ID_LEN)?;
        if id_len > MAX_ID_LEN {
            return Err(Error::OutOfRange {
                what: "voucher id",
                reason: "longer than 64 bytes",
            });
        }
        let (id, padding) = id_field.split_at(id_len);
        if padding.iter().any(|b| *b != 0) {
            return Err(Error::OutOfRange {
                what: "voucher id",
                reason: "non-zero padding",
            });
        }
        Ok(VoucherHeader {
            epoch,
            id: id.to_vec(),
        })
    }
}

/// Parse a voucher for a database with `epoch` and `s_max`. The epoch is checked before the
/// length, so a voucher for another database epoch is reported as such.
pub(crate) fn parse(bytes: &[u8], epoch: u64, s_max: u32) -> Result<Parsed<'_>> {
    let header = VoucherHeader::peek(bytes)?;
    if header.epoch != epoch {
        return Err(Error::WrongEpoch {
            voucher: header.epoch,
            database: epoch,
        });
    }
    if !AD_BUCKETS
        .iter()
        .any(|b| voucher_len(s_max, *b) == bytes.len())
    {
        return Err(Error::OutOfRange {
            what: "voucher length",
            reason: "does not match any associated-data bucket for this database",
        });
    }
    let mut r = Reader::new(bytes, "voucher");
    let header_bytes = r.take(HEADER_LEN)?;
    let q = r.array()?;
    let tau = r.array()?;
    let wrapped = r.array()?;
    let rct = r.take(r.remaining())?;
    Ok(Parsed {
        header,
        header_bytes,
        q,
        tau,
        wrapped,
        rct,
    })
}

/// Whether a voucher is real or synthetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntheticChoice {
    /// Decide at random with the database's synthetic rate (what apps use).
    ByRate,
    /// Always real (simulations and tests).
    Real,
    /// Always synthetic (simulations and tests).
    Synthetic,
}

/// The device side: a verified database plus the account's derived keys.
/// Immutable and `Send + Sync`.
pub struct Client {
    db: Arc<Database>,
    keys: DeviceKeys,
    inv2: Scalar,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Derive the account's keys for this database's parameters.
    pub fn new(db: Arc<Database>, key: &ClientKey) -> Result<Client> {
        let keys = key.derive(db.params())?;
        Ok(Client {
            db,
            keys,
            inv2: Scalar::from(2u8).invert(),
        })
    }

    /// The database.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Make a voucher for media hash `x`, app id `id` (≤ 64 bytes) and associated data `ad`
    /// (≤ 65532 bytes), synthetic with the database's rate. Uses the OS CSPRNG.
    pub fn voucher(&self, x: &MediaHash, id: &[u8], ad: &[u8]) -> Result<Vec<u8>> {
        self.voucher_with(x, id, ad, SyntheticChoice::ByRate, &mut rand::rng())
    }

    /// As [`voucher`](Client::voucher) with an explicit real/synthetic choice and RNG.
    pub fn voucher_with<R: CryptoRng + ?Sized>(
        &self,
        x: &MediaHash,
        id: &[u8],
        ad: &[u8],
        choice: SyntheticChoice,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        if id.len() > MAX_ID_LEN {
            return Err(Error::InvalidParameter {
                name: "id",
                reason: "at most 64 bytes".into(),
            });
        }
        let bucket = bucket_for(ad.len())?;
        let m = self.db.manifest();
        if !m.kinds.contains(&x.kind()) {
            return Err(Error::KindNotListed {
                kind: x.kind().name(),
            });
        }
        let synthetic = match choice {
            SyntheticChoice::Real => false,
            SyntheticChoice::Synthetic => true,
            SyntheticChoice::ByRate => {
                rng.next_u32() % crate::params::RATE_SCALE < m.params.synthetic_rate_ppm
            }
        };
        let beta = Scalar::random(rng);
        let half_beta = beta * self.inv2;
        // Halved points, so one batched double-and-compress yields Q and S.
        let (q_half, s_half) = if synthetic {
            (
                RistrettoPoint::mul_base(&half_beta),
                self.db.l_table() * &half_beta,
            )
        } else {
            let h = hash_media(x, &m.dst)?;
            let p = self.db.lookup(x)?;
            let half_gamma = Scalar::random(rng) * self.inv2;
            let l = self.db.server_key().blinding_point();
            (
                RistrettoPoint::multiscalar_mul(
                    [half_beta, half_gamma],
                    [h, RISTRETTO_BASEPOINT_POINT],
                ),
                RistrettoPoint::multiscalar_mul([half_beta, half_gamma], [p, *l]),
            )
        };
        let qs = RistrettoPoint::double_and_compress_batch(&[q_half, s_half]);
        let (q, s) = match qs.as_slice() {
            [q, s] => (q.to_bytes(), Zeroizing::new(s.to_bytes())),
            _ => return Err(Error::InvalidPoint { what: "voucher Q" }),
        };

        // Header.
        let s_max = m.params.s_max;
        let mut out = Vec::with_capacity(voucher_len(s_max, bucket));
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&m.epoch.to_le_bytes());
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.resize(HEADER_LEN, 0);
        out.extend_from_slice(&q);

        // Outer layer: a one-time key wrap of rkey under (τ, pad) from S.
        let mut rkey = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(rkey.as_mut());
        let (tau, pad) = outer_keys(&q, &s);
        out.extend_from_slice(&tau);
        out.extend(rkey.iter().zip(pad.iter()).map(|(a, b)| a ^ b));

        // Inner layer plaintext: y ‖ x0 ‖ r ‖ adct.
        let mut pt = Zeroizing::new(Vec::with_capacity(
            32 + 8 * (s_max as usize + 1) + bucket + 48,
        ));
        let mut padded = Zeroizing::new(vec![0u8; bucket]);
        padded[..4].copy_from_slice(&(ad.len() as u32).to_le_bytes());
        padded[4..4 + ad.len()].copy_from_slice(ad);
        if synthetic {
            pt.extend_from_slice(Scalar::random(rng).as_bytes());
            for _ in 0..=s_max {
                pt.extend_from_slice(&random_fp(rng).value().to_le_bytes());
            }
            // adct: random bytes of the same length; it never opens.
            let start = pt.len();
            pt.resize(start + bucket + aead::OVERHEAD, 0);
            rng.fill_bytes(&mut pt[start..]);
        } else {
            let x0 = self.keys.prf_x0(x);
            pt.extend_from_slice(self.keys.share(x0).as_bytes());
            pt.extend_from_slice(&x0.value().to_le_bytes());
            for v in self.keys.dhf_values(x0) {
                pt.extend_from_slice(&v.value().to_le_bytes());
            }
            let k_ad = adct_key(self.keys.adkey(), &q);
            aead::seal_into(&k_ad, LABEL_ADCT, &adct_aad(id), &padded, &mut pt);
        }
        let aad = out[..HEADER_LEN + 32].to_vec();
        aead::seal_into(&rkey, LABEL_RCT, &aad, &pt, &mut out);
        debug_assert_eq!(out.len(), voucher_len(s_max, bucket));
        Ok(out)
    }
}

fn random_fp<R: CryptoRng + ?Sized>(rng: &mut R) -> Fp {
    let mut w = [0u8; 16];
    rng.fill_bytes(&mut w);
    Fp::from_wide(&w)
}
