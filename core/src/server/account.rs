//! Per-account accumulation and threshold reveal: DHF detection, grouping by client key,
//! error-correcting interpolation of k0, and decryption of the real matches' associated data.
//!
//! The costs are bounded: an account holds at most [`Account::capacity`] opened vouchers
//! (then it is *over capacity*, a state, and a further voucher costs one AEAD open per reveal
//! key, and nothing when there is none); the expensive paths of an evaluation (splitting by
//! client key, decoding beyond s_max) run only at checkpoints spaced geometrically in the
//! number of distinct records, and decoding stops for good once more synthetic records are
//! present than the decode limit (the account is then *undecodable*, a state).
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
    /// More synthetic records than the decode limit are present and nothing was revealed:
    /// detection cannot proceed in this window (it only gets worse as records arrive). An
    /// honest device gets here only with extreme volumes (see [`DEFAULT_DECODE_LIMIT`]); a
    /// device that floods its account with always-opening vouchers does. A state, shown to
    /// operators like [`Outcome::OverCapacity`].
    Undecodable {
        /// Opened vouchers held.
        opened: usize,
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
/// decoding's cost, O(e³) for e up to this limit). At the default rate range's r_hi = 1.5 %, an
/// honest account needs about 68,000 distinct items in one window to exceed it.
pub const DEFAULT_DECODE_LIMIT: usize = 1024;

/// Opened vouchers an account holds per (account id, window) before it is over capacity.
/// An honest device opens a voucher for each listed item and for a share r ≤ r_hi of the rest;
/// at the device policy's ceiling r_hi = 10 % an account reaches 4096 only with about 40,000
/// distinct items sent in one window, and at the default range's r_hi = 1.5 % with about
/// 270,000. Records that open under a reveal key are kept beyond it, up to twice it.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Wrong shares the interpolation of k0 corrects among one client key's real records (with e
/// wrong ones in columns of their own, a reveal needs T + e right ones). Only a device holding
/// the account's client key can make such records.
pub const MAX_SHARE_ERRORS: usize = 32;

/// Candidate groups an evaluation tries to reveal, at most (the others wait for the next
/// evaluation; groups already revealed or already tried unchanged are skipped, so every group
/// is eventually tried).
pub const MAX_GROUP_ATTEMPTS: usize = 8;

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

/// Where an account's evaluation stands, for servers that rebuild accounts from stored records
/// (so that the expensive paths keep their schedule across rebuilds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvaluationState {
    /// Distinct records needed before splitting or decoding run again.
    pub next_checkpoint: u64,
    /// More synthetic records than the decode limit were seen: decoding never runs again.
    pub beyond_limit: bool,
    /// Key searches made so far: each evaluation starts its attempts at this position (modulo
    /// the groups found), so that a store that rebuilds accounts still tries every group.
    pub group_cursor: u64,
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
    /// (x0, a hash of the DHF values) → the columns with them.
    by_values: HashMap<(u64, u64), Vec<usize>>,
    /// x0 → its first column.
    first_by_x0: HashMap<u64, usize>,
    eliminator: Eliminator,
    decode_limit: usize,
    capacity: usize,
    dropped: u64,
    state: EvaluationState,
    keys: Vec<RevealKey>,
    /// Per record: the index of the key its associated data opened under, if any.
    opened_by: Vec<Option<usize>>,
    /// Per record: how many of `keys` it has been tried against.
    tried: Vec<usize>,
    /// Groups whose key search failed, by (first column, columns, points): not tried again
    /// until they change.
    failed: HashSet<(usize, usize, usize)>,
    /// The groups the last checkpoint found (tried over the following evaluations).
    pending: Vec<Vec<usize>>,
}

impl core::fmt::Debug for Account {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Account")
            .field("window", &self.window)
            .field("opened", &self.records.len())
            .finish_non_exhaustive()
    }
}

