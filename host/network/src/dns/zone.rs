//! The records of one network and the lookups on them.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::{DnsNetwork, DnsRecord};

/// The records of one served network, by container id.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    pub(crate) network: DnsNetwork,
    pub(crate) records: BTreeMap<String, DnsRecord>,
}

/// What a name is on a network.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Not a name of the network.
    Unknown,
    /// A name of the network, with its addresses of the asked family
    /// (possibly none).
    Known(Vec<IpAddr>),
}

/// A query name as records hold names: lower case, no trailing dot.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Zone {
    pub(crate) fn new(network: DnsNetwork) -> Zone {
        Zone {
            network,
            records: BTreeMap::new(),
        }
    }

    /// The addresses of `name` of the family `v6`, over every container
    /// that has the name (an alias may be shared, as moby's round robin).
    pub(crate) fn lookup(&self, name: &str, v6: bool) -> Lookup {
        let name = normalize(name);
        let mut known = false;
        let mut addresses = Vec::new();
        for record in self.records.values() {
            if record.names.iter().any(|n| normalize(n) == name) {
                known = true;
                addresses.extend(record.addresses.iter().filter(|a| a.is_ipv6() == v6));
            }
        }
        if known {
            addresses.sort();
            addresses.dedup();
            Lookup::Known(addresses)
        } else {
            Lookup::Unknown
        }
    }

    /// The upstreams of the container the query from `source` comes from,
    /// `None` when it is no container's here or it has none of its own.
    pub(crate) fn upstreams_of(&self, source: IpAddr) -> Option<&[SocketAddr]> {
        self.records
            .values()
            .find(|r| r.addresses.contains(&source))
            .map(|r| r.upstreams.as_slice())
            .filter(|upstreams| !upstreams.is_empty())
    }

    /// The first name of the container holding `addr`.
    pub(crate) fn reverse(&self, addr: IpAddr) -> Option<&str> {
        self.records
            .values()
            .find(|r| r.addresses.contains(&addr))
            .and_then(|r| r.names.first())
            .map(String::as_str)
    }
}
