//! Per-account accumulation and threshold reveal: DHF detection, Lagrange interpolation of k0,
//! and decryption of the real matches' associated data.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::record::OpenedVoucher;
use crate::error::{Error, Field, Result};
use crate::kdf;
use crate::params::Params;
use crate::primitives::aead;
use crate::primitives::decode;
use crate::primitives::dhf::Fp;
use crate::primitives::eliminate::Eliminator;
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

/// Largest number of synthetic records the decoder looks for beyond s_max in one evaluation
/// (bounds its cost, O(e³) for e up to twice this; see [`Account::evaluate`]).
pub const DEFAULT_DECODE_LIMIT: usize = 1024;

/// An in-memory account for one counting window: the opened vouchers of one account in one
/// window under one database's parameters, with the incremental elimination state over its
/// distinct records.
pub struct Account {
    params: Params,
    window: u64,
    records: Vec<OpenedVoucher>,
    seen_q: HashSet<[u8; 32]>,
    /// Index into `records` of the first record of each distinct x0, in arrival order.
    distinct: Vec<usize>,
    seen_x0: HashSet<u64>,
    eliminator: Eliminator,
    decode_limit: usize,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("window", &self.window)
            .field("opened", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl Account {
    /// An empty account for a database's parameters and one counting window.
    pub fn new(params: Params, window: u64) -> Account {
        Account {
            params,
            window,
            records: Vec::new(),
            seen_q: HashSet::new(),
            distinct: Vec::new(),
            seen_x0: HashSet::new(),
            eliminator: Eliminator::new(params.dhf_coefficients(), params.s_max() as usize),
            decode_limit: DEFAULT_DECODE_LIMIT,
        }
    }

    /// An account holding `records` in order (as from a store).
    ///
    /// # Errors
    /// As [`Account::insert`].
    pub fn with_records(
        params: Params,
        window: u64,
        records: impl IntoIterator<Item = OpenedVoucher>,
    ) -> Result<Account> {
        let mut a = Account::new(params, window);
        for r in records {
            a.insert(r)?;
        }
        Ok(a)
    }

    /// Set how many synthetic records beyond s_max the decoder looks for (default
    /// [`DEFAULT_DECODE_LIMIT`]).
    pub fn set_decode_limit(&mut self, limit: usize) {
        self.decode_limit = limit;
    }

    /// Add an opened voucher; the same voucher (same Q) twice is a no-op and returns
    /// `Ok(false)`. A new distinct x0 costs one elimination step, O((T − 1 + s_max)²).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] ([`Field::DhfCount`]) when the record carries a different number
    /// of DHF values than this account's s_max (opened under another database);
    /// [`Error::WrongWindow`] for a record of another window.
    pub fn insert(&mut self, v: OpenedVoucher) -> Result<bool> {
        if v.dhf_len() != self.params.s_max() as usize {
            return Err(Error::OutOfRange {
                field: Field::DhfCount,
            });
        }
        if v.window() != self.window {
            return Err(Error::WrongWindow {
                record: v.window(),
                account: self.window,
            });
        }
        if !self.seen_q.insert(*v.q()) {
            return Ok(false);
        }
        if self.seen_x0.insert(v.x0()) {
            self.eliminator.insert(v.x0_fp(), v.dhf());
            self.distinct.push(self.records.len());
        }
        self.records.push(v);
        Ok(true)
    }

    /// The parameters this account is evaluated under.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The account's window.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Opened vouchers held.
    pub fn opened(&self) -> usize {
        self.records.len()
    }

    /// Distinct records held (distinct x0: a re-sent item counts once).
    pub fn distinct(&self) -> usize {
        self.distinct.len()
    }

    /// The records, in arrival order.
    pub fn records(&self) -> &[OpenedVoucher] {
        &self.records
    }

    /// Evaluate the account: reveal if at least T distinct real matches are present and
    /// detectable. While the elimination basis is not full, detection is the kernel's
    /// support (exact with at most s_max synthetic records); once it is full, the decoder
    /// finds the real records when k ≥ T − 1 + ⌈z/s_max⌉ (z synthetic records, up to the
    /// decode limit) — more synthetic records delay a reveal, never break it, and never
    /// reveal below T. Servers call this at checkpoints; its cost once the basis is full is
    /// O(e³) for e up to twice the synthetic count.
    ///
    /// # Errors
    /// [`Error::RevealInconsistent`] when the records detected as real do not reconstruct a
    /// key that opens their associated data (records from a misbehaving device).
    pub fn evaluate(&self) -> Result<Outcome> {
        let t = self.params.threshold() as usize;
        let below = Ok(Outcome::BelowThreshold {
            opened: self.records.len(),
        });
        if self.distinct.len() < t {
            return below;
        }
        let mut real_idx = self.eliminator.real_columns();
        if self.eliminator.saturated() && !self.consistent(&real_idx) {
            // More synthetic records than s_max: the kernel's support is no longer the real
            // set. Decode instead.
            real_idx = self.decode().unwrap_or_default();
        }
        if real_idx.len() < t {
            return below;
        }
        let real: Vec<&OpenedVoucher> = real_idx
            .iter()
            .filter_map(|&i| self.distinct.get(i).and_then(|&r| self.records.get(r)))
            .collect();
        reveal(&self.params, &real, &self.records)
    }

    /// Whether the distinct records at `idx` are at least T and all agree with one set of
    /// DHF polynomials (what a real set does).
    fn consistent(&self, idx: &[usize]) -> bool {
        let (x0, rows) = self.columns();
        idx.len() >= self.params.threshold() as usize
            && decode::consistent(
                &x0,
                &rows,
                idx,
                self.params.dhf_coefficients(),
                self.params.s_max() as usize,
            )
    }

    fn columns(&self) -> (Vec<Fp>, Vec<&[Fp]>) {
        let firsts: Vec<&OpenedVoucher> = self
            .distinct
            .iter()
            .filter_map(|&r| self.records.get(r))
            .collect();
        (
            firsts.iter().map(|r| r.x0_fp()).collect(),
            firsts.iter().map(|r| r.dhf()).collect(),
        )
    }

    fn decode(&self) -> Option<Vec<usize>> {
        let (x0, rows) = self.columns();
        decode::decode(
            &x0,
            &rows,
            self.params.dhf_coefficients(),
            self.params.s_max() as usize,
            self.decode_limit,
        )
    }
}

/// Interpolate k0 from the first T real records, derive adkey and open the associated data of
/// every record whose x0 is real (re-sends included).
fn reveal(params: &Params, real: &[&OpenedVoucher], records: &[OpenedVoucher]) -> Result<Outcome> {
    let points: Vec<_> = real
        .iter()
        .take(params.threshold() as usize)
        .map(|r| (kdf::share_abscissa(r.x0_fp()), *r.share()))
        .collect();
    let k0 = shamir::interpolate_at_zero(&points).ok_or(Error::RevealInconsistent)?;
    let adkey = kdf::adkey(&k0);
    let real_x0: HashSet<u64> = real.iter().map(|r| r.x0()).collect();
    let mut revealed = Vec::new();
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
        revealed.push(RevealedMatch {
            id: r.id().to_vec(),
            ad,
        });
    }
    Ok(Outcome::Revealed {
        real: revealed,
        synthetic,
    })
}
