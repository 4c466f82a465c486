//! The device side: a verified blinded database, the account's client key, and the voucher
//! maker that combines them.

use crate::error::{Result, bad_input, guard};
use crate::hashing::{HashKind, TypedHash, decode_rgb};
use blindmatch_core::device::{Client, DevicePolicy, DeviceState};
use blindmatch_core::media::pdq::{self, HashMargins};
use blindmatch_core::media::{self, PdqOutcome};
use blindmatch_core::{self as core, AD_BUCKETS, MAX_AD_LEN, MediaHash, ServerPublicKey, research};
use std::sync::Arc;

pub use blindmatch_core::VoucherHeader;
pub use blindmatch_core::device::SyntheticChoice;

/// The protocol parameters of a database: T, s_max and the synthetic-rate range. Valid by
/// construction (the constructor checks the ranges); immutable.
#[derive(PartialEq, Eq, uniffi::Object)]
#[uniffi::export(Debug, Eq, Hash)]
pub struct DatabaseParams {
    pub(crate) inner: core::Params,
}

impl From<core::Params> for DatabaseParams {
    fn from(inner: core::Params) -> Self {
        DatabaseParams { inner }
    }
}

impl std::fmt::Debug for DatabaseParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::hash::Hash for DatabaseParams {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let p = &self.inner;
        (p.threshold(), p.s_max(), p.rate_range_ppm()).hash(state);
    }
}

#[uniffi::export]
impl DatabaseParams {
    /// Check and make parameters: T between 2 and 256, s_max at most 1024 (and positive when
    /// the rate range is), and the synthetic-rate range `[rate_lo_ppm, rate_hi_ppm]` in parts
    /// per million (low end at most high end, both below 1 000 000): each account draws its own
    /// secret rate in it for each counting window. `BadInput` if not.
    #[uniffi::constructor]
    pub fn new(
        threshold: u32,
        s_max: u32,
        rate_lo_ppm: u32,
        rate_hi_ppm: u32,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let inner = core::Params::new(threshold, s_max, rate_lo_ppm, rate_hi_ppm)?;
            Ok(Arc::new(inner.into()))
        })
    }

    /// T: distinct real matches an account needs in one counting window before anything is
    /// revealed.
    pub fn threshold(&self) -> u32 {
        self.inner.threshold()
    }

    /// s_max: the synthetic records per account and window that detection by elimination
    /// tolerates (beyond it the server's decoder delays a reveal, never breaks it).
    pub fn s_max(&self) -> u32 {
        self.inner.s_max()
    }

    /// The low end of the synthetic-rate range, in parts per million.
    pub fn rate_lo_ppm(&self) -> u32 {
        self.inner.rate_range_ppm().0
    }

    /// The high end of the synthetic-rate range, in parts per million.
    pub fn rate_hi_ppm(&self) -> u32 {
        self.inner.rate_range_ppm().1
    }
}

/// A database's counting-window schedule (core's `Schedule`, as plain values): `count`
/// windows of `length_secs` seconds from `origin` (Unix seconds). Window `w` covers
/// `[origin + w·length_secs, origin + (w+1)·length_secs)`. Accounts are counted per window;
/// records of two windows never combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Record)]
pub struct WindowSchedule {
    /// When window 0 starts (Unix seconds).
    pub origin: u64,
    /// The length of one window (seconds).
    pub length_secs: u64,
    /// The number of windows.
    pub count: u32,
}

impl From<&core::Schedule> for WindowSchedule {
    fn from(s: &core::Schedule) -> Self {
        WindowSchedule {
            origin: s.origin(),
            length_secs: s.length(),
            count: s.count(),
        }
    }
}

/// The band layout of a fuzzy database (core's `FuzzyLayout`, as plain values): `bands` (L)
/// bands of `band_bits` (b) bits, `probes` (P) probes per band; every probe bundle has
/// L·P outer layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Record)]
pub struct FuzzyLayout {
    /// L, the number of bands (1–32).
    pub bands: u8,
    /// b, the bits per band (8–64).
    pub band_bits: u8,
    /// P, the probes per band (1–64; L·P at most 512).
    pub probes: u8,
}

