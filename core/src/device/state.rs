//! The optional device state an app keeps: the newest window it has made vouchers in — its
//! index, the time interval it covers, and the root hash of the database it used there. With
//! it, a device refuses to go back in time (a rolled-back clock, a restored backup) and refuses
//! a second, different database for any time it has already covered (whose coins could relink
//! items): windows are compared as time intervals, so a database whose schedule is shifted
//! cannot pass a covered week off as a new window.
//!
//! Encoding (opaque to apps): `"BMDS" ‖ LE16(1) ‖ flag u8 ‖ [LE64(window) ‖ LE64(start) ‖
//! LE64(end) ‖ root (32)]`.

use crate::encoding::Reader;
use crate::error::{Error, Field, Object, Result};

const MAGIC: &[u8; 4] = b"BMDS";
const VERSION: u16 = 1;

/// The newest window a device has used and the database root it used there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceState {
    newest: Option<Used>,
}

/// A window a device has used: its index, its time interval `[start, end)`, the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Used {
    pub(crate) window: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) root: [u8; 32],
}

impl DeviceState {
    /// A device that has made no vouchers yet.
    pub fn new() -> DeviceState {
        DeviceState::default()
    }

    /// The newest window used, if any.
    pub fn newest_window(&self) -> Option<u64> {
        self.newest.map(|u| u.window)
    }

    /// Check that the window `next` may be used, and record it.
    ///
    /// # Errors
    /// [`Error::StaleWindow`] for a window that starts before the newest used one;
    /// [`Error::ManifestChanged`] for a different root over any time the newest window covers.
    pub(crate) fn advance(&mut self, next: Used) -> Result<()> {
        if let Some(seen) = self.newest {
            if next.start < seen.start {
                return Err(Error::StaleWindow {
                    window: next.window,
                    newest: seen.window,
                });
            }
            let overlaps = next.start < seen.end;
            if overlaps && next.root != seen.root {
                return Err(Error::ManifestChanged {
                    window: next.window,
                });
            }
        }
        self.newest = Some(next);
        Ok(())
    }

    /// The opaque encoding an app stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&VERSION.to_le_bytes());
        match &self.newest {
            None => v.push(0),
            Some(u) => {
                v.push(1);
                v.extend_from_slice(&u.window.to_le_bytes());
                v.extend_from_slice(&u.start.to_le_bytes());
                v.extend_from_slice(&u.end.to_le_bytes());
                v.extend_from_slice(&u.root);
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
            1 => Some(Used {
                window: r.u64()?,
                start: r.u64()?,
                end: r.u64()?,
                root: r.array()?,
            }),
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

    fn used(window: u64, start: u64, root: u8) -> Used {
        Used {
            window,
            start,
            end: start + 100,
            root: [root; 32],
        }
    }

    #[test]
    fn refuses_earlier_times_and_a_second_root_over_a_covered_time() {
        let mut s = DeviceState::new();
        s.advance(used(5, 500, 1)).unwrap();
        s.advance(used(5, 500, 1)).unwrap();
        assert_eq!(
            s.advance(used(4, 400, 1)),
            Err(Error::StaleWindow {
                window: 4,
                newest: 5
            })
        );
        assert_eq!(
            s.advance(used(5, 500, 2)),
            Err(Error::ManifestChanged { window: 5 })
        );
        // A shifted schedule: another index over the same time is still the same time.
        assert_eq!(
            s.advance(used(6, 550, 2)),
            Err(Error::ManifestChanged { window: 6 })
        );
        s.advance(used(6, 600, 2)).unwrap();
        let again = DeviceState::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(again, s);
        assert_eq!(
            DeviceState::from_bytes(&DeviceState::new().to_bytes()),
            Ok(DeviceState::new())
        );
        assert!(DeviceState::from_bytes(&s.to_bytes()[..10]).is_err());
    }
}
