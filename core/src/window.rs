//! Counting windows. The signed manifest carries a window *schedule* — an origin, a length and
//! a count — rather than one window, so the root hash stays the same across windows and an app
//! can ship it. Window `w` covers `[origin + w·length, origin + (w+1)·length)`. Core does no
//! I/O: callers pass the time.

use crate::error::{Error, Param, Result};

/// How far outside the schedule a device clock may be and still be placed in the first or
/// last window (seconds).
pub const CLOCK_SLACK_SECS: u64 = 600;
/// Shortest window length a manifest may carry (one minute; real deployments use days).
pub const MIN_WINDOW_SECS: u64 = 60;
/// Most windows one manifest may schedule.
pub const MAX_WINDOWS: u32 = 1 << 20;

/// A validated window schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Schedule {
    origin: u64,
    length: u64,
    count: u32,
}

impl Schedule {
    /// A schedule of `count` windows of `length` seconds from `origin` (Unix seconds).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] ([`Param::Schedule`]) when the length is under a minute,
    /// the count is 0 or above 2^20, or the schedule ends past the year 2^63 s.
    pub fn new(origin: u64, length: u64, count: u32) -> Result<Schedule> {
        let ok = length >= MIN_WINDOW_SECS
            && (1..=MAX_WINDOWS).contains(&count)
            && length
                .checked_mul(u64::from(count))
                .and_then(|d| d.checked_add(origin))
                .is_some_and(|end| end < 1 << 63);
        if ok {
            Ok(Schedule {
                origin,
                length,
                count,
            })
        } else {
            Err(Error::InvalidParameter {
                param: Param::Schedule,
            })
        }
    }

    /// The origin (Unix seconds).
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// The window length (seconds).
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The number of windows.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The window a time falls in. A time up to [`CLOCK_SLACK_SECS`] before the origin or
    /// after the end is placed in the first or last window.
    ///
    /// # Errors
    /// [`Error::OutsideSchedule`] for any other time outside the schedule.
    pub fn window_at(&self, now_unix: u64) -> Result<u64> {
        let end = self.end();
        if now_unix.saturating_add(CLOCK_SLACK_SECS) < self.origin
            || now_unix >= end.saturating_add(CLOCK_SLACK_SECS)
        {
            return Err(Error::OutsideSchedule);
        }
        let w = now_unix.saturating_sub(self.origin) / self.length;
        Ok(w.min(u64::from(self.count) - 1))
    }

    /// Whether `w` is one of the scheduled windows.
    pub fn contains(&self, w: u64) -> bool {
        w < u64::from(self.count)
    }

    /// When window `w` starts (Unix seconds).
    pub fn start(&self, w: u64) -> u64 {
        self.origin.saturating_add(w.saturating_mul(self.length))
    }

    /// When the schedule ends (Unix seconds).
    pub fn end(&self) -> u64 {
        self.start(u64::from(self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_the_schedule_with_slack() {
        let s = Schedule::new(1_000_000, 3600, 24).unwrap();
        assert_eq!(s.window_at(1_000_000), Ok(0));
        assert_eq!(s.window_at(1_000_000 + 3599), Ok(0));
        assert_eq!(s.window_at(1_000_000 + 3600), Ok(1));
        assert_eq!(s.window_at(1_000_000 - 10), Ok(0));
        assert_eq!(s.window_at(s.end() + 10), Ok(23));
        assert_eq!(s.window_at(1_000_000 - 601), Err(Error::OutsideSchedule));
        assert_eq!(s.window_at(s.end() + 600), Err(Error::OutsideSchedule));
        assert!(s.contains(23) && !s.contains(24));
        assert!(Schedule::new(0, 59, 1).is_err());
        assert!(Schedule::new(0, 60, 0).is_err());
        assert!(Schedule::new(u64::MAX - 10, 60, 1).is_err());
    }
}
