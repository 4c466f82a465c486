//! The device's key schedule: everything it derives from the account's client key for one
//! database's (T, s_max) — the Shamir polynomial f with f(0) = k0, the associated-data key,
//! the PRF key and the DHF polynomials. Labels are in [`crate::kdf::client`].

use crate::hash::MediaHash;
use crate::kdf::{self, client as label};
use crate::keys::ClientKey;
use crate::params::Params;
use crate::primitives::dhf::{self, Fp};
use crate::primitives::shamir;
use curve25519_dalek::Scalar;
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Everything a device derives from the client key for one (T, s_max): the Shamir polynomial
/// f with f(0) = k0, the associated-data key, the PRF key and the DHF polynomials.
/// Zeroized on drop; never printed.
pub(crate) struct DeviceKeys {
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
    info.extend_from_slice(&params.threshold().to_le_bytes());
    info.extend_from_slice(&params.s_max().to_le_bytes());
    if let Some(i) = index {
        info.extend_from_slice(&i.to_le_bytes());
    }
    info
}

fn expand(hk: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) {
    hk.expand(info, out)
        .expect("at most 16·255 bytes, within HKDF-SHA256's output limit");
}

fn wide_scalar(hk: &Hkdf<Sha256>, info: &[u8]) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    expand(hk, info, wide.as_mut());
    Scalar::from_bytes_mod_order_wide(&wide)
}

impl DeviceKeys {
    /// Derive the keys of `key` for `params`.
    pub(crate) fn derive(key: &ClientKey, params: &Params) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(label::SALT), key.seed());
        let t = params.threshold();
        let mut shamir = Vec::with_capacity(t as usize);
        shamir.push(wide_scalar(&hk, &bound_info(label::K0, params, None)));
        for i in 1..t {
            shamir.push(wide_scalar(
                &hk,
                &bound_info(label::SHAMIR, params, Some(i)),
            ));
        }
        let mut fkey = Zeroizing::new([0u8; 32]);
        expand(
            &hk,
            &bound_info(label::PRF_KEY, params, None),
            fkey.as_mut(),
        );
        let coeffs = params.dhf_coefficients();
        let mut dhf = Vec::with_capacity(params.s_max() as usize * coeffs);
        let mut buf = Zeroizing::new(vec![0u8; 16 * coeffs]);
        for i in 0..params.s_max() {
            expand(&hk, &bound_info(label::DHF, params, Some(i)), &mut buf);
            for c in buf.chunks_exact(16) {
                let mut w = [0u8; 16];
                w.copy_from_slice(c);
                dhf.push(Fp::from_wide(&w));
            }
        }
        let adkey = kdf::adkey(shamir.first().expect("T ≥ 2 coefficients"));
        DeviceKeys {
            params: *params,
            shamir,
            adkey,
            fkey,
            dhf,
        }
    }

    /// PRF(fkey, x): the DHF input x0 of a media hash. Deterministic, so re-sending one item
    /// gives the same share and counts once.
    pub(crate) fn prf_x0(&self, x: &MediaHash) -> Fp {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.fkey.as_ref())
            .expect("HMAC accepts keys of any length");
        mac.update(label::PRF_INPUT);
        mac.update(&x.encode());
        let out = mac.finalize().into_bytes();
        let w = out.first_chunk::<16>().expect("HMAC-SHA256 gives 32 bytes");
        Fp::from_wide(w)
    }

    /// The Shamir share f(x_s) at the abscissa derived from x0.
    pub(crate) fn share(&self, x0: Fp) -> Scalar {
        shamir::eval(&self.shamir, &kdf::share_abscissa(x0))
    }

    /// The DHF values (p_1(x0), …, p_s(x0)).
    pub(crate) fn dhf_values(&self, x0: Fp) -> Vec<Fp> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_bound_to_params() {
        let k = ClientKey::generate();
        let a = DeviceKeys::derive(&k, &Params::new(3, 5, 0).unwrap());
        let b = DeviceKeys::derive(&k, &Params::new(4, 5, 0).unwrap());
        assert_ne!(a.shamir[0], b.shamir[0]);
        assert_eq!(a.dhf_values(Fp::ONE).len(), 5);
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.shamir[0])));
    }
}
