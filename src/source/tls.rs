//! TLS as libpq does it, on rustls: which `sslmode` checks what, where the root
//! certificates and the client certificate come from, and the verifiers.
//!
//! | sslmode | encrypted | server certificate checked |
//! |---|---|---|
//! | disable | no | — |
//! | allow, prefer | if the server accepts | chain, when a root certificate file exists |
//! | require | yes | chain, when a root certificate file exists (libpq's rule) |
//! | verify-ca | yes | chain against `sslrootcert` |
//! | verify-full | yes | chain and host name |
//!
//! `sslrootcert` is a PEM file (default `~/.postgresql/root.crt`), or `system` for
//! the system's trust store, which implies `verify-full`. The client certificate
//! is `sslcert`/`sslkey` (default `~/.postgresql/postgresql.crt` and `.key`), sent
//! whenever it exists.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::{SslMode, SslNegotiation};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{in_home, shown, ConnInfo, Origin};

/// How far the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCheck {
    /// Encrypted, the certificate taken as offered (libpq's `require`).
    Nothing,
    /// Signed by a trusted CA (`verify-ca`).
    Chain,
    /// Signed by a trusted CA and issued for the host connected to (`verify-full`).
    ChainAndName,
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone)]
pub enum Roots {
    File { path: PathBuf, origin: Origin },
    System,
}

impl std::fmt::Display for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::File { path, origin } => match origin {
                Origin::Default => write!(f, "{}", shown(path)),
                _ => write!(f, "{} (sslrootcert from {origin})", shown(path)),
            },
            Roots::System => f.write_str("the system's trust store (sslrootcert=system)"),
        }
    }
}

/// A client certificate and its key.
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub origin: Origin,
}

/// The TLS half of a connection's settings, with its connector built (files are
/// read once, before anything connects).
#[derive(Clone)]
pub struct Tls {
    pub mode: SslMode,
    pub negotiation: SslNegotiation,
    pub check: ServerCheck,
    pub roots: Option<Roots>,
    pub client_cert: Option<ClientCert>,
    pub connector: Option<MakeRustlsConnect>,
}

impl Tls {
    /// Reads the `ssl*` settings and the files they name.
    pub fn from_settings(info: &ConnInfo) -> Result<Tls, String> {
        for refused in ["sslcrl", "sslcrldir"] {
            if let Some(s) = info.setting(refused) {
                return Err(format!(
                    "{refused} (from {}) is not supported: pg2sqlite does not check certificate revocation lists",
                    s.origin
                ));
            }
        }
        if let Some(s) = info.setting("sslpassword") {
            return Err(format!(
                "sslpassword (from {}) is not supported: encrypted client keys cannot be read; \
                 decrypt the key (openssl pkey -in KEY -out PLAIN; chmod 600 PLAIN) and name it with sslkey",
                s.origin
            ));
        }
        let system_roots = info.get("sslrootcert") == Some("system");
        let mode_text = match info.get("sslmode") {
            Some(m) => m.to_owned(),
            None if info.get("requiressl") == Some("1") => "require".to_owned(),
            None if system_roots => "verify-full".to_owned(),
            None => "prefer".to_owned(),
        };
        let (mode, mut check) = match mode_text.as_str() {
            "disable" => (SslMode::Disable, ServerCheck::Nothing),
            // tokio-postgres has no "plain first, then TLS"; allow tries TLS first.
            "allow" | "prefer" => (SslMode::Prefer, ServerCheck::Nothing),
            "require" => (SslMode::Require, ServerCheck::Nothing),
            "verify-ca" => (SslMode::Require, ServerCheck::Chain),
            "verify-full" => (SslMode::Require, ServerCheck::ChainAndName),
            other => {
                return Err(format!(
                    "invalid sslmode value \"{other}\" (from {}); use disable, allow, prefer, require, verify-ca or verify-full",
                    info.origin("sslmode")
                ))
            }
        };
        if system_roots && check != ServerCheck::ChainAndName {
            return Err(format!(
                "weak sslmode \"{mode_text}\" may not be used with sslrootcert=system (use \"verify-full\")"
            ));
        }
        let negotiation = match info.get("sslnegotiation") {
            None | Some("postgres") => SslNegotiation::Postgres,
            Some("direct") if mode == SslMode::Require => SslNegotiation::Direct,
            Some("direct") => {
                return Err(format!(
                    "weak sslmode \"{mode_text}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")"
                ))
            }
            Some(other) => {
                return Err(format!(
                    "invalid sslnegotiation value \"{other}\"; use postgres or direct"
                ))
            }
        };
        if mode == SslMode::Disable {
            return Ok(Tls {
                mode,
                negotiation,
                check,
                roots: None,
                client_cert: None,
                connector: None,
            });
        }