impl From<&core::fuzzy::FuzzyLayout> for FuzzyLayout {
    fn from(l: &core::fuzzy::FuzzyLayout) -> Self {
        FuzzyLayout {
            bands: l.bands(),
            band_bits: l.band_bits(),
            probes: l.probes(),
        }
    }
}

/// What a verified database says about itself (all public, from the signed manifest).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DatabaseInfo {
    /// Database epoch; vouchers are bound to it.
    pub epoch: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Number of hashes encoded.
    pub entries: u64,
    /// Number of table cells.
    pub cells: u64,
    /// T, s_max and the synthetic-rate range.
    pub params: Arc<DatabaseParams>,
    /// The counting-window schedule.
    pub schedule: WindowSchedule,
    /// The hash kinds listed.
    pub kinds: Vec<HashKind>,
    /// Hashes were kept only if listed by at least this many sources.
    pub min_sources: u8,
    /// The root hash (32 bytes) that devices display and auditors compare out of band.
    pub root_hash: Vec<u8>,
    /// Lower-case hex of the root hash.
    pub root_hash_hex: String,
    /// Short fingerprint of the server key the database verified against.
    pub server_fingerprint: String,
    /// For a fuzzy database (near-duplicate matching of PDQ hashes): its band layout; `None`
    /// for an exact database.
    pub fuzzy: Option<FuzzyLayout>,
}

/// A loaded, verified blinded database: its signature checked against a pinned server key,
/// its table digest and (optionally) its root hash checked. Held in memory owned by this
/// object (never a map of a file), so it cannot change after verification. Immutable; share
/// it freely between threads.
#[derive(Debug, uniffi::Object)]
pub struct Database {
    pub(crate) inner: Arc<core::Database>,
}

impl Database {
    /// Fast-load `bytes` against the pinned key and optional root (shared by both
    /// constructors; core does the checks).
    fn verified(
        bytes: Vec<u8>,
        pinned_server_key: &[u8],
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        let key = ServerPublicKey::from_bytes(pinned_server_key)?;
        let root = expected_root_hash
            .map(|r| {
                <[u8; 32]>::try_from(r.as_slice())
                    .map_err(|_| bad_input("expected root hash must be 32 bytes"))
            })
            .transpose()?;
        let db = core::Database::open(bytes, &key, root.as_ref())?;
        Ok(Arc::new(Database {
            inner: Arc::new(db),
        }))
    }
}

