//! The undo of a delta merge: the merge's own rollback journal, kept.
//!
//! SQLite writes the original bytes of every page a transaction changes into
//! `TARGET-journal` before it changes them, and deletes that file once the
//! transaction has committed. Just before the merge commits, this tool gives
//! the journal a second name (a hard link) inside
//! `TARGET.pg2sqlite-undo-STAMP.partial/`; SQLite's commit then syncs it and
//! removes only its own name. What stays is exactly the journal that would
//! have rolled the merge back, written anyway, so the undo costs no copy: its
//! size is that of the pages the merge changed, not of the file.
//!
//! It undoes the merge only on the file exactly as the merge left it: played
//! over later writes it would mix pages of two states. The directory keeps
//! `after.json`, the file's device, inode, size, modification time and change
//! counter after the commit, and `pg2sqlite undo` refuses a file that no
//! longer matches. A file in WAL mode has no rollback journal; its merges
//! take a full copy instead (`sink::backup`).

use std::path::{Path, PathBuf};

use super::rollback_journal::{self, Journal};
use super::seal::Seal;
use super::staging::{named_beside, parent_dir, sidecar};
use crate::error::{Error, Result};

const JOURNAL: &str = "journal";
const AFTER: &str = "after.json";

/// The file SQLite opens for `target`: it resolves symbolic links and keeps
/// the journal beside the file itself, so the undo lives there too (a hard
/// link cannot leave its file system).
fn real(target: &Path) -> PathBuf {
    std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf())
}

/// `app.db` → `app.db.pg2sqlite-undo-20251113T083000Z` beside it.
pub fn undo_path(target: &Path, stamp: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".pg2sqlite-undo-{stamp}"));
    target.with_file_name(name)
}

/// Every directory beside `target` named as this tool's undos of it are, in
/// name order, which is time order; `.partial` ones too when `partial`.
fn undo_dirs(target: &Path, partial: bool) -> std::io::Result<Vec<PathBuf>> {
    named_beside(target, &undo_path(target, ""), |name, t| {
        t.is_dir() && name.ends_with(".partial") == partial
    })
}

/// This tool's complete undos of `target`, oldest first.
pub fn undos_of(target: &Path) -> std::io::Result<Vec<PathBuf>> {
    let target = &real(target);
    undo_dirs(target, false)
}

/// Removes the oldest undos of `target` beyond the newest `keep`; returns the
/// ones removed.
pub fn prune(target: &Path, keep: std::num::NonZeroUsize) -> Result<Vec<PathBuf>> {
    let target = &real(target);
    let all = undos_of(target).map_err(Error::io(target))?;
    super::backup::remove_oldest(all, keep, |p| std::fs::remove_dir_all(p))
}

/// Whether the connection's database keeps a rollback journal (is not in WAL
/// mode): only then is there a journal to keep.
pub fn journals(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    Ok(mode.eq_ignore_ascii_case("delete"))
}

/// An undo to be kept when the merge commits.
#[derive(Debug)]
pub struct Planned {
    to: PathBuf,
}

/// The merge's journal, linked under the undo's temporary name; the commit
/// has not happened yet. Dropped without [`Linked::keep`] (the merge failed),
/// it is removed.
#[derive(Debug)]
pub struct Linked {
    partial: PathBuf,
    to: PathBuf,
    kept: bool,
}

impl Drop for Linked {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

impl Planned {
    pub fn new(target: &Path, stamp: &str) -> Planned {
        Planned {
            to: undo_path(&real(target), stamp),
        }
    }

    /// The undo's final name.
    pub fn path(&self) -> &Path {
        &self.to
    }

    /// Links the merge's journal aside; to be called inside the transaction,
    /// after its last write and before `COMMIT`. Every page the merge changed
    /// is in the journal by then: SQLite writes a page's original there
    /// before it changes the page.
    pub fn link_journal(self, target: &Path) -> Result<Linked> {
        let target = &real(target);
        let partial = sidecar(&self.to, ".partial");
        // Partial undos earlier runs left when they were killed: their merges
        // either never committed or committed without an undo kept. No other
        // merge is at this point now: this one holds the file's write lock.
        for stale in undo_dirs(target, true).unwrap_or_default() {
            std::fs::remove_dir_all(&stale).map_err(Error::io(&stale))?;
        }
        std::fs::create_dir(&partial).map_err(Error::io(&partial))?;
        let journal = sidecar(target, "-journal");
        let linked = crate::failpoint::hit("undo.before-link").and_then(|()| {
            std::fs::hard_link(&journal, partial.join(JOURNAL)).map_err(|e| Error::Target {
                path: target.to_path_buf(),
                reason: format!(
                    "cannot keep the merge's journal {} as its undo ({e}); nothing was \
                     changed. Merge with --backup copy (a full copy) or --no-backup",
                    journal.display()
                ),
            })
        });
        if let Err(e) = linked {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
        Ok(Linked {
            partial,
            to: self.to,
            kept: false,
        })
    }
}

impl Linked {
    /// After the commit: notes the file as the merge left it and gives the
    /// undo its name. The journal itself was synced by SQLite's commit.
    pub fn keep(mut self, target: &Path) -> Result<PathBuf> {
        let target = &real(target);
        let after = Seal::of(target).ok_or_else(|| Error::Target {
            path: target.to_path_buf(),
            reason: "cannot be read after the merge's commit to note its undo".into(),
        })?;
        write_after(&self.partial, &after)
            .and_then(|()| crate::failpoint::hit("undo.before-rename"))
            .and_then(|()| std::fs::rename(&self.partial, &self.to).map_err(Error::io(&self.to)))?;
        self.kept = true;
        sync_dir(&parent_dir(target));
        Ok(self.to.clone())
    }
}

fn write_after(dir: &Path, after: &Seal) -> Result<()> {
    let path = dir.join(AFTER);
    let json = serde_json::to_vec(after).map_err(|e| Error::io(&path)(std::io::Error::other(e)))?;
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut &file, &json)?;
        file.sync_all()
    };
    write().map_err(Error::io(&path))?;
    sync_dir(dir);
    Ok(())
}