        let roots = if system_roots {
            Some(Roots::System)
        } else {
            let (path, origin) = match info.setting("sslrootcert") {
                Some(s) => (PathBuf::from(&s.value), s.origin.clone()),
                None => (
                    in_home(".postgresql/root.crt").unwrap_or_default(),
                    Origin::Default,
                ),
            };
            if path.is_file() {
                Some(Roots::File { path, origin })
            } else if check != ServerCheck::Nothing {
                return Err(format!(
                    "root certificate file \"{}\" does not exist{}; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification",
                    path.display(),
                    match origin {
                        Origin::Default => String::new(),
                        o => format!(" (sslrootcert from {o})"),
                    }
                ));
            } else {
                None
            }
        };
        // libpq checks the chain whenever it has a root certificate, even for
        // prefer and require.
        if roots.is_some() && check == ServerCheck::Nothing {
            check = ServerCheck::Chain;
        }
        let client_cert = client_cert(info)?;
        let connector = connector(
            info,
            check,
            roots.as_ref(),
            client_cert.as_ref(),
            negotiation,
        )?;
        Ok(Tls {
            mode,
            negotiation,
            check,
            roots,
            client_cert,
            connector: Some(connector),
        })
    }
}

/// The client certificate to send, if its file exists (libpq skips a missing
/// one: the server may not ask).
fn client_cert(info: &ConnInfo) -> Result<Option<ClientCert>, String> {
    let cert_mode = info.get("sslcertmode").unwrap_or("allow");
    let (cert, origin) = match info.setting("sslcert") {
        Some(s) => (PathBuf::from(&s.value), s.origin.clone()),
        None => match in_home(".postgresql/postgresql.crt") {
            Some(p) => (p, Origin::Default),
            None => return Ok(None),
        },
    };
    match cert_mode {
        "disable" => return Ok(None),
        "allow" => {}
        "require" if cert.is_file() => {}
        "require" => {
            return Err(format!(
                "sslcertmode=require, but the client certificate \"{}\" does not exist",
                cert.display()
            ))
        }
        other => {
            return Err(format!(
                "invalid sslcertmode value \"{other}\"; use disable, allow or require"
            ))
        }
    }
    if !cert.is_file() {
        return Ok(None);
    }
    let key = match info.setting("sslkey") {
        Some(s) => PathBuf::from(&s.value),
        None => in_home(".postgresql/postgresql.key").unwrap_or_default(),
    };
    let meta = std::fs::metadata(&key).map_err(|e| {
        format!(
            "certificate \"{}\" present, but not private key file \"{}\": {e}",
            cert.display(),
            key.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "private key file \"{}\" is not a regular file",
            key.display()
        ));
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let mode = meta.mode();
    let too_open =
        (meta.uid() == euid && mode & 0o077 != 0) || (meta.uid() == 0 && mode & 0o037 != 0);
    if too_open {
        return Err(format!(
            "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
            key.display()
        ));
    }
    Ok(Some(ClientCert { cert, key, origin }))
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} \"{}\": {e}", path.display()))
}

fn connector(
    info: &ConnInfo,
    check: ServerCheck,
    roots: Option<&Roots>,
    client: Option<&ClientCert>,
    negotiation: SslNegotiation,
) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = match (check, roots) {
        (ServerCheck::Nothing, _) | (_, None) => None,
        (check, Some(roots)) => {
            let store = Arc::new(root_store(roots)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                .build()
                .map_err(|e| format!("cannot use the root certificates in {roots}: {e}"))?;
            Some((webpki, check == ServerCheck::ChainAndName))
        }
    };
    let verifier = Arc::new(CertificateCheck {
        provider: provider.clone(),
        chain,
    });
    let versions = protocol_versions(info)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let certs = CertificateDer::pem_slice_iter(&read_file(&c.cert, "client certificate")?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!(
                        "client certificate \"{}\" is not PEM: {e}",
                        c.cert.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "client certificate \"{}\" holds no certificate",
                    c.cert.display()
                ));
            }
            let key_pem = read_file(&c.key, "private key file")?;
            if key_pem
                .windows(b"ENCRYPTED".len())
                .any(|w| w == b"ENCRYPTED")
            {
                return Err(format!(
                    "private key file \"{}\" is encrypted, which pg2sqlite cannot read; decrypt it (openssl pkey -in KEY -out PLAIN; chmod 600 PLAIN) and name it with sslkey",
                    c.key.display()
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                format!(
                    "private key file \"{}\" holds no PEM private key: {e}",
                    c.key.display()
                )
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                format!(
                    "client certificate \"{}\" and key \"{}\" cannot be used: {e}",
                    c.cert.display(),
                    c.key.display()
                )
            })?
        }
    };
    config.enable_sni = info.get("sslsni") != Some("0");
    if negotiation == SslNegotiation::Direct {
        // PostgreSQL 17 requires this ALPN protocol on direct TLS connections.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok(MakeRustlsConnect::new(config))
}

