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

/// Validated protocol parameters: construct with [`Params::new`] or [`Params::with_rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Params {
    threshold: u32,
    s_max: u32,
    synthetic_rate_ppm: u32,
}

impl Params {
    /// Check and build parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming [`Param::Threshold`] (T outside 2..=256),
    /// [`Param::SMax`] (above 1024, or 0 with a positive rate) or [`Param::SyntheticRate`]
    /// (rate ≥ 1 000 000 ppm).
    pub fn new(threshold: u32, s_max: u32, synthetic_rate_ppm: u32) -> Result<Self> {
        let bad = |param| Err(Error::InvalidParameter { param });
        if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&threshold) {
            return bad(Param::Threshold);
        }
        if synthetic_rate_ppm >= RATE_SCALE {
            return bad(Param::SyntheticRate);
        }
        if s_max > MAX_SMAX || (synthetic_rate_ppm > 0 && s_max == 0) {
            return bad(Param::SMax);
        }
        Ok(Params {
            threshold,
            s_max,
            synthetic_rate_ppm,
        })
    }

    /// Build from a rate given as a probability in [0, 1).
    ///
    /// # Errors
    /// As [`Params::new`]; a rate outside [0, 1) (or NaN) is [`Param::SyntheticRate`].
    pub fn with_rate(threshold: u32, s_max: u32, rate: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::InvalidParameter {
                param: Param::SyntheticRate,
            });
        }
        Params::new(threshold, s_max, (rate * RATE_SCALE as f64).round() as u32)
    }

    /// T: the number of distinct real matches an account needs before anything is revealed.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// s_max: the most synthetic vouchers per account that threshold detection tolerates.
    pub fn s_max(&self) -> u32 {
        self.s_max
    }

    /// Probability that a device makes a voucher synthetic, in parts per million.
    pub fn synthetic_rate_ppm(&self) -> u32 {
        self.synthetic_rate_ppm
    }

    /// The synthetic rate as a probability.
    pub fn synthetic_rate(&self) -> f64 {
        self.synthetic_rate_ppm as f64 / RATE_SCALE as f64
    }

    /// Number of coefficients of each DHF polynomial (degree ≤ T−2), see `docs/PROTOCOL.md`.
    pub(crate) fn dhf_coefficients(&self) -> usize {
        self.threshold as usize - 1
    }
}

impl Default for Params {
    /// T = 30, s_max = 60, synthetic rate 1 %.
    fn default() -> Self {
        Params {
            threshold: 30,
            s_max: 60,
            synthetic_rate_ppm: 10_000,
        }
    }
}
