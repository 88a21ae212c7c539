//! Connection services: named sections of `pg_service.conf`, found where libpq
//! looks — `PGSERVICEFILE` or `~/.pg_service.conf` first, then
//! `PGSYSCONFDIR/pg_service.conf` (libpq's compiled-in directory when unset).

use std::path::{Path, PathBuf};

use super::conninfo::{env, in_home, shown};

/// Debian's and Ubuntu's libpq are built with this system configuration
/// directory; `PGSYSCONFDIR` overrides it, as for libpq.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// One `key=value` line of a service.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceLine {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The settings of one service, and the file they are in.
#[derive(Debug)]
pub struct Service {
    pub file: PathBuf,
    pub settings: Vec<ServiceLine>,
}

/// Finds service `name` in the user's file, then in the system's.
pub fn lookup(name: &str) -> Result<Service, String> {
    let user_file = match env("PGSERVICEFILE") {
        Some(f) => Some(PathBuf::from(f)),
        None => in_home(".pg_service.conf"),
    };
    let system_file =
        PathBuf::from(env("PGSYSCONFDIR").unwrap_or_else(|| DEFAULT_SYSCONFDIR.into()))
            .join("pg_service.conf");
    let mut looked_in = Vec::new();
    for file in user_file.into_iter().chain([system_file]) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                looked_in.push(shown(&file));
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "cannot read service file \"{}\": {e}",
                    file.display()
                ))
            }
        };
        looked_in.push(shown(&file));
        if let Some(settings) = section(&text, name, &file)? {
            return Ok(Service { file, settings });
        }
    }
    Err(format!(
        "definition of service \"{name}\" not found (looked in {}; set PGSERVICEFILE to name the file)",
        looked_in.join(" and ")
    ))
}

/// The `key=value` lines of section `[name]`, or `None` when there is none.
fn section(text: &str, name: &str, file: &Path) -> Result<Option<Vec<ServiceLine>>, String> {
    let mut found: Option<Vec<ServiceLine>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            if header.strip_suffix(']').map(str::trim) == Some(name) {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(settings) = found.as_mut() else {
            continue;
        };
        let (key, value) = line.split_once('=').ok_or_else(|| {
            format!(
                "syntax error in service file \"{}\", line {line_no}",
                file.display()
            )
        })?;
        let key = key.trim();
        if key == "service" {
            return Err(format!(
                "nested service specifications not supported in service file \"{}\", line {line_no}",
                file.display()
            ));
        }
        settings.push(ServiceLine {
            key: key.to_owned(),
            value: value.trim().to_owned(),
            line: line_no,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_found_by_name_with_their_lines() {
        let text = "# services\n[other]\nhost=x\n\n[prod]\nhost = db.example\nport=5433\n# note\n[later]\nport=1\n";
        let s = section(text, "prod", Path::new("f")).unwrap().unwrap();
        let found: Vec<(&str, &str, usize)> = s
            .iter()
            .map(|l| (l.key.as_str(), l.value.as_str(), l.line))
            .collect();
        assert_eq!(found, vec![("host", "db.example", 6), ("port", "5433", 7)]);
        assert!(section(text, "missing", Path::new("f")).unwrap().is_none());
        assert!(section("[a]\nservice=b\n", "a", Path::new("f"))
            .unwrap_err()
            .contains("nested"));
        assert!(section("[a]\nhost\n", "a", Path::new("f"))
            .unwrap_err()
            .contains("line 2"));
    }
}
