//! Client keys: one 32-byte seed per account (shared by the account's devices), and the
//! [`DeviceKeys`] derived from it for a database's (T, s_max).

use crate::dhf::{self, Fp};
use crate::encoding::Reader;
use crate::error::{Error, Result};
use crate::hash::MediaHash;
use crate::params::Params;
use crate::shamir;
use curve25519_dalek::Scalar;
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const MAGIC: &[u8; 4] = b"BMCK";
const VERSION: u16 = 1;
/// Length of an exported client key.
pub const CLIENT_KEY_LEN: usize = 4 + 2 + 32;

/// An account's client key: a 32-byte seed. Export it only through [`ClientKey::export`]
/// (for backup and for the account's other devices). Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ClientKey {
    seed: [u8; 32],
}

impl core::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ClientKey { .. }")
    }
}

impl ClientKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        ClientKey { seed }
    }

    /// `BMCK ‖ version u16 ‖ seed (32)`.
    pub fn export(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(CLIENT_KEY_LEN));
        v.extend_from_slice(MAGIC);
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(&self.seed);
        v
    }

    /// Import an exported key.
    pub fn import(bytes: &[u8]) -> Result<Self> {
        let what = "client key";
        let mut r = Reader::new(bytes, what);
        r.expect_header(MAGIC, VERSION)?;
        let seed = r.array::<32>()?;
        r.finish()?;
        Ok(ClientKey { seed })
    }

    /// Derive the per-database key material for `params`.
    pub fn derive(&self, params: &Params) -> Result<DeviceKeys> {
        DeviceKeys::derive(&self.seed, params)
    }
}

/// Everything a device derives from the client key for one (T, s_max): the Shamir polynomial
/// f with f(0) = k0, the associated-data key, the PRF key and the DHF polynomials.
/// Zeroized on drop; never printed.
pub struct DeviceKeys {
    params: Params,
    shamir: Vec<Scalar>,
    adkey: Zeroizing<[u8; 32]>,
    fkey: Zeroizing<[u8; 32]>,
    dhf: Vec<Fp>,
}

impl Drop for DeviceKeys {
    fn drop(&mut self) {
        self.shamir.zeroize();
        self.dhf.zeroize();
    }
}

impl ZeroizeOnDrop for DeviceKeys {}

impl core::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DeviceKeys {{ params: {:?}, .. }}", self.params)
    }
}

fn bound_info(label: &[u8], params: &Params, index: Option<u32>) -> Vec<u8> {
    let mut info = Vec::with_capacity(label.len() + 12);
    info.extend_from_slice(label);
    info.extend_from_slice(&params.threshold.to_le_bytes());
    info.extend_from_slice(&params.s_max.to_le_bytes());
    if let Some(i) = index {
        info.extend_from_slice(&i.to_le_bytes());
    }
    info
}

fn expand(hk: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) -> Result<()> {
    hk.expand(info, out).map_err(|_| Error::InvalidParameter {
        name: "hkdf",
        reason: "output too long".into(),
    })
}

fn wide_scalar(hk: &Hkdf<Sha256>, info: &[u8]) -> Result<Scalar> {
    let mut wide = Zeroizing::new([0u8; 64]);
    expand(hk, info, wide.as_mut())?;
    Ok(Scalar::from_bytes_mod_order_wide(&wide))
}

impl DeviceKeys {
    fn derive(seed: &[u8; 32], params: &Params) -> Result<Self> {
        params.validate()?;
        let hk = Hkdf::<Sha256>::new(Some(b"blindmatch-v1 client key"), seed);
        let t = params.threshold;
        let mut shamir = Vec::with_capacity(t as usize);
        shamir.push(wide_scalar(&hk, &bound_info(b"k0", params, None))?);
        for i in 1..t {
            shamir.push(wide_scalar(&hk, &bound_info(b"shamir", params, Some(i)))?);
        }
        let mut fkey = Zeroizing::new([0u8; 32]);
        expand(&hk, &bound_info(b"prf", params, None), fkey.as_mut())?;
        let coeffs = params.dhf_coefficients();
        let mut dhf = Vec::with_capacity(params.s_max as usize * coeffs);
        let mut buf = Zeroizing::new(vec![0u8; 16 * coeffs]);
        for i in 0..params.s_max {
            expand(&hk, &bound_info(b"dhf", params, Some(i)), &mut buf)?;
            for c in buf.chunks_exact(16) {
                let mut w = [0u8; 16];
                w.copy_from_slice(c);
                dhf.push(Fp::from_wide(&w));
            }
        }
        let adkey = derive_adkey(&shamir[0]);
        Ok(DeviceKeys {
            params: *params,
            shamir,
            adkey,
            fkey,
            dhf,
        })
    }

