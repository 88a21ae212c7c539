//! Who has a SQLite file open: the processes whose open files (`/proc/PID/fd`)
//! include it or its journal, for a message better than "database is locked".

use std::path::{Path, PathBuf};

/// "pid 123 (python3 manage.py runserver)" for each other process that has
/// `path`, `path-journal` or `path-wal` open; empty where `/proc` cannot tell.
pub fn processes_with_open(path: &Path) -> Vec<String> {
    let Ok(target) = std::fs::canonicalize(path) else {
        return Vec::new();
    };
    let wanted: Vec<PathBuf> = ["", "-journal", "-wal"]
        .iter()
        .map(|suffix| {
            let mut p = target.clone().into_os_string();
            p.push(suffix);
            PathBuf::from(p)
        })
        .collect();
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in procs.filter_map(|e| e.ok()) {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .filter_map(|fd| fd.ok())
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|link| wanted.contains(&link));
        if holds {
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let cmdline: String = cmdline.chars().take(100).collect();
            found.push(format!("pid {pid} ({cmdline})"));
        }
    }
    found
}