fn protocol_versions(
    info: &ConnInfo,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |key: &str, default: u8| -> Result<u8, String> {
        match info.get(key) {
            None => Ok(default),
            // rustls speaks nothing older than TLS 1.2, libpq's default minimum.
            Some("TLSv1" | "TLSv1.1" | "TLSv1.2") => Ok(2),
            Some("TLSv1.3") => Ok(3),
            Some(other) => Err(format!(
                "invalid {key} value \"{other}\"; use TLSv1.2 or TLSv1.3"
            )),
        }
    };
    let (min, max) = (
        rank("ssl_min_protocol_version", 2)?,
        rank("ssl_max_protocol_version", 3)?,
    );
    let mut versions = Vec::new();
    if min <= 3 && max >= 3 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= 2 && max >= 2 {
        versions.push(&rustls::version::TLS12);
    }
    if versions.is_empty() {
        return Err("ssl_min_protocol_version is above ssl_max_protocol_version".to_owned());
    }
    Ok(versions)
}

fn root_store(roots: &Roots) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Roots::File { path, .. } => {
            let pem = read_file(path, "root certificate file")?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    format!(
                        "root certificate file \"{}\" is not PEM: {e}",
                        path.display()
                    )
                })?;
                store.add(cert).map_err(|e| {
                    format!(
                        "root certificate file \"{}\" holds a certificate that cannot be used: {e}",
                        path.display()
                    )
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert=system, but no trusted root certificate was found on this system{}; install the ca-certificates package or set SSL_CERT_FILE",
                    found
                        .errors
                        .first()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    if store.is_empty() {
        return Err(format!("{roots} holds no certificate"));
    }
    Ok(store)
}

/// The server-certificate check of one [`ServerCheck`]: nothing (libpq's
/// `require`), the chain (`verify-ca`), or the chain and the name
/// (`verify-full`). The handshake's signatures are checked in every case.
#[derive(Debug)]
struct CertificateCheck {
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// The chain's verifier, and whether its name check counts.
    chain: Option<(Arc<WebPkiServerVerifier>, bool)>,
}

impl ServerCertVerifier for CertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some((webpki, check_name)) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // rustls checks the chain before the name, so a name error means the
        // chain was good.
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a failed TLS handshake means for the user, when the failure was the
/// certificate check: `(reason, hint)`.
pub fn explain_certificate_error(
    tls: &Tls,
    host: &str,
    error: &rustls::Error,
) -> Option<(String, String)> {
    let rustls::Error::InvalidCertificate(cert_error) = error else {
        return None;
    };
    let roots = tls
        .roots
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "the root certificates".to_owned());
    Some(match cert_error {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            format!("the server's certificate is not valid for the host name \"{host}\" (sslmode=verify-full checks it)"),
            "connect with a host name the certificate was issued for, or use sslmode=verify-ca to check only that a trusted CA signed it".to_owned(),
        ),
        CertificateError::UnknownIssuer | CertificateError::BadSignature => (
            format!("the server's certificate was not signed by a CA in {roots}"),
            "name the CA that signed the server's certificate with sslrootcert=FILE (or PGSSLROOTCERT)".to_owned(),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            "the server's certificate has expired".to_owned(),
            "the server needs a new certificate; check this machine's clock too".to_owned(),
        ),
        other => (
            format!("the server's certificate was refused: {other:?}"),
            format!("check the server's certificate against {roots}"),
        ),
    })
}
