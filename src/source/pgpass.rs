//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`), read as libpq
//! reads it: `hostname:port:database:username:password` lines, `*` matching
//! anything, `\` escaping `:` and `\`, and ignored (with libpq's warning) when
//! it is readable by anyone but its owner.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// libpq's socket directory on Debian-like systems: a connection through it
/// matches `localhost` lines, as libpq's does.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// A password found in a password file.
#[derive(Debug, Clone)]
pub struct Found {
    pub password: String,
    pub line: usize,
}

/// The outcome of looking in a password file.
#[derive(Debug)]
pub enum Lookup {
    Found(Found),
    /// The file does not exist or has no matching line.
    NotFound,
    /// The file was not used; the reason is libpq's warning.
    Ignored(String),
}

/// What one connection attempt matches lines against.
pub struct Wanted<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// Looks for the password of `wanted` in `file`.
pub fn lookup(file: &Path, wanted: &Wanted<'_>) -> Lookup {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(_) => return Lookup::NotFound,
    };
    if !meta.is_file() {
        return Lookup::Ignored(format!(
            "password file \"{}\" is not a plain file",
            file.display()
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Lookup::Ignored(format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
            file.display()
        ));
    }
    let text = match std::fs::read(file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            return Lookup::Ignored(format!(
                "cannot read password file \"{}\": {e}",
                file.display()
            ))
        }
    };
    match find(&text, wanted) {
        Some(found) => Lookup::Found(found),
        None => Lookup::NotFound,
    }
}

/// The host name a connection matches: a socket in the default directory (or
/// none at all) is `localhost`, as in libpq's `passwordFromFile`.
pub fn host_for_matching(host: &str) -> &str {
    if host.is_empty() || host == DEFAULT_SOCKET_DIR || host == "/run/postgresql" {
        "localhost"
    } else {
        host
    }
}

fn find(text: &str, wanted: &Wanted<'_>) -> Option<Found> {
    let port = wanted.port.to_string();
    let want = [
        host_for_matching(wanted.host),
        port.as_str(),
        wanted.dbname,
        wanted.user,
    ];
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields
            .iter()
            .zip(want)
            .all(|(field, want)| field == "*" || field == want);
        if matches {
            return Some(Found {
                password: fields[4..].join(":"),
                line: i + 1,
            });
        }
    }
    None
}

/// Splits on unescaped `:`; `\x` stands for `x`.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if let Some(f) = fields.last_mut() {
                        f.push(next);
                    }
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// The password file to read: `passfile=`, else `PGPASSFILE`, else `~/.pgpass`
/// (the first two arrive through the connection settings).
pub fn default_file() -> Option<PathBuf> {
    super::conninfo::in_home(".pgpass")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted<'a>(host: &'a str, port: u16, db: &'a str, user: &'a str) -> Wanted<'a> {
        Wanted {
            host,
            port,
            dbname: db,
            user,
        }
    }

    #[test]
    fn first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:app:alice:first\n\
                    *:*:*:bob:b\\:ob\\\\pw\n\
                    localhost:5433:*:*:local:with:colons\n\
                    *:*:*:*:fallback\n";
        let find = |w: Wanted<'_>| find(text, &w).map(|f| (f.password, f.line));
        assert_eq!(
            find(wanted("db.example", 5432, "app", "alice")),
            Some(("first".into(), 2))
        );
        assert_eq!(
            find(wanted("other", 1, "x", "bob")),
            Some(("b:ob\\pw".into(), 3))
        );
        assert_eq!(
            find(wanted("/var/run/postgresql", 5433, "x", "carol")),
            Some(("local:with:colons".into(), 4))
        );
        assert_eq!(
            find(wanted("db.example", 5432, "other", "alice")),
            Some(("fallback".into(), 5))
        );
    }

    #[test]
    fn files_others_can_read_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = wanted("h", 5432, "d", "u");
        assert!(matches!(lookup(&file, &w), Lookup::Ignored(m) if m.contains("group or world")));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(lookup(&file, &w), Lookup::Found(f) if f.password == "pw"));
        assert!(matches!(
            lookup(&dir.path().join("missing"), &w),
            Lookup::NotFound
        ));
        assert!(matches!(lookup(dir.path(), &w), Lookup::Ignored(m) if m.contains("plain file")));
    }
}
