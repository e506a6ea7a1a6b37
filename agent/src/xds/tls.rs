//! mTLS for remote Envoys: the server's certificate and key and the CA that signs the Envoys'
//! client certificates, read from files and reloaded when they change; and admission of a
//! connection by its certificate's identity.
//!
//! A client must present a certificate chaining to the configured CA (rustls verifies it during
//! the handshake), and one of its identities (URI SANs such as a SPIFFE id, DNS SANs, the
//! subject's common name) must match an `admit` pattern. A connection that fails either is
//! closed before any xDS is spoken: a node that is not admitted gets nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use x509_cert::der::{self, oid::ObjectIdentifier, Decode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// The files of the xDS server's TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// The CA certificates that sign the Envoys' client certificates (PEM).
    pub client_ca: PathBuf,
}

/// Why the TLS set-up cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or holds no usable PEM.
    #[error("{}: {message}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("TLS set-up refused: {0}")]
    Rustls(String),
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// A server TLS configuration read from [`TlsFiles`], read again when one of them changes.
#[derive(Debug)]
pub struct ReloadingTls {
    files: TlsFiles,
    current: Mutex<(Vec<Option<SystemTime>>, Arc<ServerConfig>)>,
}

impl ReloadingTls {
    /// Reads the files (an error when they are unusable: the server does not start).
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let stamps = stamps(&files);
        let config = Arc::new(load(&files)?);
        Ok(Self {
            files,
            current: Mutex::new((stamps, config)),
        })
    }

    /// The configuration for a new connection: read again first if a file changed since (a
    /// change that does not load keeps the last good configuration, with a warning).
    pub fn config(&self) -> Arc<ServerConfig> {
        let now = stamps(&self.files);
        let (seen, config) = {
            let current = self
                .current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (current.0.clone(), current.1.clone())
        };
        if seen == now {
            return config;
        }
        match load(&self.files) {
            Ok(fresh) => {
                tracing::info!("xDS TLS: certificate, key or client CA changed; reloaded");
                let fresh = Arc::new(fresh);
                *self
                    .current
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = (now, fresh.clone());
                fresh
            }
            Err(error) => {
                tracing::warn!("xDS TLS: keeping the last good set-up: {error}");
                self.current
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0 = now;
                config
            }
        }
    }
}

fn stamps(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    [&files.cert, &files.key, &files.client_ca]
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn load(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| file_error(&files.key, e))?;
    let mut roots = RootCertStore::empty();
    for ca in certificates(&files.client_ca)? {
        roots.add(ca).map_err(|e| file_error(&files.client_ca, e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The identities a (verified) client certificate carries: its URI SANs (a SPIFFE id), DNS
/// SANs, then the subject's common name.
pub fn identities(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok(cert) = Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() {
        for name in san.0 {
            match name {
                GeneralName::UniformResourceIdentifier(uri) => found.push(uri.to_string()),
                GeneralName::DnsName(dns) => found.push(dns.to_string()),
                _ => {}
            }
        }
    }
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid == COMMON_NAME {
                if let Ok(cn) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    found.push(cn.as_str().to_string());
                } else if let Ok(cn) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    found.push(cn.as_str().to_string());
                }
            }
        }
    }
    found
}

/// The OID of a subject's common name.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Which identities are admitted: exact names, or prefixes written with a final `*`
/// (`spiffe://mesh.example/envoy/*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    patterns: Vec<String>,
}

impl Admission {
    /// Admits the identities matching `patterns`.
    pub fn new(patterns: Vec<String>) -> Self {
        Self { patterns }
    }

    /// The first of `identities` that is admitted.
    pub fn admit<'a>(&self, identities: &'a [String]) -> Option<&'a String> {
        identities.iter().find(|id| {
            self.patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => id.starts_with(prefix),
                None => *id == p,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_matches_exact_names_and_prefixes() {
        let admission = Admission::new(vec![
            "spiffe://mesh.example/envoy/*".into(),
            "edge-1.example.com".into(),
        ]);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            admission.admit(&ids(&["x", "spiffe://mesh.example/envoy/a"])),
            Some(&"spiffe://mesh.example/envoy/a".to_string())
        );
        assert!(admission.admit(&ids(&["edge-1.example.com"])).is_some());
        assert!(admission
            .admit(&ids(&["edge-1.example.com.evil"]))
            .is_none());
        assert!(admission
            .admit(&ids(&["spiffe://mesh.example/other"]))
            .is_none());
        assert!(Admission::default().admit(&ids(&["anything"])).is_none());
    }

    #[test]
    fn unusable_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: dir.path().join("ca.pem"),
        };
        let error = ReloadingTls::new(missing).expect_err("refused").to_string();
        assert!(error.contains("cert.pem"), "{error}");
        std::fs::write(dir.path().join("cert.pem"), "not pem").expect("writes");
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: dir.path().join("ca.pem"),
        };
        let error = ReloadingTls::new(files).expect_err("refused").to_string();
        assert!(error.contains("no PEM certificate"), "{error}");
    }
}
