//! Reads a SQLite rollback journal (the file SQLite writes beside a database
//! in its default journal mode, holding the original content of every page a
//! transaction changed) and checks it whole before anyone plays it back.
//!
//! SQLite plays a hot journal back until the first record whose checksum does
//! not match and takes the rest for a write that never finished: a journal
//! damaged in the middle would be played back in part, silently. An undo kept
//! by this tool (`sink::undo`) is a committed transaction's journal, complete
//! and synced, so every record of it must check; one that does not is refused
//! before it is put where SQLite would play it.
//!
//! The format (<https://www.sqlite.org/fileformat.html#the_rollback_journal>):
//! one or more segments, each a header padded to the sector size and `nRec`
//! records of (page number, the page's original bytes, checksum). The
//! checksum is the header's nonce plus every 200th byte of the page, counted
//! from the end.

use std::io::Read;
use std::path::Path;

const MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// What a checked journal restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    pub page_size: u32,
    /// The database's size in pages before the transaction: playing the
    /// journal back truncates the file to it.
    pub original_pages: u32,
    /// Records in the journal (a page changed twice after a cache spill may
    /// have two; the first is played last and wins).
    pub records: u64,
    /// SQLite's file change counter before the transaction (header bytes
    /// 24..28 of page 1's original), when page 1 is in the journal.
    pub original_change_counter: Option<u32>,
}

impl Journal {
    /// The database's size in bytes before the transaction.
    pub fn original_bytes(&self) -> u64 {
        u64::from(self.original_pages) * u64::from(self.page_size)
    }
}

/// Why a journal cannot be played back as it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JournalError {
    #[error("it is not a SQLite rollback journal (no journal header at its start)")]
    NotAJournal,
    #[error("its header at byte {offset} names page size {page_size}, which SQLite never uses")]
    BadPageSize { offset: u64, page_size: u32 },
    #[error(
        "its header at byte {offset} names sector size {sector_size}, which SQLite never uses"
    )]
    BadSectorSize { offset: u64, sector_size: u32 },
    #[error("it ends inside record {record} of the segment at byte {offset}: it was cut short")]
    Truncated { offset: u64, record: u32 },
    #[error("record {record} of the segment at byte {offset} (page {page}) fails its checksum: it was damaged")]
    BadChecksum { offset: u64, record: u32, page: u32 },
    #[error("record {record} of the segment at byte {offset} names page {page}, which cannot be")]
    BadPage { offset: u64, record: u32, page: u32 },
    #[error("its segments name different page sizes ({first} and {other})")]
    MixedPageSizes { first: u32, other: u32 },
    #[error(
        "its segment at byte {offset} has records but does not count them (it was never synced)"
    )]
    Unsynced { offset: u64 },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn is_power_of_two_between(n: u32, low: u32, high: u32) -> bool {
    n.is_power_of_two() && (low..=high).contains(&n)
}

