//! Per-account accumulation and threshold reveal: DHF detection, grouping by client key,
//! error-correcting interpolation of k0, and decryption of the real matches' associated data.
//!
//! The costs are bounded: an account holds at most [`Account::capacity`] opened vouchers
//! (then it is *over capacity*, a state, and further vouchers cost one lookup each); the
//! expensive paths of an evaluation (splitting by client key, decoding beyond s_max) run only
//! at checkpoints spaced geometrically in the number of distinct records, and decoding stops for
//! good once more synthetic records are present than the decode limit.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::record::OpenedVoucher;
use crate::error::{Error, Field, Result};
use crate::kdf;
use crate::params::Params;
use crate::primitives::aead;
use crate::primitives::decode::{self, Decoded};
use crate::primitives::dhf::Fp;
use crate::primitives::eliminate::Eliminator;
use crate::primitives::shamir;
use crate::wire::voucher::unpad_ad;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use zeroize::Zeroizing;

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
        /// Opened vouchers held (real or synthetic, indistinguishable).
        opened: usize,
    },
    /// The account reached its capacity before any reveal: vouchers beyond it are counted and
    /// dropped. An honest device does not get here (see [`DEFAULT_CAPACITY`]); a device that
    /// sends vouchers which always open does.
    OverCapacity {
        /// Opened vouchers held.
        opened: usize,
        /// Opened vouchers dropped since the account reached its capacity.
        dropped: u64,
    },
    /// At least T distinct real matches of one client key.
    Revealed {
        /// Every real match's id and associated data, in arrival order.
        real: Vec<RevealedMatch>,
        /// The ids of every other opened voucher (synthetic, or of a client key with fewer
        /// than T real matches), in arrival order.
        synthetic: Vec<Vec<u8>>,
        /// The ids of records that claim a revealed item's x0 but whose associated data does not
        /// open under its key (crafted or corrupted records), in arrival order. They are
        /// skipped; they never block the reveal.
        rejected: Vec<Vec<u8>>,
    },
}

/// What [`Account::insert`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Held (a new voucher).
    New,
    /// The same voucher (same Q) was already held: nothing changed.
    Duplicate,
    /// The account is at capacity: the record was counted and dropped.
    Dropped,
}

/// Largest number of synthetic records the decoder looks for beyond s_max (bounds one
/// decoding's cost, O(e³) for e up to this limit).
pub const DEFAULT_DECODE_LIMIT: usize = 1024;

/// Opened vouchers an account holds per (account id, window) before it is over capacity.
/// An honest device opens a voucher for each listed item and for a share r ≤ r_hi of the rest;
/// at the device policy's ceiling r_hi = 10 % an account reaches 4096 only with about 40,000
/// distinct items sent in one window, and at the default range's r_hi = 1.5 % with about
/// 270,000.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Wrong shares the interpolation of k0 corrects among one client key's real records (with e
/// wrong ones, a reveal needs T + e right ones).
pub const MAX_SHARE_ERRORS: usize = 32;

/// Client keys one account's records are separated into (a reinstall that lost its key, a
/// second device with its own key): each reveals on its own once it has T real matches.
pub const MAX_CLIENT_KEYS: usize = 4;

/// The key a reveal found for one client key's records in one window (the adkey of
/// `docs/PROTOCOL.md` §6.2): kept so that once an account revealed, it stays revealed whatever
/// arrives later. Zeroized on drop; no `Debug` output of its bytes.
#[derive(Clone)]
pub struct RevealKey(Zeroizing<[u8; 32]>);

impl core::fmt::Debug for RevealKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RevealKey(..)")
    }
}

impl RevealKey {
    /// The key's bytes (for a server's own store; as secret as the revealed data).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> RevealKey {
        RevealKey(Zeroizing::new(*bytes))
    }

    /// The associated data of `r` if it opens under this key.
    fn open(&self, r: &OpenedVoucher) -> Option<Vec<u8>> {
        let k_ad = kdf::adct_key(&self.0, r.q());
        let padded = aead::open(&k_ad, kdf::ADCT, &kdf::adct_aad(r.id()), r.adct())?;
        unpad_ad(&padded)
    }
}