fn read_after(dir: &Path) -> Option<Seal> {
    serde_json::from_slice(&std::fs::read(dir.join(AFTER)).ok()?).ok()
}

/// Makes renames and links in `dir` durable; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A kept undo, checked against the target it would be played on.
#[derive(Debug)]
pub struct Applicable {
    pub dir: PathBuf,
    pub journal: Journal,
    /// The file is already as the undo restores it: an undo killed after it
    /// put the journal in place, which the next open of the file played.
    pub played: bool,
}

/// The newest undo of `target`, checked: the target is exactly as that
/// merge left it (or already as the undo restores it), and its journal is
/// whole. Nothing is changed.
pub fn newest_applicable(target: &Path) -> Result<Applicable> {
    let target = &real(target);
    let refuse = |reason: String| Error::Target {
        path: target.to_path_buf(),
        reason,
    };
    let dir = undos_of(target)
        .map_err(Error::io(target))?
        .pop()
        .ok_or_else(|| {
            refuse(format!(
                "no undo of it is kept ({} not found); a merge keeps one unless it ran \
                 with --no-backup or --backup copy (whose copy is restored by copying it \
                 over the file)",
                undo_path(target, "*").display()
            ))
        })?;
    if super::seal::has_pending_side_file(target) {
        return Err(refuse(
            "a journal or WAL is beside it: a program has it open or was stopped while \
             writing it. Close that program (or open the file once with sqlite3 so SQLite \
             settles it), then run undo again; nothing was changed"
                .into(),
        ));
    }
    let journal_path = dir.join(JOURNAL);
    let journal = rollback_journal::check_file(&journal_path)
        .map_err(Error::io(&journal_path))?
        .map_err(|e| {
            refuse(format!(
                "its undo's journal {} cannot be played back: {e}; nothing was changed",
                journal_path.display()
            ))
        })?;
    let page_size = page_size(target)?;
    if journal.page_size != page_size {
        return Err(refuse(format!(
            "its undo's journal {} is of pages of {} bytes and the file's are {page_size}: \
             it is not this file's; nothing was changed",
            journal_path.display(),
            journal.page_size
        )));
    }
    let now = Seal::of(target).ok_or_else(|| refuse("cannot be read".into()))?;
    let after = read_after(&dir).ok_or_else(|| {
        refuse(format!(
            "the undo {} has no readable note of the file it undoes ({AFTER}); nothing was \
             changed",
            dir.display()
        ))
    })?;
    if now == after {
        return Ok(Applicable {
            dir,
            journal,
            played: false,
        });
    }
    if restores_to(&journal, &now) && !restores_to(&journal, &after) {
        return Ok(Applicable {
            dir,
            journal,
            played: true,
        });
    }
    Err(refuse(format!(
        "it was written since the merge that {} undoes (then {} bytes, change counter \
         {}; now {} bytes, change counter {}, or another modification time): playing \
         that merge's journal back over later writes would mix pages of both. Nothing \
         was changed; restore a copy of the file instead",
        dir.display(),
        after.size(),
        after.change_counter(),
        now.size(),
        now.change_counter()
    )))
}

/// Whether `file` has the size and change counter `journal` restores.
fn restores_to(journal: &Journal, file: &Seal) -> bool {
    file.size() == journal.original_bytes()
        && journal
            .original_change_counter
            .is_none_or(|c| c == file.change_counter())
}

/// The database's page size, from its header.
fn page_size(target: &Path) -> Result<u32> {
    use std::io::Read;
    let mut header = [0u8; 18];
    std::fs::File::open(target)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(Error::io(target))?;
    Ok(super::health::header_page_size(&header))
}