#[uniffi::export]
impl Database {
    /// Verify a database held in memory against the pinned server public key (the server's
    /// exported public key bytes) and, if given, the expected 32-byte root hash. Call off the
    /// main thread: it hashes the whole table.
    #[uniffi::constructor(default(expected_root_hash = None))]
    pub fn from_bytes(
        bytes: Vec<u8>,
        pinned_server_key: Vec<u8>,
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| Database::verified(bytes, &pinned_server_key, expected_root_hash))
    }

    /// Read a database file into memory and verify it as `from_bytes` does (`Io` if it cannot
    /// be read). The file is read once, before verification: the loaded database is the
    /// verified bytes, and later changes to the file (rewritten, truncated, replaced) do not
    /// affect it; load the file again to pick them up. Call off the main thread.
    #[uniffi::constructor(default(expected_root_hash = None))]
    pub fn open_file(
        path: String,
        pinned_server_key: Vec<u8>,
        expected_root_hash: Option<Vec<u8>>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            // Owned memory, not a map of the file: what core verifies is what every voucher
            // then reads, whatever later happens to the file.
            let bytes = std::fs::read(&path)?;
            Database::verified(bytes, &pinned_server_key, expected_root_hash)
        })
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch()
    }

    /// The 32-byte root hash.
    pub fn root_hash(&self) -> Vec<u8> {
        self.inner.root_hash().to_vec()
    }

    /// T, s_max and the synthetic-rate range.
    pub fn params(&self) -> Arc<DatabaseParams> {
        Arc::new((*self.inner.params()).into())
    }

    /// The counting-window schedule.
    pub fn schedule(&self) -> WindowSchedule {
        self.inner.schedule().into()
    }

    /// The counting window of a time (Unix seconds). A time up to 600 s outside the schedule
    /// is placed in its first or last window (a device clock's slack); `OutsideSchedule` for
    /// any other time outside it.
    pub fn window_at(&self, now_unix: u64) -> Result<u64> {
        guard(|| Ok(self.inner.schedule().window_at(now_unix)?))
    }

    /// When window `window` starts (Unix seconds).
    pub fn window_start(&self, window: u64) -> u64 {
        self.inner.schedule().start(window)
    }

    /// Everything public about the database.
    pub fn info(&self) -> DatabaseInfo {
        let m = self.inner.manifest();
        DatabaseInfo {
            epoch: m.epoch,
            created_unix: m.created_unix,
            entries: m.entries,
            cells: m.cells,
            params: Arc::new(m.params.into()),
            schedule: (&m.schedule).into(),
            kinds: m.kinds.clone(),
            min_sources: m.min_sources,
            root_hash: self.inner.root_hash().to_vec(),
            root_hash_hex: hex::encode(self.inner.root_hash()),
            server_fingerprint: self.inner.server_key().fingerprint(),
            fuzzy: m.fuzzy.as_ref().map(FuzzyLayout::from),
        }
    }

    /// Whether this is a fuzzy database: pictures are matched as near-duplicates of listed
    /// PDQ hashes, and `VoucherMaker::create_voucher_for_image` sends a probe bundle for each.
    pub fn is_fuzzy(&self) -> bool {
        self.inner.manifest().fuzzy.is_some()
    }

    /// Full audit (for auditors, slow): every table cell a canonical non-identity point and
    /// all cells distinct. `VerificationFailed` if not. Call off the main thread.
    pub fn verify(&self) -> Result<()> {
        guard(|| {
            self.inner.verify()?;
            Ok(())
        })
    }

    /// The length of a voucher carrying `associated_data_len` bytes of associated data
    /// (vouchers are padded to a few size buckets). `BadInput` above 65532 bytes. On a fuzzy
    /// database a picture is sent as a probe bundle instead: see `bundle_len`.
    pub fn voucher_len(&self, associated_data_len: u32) -> Result<u32> {
        guard(|| {
            let len =
                core::voucher_len(self.inner.params().s_max(), ad_bucket(associated_data_len)?);
            u32::try_from(len).map_err(|_| bad_input("voucher length"))
        })
    }

    /// The length of a probe bundle (what `VoucherMaker::create_voucher_for_image` makes for a
    /// picture on a fuzzy database) carrying `associated_data_len` bytes of associated data:
    /// every bundle of one database has one of a few sizes, whatever the picture. `BadInput`
    /// above 65532 bytes or for an exact database.
    pub fn bundle_len(&self, associated_data_len: u32) -> Result<u32> {
        guard(|| {
            let layout = self
                .inner
                .manifest()
                .fuzzy
                .ok_or(core::Error::InvalidParameter {
                    param: core::Param::NotFuzzy,
                })?;
            let bucket = ad_bucket(associated_data_len)?;
            let len = core::bundle_len(self.inner.params().s_max(), layout.layers(), bucket);
            u32::try_from(len).map_err(|_| bad_input("bundle length"))
        })
    }
}

/// The associated-data bucket of `associated_data_len` bytes: core pads the associated data
/// and its length prefix to the smallest bucket that holds both; the prefix is what the
/// largest bucket holds beyond MAX_AD_LEN.
fn ad_bucket(associated_data_len: u32) -> Result<usize> {
    let prefix = AD_BUCKETS.last().map_or(0, |largest| largest - MAX_AD_LEN);
    let padded = associated_data_len as usize + prefix;
    Ok(AD_BUCKETS
        .into_iter()
        .find(|b| padded <= *b)
        .ok_or(core::Error::InvalidParameter {
            param: core::Param::AssociatedData,
        })?)
}

/// An account's client key: a 32-byte secret seed shared by the account's devices. Export it
/// only for backup and to the account's other devices, and store it in the platform keystore.
#[derive(Debug, uniffi::Object)]
pub struct ClientKey {
    pub(crate) inner: core::ClientKey,
}