/// A hash of DHF values (for the column index; equality is checked on the values).
fn values_hash(v: &[Fp]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for x in v {
        x.value().hash(&mut h);
    }
    h.finish()
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
            by_values: HashMap::new(),
            first_by_x0: HashMap::new(),
            eliminator: Eliminator::new(params.dhf_coefficients(), params.s_max() as usize),
            decode_limit: DEFAULT_DECODE_LIMIT,
            capacity: DEFAULT_CAPACITY,
            dropped: 0,
            state: EvaluationState::default(),
            keys: Vec::new(),
            opened_by: Vec::new(),
            tried: Vec::new(),
            failed: HashSet::new(),
            pending: Vec::new(),
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

    /// The capacity (opened vouchers held at most, before records under a reveal key).
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

    /// Where the evaluation schedule stands (for a store that rebuilds accounts).
    pub fn evaluation_state(&self) -> EvaluationState {
        self.state
    }

    /// Restore the evaluation schedule a store kept (with the records and reveal keys).
    pub fn set_evaluation_state(&mut self, state: EvaluationState) {
        self.state = state;
    }

    /// Add an opened voucher. The same voucher (same Q) twice is a no-op
    /// ([`Inserted::Duplicate`]). A record with new values costs one elimination step,
    /// O((T − 1 + s_max)²); a re-send (same x0 and DHF values) costs nothing more. At
    /// capacity the record is dropped ([`Inserted::Dropped`]) unless it opens under a key an
    /// earlier reveal found (and the account holds less than twice its capacity).
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
        if self.records.len() >= self.capacity
            && (self.records.len() >= self.capacity.saturating_mul(2)
                || !self.keys.iter().any(|k| k.open(&v).is_some()))
        {
            self.dropped += 1;
            return Ok(Inserted::Dropped);
        }
        self.seen_q.insert(*v.q());
        let at = self.records.len();
        let key = (v.x0(), values_hash(v.dhf()));
        let same = self.by_values.get(&key).and_then(|cols| {
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
                self.by_values.entry(key).or_default().push(c);
                self.first_by_x0.entry(v.x0()).or_insert(c);
            }
        }
        self.records.push(Arc::new(v));
        self.opened_by.push(None);
        self.tried.push(0);
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

    /// Keep what an evaluation of a clone of this account learned (reveal keys, checkpoints,
    /// groups tried): for servers that evaluate a snapshot outside a lock.
    pub fn merge_evaluation(&mut self, evaluated: &Account) {
        for k in &evaluated.keys {
            self.add_reveal_key(k.clone());
        }
        self.state.next_checkpoint = self
            .state
            .next_checkpoint
            .max(evaluated.state.next_checkpoint);
        self.state.beyond_limit |= evaluated.state.beyond_limit;
        self.state.group_cursor = self.state.group_cursor.max(evaluated.state.group_cursor);
        self.failed.extend(evaluated.failed.iter().copied());
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
    /// least one), at most O(e³) for e up to the decode limit; at most
    /// [`MAX_GROUP_ATTEMPTS`] key searches per call, none repeated for an unchanged group; each
    /// record is tried once against each reveal key.
    pub fn evaluate(&mut self) -> Outcome {
        self.classify();
        let t = self.params.threshold() as usize;
        if self.columns.len() >= t {
            let groups = self.groups();
            let start = if groups.is_empty() {
                0
            } else {
                (self.state.group_cursor % groups.len() as u64) as usize
            };
            let mut attempts = 0;
            for group in groups.iter().cycle().skip(start).take(groups.len()) {
                if attempts == MAX_GROUP_ATTEMPTS {
                    break;
                }
                if self.group_revealed(group) || self.failed.contains(&self.memo(group)) {
                    continue;
                }
                attempts += 1;
                self.state.group_cursor += 1;
                if self.reveal_group(group) {
                    self.classify();
                }
            }
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending = pending
            .into_iter()
            .filter(|g| !self.group_revealed(g) && !self.failed.contains(&self.memo(g)))
            .collect();
        if !self.keys.is_empty() {
            return self.revealed();
        }
        let opened = self.records.len();
        if self.dropped > 0 {
            return Outcome::OverCapacity {
                opened,
                dropped: self.dropped,
            };
        }
        if self.state.beyond_limit {
            return Outcome::Undecodable { opened };
        }
        Outcome::BelowThreshold { opened }
    }

    /// Try every record against the reveal keys it has not been tried against yet.
    fn classify(&mut self) {
        let keys = self.keys.len();
        for ((r, by), tried) in self
            .records
            .iter()
            .zip(self.opened_by.iter_mut())
            .zip(self.tried.iter_mut())
        {
            if by.is_none() {
                *by = self
                    .keys
                    .iter()
                    .enumerate()
                    .skip(*tried)
                    .find_map(|(i, k)| k.open(r).map(|_| i));
            }
            *tried = keys;
        }
    }

    fn first_of(&self, column: usize) -> Option<&OpenedVoucher> {
        let r = *self.columns.get(column)?.first()?;
        self.records.get(r).map(|r| r.as_ref())
    }

    /// Whether a record of any column of the group opens under a held key.
    fn group_revealed(&self, group: &[usize]) -> bool {
        group.iter().any(|&c| {
            self.columns
                .get(c)
                .into_iter()
                .flatten()
                .any(|&r| self.opened_by.get(r).is_some_and(Option::is_some))
        })
    }

    /// Candidate groups of columns (distinct x0 within each), each consistent with one set
    /// of DHF polynomials: the real records of one client key. In order of first column.
    fn groups(&mut self) -> Vec<Vec<usize>> {
        let t = self.params.threshold() as usize;
        let detected = self.one_per_x0(self.eliminator.real_columns());
        if detected.len() >= t && self.consistent(&detected) {
            return vec![detected];
        }
        let n = self.columns.len() as u64;
        if n < self.state.next_checkpoint {
            // Between checkpoints: the groups the last one found that are still to be tried.
            return self.pending.clone();
        }
        self.state.next_checkpoint = n + (n / 8).max(1);
        self.pending = if self.eliminator.saturated() {
            self.decode_groups()
        } else {
            self.split(&detected)
        };
        self.pending.clone()
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
        groups
    }

    /// Decode beyond s_max over the first column of every x0, then again over what is left,
    /// for up to [`MAX_GROUP_ATTEMPTS`] groups.
    fn decode_groups(&mut self) -> Vec<Vec<usize>> {
        if self.state.beyond_limit {
            return Vec::new();
        }
        let mut remaining: Vec<usize> = self.first_by_x0.values().copied().collect();
        remaining.sort_unstable();
        let mut groups = self.chunk_groups(&mut remaining);
        while groups.len() < MAX_GROUP_ATTEMPTS {
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
                    self.state.beyond_limit |= groups.is_empty();
                    break;
                }
                Decoded::NotFound => break,
            }
        }
        groups
    }

    /// Groups that are dense somewhere in arrival order: a fresh elimination over each run of
    /// fewer than R = T − 1 + s_max columns (so that it never saturates and every dependency
    /// stays within one client key) finds a key with at least T columns in the run; each group
    /// found is extended to every remaining column that agrees with its polynomials and taken
    /// out of `remaining`. This finds made-up keys filed in bulk — whose records, as errors, lie
    /// in a low-rank space that collaborative decoding cannot see through — before decoding
    /// what is left, and finds a key dense enough without decoding at all.
    fn chunk_groups(&self, remaining: &mut Vec<usize>) -> Vec<Vec<usize>> {
        let t = self.params.threshold() as usize;
        let run = (self.params.dhf_coefficients() + self.params.s_max() as usize)
            .saturating_sub(1)
            .max(t);
        let order = remaining.clone();
        let mut taken: HashSet<usize> = HashSet::new();
        let mut groups = Vec::new();
        for chunk in order.chunks(run) {
            let part: Vec<usize> = chunk
                .iter()
                .copied()
                .filter(|c| !taken.contains(c))
                .collect();
            if part.len() < t {
                continue;
            }
            for g in self.split(&part) {
                if g.iter().any(|c| taken.contains(c)) {
                    continue;
                }
                let full = self.extend(&g, remaining, &taken);
                taken.extend(full.iter().copied());
                groups.push(full);
            }
        }
        remaining.retain(|c| !taken.contains(c));
        groups
    }

    /// `group` with every column of `candidates` (not taken) that agrees, in all s_max rows,
    /// with the polynomials through the group's first T − 1 columns; in column order.
    fn extend(&self, group: &[usize], candidates: &[usize], taken: &HashSet<usize>) -> Vec<usize> {
        let nodes = group
            .get(..self.params.dhf_coefficients())
            .unwrap_or(group)
            .to_vec();
        let mut out: Vec<usize> = group.to_vec();
        for &c in candidates {
            if taken.contains(&c) || group.contains(&c) {
                continue;
            }
            let mut trial = nodes.clone();
            trial.push(c);
            let (x0, rows) = self.columns_of(&trial);
            let all: Vec<usize> = (0..trial.len()).collect();
            if decode::consistent(
                &x0,
                &rows,
                &all,
                self.params.dhf_coefficients(),
                self.params.s_max() as usize,
            ) {
                out.push(c);
            }
        }
        out.sort_unstable();
        out
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
    /// associated data of at least T of the group's columns opens under it. Returns whether a
    /// key was found. A group tried before without success and unchanged since is not tried
    /// again.
    fn reveal_group(&mut self, group: &[usize]) -> bool {
        let t = self.params.threshold() as usize;
        // One point per column whose records all carry the same share. A column with two
        // different shares was tampered with (honest re-sends carry the same share): it gives
        // no point, so wrong shares there cost nothing beyond that column.
        let points = self.points(group);
        let memo = (
            group.first().copied().unwrap_or(0),
            group.len(),
            points.len(),
        );
        if self.failed.contains(&memo) {
            return false;
        }
        let mut tried: Vec<curve25519_dalek::Scalar> = Vec::new();
        let opens_t = |k0: &curve25519_dalek::Scalar| {
            if tried.contains(k0) {
                return false;
            }
            tried.push(*k0);
            let key = RevealKey(kdf::adkey(k0));
            let mut opened = 0;
            for (i, &c) in group.iter().enumerate() {
                if opened >= t || opened + (group.len() - i) < t {
                    break;
                }
                if self.records_of(c).any(|r| key.open(r).is_some()) {
                    opened += 1;
                }
            }
            opened >= t
        };
        let found = shamir::decode_secret(&points, t, MAX_SHARE_ERRORS, opens_t);
        for k in &mut tried {
            zeroize::Zeroize::zeroize(k);
        }
        match found {
            Some(mut k0) => {
                self.add_reveal_key(RevealKey(kdf::adkey(&k0)));
                zeroize::Zeroize::zeroize(&mut k0);
                true
            }
            None => {
                self.failed.insert(memo);
                false
            }
        }
    }

    /// The points a group gives: one per column whose records all carry the same share.
    fn points(&self, group: &[usize]) -> Vec<(curve25519_dalek::Scalar, curve25519_dalek::Scalar)> {
        let mut points = Vec::new();
        for &c in group {
            let mut shares = self.records_of(c).map(|r| r.share());
            if let Some(first) = shares.next()
                && shares.all(|s| s == first)
                && let Some(r) = self.first_of(c)
            {
                points.push((kdf::share_abscissa(r.x0_fp()), *first));
            }
        }
        points
    }

    /// What identifies a group's key search: (first column, columns, points).
    fn memo(&self, group: &[usize]) -> (usize, usize, usize) {
        (
            group.first().copied().unwrap_or(0),
            group.len(),
            self.points(group).len(),
        )
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
        for (r, by) in self.records.iter().zip(&self.opened_by) {
            match by.and_then(|k| self.keys.get(k)).and_then(|k| k.open(r)) {
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
