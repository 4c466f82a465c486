//! The one error type apps see, and the panic guard every exported call goes through.
//!
//! A small set of categories that Kotlin, Swift and Python code branch on, each with a
//! human-readable `reason` and, where an app can act on it, typed fields (the epochs of a
//! `WrongEpoch`, the windows of a `StaleWindow`, the line of a bad hash list). Reasons come from `blindmatch_core::Error`, which
//! never puts hashes, keys, shares or associated data into a message.
//!
//! The text field is called `reason`, not `message`: a field named `message` does not compile
//! in Kotlin, where it clashes with `Throwable.message` (uniffi-rs #1434). Kotlin's
//! `e.message` and Python's `str(e)` list the fields (`reason=…, line=…`).

use blindmatch_core::{Error as CoreError, Param};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Everything an SDK call can fail with.
///
/// Kotlin: `BlindMatchException.BadInput`, … ; Swift: `BlindMatchError.BadInput(reason:line:)`,
/// … ; Python: `blindmatch.BlindMatchError.BadInput`, … (all subclasses of `BlindMatchError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum BlindMatchError {
    /// Malformed or out-of-range input: truncated, oversized or non-canonical bytes, a hash of
    /// the wrong length, a bad parameter, a bad hash-list line.
    #[error("bad input: {reason}")]
    BadInput {
        /// What was wrong (never the data).
        reason: String,
        /// The 1-based line of a hash list that did not parse; `None` for other input.
        line: Option<u64>,
    },
    /// A format version this build does not read (a newer database, voucher or key).
    #[error("unsupported version: {reason}")]
    UnsupportedVersion {
        /// Which object and version.
        reason: String,
    },
    /// The database does not verify: bad signature, not made by the pinned server key, table
    /// digest or root hash mismatch, or a failed full audit. Do not use it.
    #[error("verification failed: {reason}")]
    VerificationFailed {
        /// Which check failed.
        reason: String,
    },
    /// A voucher was made for a different database epoch than the one opening it.
    #[error("wrong epoch: {reason}")]
    WrongEpoch {
        /// Both epochs, in words.
        reason: String,
        /// The epoch the voucher was made for.
        voucher_epoch: u64,
        /// The epoch of the database opening it.
        database_epoch: u64,
    },
    /// The device's time is outside the database's window schedule (beyond a 600 s clock
    /// slack): the database has expired or is not yet valid, or the clock is wrong. Make no
    /// voucher; fetch a current database.
    #[error("outside schedule: {reason}")]
    OutsideSchedule {
        /// What was refused.
        reason: String,
    },
    /// The device state refuses a time before the newest window this device has already used
    /// (a rolled-back clock, a restored backup). Make no voucher until the clock reaches
    /// `newest_window` again.
    #[error("stale window: {reason}")]
    StaleWindow {
        /// Both windows, in words.
        reason: String,
        /// The window asked for (the window of the time passed).
        window: u64,
        /// The newest window the device state has already used.
        newest_window: u64,
    },
    /// The device state refuses a second, different database (root hash) over a time it has
    /// already covered with another one (the newest window it used): its choices could relink
    /// items. Keep using the database of that window until the window ends.
    #[error("database changed within a window: {reason}")]
    ManifestChanged {
        /// What was refused.
        reason: String,
        /// The window in which another database was already used.
        window: u64,
    },
    /// The device policy refuses the database: its root hash is not the pinned one
    /// (`parameter` = `Root`: another database than the one the app expects, possibly one
    /// made for this user alone), or its parameters are weakened (a low T, a tiny s_max, an
    /// extreme synthetic rate, too short or too long windows). Do not use it.
    #[error("refused by the device policy: {reason}")]
    PolicyRefused {
        /// Which rule the database breaks, in words.
        reason: String,
        /// Which rule the database breaks, to branch on.
        parameter: PolicyParameter,
    },
    /// A record of one counting window given to the account of another (records of two
    /// windows never combine): file it under the account of its own window.
    #[error("wrong window: {reason}")]
    WrongWindow {
        /// Both windows, in words.
        reason: String,
        /// The record's window.
        record_window: u64,
        /// The account's window.
        account_window: u64,
    },
    /// A key that does not belong here (a server key that did not make this database).
    #[error("wrong key: {reason}")]
    WrongKey {
        /// Which key.
        reason: String,
    },
    /// The database does not list hashes of this kind.
    #[error("kind not listed: {reason}")]
    KindNotListed {
        /// Which kind.
        reason: String,
    },
    /// Not returned by this version: opening reports a voucher whose outer layer opened but
    /// whose inner layer did not (tampered or crafted) as no match, so that a sender learns
    /// nothing from it (`Opener::malformed_count` counts them). Kept so that the variants
    /// keep their places.
    #[error("corrupt voucher: {reason}")]
    CorruptVoucher {
        /// What failed.
        reason: String,
    },
    /// Not returned by this version: evaluating an account cannot fail (records that do not
    /// fit a reveal are skipped and listed as `rejected_ids`). Kept so that the variants keep
    /// their places.
    #[error("reveal failed: {reason}")]
    RevealFailed {
        /// What failed.
        reason: String,
    },
    /// Building a database failed (the OKVS encoding did not succeed with any seed).
    #[error("build failed: {reason}")]
    BuildFailed {
        /// What failed.
        reason: String,
    },
    /// Reading a file failed.
    #[error("i/o: {reason}")]
    Io {
        /// The kind of OS error (never the path or the file's contents).
        reason: String,
    },
    /// A bug: a panic was caught at the FFI boundary. Never expected; never relied on.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl From<CoreError> for BlindMatchError {
    fn from(e: CoreError) -> Self {
        use BlindMatchError as B;
        let reason = e.to_string();
        match e {
            CoreError::HashList { line, .. } => B::BadInput {
                reason,
                line: u64::try_from(line).ok(),
            },
            CoreError::Truncated { .. }
            | CoreError::TrailingBytes { .. }
            | CoreError::BadMagic { .. }
            | CoreError::InvalidPoint { .. }
            | CoreError::InvalidScalar { .. }
            | CoreError::OutOfRange { .. }
            | CoreError::InvalidParameter { .. }
            | CoreError::InvalidHash { .. }
            | CoreError::Image(_) => B::BadInput { reason, line: None },
            CoreError::UnsupportedVersion { .. } => B::UnsupportedVersion { reason },
            CoreError::BadSignature
            | CoreError::ServerKeyMismatch
            | CoreError::TableDigestMismatch
            | CoreError::RootHashMismatch
            | CoreError::AuditFailed { .. } => B::VerificationFailed { reason },
            CoreError::WrongEpoch { voucher, database } => B::WrongEpoch {
                reason,
                voucher_epoch: voucher,
                database_epoch: database,
            },
            CoreError::OutsideSchedule => B::OutsideSchedule { reason },
            CoreError::StaleWindow { window, newest } => B::StaleWindow {
                reason,
                window,
                newest_window: newest,
            },
            CoreError::ManifestChanged { window } => B::ManifestChanged { reason, window },
            CoreError::PolicyRefused { param } => B::PolicyRefused {
                reason,
                parameter: PolicyParameter::from(param),
            },
            CoreError::WrongWindow { record, account } => B::WrongWindow {
                reason,
                record_window: record,
                account_window: account,
            },
            CoreError::WrongSecretKey => B::WrongKey { reason },
            CoreError::KindNotListed { .. } => B::KindNotListed { reason },
            CoreError::EncodingFailed { .. } => B::BuildFailed { reason },
            CoreError::Io { .. } => B::Io { reason },
            // `Error` is non-exhaustive: a variant added to core later is reported, not lost.
            _ => B::Internal { reason },
        }
    }
}

