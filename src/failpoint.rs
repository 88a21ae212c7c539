//! Failpoints for the crash-test suite (`tests/integration/crash.rs`): named
//! places at the stage boundaries of a full sync, a delta merge, an export and
//! an import where a test makes the run fail, as an error or as a kill.
//!
//! Compiled in only with the `failpoints` feature (`cargo test --features
//! failpoints`, as `.ci/run` does); in every other build [`hit`] is an empty
//! inline function. The test names one point and what happens there in
//! `PG2SQLITE_FAILPOINT=NAME=error|kill`; `kill` is SIGKILL, which no cleanup
//! code sees.

use crate::error::Result;

/// Every failpoint, so the test can go through all of them.
pub const ALL: &[&str] = &[
    // Full sync (and import of a full bundle): the staging file.
    "copy.after-batch",
    "copy.after-chunk",
    "copy.before-commit",
    "copy.after-commit",
    "publish.before-rename",
    "publish.after-rename",
    // Delta merge (live or from a bundle).
    "backup.mid-copy",
    "backup.before-rename",
    "merge.after-batch",
    "merge.before-commit",
    "undo.before-link",
    "merge.after-commit",
    "undo.before-rename",
    // Undo.
    "undo.journal-in-place",
    // Export.
    "export.after-file",
    "export.before-manifest",
    "export.before-rename",
];

/// Fails here if the test asked for `name`.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) -> Result<()> {
    let Ok(spec) = std::env::var("PG2SQLITE_FAILPOINT") else {
        return Ok(());
    };
    match spec.split_once('=') {
        Some((point, "error")) if point == name => Err(crate::error::Error::Aborted(format!(
            "failpoint {name} (PG2SQLITE_FAILPOINT)"
        ))),
        Some((point, "kill")) if point == name => {
            // SAFETY: kill with the process's own id has no preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) -> Result<()> {
    Ok(())
}
