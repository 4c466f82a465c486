//! Sharp tools, public only with the `hazmat` feature, which only tests, fuzzing and benches
//! turn on — never the shipped CLI or bindings.
//!
//! - [`ServerSecretKey::blind`](crate::server::ServerSecretKey::blind): α·P for any point,
//!   an OPRF oracle.
//! - [`assemble`](crate::server::assemble): signs any table under any manifest.
//! - [`reseal_voucher`](crate::server::reseal_voucher): opens and re-seals a voucher with a
//!   patched inner layer (fuzzing).
//! - [`expand_message_xmd_sha512`] and [`hash_to_ristretto`]: RFC 9380 with any DST and
//!   message (the known-answer tests).

pub use crate::hash_to_group::{expand_message_xmd_sha512, hash_to_ristretto};

use crate::database::Database;
use crate::error::Result;
use crate::hash::MediaHash;
use curve25519_dalek::RistrettoPoint;

/// The OKVS value P(x) a device reads for `x`: the sum of its three cells. Public data, but
/// only tests need it outside the device wing.
///
/// # Errors
/// [`crate::Error::KindNotListed`]; [`crate::Error::InvalidPoint`] for a bad cell.
pub fn okvs_lookup(db: &Database, x: &MediaHash) -> Result<RistrettoPoint> {
    db.lookup(x)
}