#[uniffi::export]
impl ClientKey {
    /// A fresh key from the OS random number generator.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(ClientKey {
            inner: core::ClientKey::generate(),
        })
    }

    /// Import a key made by `export`: `BadInput` if truncated, oversized or
    /// not a client key, `UnsupportedVersion` for a newer format.
    #[uniffi::constructor]
    pub fn from_exported(bytes: Vec<u8>) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(ClientKey {
                inner: core::ClientKey::import(&bytes)?,
            }))
        })
    }

    /// The versioned encoding of the key (38 bytes). This is the account's secret: the
    /// returned bytes are the caller's to protect and wipe.
    pub fn export(&self) -> Vec<u8> {
        self.inner.export().to_vec()
    }
}

/// Whether a voucher is real or synthetic (core's `SyntheticChoice`).
#[uniffi::remote(Enum)]
#[uniffi(name = "VoucherChoice")]
pub enum SyntheticChoice {
    /// Decide per item with the account's secret rate for the window: what apps use.
    ByRate,
    /// Always real. Simulations and tests only: it removes the device's deniability.
    Real,
    /// Always synthetic (with the item's own synthetic values). Simulations and tests only.
    Synthetic,
}

/// The device side of the protocol for one account: a verified database, the account's client
/// key and the account id, checked once against a device policy. Immutable; share it between
/// threads.
///
/// Every voucher is made for the time the app passes (`now_unix`, Unix seconds: pass the
/// current time), which places it in one of the database's counting windows. An app that keeps
/// the device state (it should) makes its vouchers with `create_voucher_with_state` /
/// `create_vouchers_with_state` and stores the state blob they return.
#[derive(Debug, uniffi::Object)]
pub struct VoucherMaker {
    inner: Client,
    database: Arc<Database>,
}

impl VoucherMaker {
    /// One voucher per request at one time; the first error stops the batch.
    fn vouchers(&self, requests: &[VoucherRequest], now_unix: u64) -> Result<Vec<Vec<u8>>> {
        requests
            .iter()
            .map(|r| {
                let x = r.hash.to_core()?;
                Ok(self
                    .inner
                    .voucher(&x, &r.id, &r.associated_data, now_unix)?)
            })
            .collect()
    }

    fn with_policy(
        database: Arc<Database>,
        key: &ClientKey,
        account: &[u8],
        policy: &DevicePolicy,
    ) -> Result<Arc<Self>> {
        let inner = Client::new(database.inner.clone(), &key.inner, account, policy)?;
        Ok(Arc::new(VoucherMaker { inner, database }))
    }

    /// A picture's PDQ item for this database, from its file bytes: the hash and margins for a
    /// probe bundle on a fuzzy database, else the PDQ hash for a voucher; `None` below the
    /// quality gate. `KindNotListed` (before decoding) for an exact database without PDQ.
    fn picture(&self, image: &[u8], min_quality: Option<u32>) -> Result<Option<Picture>> {
        let fuzzy = self.inner.is_fuzzy();
        if !fuzzy
            && !self
                .inner
                .database()
                .manifest()
                .kinds
                .contains(&HashKind::Pdq)
        {
            return Err(core::Error::KindNotListed {
                kind: HashKind::Pdq,
            }
            .into());
        }
        let gate = min_quality.unwrap_or(media::DEFAULT_MIN_PDQ_QUALITY);
        let rgb = decode_rgb(image)?;
        let (w, h) = rgb.dimensions();
        if fuzzy {
            let out = pdq::pdq_hash_with_margins(rgb.as_raw(), w, h, pdq::PixelFormat::Rgb8)?;
            return Ok((out.quality >= gate).then(|| Picture::Bundle(Box::new(out.original))));
        }
        // The same hash as `pdq_hash_image` (and `pdq_hash` of the decoded pixels) gives.
        Ok(
            match media::pdq_media_hash(rgb.as_raw(), w, h, pdq::PixelFormat::Rgb8, gate)? {
                PdqOutcome::Hash { hash, .. } => Some(Picture::Voucher(hash)),
                PdqOutcome::LowQuality { .. } => None,
            },
        )
    }
}

/// What a picture is sent as (see `VoucherMaker::picture`).
enum Picture {
    /// A probe bundle (fuzzy database): the PDQ hash and its bits' margins.
    Bundle(Box<HashMargins>),
    /// An exact PDQ voucher.
    Voucher(MediaHash),
}

