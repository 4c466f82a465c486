//! Keys: the server's blinding secret α with its manifest-signing key, and the client's
//! per-account seed with everything derived from it.

mod client;
mod server;

pub use client::{ClientKey, DeviceKeys, derive_adkey, share_abscissa};
pub use server::{ServerPublicKey, ServerSecretKey};
