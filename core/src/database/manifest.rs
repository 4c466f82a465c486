//! The database manifest: everything a device needs besides the table, signed by the server.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::encoding::Reader;
use crate::error::{Error, Field, Object, Result};
use crate::fuzzy::FuzzyLayout;
use crate::hash::HashKind;
use crate::hash_to_group::MAX_DST_LEN;
use crate::kdf;
use crate::params::Params;
use crate::window::Schedule;
use sha2::{Digest, Sha256};

/// The protocol version bound into every client derivation.
pub(crate) const PROTOCOL_VERSION: u16 = 2;

/// Most sources a manifest records.
pub(crate) const MAX_SOURCES: usize = 64;
/// Longest source name.
pub(crate) const MAX_SOURCE_NAME: usize = 64;

/// One hash-list source (organisation) and how many distinct hashes it listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// The source's name.
    pub name: String,
    /// Distinct hashes it listed.
    pub count: u64,
}

/// The signed manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    /// Database epoch: vouchers carry it, and opening checks it.
    pub epoch: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// m, the number of table cells (a multiple of 3).
    pub cells: u64,
    /// n, the number of hashes encoded.
    pub entries: u64,
    /// The OKVS position seed.
    #[serde(with = "hex_bytes")]
    pub seed: [u8; 32],
    /// L = α·G, compressed.
    #[serde(with = "hex_bytes")]
    pub blinding_point: [u8; 32],
    /// The Ed25519 key that signed this manifest.
    #[serde(with = "hex_bytes")]
    pub verifying_key: [u8; 32],
    /// T, s_max and the synthetic-rate range.
    pub params: Params,
    /// The counting-window schedule.
    pub schedule: Schedule,
    /// The hash kinds listed.
    pub kinds: Vec<HashKind>,
    /// The hash-to-group domain-separation tag.
    #[serde(serialize_with = "dst_str")]
    pub dst: Vec<u8>,
    /// Digest of the table (`docs/PROTOCOL.md` §5.3).
    #[serde(with = "hex_bytes")]
    pub table_digest: [u8; 32],
    /// Hashes were kept only if at least this many sources listed them.
    pub min_sources: u8,
    /// The sources and their counts (never their hashes).
    pub sources: Vec<Source>,
    /// For a fuzzy database (format version 3): the band layout its PDQ hashes are listed
    /// with. `None` for an exact database (format version 2).
    pub fuzzy: Option<FuzzyLayout>,
}

mod hex_bytes {
    pub(super) fn serialize<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

fn dst_str<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

impl serde::Serialize for HashKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Manifest {
    /// Canonical encoding (see `docs/PROTOCOL.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256);
        v.extend_from_slice(&self.epoch.to_le_bytes());
        v.extend_from_slice(&self.created_unix.to_le_bytes());
        v.extend_from_slice(&self.cells.to_le_bytes());
        v.extend_from_slice(&self.entries.to_le_bytes());
        v.extend_from_slice(&self.seed);
        v.extend_from_slice(&self.blinding_point);
        v.extend_from_slice(&self.verifying_key);
        v.extend_from_slice(&self.params.threshold().to_le_bytes());
        v.extend_from_slice(&self.params.s_max().to_le_bytes());
        let (lo, hi) = self.params.rate_range_ppm();
        v.extend_from_slice(&lo.to_le_bytes());
        v.extend_from_slice(&hi.to_le_bytes());
        v.extend_from_slice(&self.schedule.origin().to_le_bytes());
        v.extend_from_slice(&self.schedule.length().to_le_bytes());
        v.extend_from_slice(&self.schedule.count().to_le_bytes());
        v.push(self.kinds.len() as u8);
        v.extend(self.kinds.iter().map(|k| k.id()));
        v.push(self.dst.len() as u8);
        v.extend_from_slice(&self.dst);
        v.extend_from_slice(&self.table_digest);
        v.push(self.min_sources);
        v.push(self.sources.len() as u8);
        for s in &self.sources {
            v.push(s.name.len() as u8);
            v.extend_from_slice(s.name.as_bytes());
            v.extend_from_slice(&s.count.to_le_bytes());
        }
        if let Some(f) = &self.fuzzy {
            v.extend_from_slice(&f.encode());
        }
        v
    }

    /// The database format version this manifest is written under: 3 for a fuzzy database,
    /// else 2.
    pub fn format_version(&self) -> u16 {
        if self.fuzzy.is_some() { 3 } else { 2 }
    }

