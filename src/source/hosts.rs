//! The host list of a connection: hosts, addresses and ports paired up as
//! libpq pairs them, each host's password (the settings' own or the password
//! file's line for that host), and libpq's `target_session_attrs` checks.

use std::net::IpAddr;
use std::path::PathBuf;

use tokio_postgres::Client;

use super::conninfo::{ConnInfo, Origin};
use super::pgpass::{self, Lookup, DEFAULT_SOCKET_DIR};
use crate::error::{Error, Result};

/// What a server must be for the session to use it (libpq's
/// `target_session_attrs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    PreferStandby,
}

impl SessionAttrs {
    pub fn parse(s: &str) -> Option<SessionAttrs> {
        Some(match s {
            "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            _ => return None,
        })
    }
}

/// One entry of the host list, with the password for it.
#[derive(Debug, Clone)]
pub struct HostEntry {
    /// A name, an address, or a Unix socket directory.
    pub host: String,
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
    pub password: Option<(String, Origin)>,
}

impl HostEntry {
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// `None` when the session is what `want` asks for, else why not — libpq's
/// checks: `transaction_read_only` for read-write/read-only,
/// `pg_is_in_recovery()` for primary/standby.
pub async fn session_matches(
    client: &Client,
    want: SessionAttrs,
) -> std::result::Result<Option<String>, tokio_postgres::Error> {
    let ask = |sql: &'static str| async move {
        let rows = client.simple_query(sql).await?;
        Ok::<_, tokio_postgres::Error>(rows.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        }))
    };
    Ok(match want {
        SessionAttrs::Any | SessionAttrs::PreferStandby => None,
        SessionAttrs::ReadWrite => (ask("SHOW transaction_read_only").await?.as_deref()
            == Some("on"))
        .then(|| "the session is read-only (target_session_attrs=read-write)".to_owned()),
        SessionAttrs::ReadOnly => (ask("SHOW transaction_read_only").await?.as_deref()
            != Some("on"))
        .then(|| "the session is read-write (target_session_attrs=read-only)".to_owned()),
        SessionAttrs::Primary => (ask("SELECT pg_is_in_recovery()").await?.as_deref() == Some("t"))
            .then(|| "the server is a standby (target_session_attrs=primary)".to_owned()),
        SessionAttrs::Standby => (ask("SELECT pg_is_in_recovery()").await?.as_deref() != Some("t"))
            .then(|| "the server is not a standby (target_session_attrs=standby)".to_owned()),
    })
}

/// The hosts, ports and addresses, paired up as libpq pairs them: one port for
/// all hosts or one per host, and as many addresses as hosts.
pub fn host_list(info: &ConnInfo) -> Result<Vec<HostEntry>> {
    let split = |key: &str| -> Vec<String> {
        info.get(key)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let addrs = split("hostaddr");
    let mut hosts = split("host");
    if hosts.is_empty() {
        hosts = if addrs.is_empty() {
            // libpq's default on Debian-like systems is the socket directory.
            vec![if std::path::Path::new(DEFAULT_SOCKET_DIR).is_dir() {
                DEFAULT_SOCKET_DIR.to_owned()
            } else {
                "localhost".to_owned()
            }]
        } else {
            addrs.clone()
        };
    }
    if !addrs.is_empty() && addrs.len() != hosts.len() {
        return Err(Error::Usage(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            addrs.len()
        )));
    }
    let ports = split("port");
    if ports.len() > 1 && ports.len() != hosts.len() {
        return Err(Error::Usage(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            hosts.len()
        )));
    }
    let mut out = Vec::with_capacity(hosts.len());
    for (i, host) in hosts.into_iter().enumerate() {
        let port_text = match ports.len() {
            0 => "",
            1 => ports[0].as_str(),
            _ => ports[i].as_str(),
        };
        let port = if port_text.is_empty() {
            5432
        } else {
            port_text.parse::<u16>().map_err(|_| {
                Error::Usage(format!(
                    "invalid port number \"{port_text}\" (from {})",
                    info.origin("port")
                ))
            })?
        };
        let hostaddr = match addrs.get(i).filter(|a| !a.is_empty()) {
            Some(a) => Some(a.parse::<IpAddr>().map_err(|_| {
                Error::Usage(format!(
                    "could not parse network address \"{a}\" (hostaddr from {})",
                    info.origin("hostaddr")
                ))
            })?),
            None => None,
        };
        let host = if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        };
        out.push(HostEntry {
            host,
            hostaddr,
            port,
            password: None,
        });
    }
    Ok(out)
}

/// The password for each host: the settings' own, else the password file's
/// line for that host. Returns libpq's warning when the file was not used.
pub fn fill_passwords(info: &ConnInfo, hosts: &mut [HostEntry]) -> Option<String> {
    if let Some(s) = info.setting("password") {
        for h in hosts.iter_mut() {
            h.password = Some((s.value.clone(), s.origin.clone()));
        }
        return None;
    }
    let file: PathBuf = match info.get("passfile") {
        Some(f) => PathBuf::from(f),
        None => pgpass::default_file()?,
    };
    let user = info.get("user").unwrap_or_default();
    let dbname = info.get("dbname").unwrap_or_default();
    let mut note = None;
    for h in hosts.iter_mut() {
        let host = if h.host.is_empty() {
            h.hostaddr.map(|a| a.to_string()).unwrap_or_default()
        } else {
            h.host.clone()
        };
        let wanted = pgpass::Wanted {
            host: &host,
            port: h.port,
            dbname,
            user,
        };
        match pgpass::lookup(&file, &wanted) {
            Lookup::Found(found) => {
                h.password = Some((
                    found.password,
                    Origin::PassFile {
                        file: file.clone(),
                        line: found.line,
                    },
                ))
            }
            Lookup::NotFound => {}
            Lookup::Ignored(why) => note = Some(why),
        }
    }
    note
}

pub fn describe(user: &str, dbname: &str, hosts: &[HostEntry]) -> String {
    let hosts: Vec<String> = hosts.iter().map(HostEntry::label).collect();
    format!("{user}@{}/{dbname}", hosts.join(","))
}
