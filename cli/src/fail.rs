//! The CLI's error: one line naming the file (when there is one) and the problem.

use std::fmt;
use std::path::Path;

/// A CLI failure.
#[derive(Debug)]
pub struct Fail {
    msg: String,
    /// Exit code: 2 for usage and input errors, 1 otherwise.
    pub code: i32,
}

pub type Result<T, E = Fail> = std::result::Result<T, E>;

impl Fail {
    pub fn msg(msg: impl Into<String>) -> Fail {
        Fail {
            msg: msg.into(),
            code: 2,
        }
    }

    pub fn at(path: &Path, what: impl fmt::Display) -> Fail {
        Fail {
            msg: format!("{}: {what}", path.display()),
            code: 2,
        }
    }

    pub fn file(path: &Path, e: std::io::Error) -> Fail {
        Fail {
            msg: format!("{}: {e}", path.display()),
            code: 2,
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

/// Attach a file name to a core error.
pub trait Context<T> {
    fn at(self, path: &Path) -> Result<T>;
    fn what(self, what: &str) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| Fail::at(path, e))
    }
    fn what(self, what: &str) -> Result<T> {
        self.map_err(|e| Fail::msg(format!("{what}: {e}")))
    }
}