    /// Decode and check every field's range, for database format `version` (2 or 3; a
    /// version-3 manifest ends with the fuzzy layout).
    pub fn decode(bytes: &[u8], version: u16) -> Result<Manifest> {
        let mut r = Reader::new(bytes, Object::Manifest);
        let epoch = r.u64()?;
        let created_unix = r.u64()?;
        let cells = r.u64()?;
        let entries = r.u64()?;
        let seed = r.array()?;
        let blinding_point = r.array()?;
        let verifying_key = r.array()?;
        let (t, s, lo, hi) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let params = Params::new(t, s, lo, hi).map_err(|_| Error::OutOfRange {
            field: Field::ManifestParams,
        })?;
        let (origin, length, count) = (r.u64()?, r.u64()?, r.u32()?);
        let schedule = Schedule::new(origin, length, count).map_err(|_| Error::OutOfRange {
            field: Field::ManifestSchedule,
        })?;
        let nk = r.u8()? as usize;
        let mut kinds = Vec::with_capacity(nk);
        for _ in 0..nk {
            kinds.push(HashKind::from_id(r.u8()?).map_err(|_| Error::OutOfRange {
                field: Field::ManifestKinds,
            })?);
        }
        let dl = r.u8()? as usize;
        let dst = r.take(dl)?.to_vec();
        let table_digest = r.array()?;
        let min_sources = r.u8()?;
        let ns = r.u8()? as usize;
        let mut sources = Vec::with_capacity(ns.min(MAX_SOURCES));
        for _ in 0..ns {
            let l = r.u8()? as usize;
            let name = std::str::from_utf8(r.take(l)?)
                .map_err(|_| Error::OutOfRange {
                    field: Field::SourceName,
                })?
                .to_owned();
            sources.push(Source {
                name,
                count: r.u64()?,
            });
        }
        let fuzzy = if version >= 3 {
            Some(FuzzyLayout::decode(r.array()?)?)
        } else {
            None
        };
        r.finish()?;
        let m = Manifest {
            epoch,
            created_unix,
            cells,
            entries,
            seed,
            blinding_point,
            verifying_key,
            params,
            schedule,
            kinds,
            dst,
            table_digest,
            min_sources,
            sources,
            fuzzy,
        };
        m.check()?;
        Ok(m)
    }

    /// The client context: a hash of everything that changes what a device does — protocol
    /// version, server key, T, s_max, rate range, window schedule, kinds, DST — and of the
    /// database's root hash (`docs/PROTOCOL.md` §6.1). Every client derivation is bound to it,
    /// so a re-signed manifest or a second database relinks nothing.
    pub fn context(&self, root: &[u8; 32]) -> [u8; 32] {
        let (lo, hi) = self.params.rate_range_ppm();
        let mut h = Sha256::new();
        h.update(kdf::CONTEXT);
        h.update(PROTOCOL_VERSION.to_le_bytes());
        h.update(self.blinding_point);
        h.update(self.verifying_key);
        h.update(self.params.threshold().to_le_bytes());
        h.update(self.params.s_max().to_le_bytes());
        h.update(lo.to_le_bytes());
        h.update(hi.to_le_bytes());
        h.update(self.schedule.origin().to_le_bytes());
        h.update(self.schedule.length().to_le_bytes());
        h.update(self.schedule.count().to_le_bytes());
        h.update([self.kinds.len() as u8]);
        h.update(self.kinds.iter().map(|k| k.id()).collect::<Vec<_>>());
        h.update([self.dst.len() as u8]);
        h.update(&self.dst);
        if let Some(f) = &self.fuzzy {
            h.update(f.encode());
        }
        h.update(root);
        h.finalize().into()
    }

    /// Range checks shared by encoder and decoder (the parameters are valid by type).
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |field| Err(Error::OutOfRange { field });
        if self.cells == 0 || !self.cells.is_multiple_of(3) || self.cells > super::MAX_CELLS {
            return bad(Field::ManifestCells);
        }
        if self.entries > self.cells {
            return bad(Field::ManifestEntries);
        }
        if self.kinds.is_empty() || self.kinds.windows(2).any(|w| w.first() >= w.last()) {
            return bad(Field::ManifestKinds);
        }
        if self.fuzzy.is_some() && !self.kinds.contains(&HashKind::Pdq) {
            return bad(Field::ManifestFuzzy);
        }
        if self.dst.is_empty() || self.dst.len() > MAX_DST_LEN {
            return bad(Field::ManifestDst);
        }
        if self.sources.len() > MAX_SOURCES {
            return bad(Field::ManifestSources);
        }
        if self
            .sources
            .iter()
            .any(|s| s.name.is_empty() || s.name.len() > MAX_SOURCE_NAME)
        {
            return bad(Field::SourceName);
        }
        if self.min_sources == 0 || self.min_sources as usize > self.sources.len().max(1) {
            return bad(Field::MinSources);
        }
        Ok(())
    }
}
