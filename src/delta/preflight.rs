//! The whole-file work before a merge writes: the target's health check and
//! its backup. Both read every page of the file, and neither needs PostgreSQL,
//! so they run on threads of their own while the merge finds the changed rows
//! (mostly PostgreSQL's work), instead of one after the other before it.
//!
//! The promises stand:
//! - nothing is written before the check has passed: the merge waits for it
//!   (and for the backup) before its first write;
//! - no copy of a damaged file becomes a backup: the copy keeps its temporary
//!   name until the check has passed, and is removed when it fails;
//! - when the check finds damage, that is the error the run ends with, whatever
//!   else failed meanwhile (reading a damaged file can fail in other ways first).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::sink::health::CheckBeside;

use super::steps::{Safeguard, Taking};
use super::{steps, Apply, BackupPolicy};

/// The backup a merge asks for once it knows it will write.
pub(super) struct Order {
    pub(super) apply: Apply,
    pub(super) policy: BackupPolicy,
    pub(super) run_at: String,
    pub(super) progress: Arc<Progress>,
}

/// The health check, and the backup's copy, running beside the merge's reads.
pub(super) struct Preflight {
    path: PathBuf,
    check: Option<CheckBeside>,
    copy: Option<JoinHandle<Result<Option<Taking>>>>,
}

fn spawn<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<JoinHandle<Result<T>>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map_err(|e| Error::Aborted(format!("cannot start the target's {name}: {e}")))
}

/// The thread's result; `None` for a thread never started (or joined before).
fn join<T>(thread: Option<JoinHandle<Result<T>>>, what: &str) -> Option<Result<T>> {
    thread.map(|t| {
        t.join()
            .unwrap_or_else(|_| Err(Error::Aborted(format!("the target's {what} panicked"))))
    })
}

impl Preflight {
    /// Starts checking the target at once, unless it is exactly as this tool
    /// last left it sound (`sink::seal`).
    pub(super) fn start(path: &Path) -> Result<Preflight> {
        Ok(Preflight {
            path: path.to_path_buf(),
            check: CheckBeside::start_unless_unchanged(path)?,
            copy: None,
        })
    }

    /// The check's result; `Ok` once taken before.
    fn check(&mut self) -> Result<()> {
        self.check.take().map_or(Ok(()), CheckBeside::wait)
    }

    /// Starts copying the target for its backup (as [`steps::backup`] decides
    /// for these settings), beside the check; the first order counts.
    pub(super) fn backup(&mut self, order: Order) -> Result<()> {
        if self.copy.is_some() {
            return Ok(());
        }
        let path = self.path.clone();
        self.copy = Some(spawn("backup", move || {
            steps::start_backup(
                &path,
                order.apply,
                order.policy,
                &order.run_at,
                &order.progress,
            )
        })?);
        Ok(())
    }

    /// Waits for the check and the backup ordered; to be called before the
    /// first write. The copy becomes the backup only once the check passed.
    pub(super) fn wait(&mut self) -> Result<Option<Safeguard>> {
        let check = self.check();
        let copy = join(self.copy.take(), "backup").unwrap_or(Ok(None));
        if let Err(damage) = check {
            if let Ok(Some(c)) = copy {
                c.discard();
            }
            return Err(damage);
        }
        copy?.map(Taking::keep).transpose()
    }

    /// The run's result; when it failed and the check failed too, the check's
    /// error, which a run that checked first would have stopped on. A copy
    /// the failed run never kept is removed.
    pub(super) fn settle<T>(mut self, result: Result<T>) -> Result<T> {
        let Err(e) = result else {
            return result;
        };
        let check = self.check();
        if let Some(Ok(Some(c))) = join(self.copy.take(), "backup") {
            c.discard();
        }
        Err(CheckBeside::outranks(check, e))
    }
}
