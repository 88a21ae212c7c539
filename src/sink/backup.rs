//! The copy of the target taken before a delta merge changes it: the file's
//! bytes under a read transaction, which no writer can commit through, written
//! around the page cache (`direct_copy`); for a file in WAL mode, whose
//! committed pages are partly in the WAL, or where direct writes are not
//! taken, SQLite's online backup API. Both are consistent even if the app has
//! the file open.

use std::path::{Path, PathBuf};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;

use super::direct_copy::{self, Outcome};
use super::staging::{named_beside, parent_dir};
use crate::error::{Error, Result};

/// `app.db` → `app.db.pg2sqlite-backup-20251113T083000Z` beside it.
pub fn backup_path(target: &Path, stamp: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".pg2sqlite-backup-{stamp}"));
    target.with_file_name(name)
}

/// Refuses to start a merge whose backup the file system has no room for. A
/// copy is the size of the target; the merge's rollback journal (kept as the
/// undo, or removed at commit) holds the pages it changes, counted here as a
/// tenth of the file plus 8 MiB.
pub fn check_room(target: &Path, copy: bool) -> Result<()> {
    let size = std::fs::metadata(target).map_err(Error::io(target))?.len();
    let needed = if copy { size } else { 0 } + size / 10 + (8 << 20);
    let dir = parent_dir(target);
    let Some(free) = free_bytes(&dir) else {
        return Ok(());
    };
    if free >= needed {
        return Ok(());
    }
    Err(Error::Target {
        path: target.to_path_buf(),
        reason: format!(
            "{} need about {} MiB beside it, and {} has {} MiB \
             free; nothing was written. Free space there, or merge without a backup \
             (--no-backup) if you have one of your own",
            if copy {
                "the backup and the merge's journal"
            } else {
                "the merge's journal (kept as its undo)"
            },
            needed >> 20,
            dir.display(),
            free >> 20
        ),
    })
}

/// Bytes an unprivileged process may still write in `dir`'s file system.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into `stat`, which outlives the call; `c_path` is a
    // valid NUL-terminated string.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stat) != 0 {
            return None;
        }
        // Both are u64 on 64-bit Linux but narrower elsewhere.
        #[allow(clippy::useless_conversion)]
        let free = u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize));
        Some(free)
    }
}

/// Removes the oldest of this tool's backups of `target` beyond the newest
/// `keep`; returns the ones removed.
pub fn prune(target: &Path, keep: std::num::NonZeroUsize) -> Result<Vec<PathBuf>> {
    let all = backups_of(target).map_err(Error::io(target))?;
    remove_oldest(all, keep, |p| std::fs::remove_file(p))
}

/// Removes the oldest of `all` (oldest first) beyond the newest `keep` with
/// `remove`; returns the ones removed.
pub fn remove_oldest(
    all: Vec<PathBuf>,
    keep: std::num::NonZeroUsize,
    remove: impl Fn(&Path) -> std::io::Result<()>,
) -> Result<Vec<PathBuf>> {
    let excess = all.len().saturating_sub(keep.get());
    let mut removed = Vec::new();
    for old in all.into_iter().take(excess) {
        remove(&old).map_err(Error::io(&old))?;
        removed.push(old);
    }
    Ok(removed)
}

/// Every file beside `target` named as this tool's backups of it are
/// (`TARGET.pg2sqlite-backup-STAMP`, with `.partial` while being written), in
/// name order, which is time order.
fn backup_files(target: &Path) -> std::io::Result<Vec<PathBuf>> {
    named_beside(target, &backup_path(target, ""), |_, t| t.is_file())
}

fn is_partial(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "partial")
}

/// Removes `TARGET.pg2sqlite-backup-*.partial` files.
fn remove_stale_partials(target: &Path) {
    for partial in backup_files(target)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| is_partial(p))
    {
        let _ = std::fs::remove_file(partial);
    }
}

/// This tool's complete backups of `target`, oldest first (`.partial` files
/// are not backups).
pub fn backups_of(target: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(backup_files(target)?
        .into_iter()
        .filter(|p| !is_partial(p))
        .collect())
}

/// A backup whose pages are written and which is being made durable: syncing a
/// file the size of the database takes as long as the copy itself, so it runs
/// beside the merge, which waits for it only before it commits.
pub struct PendingBackup {
    path: PathBuf,
    sync: std::thread::JoinHandle<Result<()>>,
}

impl PendingBackup {
    /// Waits until the backup is synced and under its final name.
    pub fn finish(self) -> Result<PathBuf> {
        match self.sync.join() {
            Ok(r) => r.map(|()| self.path),
            Err(_) => Err(Error::Aborted("the backup's sync thread panicked".into())),
        }
    }
}

/// Copies the database `from` (an open connection to the target) to `to`. The
/// copy is written under a temporary name, synced, and renamed, so a backup file
/// that exists is complete.
pub fn take(from: &Connection, target: &Path, to: &Path) -> Result<PendingBackup> {
    copy(from, target, to)?.keep()
}

/// A backup whose pages are all copied, still under its temporary name: it
/// becomes a backup only once [`Copied::keep`] is called.
pub struct Copied {
    partial: PathBuf,
    to: PathBuf,
}