/// Puts the undo's journal where SQLite looks for a journal to roll back, and
/// opens the file, which rolls it back.
fn put_in_place(target: &Path, dir: &Path, journal: &Journal) -> Result<()> {
    let hot = sidecar(target, "-journal");
    let staged = sidecar(target, "-journal.pg2sqlite-undo");
    // Written under another name and renamed: SQLite never sees half a journal.
    let copy = || -> std::io::Result<()> {
        std::fs::copy(dir.join(JOURNAL), &staged)?;
        std::fs::File::open(&staged)?.sync_all()
    };
    if let Err(e) = copy() {
        let _ = std::fs::remove_file(&staged);
        return Err(Error::io(&staged)(e));
    }
    // What goes in place is the journal as checked, and the file must still
    // be as the merge left it: both checked again just before.
    let copied_whole = rollback_journal::check_file(&staged)
        .map_err(Error::io(&staged))?
        .is_ok_and(|copied| copied == *journal);
    let unchanged = !super::seal::has_pending_side_file(target)
        && Seal::of(target).is_some_and(|now| read_after(dir).is_some_and(|after| now == after));
    if !(copied_whole && unchanged) {
        let _ = std::fs::remove_file(&staged);
        return Err(Error::Target {
            path: target.to_path_buf(),
            reason: if copied_whole {
                "it changed while the undo was prepared; nothing was changed".into()
            } else {
                format!(
                    "the copy of the undo's journal {} is not the journal checked; nothing \
                     was changed",
                    staged.display()
                )
            },
        });
    }
    std::fs::rename(&staged, &hot).map_err(Error::io(&hot))?;
    sync_dir(&parent_dir(target));
    crate::failpoint::hit("undo.journal-in-place").map_err(|e| Error::UndoInterrupted {
        path: target.to_path_buf(),
        journal: hot.clone(),
        reason: e.to_string(),
    })?;
    roll_back(target, &hot)
}

/// Opens `target`, whose journal `hot` is in place, so SQLite rolls it back.
fn roll_back(target: &Path, hot: &Path) -> Result<()> {
    let interrupted = |reason: String| Error::UndoInterrupted {
        path: target.to_path_buf(),
        journal: hot.to_path_buf(),
        reason,
    };
    rusqlite::Connection::open(target)
        .and_then(|conn| {
            // A reader the app has open delays the roll-back; it does not fail it.
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
            conn.close().map_err(|(_, e)| e)
        })
        .map_err(|e| interrupted(format!("SQLite could not roll it back: {e}")))?;
    if std::fs::metadata(hot).is_ok_and(|m| m.len() > 0) {
        return Err(interrupted("SQLite did not roll it back".into()));
    }
    Ok(())
}

/// An undo stopped with its journal in place (and the file not opened since):
/// when the journal beside the file is byte for byte the newest undo's, SQLite
/// is made to roll it back now, so the undo can finish. Any other journal is
/// left alone (and refused by [`newest_applicable`]).
pub fn settle_interrupted(target: &Path) -> Result<()> {
    let target = &real(target);
    let hot = sidecar(target, "-journal");
    let Some(dir) = undos_of(target).ok().and_then(|mut all| all.pop()) else {
        return Ok(());
    };
    if !same_bytes(&hot, &dir.join(JOURNAL)).unwrap_or(false) {
        return Ok(());
    }
    roll_back(target, &hot)
}

/// Whether two files hold the same bytes, read a block at a time.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// What playing an undo back did.
#[derive(Debug, serde::Serialize)]
pub struct Undone {
    /// The undo that was played back (and removed).
    pub undo: PathBuf,
    /// Pages restored.
    pub pages: u64,
    /// The file's size now.
    pub bytes: u64,
    /// The next older undo, which now applies to the file, if any.
    pub next: Option<PathBuf>,
}

/// Plays `undo` back into `target`: the journal is put where SQLite looks for
/// a journal to roll back, and SQLite rolls it back on open, as after a crash
/// mid-transaction. Killed at any point, the file is the merged one (journal
/// not yet in place, or removed before it played) or, once the journal is in
/// place, the one before the merge: whichever program opens the file next
/// rolls it back.
pub fn play_back(target: &Path, undo: Applicable) -> Result<Undone> {
    let target = &real(target);
    let Applicable {
        dir,
        journal,
        played,
    } = undo;
    if !played {
        put_in_place(target, &dir, &journal)?;
    }
    let now = Seal::of(target).ok_or_else(|| Error::Target {
        path: target.to_path_buf(),
        reason: "cannot be read after the undo".into(),
    })?;
    if !restores_to(&journal, &now) {
        return Err(Error::Target {
            path: target.to_path_buf(),
            reason: format!(
                "after the undo it has {} bytes and change counter {}, and the journal \
                 restores {} bytes and counter {:?}: run `pg2sqlite verify`",
                now.size(),
                now.change_counter(),
                journal.original_bytes(),
                journal.original_change_counter
            ),
        });
    }
    std::fs::remove_dir_all(&dir).map_err(Error::io(&dir))?;
    // The file is now byte for byte what it was before that merge: the next
    // older undo applies if that merge left it so (same size and counter);
    // only its time and place in the file system moved.
    let next = undos_of(target)
        .map_err(Error::io(target))?
        .pop()
        .filter(|older| {
            read_after(older).is_some_and(|a| a.same_size_and_counter(&now))
                && write_after(older, &now).is_ok()
        });
    Ok(Undone {
        undo: dir,
        pages: journal.records,
        bytes: now.size(),
        next,
    })
}
