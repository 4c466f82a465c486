//! Protocol parameters carried in the signed manifest: the threshold T, the detectable-hash
//! capacity s_max, and the synthetic-voucher rate. A `Params` value is valid by construction.

use crate::error::{Error, Param, Result};

/// Smallest threshold (a threshold of 1 would reveal on the first match; synthetic vouchers
/// would then be meaningless).
pub const MIN_THRESHOLD: u32 = 2;
/// Largest threshold.
pub const MAX_THRESHOLD: u32 = 256;
/// Largest s_max (each voucher carries 8·(s_max+1) bytes of detectable hash).
pub const MAX_SMAX: u32 = 1024;
/// The synthetic rate is stored in parts per million.
pub const RATE_SCALE: u32 = 1_000_000;

/// Validated protocol parameters: construct with [`Params::new`], [`Params::with_rate`] or
/// [`Params::with_rate_range`].
///
/// The synthetic rate is a range `[lo, hi]` (parts per million): each account draws its own
/// secret rate in it for each counting window (`docs/PROTOCOL.md` §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Params {
    threshold: u32,
    s_max: u32,
    rate_lo_ppm: u32,
    rate_hi_ppm: u32,
}

impl Params {
    /// Check and build parameters with a synthetic-rate range `[rate_lo_ppm, rate_hi_ppm]`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming [`Param::Threshold`] (T outside 2..=256),
    /// [`Param::SMax`] (above 1024, or 0 with a positive rate) or [`Param::SyntheticRate`]
    /// (a bound ≥ 1 000 000 ppm, or lo > hi).
    pub fn new(threshold: u32, s_max: u32, rate_lo_ppm: u32, rate_hi_ppm: u32) -> Result<Self> {
        let bad = |param| Err(Error::InvalidParameter { param });
        if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&threshold) {
            return bad(Param::Threshold);
        }
        if rate_hi_ppm >= RATE_SCALE || rate_lo_ppm > rate_hi_ppm {
            return bad(Param::SyntheticRate);
        }
        if s_max > MAX_SMAX || (rate_hi_ppm > 0 && s_max == 0) {
            return bad(Param::SMax);
        }
        Ok(Params {
            threshold,
            s_max,
            rate_lo_ppm,
            rate_hi_ppm,
        })
    }

    /// Parameters with one fixed synthetic rate, a probability in [0, 1).
    ///
    /// # Errors
    /// As [`Params::new`]; a rate outside [0, 1) (or NaN) is [`Param::SyntheticRate`].
    pub fn with_rate(threshold: u32, s_max: u32, rate: f64) -> Result<Self> {
        Params::with_rate_range(threshold, s_max, rate, rate)
    }

    /// Parameters with a synthetic-rate range `[lo, hi]`, probabilities in [0, 1).
    ///
    /// # Errors
    /// As [`Params::new`]; a bound outside [0, 1) (or NaN) is [`Param::SyntheticRate`].
    pub fn with_rate_range(threshold: u32, s_max: u32, lo: f64, hi: f64) -> Result<Self> {
        let ppm = |r: f64| {
            if (0.0..1.0).contains(&r) {
                Ok((r * RATE_SCALE as f64).round() as u32)
            } else {
                Err(Error::InvalidParameter {
                    param: Param::SyntheticRate,
                })
            }
        };
        Params::new(threshold, s_max, ppm(lo)?, ppm(hi)?)
    }

    /// T: the number of distinct real matches an account needs in one window before anything
    /// is revealed.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// s_max: the synthetic records per account and window that detection by elimination
    /// tolerates (beyond it the server's decoder delays, never breaks, a reveal).
    pub fn s_max(&self) -> u32 {
        self.s_max
    }

    /// The synthetic-rate range `(lo, hi)` in parts per million.
    pub fn rate_range_ppm(&self) -> (u32, u32) {
        (self.rate_lo_ppm, self.rate_hi_ppm)
    }

    /// The synthetic-rate range as probabilities.
    pub fn rate_range(&self) -> (f64, f64) {
        let f = |v: u32| v as f64 / RATE_SCALE as f64;
        (f(self.rate_lo_ppm), f(self.rate_hi_ppm))
    }

    /// Number of coefficients of each DHF polynomial (degree ≤ T−2), see `docs/PROTOCOL.md`.
    pub(crate) fn dhf_coefficients(&self) -> usize {
        self.threshold as usize - 1
    }
}

impl Default for Params {
    /// T = 30, s_max = 250, synthetic rate drawn per account and window in [0.5 %, 1.5 %]
    /// (the reasoning and the measured table are in `docs/SECURITY.md`).
    fn default() -> Self {
        Params {
            threshold: 30,
            s_max: 250,
            rate_lo_ppm: 5_000,
            rate_hi_ppm: 15_000,
        }
    }
}
