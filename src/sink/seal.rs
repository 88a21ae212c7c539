//! The target as this tool last left it. After a run wrote the target (a full
//! sync's publish, a merge's commit), it notes what the file then was: its
//! device and inode, size, modification time, and SQLite's file change
//! counter. The note is kept in this user's cache directory
//! (`$XDG_CACHE_HOME/pg2sqlite/checked/DEVICE-INODE.json`, else
//! `~/.cache/…`), not beside the target, whose directory holds only what the
//! user put there; losing it costs one check. The next merge
//! into a file that still matches all of them, with no journal or WAL beside
//! it, skips the whole-file check before it writes (`health::check_before_use`,
//! `PRAGMA quick_check`, which reads every page: a merge of a small change
//! otherwise costs about as much as that check), because nothing has written to
//! the file since this tool left it sound.
//!
//! What this relies on: every write to a file moves its modification time
//! (SQLite's own writes move the change counter too), so damage written into
//! the file (another program, a copy over it, a truncation) makes the note
//! stale and the check runs. It cannot see a change whose writer then set the
//! modification time back, nor bytes the disk itself flipped; `verify` reads
//! the whole file whenever asked, and never skips its check.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::staging::sidecar;

/// What the file was when this tool left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    device: u64,
    inode: u64,
    size: u64,
    mtime_seconds: i64,
    mtime_nanos: i64,
    /// SQLite's file change counter (header bytes 24..28).
    change_counter: u32,
}

impl Seal {
    /// The file at `target` as it is now; `None` when it cannot be read.
    pub fn of(target: &Path) -> Option<Seal> {
        read_seal(target)
    }

    /// Whether `other` holds the same SQLite content as far as size and change
    /// counter tell: the same file after a rewrite of the same bytes (an undo
    /// played back), whose time and inode may differ.
    pub fn same_size_and_counter(&self, other: &Seal) -> bool {
        self.size == other.size && self.change_counter == other.change_counter
    }

    /// SQLite's file change counter.
    pub fn change_counter(&self) -> u32 {
        self.change_counter
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The modification time noted; `None` before 1970.
    fn modified(&self) -> Option<std::time::SystemTime> {
        let seconds = u64::try_from(self.mtime_seconds).ok()?;
        let nanos = u32::try_from(self.mtime_nanos).ok()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(seconds, nanos))
    }
}

/// Notes kept at most; the oldest go first (every full sync makes a new file).
const NOTES_KEPT: usize = 64;

/// Where notes are kept; `None` without a home to keep them in.
fn notes_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("pg2sqlite").join("checked"))
}

/// The note of the file `seal` describes.
fn note_path(seal: &Seal) -> Option<PathBuf> {
    notes_dir().map(|d| d.join(format!("{}-{}.json", seal.device, seal.inode)))
}

/// The file as it is now; `None` when it cannot be read.
fn read_seal(target: &Path) -> Option<Seal> {
    use std::io::Read;
    let mut file = std::fs::File::open(target).ok()?;
    let meta = file.metadata().ok()?;
    let mut header = [0u8; 28];
    file.read_exact(&mut header).ok()?;
    Some(Seal {
        device: meta.dev(),
        inode: meta.ino(),
        size: meta.len(),
        mtime_seconds: meta.mtime(),
        mtime_nanos: meta.mtime_nsec(),
        change_counter: u32::from_be_bytes([header[24], header[25], header[26], header[27]]),
    })
}

/// Whether a side file SQLite may still have to read exists: a journal to roll
/// back, or a WAL holding commits the file itself does not show yet.
pub fn has_pending_side_file(target: &Path) -> bool {
    ["-journal", "-wal"]
        .iter()
        .any(|suffix| std::fs::metadata(sidecar(target, suffix)).is_ok_and(|m| m.len() > 0))
}

/// Notes what the target is now, after this tool wrote it and left it sound.
/// Failing to write the note costs the next merge its check, nothing more, so
/// a failure is logged, not returned.
pub fn record(target: &Path) {
    write(target, read_seal(target));
}

/// The target as it was before a whole-file check began (`verify`'s).
pub struct BeforeCheck(Option<Seal>);

