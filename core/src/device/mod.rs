//! The device wing: what an app embeds to make vouchers. It stands on the shared floor (wire
//! formats, key schedule labels, the database format) and never on the server wing.

mod bundle;
mod keys;
mod policy;
mod state;
mod voucher;

pub use policy::{DevicePolicy, MAX_BANDS, MAX_LAYERS, MIN_BAND_BITS};
pub use state::DeviceState;
pub use voucher::{Client, SyntheticChoice};
