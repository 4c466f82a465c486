//! The server wing: build and sign the blinded database, open vouchers, keep accounts and
//! reveal at the threshold. It stands on the shared floor and never on the device wing.

mod account;
mod builder;
mod key;
mod opening;
mod record;

pub use account::{
    Account, DEFAULT_CAPACITY, DEFAULT_DECODE_LIMIT, EvaluationState, Inserted, MAX_GROUP_ATTEMPTS,
    MAX_SHARE_ERRORS, Outcome, RevealKey, RevealedMatch,
};
#[cfg(feature = "hazmat")]
pub use builder::assemble;
#[cfg(not(feature = "hazmat"))]
pub(crate) use builder::assemble;
pub use builder::{
    BuildOptions, DEFAULT_EXPANSION, DEFAULT_SCHEDULE, DatabaseBuilder, MAX_EXPANSION,
    MIN_EXPANSION, Progress, SourceList,
};
pub use key::{SECRET_KEY_LEN, ServerSecretKey};
#[cfg(feature = "hazmat")]
pub use opening::reseal_voucher;
pub use opening::{OpenOutcome, Opener};
pub use record::OpenedVoucher;
