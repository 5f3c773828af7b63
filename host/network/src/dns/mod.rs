//! The embedded DNS server of user-defined networks.
//!
//! What it does is what Podman's aardvark-dns and moby's libnetwork
//! resolver (`libnetwork/resolver.go`) do for containers, shaped like
//! aardvark-dns: one server in the daemon's (the host's) network namespace
//! listening, over UDP and TCP, on port 53 of each served network's
//! gateway addresses (the bridge carries them, so every container of the
//! network reaches them by its on-link route). A query is answered from
//! the records of the network it arrived on only: a container of another
//! network is not resolvable (network isolation).
//!
//! - A/AAAA for the names the engine publishes (container name, aliases,
//!   short id); a known name without an address of the asked family gets
//!   an empty NOERROR answer and is not forwarded (moby `handleIPQuery`,
//!   "ipv6Miss"); PTR for the addresses of the network's records.
//! - Everything else is forwarded to the querying container's own
//!   upstreams when it has some (its `--dns`, or its network policy's name
//!   servers: [`DnsRecord::upstreams`], found by the query's source
//!   address, as moby's resolver forwards to a sandbox's external servers,
//!   `resolver.go` `SetExtServers`), else to the host's resolvers, read
//!   from the host's `resolv.conf` on every forwarded query (so edits to
//!   it are seen without a restart): at most [`MAX_UPSTREAMS`] of them in
//!   order, each
//!   under a timeout, a truncated UDP answer retried over TCP, SERVFAIL and
//!   REFUSED and a non-authoritative NXDOMAIN tried on the next one (moby
//!   `ServeDNS`, RFC 8020). When none answers, SERVFAIL. Loopback resolvers
//!   work: the forwarder runs in the host namespace.
//! - An internal network has no way out, so it does not forward: names it
//!   does not know get SERVFAIL (moby's resolver when it does not proxy).
//!
//! Threads: the server runs on a runtime of its own (one dedicated
//! thread, `berth-dns`), so a slow upstream never holds a worker of
//! berthd; the seam's calls only bind sockets and update a table, both
//! quick, and never wait for a query.

mod answer;
mod forward;
pub mod resolv;
mod server;
mod zone;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use server::DnsServer;

/// The most upstream resolvers a forwarded query is tried on (moby
/// `maxExtDNS`; also glibc's `MAXNS`).
pub const MAX_UPSTREAMS: usize = 3;

/// The TTL of the answers the server makes itself (moby `respTTL`).
pub const ANSWER_TTL: u32 = 600;

/// The most forwarded queries in flight at once; beyond, a query gets
/// SERVFAIL at once (moby `maxConcurrent`).
pub const MAX_CONCURRENT_FORWARDS: usize = 1024;

/// How long one upstream gets to answer a forwarded query (moby
/// `extIOTimeout`).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(4);

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The port it listens on at each gateway address (53; tests take 0:
    /// a free port, the same for UDP and TCP).
    pub port: u16,
    /// Where the upstream resolvers come from.
    pub upstreams: Upstreams,
    /// How long each upstream gets.
    pub timeout: Duration,
}

/// The upstream resolvers of forwarded queries.
#[derive(Debug, Clone)]
pub enum Upstreams {
    /// The `nameserver` lines of a `resolv.conf` (the host's
    /// `/etc/resolv.conf`), port 53, read anew for each forwarded query.
    ResolvConf(std::path::PathBuf),
    /// These addresses (tests' fake upstreams listen on other ports).
    Fixed(Vec<SocketAddr>),
}

/// A network the server answers on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsNetwork {
    /// The network's id: records are kept per network.
    pub id: String,
    /// Its gateway addresses, which the server listens on.
    pub gateways: Vec<IpAddr>,
    /// An internal network: unknown names are not forwarded.
    pub internal: bool,
}

/// The names of one container on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The container's id (what [`DnsServer::withdraw`] takes).
    pub container_id: String,
    /// Its names on the network; the first is what PTR answers with.
    pub names: Vec<String>,
    /// Its addresses on the network.
    pub addresses: Vec<IpAddr>,
    /// Where its queries that the network's records do not answer go,
    /// in order; empty: the server's [`Upstreams`] (the host's). A query
    /// is the container's when it comes from one of `addresses`.
    pub upstreams: Vec<SocketAddr>,
}

/// What the DNS server could not do, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A listening socket could not be set up.
    #[error("failed to {op} {address} for the embedded DNS server")]
    Listen {
        /// The operation (create, bind, listen).
        op: &'static str,
        /// The address.
        address: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime could not be started.
    #[error("failed to start the embedded DNS server's runtime")]
    Runtime(#[source] std::io::Error),
}
