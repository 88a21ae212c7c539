//! libpq's connection settings: the URL and `key=value` grammars, the service
//! file and the environment, merged with libpq's precedence, each value
//! remembering where it came from so that an error can name it.
//!
//! Precedence, as in libpq's `conninfo_add_defaults`: the `--source` string, then
//! the service it names (or `PGSERVICE`), then the `PG*` variables. Defaults
//! (host, port, user, …) and `~/.pgpass` come last and live in
//! [`super::connect`], since they depend on the host being connected to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a setting came from, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The connection string given on the command line (or in `DATABASE_URL`).
    Given(String),
    /// A section of a `pg_service.conf`.
    Service {
        name: String,
        file: PathBuf,
        line: usize,
    },
    /// A libpq environment variable.
    Env(&'static str),
    /// A line of a password file.
    PassFile { file: PathBuf, line: usize },
    /// pg2sqlite's or libpq's default.
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Given(flag) => write!(f, "{flag}"),
            Origin::Service { name, file, line } => {
                write!(f, "service \"{name}\" in {} line {line}", shown(file))
            }
            Origin::Env(var) => write!(f, "{var}"),
            Origin::PassFile { file, line } => write!(f, "{} line {line}", shown(file)),
            Origin::Default => f.write_str("the default"),
        }
    }
}

/// One connection setting and where it came from.
#[derive(Debug, Clone)]
pub struct Setting {
    pub value: String,
    pub origin: Origin,
}

/// The keywords libpq knows that pg2sqlite takes, with their environment
/// variables. `service` is looked up by hand (the service file comes before the
/// environment); `PGSERVICEFILE` and `PGSYSCONFDIR` name files, not settings.
const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("dbname", Some("PGDATABASE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("service", None),
    ("options", Some("PGOPTIONS")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("client_encoding", Some("PGCLIENTENCODING")),
    ("sslmode", Some("PGSSLMODE")),
    ("requiressl", Some("PGREQUIRESSL")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("sslpassword", None),
    ("sslcrl", Some("PGSSLCRL")),
    ("sslcrldir", Some("PGSSLCRLDIR")),
    ("sslsni", Some("PGSSLSNI")),
    ("sslcompression", Some("PGSSLCOMPRESSION")),
    ("sslcertmode", Some("PGSSLCERTMODE")),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    ("keepalives", None),
    ("keepalives_idle", None),
    ("keepalives_interval", None),
    ("keepalives_count", None),
    ("tcp_user_timeout", None),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("gssencmode", Some("PGGSSENCMODE")),
    ("gsslib", Some("PGGSSLIB")),
    ("krbsrvname", Some("PGKRBSRVNAME")),
    ("gssdelegation", Some("PGGSSDELEGATION")),
    ("require_auth", Some("PGREQUIREAUTH")),
    ("requirepeer", Some("PGREQUIREPEER")),
    ("replication", None),
];

fn keyword(k: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == k)
}

/// The merged settings of one connection string.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    settings: BTreeMap<&'static str, Setting>,
}

impl ConnInfo {
    /// Parses `source` (a URL or `key=value` string; empty means "everything from
    /// the environment"), then fills what it leaves out from the service file and
    /// the `PG*` variables. `given` names the flag the string came from.
    pub fn resolve(source: &str, given: &str) -> Result<ConnInfo, String> {
        let mut info = ConnInfo::default();
        for (k, v) in parse(source)? {
            let key = keyword(&k)
                .ok_or_else(|| format!("invalid connection option \"{k}\" in {given}"))?;
            info.settings.insert(
                key,
                Setting {
                    value: v,
                    origin: Origin::Given(given.to_owned()),
                },
            );
        }
        let service = match info.settings.get("service") {
            Some(s) => Some(s.value.clone()),
            None => env("PGSERVICE"),
        };
        if let Some(name) = service.filter(|s| !s.is_empty()) {
            let found = super::service::lookup(&name)?;
            for super::service::ServiceLine {
                key: k,
                value: v,
                line,
            } in found.settings
            {
                let key = keyword(&k).ok_or_else(|| {
                    format!(
                        "syntax error in service file \"{}\", line {line}: \"{k}\" is not a connection option",
                        found.file.display()
                    )
                })?;
                info.settings.entry(key).or_insert(Setting {
                    value: v,
                    origin: Origin::Service {
                        name: name.clone(),
                        file: found.file.clone(),
                        line,
                    },
                });
            }
        }
        for (key, var) in KEYWORDS {
            if let Some(var) = var {
                if !info.settings.contains_key(key) {
                    if let Some(value) = env(var) {
                        info.settings.insert(
                            key,
                            Setting {
                                value,
                                origin: Origin::Env(var),
                            },
                        );
                    }
                }
            }
        }
        Ok(info)
    }

    /// The value of `key`, if anything set it to a non-empty string (libpq
    /// treats an empty value as unset).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.setting(key).map(|s| s.value.as_str())
    }

    pub fn setting(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key).filter(|s| !s.value.is_empty())
    }

    /// Where `key` came from, for messages.
    pub fn origin(&self, key: &str) -> Origin {
        self.setting(key)
            .map(|s| s.origin.clone())
            .unwrap_or(Origin::Default)
    }

    /// Sets `key` unless something already did.
    pub fn set_default(&mut self, key: &'static str, value: String) {
        if self.setting(key).is_none() {
            self.settings.insert(
                key,
                Setting {
                    value,
                    origin: Origin::Default,
                },
            );
        }
    }
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The user's home directory: `HOME`, else the password database, as libpq.
pub fn home_dir() -> Option<PathBuf> {
    if let Some(home) = env("HOME") {
        return Some(PathBuf::from(home));
    }
    passwd_entry().map(|(_, dir)| dir)
}

