//! The staging file: a full sync writes a new database beside the target and
//! renames it into place only when everything succeeded, so a failure at any
//! point leaves the previous target untouched.
//!
//! The staging file is locked while in use. A staging file that nobody holds a
//! lock on was left by a run that was killed; the next run clears it and says so.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Whether an existing target may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingTarget {
    Refuse,
    Replace,
}

/// Checks the target before anything else happens: its directory exists, and an
/// existing file is a SQLite database that the user allowed us to replace.
pub fn check_target(target: &Path, existing: ExistingTarget) -> Result<()> {
    let fail = |reason: String| Error::Target {
        path: target.to_path_buf(),
        reason,
    };
    let dir = parent_dir(target);
    if !dir.is_dir() {
        return Err(fail(format!(
            "directory {} does not exist; create it first",
            dir.display()
        )));
    }
    match std::fs::metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(format!("cannot inspect it: {e}"))),
        Ok(m) if m.is_dir() => Err(fail("is a directory, not a SQLite file".into())),
        Ok(m) => {
            if m.len() > 0 && !is_sqlite_file(target)? {
                return Err(fail(
                    "exists and is not a SQLite database; refusing to replace it \
                     (choose another --target or move the file away)"
                        .into(),
                ));
            }
            match existing {
                ExistingTarget::Replace => settle_sidecars(target),
                ExistingTarget::Refuse => Err(fail(
                    "already exists; pass --since TIME to merge the rows changed since \
                     then into it, or --full to replace it with a fresh copy (the old file is \
                     only replaced once the new one is complete)"
                        .into(),
                )),
            }
        }
    }
}

/// A `-wal` or hot `-journal` beside the target belongs to the old database: left
/// there, SQLite would replay it into the new file. Opening and closing the old
/// database the way SQLite itself does folds them back in (or rolls them back);
/// if they are still there afterwards, a program has the file open.
pub fn settle_sidecars(target: &Path) -> Result<()> {
    let present = || -> Vec<PathBuf> {
        ["-wal", "-journal"]
            .iter()
            .map(|s| sidecar(target, s))
            .filter(|p| p.exists())
            .collect()
    };
    if present().is_empty() {
        return Ok(());
    }
    let fail = |reason: String| Error::Target {
        path: target.to_path_buf(),
        reason,
    };
    {
        let conn = rusqlite::Connection::open(target)
            .map_err(|e| fail(format!("cannot open it to settle its journal: {e}")))?;
        conn.query_row("PRAGMA schema_version", [], |_| Ok(()))
            .map_err(|e| fail(format!("cannot read it to settle its journal: {e}")))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| fail(format!("cannot read its journal mode: {e}")))?;
        if mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| fail(format!("cannot checkpoint its WAL: {e}")))?;
        }
        conn.close()
            .map_err(|(_, e)| fail(format!("cannot close it: {e}")))?;
    }
    remove_stale_journal(target).map_err(|e| fail(format!("cannot settle its journal: {e}")))?;
    let left: Vec<String> = present().iter().map(|p| p.display().to_string()).collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(fail(format!(
            "is in use by another program ({} still exists after closing it); stop the \
             application using it, then run again",
            left.join(", ")
        )))
    }
}

/// Removes a `-journal` SQLite left because its writer died before syncing it
/// (a process killed early in a write transaction): its header is still zero,
/// so it is not hot — the database was not written yet and SQLite ignores it,
/// leaving it for the next writer to overwrite. It is removed only while this
/// connection holds the write lock, so it cannot be the journal of a writer
/// still running; with one running, the journal stays (and the caller says the
/// file is in use).
fn remove_stale_journal(target: &Path) -> rusqlite::Result<()> {
    let journal = sidecar(target, "-journal");
    let stale = |journal: &Path| -> bool {
        let mut first = [0u8; 1];
        match File::open(journal) {
            Ok(mut f) => f
                .read(&mut first)
                .map(|n| n == 0 || first[0] == 0)
                .unwrap_or(false),
            Err(_) => false,
        }
    };
    if !stale(&journal) {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(target)?;
    conn.busy_timeout(std::time::Duration::ZERO)?;
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        return Ok(()); // another connection is writing
    }
    // Still stale under the lock: nobody can start writing into it now.
    if stale(&journal) {
        let _ = std::fs::remove_file(&journal);
    }
    conn.execute_batch("ROLLBACK")?;
    Ok(())
}

