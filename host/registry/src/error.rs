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

    /// Maps oci-client's error, keeping the registry's code and message.
    pub(crate) fn from_oci(reference: &str, err: oci_client::errors::OciDistributionError) -> Self {
        use oci_client::errors::OciDistributionError as E;
        match err {
            E::RegistryError { envelope, .. } => {
                let first = envelope.errors.into_iter().next();
                let (code, message) = match first {
                    Some(e) => (
                        serde_json::to_value(&e.code)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_else(|| format!("{:?}", e.code)),
                        e.message,
                    ),
                    None => ("UNKNOWN".to_owned(), String::new()),
                };
                RegistryError::from_code(reference, code, message)
            }
            E::ImageManifestNotFoundError(message) => RegistryError::ManifestUnknown {
                reference: reference.to_owned(),
                message,
            },
            E::AuthenticationFailure(message) => RegistryError::Unauthorized { message },
            // A 401 without an error envelope; the registry's usual text.
            E::UnauthorizedError { .. } => RegistryError::Unauthorized {
                message: "authentication required".to_owned(),
            },
            // An answer oci-client did not read as an error envelope (a
            // 401 to a push's upload, a 403): the envelope is in its body.
            E::ServerError { code, message, .. } => {
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
                let first = serde_json::from_str::<Envelope>(&message)
                    .ok()
                    .and_then(|e| e.errors.into_iter().next());
                match first {
                    Some(e) => RegistryError::from_code(reference, e.code, e.message),
                    None if code == 401 || code == 403 => RegistryError::Unauthorized {
                        message: if message.trim().is_empty() {
                            "authentication required".to_owned()
                        } else {
                            message
                        },
                    },
                    None => RegistryError::Registry {
                        code: code.to_string(),
                        message,
                    },
                }
            }
            E::DigestError(e) => RegistryError::Transport(e.to_string()),
            // reqwest's Display leaves out the cause (the TLS or connect
            // error): show the whole chain.
            other => RegistryError::Transport(error_chain(&other)),
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
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::OciDistributionError;

    fn server_error(code: u16, message: &str) -> RegistryError {
        RegistryError::from_oci(
            "127.0.0.1:5000/shared/app",
            OciDistributionError::ServerError {
                code,
                url: "http://127.0.0.1:5000/v2/shared/app/blobs/uploads/".into(),
                message: message.into(),
            },
        )
    }

    #[test]
    fn a_server_error_reads_the_registry_s_error_envelope() {
        // What distribution answers a push the token does not allow.
        let e = server_error(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"shared/app","Action":"push"}]}]}"#,
        );
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = server_error(403, "");
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        let e = server_error(
            404,
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
        );
        assert!(matches!(e, RegistryError::ManifestUnknown { .. }), "{e}");
        let e = server_error(500, "boom");
        assert_eq!(e.to_string(), "500: boom");
    }
}
