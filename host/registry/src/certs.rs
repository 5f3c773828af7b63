//! Per-registry TLS material in a `certs.d` directory, as dockerd reads
//! `/etc/docker/certs.d/HOST[:PORT]/` (moby `registry/registry.go`,
//! `ReadCertsDirectory`): every `*.crt` is a CA root added to the system's
//! for that registry; a `*.cert` / `*.key` pair is a client certificate.
//!
//! A directory for a registry also means "speak TLS to it", even on
//! loopback (which is plain HTTP by default): the admin put CA material
//! there for a reason. Client certificates are refused with a clear error,
//! and pulling without the certificate the admin configured would be
//! widening what was asked. The refusal stands because `oci-client` cannot
//! present one: in 0.18.0 (the newest release) `Client` builds its private
//! `reqwest::Client` in `TryFrom<ClientConfig>`, whose TLS fields are root
//! certificates only (`tls_certs_only`, `extra_root_certificates`, and the
//! `accept_invalid_*` switches), and no constructor takes a caller's
//! `reqwest::Client` or a `reqwest::Identity`. Its proxy settings do not
//! help either: through a proxy (`CONNECT`) the TLS session still runs
//! between `oci-client` and the registry, so nothing else can present it.

use std::path::{Path, PathBuf};

use oci_client::client::{Certificate, CertificateEncoding};
use sha2::{Digest, Sha256};

use crate::error::RegistryError;

/// The CA roots `certs.d` holds for one registry.
#[derive(Clone, Default)]
pub(crate) struct RegistryCerts {
    /// PEM-encoded CA certificates, one per `*.crt` file, by file name.
    pub roots: Vec<Certificate>,
    /// A digest of the roots, so clients built with other roots are told
    /// apart.
    pub key: String,
}

impl std::fmt::Debug for RegistryCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCerts")
            .field("roots", &self.roots.len())
            .field("key", &self.key)
            .finish()
    }
}

/// `certs_dir/registry`, if `registry` is a plain host name that may be a
/// directory name (never `.`, `..` or anything with a `/`).
pub(crate) fn dir_for(certs_dir: &Path, registry: &str) -> Option<PathBuf> {
    if registry.is_empty() || registry == "." || registry == ".." || registry.contains('/') {
        return None;
    }
    Some(certs_dir.join(registry))
}

/// Reads the `certs.d` entry of `registry`: `Ok(None)` when it has no
/// directory, the CA roots when it has one.
pub(crate) fn read(
    certs_dir: &Path,
    registry: &str,
) -> Result<Option<RegistryCerts>, RegistryError> {
    let Some(dir) = dir_for(certs_dir, registry) else {
        return Ok(None);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryError::io("read", &dir)(e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut certs = RegistryCerts::default();
    let mut hasher = Sha256::new();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".cert") || name.ends_with(".key") {
            return Err(RegistryError::Tls {
                registry: registry.to_owned(),
                reason: format!(
                    "client certificates are not supported by berthd's registry client ({})",
                    path.display()
                ),
            });
        }
        if !name.ends_with(".crt") {
            continue;
        }
        let data = std::fs::read(&path).map_err(RegistryError::io("read", &path))?;
        // Refuse a file that holds no PEM certificate now, with its name,
        // rather than as a TLS handshake failure later.
        if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE-----") {
            return Err(RegistryError::Tls {
                registry: registry.to_owned(),
                reason: format!("{} holds no PEM certificate", path.display()),
            });
        }
        hasher.update(name.as_bytes());
        hasher.update(&data);
        certs.roots.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data,
        });
    }
    certs.key = hex::encode(hasher.finalize());
    Ok(Some(certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_without_a_directory_has_none_and_odd_names_are_never_paths() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), "reg.example:5000").unwrap().is_none());
        for bad in ["", ".", "..", "a/b"] {
            assert!(dir_for(dir.path(), bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn crt_files_are_roots_and_client_pairs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let reg = dir.path().join("127.0.0.1:5000");
        std::fs::create_dir(&reg).unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(reg.join("ca.crt"), pem).unwrap();
        std::fs::write(reg.join("README"), "ignored").unwrap();
        let certs = read(dir.path(), "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(certs.roots.len(), 1);
        std::fs::write(reg.join("other.crt"), "junk").unwrap();
        let err = read(dir.path(), "127.0.0.1:5000").unwrap_err().to_string();
        assert!(err.contains("other.crt holds no PEM certificate"), "{err}");
        std::fs::remove_file(reg.join("other.crt")).unwrap();
        std::fs::write(reg.join("client.cert"), pem).unwrap();
        let err = read(dir.path(), "127.0.0.1:5000").unwrap_err().to_string();
        assert!(
            err.contains("client certificates are not supported"),
            "{err}"
        );
    }
}
