//! How the PostgreSQL backend reaches its database: the connection string, the schema its
//! tables live in, and TLS.
//!
//! tokio-postgres understands `sslmode` `disable`, `prefer` and `require` only, so `sslmode` and
//! `sslrootcert` are taken out of the connection string here (libpq's key/value form or a URL)
//! and TLS is set up with rustls: `require` encrypts without checking who answers (as libpq's
//! `require` without a root certificate), `verify-full` checks the server's certificate against
//! the CA in `sslrootcert` and that it names the host connected to (`host`, even when `hostaddr`
//! gives the address).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::StateError;

/// Terraform's variable for the pg backend's connection string; sovstack reads the same one.
pub const PG_CONN_STR_ENV: &str = "PG_CONN_STR";
/// Terraform's variable for the pg backend's schema.
pub const PG_SCHEMA_NAME_ENV: &str = "PG_SCHEMA_NAME";
/// The schema the state tables live in unless `schema_name` says otherwise.
pub const DEFAULT_SCHEMA: &str = "sovstack";

/// Whether and how the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, unverified (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS, the certificate signed by the CA in `sslrootcert` and naming the host.
    VerifyFull,
}

impl SslMode {
    /// Every mode by the name written in `sslmode`.
    pub const NAMES: &[(&str, SslMode)] = &[
        ("disable", SslMode::Disable),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-full", SslMode::VerifyFull),
    ];

    pub fn parse(name: &str) -> Option<SslMode> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }
}

/// Where the state database is, as the stack's `backend "pg"` block and the environment say.
#[derive(Clone)]
pub struct PgSettings {
    /// libpq key/value string or `postgres://` URL; may hold `sslmode` and `sslrootcert`.
    pub conn_str: String,
    pub schema_name: String,
    /// Overrides the connection string's `sslmode`.
    pub sslmode: Option<SslMode>,
    /// Overrides the connection string's `sslrootcert`.
    pub sslrootcert: Option<PathBuf>,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("PgSettings")
            .field("schema_name", &self.schema_name)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .finish_non_exhaustive()
    }
}

impl PgSettings {
    /// `conn_str` with the default schema and what it says about TLS.
    pub fn new(conn_str: impl Into<String>) -> Self {
        PgSettings {
            conn_str: conn_str.into(),
            schema_name: DEFAULT_SCHEMA.to_string(),
            sslmode: None,
            sslrootcert: None,
        }
    }
}

/// Schema names are plain lower-case identifiers, so that they need no quoting anywhere a
/// person writes them (psql, grants, backups).
pub fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A connection string taken apart: what tokio-postgres reads, and the TLS settings it does not.
#[derive(Debug, Default, PartialEq)]
struct Split {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

fn take(split: &mut Split, key: &str, value: String) -> bool {
    match key {
        "sslmode" => split.sslmode = Some(value),
        "sslrootcert" => split.sslrootcert = Some(value),
        _ => return false,
    }
    true
}

fn split_conn_str(conn: &str) -> Result<Split, StateError> {
    let trimmed = conn.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        Ok(split_url(trimmed))
    } else {
        split_key_values(trimmed)
    }
}

fn split_url(url: &str) -> Split {
    let mut split = Split::default();
    let Some((base, query)) = url.split_once('?') else {
        split.rest = url.to_string();
        return split;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            !take(&mut split, k, percent_decode(v))
        })
        .collect();
    split.rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    split
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's `key = value` pairs; a value is a word or single-quoted, with `\` escaping the next
/// character in both.
fn split_key_values(conn: &str) -> Result<Split, StateError> {
    let mut split = Split::default();
    let mut kept = Vec::new();
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(StateError::PgConnection {
                reason: format!("`{key}` in the connection string has no `= value`"),
            });
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let value = read_value(&mut chars)?;
        let end = chars.peek().map_or(conn.len(), |(i, _)| *i);
        if !take(&mut split, &key, value) {
            kept.push(conn[start..end].trim_end());
        }
    }
    split.rest = kept.join(" ");
    Ok(split)
}

