//! The registry driver's errors.

use std::path::PathBuf;

/// What went wrong talking to a registry. The registry's own error `code`
/// and `message` (distribution spec "Error Codes") are carried through.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference does not parse (moby's `invalid reference format`).
    #[error("invalid reference format: {reference}")]
    InvalidReference {
        /// What was given.
        reference: String,
    },
    /// The platform string does not parse.
    #[error("invalid platform {platform:?}: {reason}")]
    InvalidPlatform {
        /// What was given.
        platform: String,
        /// Why it was refused.
        reason: String,
    },
    /// The manifest (or its tag) is not in the registry; moby's text.
    #[error("manifest for {reference} not found: manifest unknown: {message}")]
    ManifestUnknown {
        /// The familiar reference.
        reference: String,
        /// The registry's message.
        message: String,
    },
    /// The repository is not in the registry (`NAME_UNKNOWN`).
    #[error("repository {reference} not found: {message}")]
    RepositoryUnknown {
        /// The familiar repository name.
        reference: String,
        /// The registry's message.
        message: String,
    },
    /// A manifest list / index has no entry for the wanted platform; moby's
    /// text (`distribution/pull_v2.go`).
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingPlatform {
        /// The wanted platform, `os/arch[/variant]`.
        platform: String,
    },
    /// The manifest is not something we can pull.
    #[error("cannot parse the manifest of {reference}: {reason}")]
    BadManifest {
        /// The familiar reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The registry refused the credentials (or wanted some).
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// The registry's message.
        message: String,
    },
    /// Any other error the registry reported in its error envelope.
    #[error("{code}: {message}")]
    Registry {
        /// The distribution error code, e.g. `BLOB_UNKNOWN`.
        code: String,
        /// The registry's message.
        message: String,
    },
    /// Content did not hash to the digest it was asked for by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was fetched (`blob sha256:...`, `manifest ...`).
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The blob was shorter or longer than its descriptor's size.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob.
        digest: String,
        /// The descriptor's size.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
    /// The TLS material for a registry (its `certs.d` directory) cannot be
    /// used.
    #[error("cannot use the TLS configuration for {registry}: {reason}")]
    Tls {
        /// The registry (`host[:port]`).
        registry: String,
        /// Why.
        reason: String,
    },
    /// A `--registry-mirror` that is not a mirror URL.
    #[error("invalid mirror: {reason}")]
    InvalidMirror {
        /// Why (moby's words, `registry/config.go` `ValidateMirror`).
        reason: String,
    },
    /// The connection or the HTTP exchange failed.
    #[error("{0}")]
    Transport(String),
    /// A local file operation failed.
    #[error("failed to {op} {path}")]
    Io {
        /// What was done.
        op: &'static str,
        /// To what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl RegistryError {
    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| RegistryError::Io { op, path, source }
    }

    /// A registry's error code (distribution spec "Error Codes") and
    /// message as this crate's error.
    fn from_code(reference: &str, code: String, message: String) -> Self {
        match code.as_str() {
            "MANIFEST_UNKNOWN" | "NAME_UNKNOWN" => RegistryError::ManifestUnknown {
                reference: reference.to_owned(),
                message,
            },
            "UNAUTHORIZED" | "DENIED" => RegistryError::Unauthorized { message },
            _ => RegistryError::Registry { code, message },
        }
    }

    /// The error a registry's answer of `status` with `body` reports: the
    /// first entry of its error envelope, else what the status says.
    pub(crate) fn from_status(reference: &str, status: reqwest::StatusCode, body: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Envelope {
            errors: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            code: String,
            #[serde(default)]
            message: String,
        }
        let first = serde_json::from_str::<Envelope>(body)
            .ok()
            .and_then(|e| e.errors.into_iter().next());
        let body = body.trim();
        match first {
            Some(e) => RegistryError::from_code(reference, e.code, e.message),
            None if matches!(status.as_u16(), 401 | 403) => RegistryError::Unauthorized {
                message: if body.is_empty() {
                    "authentication required".to_owned()
                } else {
                    body.to_owned()
                },
            },
            None => RegistryError::Registry {
                code: status.as_u16().to_string(),
                message: if body.is_empty() {
                    status.canonical_reason().unwrap_or_default().to_owned()
                } else {
                    body.to_owned()
                },
            },
        }
    }
}

/// `err` and its sources, joined with `: `; a TLS handshake refused for an
/// unknown issuer says so in the words users search for (Go's, as dockerd
/// prints them).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    if text.contains("UnknownIssuer") {
        text.push_str(" (x509: certificate signed by unknown authority)");
    }
    // The alerts a registry that verifies client certificates sends when
    // it got none, or one it does not trust (Go's server: bad_certificate;
    // TLS 1.3's certificate_required).
    if text.contains("alert: BadCertificate") || text.contains("alert: CertificateRequired") {
        text.push_str(
            " (the registry wants a client certificate it trusts: \
             certs.d/HOST/NAME.cert with its NAME.key)",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, body: &str) -> RegistryError {
        let status = reqwest::StatusCode::from_u16(code).unwrap();
        RegistryError::from_status("127.0.0.1:5000/shared/app", status, body)
    }

    #[test]
    fn an_error_answer_reads_the_registry_s_error_envelope() {
        // What distribution answers a push the token does not allow.
        let e = answer(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"shared/app","Action":"push"}]}]}"#,
        );
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        // A HEAD's answer has no body.
        let e = answer(403, "");
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = answer(
            404,
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
        );
        assert!(matches!(e, RegistryError::ManifestUnknown { .. }), "{e}");
        assert_eq!(answer(500, "boom\n").to_string(), "500: boom");
        assert_eq!(answer(502, "").to_string(), "502: Bad Gateway");
    }
}
