//! Files written beside the target keep its privacy. The staging file (which
//! becomes the published file) and the delta backup get the target's permission
//! bits, and its owner and group when pg2sqlite runs as root, before any row is
//! written to them: a copy is never readable by more people than the original.
//! Without a target, files are created as any program creates them (mode 0666
//! less the umask); SQLite gives its journals the database file's permissions.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Gives `file` (at `path`) the permissions, and as root the owner, of `target`,
/// if `target` is an existing file.
pub fn match_target(target: &Path, file: &File, path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(());
    };
    if !meta.is_file() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()))
            .map_err(Error::io(path))?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(Error::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_target_makes_a_private_copy() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.db");
        std::fs::write(&target, b"x").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let copy = dir.path().join("copy");
        let file = File::create(&copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
        match_target(&target, &file, &copy).unwrap();
        assert_eq!(std::fs::metadata(&copy).unwrap().mode() & 0o777, 0o600);
        // No target: the file keeps what it was created with.
        match_target(&dir.path().join("none"), &file, &copy).unwrap();
        assert_eq!(std::fs::metadata(&copy).unwrap().mode() & 0o777, 0o600);
    }
}
