//! Connections the way `psql` and `pg_dump` make them: the settings of
//! [`super::conninfo`] (URL or `key=value`, service file, `PG*` variables),
//! libpq's defaults, a password from `~/.pgpass` per host, TLS from
//! [`super::tls`], and several hosts tried in order until one has the
//! `target_session_attrs` asked for.
//!
//! Once a host has been chosen every later connection of the run goes to it:
//! the parallel readers share one snapshot, which only that server has.
//!
//! Passwords never leave this module: [`SourceConfig::display`] is what errors
//! and summaries show, and a rejected password is named by where it came from.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres::{Client, Config};

use super::conninfo::{os_user, shown, ConnInfo, Origin};
use super::hosts::{describe, fill_passwords, host_list, session_matches, HostEntry, SessionAttrs};
use super::tls::{explain_certificate_error, Tls};
use crate::error::{Error, Result};

/// A validated connection configuration.
#[derive(Clone)]
pub struct SourceConfig {
    /// Everything but the host, port and password.
    base: Config,
    hosts: Vec<HostEntry>,
    attrs: SessionAttrs,
    random_order: bool,
    tls: Tls,
    info: Arc<ConnInfo>,
    /// Where the password file was, and why it was not used, if it was not.
    passfile_note: Option<String>,
    /// The host index the first connection chose.
    chosen: Arc<OnceLock<usize>>,
    display: String,
    /// How long a COPY may send nothing before the run gives up.
    stall_timeout: Duration,
}

/// pg2sqlite's defaults for what `--lock-timeout` and `--stall-timeout` set.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(600);

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

