//! The signed blinded database: a manifest signed with the server's Ed25519 key, followed by
//! a fixed-offset table of compressed ristretto255 points (the OKVS), so a device can memory-
//! map the file and decompress only the three cells a voucher needs.
//!
//! File layout (all integers little-endian; see `docs/PROTOCOL.md` §Database):
//!
//! ```text
//! "BMDB" | version u16 = 2 | flags u16 = 0 | manifest_len u32 | manifest | signature (64) | table (m × 32)
//! ```
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod manifest;

pub(crate) use manifest::{MAX_SOURCE_NAME, MAX_SOURCES};
pub use manifest::{Manifest, Source};

use crate::encoding::Reader;
use crate::error::{AuditProblem, Error, Field, Object, Result};
use crate::hash::MediaHash;
use crate::kdf;
use crate::keys::ServerPublicKey;
use crate::params::Params;
use crate::primitives::okvs;
use curve25519_dalek::RistrettoPoint;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::Signature;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const MAGIC: &[u8; 4] = b"BMDB";
/// The database format version of an exact database (a fuzzy one is [`FUZZY_FORMAT_VERSION`]).
pub const FORMAT_VERSION: u16 = 2;
/// The database format version of a fuzzy database: a version-2 manifest followed by the band
/// layout (`docs/PROTOCOL.md` §13.2).
pub const FUZZY_FORMAT_VERSION: u16 = 3;
const HEADER_LEN: usize = 12;
/// Largest manifest accepted.
const MAX_MANIFEST_LEN: u32 = 64 * 1024;
/// Largest table accepted (2^28 cells, 8 GiB).
pub(crate) const MAX_CELLS: u64 = 1 << 28;
/// Cells per chunk of the table digest (1 MiB of table).
const DIGEST_CHUNK_CELLS: usize = 32 * 1024;
const SIGNATURE_LEN: usize = 64;

/// Digest of a table: `SHA-256("blindmatch-v2 table" ‖ LE64(m) ‖ SHA-256(chunk_0) ‖ …)` over
/// 1 MiB chunks, the chunk hashes computed in parallel.
pub(crate) fn table_digest(table: &[u8]) -> [u8; 32] {
    let chunk_hashes: Vec<[u8; 32]> = table
        .par_chunks(DIGEST_CHUNK_CELLS * 32)
        .map(|c| Sha256::digest(c).into())
        .collect();
    let mut h = Sha256::new();
    h.update(kdf::TABLE);
    h.update(((table.len() / 32) as u64).to_le_bytes());
    for c in &chunk_hashes {
        h.update(c);
    }
    h.finalize().into()
}

pub(crate) fn root_hash(header: &[u8], manifest: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(kdf::ROOT)
        .chain_update(header)
        .chain_update(manifest)
        .finalize()
        .into()
}

fn signed_message(header: &[u8], manifest: &[u8]) -> Vec<u8> {
    [kdf::MANIFEST, header, manifest].concat()
}

/// Lay out a database file: header, manifest, signature over both, table. The server wing's
/// builder calls this with its signing key; nothing else signs.
pub(crate) fn lay_out(
    manifest: &Manifest,
    table: &[u8],
    sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
) -> Vec<u8> {
    let mbytes = manifest.encode();
    let mlen = u32::try_from(mbytes.len()).expect("a checked manifest is under 64 KiB");
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&manifest.format_version().to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&mlen.to_le_bytes());
    let signature = sign(&signed_message(&header, &mbytes));
    let mut file = Vec::with_capacity(header.len() + mbytes.len() + SIGNATURE_LEN + table.len());
    file.extend_from_slice(&header);
    file.extend_from_slice(&mbytes);
    file.extend_from_slice(&signature);
    file.extend_from_slice(table);
    file
}

/// What a full audit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Cells checked.
    pub cells: u64,
    /// The root hash.
    pub root: [u8; 32],
}

/// The parsed, unverified header of a database file: enough to display it.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The manifest as written.
    pub manifest: Manifest,
    /// The root hash computed over header and manifest.
    pub root: [u8; 32],
    /// Total file length.
    pub file_len: u64,
}

struct Layout<'a> {
    header: &'a [u8],
    manifest_bytes: &'a [u8],
    manifest: Manifest,
    signature: [u8; 64],
    table_offset: usize,
}

