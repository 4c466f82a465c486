//! What a device accepts from a signed database. A server could otherwise weaken the database
//! for one targeted user (T = 2, no synthetic vouchers, a tiny s_max, very short windows), or
//! give one user a database of its own (a signing-key pin alone does not prevent that: the
//! server holds the key). Apps use [`DevicePolicy::default`] with the root hash they obtained
//! independently of the server ([`DevicePolicy::pin_root`]: shipped in the app, or checked
//! against a transparency log); tests and demos use [`DevicePolicy::permissive_for_tests`] or
//! [`DevicePolicy::allow_unpinned_database`], whose names say what they are for.

use crate::database::Manifest;
use crate::error::{Error, Param, Result};
use subtle::ConstantTimeEq;

/// The default policy's narrowest band of a fuzzy database: with short bands unrelated
/// pictures match (at b = 16 a band of two unrelated pictures collides about once in 35 000
/// pairs on clip art, `docs/FUZZY.md`), so a server could widen what "near-duplicate" means
/// until ordinary pictures reveal.
pub const MIN_BAND_BITS: u8 = 28;
/// The default policy's largest number of bands and of probes in all: every band a forwarded
/// copy hits adds to the layers that open, which the server sees (`docs/SECURITY.md` §10), and
/// every probe is another chance for an unrelated picture to match.
pub const MAX_BANDS: u8 = 8;
/// See [`MAX_BANDS`].
pub const MAX_LAYERS: usize = 128;

/// Bounds a device checks a database's parameters against before making any voucher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevicePolicy {
    min_threshold: u32,
    min_s_max: u32,
    min_rate_ppm: u32,
    max_rate_ppm: u32,
    min_rate_width_ppm: u32,
    min_window_secs: u64,
    max_window_secs: u64,
    min_band_bits: u8,
    max_bands: u8,
    max_layers: usize,
    root: RootPin,
}

/// Which database roots a device accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RootPin {
    /// None yet: every database is refused until a root is pinned (or the pin is waived).
    Unset,
    /// Exactly this root.
    Pinned([u8; 32]),
    /// Any root (tests and demos; the name says so).
    Waived,
}

impl Default for DevicePolicy {
    /// T ≥ 10, s_max ≥ 16, the synthetic-rate range within [0.2 %, 10 %] and at least 0.5
    /// percentage points wide (a fixed or narrow rate is no secret), windows between one hour
    /// and 31 days, fuzzy layouts of bands of at least [`MIN_BAND_BITS`] bits, at most
    /// [`MAX_BANDS`] bands and at most [`MAX_LAYERS`] probes.
    fn default() -> Self {
        DevicePolicy {
            min_threshold: 10,
            min_s_max: 16,
            min_rate_ppm: 2_000,
            max_rate_ppm: 100_000,
            min_rate_width_ppm: 5_000,
            min_window_secs: 3600,
            max_window_secs: 31 * 86_400,
            min_band_bits: MIN_BAND_BITS,
            max_bands: MAX_BANDS,
            max_layers: MAX_LAYERS,
            root: RootPin::Unset,
        }
    }
}

impl DevicePolicy {
    /// Accepts every valid database: for tests, simulations and demos only, never for an app.
    pub fn permissive_for_tests() -> Self {
        DevicePolicy {
            min_threshold: 0,
            min_s_max: 0,
            min_rate_ppm: 0,
            max_rate_ppm: u32::MAX,
            min_rate_width_ppm: 0,
            min_window_secs: 0,
            max_window_secs: u64::MAX,
            min_band_bits: 0,
            max_bands: u8::MAX,
            max_layers: usize::MAX,
            root: RootPin::Waived,
        }
    }

    /// Accept only the database with this root hash (obtained independently of the server:
    /// shipped with the app, or checked against a transparency log).
    pub fn pin_root(mut self, root: [u8; 32]) -> Self {
        self.root = RootPin::Pinned(root);
        self
    }

    /// Accept a database whatever its root (any database the pinned server key signed):
    /// for tests and demos, never for an app — a server could then give one user a database
    /// of its own.
    pub fn allow_unpinned_database(mut self) -> Self {
        self.root = RootPin::Waived;
        self
    }

    /// Check a database's manifest and root hash.
    ///
    /// # Errors
    /// [`Error::PolicyRefused`] naming the parameter ([`Param::PolicyRoot`] for a root that
    /// is not the pinned one, or no pin at all; [`Param::PolicyThreshold`],
    /// [`Param::PolicySMax`], [`Param::PolicyRate`], [`Param::PolicyWindow`],
    /// [`Param::PolicyFuzzy`]).
    pub fn check(&self, m: &Manifest, root: &[u8; 32]) -> Result<()> {
        let refuse = |param| Err(Error::PolicyRefused { param });
        match &self.root {
            RootPin::Waived => {}
            RootPin::Pinned(pin) if bool::from(pin.ct_eq(root)) => {}
            RootPin::Pinned(_) | RootPin::Unset => return refuse(Param::PolicyRoot),
        }
        let (lo, hi) = m.params.rate_range_ppm();
        if m.params.threshold() < self.min_threshold {
            return refuse(Param::PolicyThreshold);
        }
        if m.params.s_max() < self.min_s_max {
            return refuse(Param::PolicySMax);
        }
        if lo < self.min_rate_ppm || hi > self.max_rate_ppm || hi - lo < self.min_rate_width_ppm {
            return refuse(Param::PolicyRate);
        }
        let len = m.schedule.length();
        if len < self.min_window_secs || len > self.max_window_secs {
            return refuse(Param::PolicyWindow);
        }
        if let Some(f) = &m.fuzzy
            && (f.band_bits() < self.min_band_bits
                || f.bands() > self.max_bands
                || f.layers() > self.max_layers)
        {
            return refuse(Param::PolicyFuzzy);
        }
        Ok(())
    }
}