/// The name of the user this process runs as, libpq's default user name.
pub fn os_user() -> Option<String> {
    passwd_entry()
        .map(|(name, _)| name)
        .or_else(|| env("USER"))
        .or_else(|| env("LOGNAME"))
}

fn passwd_entry() -> Option<(String, PathBuf)> {
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, which outlive the call; the
    // strings it points to live in `buf` and are copied out before it is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_string_lossy()
            .into_owned();
        let dir = std::ffi::CStr::from_ptr(pwd.pw_dir)
            .to_string_lossy()
            .into_owned();
        Some((name, PathBuf::from(dir)))
    }
}

/// `~/…` as a path, when there is a home directory.
pub fn in_home(rel: &str) -> Option<PathBuf> {
    home_dir().map(|h| h.join(rel))
}

/// A path for messages: `~/.pgpass` rather than `/home/alice/.pgpass`.
pub fn shown(path: &Path) -> String {
    match home_dir() {
        Some(home) => match path.strip_prefix(&home) {
            Ok(rel) => format!("~/{}", rel.display()),
            Err(_) => path.display().to_string(),
        },
        None => path.display().to_string(),
    }
}

/// Splits a connection string into its `(keyword, value)` pairs, in order.
pub fn parse(s: &str) -> Result<Vec<(String, String)>, String> {
    let trimmed = s.trim_start();
    for prefix in ["postgresql://", "postgres://"] {
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            return parse_uri(rest);
        }
    }
    parse_key_values(s)
}

/// `key=value key='quoted \' value'`, libpq's grammar.
fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(
                            "unterminated quoted string in connection info string".to_owned()
                        )
                    }
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(
                                "unterminated quoted string in connection info string".to_owned()
                            )
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// `[user[:password]@][host[:port][,host[:port]…]][/dbname][?key=value&…]`,
/// libpq's URI grammar after the scheme.
fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let hostspec = match authority.rsplit_once('@') {
        Some((userspec, hostspec)) => {
            let (user, password) = match userspec.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userspec, None),
            };
            if !user.is_empty() {
                out.push(("user".to_owned(), percent_decode(user)?));
            }
            if let Some(p) = password {
                out.push(("password".to_owned(), percent_decode(p)?));
            }
            hostspec
        }
        None => authority,
    };
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for part in hostspec.split(',') {
            let (host, port) = if let Some(v6) = part.strip_prefix('[') {
                let (host, after) = v6.split_once(']').ok_or_else(|| {
                    format!("missing \"]\" in IPv6 host address in URI: \"{part}\"")
                })?;
                let port = match after.strip_prefix(':') {
                    Some(p) => p,
                    None if after.is_empty() => "",
                    None => {
                        return Err(format!(
                            "unexpected \"{after}\" after the IPv6 host address in URI"
                        ))
                    }
                };
                (host.to_owned(), port)
            } else {
                match part.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h)?, p),
                    None => (percent_decode(part)?, ""),
                }
            };
            if !port.is_empty() && !port.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("invalid port \"{port}\" in URI"));
            }
            hosts.push(host);
            ports.push(port.to_owned());
        }
        out.push(("host".to_owned(), hosts.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            out.push(("port".to_owned(), ports.join(",")));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.push(("dbname".to_owned(), percent_decode(db)?));
    }
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            format!("missing key/value separator \"=\" in URI query parameter: \"{pair}\"")
        })?;
        let (k, v) = (percent_decode(k)?, percent_decode(v)?);
        // JDBC's spelling, accepted by libpq.
        if k == "ssl" && v == "true" {
            out.push(("sslmode".to_owned(), "require".to_owned()));
        } else if keyword(&k).is_none() {
            return Err(format!("invalid URI query parameter: \"{k}\""));
        } else {
            out.push((k, v));
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent-encoded token: \"{s}\""))?;
            if hex == 0 {
                return Err(format!(
                    "forbidden value %00 in percent-encoded value: \"{s}\""
                ));
            }
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-encoded value is not UTF-8: \"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn key_values_quote_and_escape_like_libpq() {
        assert_eq!(
            pairs(r"host=h  port = 5433 password='a \'b\\ c' dbname=x\ y"),
            vec![
                p("host", "h"),
                p("port", "5433"),
                p("password", r"a 'b\ c"),
                p("dbname", "x y"),
            ]
        );
        assert!(parse("host").unwrap_err().contains("missing \"=\""));
        assert!(parse("password='abc").unwrap_err().contains("unterminated"));
        assert_eq!(pairs("  "), vec![]);
    }

    #[test]
    fn uris_carry_several_hosts_ports_and_options() {
        assert_eq!(
            pairs("postgresql://al%40ice:p%3Aw@a.example:5433,[::1],b:6000/my%20db?sslmode=verify-full&application_name=x"),
            vec![
                p("user", "al@ice"),
                p("password", "p:w"),
                p("host", "a.example,::1,b"),
                p("port", "5433,,6000"),
                p("dbname", "my db"),
                p("sslmode", "verify-full"),
                p("application_name", "x"),
            ]
        );
        assert_eq!(
            pairs("postgres://%2Fvar%2Frun%2Fpostgresql/db"),
            vec![p("host", "/var/run/postgresql"), p("dbname", "db")]
        );
        assert_eq!(
            pairs("postgres:///?service=prod"),
            vec![p("service", "prod")]
        );
        assert_eq!(
            pairs("postgres://h/?ssl=true"),
            vec![p("host", "h"), p("sslmode", "require")]
        );
        assert!(parse("postgres://h/db?bogus=1")
            .unwrap_err()
            .contains("bogus"));
        assert!(parse("postgres://h:notaport/db")
            .unwrap_err()
            .contains("port"));
        assert!(parse("postgres://h/%zz").unwrap_err().contains("percent"));
    }
}
