//! A bundle directory's life: refused if it exists (unless `--force`),
//! written as `OUT.partial` beside it, its manifest last, then renamed into place.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::bundle::manifest::{Manifest, MANIFEST};
use crate::error::{Error, Result};

/// Removes the unfinished bundle directory unless the export was published.
pub(crate) struct PartialDir(pub(crate) PathBuf);

impl Drop for PartialDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `OUT.partial`, beside `OUT`.
pub(crate) fn partial_dir(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

pub(crate) fn check_out_dir(out: &Path, force: bool) -> Result<()> {
    if out.file_name().is_none() {
        return Err(Error::Usage(format!(
            "--out {}: name a directory for the bundle",
            out.display()
        )));
    }
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(out)(e)),
        Ok(m) if !m.is_dir() => Err(Error::Usage(format!(
            "--out {}: exists and is not a directory",
            out.display()
        ))),
        Ok(_) if force => Ok(()),
        Ok(_) => {
            let empty = std::fs::read_dir(out)
                .map_err(Error::io(out))?
                .next()
                .is_none();
            if empty {
                Ok(())
            } else {
                Err(Error::Usage(format!(
                    "--out {}: the directory exists and is not empty; pass --force to replace it \
                     (it is replaced only when the new bundle is complete)",
                    out.display()
                )))
            }
        }
    }
}

/// Renames the finished bundle into place. An existing one (`--force`) is
/// swapped with it in one atomic step (`renameat2(RENAME_EXCHANGE)`), so that
/// at every moment OUT is either the old bundle or the new one, then removed;
/// where the file system cannot swap, it is moved aside first.
pub(crate) fn publish(partial: &Path, out: &Path) -> Result<()> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    crate::failpoint::hit("export.before-rename")?;
    if out.exists() && exchange(partial, out) {
        sync_dir(out.parent().unwrap_or(Path::new(".")));
        // `partial` now holds the old bundle.
        std::fs::remove_dir_all(partial).map_err(Error::io(partial))?;
        return Ok(());
    }
    let old = if out.exists() {
        let mut name = out
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".replaced");
        let old = out.with_file_name(name);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(Error::io(out))?;
        Some(old)
    } else {
        None
    };
    std::fs::rename(partial, out).map_err(Error::io(out))?;
    sync_dir(out.parent().unwrap_or(Path::new(".")));
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(Error::io(&old))?;
    }
    Ok(())
}

/// Makes renames inside `dir` durable; best effort (not every file system can).
pub(crate) fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps two paths atomically; false where the kernel or file system cannot.
fn exchange(a: &Path, b: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(a), Ok(b)) = (
        std::ffi::CString::new(a.as_os_str().as_bytes()),
        std::ffi::CString::new(b.as_os_str().as_bytes()),
    ) else {
        return false;
    };
    // SAFETY: both are valid NUL-terminated paths, relative to the working
    // directory (AT_FDCWD); renameat2 touches nothing else.
    unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) == 0
    }
}

pub(crate) fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    use std::io::Write;
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let mut file = File::create(&tmp).map_err(Error::io(&tmp))?;
    file.write_all(manifest.to_json().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    sync_dir(dir);
    Ok(())
}
