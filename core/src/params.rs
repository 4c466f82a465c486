//! Protocol parameters carried in the signed manifest: the threshold T, the detectable-hash
//! capacity s_max, and the synthetic-voucher rate.

use crate::error::{Error, Result};

/// Smallest threshold (a threshold of 1 would reveal on the first match; synthetic vouchers
/// would then be meaningless).
pub const MIN_THRESHOLD: u32 = 2;
/// Largest threshold.
pub const MAX_THRESHOLD: u32 = 256;
/// Largest s_max (each voucher carries 8·(s_max+1) bytes of detectable hash).
pub const MAX_SMAX: u32 = 1024;
/// The synthetic rate is stored in parts per million.
pub const RATE_SCALE: u32 = 1_000_000;

/// Validated protocol parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// T: the number of distinct real matches an account needs before anything is revealed.
    pub threshold: u32,
    /// s_max: the most synthetic vouchers per account that threshold detection tolerates.
    pub s_max: u32,
    /// Probability that a device makes a voucher synthetic, in parts per million.
    pub synthetic_rate_ppm: u32,
}

impl Params {
    /// Check and build parameters.
    pub fn new(threshold: u32, s_max: u32, synthetic_rate_ppm: u32) -> Result<Self> {
        let p = Params {
            threshold,
            s_max,
            synthetic_rate_ppm,
        };
        p.validate()?;
        Ok(p)
    }

    /// Build from a rate given as a probability in [0, 1).
    pub fn with_rate(threshold: u32, s_max: u32, rate: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::InvalidParameter {
                name: "synthetic_rate",
                reason: "must be in [0, 1)".into(),
            });
        }
        Params::new(threshold, s_max, (rate * RATE_SCALE as f64).round() as u32)
    }

    /// The synthetic rate as a probability.
    pub fn synthetic_rate(&self) -> f64 {
        self.synthetic_rate_ppm as f64 / RATE_SCALE as f64
    }

    /// Number of coefficients of each DHF polynomial (degree ≤ T−2), see `docs/PROTOCOL.md`.
    pub fn dhf_coefficients(&self) -> usize {
        self.threshold as usize - 1
    }

    /// Check the ranges; used by every decoder that reads parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(Error::InvalidParameter {
                name,
                reason: reason.into(),
            })
        };
        if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&self.threshold) {
            return bad("threshold", "must be between 2 and 256");
        }
        if self.s_max > MAX_SMAX {
            return bad("s_max", "must be at most 1024");
        }
        if self.synthetic_rate_ppm >= RATE_SCALE {
            return bad("synthetic_rate", "must be below 1");
        }
        if self.synthetic_rate_ppm > 0 && self.s_max == 0 {
            return bad("s_max", "must be positive when the synthetic rate is");
        }
        Ok(())
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