impl SourceConfig {
    /// Resolves `source` (a URL, a `key=value` string, or empty) with libpq's
    /// precedence: the string, then its service (or `PGSERVICE`), then the `PG*`
    /// variables, then the defaults; a password still missing is looked up in
    /// the password file for each host. `flag` names where the string came
    /// from, for messages.
    pub fn resolve(source: &str, flag: &str) -> Result<SourceConfig> {
        let mut info = ConnInfo::resolve(source, flag).map_err(|e| {
            usage(format!(
                "the {flag} connection string is not valid: {e}\n  hint: use \
                 postgres://USER@HOST:PORT/DATABASE, 'host=… dbname=…' or service=NAME"
            ))
        })?;
        for refused in ["require_auth", "requirepeer", "replication"] {
            if let Some(s) = info.setting(refused) {
                return Err(usage(format!(
                    "{refused} (from {}) is not supported by pg2sqlite",
                    s.origin
                )));
            }
        }
        if info.get("gssencmode") == Some("require") {
            return Err(usage(format!(
                "gssencmode=require (from {}) is not supported: pg2sqlite encrypts with TLS (sslmode)",
                info.origin("gssencmode")
            )));
        }
        if let Some(enc) = info.get("client_encoding") {
            if !matches!(
                enc.to_ascii_uppercase().as_str(),
                "UTF8" | "UTF-8" | "UNICODE" | "AUTO"
            ) {
                return Err(usage(format!(
                    "client_encoding={enc} (from {}) is not supported: pg2sqlite always reads UTF8",
                    info.origin("client_encoding")
                )));
            }
        }
        info.set_default("user", os_user().unwrap_or_else(|| "postgres".to_owned()));
        let user = info.get("user").unwrap_or("postgres").to_owned();
        info.set_default("dbname", user.clone());
        let app = info
            .get("fallback_application_name")
            .unwrap_or("pg2sqlite")
            .to_owned();
        info.set_default("application_name", app);

        let tls = Tls::from_settings(&info).map_err(usage)?;
        let mut base = Config::new();
        base.user(&user);
        if let Some(db) = info.get("dbname") {
            base.dbname(db);
        }
        if let Some(app) = info.get("application_name") {
            base.application_name(app);
        }
        base.ssl_mode(tls.mode);
        base.ssl_negotiation(tls.negotiation);
        configure_timeouts(&mut base, &info)?;
        if let Some(cb) = info.get("channel_binding") {
            base.channel_binding(match cb {
                "disable" => ChannelBinding::Disable,
                "prefer" => ChannelBinding::Prefer,
                "require" => ChannelBinding::Require,
                other => {
                    return Err(usage(format!(
                        "invalid channel_binding value \"{other}\"; use disable, prefer or require"
                    )))
                }
            });
        }
        let attrs = match info.get("target_session_attrs") {
            None => SessionAttrs::Any,
            Some(s) => SessionAttrs::parse(s).ok_or_else(|| {
                usage(format!(
                    "invalid target_session_attrs value \"{s}\" (from {}); use any, read-write, read-only, primary, standby or prefer-standby",
                    info.origin("target_session_attrs")
                ))
            })?,
        };
        let random_order = match info.get("load_balance_hosts") {
            None | Some("disable") => false,
            Some("random") => true,
            Some(other) => {
                return Err(usage(format!(
                    "invalid load_balance_hosts value \"{other}\"; use disable or random"
                )))
            }
        };

        let mut hosts = host_list(&info)?;
        let passfile_note = fill_passwords(&info, &mut hosts);
        let display = describe(&user, info.get("dbname").unwrap_or(&user), &hosts);
        Ok(SourceConfig {
            base,
            hosts,
            attrs,
            random_order,
            tls,
            info: Arc::new(info),
            passfile_note,
            chosen: Arc::new(OnceLock::new()),
            display,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
        .with_timeouts(DEFAULT_LOCK_TIMEOUT, DEFAULT_STALL_TIMEOUT))
    }

    /// Sets the server's `lock_timeout` for every session (0: wait for ever), as
    /// a startup option ahead of the user's `options`, which may override it; and
    /// how long a COPY may stall.
    pub fn with_timeouts(
        mut self,
        lock_timeout: Duration,
        stall_timeout: Duration,
    ) -> SourceConfig {
        let user_options = self.info.get("options").unwrap_or_default();
        self.base.options(
            format!(
                "-c lock_timeout={} {user_options}",
                lock_timeout.as_millis()
            )
            .trim_end(),
        );
        self.stall_timeout = stall_timeout;
        self
    }

    /// How long a COPY may send nothing (`--stall-timeout`).
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// `user@host:port/db`, never the password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Warnings a libpq tool would print before connecting (a password file
    /// that was ignored, and why).
    pub fn warnings(&self) -> Vec<String> {
        self.passfile_note.iter().cloned().collect()
    }

    /// Opens one connection; its I/O runs on a spawned task. The first call
    /// tries the hosts in order; later calls go to the host it chose.
    pub async fn connect(&self) -> Result<Client> {
        if let Some(&i) = self.chosen.get() {
            return self
                .connect_host(i)
                .await
                .map_err(|e| self.connect_error(i, &e));
        }
        let mut order: Vec<usize> = (0..self.hosts.len()).collect();
        if self.random_order && order.len() > 1 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let by = usize::try_from(nanos).unwrap_or(0) % order.len();
            order.rotate_left(by);
        }
        let passes: &[SessionAttrs] = match self.attrs {
            SessionAttrs::PreferStandby => &[SessionAttrs::Standby, SessionAttrs::Any],
            ref attrs => std::slice::from_ref(attrs),
        };
        let mut failures: Vec<(usize, Error)> = Vec::new();
        for want in passes {
            for &i in &order {
                let started = Instant::now();
                let client = match self.connect_host(i).await {
                    Ok(c) => c,
                    Err(e) => {
                        failures.push((i, self.connect_error(i, &e)));
                        continue;
                    }
                };
                match session_matches(&client, *want).await {
                    Ok(None) => {
                        let _ = self.chosen.set(i);
                        tracing::debug!(
                            host = %self.hosts[i].label(),
                            ms = started.elapsed().as_millis(),
                            "connected"
                        );
                        return Ok(client);
                    }
                    Ok(Some(why)) => failures.push((
                        i,
                        Error::Connect {
                            target: self.display.clone(),
                            reason: why,
                            hint: format!(
                                "target_session_attrs (from {}) asks for another kind of server; name one in the host list",
                                self.info.origin("target_session_attrs")
                            ),
                        },
                    )),
                    Err(e) => failures.push((i, self.connect_error(i, &e))),
                }
            }
        }
        Err(self.no_host_error(failures))
    }

    async fn connect_host(&self, i: usize) -> std::result::Result<Client, tokio_postgres::Error> {
        let entry = &self.hosts[i];
        let mut config = self.base.clone();
        config.host(&entry.host);
        if let Some(addr) = entry.hostaddr {
            config.hostaddr(addr);
        }
        config.port(entry.port);
        if let Some((password, _)) = &entry.password {
            config.password(password);
        }
        // The connection's I/O runs on its own task until the client is dropped.
        match &self.tls.connector {
            Some(tls) if self.tls.mode != SslMode::Disable => {
                let (client, conn) = config.connect(tls.clone()).await?;
                tokio::spawn(conn);
                Ok(client)
            }
            _ => {
                let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                Ok(client)
            }
        }
    }