    /// The parameters these keys were derived for.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// PRF(fkey, x): the DHF input x0 of a media hash. Deterministic, so re-sending one item
    /// gives the same share and counts once.
    pub fn prf_x0(&self, x: &MediaHash) -> Fp {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.fkey.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"blindmatch-v1 prf");
        mac.update(&x.encode());
        let out = mac.finalize().into_bytes();
        let mut w = [0u8; 16];
        w.copy_from_slice(&out[..16]);
        Fp::from_wide(&w)
    }

    /// The Shamir share f(x_s) at the abscissa derived from x0.
    pub fn share(&self, x0: Fp) -> Scalar {
        shamir::eval(&self.shamir, &share_abscissa(x0))
    }

    /// The DHF values (p_1(x0), …, p_s(x0)).
    pub fn dhf_values(&self, x0: Fp) -> Vec<Fp> {
        self.dhf
            .chunks(self.params.dhf_coefficients())
            .map(|c| dhf::eval(c, x0))
            .collect()
    }

    /// The associated-data key.
    pub(crate) fn adkey(&self) -> &[u8; 32] {
        &self.adkey
    }
}

fn unreachable_hmac() -> hmac::Hmac<Sha256> {
    // HMAC accepts keys of any length; this branch cannot be taken.
    <hmac::Hmac<Sha256> as KeyInit>::new(&Default::default())
}

/// adkey = HKDF-SHA256(salt = "blindmatch-v1 adkey", ikm = k0) expanded with info "adkey".
pub fn derive_adkey(k0: &Scalar) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(b"blindmatch-v1 adkey"), k0.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(b"adkey", out.as_mut());
    out
}

/// x_s = SHA-512("blindmatch-v1 share abscissa" ‖ x0 as u64 LE) reduced mod ℓ (1 if that is
/// ever zero). Public: the server recomputes it from x0.
pub fn share_abscissa(x0: Fp) -> Scalar {
    let mut h = Sha512::new();
    h.update(b"blindmatch-v1 share abscissa");
    h.update(x0.value().to_le_bytes());
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    if s == Scalar::ZERO { Scalar::ONE } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_import_round_trip_and_rejects() {
        let k = ClientKey::generate();
        let e = k.export();
        let k2 = ClientKey::import(&e).unwrap();
        assert_eq!(k.seed, k2.seed);
        assert!(matches!(
            ClientKey::import(&e[..10]),
            Err(Error::Truncated { .. })
        ));
        let mut long = e.to_vec();
        long.push(0);
        assert!(matches!(
            ClientKey::import(&long),
            Err(Error::TrailingBytes { .. })
        ));
        let mut v = e.to_vec();
        v[4] = 9;
        assert!(matches!(
            ClientKey::import(&v),
            Err(Error::UnsupportedVersion { .. })
        ));
        assert_eq!(format!("{k:?}"), "ClientKey { .. }");
    }

    #[test]
    fn derivations_are_bound_to_params() {
        let k = ClientKey::generate();
        let a = k.derive(&Params::new(3, 5, 0).unwrap()).unwrap();
        let b = k.derive(&Params::new(4, 5, 0).unwrap()).unwrap();
        assert_ne!(a.shamir[0], b.shamir[0]);
        assert_eq!(a.dhf_values(Fp::ONE).len(), 5);
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.shamir[0])));
    }
}