fn parse_layout(bytes: &[u8]) -> Result<Layout<'_>> {
    let mut r = Reader::new(bytes, Object::Database);
    r.expect_magic(MAGIC)?;
    let version = r.u16()?;
    if version != FORMAT_VERSION && version != FUZZY_FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            object: Object::Database,
            found: version,
        });
    }
    if r.u16()? != 0 {
        return Err(Error::OutOfRange {
            field: Field::DatabaseFlags,
        });
    }
    let mlen = r.u32()?;
    if mlen > MAX_MANIFEST_LEN {
        return Err(Error::OutOfRange {
            field: Field::ManifestLength,
        });
    }
    let manifest_bytes = r.take(mlen as usize)?;
    let signature = r.array::<SIGNATURE_LEN>()?;
    let manifest = Manifest::decode(manifest_bytes, version)?;
    let table_len = manifest.cells * 32;
    let rest = r.remaining() as u64;
    if rest < table_len {
        return Err(Error::Truncated {
            object: Object::DatabaseTable,
        });
    }
    if rest > table_len {
        return Err(Error::TrailingBytes {
            object: Object::Database,
            extra: usize::try_from(rest - table_len).unwrap_or(usize::MAX),
        });
    }
    let table_offset = HEADER_LEN + mlen as usize + SIGNATURE_LEN;
    Ok(Layout {
        header: bytes.get(..HEADER_LEN).ok_or(Error::Truncated {
            object: Object::Database,
        })?,
        manifest_bytes,
        manifest,
        signature,
        table_offset,
    })
}

impl Inspected {
    /// Read a database file's header and manifest without verifying anything (for display).
    ///
    /// # Errors
    /// Every structural error of [`Database::open`] (magic, version, lengths, manifest
    /// ranges); nothing is verified.
    pub fn read(bytes: &[u8]) -> Result<Inspected> {
        let l = parse_layout(bytes)?;
        Ok(Inspected {
            root: root_hash(l.header, l.manifest_bytes),
            manifest: l.manifest,
            file_len: bytes.len() as u64,
        })
    }
}

/// Where a database's bytes live: any owned byte container (a `Vec<u8>`, or a memory map the
/// caller made; core does no I/O).
type Storage = Box<dyn AsRef<[u8]> + Send + Sync>;

/// A loaded, verified blinded database. Immutable and `Send + Sync`: share it in an `Arc`.
pub struct Database {
    storage: Storage,
    table_offset: usize,
    manifest: Manifest,
    root: [u8; 32],
    server: ServerPublicKey,
}

impl core::fmt::Debug for Database {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Database")
            .field("epoch", &self.manifest.epoch)
            .field("cells", &self.manifest.cells)
            .field("root", &hex::encode(self.root))
            .finish()
    }
}

