//! A throwaway PKI for the TLS tests, made by `openssl` in a temp dir: a
//! CA and the certificates it signs, each a P-256 key and a certificate
//! valid for two days.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cmd::run_with_timeout;

/// The extensions of a server certificate for `IP:127.0.0.1`.
pub const SERVER_127: &str = "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                              keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
/// The extensions of a client certificate.
pub const CLIENT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n";

/// `openssl req` arguments for a new P-256 key, unencrypted.
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA (`ca.key`, `ca.pem`) in a temp dir, removed on drop.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Makes the CA.
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("berth-pki-")
            .tempdir()
            .expect("PKI temp dir");
        let pki = Pki { dir };
        let mut ca = vec!["req", "-x509"];
        ca.extend(EC_KEY);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=berth test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        pki.openssl(&ca);
        pki
    }

    /// Makes `NAME.key` and `NAME.pem` for `subject` (`/CN=...`), signed
    /// by the CA, with the X.509 extensions `ext` ([`SERVER_127`],
    /// [`CLIENT`]).
    pub fn issue(&self, name: &str, subject: &str, ext: &str) {
        let (key, csr, ext_file, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
            format!("{name}.pem"),
        );
        let mut req = vec!["req"];
        req.extend(EC_KEY);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
        self.openssl(&req);
        std::fs::write(self.path(&ext_file), ext).expect("extensions file");
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext_file,
        ]);
    }

    /// A file of the PKI (`ca.pem`, `NAME.pem`, `NAME.key`).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The PKI's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    #[track_caller]
    fn openssl(&self, args: &[&str]) {
        let openssl = crate::require::program("openssl", "openssl");
        let out = run_with_timeout(
            Command::new(openssl)
                .current_dir(self.dir.path())
                .args(args),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "openssl {args:?}: {out:#?}");
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}
