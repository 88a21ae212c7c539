//! A file's bytes copied into another file without passing through the page
//! cache on the way out.
//!
//! A backup is as large as the target and nothing reads it unless a merge has
//! to be undone. Written through the page cache, the kernel copies every byte
//! into fresh cache pages and then writes them out when the file is synced: on
//! the 785 MB `app` benchmark file that copy alone took 0.7–1.9 s of system CPU,
//! beside the merge it was meant to protect. With `O_DIRECT` the disk takes the
//! bytes from our buffer (0.12 s of system CPU for the same file) and the sync
//! that follows has nothing left to write.
//!
//! The source is read through the page cache as usual: the check before a merge
//! has just read every page of it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes per read and write.
const CHUNK: usize = 8 << 20;
/// The alignment `O_DIRECT` asks of buffers, offsets and lengths (the largest
/// logical block size of common disks).
const ALIGN: usize = 4096;

/// Whether the bytes were copied.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The file system takes no direct writes (tmpfs, some network file
    /// systems); `to` was left empty, for the caller's other way of copying.
    Unsupported,
}

/// Copies the first `len` bytes of `from` into `to`, an empty file that
/// exists. The copy is not synced: `O_DIRECT` does not flush the disk's own
/// cache or the file's size, so the caller syncs it before relying on it.
pub fn copy(from: &File, to: &Path, len: u64) -> io::Result<Outcome> {
    let Some(direct) = open_direct(to)? else {
        return Ok(Outcome::Unsupported);
    };
    let mut storage = vec![0u8; CHUNK + ALIGN];
    let start = storage.as_ptr().align_offset(ALIGN);
    let buf = &mut storage[start..start + CHUNK];
    let mut offset = 0u64;
    while offset < len {
        let n = usize::try_from(len - offset).map_or(CHUNK, |left| left.min(CHUNK));
        from.read_exact_at(&mut buf[..n], offset)?;
        // The last chunk's unaligned tail goes through the page cache.
        let aligned = n - n % ALIGN;
        if aligned > 0 {
            match direct.write_all_at(&buf[..aligned], offset) {
                Ok(()) => {}
                // Opened, but the writes are refused: start over the other way.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    drop(direct);
                    File::options().write(true).open(to)?.set_len(0)?;
                    return Ok(Outcome::Unsupported);
                }
                Err(e) => return Err(e),
            }
        }
        if aligned < n {
            let tail = File::options().write(true).open(to)?;
            tail.write_all_at(&buf[aligned..n], offset + aligned as u64)?;
        }
        offset += n as u64;
    }
    Ok(Outcome::Done)
}

#[cfg(target_os = "linux")]
fn open_direct(to: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match File::options()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(to)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_to: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the chunk and the alignment: every byte arrives, the
    /// unaligned tail included.
    #[test]
    fn every_byte_is_copied_whatever_the_length() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let from_path = dir.path().join("from");
        let len = CHUNK + 3 * ALIGN + 517;
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251).to_le_bytes()[0]).collect();
        std::fs::write(&from_path, &bytes)?;
        let from = File::open(&from_path)?;
        for n in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, CHUNK, CHUNK + ALIGN, len] {
            let to = dir.path().join(format!("to-{n}"));
            File::create(&to)?;
            let outcome = copy(&from, &to, n as u64)?;
            if outcome == Outcome::Unsupported {
                // A file system without direct writes: nothing written.
                assert_eq!(std::fs::metadata(&to)?.len(), 0);
                continue;
            }
            assert_eq!(std::fs::read(&to)?, bytes[..n], "{n} bytes");
        }
        Ok(())
    }
}