impl Database {
    /// Fast load: check the signature under the pinned server key, the table digest, the
    /// root hash (if one is expected) and the parameters. Does not decompress the table; use
    /// [`Database::verify`] for a full audit. `storage` is any owned byte container: a
    /// `Vec<u8>`, or a read-only memory map the caller made.
    ///
    /// # Errors
    /// Structural errors ([`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::Truncated`], [`Error::TrailingBytes`], [`Error::OutOfRange`]);
    /// [`Error::ServerKeyMismatch`], [`Error::BadSignature`], [`Error::RootHashMismatch`],
    /// [`Error::TableDigestMismatch`].
    pub fn open(
        storage: impl AsRef<[u8]> + Send + Sync + 'static,
        pinned: &ServerPublicKey,
        expected_root: Option<&[u8; 32]>,
    ) -> Result<Self> {
        let storage: Storage = Box::new(storage);
        let bytes = (*storage).as_ref();
        let l = parse_layout(bytes)?;
        let m = &l.manifest;
        if m.blinding_point != *pinned.blinding_point_bytes()
            || m.verifying_key != *pinned.verifying_key().as_bytes()
        {
            return Err(Error::ServerKeyMismatch);
        }
        let sig = Signature::from_bytes(&l.signature);
        pinned
            .verifying_key()
            .verify_strict(&signed_message(l.header, l.manifest_bytes), &sig)
            .map_err(|_| Error::BadSignature)?;
        let root = root_hash(l.header, l.manifest_bytes);
        if let Some(exp) = expected_root
            && !bool::from(root.ct_eq(exp))
        {
            return Err(Error::RootHashMismatch);
        }
        let table = bytes.get(l.table_offset..).ok_or(Error::Truncated {
            object: Object::Database,
        })?;
        if table_digest(table) != m.table_digest {
            return Err(Error::TableDigestMismatch);
        }
        let manifest = l.manifest;
        let table_offset = l.table_offset;
        Ok(Database {
            storage,
            table_offset,
            manifest,
            root,
            server: pinned.clone(),
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The client context of this database (`docs/PROTOCOL.md` §6.1).
    pub fn context(&self) -> [u8; 32] {
        self.manifest.context(&self.root)
    }

    /// The window schedule.
    pub fn schedule(&self) -> &crate::window::Schedule {
        &self.manifest.schedule
    }

    /// The protocol parameters (T, s_max, synthetic-rate range).
    pub fn params(&self) -> &Params {
        &self.manifest.params
    }

    /// The database epoch.
    pub fn epoch(&self) -> u64 {
        self.manifest.epoch
    }

    /// The root hash devices display and auditors compare out of band.
    pub fn root_hash(&self) -> &[u8; 32] {
        &self.root
    }

    /// The server key the database was verified against.
    pub fn server_key(&self) -> &ServerPublicKey {
        &self.server
    }

    fn table(&self) -> &[u8] {
        (*self.storage)
            .as_ref()
            .get(self.table_offset..)
            .unwrap_or(&[])
    }

    fn cell_bytes(&self, i: u64) -> Option<[u8; 32]> {
        let start = usize::try_from(i).ok()?.checked_mul(32)?;
        let mut out = [0u8; 32];
        out.copy_from_slice(self.table().get(start..start + 32)?);
        Some(out)
    }

    /// Decode the OKVS at `x`: the sum of its three cells (decompressing only those). A cell
    /// that is not a canonical encoding counts as the identity, so a crafted cell (which only
    /// the full audit refuses) makes its items plain non-matches instead of failing vouchers
    /// for chosen items.
    pub(crate) fn lookup(&self, x: &MediaHash) -> Result<RistrettoPoint> {
        self.check_kind(x)?;
        self.lookup_item(&x.encode())
    }

    /// [`lookup`](Database::lookup) of an encoded item (`encode(x)` or a band key), without
    /// the kind check.
    pub(crate) fn lookup_item(&self, item: &[u8]) -> Result<RistrettoPoint> {
        let pos = okvs::positions(&self.manifest.seed, self.manifest.cells, item);
        let mut cells = [RistrettoPoint::default(); 3];
        for (c, p) in cells.iter_mut().zip(pos) {
            let b = self.cell_bytes(p).ok_or(Error::Truncated {
                object: Object::DatabaseTable,
            })?;
            *c = CompressedRistretto(b).decompress().unwrap_or_default();
        }
        Ok(okvs::decode(cells))
    }

    /// Whether the database lists hashes of `x`'s kind.
    ///
    /// # Errors
    /// [`Error::KindNotListed`] if it does not.
    pub fn check_kind(&self, x: &MediaHash) -> Result<()> {
        if self.manifest.kinds.contains(&x.kind()) {
            Ok(())
        } else {
            Err(Error::KindNotListed { kind: x.kind() })
        }
    }

    /// Full audit for auditors and the CLI: every cell canonical and not the identity, all
    /// cells distinct, on top of what [`open`](Database::open) checked.
    ///
    /// # Errors
    /// [`Error::AuditFailed`] naming the first bad cell and the [`AuditProblem`].
    pub fn verify(&self) -> Result<AuditReport> {
        let table = self.table();
        let bad = table.par_chunks(32).enumerate().find_first(|(_, c)| {
            let mut b = [0u8; 32];
            b.copy_from_slice(c);
            !matches!(CompressedRistretto(b).decompress(), Some(p) if !p.is_identity())
        });
        if let Some((i, _)) = bad {
            return Err(Error::AuditFailed {
                cell: i as u64,
                problem: AuditProblem::NotCanonical,
            });
        }
        let mut sorted: Vec<[u8; 32]> = table
            .chunks_exact(32)
            .map(|c| {
                let mut b = [0u8; 32];
                b.copy_from_slice(c);
                b
            })
            .collect();
        sorted.par_sort_unstable();
        if let Some(dup) = sorted
            .windows(2)
            .find(|w| w.first() == w.last())
            .and_then(|w| w.first())
        {
            let cell = table
                .chunks_exact(32)
                .position(|c| c == dup)
                .expect("a duplicate was found among these cells");
            return Err(Error::AuditFailed {
                cell: cell as u64,
                problem: AuditProblem::Duplicate,
            });
        }
        Ok(AuditReport {
            cells: self.manifest.cells,
            root: self.root,
        })
    }
}
