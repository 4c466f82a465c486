//! Per-account accumulation and threshold reveal: DHF detection, Lagrange interpolation of k0,
//! and decryption of the real matches' associated data.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::record::OpenedVoucher;
use crate::error::{Error, Field, Result};
use crate::kdf;
use crate::params::Params;
use crate::primitives::aead;
use crate::primitives::dhf::{self, Fp};
use crate::primitives::shamir;
use crate::wire::voucher::unpad_ad;
use std::collections::HashSet;

/// A revealed real match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevealedMatch {
    /// The app's id.
    pub id: Vec<u8>,
    /// The associated data.
    pub ad: Vec<u8>,
}

/// What the server learns about an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Fewer than T distinct real matches (or too few opened vouchers to tell): only counts.
    BelowThreshold {
        /// Opened vouchers (real or synthetic, indistinguishable).
        opened: usize,
    },
    /// At least T distinct real matches.
    Revealed {
        /// Every real match's id and associated data.
        real: Vec<RevealedMatch>,
        /// The ids of every other opened voucher (synthetic, or from another account's key).
        synthetic: Vec<Vec<u8>>,
    },
}

/// An in-memory account: the opened vouchers of one account under one database's parameters.
#[derive(Clone, Debug)]
pub struct Account {
    params: Params,
    records: Vec<OpenedVoucher>,
    seen_q: HashSet<[u8; 32]>,
}

impl Account {
    /// An empty account for a database's parameters.
    pub fn new(params: Params) -> Account {
        Account {
            params,
            records: Vec::new(),
            seen_q: HashSet::new(),
        }
    }

    /// An account holding `records` in order (as from a store).
    ///
    /// # Errors
    /// As [`Account::insert`].
    pub fn with_records(
        params: Params,
        records: impl IntoIterator<Item = OpenedVoucher>,
    ) -> Result<Account> {
        let mut a = Account::new(params);
        for r in records {
            a.insert(r)?;
        }
        Ok(a)
    }

    /// Add an opened voucher; the same voucher (same Q) twice is a no-op and returns
    /// `Ok(false)`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] ([`Field::DhfCount`]) when the record carries a different number
    /// of DHF values than this account's s_max (opened under another database).
    pub fn insert(&mut self, v: OpenedVoucher) -> Result<bool> {
        if v.dhf_len() != self.params.s_max() as usize {
            return Err(Error::OutOfRange {
                field: Field::DhfCount,
            });
        }
        if !self.seen_q.insert(*v.q()) {
            return Ok(false);
        }
        self.records.push(v);
        Ok(true)
    }

    /// The parameters this account is evaluated under.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Opened vouchers held.
    pub fn opened(&self) -> usize {
        self.records.len()
    }

    /// The records, in arrival order.
    pub fn records(&self) -> &[OpenedVoucher] {
        &self.records
    }

    /// Evaluate the account: reveal if at least T distinct real matches are present.
    ///
    /// # Errors
    /// [`Error::RevealInconsistent`] when the records detected as real do not reconstruct a
    /// key that opens their associated data (more synthetic records than s_max, or records
    /// from a misbehaving device).
    pub fn evaluate(&self) -> Result<Outcome> {
        evaluate(&self.params, &self.records)
    }
}

/// Evaluate a set of opened vouchers, every one with s_max DHF values (see
/// [`Account::evaluate`]).
fn evaluate(params: &Params, records: &[OpenedVoucher]) -> Result<Outcome> {
    let t = params.threshold() as usize;
    let below = Ok(Outcome::BelowThreshold {
        opened: records.len(),
    });
    // One column per distinct x0 (a re-sent item counts once); the first record wins.
    let mut seen: HashSet<u64> = HashSet::new();
    let distinct: Vec<&OpenedVoucher> = records.iter().filter(|r| seen.insert(r.x0())).collect();
    if distinct.len() < t {
        return below;
    }
    let x0: Vec<Fp> = distinct.iter().map(|r| r.x0_fp()).collect();
    let rows: Vec<&[Fp]> = distinct.iter().map(|r| r.dhf()).collect();
    let real_idx = dhf::detect_real(
        &x0,
        &rows,
        params.dhf_coefficients(),
        params.s_max() as usize,
    );
    if real_idx.len() < t {
        return below;
    }
    let real_records: Vec<&OpenedVoucher> = real_idx
        .iter()
        .filter_map(|&i| distinct.get(i).copied())
        .collect();
    let points: Vec<_> = real_records
        .iter()
        .take(t)
        .map(|r| (kdf::share_abscissa(r.x0_fp()), *r.share()))
        .collect();
    let k0 = shamir::interpolate_at_zero(&points).ok_or(Error::RevealInconsistent)?;
    let adkey = kdf::adkey(&k0);
    let real_x0: HashSet<u64> = real_records.iter().map(|r| r.x0()).collect();
    let mut real = Vec::new();
    let mut synthetic = Vec::new();
    for r in records {
        if !real_x0.contains(&r.x0()) {
            synthetic.push(r.id().to_vec());
            continue;
        }
        let k_ad = kdf::adct_key(&adkey, r.q());
        let padded = aead::open(&k_ad, kdf::ADCT, &kdf::adct_aad(r.id()), r.adct())
            .ok_or(Error::RevealInconsistent)?;
        let ad = unpad_ad(&padded).ok_or(Error::RevealInconsistent)?;
        real.push(RevealedMatch {
            id: r.id().to_vec(),
            ad,
        });
    }
    Ok(Outcome::Revealed { real, synthetic })
}
