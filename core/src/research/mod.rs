//! What benchmarks, demos, simulations and researchers legitimately need beyond the two
//! roles' APIs, with names that say what they are for. Nothing here weakens the protocol: a
//! forced choice changes only the caller's own vouchers, and hashing a public media hash to
//! the group is public computation.

use crate::device::Client;
use crate::error::Result;
use crate::hash::MediaHash;
use crate::server::OpenedVoucher;
use curve25519_dalek::RistrettoPoint;
use rand::CryptoRng;

pub use crate::device::SyntheticChoice;
pub use simulate::{SampledAdvantage, SimulationOptions, SimulationRow, count_advantage, simulate};

mod simulate;
/// The hash-to-group DST blindmatch uses in production (the builder's default).
pub const DEFAULT_DST: &[u8] = crate::kdf::DEFAULT_DST;

/// Make a voucher in window `window` with a forced real/synthetic choice and a caller's RNG —
/// for simulations and benchmarks that must know which vouchers are synthetic. A forced
/// synthetic voucher carries the item's own synthetic values. Apps use [`Client::voucher`],
/// which decides per item with the account's secret rate.
///
/// # Errors
/// As [`Client::voucher`].
pub fn voucher_with_choice<R: CryptoRng + ?Sized>(
    client: &Client,
    x: &MediaHash,
    id: &[u8],
    ad: &[u8],
    window: u64,
    choice: SyntheticChoice,
    rng: &mut R,
) -> Result<Vec<u8>> {
    client.make(x, id, ad, window, choice, rng)
}

/// Make a probe bundle (fuzzy databases) in window `window` with a forced real/synthetic
/// choice and a caller's RNG, as [`voucher_with_choice`] does for vouchers. Apps use
/// [`Client::bundle`].
///
/// # Errors
/// As [`Client::bundle`].
pub fn bundle_with_choice<R: CryptoRng + ?Sized>(
    client: &Client,
    item: &crate::media::pdq::HashMargins,
    id: &[u8],
    ad: &[u8],
    window: u64,
    choice: SyntheticChoice,
    rng: &mut R,
) -> Result<Vec<u8>> {
    client.make_bundle(item, id, ad, window, choice, rng)
}

/// H(x): RFC 9380 hash of a typed media hash to ristretto255 under `dst` — the hash-to-group
/// floor that `blindmatch bench` measures every operation against.
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for an empty DST.
pub fn hash_to_group(x: &MediaHash, dst: &[u8]) -> Result<RistrettoPoint> {
    crate::hash_to_group::hash_media(x, dst)
}

/// The table digest of `docs/PROTOCOL.md` §5.3 over raw table bytes — what a fast load
/// recomputes, measured by `blindmatch bench`.
pub fn table_digest(table: &[u8]) -> [u8; 32] {
    crate::database::table_digest(table)
}

/// The record a server would store for one send of `x` by `client` in `window` — or `None`
/// when its voucher would not open (a real voucher for an unlisted item). Built from the
/// device's own key schedule (x0, share and DHF values, real or synthetic by the item and the
/// account's secret rate), without the group operations, so simulations of millions of items
/// run at the record level. `listed` says whether the server's list holds `x`; Q is drawn at
/// random (it only keys the associated data and deduplicates sends).
///
/// # Errors
/// As [`Client::voucher`] for the associated data's size.
pub fn simulated_record<R: CryptoRng + ?Sized>(
    client: &Client,
    x: &MediaHash,
    listed: bool,
    id: &[u8],
    ad: &[u8],
    window: u64,
    rng: &mut R,
) -> Result<Option<SimulatedRecord>> {
    let Some(s) = client.simulated_inner(x, listed, id, ad, window, rng)? else {
        return Ok(None);
    };
    let dhf: Vec<u64> = s.inner.dhf.iter().map(|v| v.value()).collect();
    Ok(Some(SimulatedRecord {
        real: s.real,
        record: OpenedVoucher::from_parts(
            window,
            id,
            s.q,
            s.inner.x0.value(),
            s.inner.share.to_bytes(),
            &dhf,
            &s.inner.adct,
        )?,
    }))
}

/// A simulated opened record, and whether it is real (what only the simulation knows).
#[derive(Clone, Debug)]
pub struct SimulatedRecord {
    /// Whether the record is a real match (`false`: synthetic).
    pub real: bool,
    /// The record as the server would store it.
    pub record: OpenedVoucher,
}

/// The account's secret synthetic rate in `window` (ppm): what a simulation needs to report
/// the count leak; a server never learns it below the threshold.
pub fn account_rate_ppm(client: &Client, window: u64) -> u32 {
    client.rate_ppm(window)
}

/// Whether `client` makes `x` synthetic in `window` — what only the device knows; demos and
/// simulations use it to check the server's result.
pub fn is_synthetic(client: &Client, x: &MediaHash, window: u64) -> bool {
    client.is_synthetic(x, window)
}

/// Whether `client` makes a picture's probe bundle synthetic in `window` (by its identity,
/// `docs/PROTOCOL.md` §13.4), and its identity (the band key the bundle's x0 comes from) —
/// what only the device knows; demos and evaluations use them to check the server's result
/// and to measure how often near-duplicates share an identity. `None` on an exact database.
pub fn bundle_identity(
    client: &Client,
    item: &crate::media::pdq::HashMargins,
    window: u64,
) -> Option<(bool, [u8; 11])> {
    client.bundle_identity(item, window)
}
