//! `pg2sqlite undo`: puts the target back as it was before the newest delta
//! merge that kept an undo (`sink::undo`), without PostgreSQL.
//!
//! 1. find the newest undo beside the target and check it: the file is exactly
//!    as that merge left it, and the journal is whole (every record's
//!    checksum, its page size the file's);
//! 2. put the journal where SQLite looks for one and open the file: SQLite
//!    rolls the merge back, as after a crash mid-transaction;
//! 3. check the result (its size and change counter are those the journal
//!    restores, then `PRAGMA quick_check`), remove the undo, and make the next
//!    older one apply to the file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sink::{health, seal, undo};

/// What `pg2sqlite undo` did, or with `--dry-run` would do.
#[derive(Debug, serde::Serialize)]
pub struct UndoSummary {
    pub target: PathBuf,
    pub dry_run: bool,
    /// The undo played back (and removed), or that would be.
    pub undo: PathBuf,
    /// Pages of the file the undo restores.
    pub pages: u64,
    /// The file's size after the undo.
    pub bytes: u64,
    /// The next older undo, which applies to the file now.
    pub next: Option<PathBuf>,
}

/// Undoes the newest merge of `target` that kept an undo; with `dry_run`,
/// only checks that it can.
pub fn run(target: &Path, dry_run: bool) -> Result<UndoSummary> {
    if !target.is_file() {
        return Err(Error::Target {
            path: target.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    if !dry_run {
        // An earlier undo stopped with its journal in place: finished first.
        undo::settle_interrupted(target)?;
    }
    let found = undo::newest_applicable(target)?;
    if dry_run {
        return Ok(UndoSummary {
            target: target.to_path_buf(),
            dry_run,
            pages: found.journal.records,
            bytes: found.journal.original_bytes(),
            undo: found.dir,
            next: None,
        });
    }
    let undone = undo::play_back(target, found)?;
    // The rolled-back file is checked whole: it is the file as it was before
    // the merge, which passed this check then, but the pages came from disk.
    health::check_before_use(target)?;
    seal::record(target);
    Ok(UndoSummary {
        target: target.to_path_buf(),
        dry_run,
        undo: undone.undo,
        pages: undone.pages,
        bytes: undone.bytes,
        next: undone.next,
    })
}

impl UndoSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            let _ = writeln!(
                out,
                "dry run, nothing changed: {} applies to {}; it would restore {} page(s), \
                 leaving {} bytes, as the file was before that merge",
                self.undo.display(),
                self.target.display(),
                self.pages,
                self.bytes
            );
            return out;
        }
        let _ = writeln!(
            out,
            "undid the merge of {}: {} is as it was before that merge ({} page(s) \
             restored, {} bytes; PRAGMA quick_check passed)",
            self.undo.display(),
            self.target.display(),
            self.pages,
            self.bytes
        );
        match &self.next {
            Some(next) => {
                let _ = writeln!(
                    out,
                    "the merge before it can be undone too: {} applies now",
                    next.display()
                );
            }
            None => {
                let _ = writeln!(out, "no older undo applies to the file now");
            }
        }
        out
    }
}