/// Refuses a target whose directory cannot be written (a read-only mount, no
/// permission): a merge needs its journal there, a backup its copy.
pub fn check_writable(target: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let dir = parent_dir(target);
    let Ok(c_dir) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: `c_dir` is a valid NUL-terminated path.
    if unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    Err(Error::Target {
        path: target.to_path_buf(),
        reason: format!(
            "its directory {} cannot be written ({e}); the merge's journal and the backup go \
             there. Nothing was written",
            dir.display()
        ),
    })
}

/// Whether the file starts with SQLite's header.
pub fn is_sqlite_file(path: &Path) -> Result<bool> {
    let mut f = File::open(path).map_err(Error::io(path))?;
    let mut header = [0u8; 16];
    match f.read_exact(&mut header) {
        Ok(()) => Ok(&header == SQLITE_MAGIC),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// The directory a target's side files go in (`.` for a bare file name).
pub(crate) fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The staging path for a target: hidden, in the same directory (so the final
/// rename is atomic), named after the target.
pub fn staging_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target".into());
    parent_dir(target).join(format!(".{name}.pg2sqlite-staging"))
}

/// A locked staging file; removed on drop unless published.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    path: PathBuf,
    _lock: File,
    published: bool,
    /// The target it started from was in WAL mode, which publishing restores.
    wal: bool,
    /// Writing the copied pages to disk, started before verification.
    flushing: Option<std::thread::JoinHandle<()>>,
}

/// The summary's note on a stale staging file [`Staging::create`] cleared.
pub fn stale_note(stale: &Path) -> String {
    format!(
        "removed a staging file left by an interrupted run: {}",
        stale.display()
    )
}

impl Staging {
    /// Creates (or takes over a stale) staging file. Returns the path of a stale
    /// staging file it cleared, if any.
    pub fn create(target: &Path) -> Result<(Staging, Option<PathBuf>)> {
        // A target that is a symbolic link: the file it points to is replaced
        // (staged beside it), so the link keeps working and nothing else moves.
        let resolved = match std::fs::symlink_metadata(target) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(target).map_err(|e| Error::Target {
                    path: target.to_path_buf(),
                    reason: format!(
                        "is a symbolic link to a file that cannot be reached ({e}); point it at \
                         a file or remove it"
                    ),
                })?
            }
            _ => target.to_path_buf(),
        };
        let target = resolved.as_path();
        let path = staging_path(target);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Target {
                path: target.to_path_buf(),
                reason: format!(
                    "cannot create the staging file {}: {e} (is the directory writable?)",
                    path.display()
                ),
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Target {
                    path: target.to_path_buf(),
                    reason: format!(
                        "another pg2sqlite run is writing it (staging file {} is locked)",
                        path.display()
                    ),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path)(e)),
        }
        // A killed run's rows go. A file truncated to nothing is one ext4
        // guards against replacing by truncation ("auto_da_alloc"): the next
        // close of it writes back every page written since, which made the
        // writer's close of the 1M-row wide table's 430 MB take 0.2 s on the
        // critical path, where the flush beside verification does it anyway.
        // So a new file is not truncated, and a stale one is closed once
        // while it is empty, which clears the guard.
        if file.metadata().map_err(Error::io(&path))?.len() > 0 {
            file.set_len(0).map_err(Error::io(&path))?;
            drop(File::open(&path).map_err(Error::io(&path))?);
        }
        // Before any row is in it: no wider access than the file it replaces.
        super::access::match_target(target, &file, &path)?;
        for side in side_files(&path) {
            std::fs::remove_file(&side).map_err(Error::io(&side))?;
        }
        Ok((
            Staging {
                target: target.to_path_buf(),
                path: path.clone(),
                _lock: file,
                published: false,
                flushing: None,
                wal: false,
            },
            existed.then_some(path),
        ))
    }

    /// Removes the staging file a killed full sync left beside `target`, for a
    /// run that writes the target in place (a delta merge); refuses while
    /// another run still holds it. Returns the path removed, if any.
    pub fn clear_stale(target: &Path) -> Result<Option<PathBuf>> {
        if !staging_path(target).exists() {
            return Ok(None);
        }
        let (staging, stale) = Staging::create(target)?;
        // Dropping an unpublished staging file removes it and its side files.
        drop(staging);
        Ok(stale)
    }

    /// The file the staging file replaces when published.
    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the staging file as a copy of the target, for a sync that writes
    /// into the target's existing tables and keeps the rest of the file.
    /// `check_target` settled the target's journal before this.
    pub fn start_from_target(&mut self) -> Result<()> {
        std::fs::copy(&self.target, &self.path).map_err(|e| Error::Target {
            path: self.target.clone(),
            reason: format!(
                "cannot copy it to the staging file {}: {e}",
                self.path.display()
            ),
        })?;
        // Header bytes 18 and 19 are 2 in a WAL-mode database. The writer
        // loads without a journal and leaves the file in rollback mode.
        let mut header = [0u8; 20];
        File::open(&self.path)
            .and_then(|mut f| f.read_exact(&mut header))
            .map_err(Error::io(&self.path))?;
        self.wal = header[18] == 2;
        Ok(())
    }

    /// Starts writing the copied pages to disk on a thread of its own while
    /// the CPU-bound verification and the base run: the disk is idle then, and
    /// the sync before the rename finds little left to write (it took 2 s on
    /// a 780 MB file when it did it all). Errors are the final sync's to report.
    pub fn flush_in_background(&mut self) {
        let path = self.path.clone();
        self.flushing = Some(std::thread::spawn(move || {
            if let Ok(f) = File::open(&path) {
                let _ = f.sync_data();
            }
        }));
    }

    /// Makes the staging file durable and renames it over the target.
    pub fn publish(mut self) -> Result<()> {
        if let Some(flushing) = self.flushing.take() {
            // A panic there is no reason not to publish: sync_all below decides.
            let _ = flushing.join();
        }
        if self.wal {
            // Back to WAL mode, as the app left its file. Closing the only
            // connection checkpoints and removes the -wal and -shm files.
            let conn = rusqlite::Connection::open(&self.path)
                .map_err(Error::sqlite("opening to restore WAL mode", &self.path))?;
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(Error::sqlite("restoring WAL mode", &self.path))?;
            conn.close()
                .map_err(|(_, e)| Error::sqlite("closing", &self.path)(e))?;
        }
        let f = File::open(&self.path).map_err(Error::io(&self.path))?;
        f.sync_all().map_err(Error::io(&self.path))?;
        // The old target may have been opened since the run started.
        settle_sidecars(&self.target)?;
        crate::failpoint::hit("publish.before-rename")?;
        std::fs::rename(&self.path, &self.target).map_err(|e| Error::Target {
            path: self.target.clone(),
            reason: format!("cannot rename {} into place: {e}", self.path.display()),
        })?;
        self.published = true;
        crate::failpoint::hit("publish.after-rename")?;
        // The rename is durable only once the directory is synced.
        let dir = parent_dir(&self.target);
        if let Ok(d) = File::open(&dir) {
            d.sync_all().map_err(Error::io(&dir))?;
        }
        // Built from nothing by SQLite alone.
        super::seal::record(&self.target);
        Ok(())
    }
}