#[uniffi::export]
impl VoucherMaker {
    /// A voucher maker for `account` (the id the server files this account's vouchers under,
    /// at most 255 bytes; vouchers are bound to it and open only under it) on `database`,
    /// after checking the database against the device policy: core's `DevicePolicy::default`
    /// bounds, pinned to `pinned_root_hash`, the 32-byte root hash the app obtained
    /// independently of the server (shipped with the app, or checked against a transparency
    /// log). `PolicyRefused` for a database the policy refuses: another root (`parameter` =
    /// `Root`: possibly a database made for this user alone), or a weakened database (a low T,
    /// a tiny s_max, an extreme synthetic rate, too short or too long windows); `BadInput` for
    /// a root that is not 32 bytes or an account id over 255 bytes.
    #[uniffi::constructor]
    pub fn new(
        database: Arc<Database>,
        key: Arc<ClientKey>,
        account: Vec<u8>,
        pinned_root_hash: Vec<u8>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let root = <[u8; 32]>::try_from(pinned_root_hash.as_slice())
                .map_err(|_| bad_input("pinned root hash must be 32 bytes"))?;
            let policy = DevicePolicy::default().pin_root(root);
            VoucherMaker::with_policy(database, &key, &account, &policy)
        })
    }

    /// As the constructor with core's default bounds but no pinned root: any database the
    /// pinned server key signed is accepted if its parameters pass. **Tests and demos only,
    /// never an app**: without a pinned root a server can give one user a database of its
    /// own.
    #[uniffi::constructor]
    pub fn new_allow_unpinned_database(
        database: Arc<Database>,
        key: Arc<ClientKey>,
        account: Vec<u8>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            let policy = DevicePolicy::default().allow_unpinned_database();
            VoucherMaker::with_policy(database, &key, &account, &policy)
        })
    }

    /// As the constructor, with core's permissive test policy
    /// (`DevicePolicy::permissive_for_tests`), which accepts every valid database, whatever
    /// its root and parameters. **Tests, simulations and demos only, never an app**: it lets a
    /// server weaken the database for a targeted user, or give one user a database of its own.
    #[uniffi::constructor]
    pub fn new_with_insecure_test_policy(
        database: Arc<Database>,
        key: Arc<ClientKey>,
        account: Vec<u8>,
    ) -> Result<Arc<Self>> {
        guard(|| {
            VoucherMaker::with_policy(
                database,
                &key,
                &account,
                &DevicePolicy::permissive_for_tests(),
            )
        })
    }

    /// The database this maker writes vouchers for.
    pub fn database(&self) -> Arc<Database> {
        self.database.clone()
    }

    /// Whether the database is a fuzzy one: `create_voucher_for_image` then sends probe
    /// bundles, which match re-encoded and resized copies of listed pictures.
    pub fn is_fuzzy(&self) -> bool {
        self.inner.is_fuzzy()
    }

    /// The counting window a time (Unix seconds) falls in; `OutsideSchedule` for a time
    /// outside the database's schedule (beyond a 600 s slack).
    pub fn window_at(&self, now_unix: u64) -> Result<u64> {
        guard(|| Ok(self.inner.window_at(now_unix)?))
    }

    /// Check the device state alone: whether the window of `now_unix` may be used with this
    /// database; returns the new state blob. `state` is the blob the last state call returned,
    /// or `None` on a device that has made no vouchers yet for this account. The `…_with_state`
    /// calls do this check themselves; this one lets an app check before hashing media (make
    /// the vouchers with the same time, and store the blob before sending them).
    ///
    /// Errors: `StaleWindow` (a time before the newest window this device has already used: a
    /// rolled-back clock or a restored backup), `ManifestChanged` (another database was already
    /// used over this time: keep using that one until the next window), `OutsideSchedule`;
    /// `BadInput` / `UnsupportedVersion` for a blob that is not a device state.
    pub fn check_state(&self, state: Option<Vec<u8>>, now_unix: u64) -> Result<Vec<u8>> {
        guard(|| {
            let mut st = decode_state(state)?;
            self.inner.check_state(&mut st, now_unix)?;
            Ok(st.to_bytes())
        })
    }

    /// What an app that keeps the device state calls: check the state for `now_unix` (as
    /// `check_state`) and make the voucher (as `create_voucher`) at that one time. Returns the
    /// voucher and the new state blob: store the blob before sending the voucher. Errors as
    /// both calls; on an error there is no new state (keep the old blob).
    pub fn create_voucher_with_state(
        &self,
        hash: TypedHash,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        state: Option<Vec<u8>>,
        now_unix: u64,
    ) -> Result<VoucherWithState> {
        guard(|| {
            let mut st = decode_state(state)?;
            let voucher = self.inner.voucher_with_state(
                &mut st,
                &hash.to_core()?,
                &id,
                &associated_data,
                now_unix,
            )?;
            Ok(VoucherWithState {
                voucher,
                state: st.to_bytes(),
            })
        })
    }

    /// `create_voucher_with_state` for a batch at one time: the state is checked once, then
    /// every voucher is made as `create_vouchers` makes them. Fails as a whole on the first
    /// bad item (keep the old blob then).
    pub fn create_vouchers_with_state(
        &self,
        requests: Vec<VoucherRequest>,
        state: Option<Vec<u8>>,
        now_unix: u64,
    ) -> Result<VouchersWithState> {
        guard(|| {
            let mut st = decode_state(state)?;
            self.inner.check_state(&mut st, now_unix)?;
            Ok(VouchersWithState {
                vouchers: self.vouchers(&requests, now_unix)?,
                state: st.to_bytes(),
            })
        })
    }

    /// Make what to upload for a picture, from its image file's bytes (PNG or JPEG, decoded as
    /// `pdq_hash_image` decodes it), at time `now_unix`, with the app's id for it and
    /// associated data as `create_voucher`. On a fuzzy database it is a probe bundle, which
    /// opens for near-duplicates of a listed picture; on an exact database that lists `pdq`,
    /// a voucher of the picture's PDQ hash (as `create_voucher` makes from `pdq_hash`). Upload
    /// either the same way: `Opener.open_voucher` opens both. `None` when the picture's PDQ
    /// quality is below `min_quality` (by default `default_min_pdq_quality()`): it is not
    /// matched, send nothing. Errors as `create_voucher`; `KindNotListed` for an exact
    /// database without `pdq`; `BadInput` for bytes that do not decode. A few ms per picture
    /// (decoding, PDQ, and on a fuzzy database one blinding per probe): call off the main
    /// thread.
    #[uniffi::method(default(min_quality = None))]
    pub fn create_voucher_for_image(
        &self,
        image: Vec<u8>,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        now_unix: u64,
        min_quality: Option<u32>,
    ) -> Result<Option<Vec<u8>>> {
        guard(|| {
            let Some(picture) = self.picture(&image, min_quality)? else {
                return Ok(None);
            };
            Ok(Some(match picture {
                Picture::Bundle(item) => {
                    self.inner.bundle(&item, &id, &associated_data, now_unix)?
                }
                Picture::Voucher(x) => self.inner.voucher(&x, &id, &associated_data, now_unix)?,
            }))
        })
    }

    /// `create_voucher_for_image` for an app that keeps the device state (as
    /// `create_voucher_with_state`): check the state for `now_unix` and make the picture's
    /// upload at that one time. Returns it and the new state blob: store the blob before
    /// sending. `None` below the quality gate (the state is not checked then: keep the old
    /// blob). Errors as both calls; on an error there is no new state (keep the old blob).
    #[uniffi::method(default(min_quality = None))]
    pub fn create_voucher_for_image_with_state(
        &self,
        image: Vec<u8>,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        state: Option<Vec<u8>>,
        now_unix: u64,
        min_quality: Option<u32>,
    ) -> Result<Option<VoucherWithState>> {
        guard(|| {
            let mut st = decode_state(state)?;
            let Some(picture) = self.picture(&image, min_quality)? else {
                return Ok(None);
            };
            let voucher = match picture {
                Picture::Bundle(item) => {
                    self.inner
                        .bundle_with_state(&mut st, &item, &id, &associated_data, now_unix)?
                }
                Picture::Voucher(x) => {
                    self.inner
                        .voucher_with_state(&mut st, &x, &id, &associated_data, now_unix)?
                }
            };
            Ok(Some(VoucherWithState {
                voucher,
                state: st.to_bytes(),
            }))
        })
    }

    /// Make a voucher for one media item at time `now_unix` (Unix seconds: pass the current
    /// time): its typed hash, the app's id for it (at most 64 bytes, public) and associated
    /// data (at most 65532 bytes, revealed only at the threshold). Real or synthetic by the
    /// item and the account's secret rate for the window. `OutsideSchedule` for a time
    /// outside the database's schedule. About 0.1–0.2 ms: call off the main thread.
    pub fn create_voucher(
        &self,
        hash: TypedHash,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        now_unix: u64,
    ) -> Result<Vec<u8>> {
        guard(|| {
            Ok(self
                .inner
                .voucher(&hash.to_core()?, &id, &associated_data, now_unix)?)
        })
    }

    /// Make vouchers for many items at time `now_unix`, in order: the same work as
    /// `create_voucher` per item, with the FFI crossing paid once per batch rather than once
    /// per item (it dominates the per-item overhead from Python and Kotlin). Fails as a whole
    /// on the first bad item. Runs on the calling thread: call off the main thread.
    pub fn create_vouchers(
        &self,
        requests: Vec<VoucherRequest>,
        now_unix: u64,
    ) -> Result<Vec<Vec<u8>>> {
        guard(|| self.vouchers(&requests, now_unix))
    }

    /// As `create_voucher` in an explicit counting window, with the real/synthetic choice
    /// forced (a forced synthetic voucher carries the item's own synthetic values). For
    /// simulations and tests only: apps must use `create_voucher`. `OutsideSchedule` for a
    /// window outside the schedule.
    pub fn create_voucher_for_simulation(
        &self,
        hash: TypedHash,
        id: Vec<u8>,
        associated_data: Vec<u8>,
        window: u64,
        choice: SyntheticChoice,
    ) -> Result<Vec<u8>> {
        guard(|| {
            Ok(research::voucher_with_choice(
                &self.inner,
                &hash.to_core()?,
                &id,
                &associated_data,
                window,
                choice,
                &mut rand::rng(),
            )?)
        })
    }
}

