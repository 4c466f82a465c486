//! The optional device state an app keeps: the newest window it has made vouchers in and the
//! root hash of the database it used there. With it, a device refuses to go back to an older
//! window (a rolled-back clock, a restored backup) and refuses a second, different database
//! for a window it has already used (whose choices could relink items).
//!
//! Encoding (opaque to apps): `"BMDS" ‖ LE16(1) ‖ flag u8 ‖ [LE64(window) ‖ root (32)]`.

use crate::encoding::Reader;
use crate::error::{Error, Field, Object, Result};

const MAGIC: &[u8; 4] = b"BMDS";
const VERSION: u16 = 1;

/// The newest window a device has used and the database root it used there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    newest: Option<(u64, [u8; 32])>,
}

impl DeviceState {
    /// A device that has made no vouchers yet.
    pub fn new() -> DeviceState {
        DeviceState::default()
    }

    /// The newest window used, if any.
    pub fn newest_window(&self) -> Option<u64> {
        self.newest.map(|(w, _)| w)
    }

    /// Check that `window` may be used with the database of root `root`, and record it.
    ///
    /// # Errors
    /// [`Error::StaleWindow`] for a window older than the newest used;
    /// [`Error::ManifestChanged`] for a different root in the newest window.
    pub(crate) fn advance(&mut self, window: u64, root: &[u8; 32]) -> Result<()> {
        match self.newest {
            Some((newest, _)) if window < newest => Err(Error::StaleWindow { window, newest }),
            Some((newest, seen)) if window == newest && seen != *root => {
                Err(Error::ManifestChanged { window })
            }
            _ => {
                self.newest = Some((window, *root));
                Ok(())
            }
        }
    }

    /// The opaque encoding an app stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&VERSION.to_le_bytes());
        match &self.newest {
            None => v.push(0),
            Some((w, root)) => {
                v.push(1);
                v.extend_from_slice(&w.to_le_bytes());
                v.extend_from_slice(root);
            }
        }
        v
    }

    /// Decode a stored state.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::TrailingBytes`]; [`Error::OutOfRange`] for a flag other than 0 or 1.
    pub fn from_bytes(bytes: &[u8]) -> Result<DeviceState> {
        let mut r = Reader::new(bytes, Object::DeviceState);
        r.expect_header(MAGIC, VERSION)?;
        let newest = match r.u8()? {
            0 => None,
            1 => Some((r.u64()?, r.array()?)),
            _ => {
                return Err(Error::OutOfRange {
                    field: Field::DeviceStateFlag,
                });
            }
        };
        r.finish()?;
        Ok(DeviceState { newest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_older_windows_and_a_second_root() {
        let mut s = DeviceState::new();
        s.advance(5, &[1; 32]).unwrap();
        s.advance(5, &[1; 32]).unwrap();
        assert_eq!(
            s.advance(4, &[1; 32]),
            Err(Error::StaleWindow {
                window: 4,
                newest: 5
            })
        );
        assert_eq!(
            s.advance(5, &[2; 32]),
            Err(Error::ManifestChanged { window: 5 })
        );
        s.advance(6, &[2; 32]).unwrap();
        let again = DeviceState::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(again, s);
        assert_eq!(
            DeviceState::from_bytes(&DeviceState::new().to_bytes()),
            Ok(DeviceState::new())
        );
        assert!(DeviceState::from_bytes(&s.to_bytes()[..10]).is_err());
    }
}
