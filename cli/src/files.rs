//! File handling: atomic writes (temporary file + rename, so no partial output is ever left),
//! secret files created 0600 and refused when group- or world-accessible.

use crate::fail::{Fail, Result};
use std::io::Write;
use std::path::Path;

/// Read a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Fail::file(path, e))
}

/// Read a secret key file; refuse it if group or others can access it.
pub fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| Fail::file(path, e))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Fail::at(
                path,
                format!(
                    "secret key file is accessible by group or others (mode {:o}); run chmod 600",
                    mode & 0o777
                ),
            ));
        }
    }
    Ok(zeroize::Zeroizing::new(read(path)?))
}

/// Write `data` to `path` atomically; `secret` files get mode 0600, others 0644.
pub fn write_atomic(path: &Path, data: &[u8], secret: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".blindmatch-")
        .tempfile_in(dir)
        .map_err(|e| Fail::file(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if secret { 0o600 } else { 0o644 };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Fail::file(path, e))?;
    }
    tmp.write_all(data).map_err(|e| Fail::file(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Fail::file(path, e))?;
    tmp.persist(path).map_err(|e| Fail::file(path, e.error))?;
    Ok(())
}

/// Create a directory (and parents).
pub fn ensure_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Fail::file(path, e))
}

/// Hash a file with an exact hash kind, streaming (core hashes any reader; the file is ours).
pub fn hash_file(
    kind: blindmatch_core::media::ExactKind,
    path: &Path,
) -> Result<blindmatch_core::MediaHash> {
    let f = std::fs::File::open(path).map_err(|e| Fail::file(path, e))?;
    blindmatch_core::media::hash_reader(kind, std::io::BufReader::with_capacity(256 * 1024, f))
        .map_err(|e| Fail::at(path, e.to_string()))
}
