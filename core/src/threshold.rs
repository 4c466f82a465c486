//! Per-account accumulation and threshold reveal: DHF detection, Lagrange interpolation of k0,
//! and decryption of the real matches' associated data.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::aead;
use crate::dhf::{self, Fp};
use crate::error::{Error, Result};
use crate::keys::{derive_adkey, share_abscissa};
use crate::opening::OpenedVoucher;
use crate::params::Params;
use crate::shamir;
use crate::voucher::{self, LABEL_ADCT};
use std::collections::{HashMap, HashSet};

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

/// An in-memory account: the opened vouchers of one account.
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

    /// Add an opened voucher; the same voucher twice is a no-op (returns false).
    pub fn insert(&mut self, v: OpenedVoucher) -> bool {
        if !self.seen_q.insert(v.q) {
            return false;
        }
        self.records.push(v);
        true
    }

    /// The parameters this account is evaluated under.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Opened vouchers held.
    pub fn opened(&self) -> usize {
        self.records.len()
    }

    /// The records.
    pub fn records(&self) -> &[OpenedVoucher] {
        &self.records
    }

    /// Evaluate the account: reveal if at least T distinct real matches are present.
    pub fn evaluate(&self) -> Result<Outcome> {
        evaluate(&self.params, &self.records)
    }
}

/// Evaluate a set of opened vouchers (see [`Account::evaluate`]).
pub fn evaluate(params: &Params, records: &[OpenedVoucher]) -> Result<Outcome> {
    let t = params.threshold as usize;
    let s = params.s_max as usize;
    let below = Ok(Outcome::BelowThreshold {
        opened: records.len(),
    });
    // One column per distinct x0 (a re-sent item counts once).
    let mut first: HashMap<u64, usize> = HashMap::new();
    let mut distinct: Vec<&OpenedVoucher> = Vec::new();
    for r in records {
        if r.dhf.len() != s {
            return Err(Error::OutOfRange {
                what: "opened voucher",
                reason: "DHF length differs from s_max",
            });
        }
        if let std::collections::hash_map::Entry::Vacant(e) = first.entry(r.x0) {
            e.insert(distinct.len());
            distinct.push(r);
        }
    }
    if distinct.len() < t {
        return below;
    }
    let x0: Vec<Fp> = distinct
        .iter()
        .map(|r| Fp::new(r.x0).unwrap_or(Fp::ZERO))
        .collect();
    let rows: Vec<Vec<Fp>> = distinct
        .iter()
        .map(|r| {
            r.dhf
                .iter()
                .map(|v| Fp::new(*v).unwrap_or(Fp::ZERO))
                .collect()
        })
        .collect();
    let row_refs: Vec<&[Fp]> = rows.iter().map(|r| r.as_slice()).collect();
    let real_idx = dhf::detect_real(&x0, &row_refs, params.dhf_coefficients(), s);
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
        .map(|r| {
            (
                share_abscissa(Fp::new(r.x0).unwrap_or(Fp::ZERO)),
                r.share_scalar(),
            )
        })
        .collect();
    let k0 = shamir::interpolate_at_zero(&points).ok_or(Error::RevealInconsistent)?;
    let adkey = derive_adkey(&k0);
    let real_x0: HashSet<u64> = real_records.iter().map(|r| r.x0).collect();
    let mut real = Vec::new();
    let mut synthetic = Vec::new();
    for r in records {
        if !real_x0.contains(&r.x0) {
            synthetic.push(r.id.clone());
            continue;
        }
        let k_ad = voucher::adct_key(&adkey, &r.q);
        let header = header_for(r);
        let padded =
            aead::open(&k_ad, LABEL_ADCT, &header, &r.adct).ok_or(Error::RevealInconsistent)?;
        let len = padded
            .first_chunk::<4>()
            .map(|b| u32::from_le_bytes(*b) as usize)
            .ok_or(Error::RevealInconsistent)?;
        let ad = padded
            .get(4..4usize.saturating_add(len))
            .ok_or(Error::RevealInconsistent)?
            .to_vec();
        real.push(RevealedMatch {
            id: r.id.clone(),
            ad,
        });
    }
    Ok(Outcome::Revealed { real, synthetic })
}

/// The header bytes a voucher's adct is bound to; rebuilt from the record. The epoch is not
/// stored per record, so the adct AAD covers only the id part of the header.
fn header_for(r: &OpenedVoucher) -> Vec<u8> {
    voucher::adct_aad(&r.id)
}