    /// One error for a run that found no usable host: the single host's own
    /// error, or each host's reason in turn.
    fn no_host_error(&self, mut failures: Vec<(usize, Error)>) -> Error {
        if failures.len() == 1 {
            if let Some((_, e)) = failures.pop() {
                return e;
            }
        }
        let mut reason = String::from("no host could be used:");
        let mut hints: Vec<String> = Vec::new();
        for (i, e) in &failures {
            let (why, hint) = match e {
                Error::Connect { reason, hint, .. } => (reason.clone(), hint.clone()),
                other => (other.to_string(), String::new()),
            };
            reason.push_str(&format!("\n    {}: {why}", self.hosts[*i].label()));
            if !hint.is_empty() && !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        Error::Connect {
            target: self.display.clone(),
            reason,
            hint: hints.join("; "),
        }
    }

    fn connect_error(&self, i: usize, e: &tokio_postgres::Error) -> Error {
        let entry = &self.hosts[i];
        let (reason, hint) = match e.as_db_error() {
            Some(db) => {
                let hint = match db.code().code() {
                    "28P01" => self.rejected_password_hint(entry),
                    "28000" if db.message().contains("no encryption") => format!(
                        "the server takes only encrypted connections here, and sslmode={} (from {}) sent none: use sslmode=require, or verify-full with sslrootcert",
                        self.info.get("sslmode").unwrap_or("disable"),
                        self.info.origin("sslmode")
                    ),
                    "28000" if db.message().contains("certificate") => format!(
                        "give a client certificate the server trusts with sslcert=FILE and sslkey=FILE (default ~/.postgresql/postgresql.crt and .key){}",
                        match &self.tls.client_cert {
                            Some(c) => format!("; {} was sent", shown(&c.cert)),
                            None => String::new(),
                        }
                    ),
                    "28000" => format!(
                        "check the user (\"{}\", from {}) and the server's pg_hba.conf",
                        self.info.get("user").unwrap_or("?"),
                        self.info.origin("user")
                    ),
                    "3D000" => format!(
                        "check the database name (\"{}\", from {})",
                        self.info.get("dbname").unwrap_or("?"),
                        self.info.origin("dbname")
                    ),
                    "53300" => "the server has no free connections; lower --jobs".to_owned(),
                    _ => "see the server's message above".to_owned(),
                };
                let mut reason = db.message().to_owned();
                if db.code().code() == "28P01" {
                    if let Some((_, origin)) = &entry.password {
                        reason.push_str(&format!(" (the password from {origin} was rejected)"));
                    }
                }
                (reason, hint)
            }
            None => self.transport_error(entry, e),
        };
        Error::Connect {
            target: if self.hosts.len() > 1 {
                format!("{} ({})", self.display, entry.label())
            } else {
                self.display.clone()
            },
            reason,
            hint,
        }
    }

    fn rejected_password_hint(&self, entry: &HostEntry) -> String {
        match &entry.password {
            Some((_, Origin::PassFile { file, line })) => format!(
                "correct line {line} of {} (hostname:port:database:username:password)",
                shown(file)
            ),
            Some((_, origin)) => format!("correct the password in {origin}"),
            None => "give the password in ~/.pgpass, PGPASSWORD or the URL".to_owned(),
        }
    }

    /// A failure below the protocol: no server, TLS, a missing password.
    fn transport_error(&self, entry: &HostEntry, e: &tokio_postgres::Error) -> (String, String) {
        if let Some(rustls_error) = find_source::<rustls::Error>(e) {
            let name = if entry.host.starts_with('/') {
                entry.hostaddr.map(|a| a.to_string()).unwrap_or_default()
            } else {
                entry.host.clone()
            };
            if let Some(explained) = explain_certificate_error(&self.tls, &name, rustls_error) {
                return explained;
            }
        }
        let message = crate::error::pg_message(e);
        if message.contains("password missing") {
            let mut hint = String::from(
                "the server asks for a password and none was given: put it in ~/.pgpass \
                 (hostname:port:database:username:password, mode 0600), PGPASSWORD or the URL",
            );
            if let Some(note) = &self.passfile_note {
                hint.push_str(&format!("; {note}"));
            }
            return (
                format!(
                    "no password for user \"{}\"",
                    self.info.get("user").unwrap_or("?")
                ),
                hint,
            );
        }
        if message.contains("server does not support TLS") {
            return (
                format!(
                    "the server does not accept TLS, and sslmode={} (from {}) requires it",
                    self.info.get("sslmode").unwrap_or("require"),
                    self.info.origin("sslmode")
                ),
                "use sslmode=prefer or sslmode=disable if this server is meant to be reached without TLS".to_owned(),
            );
        }
        let mut hint = format!(
            "is PostgreSQL running and reachable at {}? check the host (from {}) and port (from {})",
            entry.label(),
            self.info.origin("host"),
            self.info.origin("port")
        );
        if find_source::<rustls::Error>(e).is_some() || message.contains("TLS") {
            hint = format!(
                "the TLS handshake failed{}; check sslmode and the certificates",
                match &self.tls.roots {
                    Some(r) => format!(" (trusting {r})"),
                    None => String::new(),
                }
            );
        }
        (message, hint)
    }
}

/// The first error of type `T` in `e`'s chain of sources.
fn find_source<T: std::error::Error + 'static>(e: &tokio_postgres::Error) -> Option<&T> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(inner) = source {
        if let Some(found) = inner.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|r| r.downcast_ref::<T>()) {
                return Some(found);
            }
        }
        source = inner.source();
    }
    None
}