/// Decode a stored device-state blob; `None` is a device that has made no vouchers yet.
fn decode_state(state: Option<Vec<u8>>) -> Result<DeviceState> {
    Ok(match state {
        Some(bytes) => DeviceState::from_bytes(&bytes)?,
        None => DeviceState::new(),
    })
}

/// A voucher and the device state blob to store before sending it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VoucherWithState {
    /// The voucher.
    pub voucher: Vec<u8>,
    /// The new device state (opaque): store it, and pass it to the next state call.
    pub state: Vec<u8>,
}

/// Vouchers and the device state blob to store before sending them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VouchersWithState {
    /// The vouchers, in the order of the requests.
    pub vouchers: Vec<Vec<u8>>,
    /// The new device state (opaque): store it, and pass it to the next state call.
    pub state: Vec<u8>,
}

/// One media item to make a voucher for (see `VoucherMaker::create_vouchers`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VoucherRequest {
    /// The item's typed media hash.
    pub hash: TypedHash,
    /// The app's id for the item (at most 64 bytes, public).
    pub id: Vec<u8>,
    /// Associated data (at most 65532 bytes), revealed only at the threshold.
    pub associated_data: Vec<u8>,
}

/// The public header of a voucher, readable by anyone (core's `VoucherHeader`).
#[uniffi::remote(Record)]
pub struct VoucherHeader {
    /// The database epoch the voucher was made for.
    pub epoch: u64,
    /// The counting window the voucher was made in.
    pub window: u64,
    /// The app's id for the item.
    pub id: Vec<u8>,
}

/// Read a voucher's public header (epoch, window and id) without opening it; the same for a
/// probe bundle (a fuzzy database's upload for a picture), whose header has the same fields.
#[uniffi::export]
pub fn peek_voucher(voucher: Vec<u8>) -> Result<VoucherHeader> {
    guard(|| Ok(VoucherHeader::peek(&voucher)?))
}