/// A side file of the staging file at `path`: `<path><suffix>`, as SQLite
/// names its journal (`-journal`, `-wal`, `-shm`) and a full sync its base's
/// pair files (`-base-N`, `merge::base_pairs`).
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The entries beside `target` whose names extend that of `named` (a path
/// beside it, such as `TARGET.pg2sqlite-backup-`) and that `keep` accepts, in
/// name order: this tool's stamped backups and undos, whose stamps sort by
/// time.
pub fn named_beside(
    target: &Path,
    named: &Path,
    keep: impl Fn(&str, std::fs::FileType) -> bool,
) -> std::io::Result<Vec<PathBuf>> {
    let prefix = named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found: Vec<PathBuf> = std::fs::read_dir(parent_dir(target))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.len() > prefix.len()
                && name.starts_with(&prefix)
                && e.file_type().is_ok_and(|t| keep(&name, t))
        })
        .map(|e| target.with_file_name(e.file_name()))
        .collect();
    found.sort();
    Ok(found)
}

/// The side files of the staging file at `path` that exist: every file of its
/// directory named `<staging file>-…`. A killed run leaves them behind with
/// the staging file; they go with it.
fn side_files(path: &Path) -> Vec<PathBuf> {
    let (Some(name), Ok(entries)) = (path.file_name(), std::fs::read_dir(parent_dir(path))) else {
        return Vec::new();
    };
    let prefix = format!("{}-", name.to_string_lossy());
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
            for side in side_files(&self.path) {
                let _ = std::fs::remove_file(side);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_never_synced_is_removed_unless_a_writer_holds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("app.db");
        let journal = sidecar(&t, "-journal");
        rusqlite::Connection::open(&t)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        // What a process killed before its journal's first sync leaves.
        std::fs::write(&journal, [0u8; 512]).unwrap();
        let writer = rusqlite::Connection::open(&t).unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = settle_sidecars(&t).unwrap_err();
        assert!(e.to_string().contains("in use by another program"), "{e}");
        assert!(journal.exists(), "a running writer's journal stays");
        writer.execute_batch("ROLLBACK").unwrap();
        drop(writer);
        settle_sidecars(&t).unwrap();
        assert!(!journal.exists());
        let n: i64 = rusqlite::Connection::open(&t)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn refuses_non_sqlite_and_existing_without_full() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("app.db");
        std::fs::write(&t, b"hello, not sqlite").unwrap();
        let e = check_target(&t, ExistingTarget::Replace).unwrap_err();
        assert!(e.to_string().contains("not a SQLite database"), "{e}");
        std::fs::write(&t, b"SQLite format 3\0rest").unwrap();
        assert!(check_target(&t, ExistingTarget::Refuse).is_err());
        assert!(check_target(&t, ExistingTarget::Replace).is_ok());
        assert!(check_target(&dir.path().join("none/x.db"), ExistingTarget::Refuse).is_err());
    }

    #[test]
    fn stale_staging_is_reported_and_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("app.db");
        std::fs::write(staging_path(&t), b"leftover").unwrap();
        let left_side = sidecar(&staging_path(&t), "-base-3");
        std::fs::write(&left_side, b"pairs").unwrap();
        // The target's own journal is not the staging file's.
        std::fs::write(dir.path().join("app.db-journal"), b"j").unwrap();
        let (s, stale) = Staging::create(&t).unwrap();
        assert_eq!(stale.as_deref(), Some(s.path()));
        assert_eq!(
            std::fs::metadata(s.path()).unwrap().len(),
            0,
            "a killed run's rows are emptied out"
        );
        assert!(!left_side.exists(), "a killed run's side file is removed");
        assert!(dir.path().join("app.db-journal").exists());
        std::fs::write(sidecar(s.path(), "-base-0"), b"pairs").unwrap();
        assert!(
            Staging::create(&t).is_err(),
            "second writer must be refused"
        );
        let p = s.path().to_path_buf();
        drop(s);
        assert!(!p.exists(), "unpublished staging file is removed");
        assert!(!sidecar(&p, "-base-0").exists(), "and its side files");
    }
}
