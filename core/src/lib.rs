//! # blindmatch-core
//!
//! Privacy-preserving on-device media matching: Apple's *fuzzy threshold PSI with associated
//! data* (Bhowmick et al., 2021) on ristretto255, in the single-point (OKVS) variant.
//!
//! The modules follow the protocol (see `docs/PROTOCOL.md`, the normative spec):
//!
//! | step | module |
//! |---|---|
//! | typed media hashes and hash lists | [`hash`], [`hashlist`], [`media`] |
//! | RFC 9380 hash to ristretto255 | [`hash_to_group`] |
//! | server and client keys | [`keys`] |
//! | the garbled-cuckoo table (OKVS) | [`okvs`] |
//! | the signed blinded database | [`database`] |
//! | key-committing AEAD | [`aead`] |
//! | Shamir sharing and the detectable hash function | [`shamir`], [`dhf`] |
//! | vouchers: creation and server opening | [`voucher`], [`opening`] |
//! | per-account accumulation and reveal | [`threshold`] |
//!
//! Everything here is synchronous and CPU-bound: call it off an app's main thread.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
// Modules that read untrusted bytes (decoders, opening, reveal) additionally deny
// `clippy::indexing_slicing`; the arithmetic modules index only what they built themselves.

pub mod aead;
pub mod database;
pub mod dhf;
mod encoding;
mod error;
pub mod hash;
pub mod hash_to_group;
pub mod hashlist;
pub mod keys;
pub mod media;
pub mod okvs;
pub mod opening;
pub mod params;
pub mod shamir;
pub mod threshold;
pub mod voucher;

pub use database::{AuditReport, BuildOptions, Database, DatabaseBuilder, Manifest, SourceList};
pub use error::{Error, Result};
pub use hash::{HashKind, MediaHash};
pub use keys::{ClientKey, DeviceKeys, ServerPublicKey, ServerSecretKey};
pub use opening::{OpenOutcome, OpenedVoucher, Opener};
pub use params::Params;
pub use threshold::{Account, Outcome};
pub use voucher::{Client, SyntheticChoice, VoucherHeader};
