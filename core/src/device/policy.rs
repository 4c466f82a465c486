//! What a device accepts from a signed database. A server could otherwise weaken the database
//! for one targeted user (T = 2, no synthetic vouchers, a tiny s_max, very short windows).
//! Apps use [`DevicePolicy::default`]; tests and demos that need a small T use
//! [`DevicePolicy::permissive_for_tests`], whose name says what it is for.

use crate::database::Manifest;
use crate::error::{Error, Param, Result};

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
}

impl Default for DevicePolicy {
    /// T ≥ 10, s_max ≥ 16, the synthetic-rate range within [0.2 %, 10 %] and at least 0.5
    /// percentage points wide (a fixed or narrow rate is no secret), windows between one hour
    /// and 31 days.
    fn default() -> Self {
        DevicePolicy {
            min_threshold: 10,
            min_s_max: 16,
            min_rate_ppm: 2_000,
            max_rate_ppm: 100_000,
            min_rate_width_ppm: 5_000,
            min_window_secs: 3600,
            max_window_secs: 31 * 86_400,
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
        }
    }

    /// Check a manifest.
    ///
    /// # Errors
    /// [`Error::PolicyRefused`] naming the parameter ([`Param::PolicyThreshold`],
    /// [`Param::PolicySMax`], [`Param::PolicyRate`], [`Param::PolicyWindow`]).
    pub fn check(&self, m: &Manifest) -> Result<()> {
        let refuse = |param| Err(Error::PolicyRefused { param });
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
        Ok(())
    }
}
