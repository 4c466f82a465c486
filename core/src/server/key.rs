//! The server's secret key: α (the blinding scalar, L = α·G) and an Ed25519 key that signs
//! manifests.

use crate::encoding::{self, Reader};
use crate::error::{Field, Object, Result};
use crate::keys::ServerPublicKey;
use curve25519_dalek::Scalar;
use ed25519_dalek::SigningKey;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const SECRET_MAGIC: &[u8; 4] = b"BMSK";
const VERSION: u16 = 1;

/// Length of an encoded secret key.
pub const SECRET_KEY_LEN: usize = 4 + 2 + 32 + 32;

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

    /// Decode.
    ///
    /// # Errors
    /// Header and length errors as for every key file; [`crate::Error::InvalidScalar`] for a
    /// zero or non-canonical α.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::ServerSecretKey);
        r.expect_header(SECRET_MAGIC, VERSION)?;
        let alpha = encoding::scalar(r.array()?, false, Field::Alpha)?;
        let seed = Zeroizing::new(r.array::<32>()?);
        r.finish()?;
        Ok(ServerSecretKey {
            alpha,
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The public half.
    pub fn public(&self) -> ServerPublicKey {
        ServerPublicKey::from_secret(&self.alpha, self.signing.verifying_key())
    }

    /// α·P: the server's blinding of any point — an OPRF oracle, so only under `hazmat`.
    #[cfg(feature = "hazmat")]
    pub fn blind(&self, p: &curve25519_dalek::RistrettoPoint) -> curve25519_dalek::RistrettoPoint {
        p * self.alpha
    }

    pub(crate) fn alpha(&self) -> &Scalar {
        &self.alpha
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }
}
