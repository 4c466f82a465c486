//! # blindmatch-core
//!
//! Privacy-preserving on-device media matching: Apple's *fuzzy threshold PSI with associated
//! data* (Bhowmick et al., 2021) on ristretto255, in the single-point (OKVS) variant.
//! `docs/PROTOCOL.md` is the normative specification.
//!
//! The crate is laid out as the protocol's roles: a **device** wing ([`device`]: make
//! vouchers) and a **server** wing ([`server`]: build the database, open vouchers, keep
//! accounts, reveal at the threshold) stand on a shared floor (wire formats, the key schedule's
//! labels, parameters, public keys, the database format), which stands on private primitives
//! (AEAD, F_p and the detectable hash function, Shamir sharing, the OKVS). Neither wing
//! imports the other. Media hashing ([`media`]) stands beside them on nothing of the protocol.
//!
//! Everything here is synchronous and CPU-bound: call it off an app's main thread. Core does
//! no file or network I/O; callers hand it bytes.
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![cfg_attr(not(test), allow(clippy::expect_used))]
// Modules that read untrusted bytes (decoders, opening, reveal) additionally deny
// `clippy::indexing_slicing`; the arithmetic modules index only what they built themselves.

// The floor.
mod database;
mod encoding;
mod error;
pub mod fuzzy;
mod hash;
mod hash_to_group;
mod hashlist;
mod kdf;
mod keys;
mod params;
mod primitives;
mod window;
mod wire;

// The wings.
pub mod device;
pub mod media;
pub mod server;

// Homes for what researchers and, under `hazmat`, tests need.
#[cfg(feature = "hazmat")]
pub mod hazmat;
pub mod research;

// The public interface of the floor.
pub use database::FUZZY_FORMAT_VERSION;
pub use database::{AuditReport, Database, FORMAT_VERSION, Inspected, Manifest, Source};
pub use error::{AuditProblem, Error, Field, HashProblem, Object, Param, Result};
pub use hash::{HashKind, MediaHash};
pub use hashlist::{MAX_LINE as MAX_HASH_LIST_LINE, parse as parse_hash_list};
pub use keys::{CLIENT_KEY_LEN, ClientKey, PUBLIC_KEY_LEN, ServerPublicKey};
pub use params::{MAX_SMAX, MAX_THRESHOLD, MIN_THRESHOLD, Params, RATE_SCALE};
pub use window::{CLOCK_SLACK_SECS, MAX_WINDOWS, MIN_WINDOW_SECS, Schedule};
pub use wire::bundle::{
    BUNDLE_VERSION, LAYER_LEN as BUNDLE_LAYER_LEN, bundle_len, is_bundle, peek_bundle,
};
pub use wire::voucher::{
    AD_BUCKETS, HEADER_LEN as VOUCHER_HEADER_LEN, MAX_ACCOUNT_LEN, MAX_AD_LEN, MAX_ID_LEN,
    VERSION as VOUCHER_VERSION, VoucherHeader, voucher_len,
};
