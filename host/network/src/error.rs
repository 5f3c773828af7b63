//! The crate's error type.

use std::path::PathBuf;

/// What failed in the kernel side of the network driver, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A name, address or prefix was refused at the boundary.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What kind of value (interface name, table name, prefix).
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A netlink request failed.
    #[error("failed to {op} {object}")]
    Netlink {
        /// The operation, e.g. "create bridge".
        op: &'static str,
        /// The interface or address it was applied to.
        object: String,
        /// rtnetlink's error.
        #[source]
        source: rtnetlink::Error,
    },
    /// An interface the operation needs does not exist.
    #[error("no such interface {name} ({context})")]
    NoSuchLink {
        /// The interface name.
        name: String,
        /// Where it was looked up.
        context: &'static str,
    },
    /// A file operation (sysctl, netns file) failed.
    #[error("failed to {op} {path}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A system call (setns, unshare, mount) failed.
    #[error("failed to {op} {object}")]
    Sys {
        /// The operation.
        op: &'static str,
        /// What it was applied to.
        object: String,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// `nft` refused a ruleset.
    #[error("nft failed to apply table {table}: {stderr}")]
    Nft {
        /// The table.
        table: String,
        /// What nft said.
        stderr: String,
    },
    /// A network the call names is not known to the driver.
    #[error("network {0} not found")]
    UnknownNetwork(String),
    /// An endpoint has no address of the family a published port needs.
    #[error(
        "endpoint of container {container} on network {network} has no address to publish {port} to"
    )]
    NoAddressForPort {
        /// The container.
        container: String,
        /// The network.
        network: String,
        /// The published port, as `host_port/proto`.
        port: String,
    },
    /// The dedicated thread could not be started or panicked.
    #[error("network worker thread failed: {0}")]
    Thread(String),
}