/// The rule of the device policy a database breaks (the `parameter` of `PolicyRefused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum PolicyParameter {
    /// The root hash is not the pinned one. Keep using the database you have, and check the
    /// root you pinned (shipped with the app, or from a transparency log) against the one
    /// published: a server could be giving this user a database of its own.
    Root,
    /// T is below the policy's minimum.
    Threshold,
    /// s_max is below the policy's minimum.
    SMax,
    /// The synthetic-rate range is too low, too high or too narrow.
    SyntheticRate,
    /// The window length is too short or too long.
    WindowLength,
    /// A rule this version of the bindings does not name (see `reason`).
    Other,
}

impl From<Param> for PolicyParameter {
    fn from(p: Param) -> Self {
        match p {
            Param::PolicyRoot => PolicyParameter::Root,
            Param::PolicyThreshold => PolicyParameter::Threshold,
            Param::PolicySMax => PolicyParameter::SMax,
            Param::PolicyRate => PolicyParameter::SyntheticRate,
            Param::PolicyWindow => PolicyParameter::WindowLength,
            // `Param` is non-exhaustive: a rule added to core later is reported, not lost.
            _ => PolicyParameter::Other,
        }
    }
}

impl From<std::io::Error> for BlindMatchError {
    fn from(e: std::io::Error) -> Self {
        CoreError::from(e).into()
    }
}

/// Result alias for exported calls.
pub type Result<T, E = BlindMatchError> = core::result::Result<T, E>;

/// Run an exported call's body, turning a panic into [`BlindMatchError::Internal`].
///
/// Core is written not to panic on any input; this guard is the last line, never the
/// mechanism. The panic payload is not forwarded (it could name internal state).
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(BlindMatchError::Internal {
            reason: "a panic was caught at the FFI boundary (this is a bug in blindmatch)".into(),
        })
    })
}

