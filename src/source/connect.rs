//! Connections the way every PostgreSQL tool makes them: a URL or `key=value`
//! string, completed by the libpq environment variables, with TLS for
//! `sslmode=prefer|require`.
//!
//! Passwords never leave this module: [`SourceConfig::display`] is what errors and
//! summaries show.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config};

use crate::error::{Error, Result};

/// A validated connection configuration.
#[derive(Clone)]
pub struct SourceConfig {
    config: Config,
    display: String,
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl SourceConfig {
    /// Parses `postgres://…` or `host=… dbname=…`, then fills what it leaves out
    /// from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
    /// `PGCONNECT_TIMEOUT` and `PGAPPNAME`, as libpq does.
    /// `flag` names the option the string came from, for the error message.
    pub fn resolve(source: &str, flag: &str) -> Result<SourceConfig> {
        let mut config = Config::from_str(source).map_err(|e| {
            Error::Usage(format!(
                "the {flag} connection string is not valid: {e}\n  hint: use \
                 postgres://USER@HOST:PORT/DATABASE or 'host=… dbname=…'"
            ))
        })?;
        if config.get_hosts().is_empty() {
            match env("PGHOST") {
                Some(hosts) => {
                    for h in hosts.split(',') {
                        config.host(h);
                    }
                }
                None => {
                    // libpq's default on Debian-like systems is the socket directory.
                    let socket_dir = "/var/run/postgresql";
                    if std::path::Path::new(socket_dir).is_dir() {
                        config.host(socket_dir);
                    } else {
                        config.host("localhost");
                    }
                }
            }
        }
        let port_in_source = source.contains("port") || has_url_port(source);
        if !port_in_source {
            if let Some(port) = env("PGPORT") {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| Error::Usage(format!("PGPORT={port} is not a port number")))?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".to_owned());
            config.user(&user);
        }
        if config.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD") {
                config.password(pw);
            }
        }
        if config.get_dbname().is_none() {
            if let Some(db) = env("PGDATABASE") {
                config.dbname(&db);
            }
        }
        if !source.contains("sslmode") {
            if let Some(mode) = env("PGSSLMODE") {
                config.ssl_mode(match mode.as_str() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    other => {
                        return Err(Error::Usage(format!(
                            "PGSSLMODE={other} is not supported; use disable, prefer or require"
                        )))
                    }
                });
            }
        }
        if config.get_connect_timeout().is_none() {
            let secs = match env("PGCONNECT_TIMEOUT") {
                Some(s) => s.parse::<u64>().map_err(|_| {
                    Error::Usage(format!("PGCONNECT_TIMEOUT={s} is not a number of seconds"))
                })?,
                None => 30,
            };
            config.connect_timeout(Duration::from_secs(secs));
        }
        if config.get_application_name().is_none() {
            config.application_name(env("PGAPPNAME").unwrap_or_else(|| "pg2sqlite".to_owned()));
        }
        let display = describe(&config);
        Ok(SourceConfig { config, display })
    }

    /// `user@host:port/db`, never the password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Opens one connection; its I/O runs on a spawned task.
    pub async fn connect(&self) -> Result<Client> {
        let result = if self.config.get_ssl_mode() == SslMode::Disable {
            self.config
                .connect(tokio_postgres::NoTls)
                .await
                .map(|(client, conn)| {
                    tokio::spawn(conn);
                    client
                })
        } else {
            let tls = tls_connector().map_err(|e| Error::Connect {
                target: self.display.clone(),
                reason: format!("cannot set up TLS: {e}"),
                hint: "retry with sslmode=disable if the server does not need TLS".to_owned(),
            })?;
            self.config.connect(tls).await.map(|(client, conn)| {
                tokio::spawn(conn);
                client
            })
        };
        result.map_err(|e| self.connect_error(&e))
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> Error {
        let (reason, hint) = match e.as_db_error() {
            Some(db) => {
                let hint = match db.code().code() {
                    "28P01" | "28000" => {
                        "check the user and password (in the URL, or PGUSER / PGPASSWORD)"
                    }
                    "3D000" => "check the database name (in the URL, or PGDATABASE)",
                    "53300" => "the server has no free connections; lower --jobs",
                    _ => "see the server's message above",
                };
                (db.message().to_owned(), hint)
            }
            None => (
                crate::error::pg_message(e),
                "is PostgreSQL running and reachable there? check host and port \
                 (in the URL, or PGHOST / PGPORT)",
            ),
        };
        Error::Connect {
            target: self.display.clone(),
            reason,
            hint: hint.to_owned(),
        }
    }
}

fn has_url_port(source: &str) -> bool {
    // postgres://user@host:5433/db — a ':' followed by digits after the '@' or '//'.
    let rest = source.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let authority = rest.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit('@').next().unwrap_or_default();
    hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => String::from("?"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or("?"),
        host,
        port,
        config.get_dbname().or(config.get_user()).unwrap_or("?")
    )
}

/// TLS as libpq does it for `prefer` and `require`: encrypted, the server's
/// certificate not checked against a CA (libpq checks only for verify-ca/verify-full).
fn tls_connector() -> std::result::Result<tokio_postgres_rustls::MakeRustlsConnect, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyServerCert(provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[derive(Debug)]
struct AcceptAnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
    fn url_port_detection() {
        assert!(has_url_port("postgres://u@h:5433/db"));
        assert!(!has_url_port("postgres://u:pw@h/db"));
        assert!(!has_url_port("host=h"));
    }

    #[test]
    fn bad_strings_are_usage_errors() {
        assert!(matches!(
            SourceConfig::resolve("postgres://h:notaport/db", "--source"),
            Err(Error::Usage(_))
        ));
    }
}