/// Reads and checks the journal in `bytes`' reader of `len` bytes.
pub fn check(mut reader: impl Read, len: u64) -> std::io::Result<Result<Journal, JournalError>> {
    let mut offset = 0u64;
    let mut found: Option<Journal> = None;
    let mut header = [0u8; 28];
    let mut page = Vec::new();
    loop {
        if len.saturating_sub(offset) < 28 {
            break;
        }
        reader.read_exact(&mut header)?;
        if header[..8] != MAGIC {
            // SQLite stops at the first place no header is: the journal ends.
            if found.is_none() {
                return Ok(Err(JournalError::NotAJournal));
            }
            break;
        }
        let n_rec = be32(&header, 8);
        let nonce = be32(&header, 12);
        let original_pages = be32(&header, 16);
        let sector_size = be32(&header, 20);
        let page_size = be32(&header, 24);
        if !is_power_of_two_between(sector_size, 32, 65536) {
            return Ok(Err(JournalError::BadSectorSize {
                offset,
                sector_size,
            }));
        }
        if !is_power_of_two_between(page_size, 512, 65536) {
            return Ok(Err(JournalError::BadPageSize { offset, page_size }));
        }
        let journal = found.get_or_insert(Journal {
            page_size,
            original_pages,
            records: 0,
            original_change_counter: None,
        });
        if journal.page_size != page_size {
            return Ok(Err(JournalError::MixedPageSizes {
                first: journal.page_size,
                other: page_size,
            }));
        }
        // The rest of the header is padding to the sector size.
        let skip = u64::from(sector_size) - 28;
        if len.saturating_sub(offset) < u64::from(sector_size) {
            break;
        }
        std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())?;
        let record_len = u64::from(page_size) + 8;
        let mut at = offset + u64::from(sector_size);
        let n_rec = if n_rec == u32::MAX {
            // Written without syncs: the records fill the rest of the file.
            u32::try_from((len - at) / record_len).unwrap_or(u32::MAX)
        } else {
            n_rec
        };
        if n_rec == 0 && len - at >= record_len {
            // A segment SQLite began and never synced: played back as empty,
            // its records would not be restored.
            let mut peek = [0u8; 4];
            reader.read_exact(&mut peek)?;
            if peek != [0; 4] {
                return Ok(Err(JournalError::Unsynced { offset }));
            }
            break;
        }
        page.resize(page_size as usize, 0);
        for record in 0..n_rec {
            if len.saturating_sub(at) < record_len {
                return Ok(Err(JournalError::Truncated { offset, record }));
            }
            let mut number = [0u8; 4];
            reader.read_exact(&mut number)?;
            reader.read_exact(&mut page)?;
            let mut sum = [0u8; 4];
            reader.read_exact(&mut sum)?;
            let number = u32::from_be_bytes(number);
            if number == 0 {
                return Ok(Err(JournalError::BadPage {
                    offset,
                    record,
                    page: number,
                }));
            }
            let mut expected = nonce;
            let mut i = page_size as usize - 200;
            while i > 0 {
                expected = expected.wrapping_add(u32::from(page[i]));
                i = i.saturating_sub(200);
            }
            if expected != u32::from_be_bytes(sum) {
                return Ok(Err(JournalError::BadChecksum {
                    offset,
                    record,
                    page: number,
                }));
            }
            if number == 1 {
                // The earliest record of page 1 is its original.
                journal
                    .original_change_counter
                    .get_or_insert(be32(&page, 24));
            }
            journal.records += 1;
            at += record_len;
        }
        // The next segment starts at the next multiple of the sector size.
        let sector = u64::from(sector_size);
        let next = at.div_ceil(sector) * sector;
        if next > len {
            break;
        }
        std::io::copy(&mut (&mut reader).take(next - at), &mut std::io::sink())?;
        offset = next;
    }
    Ok(found.ok_or(JournalError::NotAJournal))
}

/// [`check`] of the journal file at `path`.
pub fn check_file(path: &Path) -> std::io::Result<Result<Journal, JournalError>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    check(std::io::BufReader::with_capacity(1 << 20, file), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed transaction's journal, as SQLite wrote it: the database
    /// changed in a transaction whose journal is linked aside before commit.
    fn journal_of_a_transaction(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
        let db = dir.join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO t SELECT i, printf('%050d', i) FROM n;",
        )
        .unwrap();
        drop(conn);
        let before = std::fs::read(&db).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        // A small cache spills mid-transaction: the journal gets segments.
        conn.execute_batch(
            "PRAGMA cache_size = 10; BEGIN; UPDATE t SET v = 'changed' WHERE id % 7 = 0;
             INSERT INTO t SELECT id + 10000, v FROM t;",
        )
        .unwrap();
        let kept = dir.join("kept-journal");
        std::fs::hard_link(dir.join("t.db-journal"), &kept).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        drop(conn);
        (kept, before)
    }

    #[test]
    fn a_committed_journal_checks_and_names_what_it_restores() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, before) = journal_of_a_transaction(dir.path());
        let journal = check_file(&kept).unwrap().unwrap();
        assert_eq!(journal.page_size, 4096);
        assert_eq!(
            u64::from(journal.original_pages) * 4096,
            before.len() as u64
        );
        assert!(journal.records > 10, "{journal:?}");
        assert_eq!(journal.original_change_counter, Some(be32(&before, 24)));
    }

    #[test]
    fn a_flipped_byte_or_a_cut_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, _) = journal_of_a_transaction(dir.path());
        let bytes = std::fs::read(&kept).unwrap();
        // A byte the checksum samples, in the third record (after the header
        // of 512 bytes, records of 4 + 4096 + 4).
        let mut damaged = bytes.clone();
        let at = 512 + 2 * 4104 + 4 + 4096 - 200;
        damaged[at] ^= 0x40;
        assert!(matches!(
            check(&damaged[..], damaged.len() as u64).unwrap(),
            Err(JournalError::BadChecksum { record: 2, .. })
        ));
        let cut = &bytes[..512 + 3 * 4104 + 100];
        assert!(matches!(
            check(cut, cut.len() as u64).unwrap(),
            Err(JournalError::Truncated { record: 3, .. })
        ));
        let not = b"SQLite format 3\0 and more bytes than a header";
        assert_eq!(
            check(&not[..], not.len() as u64).unwrap(),
            Err(JournalError::NotAJournal)
        );
    }
}