/// A `BadInput` error (not from a hash list) with a fixed reason.
pub(crate) fn bad_input(reason: &str) -> BlindMatchError {
    BlindMatchError::BadInput {
        reason: reason.to_owned(),
        line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blindmatch_core::{Field, HashKind, HashProblem, Object, Param};

    #[test]
    fn a_panic_becomes_internal() {
        let r: Result<u32> = guard(|| panic!("boom with secret 0xdeadbeef"));
        match r {
            Err(BlindMatchError::Internal { reason }) => assert!(!reason.contains("deadbeef")),
            other => panic!("expected Internal, got {other:?}"),
        }
        assert_eq!(guard(|| Ok(7)), Ok(7));
    }

    #[test]
    fn core_errors_map_to_small_categories() {
        let cases = [
            (
                CoreError::Truncated {
                    object: Object::Voucher,
                },
                "BadInput",
            ),
            (
                CoreError::UnsupportedVersion {
                    object: Object::Database,
                    found: 9,
                },
                "UnsupportedVersion",
            ),
            (CoreError::BadSignature, "VerificationFailed"),
            (CoreError::RootHashMismatch, "VerificationFailed"),
            (CoreError::WrongSecretKey, "WrongKey"),
            (
                CoreError::KindNotListed {
                    kind: HashKind::Pdq,
                },
                "KindNotListed",
            ),
            (CoreError::EncodingFailed { attempts: 3 }, "BuildFailed"),
            (CoreError::OutsideSchedule, "OutsideSchedule"),
            (
                CoreError::StaleWindow {
                    window: 1,
                    newest: 2,
                },
                "StaleWindow",
            ),
            (CoreError::ManifestChanged { window: 1 }, "ManifestChanged"),
            (
                CoreError::PolicyRefused {
                    param: Param::PolicyThreshold,
                },
                "PolicyRefused",
            ),
            (
                CoreError::WrongWindow {
                    record: 1,
                    account: 2,
                },
                "WrongWindow",
            ),
            (
                CoreError::Io {
                    kind: std::io::ErrorKind::NotFound,
                },
                "Io",
            ),
            // Fuzzy databases and probe bundles: structural, so BadInput.
            (
                CoreError::InvalidParameter {
                    param: Param::NotFuzzy,
                },
                "BadInput",
            ),
            (
                CoreError::OutOfRange {
                    field: Field::BundleLayers,
                },
                "BadInput",
            ),
            (
                CoreError::OutOfRange {
                    field: Field::ManifestFuzzy,
                },
                "BadInput",
            ),
            (
                CoreError::Truncated {
                    object: Object::Bundle,
                },
                "BadInput",
            ),
            (
                CoreError::BadMagic {
                    object: Object::Bundle,
                },
                "BadInput",
            ),
            (
                CoreError::UnsupportedVersion {
                    object: Object::Bundle,
                    found: 2,
                },
                "UnsupportedVersion",
            ),
        ];
        for (e, want) in cases {
            let got = format!("{:?}", BlindMatchError::from(e));
            assert!(got.starts_with(want), "{got} should be {want}");
        }
    }

    #[test]
    fn fields_apps_branch_on_are_carried() {
        let e = BlindMatchError::from(CoreError::WrongEpoch {
            voucher: 4,
            database: 3,
        });
        match e {
            BlindMatchError::WrongEpoch {
                voucher_epoch: 4,
                database_epoch: 3,
                reason,
            } => assert!(
                reason.contains("epoch 4") && reason.contains("epoch 3"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            BlindMatchError::from(CoreError::StaleWindow {
                window: 4,
                newest: 5
            }),
            BlindMatchError::StaleWindow {
                reason: "window 4 is older than window 5, which this device has already used"
                    .into(),
                window: 4,
                newest_window: 5,
            }
        );
        assert!(matches!(
            BlindMatchError::from(CoreError::ManifestChanged { window: 9 }),
            BlindMatchError::ManifestChanged { window: 9, .. }
        ));
        assert!(matches!(
            BlindMatchError::from(CoreError::WrongWindow {
                record: 3,
                account: 2
            }),
            BlindMatchError::WrongWindow {
                record_window: 3,
                account_window: 2,
                ..
            }
        ));
        match BlindMatchError::from(CoreError::PolicyRefused {
            param: Param::PolicyThreshold,
        }) {
            BlindMatchError::PolicyRefused {
                reason,
                parameter: PolicyParameter::Threshold,
            } => assert!(reason.contains("threshold")),
            other => panic!("{other:?}"),
        }
        for (param, want) in [
            (Param::PolicyRoot, PolicyParameter::Root),
            (Param::PolicySMax, PolicyParameter::SMax),
            (Param::PolicyRate, PolicyParameter::SyntheticRate),
            (Param::PolicyWindow, PolicyParameter::WindowLength),
        ] {
            match BlindMatchError::from(CoreError::PolicyRefused { param }) {
                BlindMatchError::PolicyRefused { parameter, reason } => {
                    assert_eq!(parameter, want);
                    assert_eq!(
                        reason,
                        format!("the device policy refuses this database: {param}")
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let e = BlindMatchError::from(CoreError::HashList {
            line: 12,
            problem: HashProblem::NotHex,
        });
        assert!(
            matches!(&e, BlindMatchError::BadInput { line: Some(12), reason } if reason.contains("line 12")),
            "{e:?}"
        );
    }
}
