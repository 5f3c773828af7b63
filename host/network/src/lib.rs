//! berth-network: the kernel side of berth's network driver (the Docker
//! architecture's Networkdriver, moby `libnetwork/drivers/bridge`; Podman's
//! netavark is the model for the shape).
//!
//! What it does, and nothing above it (models, IPAM, policy, store and the API
//! belong to the engine):
//! - named network namespaces bind-mounted under `<exec-root>/netns/<id>`
//!   ([`Kernel::create_netns`]);
//! - a Linux bridge per network with its gateway addresses, and a veth pair
//!   per container endpoint whose peer is moved into the container's
//!   namespace, renamed, addressed and routed ([`Kernel::attach_veth`]);
//! - one nftables table per daemon holding masquerade, published ports
//!   (DNAT, incl. from the host's 127.0.0.1 and hairpin) and the forward
//!   policy of internal networks, rebuilt whole and applied atomically on
//!   every change ([`Firewall`], [`firewall::render`]).
//!
//! - the embedded DNS server of user-defined networks ([`dns::DnsServer`]),
//!   listening on their gateways in the host namespace.
//!
//! Every kernel side effect sits behind [`Kernel`] and [`Firewall`]; the real
//! implementations are [`LinuxKernel`] and [`NftFirewall`], the recording
//! fakes [`fake::FakeKernel`] and [`fake::FakeFirewall`]. [`NetworkDriver`]
//! holds the known state and drives both.
//!
//! Threads: every netlink and sysctl operation runs on a dedicated OS thread
//! that `setns`es into the namespace it works in and is discarded after, with
//! a current-thread tokio runtime of its own for rtnetlink — never on a tokio
//! worker of berthd (a worker that changed its namespace would run unrelated
//! tasks in the wrong one). The calls block: berthd calls them from its
//! blocking pool.

#![warn(missing_docs)]

pub mod dns;
mod driver;
mod error;
pub mod fake;
pub mod firewall;
mod kernel;
mod linux;
mod types;

pub use driver::{NetworkDriver, NetworkDriverConfig, bridge_alias};
pub use error::NetworkError;
pub use firewall::{Firewall, NftFirewall, TableName};
pub use kernel::{BridgeSpec, Kernel, VethSpec};
pub use linux::LinuxKernel;
pub use types::{EndpointSpec, IfName, IpNetwork, NetworkSpec};
// A published port is the engine's model, as the engine chose it.
pub use berth_model::network::{PortBinding, Protocol};