/// An in-memory account for one counting window: the opened vouchers of one account in one
/// window under one database's parameters, with the incremental elimination state over its
/// distinct records. Cloning is cheap (records are shared), so a server can evaluate a
/// snapshot without holding a lock and merge what it learned back with
/// [`Account::merge_evaluation`].
#[derive(Clone)]
pub struct Account {
    params: Params,
    window: u64,
    records: Vec<Arc<OpenedVoucher>>,
    seen_q: HashSet<[u8; 32]>,
    /// Distinct records ("columns": one per distinct (x0, DHF values)); per column the
    /// indices into `records` of the records that carry it, in arrival order.
    columns: Vec<Vec<usize>>,
    /// x0 → its columns (more than one only for conflicting records).
    by_x0: HashMap<u64, Vec<usize>>,
    eliminator: Eliminator,
    decode_limit: usize,
    capacity: usize,
    dropped: u64,
    /// Distinct records needed before the expensive paths run again.
    next_checkpoint: usize,
    beyond_limit: bool,
    keys: Vec<RevealKey>,
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
            columns: Vec::new(),
            by_x0: HashMap::new(),
            eliminator: Eliminator::new(params.dhf_coefficients(), params.s_max() as usize),
            decode_limit: DEFAULT_DECODE_LIMIT,
            capacity: DEFAULT_CAPACITY,
            dropped: 0,
            next_checkpoint: 0,
            beyond_limit: false,
            keys: Vec::new(),
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

