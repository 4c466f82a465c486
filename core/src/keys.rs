//! The keys both wings see: the account's client key (a seed the device derives everything
//! from; its file format is shared by every device of the account) and the server's public
//! key (what devices pin). The server's secret key lives in the server wing.

use crate::encoding::{self, Reader};
use crate::error::{Error, Field, Object, Result};
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::VerifyingKey;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const CLIENT_MAGIC: &[u8; 4] = b"BMCK";
const CLIENT_VERSION: u16 = 1;
/// Length of an exported client key.
pub const CLIENT_KEY_LEN: usize = 4 + 2 + 32;

const PUBLIC_MAGIC: &[u8; 4] = b"BMPK";
const PUBLIC_VERSION: u16 = 1;
/// Length of an encoded server public key.
pub const PUBLIC_KEY_LEN: usize = 4 + 2 + 32 + 32;

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
        v.extend_from_slice(CLIENT_MAGIC);
        v.extend_from_slice(&CLIENT_VERSION.to_le_bytes());
        v.extend_from_slice(&self.seed);
        v
    }

    /// Import an exported key.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`] or
    /// [`Error::TrailingBytes`] for anything but the 38-byte export format.
    pub fn import(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::ClientKey);
        r.expect_header(CLIENT_MAGIC, CLIENT_VERSION)?;
        let seed = r.array::<32>()?;
        r.finish()?;
        Ok(ClientKey { seed })
    }

    /// The seed, for the device wing's key schedule.
    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
}

/// The server's public key: L = α·G and the Ed25519 verifying key. Devices pin this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPublicKey {
    l: RistrettoPoint,
    l_bytes: CompressedRistretto,
    verifying: VerifyingKey,
}

impl ServerPublicKey {
    /// The public key of α and a signing key (the server wing's `ServerSecretKey::public`).
    pub(crate) fn from_secret(alpha: &Scalar, verifying: VerifyingKey) -> Self {
        let l = RistrettoPoint::mul_base(alpha);
        ServerPublicKey {
            l,
            l_bytes: l.compress(),
            verifying,
        }
    }

    /// `BMPK ‖ version u16 ‖ L (32) ‖ Ed25519 verifying key (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(PUBLIC_KEY_LEN);
        v.extend_from_slice(PUBLIC_MAGIC);
        v.extend_from_slice(&PUBLIC_VERSION.to_le_bytes());
        v.extend_from_slice(self.l_bytes.as_bytes());
        v.extend_from_slice(self.verifying.as_bytes());
        v
    }

    /// Decode.
    ///
    /// # Errors
    /// Header and length errors as for every key file; [`Error::InvalidPoint`] for an
    /// identity or non-canonical L ([`Field::BlindingPoint`]) or an invalid or weak Ed25519
    /// key ([`Field::VerifyingKey`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::ServerPublicKey);
        r.expect_header(PUBLIC_MAGIC, PUBLIC_VERSION)?;
        let lb: [u8; 32] = r.array()?;
        let l = encoding::point(&lb, Field::BlindingPoint)?;
        let vk = r.array::<32>()?;
        r.finish()?;
        let bad_vk = Error::InvalidPoint {
            field: Field::VerifyingKey,
        };
        let verifying = VerifyingKey::from_bytes(&vk).map_err(|_| bad_vk.clone())?;
        if verifying.is_weak() {
            return Err(bad_vk);
        }
        Ok(ServerPublicKey {
            l,
            l_bytes: CompressedRistretto(lb),
            verifying,
        })
    }

    /// L = α·G.
    pub fn blinding_point(&self) -> &RistrettoPoint {
        &self.l
    }

    /// L, compressed.
    pub fn blinding_point_bytes(&self) -> &[u8; 32] {
        self.l_bytes.as_bytes()
    }

    /// The Ed25519 key that signs manifests.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// A short fingerprint for display: hex of SHA-256 over the encoding, first 16 bytes.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let d = sha2::Sha256::digest(self.to_bytes());
        hex::encode(&d[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_key_export_import_round_trip_and_rejects() {
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
}