impl BeforeCheck {
    pub fn observe(target: &Path) -> BeforeCheck {
        BeforeCheck(read_seal(target))
    }

    /// After the check passed: notes the file as sound if nothing wrote to it
    /// while it was checked.
    pub fn passed(self, target: &Path) {
        let now = read_seal(target);
        write(target, self.0.filter(|before| now.as_ref() == Some(before)));
    }
}

fn write(target: &Path, seal: Option<Seal>) {
    let seal = seal.filter(|_| !has_pending_side_file(target));
    let Some((seal, note)) = seal.and_then(|s| note_path(&s).map(|n| (s, n))) else {
        // A file this tool cannot describe is not vouched for: an older note
        // of it no longer matches it either.
        return;
    };
    let written = note
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let json = serde_json::to_vec(&seal).map_err(std::io::Error::other)?;
            std::fs::write(&note, json)
        });
    match written {
        Ok(()) => {
            prune(&note);
            settle_clock(&seal);
        }
        Err(e) => tracing::debug!("cannot write {}: {e}", note.display()),
    }
}

/// Keeps the newest [`NOTES_KEPT`] notes beside `note`.
fn prune(note: &Path) {
    let Some(Ok(entries)) = note.parent().map(std::fs::read_dir) else {
        return;
    };
    let mut notes: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if notes.len() <= NOTES_KEPT {
        return;
    }
    notes.sort();
    for (_, old) in &notes[..notes.len() - NOTES_KEPT] {
        let _ = std::fs::remove_file(old);
    }
}

/// Waits, at most 12 ms, until a write to the target would give it another
/// modification time than the one `seal` notes: the kernel stamps files from a
/// clock that moves in ticks of up to 10 ms (and lags the precise clock by up
/// to one), so a write in the same tick as this tool's last one would
/// otherwise go unseen.
fn settle_clock(seal: &Seal) {
    let Some(modified) = seal.modified() else {
        return;
    };
    let settled = modified + std::time::Duration::from_millis(12);
    if let Ok(left) = settled.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
}

/// Whether the target is exactly as this tool last left it (see the module).
pub fn unchanged_since_left(target: &Path) -> bool {
    let Some(now) = read_seal(target) else {
        return false;
    };
    let Some(Ok(json)) = note_path(&now).map(std::fs::read) else {
        return false;
    };
    let Ok(noted) = serde_json::from_slice::<Seal>(&json) else {
        return false;
    };
    let same = now == noted && !has_pending_side_file(target);
    tracing::debug!(
        "{}: {}",
        target.display(),
        if same {
            "unchanged since this tool last left it sound, so its whole-file check is skipped"
        } else {
            "changed since this tool last left it: it is checked whole"
        }
    );
    same
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path) -> PathBuf {
        let path = dir.join("t.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (a); INSERT INTO t VALUES (1);")
            .unwrap();
        path
    }

    #[test]
    fn a_file_written_since_is_no_longer_as_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        assert!(!unchanged_since_left(&path), "never recorded");
        record(&path);
        assert!(unchanged_since_left(&path));

        // Another SQLite writer: the counter and the time move.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        drop(conn);
        assert!(!unchanged_since_left(&path));

        // Bytes written over a page, the size unchanged, the counter too.
        record(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        bytes[len - 100] ^= 0xFF;
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, &bytes).unwrap();
        assert!(!unchanged_since_left(&path));
    }

    #[test]
    fn a_journal_or_wal_beside_the_file_is_not_vouched_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        record(&path);
        let wal = dir.path().join("t.db-wal");
        std::fs::write(&wal, b"not empty").unwrap();
        assert!(!unchanged_since_left(&path));
        std::fs::write(&wal, b"").unwrap();
        assert!(unchanged_since_left(&path));
    }

    #[test]
    fn a_damaged_note_is_no_seal() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        record(&path);
        let note = note_path(&read_seal(&path).unwrap()).unwrap();
        std::fs::write(note, b"{\"device\":").unwrap();
        assert!(!unchanged_since_left(&path));
    }
}