fn read_value(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, StateError> {
    let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
    let mut value = String::new();
    loop {
        match chars.next() {
            None if quoted => {
                return Err(StateError::PgConnection {
                    reason: "a quoted value in the connection string has no closing `'`".into(),
                });
            }
            None => return Ok(value),
            Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
            Some((_, '\'')) if quoted => return Ok(value),
            Some((_, c)) if !quoted && c.is_whitespace() => return Ok(value),
            Some((_, c)) => value.push(c),
        }
    }
}

/// The connection, ready to open: tokio-postgres' settings and the TLS to wrap it in.
pub(crate) struct Target {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl Target {
    pub(crate) fn new(settings: &PgSettings) -> Result<Target, StateError> {
        let split = split_conn_str(&settings.conn_str)?;
        let mode = match (settings.sslmode, split.sslmode.as_deref()) {
            (Some(m), _) => m,
            (None, None) => SslMode::Prefer,
            (None, Some(name)) => SslMode::parse(name).ok_or_else(|| StateError::PgConnection {
                reason: format!(
                    "sslmode `{name}` is not one sovstack supports (disable, prefer, require, verify-full)"
                ),
            })?,
        };
        let root = settings
            .sslrootcert
            .clone()
            .or(split.sslrootcert.map(PathBuf::from));
        let mut config: tokio_postgres::Config =
            split.rest.parse().map_err(|e| StateError::PgConnection {
                reason: format!("the connection string does not parse: {e}"),
            })?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            SslMode::Prefer | SslMode::Require => Some(unverified_tls()?),
            SslMode::VerifyFull => Some(verified_tls(root)?),
        };
        Ok(Target { config, tls })
    }

    /// Opens a session; its connection task ends when the client is dropped.
    pub(crate) async fn connect(&self) -> Result<(Client, JoinHandle<()>), StateError> {
        fn ended(e: tokio_postgres::Error) {
            tracing::warn!("PostgreSQL state connection ended: {e}");
        }
        Ok(match &self.tls {
            None => {
                let (client, conn) = self.config.connect(NoTls).await.map_err(connect_error)?;
                (
                    client,
                    tokio::spawn(async { conn.await.unwrap_or_else(ended) }),
                )
            }
            Some(tls) => {
                let (client, conn) = self
                    .config
                    .connect(tls.clone())
                    .await
                    .map_err(connect_error)?;
                (
                    client,
                    tokio::spawn(async { conn.await.unwrap_or_else(ended) }),
                )
            }
        })
    }
}

/// A refused certificate gets its own message: the usual fixes differ from a refused login.
fn connect_error(e: tokio_postgres::Error) -> StateError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return StateError::PgTls {
                reason: tls.to_string(),
            };
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return StateError::PgTls {
                reason: tls.to_string(),
            };
        }
        source = s.source();
    }
    StateError::pg("connect", e)
}

/// rustls' process-wide provider, as its enabled features choose it (ring, which reqwest uses
/// too): the signature checks `require` still makes need it.
fn provider() -> Arc<CryptoProvider> {
    rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
        .crypto_provider()
        .clone()
}

fn verified_tls(root: Option<PathBuf>) -> Result<MakeRustlsConnect, StateError> {
    let Some(path) = root else {
        return Err(StateError::PgConnection {
            reason: "sslmode verify-full needs the CA that signed the server's certificate".into(),
        });
    };
    let unreadable = |reason: String| StateError::PgConnection {
        reason: format!("sslrootcert {}: {reason}", path.display()),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&path).map_err(|e| unreadable(e.to_string()))? {
        let cert = cert.map_err(|e| unreadable(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| unreadable(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(unreadable("holds no PEM certificate".into()));
    }
    Ok(MakeRustlsConnect::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

fn unverified_tls() -> Result<MakeRustlsConnect, StateError> {
    let verifier = Arc::new(AnyCertificate(provider()));
    Ok(MakeRustlsConnect::new(
        rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

/// `require`: the channel is encrypted and the handshake's signatures are checked, but any
/// certificate is taken (whoever answers at the address is trusted, as with libpq's `require`).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Split {
        split_conn_str(s).unwrap()
    }

    #[test]
    fn tls_settings_come_out_of_key_value_strings() {
        let s = split(
            "host=db port=5432 sslmode=verify-full sslrootcert='/etc/ca dir/ca.pem' user=app",
        );
        assert_eq!(s.rest, "host=db port=5432 user=app");
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.sslrootcert.as_deref(), Some("/etc/ca dir/ca.pem"));
        let s = split("password='it\\'s' sslmode = require");
        assert_eq!(s.rest, "password='it\\'s'");
        assert_eq!(s.sslmode.as_deref(), Some("require"));
        assert!(split_conn_str("host").is_err());
        assert!(split_conn_str("password='open").is_err());
    }

    #[test]
    fn tls_settings_come_out_of_urls() {
        let s = split(
            "postgres://u:p@db/state?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem",
        );
        assert_eq!(s.rest, "postgres://u:p@db/state?application_name=x");
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.sslrootcert.as_deref(), Some("/ca.pem"));
        assert_eq!(
            split("postgresql://db/s?sslmode=disable").rest,
            "postgresql://db/s"
        );
    }

    #[test]
    fn unknown_modes_and_verify_full_without_a_ca_are_refused() {
        let err = |s: PgSettings| Target::new(&s).err().unwrap().to_string();
        assert!(err(PgSettings::new("host=db sslmode=verify-ca")).contains("verify-ca"));
        assert!(err(PgSettings::new("host=db sslmode=verify-full")).contains("needs the CA"));
        let mut s = PgSettings::new("host=db sslmode=disable");
        s.sslmode = Some(SslMode::VerifyFull);
        s.sslrootcert = Some("/nonexistent/ca.pem".into());
        assert!(err(s).contains("/nonexistent/ca.pem"));
        assert!(Target::new(&PgSettings::new("host=db sslmode=require")).is_ok());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema_name("sovstack"));
        assert!(valid_schema_name("team_state2"));
        for bad in ["", "Sovstack", "2x", "a-b", "a;drop", &"x".repeat(64)] {
            assert!(!valid_schema_name(bad), "{bad}");
        }
    }
}