    /// Set how many opened vouchers the account holds (default [`DEFAULT_CAPACITY`]). Set it
    /// before inserting.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
    }

    /// The capacity (opened vouchers held at most).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Restore a key an earlier reveal of this account found (as kept by a store): records
    /// that open under it are revealed whatever detection says.
    pub fn add_reveal_key(&mut self, key: RevealKey) {
        if !self.keys.iter().any(|k| k.0 == key.0) {
            self.keys.push(key);
        }
    }

    /// The keys reveals of this account found (empty below the threshold).
    pub fn reveal_keys(&self) -> &[RevealKey] {
        &self.keys
    }

    /// Add an opened voucher. The same voucher (same Q) twice is a no-op
    /// ([`Inserted::Duplicate`]). A record with new values costs one elimination step,
    /// O((T − 1 + s_max)²); a re-send (same x0 and DHF values) costs nothing more. At
    /// capacity the record is dropped ([`Inserted::Dropped`]) unless it opens under a key an
    /// earlier reveal found.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] ([`Field::DhfCount`]) when the record carries a different number
    /// of DHF values than this account's s_max (opened under another database);
    /// [`Error::WrongWindow`] for a record of another window.
    pub fn insert(&mut self, v: OpenedVoucher) -> Result<Inserted> {
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
        if self.seen_q.contains(v.q()) {
            return Ok(Inserted::Duplicate);
        }
        if self.records.len() >= self.capacity && !self.keys.iter().any(|k| k.open(&v).is_some()) {
            self.dropped += 1;
            return Ok(Inserted::Dropped);
        }
        self.seen_q.insert(*v.q());
        let at = self.records.len();
        let same = self.by_x0.get(&v.x0()).and_then(|cols| {
            cols.iter()
                .copied()
                .find(|&c| self.first_of(c).is_some_and(|first| first.dhf() == v.dhf()))
        });
        match same {
            Some(c) => {
                if let Some(col) = self.columns.get_mut(c) {
                    col.push(at);
                }
            }
            None => {
                let c = self.columns.len();
                self.eliminator.insert(v.x0_fp(), v.dhf());
                self.columns.push(vec![at]);
                self.by_x0.entry(v.x0()).or_default().push(c);
            }
        }
        self.records.push(Arc::new(v));
        Ok(Inserted::New)
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

    /// Distinct records held (one per distinct (x0, DHF values): a re-sent item counts once).
    pub fn distinct(&self) -> usize {
        self.columns.len()
    }

    /// Whether the account reached its capacity and dropped vouchers.
    pub fn over_capacity(&self) -> bool {
        self.dropped > 0
    }

    /// Opened vouchers dropped at capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The records, in arrival order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = &OpenedVoucher> {
        self.records.iter().map(|r| r.as_ref())
    }

    /// Keep what an evaluation of a clone of this account learned (reveal keys, checkpoints):
    /// for servers that evaluate a snapshot outside a lock.
    pub fn merge_evaluation(&mut self, evaluated: &Account) {
        for k in &evaluated.keys {
            self.add_reveal_key(k.clone());
        }
        self.next_checkpoint = self.next_checkpoint.max(evaluated.next_checkpoint);
        self.beyond_limit |= evaluated.beyond_limit;
    }

    /// Evaluate the account: reveal every client key's records that hold at least T
    /// distinct real matches. Detection is the elimination's kernel support while the basis is
    /// not full (exact with at most s_max synthetic records); once it is full, the decoder
    /// finds the real records when k ≥ T − 1 + ⌈z/s_max⌉ (z synthetic records, up to the
    /// decode limit). Records of different client keys are separated; k0 is interpolated with
    /// error correction and accepted only when the associated data of at least T distinct
    /// real records opens under it. Once revealed, an account stays revealed: later records
    /// cannot undo it. Never reveals below T.
    ///
    /// Cost: the fast path (one consistency check of the detected set) on every call; splitting
    /// and decoding only at checkpoints (each time the distinct records grew by an eighth, at
    /// least one), at most O(e³) for e up to the decode limit.
    pub fn evaluate(&mut self) -> Outcome {
        let t = self.params.threshold() as usize;
        if self.columns.len() >= t {
            for group in self.groups() {
                self.reveal_group(&group);
            }
        }
        if !self.keys.is_empty() {
            return self.revealed();
        }
        if self.dropped > 0 {
            return Outcome::OverCapacity {
                opened: self.records.len(),
                dropped: self.dropped,
            };
        }
        Outcome::BelowThreshold {
            opened: self.records.len(),
        }
    }

    fn first_of(&self, column: usize) -> Option<&OpenedVoucher> {
        let r = *self.columns.get(column)?.first()?;
        self.records.get(r).map(|r| r.as_ref())
    }

    /// Candidate groups of columns (distinct x0 within each), each consistent with one set
    /// of DHF polynomials: the real records of one client key.
    fn groups(&mut self) -> Vec<Vec<usize>> {
        let t = self.params.threshold() as usize;
        let detected = self.one_per_x0(self.eliminator.real_columns());
        if detected.len() >= t && self.consistent(&detected) {
            return vec![detected];
        }
        if self.columns.len() < self.next_checkpoint {
            return Vec::new();
        }
        self.next_checkpoint = self.columns.len() + (self.columns.len() / 8).max(1);
        if !self.eliminator.saturated() {
            return self.split(&detected);
        }
        self.decode_groups()
    }

    /// Keep the first column of each x0, in order.
    fn one_per_x0(&self, cols: Vec<usize>) -> Vec<usize> {
        let mut seen = HashSet::new();
        cols.into_iter()
            .filter(|&c| self.first_of(c).is_some_and(|r| seen.insert(r.x0())))
            .collect()
    }

    /// Split a detected set into consistent groups: a fresh elimination over its columns
    /// alone, joining the columns of each dependency. Real records of different client keys
    /// lie in independent spaces, so each dependency stays within one key's records.
    #[allow(clippy::indexing_slicing)] // `parent` is indexed by positions in `detected`
    fn split(&self, detected: &[usize]) -> Vec<Vec<usize>> {
        let t = self.params.threshold() as usize;
        let mut eliminator =
            Eliminator::new(self.params.dhf_coefficients(), self.params.s_max() as usize);
        let mut parent: Vec<usize> = (0..detected.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for &c in detected {
            let r = self.first_of(c).expect("detected columns exist");
            if let Some(support) = eliminator.insert(r.x0_fp(), r.dhf())
                && let Some((&first, rest)) = support.split_first()
            {
                for &other in rest {
                    let (a, b) = (root(&mut parent, first), root(&mut parent, other));
                    parent[a] = b;
                }
            }
        }
        let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
        for (pos, &c) in detected.iter().enumerate() {
            by_root.entry(root(&mut parent, pos)).or_default().push(c);
        }
        let mut groups: Vec<Vec<usize>> = by_root
            .into_values()
            .filter(|g| g.len() >= t && self.consistent(g))
            .collect();
        groups.sort();
        groups.truncate(MAX_CLIENT_KEYS);
        groups
    }

    /// Decode beyond s_max over the first column of every x0, then again over what is left,
    /// for up to [`MAX_CLIENT_KEYS`] groups.
    fn decode_groups(&mut self) -> Vec<Vec<usize>> {
        if self.beyond_limit {
            return Vec::new();
        }
        let mut remaining: Vec<usize> = {
            let mut firsts: Vec<usize> = self
                .by_x0
                .values()
                .filter_map(|cols| cols.first().copied())
                .collect();
            firsts.sort_unstable();
            firsts
        };
        let mut groups = Vec::new();
        while groups.len() < MAX_CLIENT_KEYS {
            let (x0, rows) = self.columns_of(&remaining);
            match decode::decode(
                &x0,
                &rows,
                self.params.dhf_coefficients(),
                self.params.s_max() as usize,
                self.decode_limit,
            ) {
                Decoded::Found(idx) => {
                    let group: Vec<usize> = idx
                        .iter()
                        .filter_map(|&i| remaining.get(i).copied())
                        .collect();
                    remaining.retain(|c| !group.contains(c));
                    groups.push(group);
                }
                Decoded::BeyondLimit => {
                    self.beyond_limit |= groups.is_empty();
                    break;
                }
                Decoded::NotFound => break,
            }
        }
        groups
    }

    /// Whether the columns (distinct x0) number at least T and agree with one set of DHF
    /// polynomials (what one client key's real records do).
    fn consistent(&self, cols: &[usize]) -> bool {
        let (x0, rows) = self.columns_of(cols);
        let all: Vec<usize> = (0..cols.len()).collect();
        cols.len() >= self.params.threshold() as usize
            && decode::consistent(
                &x0,
                &rows,
                &all,
                self.params.dhf_coefficients(),
                self.params.s_max() as usize,
            )
    }

    fn columns_of(&self, cols: &[usize]) -> (Vec<Fp>, Vec<&[Fp]>) {
        let firsts: Vec<&OpenedVoucher> = cols.iter().filter_map(|&c| self.first_of(c)).collect();
        (
            firsts.iter().map(|r| r.x0_fp()).collect(),
            firsts.iter().map(|r| r.dhf()).collect(),
        )
    }

    /// Interpolate k0 for one group with error correction and keep its adkey if the
    /// associated data of at least T of the group's distinct x0 opens under it.
    fn reveal_group(&mut self, group: &[usize]) {
        let t = self.params.threshold() as usize;
        let already = |a: &Account| {
            group.iter().any(|&c| {
                a.records_of(c)
                    .any(|r| a.keys.iter().any(|k| k.open(r).is_some()))
            })
        };
        if already(self) {
            return;
        }
        // Every distinct share a column's records carry: a crafted copy with a wrong share
        // beside the genuine one is an erasure (the locator vanishes there), costing one
        // right share instead of two.
        let mut points: Vec<(curve25519_dalek::Scalar, curve25519_dalek::Scalar)> = Vec::new();
        for &c in group {
            let mut shares: Vec<curve25519_dalek::Scalar> = Vec::new();
            for r in self.records_of(c) {
                if !shares.contains(r.share()) {
                    shares.push(*r.share());
                    points.push((kdf::share_abscissa(r.x0_fp()), *r.share()));
                }
            }
        }
        let opens_t = |k0: &curve25519_dalek::Scalar| {
            let key = RevealKey(kdf::adkey(k0));
            let opened = group
                .iter()
                .filter(|&&c| self.records_of(c).any(|r| key.open(r).is_some()))
                .count();
            opened >= t
        };
        if let Some(k0) = shamir::decode_secret(&points, t, MAX_SHARE_ERRORS, opens_t) {
            self.add_reveal_key(RevealKey(kdf::adkey(&k0)));
        }
    }

    fn records_of(&self, column: usize) -> impl Iterator<Item = &OpenedVoucher> {
        self.columns
            .get(column)
            .into_iter()
            .flatten()
            .filter_map(|&r| self.records.get(r).map(|r| r.as_ref()))
    }

    /// Every record, in arrival order: revealed if its associated data opens under a reveal
    /// key; rejected if it shares its x0 with a revealed record but does not open; synthetic
    /// otherwise.
    fn revealed(&self) -> Outcome {
        let mut real = Vec::new();
        let mut real_x0 = HashSet::new();
        let mut rest = Vec::new();
        for r in &self.records {
            match self.keys.iter().find_map(|k| k.open(r)) {
                Some(ad) => {
                    real_x0.insert(r.x0());
                    real.push(RevealedMatch {
                        id: r.id().to_vec(),
                        ad,
                    });
                }
                None => rest.push(r),
            }
        }
        let (rejected, synthetic): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|r| real_x0.contains(&r.x0()));
        Outcome::Revealed {
            real,
            synthetic: synthetic.iter().map(|r| r.id().to_vec()).collect(),
            rejected: rejected.iter().map(|r| r.id().to_vec()).collect(),
        }
    }
}
