//! Where a database's bytes live: owned in memory, or memory-mapped from a file.

use crate::error::Result;

/// The bytes of a database file.
pub enum Storage {
    /// Bytes owned in memory.
    Owned(Vec<u8>),
    /// A read-only memory map of a file.
    Mapped(memmap2::Mmap),
}

impl Storage {
    /// Map a file read-only.
    pub fn map_file(path: &std::path::Path) -> Result<Storage> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the map is read-only. Like every mmap-based reader, it assumes the file is
        // not truncated or rewritten while mapped; the CLI and SDK replace database files by
        // atomic rename, which leaves existing maps intact.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Storage::Mapped(map))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

impl From<Vec<u8>> for Storage {
    fn from(v: Vec<u8>) -> Self {
        Storage::Owned(v)
    }
}

impl From<&[u8]> for Storage {
    fn from(v: &[u8]) -> Self {
        Storage::Owned(v.to_vec())
    }
}