fn configure_timeouts(config: &mut Config, info: &ConnInfo) -> Result<()> {
    let number = |key: &str| -> Result<Option<u64>> {
        info.get(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map(|n| u64::try_from(n).unwrap_or(0))
                    .map_err(|_| {
                        usage(format!(
                            "{key}={v} (from {}) is not a number",
                            info.origin(key)
                        ))
                    })
            })
            .transpose()
    };
    // libpq waits for ever by default; a tool run during an incident should not.
    let connect_timeout = number("connect_timeout")?.unwrap_or(30);
    if connect_timeout > 0 {
        // libpq treats 1 as 2 seconds.
        config.connect_timeout(Duration::from_secs(connect_timeout.max(2)));
    }
    if let Some(ms) = number("tcp_user_timeout")? {
        config.tcp_user_timeout(Duration::from_millis(ms));
    }
    // Keepalives on every connection, sooner than the system's two hours, so
    // that a dead server or network is noticed within about two minutes
    // (60 s idle, then 6 probes 10 s apart) unless the settings say otherwise.
    config.keepalives(number("keepalives")?.unwrap_or(1) != 0);
    config.keepalives_idle(Duration::from_secs(
        number("keepalives_idle")?.unwrap_or(60),
    ));
    config.keepalives_interval(Duration::from_secs(
        number("keepalives_interval")?.unwrap_or(10),
    ));
    config.keepalives_retries(
        u32::try_from(number("keepalives_count")?.unwrap_or(6)).unwrap_or(u32::MAX),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_shows_the_password() {
        let c = SourceConfig::resolve("postgres://alice:s3cret@db.example:5433/app", "--source")
            .unwrap();
        assert_eq!(c.display(), "alice@db.example:5433/app");
        let c =
            SourceConfig::resolve("host=h user=bob password=hunter2 dbname=x", "--source").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn several_hosts_pair_with_ports_and_addresses() {
        let c = SourceConfig::resolve(
            "host=a,b hostaddr=127.0.0.1,127.0.0.2 port=5433,5434 user=u dbname=d sslmode=disable",
            "--source",
        )
        .unwrap();
        assert_eq!(c.display(), "u@a:5433,b:5434/d");
        assert_eq!(c.hosts[1].hostaddr, Some("127.0.0.2".parse().unwrap()));
        let one_port =
            SourceConfig::resolve("postgres://u@a,b:6000/d?sslmode=disable", "--source").unwrap();
        assert_eq!(one_port.display(), "u@a:5432,b:6000/d");
        assert!(matches!(
            SourceConfig::resolve("host=a,b port=1,2,3 sslmode=disable", "--source"),
            Err(Error::Usage(m)) if m.contains("port numbers")
        ));
        assert!(matches!(
            SourceConfig::resolve("host=a target_session_attrs=leader sslmode=disable", "--source"),
            Err(Error::Usage(m)) if m.contains("target_session_attrs")
        ));
    }

    #[test]
    fn bad_strings_are_usage_errors() {
        assert!(matches!(
            SourceConfig::resolve("postgres://h:notaport/db", "--source"),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            SourceConfig::resolve("host=h bogus=1", "--source"),
            Err(Error::Usage(m)) if m.contains("bogus")
        ));
        assert!(matches!(
            SourceConfig::resolve("host=h sslmode=verify-full sslrootcert=/nonexistent/ca.pem", "--source"),
            Err(Error::Usage(m)) if m.contains("/nonexistent/ca.pem") && m.contains("does not exist")
        ));
        assert!(matches!(
            SourceConfig::resolve("host=h sslmode=require sslrootcert=system", "--source"),
            Err(Error::Usage(m)) if m.contains("verify-full")
        ));
    }
}
