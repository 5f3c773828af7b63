//! Per-registry TLS material in a `certs.d` directory, as dockerd reads
//! `/etc/docker/certs.d/HOST[:PORT]/` (moby `registry/registry.go`,
//! `ReadCertsDirectory`): every `*.crt` is a CA root added to the system's
//! for that registry; a `NAME.cert` with its `NAME.key` is a client
//! certificate presented to it.
//!
//! A directory for a registry also means "speak TLS to it", even on
//! loopback (which is plain HTTP by default): the admin put CA material
//! there for a reason.
//!
//! Go's TLS client keeps every pair and picks one per handshake; berthd's
//! (rustls through reqwest) presents one identity, so a directory with two
//! pairs is refused rather than one of them dropped unseen.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::RegistryError;

/// The TLS material `certs.d` holds for one registry.
#[derive(Clone, Default)]
pub(crate) struct RegistryCerts {
    /// PEM-encoded CA certificates, one per `*.crt` file, by file name.
    pub roots: Vec<Vec<u8>>,
    /// The client certificate and its key, as one PEM buffer (what
    /// `reqwest::Identity::from_pem` reads), and the `.cert` file's path.
    pub identity: Option<(Vec<u8>, PathBuf)>,
    /// A digest of all of it, so clients built with other material are
    /// told apart.
    pub key: String,
}

impl std::fmt::Debug for RegistryCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCerts")
            .field("roots", &self.roots.len())
            .field("identity", &self.identity.as_ref().map(|(_, path)| path))
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
/// directory, its CA roots and client certificate when it has one.
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
    let refuse = |reason: String| RegistryError::Tls {
        registry: registry.to_owned(),
        reason,
    };
    let mut certs = RegistryCerts::default();
    let mut hasher = Sha256::new();
    for name in &names {
        let path = dir.join(name);
        if let Some(stem) = name.strip_suffix(".key") {
            // moby's words (`ReadCertsDirectory`).
            if !names.contains(&format!("{stem}.cert")) {
                return Err(refuse(format!(
                    "missing client certificate {stem}.cert for key {name}"
                )));
            }
            continue;
        }
        let client = name.ends_with(".cert");
        if !client && !name.ends_with(".crt") {
            continue;
        }
        let data = read_pem(&path, "CERTIFICATE").map_err(refuse)?;
        hasher.update(name.as_bytes());
        hasher.update(&data);
        if !client {
            certs.roots.push(data);
            continue;
        }
        let stem = name.trim_end_matches(".cert");
        let key_name = format!("{stem}.key");
        if !names.contains(&key_name) {
            return Err(refuse(format!(
                "missing key {key_name} for client certificate {name}. \
                 CA certificates must use the extension .crt"
            )));
        }
        if let Some((_, first)) = &certs.identity {
            return Err(refuse(format!(
                "more than one client certificate ({} and {}): berthd presents one",
                first.display(),
                path.display()
            )));
        }
        let key = read_pem(&dir.join(&key_name), "PRIVATE KEY").map_err(refuse)?;
        hasher.update(key_name.as_bytes());
        hasher.update(&key);
        let mut pem = data;
        pem.push(b'\n');
        pem.extend_from_slice(&key);
        certs.identity = Some((pem, path));
    }
    certs.key = hex::encode(hasher.finalize());
    Ok(Some(certs))
}

/// The file at `path`, refused now, with its name, when it holds no PEM
/// block of `kind` (`-----BEGIN ...KIND-----`), rather than as a TLS
/// handshake failure later.
fn read_pem(path: &Path, kind: &str) -> Result<Vec<u8>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&data);
    let holds = text.match_indices("-----BEGIN ").any(|(at, _)| {
        text[at..]
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(&format!("{kind}-----")))
    });
    if !holds {
        let what = kind.to_lowercase();
        return Err(format!("{} holds no PEM {what}", path.display()));
    }
    Ok(data)
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
    fn crt_files_are_roots_and_a_cert_with_its_key_is_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let reg = dir.path().join("127.0.0.1:5000");
        std::fs::create_dir(&reg).unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";
        let read_err = || read(dir.path(), "127.0.0.1:5000").unwrap_err().to_string();
        std::fs::write(reg.join("ca.crt"), pem).unwrap();
        std::fs::write(reg.join("README"), "ignored").unwrap();
        let certs = read(dir.path(), "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(certs.roots.len(), 1);
        assert!(certs.identity.is_none());
        let without = certs.key;

        std::fs::write(reg.join("other.crt"), "junk").unwrap();
        assert!(read_err().contains("other.crt holds no PEM certificate"));
        std::fs::remove_file(reg.join("other.crt")).unwrap();

        // Half a pair is refused in moby's words, either half.
        std::fs::write(reg.join("client.cert"), pem).unwrap();
        let err = read_err();
        assert!(
            err.contains("missing key client.key for client certificate client.cert"),
            "{err}"
        );
        std::fs::rename(reg.join("client.cert"), reg.join("client.key")).unwrap();
        std::fs::write(reg.join("client.key"), key).unwrap();
        let err = read_err();
        assert!(
            err.contains("missing client certificate client.cert for key client.key"),
            "{err}"
        );

        // A whole pair: one PEM buffer with both, and a new key.
        std::fs::write(reg.join("client.cert"), pem).unwrap();
        let certs = read(dir.path(), "127.0.0.1:5000").unwrap().unwrap();
        let (identity, path) = certs.identity.unwrap();
        assert_eq!(path, reg.join("client.cert"));
        assert_eq!(
            String::from_utf8(identity).unwrap(),
            format!("{pem}\n{key}")
        );
        assert_ne!(certs.key, without);

        // A key file that holds no key; a second pair.
        std::fs::write(reg.join("client.key"), pem).unwrap();
        assert!(read_err().contains("client.key holds no PEM private key"));
        std::fs::write(reg.join("client.key"), key).unwrap();
        std::fs::write(reg.join("second.cert"), pem).unwrap();
        std::fs::write(reg.join("second.key"), key).unwrap();
        let err = read_err();
        assert!(err.contains("more than one client certificate"), "{err}");
    }
}