impl Copied {
    /// Makes the copy durable and gives it its name, beside the caller's work.
    pub fn keep(self) -> Result<PendingBackup> {
        let Copied { partial, to } = self;
        let final_path = to.clone();
        let sync = std::thread::Builder::new()
            .name("backup-sync".into())
            .spawn(move || {
                let durable = std::fs::File::open(&partial)
                    .and_then(|file| file.sync_all())
                    .map_err(Error::io(&partial))
                    .and_then(|()| crate::failpoint::hit("backup.before-rename"))
                    .and_then(|()| {
                        std::fs::rename(&partial, &final_path).map_err(Error::io(&final_path))
                    });
                if let Err(e) = durable {
                    // Never a backup: the room goes back now.
                    let _ = std::fs::remove_file(&partial);
                    return Err(e);
                }
                if let Some(dir) = final_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // The rename is durable once the directory is synced.
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                Ok(())
            })
            .map_err(|e| Error::Aborted(format!("cannot start the backup's sync thread: {e}")))?;
        Ok(PendingBackup { path: to, sync })
    }

    /// Removes the copy: it is of a file found damaged, not a backup.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// The first half of [`take`]: every page copied to `to`'s temporary name.
pub fn copy(from: &Connection, target: &Path, to: &Path) -> Result<Copied> {
    let partial = {
        let mut n = to.as_os_str().to_os_string();
        n.push(".partial");
        PathBuf::from(n)
    };
    // Partial backups an earlier run left when it was killed: never complete,
    // never to be restored.
    remove_stale_partials(target);
    {
        // Created empty with the target's access before SQLite writes a page.
        let file = std::fs::File::create(&partial).map_err(Error::io(&partial))?;
        super::access::match_target(target, &file, &partial)?;
        drop(file);
        let copied = crate::failpoint::hit("backup.mid-copy").and_then(|()| {
            if copy_bytes(from, target, &partial)? == Outcome::Unsupported {
                copy_pages(from, &partial, to)?;
            }
            Ok(())
        });
        // A copy that failed (a full disk, most likely) gives its room back now.
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    }
    Ok(Copied {
        partial,
        to: to.to_path_buf(),
    })
}

/// The target's bytes copied to `partial` under a read transaction of `from`:
/// in rollback-journal mode no one can write the file while it lasts.
/// `Unsupported`, with `partial` left empty, for a file in WAL mode, a
/// connection inside a transaction, or a file system without direct writes.
fn copy_bytes(from: &Connection, target: &Path, partial: &Path) -> Result<Outcome> {
    let fail = |doing: &'static str| Error::sqlite(doing, target);
    // A connection inside a transaction may have written pages of it already.
    if !from.is_autocommit() {
        return Ok(Outcome::Unsupported);
    }
    // A writer committing holds the file briefly; an application holding it
    // longer fails the merge instead of stalling it without end.
    from.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(fail("starting the backup's read"))?;
    from.execute_batch("BEGIN")
        .map_err(fail("starting the backup's read"))?;
    // The mode is read under the lock: no one can switch it to WAL meanwhile.
    let copied = from
        .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .and_then(|()| from.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)))
        .map_err(fail("starting the backup's read"))
        .and_then(|mode| {
            if mode.eq_ignore_ascii_case("wal") {
                return Ok(Outcome::Unsupported);
            }
            let file = std::fs::File::open(target).map_err(Error::io(target))?;
            let len = file.metadata().map_err(Error::io(target))?.len();
            direct_copy::copy(&file, partial, len).map_err(Error::io(partial))
        });
    let ended = from
        .execute_batch("COMMIT")
        .map_err(fail("ending the backup's read"));
    let copied = copied?;
    ended?;
    Ok(copied)
}

/// Every page of `from` copied to `partial` with SQLite's online backup API;
/// errors name the backup `to`.
fn copy_pages(from: &Connection, partial: &Path, to: &Path) -> Result<()> {
    let fail = |doing: &str| {
        let doing = doing.to_owned();
        move |source: rusqlite::Error| Error::Sqlite {
            doing,
            path: to.to_path_buf(),
            source,
        }
    };
    let mut dst = Connection::open(partial).map_err(fail("creating the backup"))?;
    dst.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(fail("creating the backup"))?;
    let backup = Backup::new(from, &mut dst).map_err(fail("starting the backup"))?;
    loop {
        // All pages in one step: the source is not locked for longer than a
        // file copy takes, and nothing else writes it during a merge.
        match backup.step(-1).map_err(fail("copying the target"))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_is_a_complete_database_under_the_final_name() -> Result<()> {
        let dir = tempfile::tempdir().map_err(Error::io("tempdir"))?;
        let target = dir.path().join("app.db");
        let conn = Connection::open(&target).map_err(Error::sqlite("open", &target))?;
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);")
            .map_err(Error::sqlite("fill", &target))?;
        let to = backup_path(&target, "20251113T083000Z");
        assert_eq!(
            to.file_name().and_then(|n| n.to_str()),
            Some("app.db.pg2sqlite-backup-20251113T083000Z")
        );
        let done = take(&conn, &target, &to)?.finish()?;
        assert_eq!(done, to);
        assert_eq!(
            backups_of(&target).map_err(Error::io("list"))?,
            vec![to.clone()]
        );
        let copy = Connection::open(&to).map_err(Error::sqlite("open", &to))?;
        let n: i64 = copy
            .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
            .map_err(Error::sqlite("read", &to))?;
        assert_eq!(n, 3);
        Ok(())
    }
}
