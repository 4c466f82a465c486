//! The server key: α (the blinding scalar, L = α·G) and an Ed25519 key that signs manifests.

use crate::encoding::{self, Reader};
use crate::error::{Error, Result};
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const SECRET_MAGIC: &[u8; 4] = b"BMSK";
const PUBLIC_MAGIC: &[u8; 4] = b"BMPK";
const VERSION: u16 = 1;

/// Length of an encoded secret key.
pub const SECRET_KEY_LEN: usize = 4 + 2 + 32 + 32;
/// Length of an encoded public key.
pub const PUBLIC_KEY_LEN: usize = 4 + 2 + 32 + 32;

/// The server's secret: α and the manifest-signing key. Zeroized on drop; never printed.
#[derive(Clone, ZeroizeOnDrop)]
pub struct ServerSecretKey {
    alpha: Scalar,
    signing: SigningKey,
}

impl Zeroize for ServerSecretKey {
    fn zeroize(&mut self) {
        self.alpha.zeroize();
        // SigningKey zeroizes itself on drop.
    }
}

impl core::fmt::Debug for ServerSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ServerSecretKey { .. }")
    }
}

impl ServerSecretKey {
    /// Generate a fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        loop {
            let alpha = Scalar::random(&mut rng);
            if alpha != Scalar::ZERO {
                return ServerSecretKey {
                    alpha,
                    signing: SigningKey::generate(&mut rng),
                };
            }
        }
    }

    /// `BMSK ‖ version u16 ‖ α (32, canonical, non-zero) ‖ Ed25519 seed (32)`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(SECRET_KEY_LEN));
        v.extend_from_slice(SECRET_MAGIC);
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(self.alpha.as_bytes());
        v.extend_from_slice(self.signing.as_bytes());
        v
    }

    /// Decode; rejects wrong magic, version, length and a zero or non-canonical α.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let what = "server secret key";
        let mut r = Reader::new(bytes, what);
        r.expect_header(SECRET_MAGIC, VERSION)?;
        let alpha = encoding::scalar(r.array()?, false, what)?;
        let seed = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Ok(ServerSecretKey {
            alpha,
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The public half.
    pub fn public(&self) -> ServerPublicKey {
        let l = RistrettoPoint::mul_base(&self.alpha);
        ServerPublicKey {
            l,
            l_bytes: l.compress(),
            verifying: self.signing.verifying_key(),
        }
    }

    /// α·P: the server's blinding of a point (the OPRF evaluation). For audits and tests.
    pub fn blind(&self, p: &RistrettoPoint) -> RistrettoPoint {
        p * self.alpha
    }

    pub(crate) fn alpha(&self) -> &Scalar {
        &self.alpha
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
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
    /// `BMPK ‖ version u16 ‖ L (32) ‖ Ed25519 verifying key (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(PUBLIC_KEY_LEN);
        v.extend_from_slice(PUBLIC_MAGIC);
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(self.l_bytes.as_bytes());
        v.extend_from_slice(self.verifying.as_bytes());
        v
    }

    /// Decode; rejects an identity or non-canonical L and an invalid Ed25519 key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let what = "server public key";
        let mut r = Reader::new(bytes, what);
        r.expect_header(PUBLIC_MAGIC, VERSION)?;
        let lb: [u8; 32] = r.array()?;
        let l = encoding::point(&lb, what)?;
        let vk = r.array::<32>()?;
        r.finish()?;
        let verifying = VerifyingKey::from_bytes(&vk).map_err(|_| Error::InvalidPoint { what })?;
        if verifying.is_weak() {
            return Err(Error::InvalidPoint { what });
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
