//! The TLS material of `tcp://` listeners (`--tlscacert`, `--tlscert`,
//! `--tlskey`), read once at start with an error that names the file.
//!
//! A PEM file without the block we need is not an empty list: rustls would
//! take an empty certificate chain and fail much later with "peer sent no
//! certificates", which names neither the file nor the side.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{ListenError, TlsOptions};

fn tls_error(message: String) -> ListenError {
    ListenError::Tls(message)
}

/// Every certificate in the PEM file `path`; at least one.
fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, ListenError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| tls_error(format!("{flag} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "{flag} {}: no certificate found (expected a PEM \"CERTIFICATE\" block)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ListenError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => tls_error(format!(
            "--tlskey {}: no private key found (expected a PEM \"PRIVATE KEY\" block)",
            path.display()
        )),
        e => tls_error(format!("--tlskey {}: {e}", path.display())),
    })
}

fn need(path: &Option<PathBuf>, flag: &str) -> Result<PathBuf, ListenError> {
    path.clone()
        .ok_or_else(|| tls_error(format!("{flag} is required with TLS")))
}

/// The acceptor for `tcp://` listeners: the server's certificate and key,
/// and with `--tlsverify` the CA that client certificates must chain to.
pub(super) fn acceptor(tls: &TlsOptions) -> Result<tokio_rustls::TlsAcceptor, ListenError> {
    let cert_path = need(&tls.cert, "--tlscert")?;
    let key_path = need(&tls.key, "--tlskey")?;
    let certs = certificates(&cert_path, "--tlscert")?;
    let key = private_key(&key_path)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let builder = if tls.verify {
        let ca_path = need(&tls.ca, "--tlscacert")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(&ca_path, "--tlscacert")? {
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("--tlscacert {}: {e}", ca_path.display())))?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error(format!("--tlscacert {}: {e}", ca_path.display())))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        tls_error(format!(
            "--tlscert {} with --tlskey {}: {e}",
            cert_path.display(),
            key_path.display()
        ))
    })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
